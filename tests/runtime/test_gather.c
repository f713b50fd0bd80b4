/* test_gather.c - runtime/gather.c: asyncio.gather's rules (CPython 3.13):
 * input order, the first error at once with the siblings running on,
 * return_exceptions, cancelling the gather, a child cancelled on its own,
 * zero children, duplicates, later errors retrieved, the awaiter's
 * cancellation, plain futures, asyncio's hops on one worker, and a storm
 * on 4 workers. */
#include "helpers.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>

static int value_after(void *arg, void **res) {
  intptr_t v = (intptr_t)arg;
  int rc = weft_sleep_ns((int64_t)(10 - v) * 1000000); /* later inputs finish first */
  if (rc) return rc;
  *res = (void *)(v * 10);
  return 0;
}

static int fail_now(void *arg, void **res) { return weft_fail((int)(intptr_t)arg, "boom"); }

static int wait_event(void *arg, void **res) {
  int rc = weft_event_wait(arg, -1);
  *res = (void *)7;
  return rc;
}

static weft_task_t *spawn(weft_task_fn fn, void *arg) {
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(fn, arg, &t), 0);
  return t;
}

static int order_main(void *arg, void **res) {
  weft_task_t *ts[5];
  weft_future_t *fs[5];
  for (intptr_t i = 0; i < 5; i++) fs[i] = weft_task_future(ts[i] = spawn(value_after, (void *)i));
  struct weft_gather_slot slots[5];
  ck_assert_int_eq(weft_gather(fs, 5, 0, slots), 0);
  for (int i = 0; i < 5; i++) {
    ck_assert_int_eq(slots[i].err, 0);
    ck_assert_ptr_eq(slots[i].result, (void *)(intptr_t)(i * 10)); /* input order */
    weft_task_release(ts[i]);
  }
  return 0;
}

START_TEST(results_in_input_order) {
  ck_assert_int_eq(run_main(1, order_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, order_main, NULL, NULL), 0);
}
END_TEST

static int first_error_main(void *arg, void **res) {
  weft_event_t *e;
  ck_assert_int_eq(weft_event_create(&e), 0);
  weft_task_t *a = spawn(wait_event, e), *b = spawn(fail_now, (void *)(intptr_t)-EIO);
  weft_future_t *fs[] = {weft_task_future(a), weft_task_future(b)};
  struct weft_gather_slot slots[2];
  /* The error comes back at once; a is neither done nor cancelled. */
  ck_assert_int_eq(weft_gather(fs, 2, 0, slots), -EIO);
  ck_assert_int_eq(slots[0].err, WEFT_EINVALSTATE);
  ck_assert_int_eq(slots[1].err, -EIO);
  ck_assert_str_eq(slots[1].msg, "boom");
  ck_assert_int_eq(weft_future_done(weft_task_future(a)), 0);
  ck_assert_int_eq(weft_task_cancelling(a), 0);
  weft_event_set(e);
  void *v;
  ck_assert_int_eq(weft_await(weft_task_future(a), &v), 0);
  ck_assert_ptr_eq(v, (void *)7);
  weft_task_release(a);
  weft_task_release(b);
  weft_event_destroy(e);
  return 0;
}

START_TEST(first_error_returns_at_once_siblings_run_on) {
  ck_assert_int_eq(run_main(1, first_error_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, first_error_main, NULL, NULL), 0);
}
END_TEST

static int return_exceptions_main(void *arg, void **res) {
  weft_event_t *e;
  ck_assert_int_eq(weft_event_create(&e), 0);
  weft_task_t *a = spawn(value_after, (void *)3), *b = spawn(fail_now, (void *)(intptr_t)-EPROTO),
              *c = spawn(wait_event, e);
  ck_assert_int_eq(weft_task_cancel(c, "stop c"), 1); /* cancelled on its own */
  weft_future_t *fs[] = {weft_task_future(a), weft_task_future(b), weft_task_future(c)};
  struct weft_gather_slot slots[3];
  ck_assert_int_eq(weft_gather(fs, 3, WEFT_GATHER_RETURN_EXCEPTIONS, slots), 0);
  ck_assert_int_eq(slots[0].err, 0);
  ck_assert_ptr_eq(slots[0].result, (void *)30);
  ck_assert_int_eq(slots[1].err, -EPROTO);
  ck_assert_str_eq(slots[1].msg, "boom");
  ck_assert_int_eq(slots[2].err, -ECANCELED); /* shows as cancelled in its slot */
  ck_assert_str_eq(slots[2].msg, "stop c");
  weft_task_release(a);
  weft_task_release(b);
  weft_task_release(c);
  weft_event_destroy(e);
  return 0;
}

START_TEST(return_exceptions_fills_every_slot) {
  ck_assert_int_eq(run_main(1, return_exceptions_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, return_exceptions_main, NULL, NULL), 0);
}
END_TEST

static int cancel_gather_main(void *arg, void **res) {
  unsigned flags = (unsigned)(uintptr_t)arg;
  weft_event_t *e;
  ck_assert_int_eq(weft_event_create(&e), 0);
  weft_task_t *a = spawn(wait_event, e), *b = spawn(wait_event, e);
  weft_future_t *p;
  ck_assert_int_eq(weft_future_new(NULL, &p), 0);
  weft_future_t *fs[] = {weft_task_future(a), weft_task_future(b), p};
  weft_future_t *g;
  ck_assert_int_eq(weft_gather_start(fs, 3, flags, &g), 0);
  ck_assert_int_eq(weft_future_cancel(g, "enough"), 1); /* some child accepted */
  const char *msg;
  ck_assert_int_eq(weft_await(g, NULL), -ECANCELED); /* even with return_exceptions */
  ck_assert_int_eq(weft_future_error(g, &msg), -ECANCELED);
  ck_assert_str_eq(msg, "enough");
  ck_assert_int_eq(weft_future_cancelled(p), 1);
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), -ECANCELED);
  ck_assert_int_eq(weft_await(weft_task_future(b), NULL), -ECANCELED);
  ck_assert_int_eq(weft_future_cancel(g, NULL), 0); /* done */
  weft_future_release(g);
  weft_future_release(p);
  weft_task_release(a);
  weft_task_release(b);
  weft_event_destroy(e);
  return 0;
}

START_TEST(cancelling_the_gather_cancels_the_children) {
  for (unsigned w = 1; w <= 4; w += 3) {
    ck_assert_int_eq(run_main(w, cancel_gather_main, (void *)0, NULL), 0);
    ck_assert_int_eq(run_main(w, cancel_gather_main, (void *)WEFT_GATHER_RETURN_EXCEPTIONS, NULL),
                     0);
  }
}
END_TEST

static int child_cancelled_main(void *arg, void **res) {
  weft_event_t *e;
  ck_assert_int_eq(weft_event_create(&e), 0);
  weft_task_t *a = spawn(wait_event, e), *b = spawn(wait_event, e);
  weft_future_t *fs[] = {weft_task_future(a), weft_task_future(b)};
  weft_future_t *g;
  ck_assert_int_eq(weft_gather_start(fs, 2, 0, &g), 0);
  weft_task_cancel(a, NULL);
  ck_assert_int_eq(weft_await(g, NULL), -ECANCELED);
  ck_assert_int_eq(weft_task_cancelling(b), 0); /* no sibling cancelled */
  ck_assert_int_eq(weft_future_done(weft_task_future(b)), 0);
  weft_event_set(e);
  ck_assert_int_eq(weft_await(weft_task_future(b), NULL), 0);
  weft_future_release(g);
  weft_task_release(a);
  weft_task_release(b);
  weft_event_destroy(e);
  return 0;
}

START_TEST(a_child_cancelled_on_its_own_fails_the_gather) {
  ck_assert_int_eq(run_main(1, child_cancelled_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, child_cancelled_main, NULL, NULL), 0);
}
END_TEST

static int edges_main(void *arg, void **res) {
  /* Zero children: done at once, an empty list. */
  weft_future_t *g;
  ck_assert_int_eq(weft_gather_start(NULL, 0, 0, &g), 0);
  ck_assert_int_eq(weft_future_done(g), 1);
  ck_assert_int_eq(weft_future_result(g, NULL), 0);
  ck_assert_int_eq(weft_gather_slots(g, NULL, 0), 0);
  weft_future_release(g);
  ck_assert_int_eq(weft_gather(NULL, 0, 0, NULL), 0);
  /* The same future twice is one child; both slots read it. */
  weft_task_t *t = spawn(value_after, (void *)2);
  weft_future_t *twice[] = {weft_task_future(t), weft_task_future(t)};
  struct weft_gather_slot slots[2];
  ck_assert_int_eq(weft_gather(twice, 2, 0, slots), 0);
  ck_assert_ptr_eq(slots[0].result, (void *)20);
  ck_assert_ptr_eq(slots[1].result, (void *)20);
  weft_task_release(t);
  /* Plain futures, one already done. */
  weft_future_t *p, *q;
  ck_assert_int_eq(weft_future_new(NULL, &p), 0);
  ck_assert_int_eq(weft_future_new(NULL, &q), 0);
  weft_future_set_result(p, (void *)1);
  weft_future_t *plain[] = {p, q};
  ck_assert_int_eq(weft_gather_start(plain, 2, 0, &g), 0);
  ck_assert_int_eq(weft_future_done(g), 0);
  weft_future_set_result(q, (void *)2);
  ck_assert_int_eq(weft_await(g, NULL), 0);
  ck_assert_int_eq(weft_gather_slots(g, slots, 2), 0);
  ck_assert_ptr_eq(slots[1].result, (void *)2);
  ck_assert_int_eq(weft_gather_slots(g, slots, 3), -EINVAL);
  ck_assert_int_eq(weft_gather_slots(p, slots, 2), -EINVAL); /* not a gathering future */
  weft_future_release(g);
  weft_future_release(p);
  weft_future_release(q);
  /* Bad input. */
  weft_future_t *nulls[] = {NULL};
  ck_assert_int_eq(weft_gather_start(nulls, 1, 0, &g), -EINVAL);
  ck_assert_int_eq(weft_gather_start(plain, 2, 0x80, &g), -EINVAL);
  ck_assert_int_eq(weft_gather_start(plain, 2, 0, NULL), -EINVAL);
  return 0;
}

START_TEST(zero_duplicates_plain_futures_bad_input) {
  ck_assert_int_eq(run_main(1, edges_main, NULL, NULL), 0);
  ck_assert_int_eq(weft_gather(NULL, 0, 0, NULL), -EPERM);
}
END_TEST

static _Atomic int reports;
static void count_reports(weft_loop_t *l, const struct weft_exception_context *c, void *a) {
  atomic_fetch_add(&reports, 1);
}

/* Children done before the gather starts (asyncio's done_futs): looked at
 * in input order after the outer future exists, so the first error in
 * input order is the gather's, later ones are retrieved; with every child
 * done the gather is done once started (several workers: looked at
 * inline, counted in one step with the starter's bias), or a pass later
 * (one worker: asyncio's callbacks). */
static int early_main(void *arg, void **res) {
  bool inline_look = arg != NULL;
  weft_loop_set_exception_handler(weft_loop_current(), count_reports, NULL);
  weft_future_t *f[4];
  for (int i = 0; i < 4; i++) ck_assert_int_eq(weft_future_new(NULL, &f[i]), 0);
  weft_future_set_result(f[0], (void *)1);
  weft_future_set_error(f[1], -EIO, "first");
  weft_future_set_error(f[2], -EPERM, "second");
  weft_future_t *g;
  ck_assert_int_eq(weft_gather_start(f, 4, 0, &g), 0); /* f[3] still pending */
  if (inline_look) ck_assert_int_eq(weft_future_done(g), 1); /* rule 1, at once */
  const char *msg = NULL;
  ck_assert_int_eq(weft_await(g, NULL), -EIO);
  ck_assert_int_eq(weft_future_error(g, &msg), -EIO);
  ck_assert_str_eq(msg, "first");
  weft_future_release(g);
  /* return_exceptions, some done, one pending: not done until it is. */
  struct weft_gather_slot slots[4];
  ck_assert_int_eq(weft_gather_start(f, 4, WEFT_GATHER_RETURN_EXCEPTIONS, &g), 0);
  ck_assert_int_eq(weft_sleep(0), 0);
  ck_assert_int_eq(weft_sleep(0), 0);
  ck_assert_int_eq(weft_future_done(g), 0);
  weft_future_set_result(f[3], (void *)4);
  ck_assert_int_eq(weft_await(g, NULL), 0);
  ck_assert_int_eq(weft_gather_slots(g, slots, 4), 0);
  ck_assert_ptr_eq(slots[0].result, (void *)1);
  ck_assert_int_eq(slots[1].err, -EIO);
  ck_assert_int_eq(slots[2].err, -EPERM);
  ck_assert_ptr_eq(slots[3].result, (void *)4);
  weft_future_release(g);
  /* Every child done, a duplicate among them. */
  weft_future_t *dup[] = {f[0], f[3], f[0], f[1]};
  ck_assert_int_eq(weft_gather_start(dup, 4, WEFT_GATHER_RETURN_EXCEPTIONS, &g), 0);
  if (inline_look) ck_assert_int_eq(weft_future_done(g), 1);
  ck_assert_int_eq(weft_await(g, NULL), 0);
  ck_assert_int_eq(weft_gather_slots(g, slots, 4), 0);
  ck_assert_ptr_eq(slots[2].result, (void *)1);
  ck_assert_int_eq(slots[3].err, -EIO);
  weft_future_release(g);
  for (int i = 0; i < 4; i++) weft_future_release(f[i]);
  return 0;
}

static int later_errors_main(void *arg, void **res) {
  weft_loop_set_exception_handler(weft_loop_current(), count_reports, NULL);
  weft_task_t *ts[4];
  weft_future_t *fs[4];
  for (int i = 0; i < 4; i++) fs[i] = weft_task_future(ts[i] = spawn(fail_now, (void *)(intptr_t)-EIO));
  ck_assert_int_eq(weft_gather(fs, 4, 0, NULL), -EIO);
  for (int i = 0; i < 4; i++) weft_await(fs[i], NULL); /* wait for every one to end... */
  for (int i = 0; i < 4; i++) weft_task_release(ts[i]);
  return 0;
}

static int later_errors_unread_main(void *arg, void **res) {
  /* ...and without reading them: the gather marked the later ones retrieved. */
  weft_loop_set_exception_handler(weft_loop_current(), count_reports, NULL);
  weft_task_t *ts[3];
  weft_future_t *fs[3];
  for (int i = 0; i < 3; i++) fs[i] = weft_task_future(ts[i] = spawn(fail_now, (void *)(intptr_t)-EIO));
  weft_future_t *g;
  ck_assert_int_eq(weft_gather_start(fs, 3, 0, &g), 0);
  ck_assert_int_eq(weft_await(g, NULL), -EIO);
  weft_future_t *all;
  ck_assert_int_eq(weft_gather_start(fs, 3, WEFT_GATHER_RETURN_EXCEPTIONS, &all), 0);
  ck_assert_int_eq(weft_await(all, NULL), 0); /* all three are done now */
  weft_future_release(all);
  weft_future_release(g);
  for (int i = 0; i < 3; i++) weft_task_release(ts[i]);
  return 0;
}

START_TEST(children_done_before_the_start) {
  atomic_store(&reports, 0);
  ck_assert_int_eq(run_main(1, early_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(2, early_main, (void *)1, NULL), 0);
  ck_assert_int_eq(run_main(4, early_main, (void *)1, NULL), 0);
  ck_assert_int_eq(atomic_load(&reports), 0); /* every error was retrieved */
}
END_TEST

START_TEST(later_errors_are_retrieved) {
  for (unsigned w = 1; w <= 4; w += 3) {
    atomic_store(&reports, 0);
    ck_assert_int_eq(run_main(w, later_errors_main, NULL, NULL), 0);
    ck_assert_int_eq(run_main(w, later_errors_unread_main, NULL, NULL), 0);
    ck_assert_int_eq(atomic_load(&reports), 0);
  }
}
END_TEST

struct gatherer_arg {
  weft_future_t **fs;
  weft_event_t *started;
};

static int gatherer(void *arg, void **res) {
  struct gatherer_arg *g = arg;
  weft_event_set(g->started); /* a cancel from here on reaches the gather */
  return weft_gather(g->fs, 2, 0, NULL);
}

static int awaiter_cancelled_main(void *arg, void **res) {
  weft_event_t *e;
  ck_assert_int_eq(weft_event_create(&e), 0);
  weft_task_t *a = spawn(wait_event, e), *b = spawn(wait_event, e);
  weft_future_t *fs[] = {weft_task_future(a), weft_task_future(b)};
  struct gatherer_arg ga = {fs, NULL};
  ck_assert_int_eq(weft_event_create(&ga.started), 0);
  weft_task_t *gt = spawn(gatherer, &ga);
  ck_assert_int_eq(weft_event_wait(ga.started, -1), 0);
  ck_assert_int_eq(weft_task_cancel(gt, NULL), 1);
  ck_assert_int_eq(weft_await(weft_task_future(gt), NULL), -ECANCELED);
  /* Cancelling the task awaiting the gather cancelled the children. */
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), -ECANCELED);
  ck_assert_int_eq(weft_await(weft_task_future(b), NULL), -ECANCELED);
  weft_task_release(gt);
  weft_task_release(a);
  weft_task_release(b);
  weft_event_destroy(e);
  weft_event_destroy(ga.started);
  return 0;
}

START_TEST(cancelling_the_awaiter_cancels_the_children) {
  ck_assert_int_eq(run_main(1, awaiter_cancelled_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, awaiter_cancelled_main, NULL, NULL), 0);
}
END_TEST

/* ---- storm: thousands of children, random failures and cancellations ----------- */

static int storm_child(void *arg, void **res) {
  uintptr_t k = (uintptr_t)arg;
  if (k % 3 == 0) weft_yield();
  if (k % 7 == 0) return weft_fail(-EIO, "child %lu", (unsigned long)k);
  *res = (void *)k;
  return 0;
}

struct storm {
  weft_task_t **ts;
  size_t n;
};

static int storm_canceller(void *arg, void **res) {
  struct storm *s = arg;
  for (size_t i = 5; i < s->n; i += 11) weft_task_cancel(s->ts[i], NULL);
  return 0;
}

static void *foreign_canceller(void *arg) {
  struct storm *s = arg;
  for (size_t i = 2; i < s->n; i += 13) weft_task_cancel(s->ts[i], NULL);
  return NULL;
}

static int storm_main(void *arg, void **res) {
  size_t n = (size_t)scaled(4000);
  struct storm s = {calloc(n, sizeof(weft_task_t *)), n};
  weft_future_t **fs = calloc(n, sizeof *fs);
  struct weft_gather_slot *slots = calloc(n, sizeof *slots);
  for (size_t i = 0; i < n; i++) fs[i] = weft_task_future(s.ts[i] = spawn(storm_child, (void *)i));
  weft_future_t *g;
  ck_assert_int_eq(weft_gather_start(fs, n, WEFT_GATHER_RETURN_EXCEPTIONS, &g), 0);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, foreign_canceller, &s), 0);
  weft_task_t *c = spawn(storm_canceller, &s);
  ck_assert_int_eq(weft_await(g, NULL), 0);
  pthread_join(th, NULL);
  ck_assert_int_eq(weft_gather_slots(g, slots, n), 0);
  for (size_t i = 0; i < n; i++) {
    /* Every slot holds its own child's one outcome, whatever won. */
    int own = weft_future_result(fs[i], NULL);
    ck_assert_int_eq(slots[i].err, own);
    if (own == 0) ck_assert_ptr_eq(slots[i].result, (void *)i);
    else ck_assert(own == -EIO || own == -ECANCELED);
  }
  weft_await(weft_task_future(c), NULL);
  weft_task_release(c);
  weft_future_release(g);
  for (size_t i = 0; i < n; i++) weft_task_release(s.ts[i]);
  free(s.ts);
  free(fs);
  free(slots);
  return 0;
}

/* asyncio's hops on one worker: a child is looked at in its done callback,
 * a pass after it completes (at once queued for a child already done), and
 * the awaiter resumes a pass after the outer future completes. Two tasks
 * note a letter a pass: the gatherer's 'a' lands where asyncio's does. */
static weft_future_t *hop_f[2];

static int hop_gatherer(void *arg, void **res) {
  struct weft_gather_slot slots[2];
  ck_assert_int_eq(weft_gather(hop_f, 2, 0, slots), 0);
  pass_note('a');
  return 0;
}

static int hop_main(void *arg, void **res) {
  bool done_first = arg != NULL;
  weft_task_t *ts[2];
  hop_start(hop_f, 2, done_first, hop_gatherer, "bcd", ts); /* the gatherer gathers, the ticker yields */
  if (!done_first)
    for (int i = 0; i < 2; i++) weft_future_set_result(hop_f[i], NULL);
  pass_note_each("xyzw");
  await_all_ok(ts, 2);
  futures_release(hop_f, 2);
  return 0;
}

START_TEST(one_worker_hops_as_asyncio) {
  /* CPython 3.13 prints these (tests/order: "S 1 S 2 Y F 0 F 1 ..." and
   * "F 0 F 1 S 1 S 2 Y ..."). */
  ck_assert_int_eq(run_main(1, hop_main, NULL, NULL), 0);
  ck_assert_str_eq(pass_trace.s, "xbycazdw");
  ck_assert_int_eq(run_main(1, hop_main, (void *)1, NULL), 0);
  ck_assert_str_eq(pass_trace.s, "xbyaczdw");
}
END_TEST

/* asyncio's gathering future of children is not done when gather()
 * returns (its looks are done callbacks), so awaiting it suspends: a
 * cancellation pending is delivered even when every child is done
 * already; gather() of nothing is done at once and delivers nothing. On
 * every loop shape. */
static int pending_cancel_main(void *arg, void **res) {
  weft_future_t *f[2];
  futures_new(f, 2, true);
  weft_task_t *me = weft_task_current();
  struct weft_gather_slot slots[2];
  ck_assert_int_eq(weft_task_cancel(me, NULL), 1);
  ck_assert_int_eq(weft_gather(f, 2, 0, slots), -ECANCELED);
  ck_assert_int_eq(slots[0].err, 0); /* the children are left as they were */
  ck_assert_int_eq(weft_task_uncancel(me), 0);
  ck_assert_int_eq(weft_gather(f, 2, 0, slots), 0);
  ck_assert_int_eq(weft_task_cancel(me, NULL), 1);
  ck_assert_int_eq(weft_gather(NULL, 0, 0, NULL), 0); /* done at once */
  ck_assert_int_eq(weft_yield(), -ECANCELED);         /* still pending: delivered here */
  ck_assert_int_eq(weft_task_uncancel(me), 0);
  futures_release(f, 2);
  return 0;
}

START_TEST(pending_cancel_is_delivered_with_every_child_done) {
  ck_assert_int_eq(run_main_shape(_i, pending_cancel_main, NULL), 0);
}
END_TEST

START_TEST(storm_on_four_workers) {
  for (int i = 0; i < 5; i++) ck_assert_int_eq(run_main(4, storm_main, NULL, NULL), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("gather");
  TCase *tc = tcase_create("gather");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, results_in_input_order);
  tcase_add_test(tc, first_error_returns_at_once_siblings_run_on);
  tcase_add_test(tc, return_exceptions_fills_every_slot);
  tcase_add_test(tc, cancelling_the_gather_cancels_the_children);
  tcase_add_test(tc, a_child_cancelled_on_its_own_fails_the_gather);
  tcase_add_test(tc, zero_duplicates_plain_futures_bad_input);
  tcase_add_test(tc, later_errors_are_retrieved);
  tcase_add_test(tc, children_done_before_the_start);
  tcase_add_test(tc, cancelling_the_awaiter_cancels_the_children);
  tcase_add_test(tc, one_worker_hops_as_asyncio);
  tcase_add_test(tc, storm_on_four_workers);
  tcase_add_loop_test(tc, pending_cancel_is_delivered_with_every_child_done, 0, LOOP_SHAPES);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
