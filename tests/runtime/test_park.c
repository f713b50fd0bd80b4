/*
 * test_park.c - runtime/park.c: a worker's sleep in its reactor. An unpark
 * before the park is not lost, a deadline ends the sleep, an unpark from
 * another thread ends it, and an I/O completion ends it with the
 * completion delivered. On both backends.
 */
#include "helpers.h"
#include "deadline.h"
#include "futex.h"
#include "park.h"
#include "reactor.h"

#include <pthread.h>
#include <unistd.h>

static struct weft__reactor reactor;
static struct weft__park park;

static bool setup(int backend) {
  char why[160];
  if (weft__reactor_init(&reactor, backend, 8, false, why, sizeof why) != 0) {
    fprintf(stderr, "backend %d unavailable here: %s\n", backend, why);
    return false;
  }
  weft__park_init(&park, &reactor);
  return true;
}

static void unpark_first(int backend) {
  if (!setup(backend)) return;
  weft__park_unpark(&park);
  weft__park_wait(&park, 0); /* would sleep forever if the unpark were lost */
  weft__reactor_fini(&reactor);
}

START_TEST(unpark_before_park_is_kept) {
  unpark_first(WEFT__IO_EPOLL);
  unpark_first(WEFT__IO_URING);
}
END_TEST

static void deadline_ends(int backend) {
  if (!setup(backend)) return;
  uint64_t deadline = weft__deadline(30 * 1000000LL);
  int parks = 0;
  /* Nothing else ends it: it returns at the deadline (a spurious early
   * return is allowed, and re-parked; a missed deadline hangs). */
  while (weft__clock_ns() < deadline) {
    weft__park_wait(&park, deadline);
    parks++;
  }
  ck_assert_int_le(parks, 3);
  weft__reactor_fini(&reactor);
}

START_TEST(deadline_ends_the_sleep) {
  deadline_ends(WEFT__IO_EPOLL);
  deadline_ends(WEFT__IO_URING);
}
END_TEST

/* Round i: the other thread counts it sent, unparks, and waits for our
 * acknowledgement; we park until we see it sent (a park may return
 * spuriously, so the condition is re-checked around it). A lost unpark
 * would leave us asleep: the test's timeout fails it. */
static _Atomic uint32_t sent, acked;
static long rounds;

static void *unparker(void *arg) {
  (void)arg;
  for (uint32_t i = 1; i <= (uint32_t)rounds; i++) {
    atomic_store_explicit(&sent, i, memory_order_release);
    weft__park_unpark(&park);
    uint32_t a;
    while ((a = atomic_load_explicit(&acked, memory_order_acquire)) < i) weft__futex_wait(&acked, a, 0);
  }
  return NULL;
}

static void cross_thread(int backend) {
  if (!setup(backend)) return;
  rounds = scaled(2000);
  atomic_store(&sent, 0);
  atomic_store(&acked, 0);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, unparker, NULL), 0);
  for (uint32_t i = 1; i <= (uint32_t)rounds; i++) {
    while (atomic_load_explicit(&sent, memory_order_acquire) < i) weft__park_wait(&park, 0);
    atomic_store_explicit(&acked, i, memory_order_release);
    weft__futex_wake(&acked, 1);
  }
  pthread_join(th, NULL);
  weft__reactor_fini(&reactor);
}

START_TEST(unpark_from_another_thread) {
  cross_thread(WEFT__IO_EPOLL);
  cross_thread(WEFT__IO_URING);
}
END_TEST

static int completions;
static void on_done(struct weft__io_op *op) {
  ck_assert_int_eq(op->res, 3);
  completions++;
}

static void completion_ends(int backend) {
  if (!setup(backend)) return;
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  char buf[8];
  struct weft__io_op op = {.cb = on_done,
                           .req = {.kind = WEFT__IO_READ, .fd = p[0], .buf = buf, .len = sizeof buf,
                                   .off = (uint64_t)-1}};
  completions = 0;
  ck_assert_int_eq(weft__reactor_start(&reactor, &op, 0), 0);
  ck_assert_int_eq(write(p[1], "abc", 3), 3);
  while (!completions) weft__park_wait(&park, 0); /* the completion ends the sleep */
  ck_assert_int_eq(completions, 1);
  close(p[0]);
  close(p[1]);
  weft__reactor_fini(&reactor);
}

START_TEST(completion_ends_the_sleep) {
  completion_ends(WEFT__IO_EPOLL);
  completion_ends(WEFT__IO_URING);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("park");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, unpark_before_park_is_kept);
  tcase_add_test(tc, deadline_ends_the_sleep);
  tcase_add_test(tc, unpark_from_another_thread);
  tcase_add_test(tc, completion_ends_the_sleep);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
