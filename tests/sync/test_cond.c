/* test_cond.c - sync/cond.c: the lock is required, notify counts, wait_for,
 * a cancelled wait returns holding the lock, a notification given to a
 * cancelled waiter passes on, and a bounded buffer on 4 workers. */
#include "helpers.h"

#include <errno.h>

static weft_cond_t *cv;
static int ready;
static char order[16];
static int norder;

static int cv_waiter(void *arg, void **res) {
  weft_lock_t *l = weft_cond_lock(cv);
  int rc = weft_lock_acquire(l, -1);
  if (rc) return rc;
  rc = weft_cond_wait(cv, -1);
  /* Whatever happened, we hold the lock again. */
  ck_assert_int_eq(weft_lock_locked(l), 1);
  if (rc == 0) order[norder++] = *(const char *)arg;
  weft_lock_release(l);
  return rc;
}

static int is_ready(void *arg) { return ready; }

static int cond_main(void *arg, void **res) {
  weft_lock_t *l = weft_cond_lock(cv);
  ck_assert_int_eq(weft_cond_wait(cv, -1), -EPERM); /* lock not held */
  ck_assert_int_eq(weft_cond_notify(cv, 1), -EPERM);
  weft_task_t *a, *b, *c;
  weft_spawn(cv_waiter, "a", &a);
  weft_spawn(cv_waiter, "b", &b);
  weft_spawn(cv_waiter, "c", &c);
  weft_yield();
  weft_lock_acquire(l, -1);
  ck_assert_int_eq(weft_cond_notify(cv, 1), 1); /* a is notified ... */
  weft_lock_release(l);
  weft_task_cancel(a, NULL); /* ... and cancelled before it runs: b gets it */
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), -ECANCELED);
  ck_assert_int_eq(weft_await(weft_task_future(b), NULL), 0);
  weft_lock_acquire(l, -1);
  ck_assert_int_eq(weft_cond_notify_all(cv), 1);
  weft_lock_release(l);
  ck_assert_int_eq(weft_await(weft_task_future(c), NULL), 0);
  /* wait_for: true at once, then after a change, and its timeout. */
  weft_lock_acquire(l, -1);
  ready = 1;
  ck_assert_int_eq(weft_cond_wait_for(cv, is_ready, NULL, -1), 0);
  ready = 0;
  ck_assert_int_eq(weft_cond_wait_for(cv, is_ready, NULL, 2000000), -ETIMEDOUT);
  ck_assert_int_eq(weft_lock_locked(l), 1);
  weft_lock_release(l);
  weft_task_release(a);
  weft_task_release(b);
  weft_task_release(c);
  return 0;
}

START_TEST(notify_cancel_and_wait_for) {
  norder = 0;
  ck_assert_int_eq(weft_cond_create(NULL, &cv), 0);
  ck_assert_int_eq(run_main(1, cond_main, NULL, NULL), 0);
  order[norder] = 0;
  ck_assert_str_eq(order, "bc");
  ck_assert_int_eq(weft_cond_destroy(cv), 0);
}
END_TEST

/* A bounded buffer with two conditions sharing one lock, on 4 workers. */
static weft_lock_t *bl;
static weft_cond_t *not_full, *not_empty;
static long buf[8], head, count, consumed_sum;

static int buf_not_full(void *arg) { return count < 8; }
static int buf_not_empty(void *arg) { return count > 0; }

static int producer(void *arg, void **res) {
  long n = scaled(20000);
  for (long i = 1; i <= n; i++) {
    weft_lock_acquire(bl, -1);
    weft_cond_wait_for(not_full, buf_not_full, NULL, -1);
    buf[(head + count++) % 8] = i;
    weft_cond_notify(not_empty, 1);
    weft_lock_release(bl);
  }
  return 0;
}

static int consumer(void *arg, void **res) {
  long n = scaled(20000);
  for (long i = 0; i < n; i++) {
    weft_lock_acquire(bl, -1);
    weft_cond_wait_for(not_empty, buf_not_empty, NULL, -1);
    consumed_sum += buf[head];
    head = (head + 1) % 8;
    count--;
    weft_cond_notify(not_full, 1);
    weft_lock_release(bl);
  }
  return 0;
}

static int buffer_main(void *arg, void **res) {
  weft_task_t *ts[4];
  weft_spawn(producer, NULL, &ts[0]);
  weft_spawn(producer, NULL, &ts[1]);
  weft_spawn(consumer, NULL, &ts[2]);
  weft_spawn(consumer, NULL, &ts[3]);
  for (int i = 0; i < 4; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  long n = scaled(20000);
  ck_assert_int_eq(consumed_sum, n * (n + 1)); /* two producers of 1..n */
  return 0;
}

START_TEST(bounded_buffer_on_four_workers) {
  ck_assert_int_eq(weft_lock_create(&bl), 0);
  ck_assert_int_eq(weft_cond_create(bl, &not_full), 0);
  ck_assert_int_eq(weft_cond_create(bl, &not_empty), 0);
  ck_assert_int_eq(run_main(4, buffer_main, NULL, NULL), 0);
  ck_assert_int_eq(weft_cond_destroy(not_full), 0);
  ck_assert_int_eq(weft_cond_destroy(not_empty), 0);
  ck_assert_int_eq(weft_lock_destroy(bl), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("cond");
  TCase *tc = tcase_create("cond");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, notify_cancel_and_wait_for);
  tcase_add_test(tc, bounded_buffer_on_four_workers);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
