/* test_as_completed.c - runtime/as_completed.c: finishing order, the
 * original futures (3.13), futures done at the start in input order, the
 * timeout (already-finished ones first, then one -ETIMEDOUT per future
 * left, nothing cancelled), cancellation of the caller, on 1 and 4 workers;
 * asyncio's hops on one worker, and an iterator freed with a callback queued. */
#include "helpers.h"

#include <errno.h>
#include <stdint.h>

static int sleep_ms(void *arg, void **res) {
  intptr_t ms = (intptr_t)arg;
  int rc = weft_sleep_ns(ms * 1000000);
  *res = (void *)ms;
  return rc;
}

static weft_task_t *spawn_ms(intptr_t ms) {
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(sleep_ms, (void *)ms, &t), 0);
  return t;
}

static int wait_event(void *arg, void **res) {
  int rc = weft_event_wait(arg, -1);
  *res = arg;
  return rc;
}

static int order_main(void *arg, void **res) {
  /* Each task ends when its event is set; they are released in the order
   * 1, 2, 0, one at a time, so that is the finishing order. */
  weft_event_t *es[3];
  weft_task_t *ts[3];
  weft_future_t *fs[4];
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(weft_event_create(&es[i]), 0);
    ck_assert_int_eq(weft_spawn(wait_event, es[i], &ts[i]), 0);
    fs[i] = weft_task_future(ts[i]);
  }
  weft_future_t *p;
  ck_assert_int_eq(weft_future_new(NULL, &p), 0);
  weft_future_set_result(p, (void *)1); /* done at the start: first */
  fs[3] = p;
  weft_as_completed_t *it;
  ck_assert_int_eq(weft_as_completed_new(fs, 4, -1, &it), 0);
  weft_future_t *f;
  ck_assert_int_eq(weft_as_completed_next(it, &f), 0);
  ck_assert_ptr_eq(f, p);
  int release_order[3] = {1, 2, 0};
  for (int k = 0; k < 3; k++) {
    int i = release_order[k];
    weft_event_set(es[i]);
    ck_assert_int_eq(weft_as_completed_next(it, &f), 0);
    ck_assert_ptr_eq(f, fs[i]); /* the original future */
    void *v; /* the plain form: the outcome of the future yielded */
    ck_assert_int_eq(weft_future_result(f, &v), 0);
    ck_assert_ptr_eq(v, es[i]);
  }
  ck_assert_int_eq(weft_as_completed_next(it, &f), 1); /* exhausted */
  weft_as_completed_free(it);
  for (int i = 0; i < 3; i++) {
    weft_task_release(ts[i]);
    weft_event_destroy(es[i]);
  }
  weft_future_release(p);
  return 0;
}

START_TEST(finishing_order) {
  ck_assert_int_eq(run_main(1, order_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, order_main, NULL, NULL), 0);
}
END_TEST

static int timeout_main(void *arg, void **res) {
  weft_task_t *ts[3] = {spawn_ms(0), spawn_ms(2000), spawn_ms(3000)};
  weft_future_t *fs[3] = {weft_task_future(ts[0]), weft_task_future(ts[1]), weft_task_future(ts[2])};
  ck_assert_int_eq(weft_await(fs[0], NULL), 0); /* finished before the iterator starts */
  weft_as_completed_t *it;
  ck_assert_int_eq(weft_as_completed_new(fs, 3, 50 * 1000000, &it), 0);
  weft_future_t *f;
  ck_assert_int_eq(weft_as_completed_next(it, &f), 0);
  ck_assert_ptr_eq(f, fs[0]);
  ck_assert_int_eq(weft_as_completed_next(it, &f), -ETIMEDOUT);
  ck_assert_int_eq(weft_as_completed_next(it, &f), -ETIMEDOUT); /* one per future left */
  ck_assert_int_eq(weft_as_completed_next(it, &f), 1);
  ck_assert_int_eq(weft_future_done(fs[1]), 0); /* nothing was cancelled */
  weft_as_completed_free(it);
  for (int i = 0; i < 3; i++) {
    weft_task_cancel(ts[i], NULL);
    weft_await(fs[i], NULL);
    weft_task_release(ts[i]);
  }
  return 0;
}

START_TEST(timeout_yields_what_finished_then_times_out) {
  ck_assert_int_eq(run_main(1, timeout_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, timeout_main, NULL, NULL), 0);
}
END_TEST

struct next_arg {
  weft_as_completed_t *it;
  weft_event_t *started;
  int rc;
};

static int next_task(void *arg, void **res) {
  struct next_arg *a = arg;
  weft_future_t *f;
  weft_event_set(a->started); /* a cancel from here on reaches next() */
  a->rc = weft_as_completed_next(a->it, &f);
  return 0;
}

static int cancel_main(void *arg, void **res) {
  weft_future_t *p;
  ck_assert_int_eq(weft_future_new(NULL, &p), 0);
  weft_as_completed_t *it;
  ck_assert_int_eq(weft_as_completed_new(&p, 1, -1, &it), 0);
  struct next_arg a = {it, NULL, 1};
  ck_assert_int_eq(weft_event_create(&a.started), 0);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(next_task, &a, &t), 0);
  ck_assert_int_eq(weft_event_wait(a.started, -1), 0);
  weft_task_cancel(t, NULL);
  weft_await(weft_task_future(t), NULL);
  ck_assert_int_eq(a.rc, -ECANCELED);
  ck_assert_int_eq(weft_future_done(p), 0); /* not cancelled */
  weft_future_set_result(p, (void *)3);
  weft_future_t *f;
  ck_assert_int_eq(weft_as_completed_next(it, &f), 0); /* still usable */
  ck_assert_ptr_eq(f, p);
  weft_as_completed_free(it);
  weft_task_release(t);
  weft_event_destroy(a.started);
  weft_future_release(p);
  /* Empty set: exhausted at once; bad input. */
  ck_assert_int_eq(weft_as_completed_new(NULL, 0, -1, &it), 0);
  ck_assert_int_eq(weft_as_completed_next(it, &f), 1);
  weft_as_completed_free(it);
  weft_future_t *nulls[1] = {NULL};
  ck_assert_int_eq(weft_as_completed_new(nulls, 1, -1, &it), -EINVAL);
  ck_assert_int_eq(weft_as_completed_next(NULL, &f), -EINVAL);
  return 0;
}

START_TEST(cancelling_next_leaves_the_iterator_usable) {
  ck_assert_int_eq(run_main(1, cancel_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, cancel_main, NULL, NULL), 0);
}
END_TEST

/* asyncio's next() waits on a queue that done callbacks fill a pass
 * after each completion: a first next() in the slice that made the
 * iterator waits, so a cancellation pending is delivered even when every
 * future was done at the start; once a pass went by (a yield), the queue
 * holds them and next() hands one out without waiting, the cancellation
 * still pending. On every loop shape. */
static int pending_cancel_main(void *arg, void **res) {
  weft_future_t *fs[2], *f;
  futures_new(fs, 2, true);
  weft_task_t *me = weft_task_current();
  weft_as_completed_t *it;
  ck_assert_int_eq(weft_as_completed_new(fs, 2, -1, &it), 0);
  ck_assert_int_eq(weft_task_cancel(me, NULL), 1);
  ck_assert_int_eq(weft_as_completed_next(it, &f), -ECANCELED);
  ck_assert_int_eq(weft_task_uncancel(me), 0);
  ck_assert_int_eq(weft_as_completed_next(it, &f), 0); /* usable after */
  ck_assert_ptr_eq(f, fs[0]);
  weft_as_completed_free(it);
  ck_assert_int_eq(weft_as_completed_new(fs, 2, -1, &it), 0);
  ck_assert_int_eq(weft_yield(), 0);
  ck_assert_int_eq(weft_task_cancel(me, NULL), 1);
  ck_assert_int_eq(weft_as_completed_next(it, &f), 0); /* ready: no wait */
  ck_assert_ptr_eq(f, fs[0]);
  ck_assert_int_eq(weft_yield(), -ECANCELED);
  ck_assert_int_eq(weft_task_uncancel(me), 0);
  weft_as_completed_free(it);
  futures_release(fs, 2);
  return 0;
}

START_TEST(pending_cancel_is_delivered_by_a_first_next) {
  ck_assert_int_eq(run_main_shape(_i, pending_cancel_main, NULL), 0);
}
END_TEST

/* asyncio's hops on one worker: a finished future is put in the
 * iterator's queue by a done callback a pass later (queued at once for one
 * already done), and a task waiting in next() resumes a pass after that.
 * CPython 3.13 prints the same traces for the same program (tasks noting
 * a letter a pass). */
static weft_future_t *hop_f[2];

static int hop_iterator(void *arg, void **res) {
  weft_as_completed_t *it;
  ck_assert_int_eq(weft_as_completed_new(hop_f, 2, -1, &it), 0);
  weft_future_t *f;
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(weft_as_completed_next(it, &f), 0);
    pass_note('a');
  }
  ck_assert_int_eq(weft_as_completed_next(it, &f), 1);
  weft_as_completed_free(it);
  return 0;
}

static int hop_main(void *arg, void **res) {
  bool done_first = arg != NULL;
  weft_task_t *ts[2];
  hop_start(hop_f, 2, done_first, hop_iterator, "bcde", ts);
  if (!done_first) weft_future_set_result(hop_f[0], NULL);
  pass_note_each("xyz");
  if (!weft_future_done(hop_f[1])) weft_future_set_result(hop_f[1], NULL);
  pass_note_each("uvw");
  await_all_ok(ts, 2);
  futures_release(hop_f, 2);
  return 0;
}

/* A next() that must wait with a cancellation pending gives up a pass
 * first, as asyncio's cancelled queue getter (CPython prints "bCcd"). */
static int cancelled_iterator(void *arg, void **res) {
  weft_as_completed_t *it;
  ck_assert_int_eq(weft_as_completed_new(hop_f, 1, -1, &it), 0);
  ck_assert_int_eq(weft_task_cancel(weft_task_current(), NULL), 1);
  weft_future_t *f;
  ck_assert_int_eq(weft_as_completed_next(it, &f), -ECANCELED);
  pass_note('C');
  weft_as_completed_free(it);
  return 0;
}

static int note_each(void *arg, void **res) {
  pass_note_each(arg); /* a letter, then a yield */
  return 0;
}

static int hop_cancel_main(void *arg, void **res) {
  pass_reset();
  futures_new(hop_f, 1, false);
  weft_task_t *ts[2];
  weft_spawn(cancelled_iterator, NULL, &ts[0]);
  weft_spawn(note_each, "bcd", &ts[1]);
  await_all_ok(ts, 2);
  futures_release(hop_f, 1);
  return 0;
}

START_TEST(one_worker_hops_as_asyncio) {
  ck_assert_int_eq(run_main(1, hop_main, NULL, NULL), 0);
  ck_assert_str_eq(pass_trace.s, "xbycazduevaw");
  ck_assert_int_eq(run_main(1, hop_main, (void *)1, NULL), 0);
  ck_assert_str_eq(pass_trace.s, "xbyaaczduevw");
  ck_assert_int_eq(run_main(1, hop_cancel_main, NULL, NULL), 0);
  ck_assert_str_eq(pass_trace.s, "bCcd");
}
END_TEST

/* An iterator freed while a callback that would hand a future out is
 * still queued: the callback appends nothing and frees nothing it should
 * not (ASan). */
static int free_early_main(void *arg, void **res) {
  weft_future_t *f;
  weft_future_new(NULL, &f);
  weft_future_set_result(f, NULL);
  weft_as_completed_t *it;
  ck_assert_int_eq(weft_as_completed_new(&f, 1, -1, &it), 0); /* queues its callback */
  weft_as_completed_free(it);
  weft_yield(); /* the callback runs */
  weft_future_release(f);
  return 0;
}

START_TEST(one_worker_free_before_the_callback) {
  ck_assert_int_eq(run_main(1, free_early_main, NULL, NULL), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("as_completed");
  TCase *tc = tcase_create("as_completed");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, finishing_order);
  tcase_add_test(tc, timeout_yields_what_finished_then_times_out);
  tcase_add_test(tc, cancelling_next_leaves_the_iterator_usable);
  tcase_add_test(tc, one_worker_hops_as_asyncio);
  tcase_add_test(tc, one_worker_free_before_the_callback);
  tcase_add_loop_test(tc, pending_cancel_is_delivered_by_a_first_next, 0, LOOP_SHAPES);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
