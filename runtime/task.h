/*
 * task.h (private) - the task object, its states and its transitions.
 *
 *   (spawn) --> SCHEDULED --suspend--> IDLE --wake--> SCHEDULED
 *                 |  ^ (queued, or running: a slice writes nothing)
 *                 |  | a wake while queued or running: NOTIFIED; its
 *                 |  | suspension then fails and it is queued again
 *                 +--end--> DONE
 *
 * Transitions: weft__task_wake (IDLE->SCHEDULED, SCHEDULED->NOTIFIED),
 * worker.c (a slice's start: NOTIFIED->SCHEDULED, only when notified;
 * suspension: SCHEDULED->IDLE, or re-queue when NOTIFIED; ->DONE). On a
 * one-worker loop the worker's moves are plain in owner sections, and
 * other threads make theirs under the task's future lock (taskstate.h).
 * Only the worker that popped a queued task runs it. Whether a task is on
 * a CPU is not in its state: its worker's `current` says (the dump).
 *
 * First run and inline children (fork-join): spawn queues r_start, which
 * carries the scheduler's reference. Whoever wins the CAS on claim runs the
 * body: the worker that pops r_start, or a task awaiting the unstarted child,
 * which then runs it inline on its own fiber (no stack, no switch). An
 * r_start popped after an inline claim is stale: its popper drops the
 * reference it carries. (A FIFO loop has no inline runs: there the popper
 * takes the first run without the CAS, worker.c's claim_start.) An inline child borrows its host's fiber: if it
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
#include "loop.h"
#include "runnable.h"
#include "stack.h"
#include "worker.h"

enum weft__task_state {
  WEFT__TASK_IDLE = 0,      /* suspended; a wake queues it */
  WEFT__TASK_SCHEDULED = 1, /* queued, or running */
  WEFT__TASK_NOTIFIED = 3,  /* queued or running, and woken since its slice began */
  WEFT__TASK_DONE = 4,
};

/* The start of a slice (a worker, or an inline host starting its child).
 * A notified task becomes SCHEDULED again with an acq_rel exchange, which
 * reads from the waker's CAS and so makes its flag visible to the slice;
 * a SCHEDULED one is left as it is: no write, no locked instruction on
 * the common path (task.c's design comment says why that is enough). */
static inline void weft__task_slice_starts(_Atomic uint8_t *state) {
  /* relaxed: a stale SCHEDULED costs one more slice (the suspension's CAS
   * fails on NOTIFIED), never a lost wake-up. */
  if (__builtin_expect(atomic_load_explicit(state, memory_order_relaxed) == WEFT__TASK_NOTIFIED, 0))
    atomic_exchange_explicit(state, WEFT__TASK_SCHEDULED, memory_order_acq_rel);
}

/* Holding a suspended task still, from any thread (the dump reads its
 * stack; stackdrop.c gives back the pages below it): the holder takes it
 * the way a worker takes a task it pops, by moving its state IDLE ->
 * SCHEDULED (acq_rel, as a waker's CAS). While it is held nobody resumes
 * it: a waker that comes meanwhile finds it SCHEDULED and marks it
 * NOTIFIED, exactly as if it ran, and the release (SCHEDULED -> IDLE, or
 * the requeue on NOTIFIED, worker.c's suspension rule) hands it on. So its
 * saved context and its stack stay as they are, and it cannot end, until
 * weft__task_unhold. A task that runs an inline child on its fiber stays
 * SCHEDULED (above) and is never held. weft__task_hold: false if @t was
 * not IDLE. weft__task_unhold queues @t if a wake came while it was held
 * (never runs it), and then returns true: on a worker's thread it goes to
 * that worker's own queue, without a wake-up, so a worker that holds
 * tasks from its scheduler (stackdrop.c, while parking) must look at its
 * queue before it sleeps. */
bool weft__task_hold(struct weft_task *t);
bool weft__task_unhold(struct weft_task *t);

struct weft__registry;

/* What a suspended task waits on (debug.c reads it for the dump). Written
 * by the task itself just before it suspends, with relaxed stores: the
 * dump reads it only while it holds the task (debug.c's claim), which
 * orders it after these writes. */
enum weft__block_kind {
  WEFT__BLOCK_NONE = 0,
  WEFT__BLOCK_FUTURE,     /* obj: the future; arg: the task's id if it is one, else 0 */
  WEFT__BLOCK_SLEEP,      /* arg: the deadline (monotonic ns) */
  WEFT__BLOCK_LOCK,       /* obj: the lock; arg: the holder's id when we queued (0: unknown) */
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

struct weft__waiter_node; /* sync/waitlist.h */

struct weft__blocked {
  _Atomic(const void *) obj;
  _Atomic int64_t arg;
};

/* Per-task times (weft_task_get_stats), in ticks (ticks.h), sampled:
 * each worker times one slice in loop->acct_period (every slice in debug
 * mode), and a task whose slice was timed also has the suspension that
 * follows it and its next wait for a worker timed. Part of the task's cold
 * record (below), made at its first timed slice (or sampled spawn), so
 * most short tasks have none. The sums cover the timed intervals only; stats.c scales them by
 * the intervals counted (runs) to estimate the whole. Whoever owns the task
 * writes them (its worker while it runs; its waker between the CAS that
 * makes it runnable and its next slice), relaxed stores of its own loads;
 * readers see each value whole, maybe stale. */
struct weft__task_times {
  _Atomic uint64_t run;        /* timed slices' length */
  _Atomic uint64_t max_slice;  /* the longest timed slice */
  _Atomic uint64_t ready;      /* timed waits for a worker (scheduling delay) */
  _Atomic uint64_t suspended;  /* timed suspensions (a yield's: 0) */
  _Atomic uint32_t run_n, ready_n, suspended_n; /* how many of each were timed */
  uint64_t ready_at;           /* ticks when it became runnable (armed); 0: none */
  uint64_t stopped_at;         /* ticks when its timed slice ended; 0: none */
};

/* A task's cold record: what few tasks have, or what is read only by the
 * statistics, the dump and naming. Made when first needed (a spawn with a
 * name, a stack size or a worker of its own, a sampled spawn or slice, the
 * first read of its name, its stack use at the end), at most once (a CAS
 * installs it; the loser frees its copy), freed with the task. 88 bytes
 * (jemalloc's class of 96) where these fields would take 26 bytes of
 * every handle: with the default sampling (1 in 32 or sparser) at most
 * one spawn in 16 makes one, 6 bytes a task on average or less (~2 on the
 * development VM, whose period is ~100). */
struct weft__task_cold {
  struct weft__task_times times; /* see above */
  char *name;                    /* under fut.lock; NULL until named or first read */
  /* The stack size asked for (weft_task_opts), page-rounded; 0: the
   * loop's (weft__task_stack_size). Set before the task is published
   * (the record is then made by the spawn); immutable. */
  uint32_t stack_size;
  /* With track_stack_use: bytes touched, measured by the task itself just
   * before it finishes (the future's completion publishes it); 0: none. */
  uint32_t stack_used;
  /* The worker it was spawned pinned to, plus one; 0: any worker (so a
   * record made later, zeroed, says unpinned). Set before the task is
   * published (a pinned spawn makes the record); immutable. Read through
   * weft__task_home. */
  uint16_t pin;
  /* The library's own task (weft__task_create_internal: a server's
   * acceptor, a stream's flusher, a generator's body), which asyncio runs
   * as no task: weft_loop_tasks (all_tasks) leaves it out. Set before the
   * task is published; immutable. */
  bool internal;
};

/* A task is two objects (the split):
 *
 *  - struct weft_task, the handle: what exists from the spawn until the
 *    last reference goes, so what a task that has not started yet or has
 *    ended needs (its future, state, first-run entry, body, names,
 *    registry slot, cancellation count, statistics). 112 bytes,
 *    jemalloc's 112-byte size class, where the task used to be 320,
 *    then 192, 160 and 128: a million spawned tasks held by their handles
 *    cost 107 MiB (and the registry's table 8 more), not 305, 183, 153 or
 *    122. What few tasks have (a name, a stack size or a worker of their
 *    own, sampled times, their stack use) is in a cold record made on
 *    demand (struct weft__task_cold).
 *  - struct weft__task_run, the execution part: what only a running or
 *    suspended task needs (its resumption entry, fiber, what it waits on,
 *    where it runs). It has no allocation of its own: it lives in the top
 *    bytes of the task's stack (WEFT__TASK_RUN_RESERVE, above the usable
 *    stack), taken at the first run and given back at the end, or, for a
 *    child that runs inline on its host's fiber, in the host's frame that
 *    runs it (task.c), which outlives the child by construction.
 *
 * t->run is NULL until the first run (written by whoever starts the task,
 * release; the dump acquire-loads it) and again once the task ended (its
 * worker, before the stack goes back; an inline host once the child is no
 * longer current). Between the two it is fixed. Who
 * may use it: the task itself and its worker; a waker after its CAS from
 * IDLE (the task is then started and not done); the dump while it holds
 * the task, or while it is a registry visitor of a task still listed
 * (registry.h; the end unlists the task before it gives the stack back).
 *
 * Layout of the handle: the future (56 bytes) and the id first; then what
 * each wake-up and slice touch (run, state, the flags: one 16-byte
 * block, which never straddles a line since jemalloc's 112-byte regions
 * are 16-aligned), then the body or slice count, the cold record and
 * context, and the first-run entry. A 112-byte region starts anywhere on
 * a 16-byte boundary, so the handle spans two or three lines (128 bytes
 * were two whole ones); measured, the 16 bytes saved a task were worth
 * it (benchmarks/RESULTS.md, 2026-12-03 18:30Z). What made 160 bytes 128
 * (issue 13): the future's entries head is one pointer (chain.h), a
 * task's spawn site takes the future's ops slot (a task has none), the
 * first-run entry is one word (runnable.h), the state is a byte, and the
 * pinning a spawn asked for lives in the cold record (pinned spawns are
 * rare: weft__task_home). What made 128 bytes 112: the registry's
 * intrusive list link (16 bytes) became a 4-byte slot in a table
 * (registry.h), the first-run claim lives in the future's padding byte,
 * the sampling's armed flag in the execution part (only a started task
 * can be armed), and the cancellation count is 16 bits (at most 65,535
 * standing requests: weft_task_cancel). The execution part's first line holds what every
 * slice touches (resumption entry, fiber, pinning, slice notes); its
 * second what a suspension notes, and the body and argument the first
 * run takes from the handle. So a slice touches one or two lines of the
 * handle and one or two of the execution part's; a spawn touches three
 * (measured in benchmarks/RESULTS.md, issue 13). */
struct weft__task_run {
  /* line 0 */
  struct weft__runnable r;  /* resumptions (kind WEFT__R_TASK) */
  struct weft_task *task;   /* whose (immutable while it is in use) */
  struct weft__fiber fiber;
  /* Worker index, or WEFT__UNPINNED: where wake-ups queue it. Written only by the task
   * itself while it runs (I/O pins it to its ring's worker, io/op.c); read
   * by wakers after their CAS from IDLE, which orders them after the
   * task's last write (relaxed accesses are enough). */
  _Atomic int pinned;
  /* Coarse clock, in ms (wraps after 49 days), when it last stopped
   * running: the dump's "for how long". Relaxed; read under the dump's claim. */
  _Atomic uint32_t since_ms;
  _Atomic int16_t last_worker; /* where its last slice ran (-1: none yet); relaxed */
  _Atomic uint8_t block_kind; /* enum weft__block_kind: what it waits on (blocked) */
  /* Armed: its last slice was timed (sampled accounting), so its waker
   * times the suspension and its next slice the wait for a worker; only
   * a task with times (struct weft__task_times) is ever armed. Here, not
   * with the times, because every wake-up and slice asks: this line they
   * touch anyway, where the cold record's was a miss each time once a
   * task had been sampled (benchmarks/RESULTS.md, 2026-12-05). Written by
   * its owner (worker or waker, see weft__task_times); relaxed. Read
   * through weft__task_timed. */
  _Atomic bool timed;
  struct weft__stack *stack;    /* the stack this lives on; NULL: an inline child's */
  /* line 1 (stack above ends line 0 in the default build: the assembly
   * switch, no TSan) */
  struct weft_task *inline_child; /* the child running inline on our fiber; under fut.lock */
  struct weft__blocked blocked; /* what it waits on while suspended (with block_kind) */
  /* The name of the sync object it waits on (a static string or NULL),
   * written with blocked by sync/ only (weft__task_blocked_named), so it
   * is current whenever block_kind is a sync kind; read under the dump's
   * claim. */
  _Atomic(const char *) blocked_name;
  char *fail_msg;           /* set by weft_fail() on the task itself; its end adopts it */
  /* The waitlist node it waits on cancellably (sync/waitlist.c, wl_sleep),
   * or NULL: what weft_task_cancel marks on a one-worker loop's own thread
   * (asyncio cancels the waiter's future at once). Written by the task,
   * read by that thread while the task is suspended: relaxed. */
  _Atomic(struct weft__waiter_node *) wait_node;
  /* The body and its argument, taken from the handle by whoever starts
   * the task (the handle's slots then hold the slice count and the
   * outcome); read once, by the first step. */
  weft_task_fn fn;
  void *arg;
};

/* Bytes at the top of every task stack that hold its execution part:
 * whole cache lines, so the fiber's usable stack below keeps its
 * alignment. */
#define WEFT__TASK_RUN_RESERVE ((sizeof(struct weft__task_run) + 63u) & ~(size_t)63u)

/* Stack colouring. Every stack's top sits at the same offset within its
 * page, and the caches index lines by address: the top lines of a
 * thousand stacks (the execution part, the frames a shallow task touches,
 * the registers a switch saves) all compete for the same few sets, and
 * miss where a heap object would hit. So a task's execution part, and its
 * fiber's stack top with it, sit a colour below the stack's top: each
 * worker's first runs take the WEFT__STACK_COLORS colours in turn,
 * WEFT__STACK_COLOR_STEP bytes apart. Measured (benchmarks/RESULTS.md,
 * issue 13): yield_many (1,000 tasks) ran 0.5x the time with 16 colours;
 * ping_pong (2,000 tasks) 0.89x more with 32 (64: 0.92x of that again,
 * but a suspended task then often holds a second stack page). At most
 * 1,984 bytes of the top page go unused, so a task whose frames fit in
 * the other 2 KiB still touches one page. */
#define WEFT__STACK_COLORS 32u
#define WEFT__STACK_COLOR_STEP 64u

struct weft_task {
  /* First: a task is a future (56 bytes). From the spawn until the end
   * writes the outcome, fut.result holds the body's argument, which the
   * start reads once (nobody reads a pending future's result): Tokio's
   * task cell keeps its future and then its output in one slot the same
   * way. fut.spawn_site is the spawner's return address (the dump
   * symbolizes it): a task has no future ops, so it takes their slot.
   * fut.task_claim is its first-run claim. */
  struct weft_future fut;
  uint64_t id; /* immutable */
  /* What each wake-up and slice touch: 16 bytes, on one line. */
  _Atomic(struct weft__task_run *) run; /* its execution part (above); NULL: not started, or ended */
  _Atomic uint8_t state;       /* enum weft__task_state */
  _Atomic uint8_t must_cancel; /* WEFT__CANCEL_* bits (below); changed under fut.lock */
  /* Requests not withdrawn (cancelling()), under fut.lock; at most
   * WEFT__CANCEL_REQUESTS_MAX (weft_task_cancel refuses more). */
  uint16_t cancel_requests;
  /* Where it is listed (registry.h): its shard << loop->reg_index_bits |
   * its slot. Written by the spawn before the task is published; read by
   * its end and by visitors holding a reference. */
  uint32_t reg_slot;
  /* The body until its first run, then the slices started (its worker
   * writes them; relaxed). Whoever starts the task takes the body (and
   * the argument from fut.result) into the execution part and zeroes the
   * count before it publishes run, and an end without a start zeroes it
   * before the completion: weft__task_runs reads the count only after
   * seeing either. */
  union {
    weft_task_fn fn;
    _Atomic uint64_t runs;
  };
  _Atomic(struct weft__task_cold *) cold; /* NULL until needed (above) */
  struct weft__ctx_map *ctx_map; /* its context (context.c): owned; only the task changes it */
  struct weft__runnable r_start; /* the first run; may go stale (above); one word */
};

/* must_cancel's bits. PENDING: a request waits for the body's current or
 * next suspension point. AT_END: one of them also ends the task cancelled
 * if its body returns 0 first (asyncio's Task.__step: "cancelled right
 * before coro stops"); every request has it but one passed on by what
 * awaits the task (weft__task_cancel_for_awaiter: a cancelled awaiter,
 * a gathering future, a TaskGroup) from another thread, which a return
 * after the last suspension point outruns, as on asyncio's one thread it
 * could only have come before that step (and been delivered at the
 * suspension point) or after the end (and found the task done). A task's
 * own request, made during its step, always has it. Zero: none. */
enum {
  WEFT__CANCEL_PENDING = 1,
  WEFT__CANCEL_AT_END = 2,
};

/* weft_task_cancel's limit on requests not withdrawn (a 16-bit count). */
#define WEFT__CANCEL_REQUESTS_MAX UINT16_MAX

static inline struct weft_task *weft__task_of(struct weft_future *f) {
  return (struct weft_task *)f;
}

/* The execution part of a started task that has not ended (the rules
 * above say who may call this). relaxed: whoever may use it is ordered
 * after its writer by the rule that lets them. */
static inline struct weft__task_run *weft__task_run_of(const struct weft_task *t) {
  return atomic_load_explicit(&((struct weft_task *)t)->run, memory_order_relaxed);
}

/* @t's cold record, or NULL if it has none yet. acquire: pairs with the
 * CAS that installed it, so its fields read as made. */
static inline struct weft__task_cold *weft__task_cold_of(const struct weft_task *t) {
  return atomic_load_explicit(&((struct weft_task *)t)->cold, memory_order_acquire);
}

/* Where a task was spawned to run, from its cold record @c (NULL: none):
 * a worker index, or WEFT__UNPINNED (any worker; every task of a
 * one-worker loop). Pinned spawns are rare, so the handle has no field
 * for it: a pinned task's cold record holds it. weft__task_home reads the
 * record itself. */
static inline int weft__task_home_in(const struct weft__task_cold *c) {
  return c && c->pin ? (int)c->pin - 1 : WEFT__UNPINNED;
}

static inline int weft__task_home(const struct weft_task *t) {
  return weft__task_home_in(weft__task_cold_of(t));
}

/* Whether @t, started and not ended, is armed (weft__task_run's timed). */
static inline bool weft__task_timed(const struct weft_task *t) {
  return atomic_load_explicit(&weft__task_run_of(t)->timed, memory_order_relaxed);
}

/* weft__task_timed for a waker, to which @t's execution part (at the top
 * of its stack) is a cold line: only a task with times is ever armed, so
 * one without a cold record is answered from its handle, and the wake-up
 * then loads no line of the task's stack (the ring takes the runnable's
 * address only): that load was 88% of weft__task_wake's samples in
 * ping_pong with one worker (RESULTS.md, 2026-12-07 18:45Z). */
static inline bool weft__task_timed_for_waker(const struct weft_task *t) {
  return __builtin_expect(weft__task_cold_of(t) != NULL, 0) && weft__task_timed(t);
}

/* Arms @t, whose times exist (just got); its owner only. */
static inline void weft__task_arm(struct weft_task *t) {
  atomic_store_explicit(&weft__task_run_of(t)->timed, true, memory_order_relaxed);
}

/* Disarms @t; its owner only. */
static inline void weft__task_disarm(struct weft_task *t) {
  atomic_store_explicit(&weft__task_run_of(t)->timed, false, memory_order_relaxed);
}

/* @t's cold record, made if it has none (any thread); NULL if there is no
 * memory for it. */
struct weft__task_cold *weft__task_cold_get(struct weft_task *t);

/* weft_task_create for the library's own tasks (the cold record's
 * `internal`): no task factory, and not listed by weft_loop_tasks; loop
 * close and the dump see them as any task. */
int weft__task_create_internal(weft_loop_t *loop, weft_task_fn fn, void *arg,
                               const struct weft_task_opts *opts, weft_task_t **out);

/* Whether @t is one of the library's own tasks (above). */
static inline bool weft__task_internal(const struct weft_task *t) {
  const struct weft__task_cold *c = weft__task_cold_of(t);
  return c && c->internal;
}

/* Every task of @loop that is not done, the library's own included (loop
 * close, the dump); weft_loop_tasks otherwise. */
int weft__loop_tasks_all(struct weft_loop *loop, int (*visit)(weft_task_t *t, void *arg), void *arg);

/* The task a resumption entry (kind WEFT__R_TASK) belongs to. */
static inline struct weft_task *weft__task_of_runnable(struct weft__runnable *r) {
  return weft__container_of(r, struct weft__task_run, r)->task;
}

/* The size of the stack @t runs on (its own, or the loop's), page-rounded
 * as both are stored. */
size_t weft__task_stack_size(const struct weft_task *t);

/* Notes what @t is about to wait on (the task itself, before it suspends). */
static inline void weft__task_blocked(struct weft_task *t, enum weft__block_kind kind,
                                      const void *obj, int64_t arg) {
  if (!t) return;
  struct weft__task_run *x = weft__task_run_of(t);
  /* relaxed: published by the suspension's release CAS (worker.c). */
  atomic_store_explicit(&x->block_kind, (uint8_t)kind, memory_order_relaxed);
  atomic_store_explicit(&x->blocked.obj, obj, memory_order_relaxed);
  atomic_store_explicit(&x->blocked.arg, arg, memory_order_relaxed);
}

/* Ends a wait that weft__task_blocked recorded as WEFT__BLOCK_FUTURE: what
 * weft_task_cancel reads to cancel the awaited future on the spot
 * (task.c, waited_now) is never left stale. */
static inline void weft__task_unblocked(struct weft_task *t) {
  /* relaxed: read on this thread only (waited_now). */
  atomic_store_explicit(&weft__task_run_of(t)->block_kind, (uint8_t)WEFT__BLOCK_NONE,
                        memory_order_relaxed);
}

/* weft__task_blocked for a wait on a sync object, with its name. */
static inline void weft__task_blocked_named(struct weft_task *t, enum weft__block_kind kind,
                                            const void *obj, int64_t arg, const char *name) {
  if (!t) return;
  atomic_store_explicit(&weft__task_run_of(t)->blocked_name, name, memory_order_relaxed); /* as blocked */
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
/* The same for @t requeued by its worker right after the timed slice that
 * armed it (a yield): the slice's end is the instant, no clock read. */
void weft__task_acct_requeued(struct weft_task *t);
/* @t's times, made if it has none (its owner only); NULL if there is no
 * memory for them (the interval goes uncounted). */
struct weft__task_times *weft__task_times_get(struct weft_task *t);
/* @t's times if it has any (the cold record's), else NULL. */
static inline struct weft__task_times *weft__task_times_of(const struct weft_task *t) {
  struct weft__task_cold *c = weft__task_cold_of(t);
  return c ? &c->times : NULL;
}

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

/* The cancellation a task awaiting @t passes on to it when it is cancelled
 * itself (asyncio's Task.cancel() cancelling the future it waits on): a
 * request like weft_task_cancel's, except that a body returning 0 after
 * its last suspension point keeps its result (WEFT__CANCEL_AT_END above),
 * so wait_for and timeouts never drop a result that raced their deadline
 * on another worker. Also gather's and TaskGroup's cancelling of their
 * children. Returns as weft_task_cancel. */
int weft__task_cancel_for_awaiter(struct weft_task *t, const char *msg);

/* Withdraws a cancellation of @t not delivered yet, as one
 * weft_task_uncancel would (the request, and must_cancel if none is
 * left): true if one was pending. For a request passed on that the other
 * side answered before it arrived (gen.c). */
bool weft__task_withdraw_cancel(struct weft_task *t);

/* Takes a pending cancellation, if any: returns true and clears it.
 * Inline: every wait asks on its way in and on every wake-up, and the
 * answer is almost always no, one load. */
bool weft__task_take_cancel_slow(struct weft_task *t);
static inline bool weft__task_take_cancel(struct weft_task *t) {
  /* acquire: a hint; the decision is made under the lock (task.c). */
  if (__builtin_expect(!atomic_load_explicit(&t->must_cancel, memory_order_acquire), 1)) return false;
  return weft__task_take_cancel_slow(t);
}

/* A wait that found a cancellation pending as it began (and took it) ends
 * here: asyncio's pending cancel cancels the future the task is about to
 * await, and the task raises CancelledError when that wakes it, a pass
 * later; so @t, which queued nothing, is queued again and resumes after
 * one pass (none while the loop closes), taking any request made
 * meanwhile with it (asyncio delivers them as one). Returns -ECANCELED. */
int weft__task_cancelled_after_pass(struct weft_task *t);

/* The one suspension loop, weft__task_wait's body: until *fired or
 * *@leaf_fired (0; @leaf_fired: a future's, future.c invariant 5, or
 * NULL), a cancellation if @cancellable (-ECANCELED), or *@timeout, an
 * armed timer's flag or NULL (-ETIMEDOUT). @loop is @t's. Inline so that a hot
 * wait (await_until) leaves one frame fewer on the stack it suspends: a
 * resumption reloads the lines those frames take. */
static inline __attribute__((always_inline)) int weft__task_wait_loop(struct weft_task *t,
                                                                      struct weft_loop *loop,
                                                                      _Atomic uint32_t *fired,
                                                                      _Atomic uint8_t *leaf_fired,
                                                                      _Atomic uint32_t *timeout,
                                                                      bool cancellable) {
  for (;;) {
    /* relaxed: closing is a hint read at every wake-up; close raises it
     * and then cancels every task, so a stale read meets the cancellation. */
    if (cancellable &&
        (atomic_load_explicit(&loop->closing, memory_order_relaxed) || weft__task_take_cancel(t)))
      return -ECANCELED;
    /* acquire: pairs with the waker's release store of *fired. */
    if (fired && atomic_load_explicit(fired, memory_order_acquire)) return 0;
    /* relaxed: written by this thread's completion (future.c, invariant 5). */
    if (leaf_fired && atomic_load_explicit(leaf_fired, memory_order_relaxed)) return 0;
    if (timeout && atomic_load_explicit(timeout, memory_order_acquire)) return -ETIMEDOUT;
    weft__worker_suspend(t);
  }
}

/* Ends @t with @err/@result (on its own fiber, or on the scheduler for a task
 * cancelled before it started). */
void weft__task_finish(struct weft_task *t, int err, void *result);

/* Justification: fib-like recursion uses well under 1 KiB per inline level;
 * 16 KiB left leaves room for the child's own calls and for libc. */
#define WEFT__INLINE_STACK_MIN (16u * 1024u)

/* If @child has not started and may run on @host's fiber, runs it there to
 * its end and returns true; otherwise returns false and changes nothing. */
bool weft__task_run_inline(struct weft_task *host, struct weft_task *child);
/* Initializes @x as @t's execution part, on @stack (NULL: an inline
 * child's, in its host's frame); the fiber is the caller's to set. Inline:
 * a dozen stores on every first run. */
static inline void weft__task_run_init(struct weft__task_run *x, struct weft_task *t,
                                       struct weft__stack *stack) {
  const struct weft__task_cold *c = weft__task_cold_of(t); /* one load for both below */
  weft__runnable_init(&x->r, WEFT__R_TASK);
  x->task = t;
  atomic_init(&x->pinned, weft__task_home_in(c));
  atomic_init(&x->since_ms, 0);
  atomic_init(&x->last_worker, -1);
  atomic_init(&x->block_kind, WEFT__BLOCK_NONE);
  /* A sampled spawn stamped its first wait for a worker (task.c), which
   * the first slice's start ends: armed from the start. */
  atomic_init(&x->timed, c && c->times.ready_at != 0);
  x->stack = stack;
  x->inline_child = NULL;
  atomic_init(&x->blocked.obj, NULL);
  atomic_init(&x->blocked.arg, 0);
  atomic_init(&x->blocked_name, NULL);
  x->fail_msg = NULL;
  atomic_init(&x->wait_node, NULL);
  /* The start takes the body and its argument out of the handle and
   * zeroes the slice count in the body's place (the handle's union); the
   * caller's release store of t->run publishes the zero. */
  x->fn = t->fn;
  x->arg = t->fut.result; /* left there: the end overwrites it (the handle's comment) */
  atomic_store_explicit(&t->runs, 0, memory_order_relaxed);
}

/* Slices @t started so far (0 until it starts): the statistics' and the
 * dump's count, from any thread. */
static inline uint64_t weft__task_runs(struct weft_task *t) {
  /* acquire, either: the count was zeroed (where the body was) before
   * run was published, or before an end without a start completed the
   * future. Neither seen: not started, and the slot may hold the body. */
  if (atomic_load_explicit(&t->run, memory_order_acquire) ||
      atomic_load_explicit(&t->fut.state, memory_order_acquire) == WEFT__FUT_DONE)
    return atomic_load_explicit(&t->runs, memory_order_relaxed);
  return 0;
}



/* The task running on the calling thread, or NULL. Inline: suspension
 * points, spawns and the sync primitives ask it on every call, and it is
 * one thread-local read (the worker, re-read after any switch) and one
 * load. */
static inline struct weft_task *weft__task_self(void) {
  struct weft__worker *w = weft__worker_self();
  return w ? weft__worker_current(w) : NULL;
}

/* The same through weft__worker_self_leaf (worker.h): only for a fast path
 * that cannot switch fibers between this read and its use of the task. */
static inline struct weft_task *weft__task_self_leaf(void) {
  struct weft__worker *w = weft__worker_self_leaf();
  return w ? weft__worker_current(w) : NULL;
}

void weft__task_free(struct weft_task *t);

#endif
