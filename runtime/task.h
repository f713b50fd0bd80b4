/*
 * task.h (private) - the task object, its states and its transitions.
 *
 *   (spawn) --> SCHEDULED --run--> RUNNING --suspend--> IDLE --wake--> SCHEDULED
 *                                   |   ^ wake while running: NOTIFIED,
 *                                   |   | re-queued as soon as it suspends
 *                                   +--end--> DONE
 *
 * Transitions: weft__task_wake (IDLE->SCHEDULED, RUNNING->NOTIFIED),
 * worker.c run_task (SCHEDULED->RUNNING, RUNNING->IDLE or re-queue, ->DONE).
 * Only the worker that popped a SCHEDULED task runs it.
 *
 * First run and inline children (fork-join): spawn queues r_start, which
 * carries the scheduler's reference. Whoever wins the CAS on claim runs the
 * body: the worker that pops r_start, or a task awaiting the unstarted child,
 * which then runs it inline on its own fiber (no stack, no switch). An
 * r_start popped after an inline claim is stale: its popper drops the
 * reference it carries. An inline child borrows its host's fiber: if it
 * suspends, it suspends as itself on the host's stack, and whoever resumes
 * it resumes that stack; when its body returns, the host carries on. The
 * worker learns who switched out from w->current, never from what it
 * switched in. Inline runs happen only in LOCALITY order (FIFO keeps
 * asyncio's exact order), when both tasks share their pinning, when the
 * await has no deadline (the host could not leave before the child ends),
 * and with enough of the host's stack left: the child's own stack_size if
 * it was spawned with an explicit one (a guarantee the inline path must
 * keep), else WEFT__INLINE_STACK_MIN. Requiring the full default size for
 * default-sized children would end inline runs altogether (the host never
 * has its whole stack left): measured, fork_join went from 225 to over
 * 1000 ns per spawn.
 */
#ifndef WEFT_RUNTIME_TASK_PRIV_H
#define WEFT_RUNTIME_TASK_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "fiber.h"
#include "future.h"
#include "runnable.h"
#include "stack.h"

enum weft__task_state {
  WEFT__TASK_IDLE = 0,
  WEFT__TASK_SCHEDULED = 1,
  WEFT__TASK_RUNNING = 2,
  WEFT__TASK_NOTIFIED = 3,
  WEFT__TASK_DONE = 4,
};

struct weft__registry;

/* What a suspended task waits on (debug.c reads it for the dump). Written
 * by the task itself just before it suspends, with relaxed stores: the
 * dump reads it only while it holds the task (debug.c's claim), which
 * orders it after these writes. */
enum weft__block_kind {
  WEFT__BLOCK_NONE = 0,
  WEFT__BLOCK_FUTURE,     /* obj: the future; arg: the task's id if it is one, else 0 */
  WEFT__BLOCK_SLEEP,      /* arg: the deadline (monotonic ns) */
  WEFT__BLOCK_LOCK,       /* obj: the lock; arg: the holder's id when we queued */
  WEFT__BLOCK_EVENT,
  WEFT__BLOCK_COND,
  WEFT__BLOCK_SEM,
  WEFT__BLOCK_BARRIER,
  WEFT__BLOCK_QUEUE_GET,
  WEFT__BLOCK_QUEUE_PUT,
  WEFT__BLOCK_QUEUE_JOIN,
  WEFT__BLOCK_IO,         /* obj: NULL; arg: fd << 8 | request kind */
  WEFT__BLOCK_WAIT,       /* wait()/gather(): obj: the first future */
  WEFT__BLOCK_AS_COMPLETED,
  WEFT__BLOCK_GEN,        /* obj: the generator */
  WEFT__BLOCK_TASKGROUP,  /* obj: the group */
  WEFT__BLOCK_SERVER,     /* serve_forever / close: obj: the server */
  WEFT__BLOCK_RESOLVE,    /* getaddrinfo on a thread */
  WEFT__BLOCK_OFFLOAD,    /* a file call on the offload pool; arg as IO */
  WEFT__BLOCK_KINDS
};

struct weft__blocked {
  _Atomic(const void *) obj;
  _Atomic int64_t arg;
};

/* Per-task times (weft_task_get_stats), in ticks (ticks.h), sampled:
 * each worker times one slice in loop->acct_period (every slice in debug
 * mode), and a task whose slice was timed also has the suspension that
 * follows it and its next wait for a worker timed. Allocated at a task's
 * first timed slice (or sampled spawn), so most short tasks carry one NULL
 * pointer. The sums cover the timed intervals only; stats.c scales them by
 * the intervals counted (runs) to estimate the whole. Whoever owns the task
 * writes them (its worker while it runs; its waker between the CAS that
 * makes it runnable and its next slice), relaxed stores of its own loads;
 * readers see each value whole, maybe stale. */
struct weft__task_times {
  _Atomic uint64_t run;        /* timed slices' length */
  _Atomic uint64_t max_slice;  /* the longest timed slice */
  _Atomic uint64_t ready;      /* timed waits for a worker (scheduling delay) */
  _Atomic uint64_t suspended;  /* timed suspensions (or yields: ~0) */
  _Atomic uint32_t run_n, ready_n, suspended_n; /* how many of each were timed */
  uint64_t ready_at;           /* ticks when it became runnable (armed); 0: none */
  uint64_t stopped_at;         /* ticks when its timed slice ended; 0: none */
};

/* Layout: 320 bytes (no more: task.c asserts it), five cache lines
 * (jemalloc's 320-byte size class keeps them line-aligned), arranged so that a task's slice touches lines
 * 0, 1 and 3 only: line 1 holds what every wake-up and switch reads and
 * writes, line 3 the fiber and what a suspension notes; lines 2 and 4 hold
 * what the first run, cancellation, naming and the registry use. Measured
 * (benchmarks/RESULTS.md, issue 12): a spawn touches every line once, so a
 * sixth line cost spawn_many ~20%; a fourth hot line per slice cost
 * ping_pong ~5%. */
struct weft_task {
  /* line 0 */
  struct weft_future fut;   /* first: a task is a future */
  /* line 1 */
  struct weft__runnable r;       /* resumptions */
  struct weft__runnable r_start; /* the first run; may go stale (above) */
  _Atomic uint32_t state;   /* enum weft__task_state */
  uint32_t cancel_requests; /* under fut.lock */
  _Atomic uint8_t claim;    /* 0 until a worker or an inline host takes the first run */
  _Atomic bool must_cancel; /* a cancellation waits to be delivered; changed under fut.lock */
  bool explicit_stack;      /* stack_size was asked for (weft_task_opts); immutable */
  bool started;             /* owned by the running worker */
  _Atomic uint8_t block_kind; /* enum weft__block_kind: what it waits on (blocked) */
  /* Armed (struct weft__task_times): its last slice was timed, so its waker times the
   * suspension and its next slice the wait for a worker. Written by its
   * owner (worker or waker, see weft__task_times); relaxed. */
  _Atomic bool timed;
  _Atomic int16_t last_worker; /* where its last slice ran (-1: none yet); relaxed */
  /* Coarse clock, in ms (wraps after 49 days), when it last stopped
   * running: the dump's "for how long". Relaxed; read under the dump's claim. */
  _Atomic uint32_t since_ms;
  /* Worker index, or WEFT__UNPINNED: where wake-ups queue it. Written only by the task
   * itself while it runs (I/O pins it to its ring's worker, io/op.c); read
   * by wakers after their CAS from IDLE, which orders them after the
   * task's last write (relaxed accesses are enough). */
  _Atomic int pinned;
  /* line 2 */
  int home;                 /* the pinning it was spawned with; immutable */
  /* Its sampled times, or NULL; set once (release) by an owner, freed with
   * the task. */
  _Atomic(struct weft__task_times *) times;
  struct weft__ctx_map *ctx_map; /* its context (context.c): owned; only the task changes it */
  size_t stack_size;
  /* With track_stack_use: bytes touched, measured by the task itself just
   * before it finishes (the future's completion publishes it); 0: none. */
  size_t stack_used;
  weft_task_fn fn;
  void *arg;
  uint64_t id;
  /* line 3 */
  struct weft__stack *stack;
  struct weft__fiber fiber;
  struct weft_task *inline_child; /* the child running inline on our fiber; under fut.lock */
  struct weft__blocked blocked; /* what it waits on while suspended (with block_kind) */
  _Atomic uint64_t runs;    /* slices started (its worker writes; relaxed) */
  /* line 4 */
  char *cancel_msg;         /* under fut.lock */
  char *fail_msg;           /* set by weft_fail() on the task itself */
  char *name;               /* under fut.lock; NULL until named or first read */
  void *spawn_site;         /* the spawner's return address (the dump symbolizes it) */
  struct weft__registry *reg; /* where the task is listed while not done */
  struct weft__list reg_link; /* under reg->lock */
  /* The name of the sync object it waits on (a static string or NULL),
   * written with blocked by sync/ only (weft__task_blocked_named), so it
   * is current whenever block_kind is a sync kind; read under the dump's
   * claim. Here, in a line a suspension otherwise leaves alone, because
   * only waits on named objects need it. */
  _Atomic(const char *) blocked_name;
};

static inline struct weft_task *weft__task_of(struct weft_future *f) {
  return (struct weft_task *)f;
}

/* Notes what @t is about to wait on (the task itself, before it suspends). */
static inline void weft__task_blocked(struct weft_task *t, enum weft__block_kind kind,
                                      const void *obj, int64_t arg) {
  if (!t) return;
  /* relaxed: published by the suspension's release CAS (worker.c). */
  atomic_store_explicit(&t->block_kind, (uint8_t)kind, memory_order_relaxed);
  atomic_store_explicit(&t->blocked.obj, obj, memory_order_relaxed);
  atomic_store_explicit(&t->blocked.arg, arg, memory_order_relaxed);
}

/* weft__task_blocked for a wait on a sync object, with its name. */
static inline void weft__task_blocked_named(struct weft_task *t, enum weft__block_kind kind,
                                            const void *obj, int64_t arg, const char *name) {
  if (!t) return;
  atomic_store_explicit(&t->blocked_name, name, memory_order_relaxed); /* as blocked */
  weft__task_blocked(t, kind, obj, arg);
}

/* Copies @t's name into @buf (its "Task-<id>" if it has none yet), without
 * allocating: for the dump and the stall reports. Any thread. */
void weft__task_copy_name(struct weft_task *t, char *buf, size_t len);

/* weft_task_name's body, with t->fut.lock held: the name, made on first
 * read ("Task" if there is no memory for it). */
const char *weft__task_name_locked(struct weft_task *t);

/* weft_spawn_opts with the spawn site the dump shows for the task (the
 * user's call: task groups and run_threadsafe pass their caller's). */
int weft__spawn_at(weft_loop_t *loop, weft_task_fn fn, void *arg, const struct weft_task_opts *opts,
                   weft_task_t **out, void *site);

/* @t, armed (t->timed), becomes runnable now (its waker, or its worker
 * requeueing it): times the suspension that ends. */
void weft__task_acct_ready(struct weft_task *t);
/* @t's times, made if it has none (its owner only); NULL if there is no
 * memory for them (the interval goes uncounted). */
struct weft__task_times *weft__task_times_get(struct weft_task *t);

/* Makes a task runnable again after a suspension (any thread). */
void weft__task_wake(struct weft_task *t);
/* The same, saying where it should queue (worker.h, weft__sched_hint). */
void weft__task_wake_hint(struct weft_task *t, int hint);
/* The same, queueing it on worker @pinned (WEFT__UNPINNED: any; WEFT__PIN_OWN:
 * its pinned field) if this call is
 * the one that makes it runnable, whatever its pinned field says: the
 * reactor wakes a task whose I/O completed where it may be stolen. */
void weft__task_wake_at(struct weft_task *t, int hint, int pinned);

/* Suspends the current task until *fired is set, a cancellation is
 * requested, or @deadline_ns (absolute, 0 = none) passes. Returns 0,
 * -ECANCELED or -ETIMEDOUT. The caller then takes the lock protecting its
 * waiter node before leaving (future.h's waker rule). */
int weft__task_wait(struct weft_task *t, _Atomic uint32_t *fired, uint64_t deadline_ns);
/* The same, but cancellation neither ends the wait nor is consumed (it
 * stays pending for the next suspension point): for waits that must
 * complete, such as a Condition re-acquiring its lock. */
int weft__task_wait_nocancel(struct weft_task *t, _Atomic uint32_t *fired, uint64_t deadline_ns);

/* Puts back a cancellation taken by a wait whose operation completed anyway
 * (io/op.c): the next suspension point reports it. */
void weft__task_recancel(struct weft_task *t);

/* Takes a pending cancellation, if any: returns true and clears it. */
bool weft__task_take_cancel(struct weft_task *t);

/* Ends @t with @err/@result (on its own fiber, or on the scheduler for a task
 * cancelled before it started). */
void weft__task_finish(struct weft_task *t, int err, void *result);

/* Justification: fib-like recursion uses well under 1 KiB per inline level;
 * 16 KiB left leaves room for the child's own calls and for libc. */
#define WEFT__INLINE_STACK_MIN (16u * 1024u)

/* If @child has not started and may run on @host's fiber, runs it there to
 * its end and returns true; otherwise returns false and changes nothing. */
bool weft__task_run_inline(struct weft_task *host, struct weft_task *child);

/* The task running on the calling thread, or NULL. */
struct weft_task *weft__task_self(void);

void weft__task_free(struct weft_task *t);

#endif
