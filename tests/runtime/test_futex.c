/*
 * test_futex.c - runtime/futex.c: waits that return when the word differs,
 * deadlines that are honoured, and wake-ups between threads that are never
 * lost.
 */
#include "helpers.h"
#include "deadline.h"
#include "futex.h"

#include <errno.h>
#include <pthread.h>

START_TEST(wait_returns_when_the_word_differs) {
  _Atomic uint32_t w = 5;
  weft__futex_wait(&w, 4, 0); /* not 4: returns at once, no deadline needed */
  ck_assert_int_eq(weft__futex_wait_nonzero(&w, 0), 0);
}
END_TEST

START_TEST(deadlines) {
  _Atomic uint32_t w = 0;
  uint64_t t0 = weft__clock_ns();
  ck_assert_int_eq(weft__futex_wait_nonzero(&w, weft__deadline(50 * 1000000LL)), -ETIMEDOUT);
  ck_assert_uint_ge(weft__clock_ns() - t0, 50 * 1000000ULL);
  ck_assert_int_eq(weft__futex_wait_nonzero(&w, weft__deadline(0)), -ETIMEDOUT); /* passed */
}
END_TEST

/* Two threads hand a token back and forth through two words: a lost
 * wake-up would hang the test (its timeout fails it). */
static _Atomic uint32_t ping, pong;
static long rounds;

static void *ponger(void *arg) {
  (void)arg;
  for (long i = 0; i < rounds; i++) {
    ck_assert_int_eq(weft__futex_wait_nonzero(&ping, 0), 0);
    atomic_store_explicit(&ping, 0, memory_order_relaxed);
    atomic_store_explicit(&pong, 1, memory_order_release);
    weft__futex_wake(&pong, 1);
  }
  return NULL;
}

START_TEST(no_lost_wakeups) {
  rounds = scaled(20000);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, ponger, NULL), 0);
  for (long i = 0; i < rounds; i++) {
    atomic_store_explicit(&ping, 1, memory_order_release);
    weft__futex_wake(&ping, 1);
    ck_assert_int_eq(weft__futex_wait_nonzero(&pong, 0), 0);
    atomic_store_explicit(&pong, 0, memory_order_relaxed);
  }
  pthread_join(th, NULL);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("futex");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, wait_returns_when_the_word_differs);
  tcase_add_test(tc, deadlines);
  tcase_add_test(tc, no_lost_wakeups);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
