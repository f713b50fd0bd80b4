/* test_shield.c - runtime/shield.c: asyncio.shield: the awaiter's
 * cancellation does not reach the inner task, whose outcome stays
 * readable; the outer future follows value, error and cancellation; a done
 * future is returned as it is; an error after the awaiter left is reported,
 * not lost; 1 and 4 workers; asyncio's hops on one worker. */
#include "helpers.h"

#include <errno.h>
#include <stdint.h>

static int wait_then(void *arg, void **res) {
  weft_event_t *e = arg;
  int rc = weft_event_wait(e, -1);
  if (rc) return rc;
  *res = (void *)5;
  return 0;
}

static int fail_after(void *arg, void **res) {
  int rc = weft_event_wait(arg, -1);
  if (rc) return rc;
  return weft_fail(-EIO, "late");
}

struct awaiting {
  weft_future_t *shielded;
  weft_event_t *started;
  int rc;
  weft_task_t *awaiter;
};

static int await_shielded(void *arg, void **res) {
  struct awaiting *a = arg;
  weft_event_set(a->started); /* a cancel from here on reaches the await */
  a->rc = weft_await(a->shielded, NULL);
  return 0;
}

/* Spawns @fn(@e) as the inner task, shields it, and has a task that awaits
 * the shield cancelled while it waits; returns the inner task. */
static weft_task_t *cancel_shielded_awaiter(weft_task_fn fn, weft_event_t *e, struct awaiting *a) {
  weft_task_t *inner;
  ck_assert_int_eq(weft_spawn(fn, e, &inner), 0);
  *a = (struct awaiting){.rc = 1};
  ck_assert_int_eq(weft_shield(weft_task_future(inner), &a->shielded), 0);
  ck_assert_int_eq(weft_event_create(&a->started), 0);
  ck_assert_int_eq(weft_spawn(await_shielded, a, &a->awaiter), 0);
  ck_assert_int_eq(weft_event_wait(a->started, -1), 0);
  weft_task_cancel(a->awaiter, NULL);
  weft_await(weft_task_future(a->awaiter), NULL);
  return inner;
}

static int shield_main(void *arg, void **res) {
  weft_event_t *e;
  ck_assert_int_eq(weft_event_create(&e), 0);
  struct awaiting a;
  weft_task_t *inner = cancel_shielded_awaiter(wait_then, e, &a);
  ck_assert_int_eq(a.rc, -ECANCELED); /* the awaiter was cancelled... */
  ck_assert_int_eq(weft_task_cancelling(inner), 0); /* ...not the inner task */
  ck_assert_int_eq(weft_future_cancelled(a.shielded), 1);
  weft_event_set(e);
  void *v;
  ck_assert_int_eq(weft_await(weft_task_future(inner), &v), 0); /* still retrievable */
  ck_assert_ptr_eq(v, (void *)5);
  weft_future_release(a.shielded);
  weft_task_release(a.awaiter);
  weft_event_destroy(a.started);
  weft_task_release(inner);
  /* The outer future follows the inner: value, error, cancellation. */
  weft_event_clear(e);
  weft_task_t *f;
  ck_assert_int_eq(weft_spawn(fail_after, e, &f), 0);
  weft_future_t *s;
  ck_assert_int_eq(weft_shield(weft_task_future(f), &s), 0);
  weft_event_set(e);
  const char *msg;
  ck_assert_int_eq(weft_await(s, NULL), -EIO);
  ck_assert_int_eq(weft_future_error(s, &msg), -EIO);
  ck_assert_str_eq(msg, "late");
  weft_future_release(s);
  weft_task_release(f);
  weft_future_t *p;
  ck_assert_int_eq(weft_future_new(NULL, &p), 0);
  ck_assert_int_eq(weft_shield(p, &s), 0);
  weft_future_cancel(p, "inner cancelled");
  ck_assert_int_eq(weft_await(s, NULL), -ECANCELED);
  weft_future_release(s);
  /* Done already: the same future, referenced. */
  ck_assert_int_eq(weft_shield(p, &s), 0);
  ck_assert_ptr_eq(s, p);
  weft_future_release(s);
  weft_future_release(p);
  ck_assert_int_eq(weft_shield(NULL, &s), -EINVAL);
  weft_event_destroy(e);
  return 0;
}

START_TEST(cancellation_stays_outside) {
  ck_assert_int_eq(run_main(1, shield_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, shield_main, NULL, NULL), 0);
}
END_TEST

static _Atomic int reports;
static char report[96];
static weft_event_t *reported;
static void on_report(weft_loop_t *l, const struct weft_exception_context *c, void *a) {
  snprintf(report, sizeof report, "%s|%s", c->message, c->error_msg ? c->error_msg : "");
  atomic_fetch_add(&reports, 1);
  weft_event_set(reported);
}

static int late_error_main(void *arg, void **res) {
  weft_loop_set_exception_handler(weft_loop_current(), on_report, NULL);
  ck_assert_int_eq(weft_event_create(&reported), 0);
  weft_event_t *e;
  ck_assert_int_eq(weft_event_create(&e), 0);
  struct awaiting a;
  weft_task_t *inner = cancel_shielded_awaiter(fail_after, e, &a);
  weft_future_release(a.shielded);
  weft_task_release(a.awaiter);
  weft_event_destroy(a.started);
  weft_task_release(inner); /* only the shield and the scheduler hold it now */
  weft_event_set(e);        /* it fails after the awaiter left */
  ck_assert_int_eq(weft_event_wait(reported, -1), 0);
  weft_event_destroy(e);
  weft_event_destroy(reported);
  return 0;
}

START_TEST(an_error_after_the_awaiter_left_is_reported) {
  for (unsigned w = 1; w <= 4; w += 3) {
    atomic_store(&reports, 0);
    ck_assert_int_eq(run_main(w, late_error_main, NULL, NULL), 0);
    ck_assert_int_eq(atomic_load(&reports), 1);
    ck_assert_str_eq(report, "Task exception was never retrieved|late");
  }
}
END_TEST

/* asyncio's hops on one worker: the outer future follows the inner one in
 * a done callback a pass after the inner completes, and the awaiter
 * resumes a pass after that. CPython 3.13 prints "xbycazdw" for the same
 * program (tasks noting a letter a pass). */
static weft_future_t *hop_f;

static int hop_shielded(void *arg, void **res) {
  weft_future_t *outer;
  ck_assert_int_eq(weft_shield(hop_f, &outer), 0);
  ck_assert_int_eq(weft_await(outer, NULL), 0);
  weft_future_release(outer);
  pass_note('a');
  return 0;
}

static int hop_main(void *arg, void **res) {
  weft_task_t *ts[2];
  hop_start(&hop_f, 1, false, hop_shielded, "bcd", ts);
  weft_future_set_result(hop_f, NULL);
  pass_note_each("xyzw");
  await_all_ok(ts, 2);
  weft_future_release(hop_f);
  return 0;
}

START_TEST(one_worker_hops_as_asyncio) {
  ck_assert_int_eq(run_main(1, hop_main, NULL, NULL), 0);
  ck_assert_str_eq(pass_trace.s, "xbycazdw");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("shield");
  TCase *tc = tcase_create("shield");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, cancellation_stays_outside);
  tcase_add_test(tc, an_error_after_the_awaiter_left_is_reported);
  tcase_add_test(tc, one_worker_hops_as_asyncio);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
