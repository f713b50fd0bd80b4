/* test_sem.c - sync/sem.c: permits, bounded overflow, try/locked/value,
 * FIFO hand-off with cancellation, and 10,000 tasks through 100 permits. */
#include "helpers.h"

#include <errno.h>

static weft_sem_t *sem;
static char order[16];
static int norder;

static int taker(void *arg, void **res) {
  int rc = weft_sem_acquire(sem, -1);
  if (rc) return rc;
  order[norder++] = *(const char *)arg;
  return 0;
}

static int sem_main(void *arg, void **res) {
  ck_assert_int_eq(weft_sem_acquire(sem, -1), 0);
  ck_assert_int_eq(weft_sem_acquire(sem, -1), 0);
  ck_assert_int_eq(weft_sem_locked(sem), 1);
  ck_assert_int_eq(weft_sem_try_acquire(sem), -EAGAIN);
  ck_assert_int_eq(weft_sem_acquire(sem, 1000000), -ETIMEDOUT);
  weft_task_t *a, *b;
  weft_spawn(taker, "a", &a);
  weft_spawn(taker, "b", &b);
  weft_yield();
  ck_assert_int_eq(weft_sem_release(sem), 0); /* handed to a ... */
  weft_task_cancel(a, NULL);                   /* ... cancelled: passes to b */
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), -ECANCELED);
  ck_assert_int_eq(weft_await(weft_task_future(b), NULL), 0);
  ck_assert_int_eq(weft_sem_value(sem), 0);
  ck_assert_int_eq(weft_sem_release(sem), 0); /* b's permit */
  ck_assert_int_eq(weft_sem_release(sem), 0); /* one of ours */
  ck_assert_int_eq(weft_sem_release(sem), -EOVERFLOW); /* bounded at 2 */
  ck_assert_int_eq(weft_sem_value(sem), 2);
  weft_task_release(a);
  weft_task_release(b);
  return 0;
}

START_TEST(bounded_fifo_cancel) {
  norder = 0;
  ck_assert_int_eq(weft_sem_create(-1, 0, &sem), -EINVAL);
  ck_assert_int_eq(weft_sem_create(2, 1, &sem), 0);
  ck_assert_int_eq(weft_sem_acquire(sem, -1), -EPERM);
  ck_assert_int_eq(run_main(1, sem_main, NULL, NULL), 0);
  order[norder] = 0;
  ck_assert_str_eq(order, "b");
  ck_assert_int_eq(weft_sem_destroy(sem), 0);
  /* An unbounded semaphore may go past its initial value. */
  ck_assert_int_eq(weft_sem_create(0, 0, &sem), 0);
  ck_assert_int_eq(weft_sem_release(sem), 0);
  ck_assert_int_eq(weft_sem_value(sem), 1);
  ck_assert_int_eq(weft_sem_try_acquire(sem), 0);
  ck_assert_int_eq(weft_sem_destroy(sem), 0);
}
END_TEST

static _Atomic int inside, max_inside;

static int limited(void *arg, void **res) {
  int rc = weft_sem_acquire(sem, -1);
  if (rc) return rc;
  int now = atomic_fetch_add(&inside, 1) + 1;
  int m = atomic_load(&max_inside);
  while (now > m && !atomic_compare_exchange_weak(&max_inside, &m, now)) {
  }
  weft_yield();
  atomic_fetch_sub(&inside, 1);
  return weft_sem_release(sem);
}

static int limit_main(void *arg, void **res) {
  long n = scaled(10000);
  weft_task_t **ts = calloc((size_t)n, sizeof *ts);
  for (long i = 0; i < n; i++) weft_spawn(limited, NULL, &ts[i]);
  for (long i = 0; i < n; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  free(ts);
  return 0;
}

START_TEST(never_more_than_the_permits) {
  ck_assert_int_eq(weft_sem_create(100, 1, &sem), 0);
  ck_assert_int_eq(run_main(4, limit_main, NULL, NULL), 0);
  ck_assert_int_le(atomic_load(&max_inside), 100);
  ck_assert_int_gt(atomic_load(&max_inside), 1);
  ck_assert_int_eq(weft_sem_value(sem), 100);
  ck_assert_int_eq(weft_sem_destroy(sem), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("sem");
  TCase *tc = tcase_create("sem");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, bounded_fifo_cancel);
  tcase_add_test(tc, never_more_than_the_permits);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
