/* test_wait.c - runtime/wait.c: asyncio.wait's three conditions, done and
 * pending sets, a timeout that cancels nothing and is not an error, the
 * empty set, the caller's cancellation leaving the futures alone, and
 * duplicates, on 1 and 4 workers; asyncio's hops on one worker. */
#include "helpers.h"

#include <errno.h>
#include <stdint.h>

static int sleep_ms_then(void *arg, void **res) {
  intptr_t ms = (intptr_t)arg;
  int rc = weft_sleep_ns(ms * 1000000);
  if (rc) return rc;
  *res = (void *)ms;
  return 0;
}

static weft_task_t *spawn_ms(intptr_t ms) {
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(sleep_ms_then, (void *)ms, &t), 0);
  return t;
}

/* Ends when its event is set: with -EIO if it is the failing one. */
struct gate {
  weft_event_t *e;
  bool fail;
};

static int gated(void *arg, void **res) {
  struct gate *g = arg;
  int rc = weft_event_wait(g->e, -1);
  if (rc) return rc;
  return g->fail ? weft_fail(-EIO, "gated") : 0;
}

static int conditions_main(void *arg, void **res) {
  struct gate gs[3] = {{NULL, false}, {NULL, false}, {NULL, true}};
  weft_task_t *ts[3];
  weft_future_t *fs[3];
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(weft_event_create(&gs[i].e), 0);
    ck_assert_int_eq(weft_spawn(gated, &gs[i], &ts[i]), 0);
    fs[i] = weft_task_future(ts[i]);
  }
  uint8_t done[3];
  /* FIRST_COMPLETED: only the one released can be done. */
  weft_event_set(gs[1].e);
  ck_assert_int_eq(weft_wait(fs, 3, -1, WEFT_FIRST_COMPLETED, done), 1);
  ck_assert(done[1] && !done[0] && !done[2]);
  /* FIRST_EXCEPTION: returns when the failing one fails; the first pending. */
  weft_event_set(gs[2].e);
  ck_assert_int_eq(weft_wait(fs, 3, -1, WEFT_FIRST_EXCEPTION, done), 2);
  ck_assert(done[1] && done[2] && !done[0]);
  ck_assert_int_eq(weft_future_error(fs[2], NULL), -EIO);
  /* ALL_COMPLETED. */
  weft_event_set(gs[0].e);
  ck_assert_int_eq(weft_wait(fs, 3, -1, WEFT_ALL_COMPLETED, done), 3);
  ck_assert(done[0] && done[1] && done[2]);
  /* Everything done already: no suspension, the same answer. */
  ck_assert_int_eq(weft_wait(fs, 3, 0, WEFT_FIRST_COMPLETED, NULL), 3);
  for (int i = 0; i < 3; i++) {
    weft_task_release(ts[i]);
    weft_event_destroy(gs[i].e);
  }
  return 0;
}

START_TEST(three_conditions) {
  ck_assert_int_eq(run_main(1, conditions_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, conditions_main, NULL, NULL), 0);
}
END_TEST

static int first_exception_without_one_main(void *arg, void **res) {
  /* No failure: FIRST_EXCEPTION is ALL_COMPLETED; a cancellation is not one. */
  weft_task_t *a = spawn_ms(2), *b = spawn_ms(200);
  weft_task_cancel(b, NULL);
  weft_future_t *fs[2] = {weft_task_future(a), weft_task_future(b)};
  ck_assert_int_eq(weft_wait(fs, 2, -1, WEFT_FIRST_EXCEPTION, NULL), 2);
  weft_task_release(a);
  weft_task_release(b);
  return 0;
}

START_TEST(first_exception_ignores_cancellation) {
  ck_assert_int_eq(run_main(1, first_exception_without_one_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, first_exception_without_one_main, NULL, NULL), 0);
}
END_TEST

static int timeout_main(void *arg, void **res) {
  weft_future_t *p, *q;
  ck_assert_int_eq(weft_future_new(NULL, &p), 0);
  ck_assert_int_eq(weft_future_new(NULL, &q), 0);
  weft_future_set_result(q, NULL);
  weft_future_t *fs[3] = {p, q, p}; /* duplicates allowed */
  uint8_t done[3];
  uint64_t t0 = weft_now_ns();
  ck_assert_int_eq(weft_wait(fs, 3, 20 * 1000000, WEFT_ALL_COMPLETED, done), 1);
  ck_assert_uint_ge(weft_now_ns() - t0, 20 * 1000000);
  ck_assert(!done[0] && done[1] && !done[2]);
  ck_assert_int_eq(weft_future_done(p), 0); /* nothing cancelled */
  weft_future_set_result(p, NULL);
  ck_assert_int_eq(weft_wait(fs, 3, 0, WEFT_ALL_COMPLETED, done), 3);
  weft_future_release(p);
  weft_future_release(q);
  /* Bad input. */
  ck_assert_int_eq(weft_wait(fs, 0, -1, WEFT_ALL_COMPLETED, NULL), -EINVAL); /* empty set */
  ck_assert_int_eq(weft_wait(NULL, 1, -1, WEFT_ALL_COMPLETED, NULL), -EINVAL);
  ck_assert_int_eq(weft_wait(fs, 1, -1, 9, NULL), -EINVAL);
  return 0;
}

START_TEST(timeout_is_not_an_error_and_cancels_nothing) {
  ck_assert_int_eq(run_main(1, timeout_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, timeout_main, NULL, NULL), 0);
  weft_future_t *f = NULL;
  ck_assert_int_eq(weft_wait(&f, 1, -1, WEFT_ALL_COMPLETED, NULL), -EINVAL);
}
END_TEST

static weft_event_t *waiter_started;

static int waiter(void *arg, void **res) {
  weft_future_t **fs = arg;
  weft_event_set(waiter_started); /* a cancel from here on reaches the wait */
  return weft_wait(fs, 2, -1, WEFT_ALL_COMPLETED, NULL);
}

static int caller_cancelled_main(void *arg, void **res) {
  weft_future_t *p, *q;
  ck_assert_int_eq(weft_future_new(NULL, &p), 0);
  ck_assert_int_eq(weft_future_new(NULL, &q), 0);
  weft_future_t *fs[2] = {p, q};
  ck_assert_int_eq(weft_event_create(&waiter_started), 0);
  weft_task_t *w;
  ck_assert_int_eq(weft_spawn(waiter, fs, &w), 0);
  ck_assert_int_eq(weft_event_wait(waiter_started, -1), 0);
  weft_task_cancel(w, NULL);
  ck_assert_int_eq(weft_await(weft_task_future(w), NULL), -ECANCELED);
  /* asyncio's wait cancels none of the futures. */
  ck_assert_int_eq(weft_future_done(p), 0);
  ck_assert_int_eq(weft_future_done(q), 0);
  weft_future_set_result(p, NULL); /* nothing of the wait is left on them */
  weft_future_set_result(q, NULL);
  weft_task_release(w);
  weft_future_release(p);
  weft_future_release(q);
  weft_event_destroy(waiter_started);
  return 0;
}

/* asyncio's wait always awaits its waiter: a cancellation pending as it
 * begins is delivered even when every future is done already (CPython:
 * `current_task().cancel(); await asyncio.wait([done])` raises
 * CancelledError), on every loop shape. */
static int pending_cancel_main(void *arg, void **res) {
  weft_future_t *f[2];
  futures_new(f, 2, true);
  weft_task_t *me = weft_task_current();
  uint8_t done[2];
  for (int when = WEFT_ALL_COMPLETED; when <= WEFT_FIRST_EXCEPTION; when++) {
    ck_assert_int_eq(weft_task_cancel(me, NULL), 1);
    ck_assert_int_eq(weft_wait(f, 2, -1, when, done), -ECANCELED);
    ck_assert_int_eq(weft_task_uncancel(me), 0);
    ck_assert_int_eq(weft_wait(f, 2, -1, when, done), 2); /* no cancellation left */
  }
  futures_release(f, 2);
  return 0;
}

START_TEST(pending_cancel_is_delivered_with_every_future_done) {
  ck_assert_int_eq(run_main_shape(_i, pending_cancel_main, NULL), 0);
}
END_TEST

START_TEST(cancelling_the_caller_leaves_the_futures) {
  ck_assert_int_eq(run_main(1, caller_cancelled_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, caller_cancelled_main, NULL, NULL), 0);
  ck_assert_int_eq(weft_wait((weft_future_t *[]){NULL}, 1, -1, 0, NULL), -EINVAL);
}
END_TEST

/* asyncio's hops on one worker: each future is looked at in a done
 * callback, a pass after it completes (at once queued for one already
 * done: the wait suspends even then), and the waiter resumes a pass after
 * the callback that satisfies it. CPython 3.13 prints the same traces for
 * the same program (tasks noting a letter a pass). */
static weft_future_t *hop_f[2];
static int hop_when;

static int hop_waiter(void *arg, void **res) {
  ck_assert_int_eq(weft_wait(hop_f, 2, -1, hop_when, NULL), hop_when == WEFT_ALL_COMPLETED ? 2 : 1 + weft_future_done(hop_f[1]));
  pass_note('a');
  return 0;
}

static int hop_main(void *arg, void **res) {
  bool done_first = arg != NULL;
  weft_task_t *ts[2];
  hop_start(hop_f, 2, done_first, hop_waiter, "bcd", ts); /* the waiter waits, the ticker yields */
  if (!done_first) {
    weft_future_set_result(hop_f[0], NULL);
    if (hop_when == WEFT_ALL_COMPLETED) weft_future_set_result(hop_f[1], NULL);
  }
  pass_note_each("xyzw");
  if (!weft_future_done(hop_f[1])) weft_future_set_result(hop_f[1], NULL);
  await_all_ok(ts, 2);
  futures_release(hop_f, 2);
  return 0;
}

START_TEST(one_worker_hops_as_asyncio) {
  for (int w = 0; w < 2; w++) {
    hop_when = w ? WEFT_FIRST_COMPLETED : WEFT_ALL_COMPLETED;
    ck_assert_int_eq(run_main(1, hop_main, NULL, NULL), 0);
    ck_assert_str_eq(pass_trace.s, "xbycazdw");
    ck_assert_int_eq(run_main(1, hop_main, (void *)1, NULL), 0);
    ck_assert_str_eq(pass_trace.s, "xbyaczdw");
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("wait");
  TCase *tc = tcase_create("wait");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, three_conditions);
  tcase_add_test(tc, first_exception_ignores_cancellation);
  tcase_add_test(tc, timeout_is_not_an_error_and_cancels_nothing);
  tcase_add_test(tc, cancelling_the_caller_leaves_the_futures);
  tcase_add_loop_test(tc, pending_cancel_is_delivered_with_every_future_done, 0, LOOP_SHAPES);
  tcase_add_test(tc, one_worker_hops_as_asyncio);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
