/* test_time.c - runtime/time.c: sleeps last at least their duration,
 * sleep(0) yields, bad durations, clocks. */
#include "helpers.h"

#include <errno.h>
#include <math.h>

static _Atomic int other_ran;
static int set_flag(void *arg, void **res) {
  atomic_store(&other_ran, 1);
  return 0;
}

static int sleep_main(void *arg, void **res) {
  uint64_t t0 = weft_now_ns();
  ck_assert_int_eq(weft_sleep(0.1), 0);
  ck_assert_uint_ge(weft_now_ns() - t0, 100 * 1000000ULL);
  t0 = weft_now_ns();
  ck_assert_int_eq(weft_sleep_ns(5 * 1000000), 0);
  ck_assert_uint_ge(weft_now_ns() - t0, 5 * 1000000ULL);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(set_flag, NULL, &t), 0);
  ck_assert_int_eq(weft_sleep(0), 0); /* yields: the new task runs first (one worker) */
  ck_assert_int_eq(atomic_load(&other_ran), 1);
  weft_await(weft_task_future(t), NULL);
  weft_task_release(t);
  /* A negative delay is asyncio's sleep(0): it yields to the ready tasks. */
  atomic_store(&other_ran, 0);
  ck_assert_int_eq(weft_spawn(set_flag, NULL, &t), 0);
  ck_assert_int_eq(weft_sleep(-1), 0);
  ck_assert_int_eq(atomic_load(&other_ran), 1);
  weft_task_release(t);
  atomic_store(&other_ran, 0);
  ck_assert_int_eq(weft_spawn(set_flag, NULL, &t), 0);
  ck_assert_int_eq(weft_sleep_ns(-5), 0);
  ck_assert_int_eq(atomic_load(&other_ran), 1);
  weft_task_release(t);
  ck_assert_int_eq(weft_sleep(-INFINITY), 0);
  ck_assert_int_eq(weft_sleep(NAN), -EINVAL);
  return 0;
}

START_TEST(sleep_durations) { ck_assert_int_eq(run_main(1, sleep_main, NULL, NULL), 0); }
END_TEST

START_TEST(sleep_outside_task) {
  ck_assert_int_eq(weft_sleep(0.01), -EPERM);
  ck_assert_int_eq(weft_sleep_ns(10), -EPERM);
}
END_TEST

START_TEST(clocks_are_monotonic) {
  uint64_t a = weft_now_ns(), b = weft_now_ns();
  ck_assert_uint_le(a, b);
  double x = weft_loop_time(NULL), y = weft_loop_time(NULL);
  ck_assert(x <= y && x > 0);
}
END_TEST

/* Many sleepers across workers all wake, none early. */
static int nap(void *arg, void **res) {
  int64_t ns = (long)arg * 100000;
  uint64_t t0 = weft_now_ns();
  int rc = weft_sleep_ns(ns);
  return rc ? rc : (weft_now_ns() - t0 >= (uint64_t)ns ? 0 : -EFAULT);
}

static int sleepers_main(void *arg, void **res) {
  enum { N = 2000 };
  static weft_task_t *ts[N];
  for (long i = 0; i < N; i++) ck_assert_int_eq(weft_spawn(nap, (void *)(i % 50), &ts[i]), 0);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  return 0;
}

START_TEST(many_sleepers) { ck_assert_int_eq(run_main(4, sleepers_main, NULL, NULL), 0); }
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("time");
  TCase *tc = tcase_create("time");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, sleep_durations);
  tcase_add_test(tc, sleep_outside_task);
  tcase_add_test(tc, clocks_are_monotonic);
  tcase_add_test(tc, many_sleepers);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
