/* test_cond.c - sync/cond.c: the lock is required, notify counts, wait_for,
 * a cancelled wait returns holding the lock, a notification given to a
 * cancelled waiter passes on, one skipped on one worker when it was
 * cancelled first, and a bounded buffer on 4 workers. */
#include "helpers.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

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

/* ---- cancellation edges (asyncio 3.13's Condition.wait) ----------------------- */

struct cw {
  weft_cond_t *cv;
  weft_event_t *started;
  int *flag;
  int rc;
  bool held; /* the lock was held when the wait returned */
};

static int flag_set(void *arg) { return *(int *)arg; }

static int cw_wait_for(void *arg, void **res) {
  struct cw *c = arg;
  weft_lock_t *l = weft_cond_lock(c->cv);
  ck_assert_int_eq(weft_lock_acquire(l, -1), 0);
  weft_event_set(c->started);
  c->rc = c->flag ? weft_cond_wait_for(c->cv, flag_set, c->flag, -1) : weft_cond_wait(c->cv, -1);
  c->held = weft_lock_locked(l);
  weft_lock_release(l);
  return 0;
}

/* Starts a waiter and returns once it waits (we then hold the lock). */
static weft_task_t *start_waiter(struct cw *c) {
  weft_task_t *t;
  ck_assert_int_eq(weft_event_create(&c->started), 0);
  ck_assert_int_eq(weft_spawn(cw_wait_for, c, &t), 0);
  ck_assert_int_eq(weft_event_wait(c->started, -1), 0);
  /* The waiter released the lock inside wait, after queueing itself. */
  ck_assert_int_eq(weft_lock_acquire(weft_cond_lock(c->cv), -1), 0);
  return t;
}

static int wait_for_cancel_main(void *arg, void **res) {
  weft_cond_t *c;
  ck_assert_int_eq(weft_cond_create(NULL, &c), 0);
  int flag = 0;
  struct cw w = {.cv = c, .flag = &flag, .rc = 1};
  weft_task_t *t = start_waiter(&w);
  flag = 1;                         /* the predicate becomes true, */
  ck_assert_int_eq(weft_cond_notify(c, 1), 1);
  ck_assert_int_eq(weft_task_cancel(t, NULL), 1); /* and the waiter is cancelled */
  weft_lock_release(weft_cond_lock(c));
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  ck_assert_int_eq(w.rc, -ECANCELED); /* reported, not swallowed */
  ck_assert(w.held);
  weft_task_release(t);
  weft_event_destroy(w.started);
  ck_assert_int_eq(weft_cond_destroy(c), 0);
  return 0;
}

START_TEST(wait_for_reports_a_cancellation) {
  for (unsigned n = 1; n <= 4; n += 3)
    for (int i = 0; i < 20; i++) ck_assert_int_eq(run_main(n, wait_for_cancel_main, NULL, NULL), 0);
}
END_TEST

static int reacquire_cancel_main(void *arg, void **res) {
  weft_cond_t *c;
  ck_assert_int_eq(weft_cond_create(NULL, &c), 0);
  struct cw a = {.cv = c, .rc = 1}, b = {.cv = c, .rc = 1};
  weft_task_t *ta = start_waiter(&a);
  weft_lock_release(weft_cond_lock(c));
  weft_task_t *tb = start_waiter(&b);
  ck_assert_int_eq(weft_cond_notify(c, 1), 1); /* a only */
  weft_yield(); /* a, notified, now waits for the lock we hold */
  ck_assert_int_eq(weft_task_cancel(ta, NULL), 1);
  weft_lock_release(weft_cond_lock(c));
  ck_assert_int_eq(weft_await(weft_task_future(ta), NULL), 0);
  ck_assert_int_eq(a.rc, -ECANCELED); /* re-acquired, then reported */
  ck_assert(a.held);
  /* a's error passed its notification on: b returns without a notify of its own. */
  ck_assert_int_eq(weft_await(weft_task_future(tb), NULL), 0);
  ck_assert_int_eq(b.rc, 0);
  ck_assert(b.held);
  weft_task_release(ta);
  weft_task_release(tb);
  weft_event_destroy(a.started);
  weft_event_destroy(b.started);
  ck_assert_int_eq(weft_cond_destroy(c), 0);
  return 0;
}

START_TEST(cancel_while_reacquiring_is_reported) {
  for (unsigned n = 1; n <= 4; n += 3)
    for (int i = 0; i < 20; i++) ck_assert_int_eq(run_main(n, reacquire_cancel_main, NULL, NULL), 0);
}
END_TEST

/* ---- fairness: notified waiters re-acquire in the order they waited ------------ */

#define FAIR_N 6
static weft_cond_t *fair_cv;
static weft_event_t *fair_all_waiting;
static int fair_arrived, fair_woken[FAIR_N], fair_nwoken;

static int fair_waiter(void *arg, void **res) {
  weft_lock_t *l = weft_cond_lock(fair_cv);
  ck_assert_int_eq(weft_lock_acquire(l, -1), 0);
  int me = fair_arrived++; /* the order we queue in: the lock's FIFO order */
  if (fair_arrived == FAIR_N) weft_event_set(fair_all_waiting);
  ck_assert_int_eq(weft_cond_wait(fair_cv, -1), 0);
  fair_woken[fair_nwoken++] = me;
  weft_lock_release(l);
  return 0;
}

static int fairness_main(void *arg, void **res) {
  ck_assert_int_eq(weft_cond_create(NULL, &fair_cv), 0);
  ck_assert_int_eq(weft_event_create(&fair_all_waiting), 0);
  fair_arrived = fair_nwoken = 0;
  weft_task_t *ts[FAIR_N];
  for (int i = 0; i < FAIR_N; i++) ck_assert_int_eq(weft_spawn(fair_waiter, NULL, &ts[i]), 0);
  ck_assert_int_eq(weft_event_wait(fair_all_waiting, -1), 0);
  weft_lock_t *l = weft_cond_lock(fair_cv);
  ck_assert_int_eq(weft_lock_acquire(l, -1), 0); /* after the last one queued */
  if ((intptr_t)arg)
    ck_assert_int_eq(weft_cond_notify_all(fair_cv), FAIR_N);
  else
    for (int i = 0; i < FAIR_N; i++) ck_assert_int_eq(weft_cond_notify(fair_cv, 1), 1);
  weft_lock_release(l);
  for (int i = 0; i < FAIR_N; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  for (int i = 0; i < FAIR_N; i++) ck_assert_int_eq(fair_woken[i], i);
  weft_event_destroy(fair_all_waiting);
  ck_assert_int_eq(weft_cond_destroy(fair_cv), 0);
  return 0;
}

START_TEST(notified_waiters_reacquire_in_order) {
  for (unsigned n = 1; n <= 4; n += 3)
    for (int i = 0; i < (int)scaled(200); i++) {
      ck_assert_int_eq(run_main(n, fairness_main, (void *)1, NULL), 0);
      ck_assert_int_eq(run_main(n, fairness_main, (void *)0, NULL), 0);
    }
}
END_TEST

/* One worker: a notified waiter is woken at once and re-acquires the lock
 * when it runs (asyncio's Condition), so the lock stays free meanwhile.
 * CPython prints "gd" for
 *     w: async with c: await c.wait_for(lambda: released); then 'g'
 *     t: await f; 'd'
 *     main: create_task(t), create_task(w); sleep(0)
 *           async with c: c.notify(1)
 *           f.set_result(None)
 *           async with c: released = True; c.notify_all()   # free: no wait
 * With the notified waiter moved into the lock's queue (wait morphing, as
 * with several workers), main's second `async with` queued behind it, the
 * waiter found the predicate still false and waited again, and t's 'd'
 * came first ("dg"). */
static weft_cond_t *wm_cv;
static weft_future_t *wm_f;
static int wm_released;
static char wm_trace[4];
static int wm_n;

static int wm_is_released(void *arg) { return wm_released; }

static int wm_waiter(void *arg, void **res) {
  weft_lock_t *l = weft_cond_lock(wm_cv);
  ck_assert_int_eq(weft_lock_acquire(l, -1), 0);
  ck_assert_int_eq(weft_cond_wait_for(wm_cv, wm_is_released, NULL, -1), 0);
  ck_assert_int_eq(weft_lock_release(l), 0);
  wm_trace[wm_n++] = 'g';
  return 0;
}

static int wm_awaiter(void *arg, void **res) {
  ck_assert_int_eq(weft_await(wm_f, NULL), 0);
  wm_trace[wm_n++] = 'd';
  return 0;
}

static int no_morph_main(void *arg, void **res) {
  ck_assert_int_eq(weft_cond_create(NULL, &wm_cv), 0);
  ck_assert_int_eq(weft_future_new(NULL, &wm_f), 0);
  wm_released = wm_n = 0;
  weft_lock_t *l = weft_cond_lock(wm_cv);
  weft_task_t *t, *w;
  ck_assert_int_eq(weft_spawn(wm_awaiter, NULL, &t), 0);
  ck_assert_int_eq(weft_spawn(wm_waiter, NULL, &w), 0);
  ck_assert_int_eq(weft_yield(), 0);
  ck_assert_int_eq(weft_lock_acquire(l, -1), 0);
  ck_assert_int_eq(weft_cond_notify(wm_cv, 1), 1);
  ck_assert_int_eq(weft_lock_release(l), 0);
  ck_assert_int_eq(weft_future_set_result(wm_f, NULL), 0);
  ck_assert_int_eq(weft_lock_try_acquire(l), 0); /* free: the waiter did not take it */
  wm_released = 1;
  ck_assert_int_eq(weft_cond_notify_all(wm_cv), 0);
  ck_assert_int_eq(weft_lock_release(l), 0);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  ck_assert_int_eq(weft_await(weft_task_future(w), NULL), 0);
  weft_task_release(t);
  weft_task_release(w);
  ck_assert_int_eq(wm_n, 2);
  ck_assert_int_eq(memcmp(wm_trace, "gd", 2), 0);
  weft_future_release(wm_f);
  ck_assert_int_eq(weft_cond_destroy(wm_cv), 0);
  return 0;
}

/* asyncio's notify skips a waiter whose future was cancelled: on one
 * worker a waiter cancelled while it waits is skipped by the notify that
 * follows in the same pass, which wakes the next waiter at once (not a
 * pass later, when the cancelled one would pass its notification on). */
static int skip_main(void *arg, void **res) {
  weft_lock_t *l = weft_cond_lock(cv);
  weft_task_t *a, *b;
  /* Delivered to a's wait already (asyncio: its future is cancelled):
   * withdrawing the request (arg) does not undo it, a's wait still ends. */
  two_waiters_first_cancelled(cv_waiter, arg != NULL, &a, &b);
  ck_assert_int_eq(weft_lock_acquire(l, -1), 0);
  ck_assert_int_eq(weft_cond_notify(cv, 1), 1); /* b: a is skipped */
  ck_assert_int_eq(weft_lock_release(l), 0);
  order[norder++] = 'x';
  weft_yield(); /* a ends, b runs */
  order[norder++] = 'y';
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), -ECANCELED);
  ck_assert_int_eq(weft_await(weft_task_future(b), NULL), 0);
  weft_task_release(a);
  weft_task_release(b);
  return 0;
}

START_TEST(one_worker_notify_skips_a_cancelled_waiter) {
  for (int uncancel = 0; uncancel < 2; uncancel++) {
    ck_assert_int_eq(weft_cond_create(NULL, &cv), 0);
    norder = 0;
    ck_assert_int_eq(run_main(1, skip_main, uncancel ? (void *)1 : NULL, NULL), 0);
    ck_assert_int_eq(weft_cond_destroy(cv), 0);
    ck_assert_int_eq(norder, 3);
    ck_assert_int_eq(memcmp(order, "xby", 3), 0);
  }
}
END_TEST

START_TEST(one_worker_notify_wakes_and_leaves_the_lock_free) {
  ck_assert_int_eq(run_main(1, no_morph_main, NULL, NULL), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("cond");
  TCase *tc = tcase_create("cond");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, notify_cancel_and_wait_for);
  tcase_add_test(tc, bounded_buffer_on_four_workers);
  tcase_add_test(tc, wait_for_reports_a_cancellation);
  tcase_add_test(tc, cancel_while_reacquiring_is_reported);
  tcase_add_test(tc, notified_waiters_reacquire_in_order);
  tcase_add_test(tc, one_worker_notify_wakes_and_leaves_the_lock_free);
  tcase_add_test(tc, one_worker_notify_skips_a_cancelled_waiter);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
