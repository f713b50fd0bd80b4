/*
 * task.c - tasks: spawning, waking, waiting, cancellation and the end of a task.
 *
 * The state machine is drawn in task.h. Orderings:
 *  - weft__task_wake's CAS IDLE -> SCHEDULED is acq_rel: acquire pairs with
 *    the worker's release CAS SCHEDULED -> IDLE (the fiber's saved context
 *    is visible to whoever runs it next, through the queue's own
 *    release/acquire).
 *  - A waker that finds the task SCHEDULED (queued or running) marks it
 *    NOTIFIED with an acq_rel CAS, and one that finds it NOTIFIED writes
 *    NOTIFIED back with one, instead of just reading it. The waker wrote
 *    its flag, then changes the state; the task read its flag (and found
 *    none), then suspends with a CAS SCHEDULED -> IDLE. As RMWs on the one
 *    state word the two are ordered: if the task's comes first, the waker
 *    finds IDLE and queues it; if the waker's comes first, the task's CAS
 *    fails and it is queued again, and the start of that next slice, which
 *    finds NOTIFIED, puts SCHEDULED back with an acq_rel exchange
 *    (weft__task_slice_starts) that reads from the last waker's CAS (a
 *    chain of RMWs continues its release sequence): the slice sees every
 *    such waker's flag. A slice that starts SCHEDULED writes nothing: any
 *    wake during it leaves NOTIFIED, which its suspension's CAS cannot
 *    miss. (Until issue 13's pass on this, every slice began with an
 *    exchange to a RUNNING state, a locked instruction per slice; the rule
 *    before that, a plain store, lost wake-ups: a waker read a stale
 *    SCHEDULED and left, while the task, already past its check, suspended
 *    for good. Found by tests/sync/test_queue.c's
 *    tight_bounds_under_contention, ~1 run in 50 on 4 workers; guarded by
 *    tests/stress/test_races.c, queue_at_tight_bound.)
 *  - On a one-worker loop the worker makes these moves with a plain load
 *    and store in an owner section where it may, and every other thread
 *    under the task's future lock (taskstate.h): the section and the lock
 *    exclude each other as for a future's fields, and the orderings above
 *    then come from the section's end and the lock's settle.
 *  - must_cancel is written under fut.lock and read lock-free with acquire
 *    as a hint; weft__task_take_cancel confirms and clears it under the lock.
 *
 * Cancellation (asyncio semantics): each weft_task_cancel() adds a request
 * and sets must_cancel; the task's current or next suspension point takes
 * must_cancel and returns -ECANCELED; weft_task_uncancel() removes a request
 * and clears must_cancel when none remain, so a cancellation that was not yet
 * delivered is withdrawn. A body that returns 0 with a request pending ends
 * cancelled, unless every pending request was an awaiter's passed-on one
 * (task.h, WEFT__CANCEL_AT_END): that one reached it on another worker
 * during its last step and is taken as coming after its end.
 */
#include "backtrace.h"
#include "futlock.h"
#include "task.h"
#include "context.h"
#include "alloc.h"
#include "clock.h"
#include "ticks.h"
#include "tls.h"
#include "loop.h"
#include "timer.h"
#include "worker.h"
#include "registry.h"
#include "taskstate.h"
#include "waitlist.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>


/* The defaults: weft_task_opts_init's, and a spawn's without options (most). */
static const struct weft_task_opts default_opts = {.name = NULL, .stack_size = 0, .worker = -1};

void weft_task_opts_init(struct weft_task_opts *opts) {
  if (opts) *opts = default_opts;
}

weft_task_t *weft_task_current(void) { return weft__task_self(); }

/* cfg.max_tasks: a spawn takes a slot, a task's end gives it back. Free
 * when no cap is set. relaxed: a count, ordered by nothing else. */
static bool task_slot_take(struct weft_loop *loop) {
  if (!loop->max_tasks) return true;
  if (atomic_fetch_add_explicit(&loop->ntasks, 1, memory_order_relaxed) < loop->max_tasks) return true;
  atomic_fetch_sub_explicit(&loop->ntasks, 1, memory_order_relaxed);
  return false;
}

static void task_slot_give(struct weft_loop *loop) {
  if (loop->max_tasks) atomic_fetch_sub_explicit(&loop->ntasks, 1, memory_order_relaxed);
}

/* ---- holding a suspended task (task.h) ----------------------------------- */

/* A holder's move of @t's state from @from to @to: true if made. Under
 * the task's future lock unless the holder is the running worker of @t's
 * one-worker loop (taskstate.h: that worker may move it with plain
 * operations meanwhile). acq_rel on success serves both moves: the hold's
 * acquire orders our reads after the task's last slice, the release is
 * the waker's side (and, letting go, what the holder wrote, e.g. a stack
 * descriptor's mark, comes before the task's next slice). acquire on
 * failure: unhold then queues a task a waker marked NOTIFIED. */
static bool hold_move(struct weft_task *t, uint8_t from, uint8_t to) {
  struct weft_loop *loop = t->fut.loop;
  bool lock = loop->solo && !weft__futlock_is_owner(loop);
  if (lock) weft__futlock(&t->fut);
  bool moved = atomic_compare_exchange_strong_explicit(&t->state, &from, to, memory_order_acq_rel,
                                                       memory_order_acquire);
  if (lock) weft__futunlock(&t->fut);
  return moved;
}

bool weft__task_hold(struct weft_task *t) { return hold_move(t, WEFT__TASK_IDLE, WEFT__TASK_SCHEDULED); }

bool weft__task_unhold(struct weft_task *t) {
  /* On failure a waker came: queued as a task notified during its slice
   * is, NOTIFIED (its next slice's start reads from the waker's move). */
  if (hold_move(t, WEFT__TASK_SCHEDULED, WEFT__TASK_IDLE)) return false;
  if (weft__task_timed(t)) weft__task_acct_ready(t);
  struct weft__task_run *x = weft__task_run_of(t); /* held: started, not done */
  weft__schedule(t->fut.loop, &x->r, atomic_load_explicit(&x->pinned, memory_order_relaxed),
                 WEFT__SCHED_BACK);
  return true;
}

/* ---- spawn sites ----------------------------------------------------------
 * The dump shows where each task was spawned: the return address of the
 * public spawn call the user made, passed down as @site. A task factory
 * sits between the spawn and weft_task_create (user code in the middle):
 * the site crosses it in factory_site, a thread-local set only around the
 * factory call, which weft_task_create takes (so a task the factory's task
 * spawns eagerly notes its own). The common path touches no thread-local. */
static WEFT__TLS void *factory_site;

static int task_create(weft_loop_t *loop, weft_task_fn fn, void *arg,
                       const struct weft_task_opts *opts, weft_task_t **out, bool schedule,
                       void *site, bool internal);
static int task_create_plain(weft_loop_t *loop, weft_task_fn fn, void *arg, weft_task_t **out,
                             void *site);

int weft__spawn_at(weft_loop_t *loop, weft_task_fn fn, void *arg, const struct weft_task_opts *opts,
                   weft_task_t **out, void *site) {
  if (!fn) return -EINVAL;
  if (!loop && !(loop = weft_loop_current())) return -EPERM;
  /* acquire: the factory record was written before it was published. */
  const struct weft__factory *f = atomic_load_explicit(&loop->factory, memory_order_acquire);
  if (!f) return opts ? task_create(loop, fn, arg, opts, out, true, site, false)
                      : task_create_plain(loop, fn, arg, out, site);
  if (!opts) opts = &default_opts;
  weft_task_t *t = NULL;
  void *prev = factory_site;
  factory_site = site;
  int rc = f->fn(loop, fn, arg, opts, &t, f->arg);
  factory_site = prev;
  if (rc == 0 && !t) rc = -EINVAL; /* a factory that made nothing */
  if (rc) return rc;
  if (out) *out = t;
  else weft_task_release(t); /* detached, as the caller asked */
  return 0;
}

int weft_loop_set_task_factory(weft_loop_t *loop, weft_task_factory factory, void *factory_arg) {
  if (!loop) return -EINVAL;
  if (atomic_load_explicit(&loop->closed, memory_order_acquire)) return WEFT_ECLOSED;
  struct weft__factory *f = NULL;
  if (factory) {
    if (!(f = weft__alloc(sizeof *f))) return -ENOMEM;
    f->fn = factory;
    f->arg = factory_arg;
  }
  weft__mutex_lock(&loop->factory_lock);
  if (f) { /* kept until the loop's memory goes: a spawn may still use it */
    f->next = loop->factories;
    loop->factories = f;
  }
  /* release: publishes the record to spawns' acquire loads. */
  atomic_store_explicit(&loop->factory, f, memory_order_release);
  weft__mutex_unlock(&loop->factory_lock);
  return 0;
}

weft_task_factory weft_loop_get_task_factory(weft_loop_t *loop, void **arg) {
  if (!loop) return NULL;
  const struct weft__factory *f = atomic_load_explicit(&loop->factory, memory_order_acquire);
  if (arg) *arg = f ? f->arg : NULL;
  return f ? f->fn : NULL;
}

/* weft_task_create's body; @schedule false leaves the start to the caller
 * (an eager start), with the task claimed so nobody runs it inline. Two
 * copies: task_create for any options, and task_create_plain for none,
 * where the options' tests fold away (a spawn without options is most of
 * them: weft_spawn). */
static inline __attribute__((always_inline)) int task_create_body(
    weft_loop_t *loop, weft_task_fn fn, void *arg, const struct weft_task_opts *opts,
    weft_task_t **out, bool schedule, void *site, bool internal) {
  if (!fn) return -EINVAL;
  if (!loop && !(loop = weft_loop_current())) return -EPERM;
  if (!opts) opts = &default_opts;
  size_t stack = opts->stack_size ? opts->stack_size : loop->stack_size;
  if (!weft__stack_size_ok(stack)) return -EINVAL;
  if (opts->worker < -1 || (opts->worker >= 0 && (unsigned)opts->worker >= loop->nworkers))
    return -EINVAL;
  if (atomic_load_explicit(&loop->closed, memory_order_acquire)) return WEFT_ECLOSED;

  struct weft__worker *w = weft__worker_self();
  struct weft_task *self = w ? weft__worker_current(w) : NULL; /* the spawner, if a task */
  if (w && w->loop != loop) w = NULL;
  /* From outside the workers, refused once close started: a task spawned
   * after its last cancellation round would never end (loop.c, rule b). */
  if (!w && !weft__loop_enter_foreign(loop, true)) return WEFT_ECLOSED;
  int rc = 0;
  char *name = NULL;
  struct weft__task_cold *cold = NULL;
  struct weft_task *t = NULL;
  /* A name, a stack size or a worker of its own: the cold record, made now. */
  int home = loop->solo ? WEFT__UNPINNED : opts->worker; /* opts: -1 is any worker */
  bool needs_cold = opts->name || opts->stack_size || home != WEFT__UNPINNED || internal;
  if (!task_slot_take(loop))
    rc = -EAGAIN;
  else if ((opts->name && !(name = weft__strdup(opts->name))) ||
           (needs_cold && !(cold = weft__calloc(sizeof *cold))) ||
           !(t = weft__worker_obj_alloc(loop, WEFT__OBJ_TASK, sizeof *t)))
    rc = -ENOMEM;
  if (rc) {
    if (rc == -ENOMEM) task_slot_give(loop);
    weft__strfree(name);
    if (cold) weft__free(cold, sizeof *cold);
    if (!w) weft__loop_exit_foreign(loop);
    return rc;
  }
  if (cold) {
    cold->name = name;
    /* 0: the loop's size (weft__task_stack_size). A size fits: at most
     * WEFT__STACK_MAX (1 GiB) once rounded. */
    cold->stack_size = opts->stack_size ? (uint32_t)weft__stack_round(stack) : 0;
    cold->pin = (uint16_t)(home + 1); /* a worker index < WEFT__MAX_WORKERS, or 0 */
    cold->internal = internal;
  }
  weft__future_init(&t->fut, loop, true);
  atomic_store_explicit(&t->fut.refs, out ? 2 : 1, memory_order_relaxed);
  atomic_store_explicit(&t->run, NULL, memory_order_relaxed);
  weft__runnable_init(&t->r_start, WEFT__R_TASK_START);
  atomic_init(&t->state, WEFT__TASK_SCHEDULED);
  /* asyncio copies the spawner's context: a task's own map (usually none),
   * else the thread's (a callback, a foreign thread). */
  t->ctx_map = self ? weft__ctx_ref(self->ctx_map) : weft__ctx_capture();
  atomic_init(&t->must_cancel, 0);
  t->cancel_requests = 0;
  /* The body, and its argument in the pending future's result slot, until
   * the start takes them (task.h). */
  t->fn = fn;
  t->fut.result = arg;
  t->id = weft__loop_task_id(loop, w);
  t->fut.spawn_site = site; /* a task's slot for it (future.h) */
  /* relaxed: published with the task (the registry's store, the queue). */
  atomic_store_explicit(&t->cold, cold, memory_order_relaxed);
  /* A sampled spawn (every one in debug mode) times the task's first wait
   * for a worker, which starts now. */
  if (w ? weft__worker_acct_sample(w, &w->acct_spawn_left)
        : atomic_load_explicit(&loop->acct, memory_order_relaxed)) {
    struct weft__task_times *tm = weft__task_times_get(t);
    /* Armed once it has an execution part (weft__task_run_init). */
    if (tm) tm->ready_at = weft__ticks();
  }
  if (weft__registry_add(w, t) != 0) { /* no memory for the table */
    weft__task_free(t); /* never published: nobody else holds it */
    task_slot_give(loop);
    if (!w) weft__loop_exit_foreign(loop);
    return -ENOMEM;
  }
  if (out) *out = t;
  /* Like Tokio, a spawned task takes the LIFO slot: a spawn-then-await pair
   * runs the child next, while its cache lines are warm. */
  if (schedule) weft__schedule(loop, &t->r_start, home, WEFT__SCHED_WAKE);
  else atomic_store_explicit(&t->fut.task_claim, 1, memory_order_relaxed); /* ours to start */
  if (!w) weft__loop_exit_foreign(loop);
  return 0;
}

static int task_create(weft_loop_t *loop, weft_task_fn fn, void *arg,
                       const struct weft_task_opts *opts, weft_task_t **out, bool schedule,
                       void *site, bool internal) {
  return task_create_body(loop, fn, arg, opts, out, schedule, site, internal);
}

static int task_create_plain(weft_loop_t *loop, weft_task_fn fn, void *arg, weft_task_t **out,
                             void *site) {
  return task_create_body(loop, fn, arg, &default_opts, out, true, site, false);
}

static int create_eager(weft_loop_t *loop, weft_task_fn fn, void *arg,
                        const struct weft_task_opts *opts, weft_task_t **out, void *site);

/* weft_task_create's site: the spawn a factory is serving, taken once. */
static void *take_factory_site(void *own) {
  void *site = factory_site;
  if (!site) return own;
  factory_site = NULL;
  return site;
}

int weft_spawn_opts(weft_loop_t *loop, weft_task_fn fn, void *arg,
                    const struct weft_task_opts *opts, weft_task_t **out) {
  return weft__spawn_at(loop, fn, arg, opts, out, __builtin_return_address(0));
}

int weft_task_create(weft_loop_t *loop, weft_task_fn fn, void *arg,
                     const struct weft_task_opts *opts, weft_task_t **out) {
  return task_create(loop, fn, arg, opts, out, true, take_factory_site(__builtin_return_address(0)),
                     false);
}

int weft__task_create_internal(weft_loop_t *loop, weft_task_fn fn, void *arg,
                               const struct weft_task_opts *opts, weft_task_t **out) {
  return task_create(loop, fn, arg, opts, out, true, __builtin_return_address(0), true);
}

int weft_task_create_eager(weft_loop_t *loop, weft_task_fn fn, void *arg,
                           const struct weft_task_opts *opts, weft_task_t **out) {
  return create_eager(loop, fn, arg, opts, out, take_factory_site(__builtin_return_address(0)));
}

static int create_eager(weft_loop_t *loop, weft_task_fn fn, void *arg,
                        const struct weft_task_opts *opts, weft_task_t **out, void *site) {
  struct weft_task *self = weft__task_self();
  if (!loop) loop = weft_loop_current();
  /* Eager only where it can run here and now: from a task with a stack of
   * its own (not an inline child) on @loop, for a child that may run on
   * this worker. Otherwise it starts the ordinary way. */
  struct weft__worker *w = weft__worker_self();
  bool eager = self && loop && self->fut.loop == loop && weft__task_run_of(self)->stack && w &&
               !atomic_load_explicit(&loop->closing, memory_order_relaxed) &&
               (!opts || opts->worker < 0 || (unsigned)opts->worker == w->index);
  if (!eager) return task_create(loop, fn, arg, opts, out, true, site, false);
  weft_task_t *t;
  int rc = task_create(loop, fn, arg, opts, &t, false, site, false);
  if (rc) return rc;
  weft__worker_run_eager(self, t); /* back here at its first suspension, or its end */
  if (out) *out = t;
  else weft_task_release(t);
  return 0;
}

int weft_eager_task_factory(weft_loop_t *loop, weft_task_fn fn, void *arg,
                            const struct weft_task_opts *opts, weft_task_t **out, void *factory_arg) {
  (void)factory_arg;
  return create_eager(loop, fn, arg, opts, out, take_factory_site(__builtin_return_address(0)));
}

int weft_spawn_eager(weft_task_fn fn, void *arg, weft_task_t **out) {
  if (!fn) return -EINVAL;
  if (!weft__task_self()) return -EPERM;
  return create_eager(NULL, fn, arg, NULL, out, __builtin_return_address(0));
}

int weft_spawn(weft_task_fn fn, void *arg, weft_task_t **out) {
  if (!fn) return -EINVAL;
  struct weft__worker *w = weft__worker_self();
  if (!w) return -EPERM;
  return weft__spawn_at(w->loop, fn, arg, NULL, out, __builtin_return_address(0));
}

weft_future_t *weft_task_future(weft_task_t *t) { return t ? &t->fut : NULL; }

weft_task_t *weft_task_from_future(weft_future_t *f) {
  return f && f->is_task ? weft__task_of(f) : NULL;
}

weft_task_t *weft_task_ref(weft_task_t *t) {
  if (t) weft_future_ref(&t->fut);
  return t;
}

void weft_task_release(weft_task_t *t) {
  if (t) weft_future_release(&t->fut);
}

/* jemalloc's 112-byte size class holds a task's handle (task.h's layout
 * comment), its 96-byte class the cold record, and two lines hold its
 * execution part with the assembly fiber switch. Debug builds (misuse
 * checks' magic words, TSan's fiber handle) and the ucontext switch (a
 * whole ucontext_t) go over. */
#if !defined(WEFT_DEBUG_CHECKS) && !defined(WEFT_FIBER_UCONTEXT) && !defined(WEFT__TSAN)
_Static_assert(sizeof(struct weft_task) == 112, "a task's handle left its 112-byte size class");
_Static_assert(offsetof(struct weft_task, run) == 64 && offsetof(struct weft_task, reg_slot) < 80,
               "a wake-up's and a slice's fields left their 16-byte block (task.h)");
_Static_assert(sizeof(struct weft__task_cold) <= 96, "a task's cold record outgrew its size class");
_Static_assert(sizeof(struct weft_future) == 56, "a future grew past 56 bytes (a task's line 0 less its id)");
_Static_assert(WEFT__TASK_RUN_RESERVE <= 128, "a task's execution part outgrew two cache lines");
_Static_assert(offsetof(struct weft__task_run, stack) + sizeof(void *) <= 64,
               "what every slice touches left the execution part's first line (task.h)");
#endif

/* The stack size a task asked for: 0 for the loop's (task.h). */
static uint32_t own_stack_size(const struct weft_task *t) {
  const struct weft__task_cold *c = weft__task_cold_of(t);
  return c ? c->stack_size : 0;
}

size_t weft__task_stack_size(const struct weft_task *t) {
  uint32_t own = own_stack_size(t);
  return own ? own : t->fut.loop->stack_size;
}

void weft__task_free(struct weft_task *t) {
  struct weft_loop *loop = t->fut.loop;
  weft__future_fini(&t->fut);
  weft__ctx_release(t->ctx_map);
  t->ctx_map = NULL;
  /* relaxed: whoever frees holds the last reference (acquire-ordered
   * after every other holder's writes). */
  struct weft__task_cold *c = atomic_load_explicit(&t->cold, memory_order_relaxed);
  if (c) {
    weft__strfree(c->name);
    weft__free(c, sizeof *c);
  }
  weft__worker_obj_free(loop, WEFT__OBJ_TASK, t, sizeof *t);
}

struct weft__task_cold *weft__task_cold_get(struct weft_task *t) {
  struct weft__task_cold *c = weft__task_cold_of(t);
  if (c) return c;
  struct weft__task_cold *fresh = weft__calloc(sizeof *fresh);
  if (!fresh) return NULL;
  /* acq_rel: release publishes the zeroed record to acquire loads
   * (weft__task_cold_of); on failure, acquire reads the one installed. */
  if (atomic_compare_exchange_strong_explicit(&t->cold, &c, fresh, memory_order_acq_rel,
                                              memory_order_acquire))
    return fresh;
  weft__free(fresh, sizeof *fresh);
  return c;
}

struct weft__task_times *weft__task_times_get(struct weft_task *t) {
  struct weft__task_cold *c = weft__task_cold_get(t);
  return c ? &c->times : NULL;
}

/* The suspension that ended at @now (if the last slice armed one) and the
 * wait for a worker that starts then. Our CAS to SCHEDULED (or the
 * worker's requeue) makes us the only writer until the task runs again. */
static void acct_ready_at(struct weft__task_times *tm, uint64_t now) {
  if (tm->stopped_at) {
    weft__count(&tm->suspended, now > tm->stopped_at ? now - tm->stopped_at : 0);
    weft__count32(&tm->suspended_n, 1);
    tm->stopped_at = 0;
  }
  tm->ready_at = now;
}

__attribute__((noinline)) void weft__task_acct_ready(struct weft_task *t) {
  struct weft__task_times *tm = weft__task_times_of(t); /* armed: they exist */
  if (tm) acct_ready_at(tm, weft__ticks());
}

/* The requeue's form: the slice that armed @t has just ended and stamped
 * stopped_at, so that stamp is also when the (empty) suspension ends and
 * the wait for a worker begins, a yield's suspension being 0. It saves one
 * clock read of the four a timed yield costs (ticks.c: ~26 ns with
 * kvm-clock). */
__attribute__((noinline)) void weft__task_acct_requeued(struct weft_task *t) {
  struct weft__task_times *tm = weft__task_times_of(t);
  if (tm) acct_ready_at(tm, tm->stopped_at ? tm->stopped_at : weft__ticks());
}

void weft__task_wake(struct weft_task *t) { weft__task_wake_hint(t, WEFT__SCHED_WAKE); }

void weft__task_wake_hint(struct weft_task *t, int hint) {
  weft__task_wake_at(t, hint, WEFT__PIN_OWN);
}

/* After a wake-up moved @t from IDLE to SCHEDULED: its queueing, which
 * that move made the waker's alone. */
static void wake_queue(struct weft_task *t, struct weft_loop *loop, int hint, int pinned) {
  /* relaxed: the move ordered us after the task's last write. */
  struct weft__task_run *x = weft__task_run_of(t); /* started, not done: IDLE */
  /* A task whose last slice was timed has this suspension timed too (we
   * own it now); asked without loading x's line where it can be. */
  if (weft__task_timed_for_waker(t)) weft__task_acct_ready(t);
  if (pinned == WEFT__PIN_OWN)
    pinned = loop->solo ? WEFT__UNPINNED : atomic_load_explicit(&x->pinned, memory_order_relaxed);
  weft__schedule(loop, &x->r, pinned, (enum weft__sched_hint)hint);
}

/* What a wake-up makes of state @s (not DONE, which it leaves): IDLE
 * becomes SCHEDULED (the waker queues it); queued or running (SCHEDULED),
 * or already notified, becomes NOTIFIED, so that its suspension fails and
 * its next slice's start reads from this write and sees our flag (the
 * design comment). */
static inline uint8_t woken(uint8_t s) {
  return s == WEFT__TASK_IDLE ? WEFT__TASK_SCHEDULED : WEFT__TASK_NOTIFIED;
}

/* The wake-up's move with compare-and-swaps: true if it moved @t from
 * IDLE to SCHEDULED (the caller queues it). */
static bool wake_swap(struct weft_task *t) {
  uint8_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
  /* acq_rel: see the design comment. On failure s is reloaded. */
  while (s != WEFT__TASK_DONE)
    if (atomic_compare_exchange_weak_explicit(&t->state, &s, woken(s), memory_order_acq_rel,
                                              memory_order_relaxed))
      return s == WEFT__TASK_IDLE;
  return false;
}

/* A one-worker loop's task woken by a thread other than its running
 * worker: the move under the task's future lock (taskstate.h). Never in
 * an owner section (taskstate.h): it may revoke the loop's sections. */
static __attribute__((noinline)) void wake_foreign(struct weft_task *t, struct weft_loop *loop, int hint,
                                                   int pinned) {
  weft__futlock(&t->fut);
  bool queue = wake_swap(t);
  weft__futunlock(&t->fut);
  if (queue) wake_queue(t, loop, hint, pinned);
}

void weft__task_wake_at(struct weft_task *t, int hint, int pinned) {
  struct weft_loop *loop = t->fut.loop;
  if (loop->solo) {
    if (__builtin_expect(!weft__futlock_is_owner(loop), 0)) {
      wake_foreign(t, loop, hint, pinned);
      return;
    }
    /* The running worker: a plain move in a section where it may
     * (taskstate.h), woken's as wake_swap's; the flags the waker wrote
     * reach the task's slice on this thread. */
    struct weft__owner *o = loop->owner;
    enum weft__tstate_way way = weft__task_state_begin(o, t);
    if (__builtin_expect(way != WEFT__TSTATE_SWAP, 1)) {
      uint8_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
      if (s != WEFT__TASK_DONE) atomic_store_explicit(&t->state, woken(s), memory_order_relaxed);
      weft__task_state_end(o, way);
      if (s == WEFT__TASK_IDLE) wake_queue(t, loop, hint, pinned);
      return;
    }
  }
  if (wake_swap(t)) wake_queue(t, loop, hint, pinned);
}

bool weft__task_take_cancel_slow(struct weft_task *t) {
  weft__futlock(&t->fut);
  bool had = atomic_load_explicit(&t->must_cancel, memory_order_relaxed) != 0;
  atomic_store_explicit(&t->must_cancel, 0, memory_order_relaxed);
  weft__futunlock(&t->fut);
  return had;
}

void weft__task_recancel(struct weft_task *t) {
  weft__futlock(&t->fut);
  /* Only if a request is still standing: uncancel() may have withdrawn it.
   * AT_END: it reached a suspension point, where asyncio delivers it. */
  if (t->cancel_requests > 0)
    atomic_store_explicit(&t->must_cancel, WEFT__CANCEL_PENDING | WEFT__CANCEL_AT_END,
                          memory_order_relaxed); /* under the lock */
  weft__futunlock(&t->fut);
}

struct wait_timer {
  struct weft__timer timer;
  struct weft_task *task;
  _Atomic uint32_t fired;
};

static void wait_timer_fire(struct weft__timer *tm) {
  struct wait_timer *wt = weft__container_of(tm, struct wait_timer, timer);
  /* release: the task's acquire load sees the timeout. Runs under the heap
   * lock, which the task takes (weft__timers_cancel) before leaving. */
  atomic_store_explicit(&wt->fired, 1, memory_order_release);
  weft__task_wake_hint(wt->task, WEFT__SCHED_URGENT);
}

/* A wait with a deadline: the timer lives in this frame only, so that the
 * frames a deadline-free wait leaves on its (cold, while suspended) stack
 * stay small: a resumption reloads fewer lines. */
static __attribute__((noinline)) int task_wait_until(struct weft_task *t, _Atomic uint32_t *fired,
                                                     uint64_t deadline_ns, bool cancellable) {
  struct wait_timer wt = {.task = t};
  atomic_init(&wt.fired, 0);
  weft__timer_init(&wt.timer, wait_timer_fire);
  if (weft__timers_add(&weft__worker_self()->timers, &wt.timer, deadline_ns) != 0) return -ENOMEM;
  int rc = weft__task_wait_loop(t, weft__worker_self()->loop, fired, NULL, &wt.fired, cancellable);
  weft__timers_cancel(&wt.timer); /* waits out a firing callback */
  return rc;
}

static inline __attribute__((always_inline)) int task_wait(struct weft_task *t,
                                                           _Atomic uint32_t *fired,
                                                           uint64_t deadline_ns, bool cancellable) {
  if (deadline_ns) return task_wait_until(t, fired, deadline_ns, cancellable);
  /* The loop from the worker, whose line is hot, not from the task's
   * first line, which nothing else on this path reads (a task runs on its
   * loop's workers). */
  return weft__task_wait_loop(t, weft__worker_self()->loop, fired, NULL, NULL, cancellable);
}

int weft__task_wait(struct weft_task *t, _Atomic uint32_t *fired, uint64_t deadline_ns) {
  return task_wait(t, fired, deadline_ns, true);
}

int weft__task_wait_nocancel(struct weft_task *t, _Atomic uint32_t *fired, uint64_t deadline_ns) {
  return task_wait(t, fired, deadline_ns, false);
}

void weft__task_finish(struct weft_task *t, int err, void *result) {
  char *msg = NULL;
  struct weft__task_run *x = weft__task_run_of(t); /* NULL: it never ran */
  if (x) {
    msg = x->fail_msg;
    x->fail_msg = NULL;
  } else {
    /* Its body's slot becomes the slice count, as a start would make it;
     * the completion below publishes it (weft__task_runs). */
    atomic_store_explicit(&t->runs, 0, memory_order_relaxed);
  }
  if (err < 0) {
    result = NULL;
  } else if (msg) {
    weft__strfree(msg); /* a weft_fail() whose error the body did not return */
    msg = NULL;
  }
  weft__registry_remove(t);
  task_slot_give(t->fut.loop);
  /* Alone: the scheduler's reference, which our caller holds, is the only
   * one (a detached task nobody awaits). Then nobody else can reach t: a
   * new reference needs an old one or the registry, which it has just
   * left, and whoever found it there (weft_loop_tasks' visitor, the dump)
   * is ordered before this load: registry_remove waited it out, or read
   * the release decrement it left with (registry.h). So its future has
   * no entries and no lock pass is needed (two
   * locked instructions a task). acquire: the last other holder's release
   * (acq_rel) makes its writes visible, as the lock would. */
  bool alone = atomic_load_explicit(&t->fut.refs, memory_order_acquire) == 1;
  /* Else an owner section where it may be (owner.h), or the lock. */
  struct weft__owner *own = alone ? NULL : weft__future_lock_to_complete(&t->fut);
  /* asyncio's Task.__step: a body that returns normally while a
   * cancellation waits to be delivered ends cancelled (its value is
   * dropped); an error it returns wins. Decided under the lock that
   * weft_task_cancel takes, so a request it accepted (it saw the task not
   * done) is never lost. Only an awaiter's passed-on request (no AT_END)
   * is outrun by the return: it came during this last step, from another
   * worker, and is taken as coming after the end (task.h). */
  uint8_t pending = atomic_load_explicit(&t->must_cancel, memory_order_relaxed);
  if (pending) atomic_store_explicit(&t->must_cancel, 0, memory_order_relaxed); /* under the lock */
  if (err == 0 && (pending & WEFT__CANCEL_AT_END)) {
    err = -ECANCELED;
    result = NULL;
  }
  /* The cancellation's message waits in fut.msg (weft_task_cancel). */
  char *cancel_msg = t->fut.msg;
  if (cancel_msg) {
    t->fut.msg = NULL;
    if (err == -ECANCELED && !msg) msg = cancel_msg;
    else weft__strfree(cancel_msg);
  }
  /* The caller's reference (the scheduler's, or the stale first-run
   * entry's for an inline child) keeps t alive through the unlock. */
  weft__future_complete_locked(&t->fut, err, result, msg);
  if (!alone) weft__futlock_end(&t->fut, own);
}

/* What @t waits on now, if cancelling @t here may cancel that wait on the
 * spot, as asyncio's Task.cancel() cancels its _fut_waiter: the future it
 * is suspended on in weft_await (returned), so another task that awaits it
 * too, or completes it before @t runs again, sees it cancelled at once; or
 * the waitlist node of a sync/ wait (*@node), which the primitive's wakers
 * then skip, as asyncio's skip a cancelled waiter's future (waitlist.h).
 * Only on a one-worker loop's own thread, with @t not the one running: @t
 * cannot resume meanwhile, so the future and the node outlive the call
 * (the wait @t is suspended in holds them). Elsewhere @t cancels the
 * future when it wakes (weft__future_cancel_awaited) and leaves the node
 * itself. */
static struct weft_future *waited_now(struct weft_task *t, struct weft__waiter_node **node) {
  *node = NULL;
  struct weft_loop *loop = t->fut.loop;
  struct weft__worker *w = weft__worker_self();
  if (!loop->solo || !w || w->loop != loop || weft__worker_current(w) == t) return NULL;
  /* relaxed: written on this thread (one worker). */
  struct weft__task_run *x = atomic_load_explicit(&t->run, memory_order_relaxed);
  if (!x) return NULL;
  *node = atomic_load_explicit(&x->wait_node, memory_order_relaxed);
  if (atomic_load_explicit(&x->block_kind, memory_order_relaxed) != WEFT__BLOCK_FUTURE)
    return NULL;
  return (struct weft_future *)atomic_load_explicit(&x->blocked.obj, memory_order_relaxed);
}

/* weft_task_cancel with must_cancel's @bits (task.h). */
static int task_cancel(struct weft_task *t, const char *msg, uint8_t bits) {
  if (weft__future_mark_retrieved_if_done(&t->fut)) return 0;
  char *copy = NULL;
  if (msg && !(copy = weft__strdup(msg))) return -ENOMEM;
  weft__futlock(&t->fut);
  if (atomic_load_explicit(&t->fut.state, memory_order_relaxed) == WEFT__FUT_DONE) {
    t->fut.retrieved = 1; /* as above: asyncio's cancel() clears _log_traceback */
    weft__futunlock(&t->fut);
    weft__strfree(copy);
    return 0;
  }
  if (t->cancel_requests == WEFT__CANCEL_REQUESTS_MAX) {
    weft__futunlock(&t->fut);
    weft__strfree(copy);
    return -EOVERFLOW;
  }
  t->cancel_requests++;
  /* The task's own request comes during its step: AT_END whatever form. */
  if (t == weft__task_self()) bits |= WEFT__CANCEL_AT_END;
  /* release: pairs with the acquire hint load in weft__task_take_cancel. */
  uint8_t had = atomic_load_explicit(&t->must_cancel, memory_order_relaxed); /* under the lock */
  atomic_store_explicit(&t->must_cancel, had | bits, memory_order_release);
  if (copy) { /* kept in fut.msg until the end (future.h) */
    weft__strfree(t->fut.msg);
    t->fut.msg = copy;
  }
  /* A child running inline on our fiber is what we await: asyncio cancels
   * the awaited task too. acquire: a task started on another thread; not
   * done, so its execution part stays while we hold the lock (the end
   * completes the future under it before it gives the part back). */
  struct weft__task_run *x = atomic_load_explicit(&t->run, memory_order_acquire);
  struct weft_task *child = x ? x->inline_child : NULL;
  if (child) weft_task_ref(child);
  struct weft__waiter_node *node;
  struct weft_future *awaited = waited_now(t, &node);
  weft__futunlock(&t->fut);
  /* Before the wake-up: the awaited future's waiters (@t first among them
   * if it came first) are woken in their order, as asyncio's callbacks. */
  if (awaited && !weft__future_is_done(awaited)) weft__future_cancel(awaited, NULL);
  if (node) weft__wl_mark_cancelled(node);
  weft__task_wake(t);
  if (child) { /* what the host awaits: its cancellation passed on */
    weft__task_cancel_for_awaiter(child, NULL);
    weft_task_release(child);
  }
  return 1;
}

int weft_task_cancel(weft_task_t *t, const char *msg) {
  if (!t) return -EINVAL;
  return task_cancel(t, msg, WEFT__CANCEL_PENDING | WEFT__CANCEL_AT_END);
}

int weft__task_cancel_for_awaiter(struct weft_task *t, const char *msg) {
  return task_cancel(t, msg, WEFT__CANCEL_PENDING);
}

bool weft__task_run_inline(struct weft_task *host, struct weft_task *child) {
  struct weft_loop *loop = host->fut.loop;
  if (loop->fifo || child->fut.loop != loop || weft__task_home(child) != weft__task_home(host) ||
      atomic_load_explicit(&child->fut.task_claim, memory_order_relaxed) != 0 ||
      atomic_load_explicit(&loop->closing, memory_order_relaxed))
    return false;
  /* The child's stack guarantee: a size asked for explicitly must be left
   * on the host's stack; a default-sized child needs the inline minimum
   * (task.h). */
  uint32_t own = own_stack_size(child);
  size_t need = own ? own : WEFT__INLINE_STACK_MIN;
  struct weft__task_run *hx = weft__task_run_of(host);
  char *sp = __builtin_frame_address(0);
  if (!hx->fiber.stack_lo || sp - (char *)hx->fiber.stack_lo < (ptrdiff_t)need) return false;
  uint8_t expected = 0;
  /* acq_rel: the claim decides, once, who runs the body; acquire sees the
   * spawner's initialization through the queue entry's publication. */
  if (!atomic_compare_exchange_strong_explicit(&child->fut.task_claim, &expected, 1, memory_order_acq_rel,
                                               memory_order_relaxed))
    return false;
  /* Its first-run entry, if it still waits in this worker's LIFO slot (a
   * child awaited with no spawn between: in fib(30), 62% of them), leaves
   * the queue now with the reference it carries, released when the child
   * has ended. Left there, it went stale and was displaced into the ring
   * and the injection queue by later spawns, holding its handle until
   * a worker popped it: fork_join with two workers peaked at 1.1 million
   * such handles, 170 MiB, with ~50 tasks alive (benchmarks/RESULTS.md,
   * issue 13). */
  bool unqueued = weft__worker_take_start(weft__worker_self(), &child->r_start);
  if (weft__task_take_cancel(child)) {
    weft__task_finish(child, -ECANCELED, NULL); /* never ran, as asyncio */
    atomic_store_explicit(&child->state, WEFT__TASK_DONE, memory_order_release);
    if (unqueued) weft_future_release(&child->fut);
    return true;
  }
  /* The child's execution part lives in this frame, which it cannot
   * outlive: we return only once its body has (task.h). */
  struct weft__task_run cx;
  weft__task_run_init(&cx, child, NULL);
  cx.fiber = hx->fiber; /* borrow the host's stack (and its tool fibers) */
#if defined(WEFT__TSAN)
  cx.fiber.tsan_owned = false;
#endif
  /* release: the dump and cancellers acquire-load it (task.h). */
  atomic_store_explicit(&child->run, &cx, memory_order_release);
  weft__futlock(&host->fut);
  hx->inline_child = child;
  /* A cancellation of the host since its caller's check found no child to
   * pass on to (weft_task_cancel reads inline_child under this lock): pass
   * it on now, as asyncio's Task.__step cancels the future it is about to
   * wait on when _must_cancel is set. Otherwise the child, not cancelled,
   * could wait forever, and the host with it (tests/stress/test_races.c,
   * cancel_vs_inline_await). The host keeps its request, as
   * weft_task_cancel leaves it. */
  bool pass_on = atomic_load_explicit(&host->must_cancel, memory_order_relaxed); /* under the lock */
  weft__futunlock(&host->fut);
  if (pass_on) weft_task_cancel(child, NULL);
  /* As a worker starting a slice (prepare_task): a waker that notified it
   * before now must have its flag seen. */
  weft__task_slice_starts(&child->state);
  weft__worker_set_current(weft__worker_self(), child);
  /* cfg.task_fp_env: the child starts as a fresh fiber would, and the
   * host gets its own control state back, whatever the child left. */
  weft__fp_ctl host_fp = loop->task_fp_env ? weft__fp_ctl_get() : 0;
  if (loop->task_fp_env) weft__fp_ctl_set(loop->fp_init);
  void *result = NULL;
  int rc = cx.fn(cx.arg, &result);
  if (loop->task_fp_env) weft__fp_ctl_set(host_fp);
  weft__task_finish(child, rc < 0 ? rc : 0, result);
  atomic_store_explicit(&child->state, WEFT__TASK_DONE, memory_order_release);
  weft__worker_set_current(weft__worker_self(), host); /* we may be on another worker by now */
  /* Ended, and no longer current: its execution part goes with this
   * frame. relaxed: nobody may use it past the end (task.h). */
  atomic_store_explicit(&child->run, NULL, memory_order_relaxed);
  weft__futlock(&host->fut);
  hx->inline_child = NULL;
  weft__futunlock(&host->fut);
  if (unqueued) weft_future_release(&child->fut); /* the entry's reference */
  return true;
}

int weft_task_cancelling(weft_task_t *t) {
  if (!t) return -EINVAL;
  weft__futlock(&t->fut);
  int n = (int)t->cancel_requests;
  weft__futunlock(&t->fut);
  return n;
}

/* Whether a cancellation of @t was delivered to the wait @t is suspended
 * in: on a one-worker loop, a task in a cancellable sync/ wait with a
 * request pending was cancelled during it, and its waitlist node may be
 * marked (sync/waitlist.h), skipped by the wakers from then on. asyncio's
 * Task.uncancel() does not undo the cancellation of the future the task
 * waits on, so neither does weft_task_uncancel then: the request stays
 * for that wait to end with. Under fut.lock (which keeps t->run's record
 * alive); acquire: as weft_task_cancel's load of t->run. */
static bool delivered_to_wait(struct weft_task *t) {
  if (!t->fut.loop->solo || !atomic_load_explicit(&t->must_cancel, memory_order_relaxed)) return false;
  struct weft__task_run *x = atomic_load_explicit(&t->run, memory_order_acquire);
  /* relaxed: only whether the task is in such a wait now. */
  return x && atomic_load_explicit(&x->wait_node, memory_order_relaxed) != NULL;
}

/* weft_task_uncancel's work, under fut.lock: the requests left. */
static int uncancel_locked(struct weft_task *t) {
  if (t->cancel_requests > 0) t->cancel_requests--;
  if (t->cancel_requests == 0 && !delivered_to_wait(t))
    atomic_store_explicit(&t->must_cancel, 0, memory_order_relaxed);
  return (int)t->cancel_requests;
}

int weft_task_uncancel(weft_task_t *t) {
  if (!t) return -EINVAL;
  weft__futlock(&t->fut);
  int n = uncancel_locked(t);
  weft__futunlock(&t->fut);
  return n;
}

bool weft__task_withdraw_cancel(struct weft_task *t) {
  weft__futlock(&t->fut);
  bool pending = atomic_load_explicit(&t->must_cancel, memory_order_relaxed) != 0;
  if (pending) uncancel_locked(t);
  weft__futunlock(&t->fut);
  return pending;
}

long weft_task_stack_used(weft_task_t *t) {
  if (!t) return -EINVAL;
  if (!t->fut.loop->track_stack) return -ENODATA;
  if (t == weft__task_self()) { /* itself, so far; an inline child has no stack */
    struct weft__stack *stack = weft__task_run_of(t)->stack;
    return stack ? (long)weft__stack_touched(stack) : -ENODATA;
  }
  if (!weft_future_done(&t->fut)) return -EBUSY;
  /* Written before the task finished; the done check's acquire orders it. */
  const struct weft__task_cold *c = weft__task_cold_of(t);
  return c && c->stack_used ? (long)c->stack_used : -ENODATA;
}

const char *weft_task_name(weft_task_t *t) {
  if (!t) return NULL;
  weft__futlock(&t->fut);
  const char *n = weft__task_name_locked(t);
  weft__futunlock(&t->fut);
  return n;
}

/* "Task-<id>": the name of a task never named (asyncio's default). */
static void default_name(const struct weft_task *t, char *buf, size_t len) {
  snprintf(buf, len, "Task-%llu", (unsigned long long)t->id);
}

void weft__task_copy_name(struct weft_task *t, char *buf, size_t len) {
  weft__futlock(&t->fut);
  const struct weft__task_cold *c = weft__task_cold_of(t);
  if (c && c->name) snprintf(buf, len, "%s", c->name);
  else default_name(t, buf, len); /* what a first read would make */
  weft__futunlock(&t->fut);
}

const char *weft__task_name_locked(struct weft_task *t) {
  struct weft__task_cold *c = weft__task_cold_get(t);
  if (!c) return "Task";
  if (!c->name) { /* made at the first read (no room kept for it in the task) */
    char buf[32];
    default_name(t, buf, sizeof buf);
    c->name = weft__strdup(buf);
  }
  return c->name ? c->name : "Task";
}

int weft_task_set_name(weft_task_t *t, const char *name) {
  if (!t || !name) return -EINVAL;
  struct weft__task_cold *c = weft__task_cold_get(t); /* any thread: installed by CAS */
  char *copy = c ? weft__strdup(name) : NULL;
  if (!copy) return -ENOMEM;
  weft__futlock(&t->fut);
  char *old = c->name;
  c->name = copy;
  weft__futunlock(&t->fut);
  weft__strfree(old);
  return 0;
}

uint64_t weft_task_id(const weft_task_t *t) { return t ? t->id : 0; }

int weft__loop_count_tasks(struct weft_loop *loop) { return weft__registry_visit(loop, NULL, NULL); }

int weft__loop_tasks_all(struct weft_loop *loop, int (*visit)(weft_task_t *t, void *arg), void *arg) {
  if (atomic_load_explicit(&loop->closed, memory_order_acquire)) return 0;
  return weft__registry_visit(loop, visit, arg);
}

/* weft_loop_tasks' visit: the program's tasks only (task.h, internal). */
struct program_visit {
  int (*visit)(weft_task_t *t, void *arg);
  void *arg;
  int n;
};

static int visit_program_task(weft_task_t *t, void *arg) {
  struct program_visit *p = arg;
  if (weft__task_internal(t)) return 0;
  p->n++;
  return p->visit(t, p->arg);
}

int weft_loop_tasks(weft_loop_t *loop, int (*visit)(weft_task_t *t, void *arg), void *arg) {
  if (!loop || !visit) return -EINVAL;
  struct program_visit p = {visit, arg, 0};
  weft__loop_tasks_all(loop, visit_program_task, &p);
  return p.n;
}

int weft_fail(int err, const char *fmt, ...) {
  struct weft_task *t = weft__task_self();
  if (!t || !fmt) return err;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  char *copy = weft__strdup(buf);
  if (copy) {
    struct weft__task_run *x = weft__task_run_of(t);
    weft__strfree(x->fail_msg);
    x->fail_msg = copy;
  }
  return err;
}

int weft__task_cancelled_after_pass(struct weft_task *t) {
  /* relaxed: as weft_yield's look. */
  if (!atomic_load_explicit(&t->fut.loop->closing, memory_order_relaxed)) weft__worker_yield(t);
  weft__task_take_cancel(t);
  return -ECANCELED;
}

int weft_yield(void) {
  struct weft_task *t = weft__task_self();
  if (!t) return -EPERM;
  if (atomic_load_explicit(&t->fut.loop->closing, memory_order_relaxed)) return -ECANCELED;
  weft__worker_yield(t); /* back of the queue, once switched out */
  return weft__task_take_cancel(t) ? -ECANCELED : 0;
}
