/* test_inject.c - runtime/inject.c: FIFO under the mutex, batches, and many
 * producers against many consumers. */
#include "helpers.h"
#include "inject.h"

#include <pthread.h>

START_TEST(fifo_and_batches) {
  struct weft__inject q;
  weft__inject_init(&q);
  struct weft__runnable items[10];
  ck_assert(weft__inject_empty_sc(&q));
  for (int i = 0; i < 10; i++) weft__inject_push(&q, &items[i]);
  ck_assert(!weft__inject_maybe_empty(&q));
  struct weft__rlist out;
  weft__rlist_init(&out);
  ck_assert_uint_eq(weft__inject_pop_batch(&q, &out, 4), 4);
  ck_assert_uint_eq(weft__inject_pop_batch(&q, &out, 100), 6);
  for (int i = 0; i < 10; i++) ck_assert_ptr_eq(weft__rlist_pop(&out), &items[i]);
  ck_assert(weft__inject_empty_sc(&q));
  struct weft__rlist l;
  weft__rlist_init(&l);
  weft__rlist_push(&l, &items[0]);
  weft__rlist_push(&l, &items[1]);
  weft__inject_push_list(&q, &l);
  ck_assert_uint_eq(l.count, 0);
  ck_assert_uint_eq(weft__inject_pop_batch(&q, &out, 100), 2);
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
  struct weft__rlist out;
  weft__rlist_init(&out);
  while (atomic_load(&consumed) < 4L * PER) {
    size_t n = weft__inject_pop_batch(&mq, &out, 64);
    atomic_fetch_add(&consumed, (long)n);
    *count += (long)n;
    while (weft__rlist_pop(&out)) {}
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
