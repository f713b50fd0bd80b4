/* test_taskgroup.c - runtime/taskgroup.c: asyncio.TaskGroup (CPython 3.13):
 * the first failure cancels the siblings and the owner and is reported in
 * the error list (asyncio's order, compared with CPython's output), an
 * outside cancel of the owner is re-raised, not swallowed, no child
 * outlives the group, spawning into a group that shuts down or finished is
 * refused, the group-level cancel ends it cleanly, the body's own error,
 * the interplay with timeout scopes, asyncio's hops on one worker, a
 * storm on 4 workers, and children spawning into the group while its
 * owner waits to leave. */
#include "helpers.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "taskgroup.h"

#define MS (1000 * 1000LL)

static char trace[256];
static weft_lock_t *trace_lock; /* 4 workers write it */

static void note(const char *s) {
  weft_lock_acquire(trace_lock, -1);
  if (trace[0]) strncat(trace, " | ", sizeof trace - strlen(trace) - 1);
  strncat(trace, s, sizeof trace - strlen(trace) - 1);
  weft_lock_release(trace_lock);
}

struct child {
  const char *name;
  int64_t delay_ms;
  bool fail;
};

static int child(void *arg, void **res) {
  struct child *c = arg;
  char buf[48];
  snprintf(buf, sizeof buf, "start %s", c->name);
  note(buf);
  if (weft_sleep_ns(c->delay_ms * MS) == -ECANCELED) {
    snprintf(buf, sizeof buf, "cancelled %s", c->name);
    note(buf);
    return -ECANCELED;
  }
  if (c->fail) return weft_fail(-EINVAL, "%s", c->name);
  snprintf(buf, sizeof buf, "end %s", c->name);
  note(buf);
  return 0;
}

static struct weft_task_opts named(const char *name) {
  struct weft_task_opts o;
  weft_task_opts_init(&o);
  o.name = name;
  return o;
}

static int failure_main(void *arg, void **res) {
  trace[0] = 0;
  ck_assert_int_eq(weft_lock_create(&trace_lock), 0);
  struct child a = {"a", 10, false}, b = {"b", 20, true}, c = {"c", 60000, false};
  weft_taskgroup_t *g;
  ck_assert_int_eq(weft_taskgroup_enter(&g), 0);
  struct weft_task_opts oa = named("a"), ob = named("b"), oc = named("c");
  ck_assert_int_eq(weft_taskgroup_spawn(g, child, &a, &oa, NULL), 0);
  ck_assert_int_eq(weft_taskgroup_spawn(g, child, &b, &ob, NULL), 0);
  ck_assert_int_eq(weft_taskgroup_spawn(g, child, &c, &oc, NULL), 0);
  note("body");
  int rc = weft_sleep(1);
  if (rc == -ECANCELED) note("body cancelled");
  rc = weft_taskgroup_leave(g, rc);
  ck_assert_int_eq(rc, WEFT_EGROUP);
  const struct weft_task_error *errs;
  size_t n;
  ck_assert_int_eq(weft_taskgroup_errors(g, &errs, &n), 0);
  ck_assert_uint_eq(n, 1);
  ck_assert_int_eq(errs[0].err, -EINVAL);
  ck_assert_str_eq(errs[0].msg, "b");
  ck_assert_str_eq(errs[0].task_name, "b");
  note("errors b");
  char buf[32];
  snprintf(buf, sizeof buf, "cancelling %d", weft_task_cancelling(weft_task_current()));
  note(buf);
  ck_assert_int_eq(weft_taskgroup_spawn(g, child, &a, NULL, NULL), WEFT_ECLOSED); /* finished */
  ck_assert_int_eq(weft_taskgroup_destroy(g), 0);
  weft_lock_destroy(trace_lock);
  return 0;
}

START_TEST(first_failure_cancels_siblings_and_owner) {
  /* CPython 3.11-3.13 prints, for the same program (tests/runtime notes):
   * body | start a | start b | start c | end a | cancelled c | body cancelled
   * | errors b | cancelling 0
   * c sleeps a minute, not the 50 ms it once did: with four workers on a
   * loaded host, b's worker descheduled for 30 ms let c end before b's
   * failure cancelled it (CPython prints the same for either). */
  ck_assert_int_eq(run_main(1, failure_main, NULL, NULL), 0);
  ck_assert_str_eq(trace, "body | start a | start b | start c | end a | cancelled c | body cancelled"
                          " | errors b | cancelling 0");
  ck_assert_int_eq(run_main(4, failure_main, NULL, NULL), 0);
  ck_assert_ptr_nonnull(strstr(trace, "cancelled c"));
  ck_assert_ptr_nonnull(strstr(trace, "errors b | cancelling 0"));
}
END_TEST

static int fails_now(void *arg, void **res) { return weft_fail((int)(intptr_t)arg, "now"); }

static int several_errors_main(void *arg, void **res) {
  weft_taskgroup_t *g;
  ck_assert_int_eq(weft_taskgroup_enter(&g), 0);
  ck_assert_int_eq(weft_taskgroup_spawn(g, fails_now, (void *)(intptr_t)-EIO, NULL, NULL), 0);
  /* With several workers the first child may already have run on another
   * one and failed, so the group is shutting down and refuses the second
   * (asyncio's RuntimeError from create_task on an aborting group). */
  int second = weft_taskgroup_spawn(g, fails_now, (void *)(intptr_t)-EPIPE, NULL, NULL);
  if (weft_loop_workers(weft_loop_current()) == 1) ck_assert_int_eq(second, 0);
  else ck_assert(second == 0 || second == WEFT_ESHUTDOWN);
  /* With one worker both run and fail in one pass, before the first one's
   * done callback aborts the group (asyncio's order); with several, the
   * second may be cancelled first. The body's own error comes last. */
  weft_yield();
  int rc = weft_taskgroup_leave(g, weft_fail(-ENOENT, "body"));
  ck_assert_int_eq(rc, WEFT_EGROUP);
  const struct weft_task_error *errs;
  size_t n;
  weft_taskgroup_errors(g, &errs, &n);
  if (weft_loop_workers(weft_loop_current()) == 1) ck_assert_uint_eq(n, 3);
  ck_assert(n >= 2);
  for (size_t i = 0; i + 1 < n; i++) {
    ck_assert(errs[i].err == -EIO || errs[i].err == -EPIPE);
    ck_assert_str_eq(errs[i].msg, "now");
    ck_assert_uint_ne(errs[i].task_id, 0);
  }
  ck_assert_int_eq(errs[n - 1].err, -ENOENT);
  ck_assert_str_eq(errs[n - 1].msg, "body");
  ck_assert_str_eq(errs[n - 1].task_name, "");
  ck_assert_uint_eq(errs[n - 1].task_id, 0);
  /* A body that fails before the children ran cancels them before their
   * first step: only its own error (asyncio does the same). */
  weft_taskgroup_t *g2;
  ck_assert_int_eq(weft_taskgroup_enter(&g2), 0);
  ck_assert_int_eq(weft_taskgroup_spawn(g2, fails_now, (void *)(intptr_t)-EIO, NULL, NULL), 0);
  ck_assert_int_eq(weft_taskgroup_leave(g2, -ENOENT), WEFT_EGROUP);
  weft_taskgroup_errors(g2, &errs, &n);
  if (weft_loop_workers(weft_loop_current()) == 1) ck_assert_uint_eq(n, 1);
  ck_assert_int_eq(errs[n - 1].err, -ENOENT);
  ck_assert_int_eq(weft_taskgroup_destroy(g2), 0);
  /* Each group withdrew its own request as it left (rule 3). */
  ck_assert_int_eq(weft_task_cancelling(weft_task_current()), 0);
  ck_assert_int_eq(weft_taskgroup_destroy(g), 0);
  return 0;
}

static _Atomic int reports;
static void count_reports(weft_loop_t *l, const struct weft_exception_context *c, void *a) {
  atomic_fetch_add(&reports, 1);
}

START_TEST(every_failure_is_listed_and_retrieved) {
  for (unsigned w = 1; w <= 4; w += 3) {
    atomic_store(&reports, 0);
    weft_loop_t *loop = make_loop(w);
    weft_loop_set_exception_handler(loop, count_reports, NULL);
    weft_task_t *t;
    ck_assert_int_eq(weft_spawn_opts(loop, several_errors_main, NULL, NULL, &t), 0);
    ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), NULL), 0);
    weft_task_release(t);
    close_clean(loop);
    ck_assert_int_eq(atomic_load(&reports), 0); /* no "never retrieved" */
  }
}
END_TEST

static _Atomic int ended_late;

static int ignores_cancel(void *arg, void **res) {
  weft_event_set(arg);
  if (weft_sleep(1) == -ECANCELED) weft_sleep_ns(10 * MS); /* cleans up for a while */
  atomic_store(&ended_late, 1);
  return 0;
}

struct owner_arg {
  weft_event_t *running;
  int rc;
  int cancelling;
  bool in_leave;
};

static int owner(void *arg, void **res) {
  struct owner_arg *o = arg;
  weft_taskgroup_t *g;
  ck_assert_int_eq(weft_taskgroup_enter(&g), 0);
  ck_assert_int_eq(weft_taskgroup_spawn(g, ignores_cancel, o->running, NULL, NULL), 0);
  int rc = o->in_leave ? 0 : weft_sleep(1);
  o->rc = weft_taskgroup_leave(g, rc);
  /* No child outlives the group, also one that takes its time to end. */
  ck_assert_int_eq(atomic_load(&ended_late), 1);
  o->cancelling = weft_task_cancelling(weft_task_current());
  ck_assert_int_eq(weft_taskgroup_spawn(g, ignores_cancel, o->running, NULL, NULL), WEFT_ECLOSED);
  ck_assert_int_eq(weft_taskgroup_destroy(g), 0);
  return 0;
}

static int outside_cancel_main(void *arg, void **res) {
  for (int in_leave = 0; in_leave <= 1; in_leave++) {
    atomic_store(&ended_late, 0);
    struct owner_arg o = {.rc = 1, .in_leave = in_leave};
    ck_assert_int_eq(weft_event_create(&o.running), 0);
    weft_task_t *t;
    ck_assert_int_eq(weft_spawn(owner, &o, &t), 0);
    /* The owner is in its body or in leave, or about to be: a cancel that
     * comes first waits for that suspension point, the same path. */
    ck_assert_int_eq(weft_event_wait(o.running, -1), 0);
    ck_assert_int_eq(weft_task_cancel(t, NULL), 1);
    weft_await(weft_task_future(t), NULL);
    ck_assert_int_eq(o.rc, -ECANCELED); /* re-raised, not swallowed */
    ck_assert_int_eq(o.cancelling, 1);  /* the outside request stands */
    weft_task_release(t);
    weft_event_destroy(o.running);
  }
  return 0;
}

START_TEST(outside_cancel_of_the_owner_is_reraised) {
  ck_assert_int_eq(run_main(1, outside_cancel_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, outside_cancel_main, NULL, NULL), 0);
}
END_TEST

static int sleeper(void *arg, void **res) { return weft_sleep(1); }

/* Before or after the owner reached its sleep: a pending cancellation is
 * delivered there either way. */
static int canceller_child(void *arg, void **res) {
  return weft_taskgroup_cancel(arg);
}

static int group_cancel_main(void *arg, void **res) {
  weft_taskgroup_t *g;
  ck_assert_int_eq(weft_taskgroup_enter(&g), 0);
  weft_task_t *s;
  ck_assert_int_eq(weft_taskgroup_spawn(g, sleeper, NULL, NULL, &s), 0);
  ck_assert_int_eq(weft_taskgroup_spawn(g, canceller_child, g, NULL, NULL), 0);
  int rc = weft_sleep(1); /* cancelled by the group */
  ck_assert_int_eq(rc, -ECANCELED);
  ck_assert_int_eq(weft_taskgroup_spawn(g, sleeper, NULL, NULL, NULL), WEFT_ESHUTDOWN);
  ck_assert_int_eq(weft_taskgroup_leave(g, rc), 0); /* ends cleanly */
  ck_assert_int_eq(weft_future_cancelled(weft_task_future(s)), 1);
  ck_assert_int_eq(weft_task_cancelling(weft_task_current()), 0);
  ck_assert_int_eq(weft_taskgroup_cancel(g), 0); /* idempotent after it finished */
  weft_task_release(s);
  ck_assert_int_eq(weft_taskgroup_destroy(g), 0);
  /* Cancelled before anything ran, from the body itself. */
  ck_assert_int_eq(weft_taskgroup_enter(&g), 0);
  ck_assert_int_eq(weft_taskgroup_spawn(g, sleeper, NULL, NULL, NULL), 0);
  ck_assert_int_eq(weft_taskgroup_cancel(g), 0);
  ck_assert_int_eq(weft_taskgroup_leave(g, weft_yield()), 0);
  ck_assert_int_eq(weft_taskgroup_destroy(g), 0);
  ck_assert_int_eq(weft_yield(), 0); /* nothing left pending on the owner */
  return 0;
}

START_TEST(group_cancel_ends_the_group_cleanly) {
  ck_assert_int_eq(run_main(1, group_cancel_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, group_cancel_main, NULL, NULL), 0);
}
END_TEST

static int timeout_main(void *arg, void **res) {
  /* A timeout scope around a group: the expiry cancels the owner, the group
   * cancels its children and re-raises, the scope turns it into -ETIMEDOUT. */
  struct weft_timeout t;
  ck_assert_int_eq(weft_timeout_enter(&t, 5 * MS), 0);
  weft_taskgroup_t *g;
  ck_assert_int_eq(weft_taskgroup_enter(&g), 0);
  weft_task_t *s;
  ck_assert_int_eq(weft_taskgroup_spawn(g, sleeper, NULL, NULL, &s), 0);
  int rc = weft_taskgroup_leave(g, weft_sleep(1));
  ck_assert_int_eq(rc, -ECANCELED);
  ck_assert_int_eq(weft_timeout_leave(&t, rc), -ETIMEDOUT);
  ck_assert_int_eq(weft_future_cancelled(weft_task_future(s)), 1);
  weft_task_release(s);
  ck_assert_int_eq(weft_taskgroup_destroy(g), 0);
  /* Errors and misuse. */
  ck_assert_int_eq(weft_taskgroup_enter(NULL), -EINVAL);
  ck_assert_int_eq(weft_taskgroup_enter(&g), 0);
  ck_assert_int_eq(weft_taskgroup_destroy(g), -EBUSY); /* not left */
  ck_assert_int_eq(weft_taskgroup_leave(g, 0), 0);
  ck_assert_int_eq(weft_taskgroup_leave(g, 0), WEFT_EINVALSTATE);
  ck_assert_int_eq(weft_taskgroup_destroy(g), 0);
  return 0;
}

START_TEST(timeout_scope_around_a_group) {
  ck_assert_int_eq(run_main(1, timeout_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, timeout_main, NULL, NULL), 0);
  weft_taskgroup_t *g;
  ck_assert_int_eq(weft_taskgroup_enter(&g), -EPERM);
}
END_TEST

/* ---- storm --------------------------------------------------------------------- */

static _Atomic long storm_failed;

static int storm_child(void *arg, void **res) {
  uintptr_t k = (uintptr_t)arg;
  if (k % 3 == 0) weft_yield();
  if (k == 777) {
    atomic_fetch_add(&storm_failed, 1);
    return weft_fail(-EIO, "child %lu", (unsigned long)k);
  }
  return weft_sleep_ns((int64_t)(k % 5) * 100000);
}

struct storm {
  weft_task_t **ts;
  size_t n;
};

static void *foreign_cancel(void *arg) {
  struct storm *s = arg;
  for (size_t i = 1; i < s->n; i += 17) weft_task_cancel(s->ts[i], NULL);
  return NULL;
}

static int storm_main(void *arg, void **res) {
  size_t n = (size_t)scaled(3000);
  struct storm s = {calloc(n, sizeof(weft_task_t *)), n};
  weft_taskgroup_t *g;
  ck_assert_int_eq(weft_taskgroup_enter(&g), 0);
  atomic_store(&storm_failed, 0);
  for (size_t i = 0; i < n; i++) {
    int rc = weft_taskgroup_spawn(g, storm_child, (void *)i, NULL, &s.ts[i]);
    if (rc == WEFT_ESHUTDOWN) break; /* child 777 failed already */
    ck_assert_int_eq(rc, 0);
  }
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, foreign_cancel, &s), 0);
  int rc = weft_taskgroup_leave(g, weft_sleep_ns(MS));
  pthread_join(th, NULL);
  const struct weft_task_error *errs;
  size_t nerr;
  weft_taskgroup_errors(g, &errs, &nerr);
  /* Nothing lost, nothing twice: exactly the failures that happened. */
  ck_assert_uint_eq(nerr, (size_t)atomic_load(&storm_failed));
  ck_assert_int_eq(rc, nerr ? WEFT_EGROUP : 0);
  for (size_t i = 0; i < n && s.ts[i]; i++) {
    ck_assert_int_eq(weft_future_done(weft_task_future(s.ts[i])), 1);
    weft_task_release(s.ts[i]);
  }
  /* The group's own cancel request was withdrawn as it left (rule 3): no
   * request outlives the group. */
  ck_assert_int_eq(weft_task_cancelling(weft_task_current()), 0);
  ck_assert_int_eq(weft_taskgroup_destroy(g), 0);
  free(s.ts);
  return 0;
}

/* ---- a failure racing the owner's leave ------------------------------------ */

/* The owner may reach leave while a child fails on another worker. asyncio
 * counts the child out and cancels the owner in one step (_on_task_done),
 * so the owner either sees the cancel in leave (and withdraws it) or not at
 * all: never a cancel request arriving after it left, which would cancel
 * whatever it awaits next. */
static int failure_race_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  long n = scaled(3000);
  for (long i = 0; i < n; i++) {
    weft_taskgroup_t *g;
    ck_assert_int_eq(weft_taskgroup_enter(&g), 0);
    ck_assert_int_eq(weft_taskgroup_spawn(g, fails_now, (void *)(intptr_t)-EIO, NULL, NULL), 0);
    if (i % 2) weft_yield(); /* vary who gets there first */
    ck_assert_int_eq(weft_taskgroup_leave(g, 0), WEFT_EGROUP);
    ck_assert_int_eq(weft_taskgroup_destroy(g), 0);
    ck_assert_int_eq(weft_task_cancelling(weft_task_current()), 0);
    ck_assert_int_eq(weft_sleep(0), 0); /* no cancel left pending for the next await */
  }
  return 0;
}

START_TEST(failure_racing_leave_leaves_no_cancel) {
  ck_assert_int_eq(run_main(4, failure_race_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(1, failure_race_main, NULL, NULL), 0);
}
END_TEST

/* Close with an owner waiting in leave and a child that fails as close
 * cancels it: the failed child is counted out by its abort callback, which
 * must still run while the loop closes, or close would wait forever. */
static int fail_when_cancelled(void *arg, void **res) {
  (void)arg;
  (void)res;
  weft_sleep(3600);
  return -EIO; /* a failure, not a cancellation */
}

static _Atomic int closing_owner_rc = 1;

static int closing_owner(void *arg, void **res) {
  (void)res;
  weft_taskgroup_t *g;
  ck_assert_int_eq(weft_taskgroup_enter(&g), 0);
  ck_assert_int_eq(weft_taskgroup_spawn(g, fail_when_cancelled, NULL, NULL, NULL), 0);
  weft_event_set(arg);
  int rc = weft_taskgroup_leave(g, weft_sleep(3600)); /* close cancels the body */
  atomic_store(&closing_owner_rc, rc);
  ck_assert_int_eq(weft_taskgroup_destroy(g), 0);
  return 0; /* rc checked by the test; not an unretrieved error at close */
}

static int start_closing_owner(void *arg, void **res) {
  (void)arg;
  (void)res;
  weft_event_t *ready;
  ck_assert_int_eq(weft_event_create(&ready), 0);
  ck_assert_int_eq(weft_spawn(closing_owner, ready, NULL), 0);
  ck_assert_int_eq(weft_event_wait(ready, -1), 0);
  weft_yield(); /* let the child start its sleep */
  weft_event_destroy(ready);
  return 0;
}

START_TEST(close_with_a_child_failing_under_cancel) {
  for (unsigned workers = 1; workers <= 4; workers += 3) {
    atomic_store(&closing_owner_rc, 1);
    weft_loop_t *loop = make_loop(workers);
    weft_task_t *m;
    ck_assert_int_eq(weft_spawn_opts(loop, start_closing_owner, NULL, NULL, &m), 0);
    ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(m), NULL), 0);
    weft_task_release(m);
    close_clean(loop); /* returns: the owner's leave finished */
    ck_assert_int_eq(atomic_load(&closing_owner_rc), WEFT_EGROUP); /* errors before cancellation */
  }
}
END_TEST

START_TEST(storm_on_four_workers) {
  for (int i = 0; i < 5; i++) ck_assert_int_eq(run_main(4, storm_main, NULL, NULL), 0);
}
END_TEST

/* ---- children spawning while the owner waits in leave ------------------------ */

/* The owner leaves at once while its children keep spawning grandchildren
 * into the group (asyncio allows it until the group is done), and a task
 * outside the group keeps trying spawns that fail after being counted in
 * (an invalid stack size) and are counted out again: leave returns only
 * after every descendant ended, and it does return (no wake-up lost
 * between the spawners' counts and the entries'). */
enum { TREE_DEPTH = 6, TREE_ROOTS = 8 };

struct tree {
  weft_taskgroup_t *g;
  _Atomic long ended;
};

struct tree_node {
  struct tree *tree;
  int depth;
};

static int tree_child(void *arg, void **res) {
  (void)res;
  struct tree_node *nd = arg;
  struct tree *tr = nd->tree;
  int depth = nd->depth;
  free(nd);
  if (depth % 2) weft_yield();
  for (int i = 0; depth > 0 && i < 2; i++) {
    struct tree_node *kid = malloc(sizeof *kid);
    ck_assert_ptr_nonnull(kid);
    *kid = (struct tree_node){tr, depth - 1};
    ck_assert_int_eq(weft_taskgroup_spawn(tr->g, tree_child, kid, NULL, NULL), 0);
  }
  atomic_fetch_add(&tr->ended, 1);
  return 0;
}

static int failing_spawner(void *arg, void **res) {
  (void)res;
  struct tree *tr = arg;
  struct weft_task_opts bad;
  weft_task_opts_init(&bad);
  bad.stack_size = 1; /* below the minimum: the spawn fails after the count */
  for (;;) {
    int rc = weft_taskgroup_spawn(tr->g, tree_child, NULL, &bad, NULL);
    if (rc == WEFT_ECLOSED) return 0; /* the group is done */
    ck_assert_int_eq(rc, -EINVAL);
    weft_yield();
  }
}

static int tree_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  const long per_root = (2L << TREE_DEPTH) - 1; /* a full binary tree's nodes */
  for (long round = 0; round < scaled(40); round++) {
    struct tree tr = {.ended = 0};
    ck_assert_int_eq(weft_taskgroup_enter(&tr.g), 0);
    weft_task_t *stranger;
    ck_assert_int_eq(weft_spawn(failing_spawner, &tr, &stranger), 0);
    for (int i = 0; i < TREE_ROOTS; i++) {
      struct tree_node *nd = malloc(sizeof *nd);
      ck_assert_ptr_nonnull(nd);
      *nd = (struct tree_node){&tr, TREE_DEPTH};
      ck_assert_int_eq(weft_taskgroup_spawn(tr.g, tree_child, nd, NULL, NULL), 0);
    }
    ck_assert_int_eq(weft_taskgroup_leave(tr.g, 0), 0);
    ck_assert_int_eq(atomic_load(&tr.ended), TREE_ROOTS * per_root);
    ck_assert_int_eq(weft_await(weft_task_future(stranger), NULL), 0);
    weft_task_release(stranger);
    ck_assert_int_eq(weft_taskgroup_spawn(tr.g, tree_child, NULL, NULL, NULL), WEFT_ECLOSED);
    ck_assert_int_eq(weft_taskgroup_destroy(tr.g), 0);
  }
  return 0;
}

START_TEST(children_spawn_while_the_owner_leaves) {
  ck_assert_int_eq(run_main(4, tree_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(2, tree_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(1, tree_main, NULL, NULL), 0);
}
END_TEST

/* ---- a spawn as the last child counts out ------------------------------------------ */

/* After leave began, the last child's count brings the group's balance to
 * 0 and that child then takes the group's mutex to wake the owner. A
 * spawn from outside in between (here from the hook taskgroup.c calls in
 * that window) must be refused as asyncio refuses create_task on an
 * exiting group with no task left ("TaskGroup is finished"): counted in,
 * it let the balance reach 0 twice, once by the failed spawn's count out
 * again, and the owner left and freed the group while the last child was
 * still on its way to the group's mutex (a TSan report in CI). Both kinds
 * of spawn are tried: a valid one and one that fails after the count;
 * and a last child that fails, so the group is shutting down as well as
 * finished: finished is the answer, as asyncio checks it first. */
static int short_child(void *arg, void **res);

static struct {
  weft_taskgroup_t *g;
  int calls;
  int valid_rc, failing_rc;
} last_out;

static void spawn_as_last_counts_out(struct weft_taskgroup *g) {
  if (g != last_out.g) return;
  last_out.calls++;
  struct weft_task_opts bad;
  weft_task_opts_init(&bad);
  bad.stack_size = 1; /* below the minimum: fails after the count */
  last_out.failing_rc = weft_taskgroup_spawn(g, short_child, NULL, &bad, NULL);
  last_out.valid_rc = weft_taskgroup_spawn(g, short_child, NULL, NULL, NULL);
}

static int yield_then_fail(void *arg, void **res) {
  (void)arg;
  (void)res;
  weft_yield();
  weft_yield();
  return weft_fail(-EIO, "the last child fails");
}

/* @arg: which child ends last (0 or 1 yields for the first), and 2 added:
 * the last one fails, so the group is shutting down as its count reaches
 * 0, and still a spawn is refused as finished (asyncio's _on_task_done
 * discards the task before it aborts; create_task checks finished first). */
static int last_out_main(void *arg, void **res) {
  (void)res;
  intptr_t yields = (intptr_t)arg & 1;
  bool fail = (intptr_t)arg & 2;
  weft_taskgroup_t *g;
  ck_assert_int_eq(weft_taskgroup_enter(&g), 0);
  last_out.g = g;
  last_out.calls = 0;
  last_out.valid_rc = last_out.failing_rc = 1;
  ck_assert_int_eq(weft_taskgroup_spawn(g, short_child, (void *)yields, NULL, NULL), 0);
  if (fail)
    ck_assert_int_eq(weft_taskgroup_spawn(g, yield_then_fail, NULL, NULL, NULL), 0);
  else
    ck_assert_int_eq(weft_taskgroup_spawn(g, short_child, (void *)(yields + 1), NULL, NULL), 0);
  ck_assert_int_eq(weft_taskgroup_leave(g, 0), fail ? WEFT_EGROUP : 0);
  ck_assert_int_eq(weft_taskgroup_destroy(g), 0);
  last_out.g = NULL;
  return 0;
}

/* One worker, so both children are still running when the owner leaves
 * (with two, they may end before it does, and no count reaches 0): in
 * asyncio's order the count is a callback's, in LOCALITY order the
 * child's completion entry's (taskgroup.c). */
START_TEST(spawn_as_the_last_child_counts_out_is_refused) {
  weft__taskgroup_last_out_hook = spawn_as_last_counts_out;
  for (int order = 0; order < 2; order++) {
    for (intptr_t shape = 0; shape < 4; shape++) { /* last_out_main's @arg */
      int o = order ? WEFT_ORDER_LOCALITY : WEFT_ORDER_DEFAULT;
      ck_assert_int_eq(run_main_order(1, o, last_out_main, (void *)shape, NULL), 0);
      ck_assert_int_eq(last_out.calls, 1);
      ck_assert_int_eq(last_out.failing_rc, WEFT_ECLOSED);
      ck_assert_int_eq(last_out.valid_rc, WEFT_ECLOSED);
    }
  }
  weft__taskgroup_last_out_hook = NULL;
}
END_TEST

/* ---- the owner cancelled as its last child ends ---------------------------------- */

/* The owner waits in leave for one child while another task cancels the
 * owner after a varying number of steps, so across workers the owner
 * wakes, aborts the group and looks again around the moment its child
 * counts itself out. Each round must end with leave returning 0 or
 * -ECANCELED and the group destroyed; the owner leaves and frees the
 * group only after its last child is done with it (counting, in
 * taskgroup.c), which the ASan and TSan builds check. (The window the
 * former counter left, between the last child's decrement and its lock,
 * is too narrow for this test to have met in six ASan runs; it guards
 * the path.) */
static int short_child(void *arg, void **res) {
  (void)res;
  for (intptr_t k = (intptr_t)arg % 3; k > 0; k--) weft_yield();
  return 0;
}

struct cancel_at {
  weft_task_t *owner;
  int steps;
};

static int cancel_after_steps(void *arg, void **res) {
  (void)res;
  struct cancel_at *at = arg;
  for (int k = at->steps; k > 0; k--) weft_yield();
  weft_task_cancel(at->owner, NULL);
  return 0;
}

static int race_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  weft_task_t *self = weft_task_current();
  long n = scaled(2000);
  for (long i = 1; i <= n; i++) {
    weft_taskgroup_t *g;
    ck_assert_int_eq(weft_taskgroup_enter(&g), 0);
    ck_assert_int_eq(weft_taskgroup_spawn(g, short_child, (void *)(intptr_t)i, NULL, NULL), 0);
    struct cancel_at at = {self, (int)(i % 4)};
    weft_task_t *c;
    ck_assert_int_eq(weft_spawn(cancel_after_steps, &at, &c), 0);
    int r = weft_taskgroup_leave(g, 0);
    ck_assert(r == 0 || r == -ECANCELED);
    ck_assert_int_eq(weft_taskgroup_destroy(g), 0);
    /* The canceller may not have run yet: its cancel then lands on this
     * await (or after it), and is withdrawn before the next round. */
    weft_await(weft_task_future(c), NULL);
    weft_task_release(c);
    while (weft_task_cancelling(self) > 0) weft_task_uncancel(self);
  }
  return 0;
}

START_TEST(owner_cancelled_as_its_last_child_ends) {
  ck_assert_int_eq(run_main(4, race_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(2, race_main, NULL, NULL), 0);
}
END_TEST

/* asyncio's hops on one worker: a child that ends is counted out in a
 * callback a pass later (asyncio's _on_task_done), and the owner waiting
 * to leave resumes a pass after that. CPython 3.13 prints "xycbzdewfo"
 * for the same program (tasks noting a letter a pass). */
static int tg_hop_child(void *arg, void **res) {
  pass_note('c');
  weft_yield();
  pass_note('d');
  return 0;
}

static int tg_hop_owner(void *arg, void **res) {
  weft_taskgroup_t *g;
  ck_assert_int_eq(weft_taskgroup_enter(&g), 0);
  ck_assert_int_eq(weft_taskgroup_spawn(g, tg_hop_child, NULL, NULL, NULL), 0);
  ck_assert_int_eq(weft_taskgroup_leave(g, 0), 0);
  ck_assert_int_eq(weft_taskgroup_destroy(g), 0);
  pass_note('o');
  return 0;
}

static int tg_hop_main(void *arg, void **res) {
  weft_task_t *ts[2];
  weft_spawn(tg_hop_owner, NULL, &ts[0]);
  weft_spawn(pass_ticker, "bef", &ts[1]);
  pass_note_each("xyzw");
  await_all_ok(ts, 2);
  return 0;
}

/* An owner that reaches leave with a cancellation of its own pending gives
 * up a pass first (asyncio's pending cancel cancels _on_completed_fut), so
 * the child takes its first step before the group cancels it. CPython 3.13
 * prints "wxy#zO" for the same program. */
static int tg_pending_child(void *arg, void **res) {
  for (const char *c = "cde"; *c; c++) {
    if (weft_yield()) {
      pass_note('#');
      return -ECANCELED;
    }
    pass_note(*c);
  }
  return 0;
}

static int tg_pending_owner(void *arg, void **res) {
  weft_taskgroup_t *g;
  ck_assert_int_eq(weft_taskgroup_enter(&g), 0);
  ck_assert_int_eq(weft_taskgroup_spawn(g, tg_pending_child, NULL, NULL, NULL), 0);
  weft_task_cancel(weft_task_current(), NULL);
  ck_assert_int_eq(weft_taskgroup_leave(g, 0), -ECANCELED);
  ck_assert_int_eq(weft_taskgroup_destroy(g), 0);
  pass_note('O');
  return 0;
}

static int tg_pending_main(void *arg, void **res) {
  weft_task_t *o;
  weft_spawn(tg_pending_owner, NULL, &o);
  pass_note_each("wxyz");
  await_all_ok(&o, 1);
  return 0;
}

START_TEST(one_worker_pending_cancel_at_leave_gives_up_a_pass) {
  pass_reset();
  ck_assert_int_eq(run_main(1, tg_pending_main, NULL, NULL), 0);
  ck_assert_str_eq(pass_trace.s, "wxy#zO");
}
END_TEST

START_TEST(one_worker_hops_as_asyncio) {
  pass_reset();
  ck_assert_int_eq(run_main(1, tg_hop_main, NULL, NULL), 0);
  ck_assert_str_eq(pass_trace.s, "xycbzdewfo");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("taskgroup");
  TCase *tc = tcase_create("taskgroup");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, first_failure_cancels_siblings_and_owner);
  tcase_add_test(tc, every_failure_is_listed_and_retrieved);
  tcase_add_test(tc, outside_cancel_of_the_owner_is_reraised);
  tcase_add_test(tc, group_cancel_ends_the_group_cleanly);
  tcase_add_test(tc, timeout_scope_around_a_group);
  tcase_add_test(tc, one_worker_hops_as_asyncio);
  tcase_add_test(tc, one_worker_pending_cancel_at_leave_gives_up_a_pass);
  tcase_add_test(tc, storm_on_four_workers);
  tcase_add_test(tc, children_spawn_while_the_owner_leaves);
  tcase_add_test(tc, spawn_as_the_last_child_counts_out_is_refused);
  tcase_add_test(tc, owner_cancelled_as_its_last_child_ends);
  tcase_add_test(tc, failure_racing_leave_leaves_no_cancel);
  tcase_add_test(tc, close_with_a_child_failing_under_cancel);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
