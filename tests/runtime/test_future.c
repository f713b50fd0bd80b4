/* test_future.c - runtime/future.c: states and their errors, done-callback
 * order, awaiting (many waiters, cancellation, timeouts), foreign-thread
 * waits, the "exception was never retrieved" report, and the changes of a
 * one-worker loop's sole waiter (future.c's invariant 4). */
#include "helpers.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

START_TEST(states_and_errors) {
  weft_loop_t *loop = make_loop(1);
  weft_future_t *f;
  ck_assert_int_eq(weft_future_new(loop, NULL), -EINVAL);
  ck_assert_int_eq(weft_future_new(NULL, &f), -EINVAL); /* no current loop here */
  ck_assert_int_eq(weft_future_new(loop, &f), 0);
  void *r = (void *)1;
  ck_assert_int_eq(weft_future_done(f), 0);
  ck_assert_int_eq(weft_future_result(f, &r), WEFT_EINVALSTATE);
  ck_assert_int_eq(weft_future_error(f, NULL), WEFT_EINVALSTATE);
  ck_assert_int_eq(weft_future_set_error(f, 5, NULL), -EINVAL);
  ck_assert_int_eq(weft_future_set_error(f, -ECANCELED, NULL), -EINVAL);
  ck_assert_int_eq(weft_future_set_result(f, (void *)42), 0);
  ck_assert_int_eq(weft_future_set_result(f, (void *)43), WEFT_EINVALSTATE);
  ck_assert_int_eq(weft_future_set_error(f, -EIO, "x"), WEFT_EINVALSTATE);
  ck_assert_int_eq(weft_future_cancel(f, NULL), 0);
  ck_assert_int_eq(weft_future_result(f, &r), 0);
  ck_assert_ptr_eq(r, (void *)42);
  ck_assert_int_eq(weft_future_cancelled(f), 0);
  weft_future_release(f);

  ck_assert_int_eq(weft_future_new(loop, &f), 0);
  ck_assert_int_eq(weft_future_set_error(f, -EIO, "disk on fire"), 0);
  const char *msg = NULL;
  ck_assert_int_eq(weft_future_error(f, &msg), -EIO);
  ck_assert_str_eq(msg, "disk on fire");
  ck_assert_int_eq(weft_future_result(f, &r), -EIO);
  weft_future_release(f);

  ck_assert_int_eq(weft_future_new(loop, &f), 0);
  ck_assert_int_eq(weft_future_cancel(f, "stop"), 1);
  ck_assert_int_eq(weft_future_cancelled(f), 1);
  ck_assert_int_eq(weft_future_result(f, NULL), -ECANCELED);
  ck_assert_int_eq(weft_future_error(f, &msg), -ECANCELED);
  ck_assert_str_eq(msg, "stop");
  ck_assert_ptr_eq(weft_future_loop(f), loop);
  weft_future_release(f);

  ck_assert_int_eq(weft_future_set_result(NULL, NULL), -EINVAL);
  ck_assert_int_eq(weft_future_cancel(NULL, NULL), -EINVAL);
  ck_assert_int_eq(weft_future_on_done(NULL, NULL, NULL), -EINVAL);
  ck_assert_int_eq(weft_future_remove_done(NULL, NULL, NULL), -EINVAL);
  ck_assert_int_eq(weft_await(NULL, NULL), -EINVAL);
  weft_future_release(NULL);
  close_clean(loop);
}
END_TEST

/* ---- done-callback order --------------------------------------------------- */

static char order[32];
static int norder;
static void record_cb(weft_future_t *f, void *arg) { order[norder++] = *(const char *)arg; }

static int awaiter(void *arg, void **res) {
  int rc = weft_await(arg, res);
  order[norder++] = 'T';
  return rc;
}

static int order_main(void *arg, void **res) {
  weft_future_t *f;
  ck_assert_int_eq(weft_future_new(NULL, &f), 0);
  ck_assert_int_eq(weft_future_on_done(f, record_cb, "1"), 0);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(awaiter, f, &t), 0);
  ck_assert_int_eq(weft_yield(), 0); /* t registers as a waiter */
  ck_assert_int_eq(weft_future_on_done(f, record_cb, "2"), 0);
  ck_assert_int_eq(weft_future_on_done(f, record_cb, "x"), 0);
  ck_assert_int_eq(weft_future_on_done(f, record_cb, "x"), 0);
  ck_assert_int_eq(weft_future_remove_done(f, record_cb, "x"), 2);
  ck_assert_int_eq(weft_future_set_result(f, (void *)7), 0);
  ck_assert_int_eq(norder, 0); /* callbacks are scheduled, not called inline */
  void *r;
  ck_assert_int_eq(weft_await(weft_task_future(t), &r), 0);
  ck_assert_ptr_eq(r, (void *)7);
  /* Already done: scheduled at once, still not inline. */
  ck_assert_int_eq(weft_future_on_done(f, record_cb, "3"), 0);
  ck_assert_int_eq(norder, 3);
  ck_assert_int_eq(weft_yield(), 0);
  ck_assert_int_eq(norder, 4);
  weft_task_release(t);
  weft_future_release(f);
  return 0;
}

START_TEST(callbacks_and_waiters_in_registration_order) {
  norder = 0;
  ck_assert_int_eq(run_main(1, order_main, NULL, NULL), 0);
  order[norder] = 0;
  ck_assert_str_eq(order, "1T23");
}
END_TEST

/* ---- many waiters ------------------------------------------------------------ */

static _Atomic long woke_sum;

static int many_waiter(void *arg, void **res) {
  void *v;
  int rc = weft_await(arg, &v);
  if (rc == 0) atomic_fetch_add(&woke_sum, (long)v);
  return rc;
}

static int many_main(void *arg, void **res) {
  weft_future_t *f;
  ck_assert_int_eq(weft_future_new(NULL, &f), 0);
  enum { N = 200 };
  weft_task_t *ts[N];
  for (int i = 0; i < N; i++) ck_assert_int_eq(weft_spawn(many_waiter, f, &ts[i]), 0);
  ck_assert_int_eq(weft_yield(), 0); /* waiters that started are queued; late ones see it done */
  ck_assert_int_eq(weft_future_set_result(f, (void *)3), 0);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  weft_future_release(f);
  return 0;
}

START_TEST(many_waiters_each_see_the_result) {
  for (unsigned w = 1; w <= 4; w *= 2) {
    atomic_store(&woke_sum, 0);
    ck_assert_int_eq(run_main(w, many_main, NULL, NULL), 0);
    ck_assert_int_eq(atomic_load(&woke_sum), 600);
  }
}
END_TEST

/* ---- cancellation while awaiting ------------------------------------------- */

struct handshake {
  weft_future_t *started; /* set by the awaiter just before it awaits f */
  weft_future_t *f;
};

static int announced_waiter(void *arg, void **res) {
  struct handshake *h = arg;
  weft_future_set_result(h->started, NULL);
  weft_future_release(h->started); /* our reference (future.h: completers hold one) */
  /* No suspension point between the announcement and the await: a
   * cancellation sent after the announcement finds us awaiting f, or
   * reaches the await before it suspends; both cancel f. */
  return weft_await(h->f, res);
}

static int cancel_await_main(void *arg, void **res) {
  weft_future_t *f;
  ck_assert_int_eq(weft_future_new(NULL, &f), 0);
  struct handshake h = {.f = f};
  ck_assert_int_eq(weft_future_new(NULL, &h.started), 0);
  weft_future_ref(h.started); /* the announcer's */
  weft_task_t *t, *t2;
  ck_assert_int_eq(weft_spawn(announced_waiter, &h, &t), 0);
  ck_assert_int_eq(weft_spawn(many_waiter, f, &t2), 0);
  ck_assert_int_eq(weft_await(h.started, NULL), 0);
  weft_future_release(h.started);
  ck_assert_int_eq(weft_task_cancel(t, NULL), 1);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), -ECANCELED);
  /* asyncio: cancelling a task awaiting a future cancels the future, for
   * every awaiter. */
  ck_assert_int_eq(weft_future_cancelled(f), 1);
  ck_assert_int_eq(weft_await(weft_task_future(t2), NULL), -ECANCELED);
  ck_assert_int_eq(weft_task_cancel(t, NULL), 0); /* done */
  weft_task_release(t);
  weft_task_release(t2);
  weft_future_release(f);
  return 0;
}

START_TEST(cancelling_an_awaiter_cancels_the_future) {
  ck_assert_int_eq(run_main(1, cancel_await_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, cancel_await_main, NULL, NULL), 0);
}
END_TEST

static int race_main(void *arg, void **res) {
  bool uncancel = arg != NULL;
  weft_future_t *f;
  ck_assert_int_eq(weft_future_new(NULL, &f), 0);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(many_waiter, f, &t), 0);
  ck_assert_int_eq(weft_yield(), 0);
  /* Complete, then cancel before the waiter resumes (one worker: it cannot
   * run before we suspend). */
  ck_assert_int_eq(weft_future_set_result(f, (void *)9), 0);
  ck_assert_int_eq(weft_task_cancel(t, "late"), 1);
  ck_assert_int_eq(weft_task_cancelling(t), 1);
  if (uncancel) ck_assert_int_eq(weft_task_uncancel(t), 0);
  int rc = weft_await(weft_task_future(t), NULL);
  weft_task_release(t);
  weft_future_release(f);
  return rc;
}

START_TEST(cancel_after_completion_wins_unless_uncancelled) {
  atomic_store(&woke_sum, 0);
  ck_assert_int_eq(run_main(1, race_main, NULL, NULL), -ECANCELED);
  ck_assert_int_eq(atomic_load(&woke_sum), 0);
  ck_assert_int_eq(run_main(1, race_main, (void *)1, NULL), 0);
  ck_assert_int_eq(atomic_load(&woke_sum), 9);
}
END_TEST

static int timeout_main(void *arg, void **res) {
  weft_future_t *f;
  ck_assert_int_eq(weft_future_new(NULL, &f), 0);
  uint64_t t0 = weft_now_ns();
  ck_assert_int_eq(weft_await_timeout(f, 20 * 1000000, NULL), -ETIMEDOUT);
  ck_assert_uint_ge(weft_now_ns() - t0, 20 * 1000000);
  ck_assert_int_eq(weft_future_done(f), 0); /* a timeout leaves the future alone */
  weft_future_set_result(f, (void *)5);
  void *r;
  ck_assert_int_eq(weft_await_timeout(f, 0, &r), 0);
  ck_assert_ptr_eq(r, (void *)5);
  r = NULL;
  ck_assert_int_eq(weft_await_timeout(f, -1, &r), 0); /* negative: no limit */
  ck_assert_ptr_eq(r, (void *)5);
  weft_future_release(f);
  return 0;
}

START_TEST(await_timeout) { ck_assert_int_eq(run_main(2, timeout_main, NULL, NULL), 0); }
END_TEST

/* One worker: a future's sole waiter is named by a hint the completion
 * wakes without loading the waiter's node (future.c, invariant 4); every
 * other change of the entries drops it, and the completion then takes the
 * general path. Each case below changes the entries after the sole
 * waiter came, and the completion must reach exactly the entries left
 * (the debug build also checks the invariant after every change). */
static weft_future_t *sole_f;
static int sole_woken, sole_cb_ran;

static int sole_waiter(void *arg, void **res) {
  int rc = weft_await_timeout(sole_f, arg ? 1000 : -1, NULL); /* arg: gives up after 1 us */
  if (rc == 0) sole_woken++;
  return rc == -ETIMEDOUT ? 0 : rc;
}

static void sole_cb(weft_future_t *f, void *arg) { sole_cb_ran++; }

static int sole_main(void *arg, void **res) {
  weft_task_t *a, *b;
  sole_woken = sole_cb_ran = 0;
  /* A callback after the sole waiter: both run. */
  ck_assert_int_eq(weft_future_new(NULL, &sole_f), 0);
  weft_spawn(sole_waiter, NULL, &a);
  weft_yield();
  ck_assert_int_eq(weft_future_on_done(sole_f, sole_cb, NULL), 0);
  weft_future_set_result(sole_f, NULL);
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), 0);
  weft_yield(); /* LOCALITY order may resume us before the callback */
  ck_assert_int_eq(sole_woken, 1);
  ck_assert_int_eq(sole_cb_ran, 1);
  weft_task_release(a);
  weft_future_release(sole_f);
  /* The sole waiter gives up (a timeout), another comes: the completion
   * wakes the second, and only it. */
  ck_assert_int_eq(weft_future_new(NULL, &sole_f), 0);
  weft_spawn(sole_waiter, (void *)1, &a);
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), 0); /* timed out */
  weft_spawn(sole_waiter, NULL, &b);
  weft_yield();
  weft_future_set_result(sole_f, NULL);
  ck_assert_int_eq(weft_await(weft_task_future(b), NULL), 0);
  ck_assert_int_eq(sole_woken, 2);
  weft_task_release(a);
  weft_task_release(b);
  weft_future_release(sole_f);
  /* A waiter and a callback, the callback removed: the waiter is woken. */
  ck_assert_int_eq(weft_future_new(NULL, &sole_f), 0);
  weft_spawn(sole_waiter, NULL, &a);
  weft_yield();
  ck_assert_int_eq(weft_future_on_done(sole_f, sole_cb, NULL), 0);
  ck_assert_int_eq(weft_future_remove_done(sole_f, sole_cb, NULL), 1);
  weft_future_set_result(sole_f, NULL);
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), 0);
  ck_assert_int_eq(sole_woken, 3);
  ck_assert_int_eq(sole_cb_ran, 1);
  weft_task_release(a);
  weft_future_release(sole_f);
  /* The sole waiter cancelled: asyncio cancels the future it awaits (on
   * the loop's thread at once: the completion's leaf ends the wait
   * without writing the waiter's node, invariant 5, and the waiter leaves
   * without the lock). */
  ck_assert_int_eq(weft_future_new(NULL, &sole_f), 0);
  weft_spawn(sole_waiter, NULL, &a);
  weft_yield();
  ck_assert_int_eq(weft_task_cancel(a, NULL), 1);
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), -ECANCELED);
  ck_assert_int_eq(weft_future_cancelled(sole_f), 1);
  weft_task_release(a);
  weft_future_release(sole_f);
  /* A gather over a future that a task awaits alone: both see it done. */
  ck_assert_int_eq(weft_future_new(NULL, &sole_f), 0);
  weft_spawn(sole_waiter, NULL, &a);
  weft_yield();
  weft_future_t *g;
  ck_assert_int_eq(weft_gather_start(&sole_f, 1, 0, &g), 0);
  weft_future_set_result(sole_f, (void *)7);
  ck_assert_int_eq(weft_await(g, NULL), 0);
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), 0);
  ck_assert_int_eq(sole_woken, 4);
  weft_future_release(g);
  weft_task_release(a);
  weft_future_release(sole_f);
  /* The next future (the cache hands back the last one's memory) starts
   * with no leaf mark: its waiter waits. */
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(weft_future_new(NULL, &sole_f), 0);
    weft_spawn(sole_waiter, NULL, &a);
    weft_yield();
    weft_yield();
    ck_assert_int_eq(weft_future_done(weft_task_future(a)), 0);
    weft_future_set_result(sole_f, NULL);
    ck_assert_int_eq(weft_await(weft_task_future(a), NULL), 0);
    weft_task_release(a);
    weft_future_release(sole_f);
  }
  ck_assert_int_eq(sole_woken, 7);
  return 0;
}

START_TEST(one_worker_sole_waiter_changes) {
  ck_assert_int_eq(run_main(1, sole_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main_order(1, WEFT_ORDER_LOCALITY, sole_main, NULL, NULL), 0);
}
END_TEST

static int self_main(void *arg, void **res) {
  return weft_await(weft_task_future(weft_task_current()), NULL);
}

START_TEST(await_errors) {
  weft_loop_t *loop = make_loop(1);
  weft_future_t *f;
  ck_assert_int_eq(weft_future_new(loop, &f), 0);
  ck_assert_int_eq(weft_await(f, NULL), -EPERM); /* not in a task */
  weft_future_release(f);
  close_clean(loop);
  ck_assert_int_eq(run_main(1, self_main, NULL, NULL), -EDEADLK);
}
END_TEST

/* ---- foreign threads --------------------------------------------------------- */

static void *set_later(void *arg) {
  weft_future_t *f = arg;
  /* This thread is the producer: it completes the future the waiting
   * thread blocks on (no timing involved in the assertion). */
  ck_assert_int_eq(weft_future_set_result(f, (void *)11), 0);
  return NULL;
}

START_TEST(wait_threadsafe) {
  weft_loop_t *loop = make_loop(1);
  weft_future_t *f;
  ck_assert_int_eq(weft_future_new(loop, &f), 0);
  ck_assert_int_eq(weft_future_wait_threadsafe(f, 10 * 1000000, NULL), -ETIMEDOUT);
  pthread_t th;
  pthread_create(&th, NULL, set_later, f);
  void *r;
  ck_assert_int_eq(weft_future_wait_threadsafe(f, -1, &r), 0);
  ck_assert_ptr_eq(r, (void *)11);
  pthread_join(th, NULL);
  ck_assert_int_eq(weft_future_wait_threadsafe(NULL, 0, NULL), -EINVAL);
  weft_future_release(f);
  close_clean(loop);
}
END_TEST

/* ---- unretrieved errors ------------------------------------------------------ */

static int reports;
static char last_report[128];

static void handler(weft_loop_t *loop, const struct weft_exception_context *ctx, void *arg) {
  reports++;
  snprintf(last_report, sizeof last_report, "%s|%d|%s", ctx->message, ctx->error,
           ctx->error_msg ? ctx->error_msg : "");
}

START_TEST(unretrieved_error_is_reported) {
  weft_loop_t *loop = make_loop(1);
  ck_assert_int_eq(weft_loop_set_exception_handler(loop, handler, NULL), 0);
  void *harg = (void *)1;
  ck_assert_ptr_eq(weft_loop_get_exception_handler(loop, &harg), handler);
  ck_assert_ptr_null(harg);
  weft_future_t *f;
  reports = 0;
  ck_assert_int_eq(weft_future_new(loop, &f), 0);
  weft_future_set_error(f, -EIO, "lost");
  weft_future_release(f);
  ck_assert_int_eq(reports, 1);
  ck_assert_str_eq(last_report, "Future exception was never retrieved|-5|lost");
  /* Retrieved, or cancelled: no report. */
  ck_assert_int_eq(weft_future_new(loop, &f), 0);
  weft_future_set_error(f, -EIO, NULL);
  ck_assert_int_eq(weft_future_result(f, NULL), -EIO);
  weft_future_release(f);
  ck_assert_int_eq(weft_future_new(loop, &f), 0);
  weft_future_cancel(f, NULL);
  weft_future_release(f);
  ck_assert_int_eq(reports, 1);
  close_clean(loop);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("future");
  TCase *tc = tcase_create("future");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, states_and_errors);
  tcase_add_test(tc, callbacks_and_waiters_in_registration_order);
  tcase_add_test(tc, many_waiters_each_see_the_result);
  tcase_add_test(tc, cancelling_an_awaiter_cancels_the_future);
  tcase_add_test(tc, cancel_after_completion_wins_unless_uncancelled);
  tcase_add_test(tc, await_timeout);
  tcase_add_test(tc, one_worker_sole_waiter_changes);
  tcase_add_test(tc, await_errors);
  tcase_add_test(tc, wait_threadsafe);
  tcase_add_test(tc, unretrieved_error_is_reported);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
