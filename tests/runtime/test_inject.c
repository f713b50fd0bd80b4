/* test_inject.c - runtime/inject.c: FIFO under the mutex, batches, and many
 * producers against many consumers. */
#include "helpers.h"
#include "inject.h"

#include <pthread.h>

START_TEST(fifo_and_batches) {
  struct weft__inject q;
  weft__inject_init(&q);
  enum { N = 3 * WEFT__INJECT_CHUNK + 7 }; /* spans several chunks */
  static struct weft__runnable items[N];
  static struct weft__runnable *ptrs[N], *out[N];
  ck_assert(weft__inject_empty_sc(&q));
  for (int i = 0; i < 10; i++) weft__inject_push(&q, &items[i]);
  for (int i = 10; i < N; i++) ptrs[i] = &items[i];
  weft__inject_push_array(&q, &ptrs[10], N - 10);
  ck_assert(!weft__inject_maybe_empty(&q));
  size_t got = weft__inject_pop_batch(&q, out, 4);
  ck_assert_uint_eq(got, 4);
  got += weft__inject_pop_batch(&q, out + 4, N);
  ck_assert_uint_eq(got, N);
  for (int i = 0; i < N; i++) ck_assert_ptr_eq(out[i], &items[i]);
  ck_assert(weft__inject_empty_sc(&q));
  ck_assert_uint_eq(weft__inject_pop_batch(&q, out, N), 0);
  /* Refill after draining (the spare chunk) keeps order too. */
  weft__inject_push_array(&q, &ptrs[10], 5);
  ck_assert_uint_eq(weft__inject_pop_batch(&q, out, N), 5);
  ck_assert_ptr_eq(out[4], &items[14]);
  weft__inject_fini(&q);
}
END_TEST

#define PER 200000
static struct weft__inject mq;
static struct weft__runnable mitems[4][PER];
static _Atomic long consumed;

static void *producer(void *arg) {
  struct weft__runnable *mine = arg;
  for (int i = 0; i < PER; i++) weft__inject_push(&mq, &mine[i]);
  return NULL;
}

static void *consumer(void *arg) {
  long *count = arg;
  struct weft__runnable *out[64];
  while (atomic_load(&consumed) < 4L * PER) {
    size_t n = weft__inject_pop_batch(&mq, out, 64);
    atomic_fetch_add(&consumed, (long)n);
    *count += (long)n;
    if (!n) sched_yield(); /* every attempt is a pop under test */
  }
  return NULL;
}

START_TEST(mpmc) {
  weft__inject_init(&mq);
  pthread_t p[4], c[2];
  long counts[2] = {0, 0};
  for (int i = 0; i < 2; i++) pthread_create(&c[i], NULL, consumer, &counts[i]);
  for (int i = 0; i < 4; i++) pthread_create(&p[i], NULL, producer, mitems[i]);
  for (int i = 0; i < 4; i++) pthread_join(p[i], NULL);
  for (int i = 0; i < 2; i++) pthread_join(c[i], NULL);
  ck_assert_int_eq(counts[0] + counts[1], 4L * PER);
  ck_assert(weft__inject_empty_sc(&mq));
  weft__inject_fini(&mq);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("inject");
  TCase *tc = tcase_create("inject");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, fifo_and_batches);
  tcase_add_test(tc, mpmc);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
