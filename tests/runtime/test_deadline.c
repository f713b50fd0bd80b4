/*
 * test_deadline.c - runtime/deadline.h: the one rule for turning timeouts
 * into deadlines (negative: none; zero: expired after one look; positive:
 * now + timeout, saturating), and that public calls follow it.
 */
#include "helpers.h"
#include "deadline.h"

#include <errno.h>

START_TEST(negative_is_none) {
  ck_assert_uint_eq(weft__deadline(-1), 0);
  ck_assert_uint_eq(weft__deadline(INT64_MIN), 0);
  ck_assert_int_eq(weft__deadline_left(0), -1);
}
END_TEST

START_TEST(zero_is_expired_but_not_none) {
  uint64_t before = weft__clock_ns();
  uint64_t d = weft__deadline(0);
  ck_assert_uint_ne(d, 0);
  ck_assert_uint_ge(d, before);
  ck_assert_uint_le(d, weft__clock_ns());
  ck_assert_int_eq(weft__deadline_left(d), 0);
}
END_TEST

START_TEST(positive_is_now_plus) {
  uint64_t before = weft__clock_ns();
  uint64_t d = weft__deadline(5000000000LL);
  uint64_t after = weft__clock_ns();
  ck_assert_uint_ge(d, before + 5000000000ULL);
  ck_assert_uint_le(d, after + 5000000000ULL);
  int64_t left = weft__deadline_left(d);
  ck_assert_int_gt(left, 0);
  ck_assert_int_le(left, 5000000000LL);
}
END_TEST

START_TEST(huge_saturates) {
  uint64_t d = weft__deadline(INT64_MAX);
  ck_assert_uint_gt(d, weft__clock_ns());
  ck_assert_int_gt(weft__deadline_left(d), 0);
  ck_assert_int_eq(weft__deadline_left(UINT64_MAX) >= 0, 1);
}
END_TEST

START_TEST(timespec_split) {
  struct timespec ts = weft__timespec(3 * WEFT__NS_PER_S + 250);
  ck_assert_int_eq(ts.tv_sec, 3);
  ck_assert_int_eq(ts.tv_nsec, 250);
}
END_TEST

/* The public calls: a zero timeout looks once, then times out. */
static int zero_timeouts(void *arg, void **result) {
  (void)arg;
  (void)result;
  weft_lock_t *l;
  ck_assert_int_eq(weft_lock_create(&l), 0);
  ck_assert_int_eq(weft_lock_acquire(l, 0), 0); /* free: taken without waiting */
  ck_assert_int_eq(weft_lock_release(l), 0);
  ck_assert_int_eq(weft_lock_destroy(l), 0);
  weft_event_t *e;
  ck_assert_int_eq(weft_event_create(&e), 0);
  ck_assert_int_eq(weft_event_wait(e, 0), -ETIMEDOUT); /* unset: would wait */
  ck_assert_int_eq(weft_event_set(e), 0);
  ck_assert_int_eq(weft_event_wait(e, 0), 0); /* set: no wait needed */
  ck_assert_int_eq(weft_event_destroy(e), 0);

  weft_future_t *f;
  ck_assert_int_eq(weft_future_new(weft_loop_current(), &f), 0);
  ck_assert_int_eq(weft_await_timeout(f, 0, NULL), -ETIMEDOUT);
  ck_assert_int_eq(weft_future_set_result(f, (void *)7), 0);
  void *v = NULL;
  ck_assert_int_eq(weft_await_timeout(f, 0, &v), 0);
  ck_assert_ptr_eq(v, (void *)7);
  weft_future_release(f);
  return 0;
}

START_TEST(public_zero_timeouts) {
  ck_assert_int_eq(run_main(1, zero_timeouts, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, zero_timeouts, NULL, NULL), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("deadline");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, negative_is_none);
  tcase_add_test(tc, zero_is_expired_but_not_none);
  tcase_add_test(tc, positive_is_now_plus);
  tcase_add_test(tc, huge_saturates);
  tcase_add_test(tc, timespec_split);
  tcase_add_test(tc, public_zero_timeouts);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
