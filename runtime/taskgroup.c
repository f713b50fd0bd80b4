/*
 * taskgroup.c - asyncio.TaskGroup: structured concurrency (weft/compose.h).
 *
 * The rules are CPython 3.13's taskgroups.py, step for step:
 *  1. The first child that fails (not by cancellation) aborts the group:
 *     every other child is cancelled, and so is the owner, once
 *     (parent_cancel_requested), so its body stops at its next suspension
 *     point.
 *  2. leave(body_rc): an error or cancellation of the body aborts the group
 *     too; then it waits until every child has ended. A cancellation of the
 *     owner during that wait aborts the group (if not already) and is
 *     remembered; the wait goes on, so no child outlives the group.
 *  3. The cancel request the group made of its owner is withdrawn
 *     (uncancel); if no other request remains, a cancellation is not
 *     propagated. Errors take priority over cancellation: with any, leave
 *     returns WEFT_EGROUP (the ExceptionGroup); if the owner is also being
 *     cancelled from outside, its request is kept pending (uncancel then
 *     cancel, count unchanged) as 3.13 does.
 *  4. weft_taskgroup_cancel() (CPython main) aborts the group and cancels
 *     the owner's body through the same parent_cancel_requested, so leave
 *     returns 0, not -ECANCELED.
 *
 * How children are watched: each child's record carries a notify entry
 * (future.h) that counts the child out (one atomic decrement) and, for a
 * failure, records the error under the group's mutex, in completion order;
 * it runs at every completion, also while the loop closes. Rule 1's
 * aborting needs to cancel other tasks, which must not happen under a
 * child's lock (two children failing at once would take each other's
 * locks), so the entry of a failed child schedules a callback for it, at
 * the place asyncio schedules _on_task_done: with one worker, in asyncio's
 * order. A child that succeeds costs no callback, except on a one-worker
 * loop in FIFO order (asyncio's exact order): there it is counted out in
 * a callback too, as asyncio discards it in _on_task_done, so the owner
 * waiting in leave resumes a pass after that callback, as asyncio's
 * __aexit__ does when _on_completed_fut is set, not a pass earlier.
 *
 * Counting, without a line both sides write: before leave, spawners count
 * children in (`spawned`, under m, on the spawners' line) and the entries
 * count them out (`balance`, one atomic increment on a line of its own),
 * so a child's start and end do not bounce one counter between the
 * owner's worker and the children's (taskgroup_10k with two workers took
 * 2.8x gather_10k's time, issue 13). Leave subtracts `spawned` from
 * balance once, under m; from then on a spawn subtracts one before its
 * child can run, so balance is minus the children still active, and the
 * entry whose increment brings it to 0 is the last one (a spawn finding 0
 * is refused, so 0 is reached once: count_in_exiting): it alone takes m,
 * marks the group's children all ended and wakes the owner. Every other
 * entry's increment is its last touch of the group: the owner leaves only
 * when all_ended is set, by the last entry under m or by leave's own
 * subtraction reaching 0 (every entry had counted out), so no entry is
 * left touching a group its owner has freed. (A count and a separate
 * look at the owner's target after it did meet freed groups, under TSan;
 * the former single counter's decrement, then lock of m, had the same
 * window for its last child.)
 *
 * Locks: a child's lock, then m. Cancelling tasks happens with neither
 * held. Lifetime: refs counts the owner's reference (until destroy) and
 * one per done callback not yet run.
 */
#include "weft.h"
#include "weft/compose.h"
#include "alloc.h"
#include "future.h"
#include "handle.h"
#include "list.h"
#include "loop.h"
#include "mutex.h"
#include "task.h"
#include "taskgroup.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct tg_child {
  struct weft__list link;    /* in g->children from spawn to free; under m */
  struct weft__notify note;  /* on the child's future */
  struct weft__call counted; /* one worker in FIFO order: the count-out callback (design comment) */
  struct weft_taskgroup *g;
  struct weft_task *task;    /* referenced; set once spawned (under m) */
};

struct weft_taskgroup {
  /* Line 0: what the children's entries read on any worker; written only
   * at enter, and refs on the rare paths (a failure; one worker's count-out
   * callbacks). */
  _Atomic uint32_t refs;
  struct weft_task *parent;        /* the owner, referenced; immutable */
  struct weft_loop *loop;          /* immutable */
  /* Line 1: the spawners' side. A child's end touches none of it unless it
   * may be the last one the owner waits for (counting, below). With m on
   * line 0, every spawn's lock missed: the entries on the other worker had
   * just read `loop` there (taskgroup_10k, perf: 26% of spawn's samples). */
  _Alignas(WEFT__CACHELINE) struct weft__mutex m;
  struct weft__list children;      /* every child spawned; under m */
  size_t spawned;                  /* children counted in; under m */
  bool exiting;                    /* leave started; under m */
  bool aborting;                   /* children were cancelled; under m */
  bool left;                       /* leave returned; under m */
  bool parent_cancel_requested;    /* the group cancelled its owner; under m */
  bool all_ended;                  /* leave started and no child is active; under m */
  struct weft_task *waiter;        /* the owner waiting in leave; under m */
  _Atomic uint32_t fired;          /* its wake-up flag */
  struct weft_task_error *errors;  /* under m; strings owned */
  size_t nerrors, cap;             /* under m */
  /* Line 2: the children's side (counting, design comment): before leave
   * the children counted out, from leave on minus those still active. */
  _Alignas(WEFT__CACHELINE) _Atomic int64_t balance;
  _Alignas(WEFT__CACHELINE) char after_balance; /* keeps the allocator's neighbours off line 2 */
};

static void group_unref(struct weft_taskgroup *g);

static const char no_name[] = ""; /* the body's errors; never freed */

/* ---- errors ------------------------------------------------------------------ */

/* Appends an error; the strings are copied. Under m. */
static void add_error_locked(struct weft_taskgroup *g, int err, const char *msg, const char *name,
                             uint64_t id) {
  if (g->nerrors == g->cap) {
    size_t cap = g->cap ? 2 * g->cap : 4;
    struct weft_task_error *e = weft__realloc(g->errors, g->cap * sizeof *e, cap * sizeof *e);
    if (!e) return; /* out of memory: the error is still the child's, never retrieved */
    g->errors = e;
    g->cap = cap;
  }
  char *m = msg ? weft__strdup(msg) : NULL;
  char *n = name && *name ? weft__strdup(name) : NULL;
  g->errors[g->nerrors++] =
      (struct weft_task_error){.err = err, .msg = m, .task_name = n ? n : no_name, .task_id = id};
}

/* A child's name read under its own lock (weft_task_name takes that lock). */
static const char *name_locked(struct weft_task *t) { return weft__task_name_locked(t); }

/* ---- watching children ---------------------------------------------------------- */

static void on_child_failed(void *arg);
static void on_child_callback(struct weft__call *call);

/* The last child ended after leave began; under m. */
static void all_ended_locked(struct weft_taskgroup *g) {
  g->all_ended = true;
  if (g->waiter) {
    /* release: the owner's acquire load in weft__task_wait sees it. */
    atomic_store_explicit(&g->fired, 1, memory_order_release);
    weft__task_wake(g->waiter);
  }
}

/* A spawn that failed after counting its child in: counted out again,
 * under m (which all_ended_locked needs). During leave that may have been
 * the last count, as in count_out. */
static void uncount_locked(struct weft_taskgroup *g) {
  if (!g->exiting)
    g->spawned--;
  else if (atomic_fetch_add_explicit(&g->balance, 1, memory_order_acq_rel) == -1) /* count_out's */
    all_ended_locked(g);
}

/* A spawn after leave began: one child more, unless none is active. At 0
 * every child has counted out and the one whose increment reached 0 is on
 * its way to m to wake the owner; counting another in would let balance
 * reach 0 a second time, and two entries would each take themselves for
 * the last, the first waking an owner that frees the group while the
 * second still heads for its m (TSan saw it: a failed spawn counted out
 * again in that window). asyncio refuses there too: create_task raises
 * "TaskGroup is finished" once exiting with no task left. Under m, which
 * only the last entry's way to all_ended needs: the entries increment
 * without it, hence the CAS. relaxed: the value decides and the child's
 * increment comes after this through its start. */
static bool count_in_exiting(struct weft_taskgroup *g) {
  int64_t b = atomic_load_explicit(&g->balance, memory_order_relaxed);
  do {
    if (b == 0) return false;
  } while (!atomic_compare_exchange_weak_explicit(&g->balance, &b, b - 1, memory_order_relaxed,
                                                  memory_order_relaxed));
  return true;
}

void (*weft__taskgroup_last_out_hook)(struct weft_taskgroup *g);

/* One child fewer; the last one after leave began wakes the owner. */
static void count_out(struct weft_taskgroup *g) {
  /* acq_rel: the last increment acquires every earlier one (a chain of
   * RMWs), so what each child did is the owner's once it sees all_ended;
   * only the increment that reaches 0 may touch g afterwards. balance
   * reaches 0 once: after that no spawn counts in (count_in_exiting). */
  if (atomic_fetch_add_explicit(&g->balance, 1, memory_order_acq_rel) != -1) return;
  if (__builtin_expect(weft__taskgroup_last_out_hook != NULL, 0)) weft__taskgroup_last_out_hook(g);
  weft__mutex_lock(&g->m); /* waker rule: the owner sets waiter under m */
  all_ended_locked(g);
  weft__mutex_unlock(&g->m);
}

/* A child ended: count it out, and if it failed, record its error
 * (completion order) and schedule rule 1's abort, as asyncio schedules
 * _on_task_done. Success costs one atomic decrement: the mutex is taken
 * only for an error, or to wake the owner when the last child ends.
 * @locked: the child's lock is held (the entry). */
static void child_ended(struct tg_child *c, struct weft_future *f, bool locked) {
  struct weft_taskgroup *g = c->g;
  int err = f->err;
  if (err && err != -ECANCELED) {
    /* Before m: the name needs the child's lock (lock order). */
    const char *name = locked ? name_locked(c->task) : weft_task_name(c->task);
    if (locked)
      f->retrieved = 1; /* the group reports it */
    else
      weft__future_mark_retrieved_if_done(f);
    weft__mutex_lock(&g->m);
    add_error_locked(g, err, f->msg, name, c->task->id);
    weft__mutex_unlock(&g->m);
    /* relaxed: a reference for the callback; the caller holds one. */
    atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
    /* The callback counts the child out, after it has cancelled the owner:
     * asyncio's _on_task_done does both in one step, so an owner in leave
     * either sees the cancel (and withdraws it) or never gets it. Counted
     * out here, the owner could leave between the two and be cancelled
     * after it left (a request nobody withdraws). */
    if (weft__call_soon_internal(g->loop, on_child_failed, c) == 0) return; /* runs while closing too */
    group_unref(g); /* no memory: leave still reports the error, but no prompt abort */
  } else if (weft__loop_asyncio_order(g->loop)) {
    /* One worker in FIFO order: counted out where asyncio's _on_task_done
     * discards it, in a callback a pass later (design comment). */
    if (weft__call_queue_counted(g->loop, &c->counted, on_child_callback, &g->refs)) return;
    /* closed: counted out at once */
  }
  count_out(g);
}

static void on_child_note(struct weft__notify *n, struct weft_future *f) {
  child_ended(weft__container_of(n, struct tg_child, note), f, true);
}

/* Cancels every child still running (rule 1, 2). Takes no child lock while
 * holding m: the children are referenced and cancelled after unlocking
 * (cancelling one that has ended does nothing). */
static void abort_children(struct weft_taskgroup *g) {
  weft__mutex_lock(&g->m);
  g->aborting = true;
  size_t n = 0;
  struct weft__list *pos, *tmp;
  weft__list_for_each_safe(pos, tmp, &g->children) n++;
  struct weft_task **ts = n ? weft__alloc(n * sizeof *ts) : NULL;
  size_t k = 0;
  if (ts) {
    weft__list_for_each_safe(pos, tmp, &g->children) {
      struct tg_child *c = weft__container_of(pos, struct tg_child, link);
      if (c->task && !weft__future_is_done(&c->task->fut)) ts[k++] = weft_task_ref(c->task);
    }
  }
  weft__mutex_unlock(&g->m);
  for (size_t i = 0; i < k; i++) {
    weft__task_cancel_for_awaiter(ts[i], NULL); /* a child's return outruns it (task.h) */
    weft_task_release(ts[i]);
  }
  weft__free(ts, n * sizeof *ts);
}

/* Rule 1, as asyncio's _on_task_done for a failed child: a callback
 * scheduled by the child's entry. */
static void on_child_failed(void *arg) {
  struct tg_child *c = arg;
  struct weft_taskgroup *g = c->g;
  /* The owner has not left: leave waits for this child, counted out only
   * below. It may have ended without leaving, though. */
  if (weft__future_is_done(&g->parent->fut)) {
    struct weft_exception_context ctx = {
        .message = "a TaskGroup task has errored out but its parent task is already completed",
        .error = c->task->fut.err,
        .error_msg = c->task->fut.msg,
        .future = &c->task->fut,
        .task_name = weft_task_name(c->task),
    };
    weft_loop_call_exception_handler(g->loop, &ctx);
  } else {
    weft__mutex_lock(&g->m);
    bool first = !g->aborting && !g->parent_cancel_requested;
    if (first) g->parent_cancel_requested = true;
    weft__mutex_unlock(&g->m);
    if (first) {
      abort_children(g);
      weft_task_cancel(g->parent, NULL);
    }
  }
  count_out(g); /* the failed child, now that its abort is done (child_ended) */
  group_unref(g);
}

/* A child that did not fail, counted out a pass after its end, as asyncio's
 * _on_task_done (one worker in FIFO order: design comment). */
static void on_child_callback(struct weft__call *call) {
  struct weft_taskgroup *g = weft__container_of(call, struct tg_child, counted)->g;
  count_out(g);
  group_unref(g);
}

/* ---- the group ------------------------------------------------------------------- */

int weft_taskgroup_enter(weft_taskgroup_t **out) {
  if (!out) return -EINVAL;
  struct weft_task *t = weft__task_self();
  if (!t) return -EPERM;
  struct weft_taskgroup *g = weft__calloc_aligned(sizeof *g, 64);
  if (!g) return -ENOMEM;
  weft__mutex_init(&g->m);
  atomic_init(&g->refs, 1);
  g->parent = weft_task_ref(t);
  g->loop = t->fut.loop;
  weft__list_init(&g->children);
  atomic_init(&g->balance, 0);
  atomic_init(&g->fired, 0);
  *out = g;
  return 0;
}

int weft_taskgroup_spawn(weft_taskgroup_t *g, weft_task_fn fn, void *arg,
                         const struct weft_task_opts *opts, weft_task_t **out) {
  if (!g || !fn) return -EINVAL;
  struct tg_child *c = weft__calloc(sizeof *c);
  if (!c) return -ENOMEM;
  c->g = g;
  c->note.fn = on_child_note;
  weft__chain_node_init(&c->note.e.link);
  /* One hold of m for the checks and the spawn itself, so an abort either
   * sees this child (and cancels it) or happened before (and we refuse). */
  weft__mutex_lock(&g->m);
  /* Finished before shutting down, asyncio's order; a balance of 0 after
   * leave began is finished too (count_in_exiting). relaxed: a look; the
   * CAS below decides. */
  bool finished = g->left || g->all_ended ||
                  (g->exiting && atomic_load_explicit(&g->balance, memory_order_relaxed) == 0);
  int rc = finished ? WEFT_ECLOSED : g->aborting ? WEFT_ESHUTDOWN : 0;
  weft_task_t *t = NULL;
  if (!rc) {
    /* Counted in before it can run and end (counting, design comment). */
    if (!g->exiting)
      g->spawned++;
    else if (!count_in_exiting(g))
      rc = WEFT_ECLOSED; /* every child has ended; the last is on its way to m */
  }
  if (!rc) {
    rc = weft__spawn_at(g->loop, fn, arg, opts, &t, __builtin_return_address(0));
    if (rc) uncount_locked(g);
  }
  if (!rc) {
    c->task = t; /* the group's reference */
    weft__list_add_tail(&g->children, &c->link);
  }
  weft__mutex_unlock(&g->m);
  if (rc) {
    weft__free(c, sizeof *c);
    return rc;
  }
  if (!weft__future_notify_add(&t->fut, &c->note)) child_ended(c, &t->fut, false);
  if (out) *out = weft_task_ref(t);
  return 0;
}

/* Waits until no child is active. A cancellation of the owner aborts the
 * group (rule 2) and is reported; while the loop closes (every cancellable
 * wait fails at once) the wait is not cancellable. */
static bool wait_children(struct weft_taskgroup *g) {
  bool cancelled = false;
  struct weft_task *t = g->parent;
  for (;;) {
    weft__mutex_lock(&g->m);
    bool done = g->all_ended;
    if (!done) {
      g->waiter = t;
      atomic_store_explicit(&g->fired, 0, memory_order_relaxed);
    }
    weft__mutex_unlock(&g->m);
    if (done) return cancelled;
    weft__task_blocked(t, WEFT__BLOCK_TASKGROUP, g, 0);
    int rc;
    if (atomic_load_explicit(&g->loop->closing, memory_order_relaxed))
      rc = weft__task_wait_nocancel(t, &g->fired, 0);
    else if (weft__task_take_cancel(t))
      /* A cancellation pending as the wait begins cancels asyncio's
       * _on_completed_fut: CancelledError a pass later (task.h), so the
       * children run that pass before the group aborts them. */
      rc = weft__task_cancelled_after_pass(t);
    else
      rc = weft__task_wait(t, &g->fired, 0);
    weft__mutex_lock(&g->m);
    g->waiter = NULL; /* waker rule */
    bool aborting = g->aborting;
    weft__mutex_unlock(&g->m);
    if (rc == -ECANCELED) {
      cancelled = true;
      if (!aborting) abort_children(g);
    }
  }
}

int weft_taskgroup_leave(weft_taskgroup_t *g, int body_rc) {
  if (!g) return -EINVAL;
  struct weft_task *t = weft__task_self();
  weft__mutex_lock(&g->m);
  bool ok = t == g->parent && !g->exiting;
  if (ok) {
    g->exiting = true;
    /* acq_rel: reaching 0 here, every entry had counted out (their
     * increments acquired); counting, design comment. */
    int64_t n = (int64_t)g->spawned;
    if (atomic_fetch_sub_explicit(&g->balance, n, memory_order_acq_rel) == n) g->all_ended = true;
  }
  bool aborting = g->aborting;
  weft__mutex_unlock(&g->m);
  if (!ok) return WEFT_EINVALSTATE;
  bool propagate_cancel = body_rc == -ECANCELED;
  if (body_rc < 0 && !aborting) abort_children(g);
  if (wait_children(g)) propagate_cancel = true;
  weft__mutex_lock(&g->m);
  bool asked = g->parent_cancel_requested;
  weft__mutex_unlock(&g->m);
  if (asked && weft_task_uncancel(t) == 0) propagate_cancel = false; /* rule 3 */
  weft__mutex_lock(&g->m);
  if (body_rc < 0 && body_rc != -ECANCELED)
    add_error_locked(g, body_rc, weft__task_run_of(t)->fail_msg, NULL, 0); /* the body's own error, last */
  size_t nerrors = g->nerrors;
  g->left = true;
  weft__mutex_unlock(&g->m);
  if (nerrors) {
    if (weft_task_cancelling(t) > 0) { /* keep an outside cancel pending */
      weft_task_uncancel(t);
      weft_task_cancel(t, NULL);
    }
    return WEFT_EGROUP;
  }
  if (propagate_cancel) return -ECANCELED;
  return body_rc > 0 ? body_rc : 0;
}

int weft_taskgroup_errors(weft_taskgroup_t *g, const struct weft_task_error **errs, size_t *n) {
  if (!g || !errs || !n) return -EINVAL;
  weft__mutex_lock(&g->m);
  *errs = g->errors;
  *n = g->nerrors;
  weft__mutex_unlock(&g->m);
  return 0;
}

int weft_taskgroup_cancel(weft_taskgroup_t *g) {
  if (!g) return -EINVAL;
  weft__mutex_lock(&g->m);
  bool live = !g->left;
  bool cancel_parent = live && !g->exiting && !g->parent_cancel_requested;
  if (cancel_parent) g->parent_cancel_requested = true;
  weft__mutex_unlock(&g->m);
  if (!live) return 0;
  abort_children(g);
  if (cancel_parent) weft_task_cancel(g->parent, NULL);
  return 0;
}

static void group_free(struct weft_taskgroup *g) {
  struct weft__list *pos, *tmp;
  weft__list_for_each_safe(pos, tmp, &g->children) {
    struct tg_child *c = weft__container_of(pos, struct tg_child, link);
    weft_task_release(c->task);
    weft__free(c, sizeof *c);
  }
  for (size_t i = 0; i < g->nerrors; i++) {
    weft__strfree((char *)g->errors[i].msg);
    if (g->errors[i].task_name != no_name) weft__strfree((char *)g->errors[i].task_name);
  }
  weft__free(g->errors, g->cap * sizeof *g->errors);
  weft_task_release(g->parent);
  weft__free_aligned(g, sizeof *g, 64);
}

static void group_unref(struct weft_taskgroup *g) {
  /* acq_rel: the last one out frees, after everyone else's writes. */
  if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1) group_free(g);
}

int weft_taskgroup_destroy(weft_taskgroup_t *g) {
  if (!g) return -EINVAL;
  weft__mutex_lock(&g->m);
  bool left = g->left;
  weft__mutex_unlock(&g->m);
  if (!left) return -EBUSY;
  group_unref(g);
  return 0;
}
