/* test_timeout.c - runtime/timeout.c: timeout scopes (asyncio.timeout) and
 * wait_for, with CPython 3.11+'s cancel-count rule: expiry becomes
 * -ETIMEDOUT, an outside cancel at the same moment stays -ECANCELED, nested
 * scopes convert only their own expiry, a body that finished keeps its
 * value, reschedule/when/expired, the cleanup of WEFT_TIMEOUT_SCOPE; and
 * wait_for: the inner future cancelled and waited for, a late result never
 * dropped, timeout 0, the caller's cancellation. */
#include "helpers.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>

#define MS (1000 * 1000LL)

static void block_ms(long ms) { /* holds the worker: time passes, no suspension */
  struct timespec ts = {0, ms * MS};
  nanosleep(&ts, NULL);
}

static int scope_main(void *arg, void **res) {
  weft_task_t *me = weft_task_current();
  struct weft_timeout t;
  /* Expiry: the scope's own cancellation becomes -ETIMEDOUT. */
  ck_assert_int_eq(weft_timeout_enter(&t, 10 * MS), 0);
  ck_assert_int_eq(weft_timeout_expired(&t), 0);
  int rc = weft_sleep(5);
  ck_assert_int_eq(rc, -ECANCELED);
  ck_assert_int_eq(weft_timeout_expired(&t), 1);
  ck_assert_int_eq(weft_timeout_leave(&t, rc), -ETIMEDOUT);
  ck_assert_int_eq(weft_task_cancelling(me), 0);
  ck_assert_int_eq(weft_timeout_leave(&t, 0), WEFT_EINVALSTATE); /* left already */
  /* No expiry: the body's result, nothing left behind. */
  ck_assert_int_eq(weft_timeout_enter(&t, 1000 * MS), 0);
  ck_assert_int_eq(weft_sleep_ns(MS), 0);
  ck_assert_int_eq(weft_timeout_leave(&t, 5), 5);
  ck_assert_int_eq(weft_timeout_expired(&t), 0);
  /* The deadline fires, the body swallows it and finishes: its value stands
   * and the cancellation is withdrawn (3.13's uncancel). */
  ck_assert_int_eq(weft_timeout_enter(&t, MS), 0);
  ck_assert_int_eq(weft_sleep(5), -ECANCELED);
  ck_assert_int_eq(weft_timeout_leave(&t, 0), 0);
  ck_assert_int_eq(weft_task_cancelling(me), 0);
  ck_assert_int_eq(weft_yield(), 0); /* nothing pending */
  /* An outside cancel arriving with the expiry (before the scope ends)
   * stays a cancel. */
  ck_assert_int_eq(weft_timeout_enter(&t, MS), 0);
  rc = weft_sleep(5);
  weft_task_cancel(me, NULL);
  ck_assert_int_eq(rc, -ECANCELED);
  ck_assert_int_eq(weft_timeout_expired(&t), 1);
  ck_assert_int_eq(weft_timeout_leave(&t, rc), -ECANCELED);
  ck_assert_int_eq(weft_task_cancelling(me), 1); /* the outside request stands */
  ck_assert_int_eq(weft_task_uncancel(me), 0);
  return 0;
}

START_TEST(expiry_value_and_outside_cancel) {
  ck_assert_int_eq(run_main(1, scope_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, scope_main, NULL, NULL), 0);
}
END_TEST

static int nested_main(void *arg, void **res) {
  struct weft_timeout outer, inner;
  /* The inner one expires: only it converts; the outer goes on. */
  ck_assert_int_eq(weft_timeout_enter(&outer, 2000 * MS), 0);
  ck_assert_int_eq(weft_timeout_enter(&inner, 5 * MS), 0);
  int rc = weft_timeout_leave(&inner, weft_sleep(5));
  ck_assert_int_eq(rc, -ETIMEDOUT);
  ck_assert_int_eq(weft_sleep_ns(MS), 0); /* the outer scope is not expired */
  ck_assert_int_eq(weft_timeout_leave(&outer, rc), -ETIMEDOUT); /* passes the inner's through */
  ck_assert_int_eq(weft_timeout_expired(&outer), 0);
  /* The outer one expires inside the inner one: the inner passes the
   * cancellation on, the outer converts it. */
  ck_assert_int_eq(weft_timeout_enter(&outer, 5 * MS), 0);
  ck_assert_int_eq(weft_timeout_enter(&inner, 2000 * MS), 0);
  rc = weft_timeout_leave(&inner, weft_sleep(5));
  ck_assert_int_eq(rc, -ECANCELED);
  ck_assert_int_eq(weft_timeout_leave(&outer, rc), -ETIMEDOUT);
  /* Both expire in one timer pass (we hold the worker past both deadlines,
   * then suspend; the first firing wakes us into the worker's LIFO slot,
   * which nobody steals, so the second fires before we run): the inner
   * sees a count above its own, the outer converts. */
  ck_assert_int_eq(weft_timeout_enter(&outer, MS), 0);
  ck_assert_int_eq(weft_timeout_enter(&inner, MS), 0);
  block_ms(3);
  rc = weft_sleep(5);
  ck_assert_int_eq(rc, -ECANCELED);
  rc = weft_timeout_leave(&inner, rc);
  ck_assert_int_eq(rc, -ECANCELED);
  ck_assert_int_eq(weft_timeout_leave(&outer, rc), -ETIMEDOUT);
  ck_assert_int_eq(weft_task_cancelling(weft_task_current()), 0);
  return 0;
}

START_TEST(nested_scopes_convert_their_own_expiry) {
  ck_assert_int_eq(run_main(1, nested_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, nested_main, NULL, NULL), 0);
}
END_TEST

static int reschedule_main(void *arg, void **res) {
  struct weft_timeout t;
  ck_assert_int_eq(weft_timeout_enter(&t, -1), 0); /* timeout(None) */
  ck_assert_uint_eq(weft_timeout_when(&t), 0);
  uint64_t when = weft_now_ns() + 5 * MS;
  ck_assert_int_eq(weft_timeout_reschedule(&t, when), 0);
  ck_assert_uint_eq(weft_timeout_when(&t), when);
  int rc = weft_sleep(5);
  ck_assert_int_eq(weft_timeout_reschedule(&t, 0), WEFT_EINVALSTATE); /* expired */
  ck_assert_int_eq(weft_timeout_leave(&t, rc), -ETIMEDOUT);
  /* Moved away, then removed: never fires. */
  ck_assert_int_eq(weft_timeout_enter(&t, 5 * MS), 0);
  ck_assert_int_eq(weft_timeout_reschedule(&t, 0), 0);
  ck_assert_int_eq(weft_sleep_ns(20 * MS), 0);
  ck_assert_int_eq(weft_timeout_leave(&t, 0), 0);
  ck_assert_int_eq(weft_timeout_reschedule(&t, 1), WEFT_EINVALSTATE); /* left */
  /* timeout_at in the past expires at the next pass. */
  ck_assert_int_eq(weft_timeout_enter_at(&t, weft_now_ns() - MS), 0);
  ck_assert_int_eq(weft_timeout_leave(&t, weft_sleep(5)), -ETIMEDOUT);
  return 0;
}

START_TEST(reschedule_when_expired) {
  ck_assert_int_eq(run_main(1, reschedule_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, reschedule_main, NULL, NULL), 0);
  struct weft_timeout t;
  ck_assert_int_eq(weft_timeout_enter(&t, MS), -EPERM); /* outside a task */
  ck_assert_int_eq(t.rc, -EPERM);
  ck_assert_int_eq(weft_timeout_leave(&t, 0), WEFT_EINVALSTATE);
}
END_TEST

static int forgets_leave(void) {
  WEFT_TIMEOUT_SCOPE(tmo, 5 * MS);
  if (tmo.rc) return tmo.rc;
  return 3; /* no leave: the cleanup disarms the scope */
}

static int cleanup_main(void *arg, void **res) {
  ck_assert_int_eq(forgets_leave(), 3);
  ck_assert_int_eq(weft_sleep_ns(20 * MS), 0); /* no stray cancellation later */
  ck_assert_int_eq(weft_task_cancelling(weft_task_current()), 0);
  return 0;
}

START_TEST(scope_macro_disarms_on_every_exit) {
  ck_assert_int_eq(run_main(1, cleanup_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, cleanup_main, NULL, NULL), 0);
}
END_TEST

/* ---- wait_for ------------------------------------------------------------------- */

static _Atomic int inner_saw_cancel;

static int slow(void *arg, void **res) {
  int rc = weft_sleep(5);
  if (rc == -ECANCELED) atomic_store(&inner_saw_cancel, 1);
  return rc;
}

static int stubborn(void *arg, void **res) {
  if (arg) weft_event_set(arg); /* it is running */
  if (weft_sleep(5) == -ECANCELED) atomic_store(&inner_saw_cancel, 1);
  *res = (void *)42; /* a result after all: must not be dropped */
  return 0;
}

static int wait_for_main(void *arg, void **res) {
  weft_task_t *t;
  void *v = NULL;
  /* Timeout: the inner task is cancelled and has finished on return. */
  atomic_store(&inner_saw_cancel, 0);
  ck_assert_int_eq(weft_spawn(slow, NULL, &t), 0);
  ck_assert_int_eq(weft_wait_for(weft_task_future(t), 10 * MS, &v), -ETIMEDOUT);
  ck_assert_int_eq(weft_future_done(weft_task_future(t)), 1);
  ck_assert_int_eq(weft_future_cancelled(weft_task_future(t)), 1);
  ck_assert_int_eq(atomic_load(&inner_saw_cancel), 1);
  ck_assert_int_eq(weft_task_cancelling(weft_task_current()), 0);
  weft_task_release(t);
  /* An inner task that answers anyway: its result wins. */
  ck_assert_int_eq(weft_spawn(stubborn, NULL, &t), 0);
  ck_assert_int_eq(weft_wait_for(weft_task_future(t), 10 * MS, &v), 0);
  ck_assert_ptr_eq(v, (void *)42);
  ck_assert_int_eq(weft_task_cancelling(weft_task_current()), 0);
  weft_task_release(t);
  /* In time. */
  weft_future_t *p;
  ck_assert_int_eq(weft_future_new(NULL, &p), 0);
  weft_future_set_result(p, (void *)9);
  ck_assert_int_eq(weft_wait_for(p, 10 * MS, &v), 0);
  ck_assert_ptr_eq(v, (void *)9);
  /* Timeout 0: a done future still gives its result... */
  ck_assert_int_eq(weft_wait_for(p, 0, &v), 0);
  weft_future_release(p);
  /* ...a pending one is cancelled: -ETIMEDOUT; a stubborn task's value wins. */
  ck_assert_int_eq(weft_future_new(NULL, &p), 0);
  ck_assert_int_eq(weft_wait_for(p, 0, &v), -ETIMEDOUT);
  ck_assert_int_eq(weft_future_cancelled(p), 1);
  weft_future_release(p);
  weft_event_t *running;
  ck_assert_int_eq(weft_event_create(&running), 0);
  ck_assert_int_eq(weft_spawn(stubborn, running, &t), 0);
  ck_assert_int_eq(weft_event_wait(running, -1), 0);
  ck_assert_int_eq(weft_wait_for(weft_task_future(t), 0, &v), 0);
  ck_assert_ptr_eq(v, (void *)42);
  weft_task_release(t);
  weft_event_destroy(running);
  /* A task that never started is cancelled before its first step, as in
   * asyncio: a timeout, and its body never ran. Pinned to this worker,
   * which we hold until the wait: with several workers another could
   * otherwise start it first (seen under WEFT_SHUFFLE: its result won). */
  ck_assert_int_eq(spawn_pinned(weft_worker_index(), stubborn, NULL, &t), 0);
  ck_assert_int_eq(weft_wait_for(weft_task_future(t), 0, &v), -ETIMEDOUT);
  weft_task_release(t);
  /* No limit. */
  ck_assert_int_eq(spawn_pinned(weft_worker_index(), stubborn, NULL, &t), 0);
  weft_task_cancel(t, NULL);
  ck_assert_int_eq(weft_wait_for(weft_task_future(t), -1, &v), -ECANCELED); /* never started */
  weft_task_release(t);
  ck_assert_int_eq(weft_wait_for(NULL, 1, NULL), -EINVAL);
  ck_assert_int_eq(weft_wait_for(weft_task_future(weft_task_current()), 1, NULL), -EDEADLK);
  return 0;
}

START_TEST(wait_for_rules) {
  ck_assert_int_eq(run_main(1, wait_for_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, wait_for_main, NULL, NULL), 0);
  ck_assert_int_eq(weft_wait_for((weft_future_t *)1, 1, NULL), -EPERM);
}
END_TEST

static weft_task_t *inner_of_caller;

static int wait_for_caller(void *arg, void **res) {
  weft_event_set(arg); /* a cancel from here on reaches the wait_for */
  return weft_wait_for(weft_task_future(inner_of_caller), 5000 * MS, NULL);
}

static int caller_cancelled_main(void *arg, void **res) {
  atomic_store(&inner_saw_cancel, 0);
  ck_assert_int_eq(weft_spawn(slow, NULL, &inner_of_caller), 0);
  weft_event_t *started;
  ck_assert_int_eq(weft_event_create(&started), 0);
  weft_task_t *c;
  ck_assert_int_eq(weft_spawn(wait_for_caller, started, &c), 0);
  ck_assert_int_eq(weft_event_wait(started, -1), 0);
  ck_assert_int_eq(weft_task_cancel(c, NULL), 1);
  /* A cancel, not a timeout; the inner task was cancelled and has ended. */
  ck_assert_int_eq(weft_await(weft_task_future(c), NULL), -ECANCELED);
  ck_assert_int_eq(weft_future_cancelled(weft_task_future(inner_of_caller)), 1);
  weft_task_release(c);
  weft_task_release(inner_of_caller);
  weft_event_destroy(started);
  return 0;
}

START_TEST(cancelling_the_caller_is_a_cancel) {
  ck_assert_int_eq(run_main(1, caller_cancelled_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, caller_cancelled_main, NULL, NULL), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("timeout");
  TCase *tc = tcase_create("timeout");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, expiry_value_and_outside_cancel);
  tcase_add_test(tc, nested_scopes_convert_their_own_expiry);
  tcase_add_test(tc, reschedule_when_expired);
  tcase_add_test(tc, scope_macro_disarms_on_every_exit);
  tcase_add_test(tc, wait_for_rules);
  tcase_add_test(tc, cancelling_the_caller_is_a_cancel);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
