/*
 * worker.h - a worker thread's state and the scheduling entry points.
 */
#ifndef WEFT_RUNTIME_WORKER_H
#define WEFT_RUNTIME_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "clock.h"
#include "fiber.h"
#include "inject.h"
#include "objcache.h"
#include "list.h"
#include "park.h"
#include "reactor.h"
#include "runq.h"
#include "tls.h"
#include "stack.h"
#include "stackdrop.h"
#include "timer.h"

struct weft_loop;
struct weft_task;
struct weft__task_run;

enum { WEFT__DIVERT_STOP = 1, WEFT__DIVERT_STANDBY = 2 };

/* The objects a worker keeps a cache of when they are freed (objcache.h;
 * weft__worker_obj_alloc / _free, worker.c's table of their sizes). */
enum weft__obj_kind {
  WEFT__OBJ_TASK = 0,   /* struct weft_task */
  WEFT__OBJ_FUTURE = 1, /* a plain struct weft_future (weft_future_new's) */
  WEFT__OBJ_STREAMBUF = 2, /* a stream's buffer of the first size (io/stream.c) */
  WEFT__OBJ_KINDS = 3,
};

/* The first size of a stream's buffers, the one a worker caches. */
#define WEFT__STREAMBUF_SIZE 4096u

enum weft__switch_reason {
  WEFT__SWITCH_SUSPEND = 0,
  WEFT__SWITCH_DONE = 1,
  WEFT__SWITCH_YIELD = 2,
  WEFT__SWITCH_EAGER = 3, /* run w->eager now, then resume the switching task */
  /* A suspension or a yield whose task took its place before the switch
   * (worker.c, settle_first): nothing is left for after it. */
  WEFT__SWITCH_SETTLED = 4,
};

/* A worker's counters (weft_loop_worker_stats). Only the worker writes
 * them, with relaxed load-add-store (no locked instruction); any thread
 * reads them relaxed: statistics, each value exact, the set not a snapshot.
 * The times are the exception: idle_ns, busy_ns and what a run or a sleep
 * in progress adds to them (park_start_ns, run_start_ns, run_idle0_ns)
 * are read as one snapshot, so that a sleep in progress counts as idle
 * while it lasts (it read as busy until the worker woke) and neither time
 * ever goes back. A seqlock guards them (times_seq, odd while the worker
 * changes them; worker.c's four writers go through
 * weft__worker_times_begin/_end, stats.c reads). */
struct weft__worker_counters {
  _Atomic uint64_t polled;       /* task slices started; also the stall detector's clock */
  _Atomic uint64_t steals;       /* steal operations that got work */
  _Atomic uint64_t stolen;       /* runnables they took */
  _Atomic uint64_t parks;        /* sleeps in the reactor */
  _Atomic uint64_t idle_ns;      /* time in them, the one in progress left out */
  _Atomic uint64_t park_start_ns; /* when the sleep in progress began (0: none) */
  _Atomic uint64_t timers_fired;
  _Atomic uint64_t handles_run;  /* call_soon/call_later callbacks */
  _Atomic uint64_t run_start_ns; /* when the current run began (0: not running) */
  _Atomic uint64_t run_idle0_ns; /* idle_ns then */
  _Atomic uint64_t busy_ns;      /* runs that ended: their length minus idle */
  _Atomic uint32_t times_seq;    /* even: the times above agree (seqlock) */
};

static inline void weft__count(_Atomic uint64_t *c, uint64_t n) {
  /* relaxed: a statistic with one writer; readers tolerate staleness. */
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

/* The seqlock's writer side (one writer: plain increments): every change
 * to the times, and the clock read it is made at, inside one odd window,
 * so that a reader's estimate of a sleep or run in progress (its own
 * clock read inside its snapshot) never runs ahead of what the change
 * records. Returns the time now. */
static inline uint64_t weft__worker_times_begin(struct weft__worker_counters *c) {
  uint32_t s = atomic_load_explicit(&c->times_seq, memory_order_relaxed);
  atomic_store_explicit(&c->times_seq, s + 1, memory_order_relaxed);
  /* seq_cst fence (a full one): the odd count is visible before the clock
   * is read (then the clock fence), and before any store that follows, so
   * a reader that sees one of those, or reads its clock after ours, sees
   * the odd count. Four writers, each beside a sleep or a run's edge. */
  atomic_thread_fence(memory_order_seq_cst);
  weft__clock_fence();
  return weft__clock_ns();
}

static inline void weft__worker_times_end(struct weft__worker_counters *c) {
  uint32_t s = atomic_load_explicit(&c->times_seq, memory_order_relaxed);
  /* release: the window's stores before the even count. */
  atomic_store_explicit(&c->times_seq, s + 1, memory_order_release);
}

static inline void weft__count32(_Atomic uint32_t *c, uint32_t n) {
  /* relaxed: as weft__count. */
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

/* Layout: groups that other threads touch (the ring, the inbox, the timer
 * heap's lock, the parker) each start a cache line, and the
 * owner's hot fields have their own, so no thread's writes slow another's
 * reads through false sharing. Workers sit side by side in one array:
 * measured, an unaligned layout cost ping_pong about 40%. */
#define WEFT__CACHELINE 64

struct weft__worker {
  /* Shared with thieves. */
  _Alignas(WEFT__CACHELINE) struct weft__runq runq;

  /* Owner only, unless it says otherwise. */
  _Alignas(WEFT__CACHELINE) struct weft_loop *loop;
  /* loop->owner if the loop has one worker, else NULL: the record whose
   * sections this worker may take on primitives (home.h) and task states
   * (taskstate.h), which have none on a loop of several workers.
   * Immutable. */
  struct weft__owner *solo_owner;
  /* The record whose sections this worker takes on futures (owner.h,
   * futlock.h): solo_owner on a one-worker loop; on a loop of several,
   * its own (weft__owner_get; NULL if that failed: then none), which
   * binds the plain futures its tasks make (future.h). Immutable; a loop
   * of several pools its workers' again when it is freed. On this line,
   * which every await reads anyway (a probe that read it from a line of
   * its own, the one after `ends`, on every await ran one-worker
   * ping_pong ~1.05x the time), in what were the holes after index and
   * lifo_streak: nothing below moves. */
  struct weft__owner *sections;
  unsigned index;
  unsigned lifo_streak;         /* consecutive LIFO runs, capped (worker.c: LIFO streaks) */
  _Atomic(struct weft__runnable *) lifo; /* task woken by the running task; never stolen */
  uint64_t lifo_mark;           /* weft__ticks() at the streak's last note (worker.c) */
  uint64_t lifo_cheap_ticks;    /* weft__lifo_cheap_ns in ticks; 0: streaks never go past LIFO_MAX */
  struct weft__runnable *handoff; /* WEFT__SCHED_HANDOFF: runs next, before any queue */
  unsigned handoff_streak;      /* consecutive hand-offs, capped (fairness) */
  struct weft__rlist overflow;  /* workers = 1: the ring's unbounded FIFO tail */
  struct weft__rlist pinned;    /* tasks pinned here, scheduled from here */
  struct weft__rlist urgent;    /* tasks woken by their timer (N workers): run first */
  /* Held starts (worker.c): starts set aside while a stack would need
   * fresh memory and started tasks wait behind them (not in FIFO order);
   * never stolen. */
  struct weft__rlist held;
  unsigned held_turn;           /* picks since the held list's last turn */
  unsigned hold_probe;          /* runs left before the holding is judged */
  uint64_t ends_mark;           /* the loop's task ends when it was last judged */
  /* This worker's `ends` when a judging turned holding off: holding is on
   * while they differ (a task ended here since), UINT64_MAX at first. */
  uint64_t ends_at_off;
  bool resumed;                 /* a started task was queued here since the ring was empty */
  /* Stopping (every mode but one worker in FIFO order, worker.c): what was
   * ready when this worker took the stop, and what was scheduled here
   * after it (the next run's, unstealable meanwhile). */
  struct weft__rlist final;
  struct weft__rlist deferred;
  /* Why weft__schedule's fast paths must not queue here (0: they may):
   * WEFT__DIVERT_STOP, final was filled this run; WEFT__DIVERT_STANDBY,
   * this worker is a standby (adapt.h): what it wakes that is not pinned
   * here goes to the injection queue. One byte, so the fast paths test
   * both with one load. */
  uint8_t divert;
  /* The loop's serving count as this worker last acted on it (adapt.h);
   * 0: not yet in this run. The worker's own. */
  unsigned seen_serving;
  struct weft__stack_pool stacks;
  struct weft__stackdrop_seen drop; /* stackdrop.c: its own */
  struct weft__fiber sched;     /* the scheduler context on the thread's stack */
  /* The task whose fiber runs, or NULL. Written by this worker only;
   * atomic with relaxed accesses (plain moves) because other threads (the
   * dump, the stall detector) compare it with tasks they hold, and never
   * dereference it. weft__worker_current() reads it. */
  _Atomic(struct weft_task *) current;
  _Atomic bool in_callback;     /* a call_soon/call_later callback runs (the stall detector) */
  struct weft__worker_counters ctr;
  uint32_t coarse_ms;           /* weft__clock_coarse_ns() at this loop pass, in ms (wraps) */
  /* Per-task times, sampled (struct weft__task_times): one slice in
   * acct_period is timed (1: all, debug mode; 0: none), set from the loop
   * once per pass; the countdowns to the next timed slice and spawn; the
   * timed slice's start in ticks (0: this slice is not timed). */
  uint32_t acct_period;
  uint32_t acct_left, acct_spawn_left;
  uint64_t slice_t0;
  unsigned stack_color;         /* the next first run's stack colour (task.h), counted up */
  /* Inline claims that left their child's first-run entry queued (stale)
   * since this worker last looked (worker.c, compact_solo); owner only. */
  uint32_t stale_left;
  uintptr_t tstack_lo, tstack_hi; /* this thread's own stack (the dump's bounds) */
  _Atomic uintptr_t thread_id;  /* pthread_self() of the thread running it (signals) */
  struct weft_task *eager;      /* an eager child to start before its spawner resumes */
  /* The task that just switched out and why: handled by whatever runs next
   * on this worker, first thing after its switch returns (worker.c,
   * after_switch), because a task cannot be released while its own stack
   * is in use. */
  struct weft_task *prev;
  enum weft__switch_reason switch_reason;
  /* The execution part (and so the stack) of a task whose end is picking
   * the next task, offered to that task if it is a first run (worker.c,
   * "Stacks handed on"); NULL otherwise. Owner only. */
  struct weft__task_run *donor;
  /* The task whose stack this worker's own code runs on while that task
   * is not current: a direct switch's bookkeeping (from
   * weft__worker_switch_begin until the incoming side's after_switch) and
   * an inline I/O poll (weft__worker_poll_inline). The stack-guard handler
   * checks it beside current. Only this thread writes it; relaxed, read by
   * a signal handler on the same thread. */
  _Atomic(struct weft_task *) stack_owner;
  /* The batch (worker.c, run_batch): items it may still take; a runnable a
   * task took for it but could not switch to directly (the scheduler runs
   * it next); direct switches are off while an eager child runs. */
  unsigned batch_left;
  struct weft__runnable *pending;
  unsigned no_direct;
  bool searching;
  bool left_work;               /* steal_some left a running victim its short ring (worker.c) */
  bool pinned_turn;             /* next_local: the pinned list's turn against the ring */
  uint32_t rng;

  struct weft__objcache caches[WEFT__OBJ_KINDS]; /* freed objects for reuse, by kind */
  int64_t live;                 /* objects created minus freed here; worker thread only */
  uint64_t id_next, id_end;     /* block of task ids */
  pthread_t thread;
  _Atomic int tid;              /* the kernel's id of the thread running it (adapt.c's schedstat) */
  /* Tasks that ended on this worker, counted up by it (weft__count);
   * other workers sum them to judge their held starts (worker.c). */
  _Atomic uint64_t ends;

  /* Touched by other threads. */
  _Alignas(WEFT__CACHELINE) struct weft__inject inbox; /* pinned tasks from other threads */
  _Alignas(WEFT__CACHELINE) struct weft__timers timers; /* cancel from any thread */
  _Alignas(WEFT__CACHELINE) struct weft__park park;     /* unpark from any thread */
  /* Owner only (kick: any thread, through park). Set up by weft_loop_new. */
  _Alignas(WEFT__CACHELINE) struct weft__reactor reactor;
  /* Owner only: scratch arrays for moving runnables in bulk (a ring's
   * spill, a batch from the injection queue). Here, not on the stack:
   * push_local runs on the waking task's fiber, and a 4 KiB frame there
   * made every new task touch a second stack page (a page fault per task
   * on first use; benchmarks/RESULTS.md, issue 13). */
  _Alignas(WEFT__CACHELINE) struct weft__runnable *spill[WEFT__RUNQ_SPILL];
  struct weft__runnable *batch[WEFT__RUNQ_CAP / 2];
};

static inline struct weft_task *weft__worker_current(const struct weft__worker *w) {
  return atomic_load_explicit(&w->current, memory_order_relaxed);
}

/* Whether a task or a call_soon/call_later callback is on @w now (relaxed
 * looks: what the monitor, the controller and the statistics sample). */
static inline bool weft__worker_busy(const struct weft__worker *w) {
  return weft__worker_current(w) != NULL || atomic_load_explicit(&w->in_callback, memory_order_relaxed);
}

static inline void weft__worker_set_current(struct weft__worker *w, struct weft_task *t) {
  atomic_store_explicit(&w->current, t, memory_order_relaxed);
}

/* LIFO streaks (worker.c): items that average under this many ns keep a
 * streak going past LIFO_MAX. weft__lifo_cheap_ns is the figure a worker
 * reads when it starts running (0: no item is cheap); it is a test hook,
 * written only while no loop runs. */
#define WEFT__LIFO_CHEAP_NS 1000u
extern uint32_t weft__lifo_cheap_ns;

/* Counts down one of @w's sampling countdowns (acct_left, acct_spawn_left);
 * true when this event is to be timed, and the countdown starts again. */
static inline bool weft__worker_acct_sample(struct weft__worker *w, uint32_t *left) {
  if (__builtin_expect(--*left != 0, 1)) return false;
  *left = w->acct_period ? w->acct_period : UINT32_MAX;
  return w->acct_period != 0;
}

/* Ready work queued on @w now: its ring, its overflow (one worker) and
 * the starts it holds (memory-aware order). Any thread; relaxed reads,
 * a gauge (the statistics, the stall monitor's reports). */
static inline size_t weft__worker_queued(struct weft__worker *w) {
  return weft__runq_len(&w->runq) + weft__rlist_len(&w->overflow) + weft__rlist_len(&w->held);
}

extern WEFT__TLS struct weft__worker *weft__tls_worker; /* worker.c; read through the below */

/* The worker the calling thread is, or NULL. A fiber may resume on
 * another thread, so the thread-local must be re-read each time, and the
 * compiler may keep a thread-local's address across a call (the switch)
 * in one function. On x86-64 the read is a volatile asm, which the
 * compiler neither merges with another nor moves across a call: the
 * offset from the GOT (initial-exec; the linker makes it an immediate in
 * an executable), the value from %fs. Elsewhere, and in the sanitizer
 * builds (their own TLS handling), a call that is never inlined. */
#if defined(__x86_64__) && !defined(WEFT__TSAN) && !defined(WEFT__ASAN)
#define WEFT__WORKER_SELF_INLINE 1
static inline __attribute__((always_inline)) struct weft__worker *weft__worker_self(void) {
  struct weft__worker *w;
  __asm__ volatile("movq weft__tls_worker@gottpoff(%%rip), %0\n\tmovq %%fs:(%0), %0" : "=r"(w));
  return w;
}
#else
struct weft__worker *weft__worker_self(void) __attribute__((noinline));
#endif

/* The same, read inline, for a fast path that cannot switch fibers between
 * this read and its last use of what it read: a function that makes no
 * call there (it returns, or tail-calls its slow path, which reads the
 * worker again). The compiler may keep a thread-local's address across
 * calls in one function, and after a switch that address is another
 * thread's; a function without calls has nothing to keep it across.
 * Where weft__worker_self is a call (not x86-64, the sanitizer builds),
 * saves its call frame and the caller's register saves (lock acquire and
 * release: benchmarks/RESULTS.md, 2026-12-02 18:50Z); on x86-64 the two
 * read alike, and this one lets the compiler reuse a read. */
static inline struct weft__worker *weft__worker_self_leaf(void) { return weft__tls_worker; }

/* Where a runnable goes. */
enum weft__sched_hint {
  WEFT__SCHED_BACK = 0,  /* the back of the run queue (FIFO) */
  WEFT__SCHED_WAKE = 1,  /* woken by the running task: the LIFO slot when enabled */
  WEFT__SCHED_URGENT = 2, /* overdue (its timer fired): before queued work, N workers */
  WEFT__SCHED_HANDOFF = 3, /* the running task hands over to it and is about to
                              wait for it: it runs right after the running task
                              switches out, on this worker, in any order mode
                              (a generator step: asyncio runs it inside the
                              consumer's own step); else as WAKE */
};

/* Where a runnable may run: a worker index (>= 0), or these. */
enum {
  WEFT__UNPINNED = -1,   /* any worker; stealable */
  WEFT__PIN_OWN = -2,    /* weft__task_wake_at: the task's own pinned field */
};

/* Queues @r on @loop; @pinned is a worker index or WEFT__UNPINNED. Any thread. */
void weft__schedule(struct weft_loop *loop, struct weft__runnable *r, int pinned,
                    enum weft__sched_hint hint);

/* Releases a runnable that will never run (loop teardown). */
void weft__drop_runnable(struct weft__runnable *r);
/* Owner only (@w is the caller's worker, or NULL), at an inline claim of
 * the task whose first-run entry is @r: if @w's LIFO slot holds @r,
 * empties it and returns true (the reference @r carries is then the
 * caller's); else notes that @r stays queued, stale (compact_solo), and
 * returns false. */
bool weft__worker_take_start(struct weft__worker *w, struct weft__runnable *r);

/* weft__drop_runnable over a batch (weft__inject_drain's shape). */
void weft__drop_runnables(struct weft__runnable **batch, size_t n, void *unused);

/* Switching a task out (switch.c: the entry points, compiled with frame
 * pointers so that a suspended task's stack walks through them). */

/* Starts @child on this worker at once and resumes @t when the child first
 * suspends or ends (eager tasks: task.c). */
void weft__worker_run_eager(struct weft_task *t, struct weft_task *child);
/* Switches the current task @t out until something wakes it (it is
 * released to its wakers once off its stack). Returns when it runs again,
 * perhaps on another worker. */
void weft__worker_suspend(struct weft_task *t);
/* Switches out and puts the task at the back of the queue (weft_yield). */
void weft__worker_yield(struct weft_task *t);

/* The two halves of a switch out, around the fiber switch itself: _begin
 * (on @t's stack, @t = the running task of @w) ends @t's slice, notes it
 * and @why for whoever runs next (or, with one worker in FIFO order,
 * settles it first: worker.c, settle_first), and returns the fiber to
 * switch to: the next task of the batch directly, or the scheduler; or
 * NULL when @t goes on in place, its next slice already begun (a FIFO
 * loop where @t is all that is queued: worker.c, yield_in_place, or the
 * pick after settle_first came back to @t). A task's end
 * (WEFT__SWITCH_DONE) takes worker.c's own path (end_begin), which may
 * hand its stack on. _end, the first thing after a switch returns to a
 * task, notes that the worker is off the stack it came from and finishes
 * what the task that switched out left to do, if it left anything
 * (weft__worker_after_switch); inline, as a settled switch leaves
 * nothing. */
struct weft__fiber *weft__worker_switch_begin(struct weft__worker *w, struct weft_task *t,
                                              enum weft__switch_reason why);
void weft__worker_finish_prev(struct weft__worker *w);

/* Notes that the worker's own code now runs on @t's stack while @t is
 * not current (NULL: no longer), for the stack-guard handler (stack_owner).
 * relaxed: only this thread writes it and a handler on this thread reads
 * it; the signal fence keeps the store ahead of what follows for that
 * handler. */
static inline void weft__worker_set_stack_owner(struct weft__worker *w, struct weft_task *t) {
  atomic_store_explicit(&w->stack_owner, t, memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst);
}

/* after_switch: the first thing a fiber does when a switch returns to it
 * (a resumed task, a task's first step): off the stack it came from, and
 * what the task that switched out left to do, if anything (nothing when
 * it came from the scheduler or settled before the switch: worker.c,
 * settle_first). */
static inline void weft__worker_after_switch(struct weft__worker *w) {
  weft__worker_set_stack_owner(w, NULL);
  if (w->prev) weft__worker_finish_prev(w);
}

static inline void weft__worker_switch_end(void) { weft__worker_after_switch(weft__worker_self()); }

/* For a task about to wait for I/O it just queued on @w's reactor: if
 * nothing would run on @w before the scheduler's next reactor poll (no
 * local work, hand-off, remote work, stop request or due timer), polls it
 * now, on the task's stack but as the scheduler would (no current task:
 * the completions' callbacks see none, so they spawn and call back in no
 * task's context and cannot suspend). True if *@done was set by the poll:
 * the task's slice ends and the next starts, as the suspension and
 * resumption it spared would have (the stall detector sees progress, the
 * task's run count and times stay right). In FIFO order a poll that woke
 * tasks begins the next pass, as the scheduler's would: its batch is what
 * the poll woke (worker.c). Worker thread, @t = its running task. */
bool weft__worker_poll_inline(struct weft__worker *w, struct weft_task *t, _Atomic uint32_t *done);

/* Counts an object of @loop created (+1) or freed (-1) on the calling thread. */
void weft__loop_count(struct weft_loop *loop, int delta);

/* How many freed objects of each kind a worker keeps. */
static const unsigned weft__obj_cache_max[WEFT__OBJ_KINDS] = {
    /* Justification: 256 task objects cover the spawn/complete churn of a
     * busy worker without holding much memory. */
    [WEFT__OBJ_TASK] = 256,
    /* A pass of ping_pong (1,000 pairs) holds 2,000 message futures: 256
     * left 0.75M of its 2M allocations to jemalloc, 1024 almost none. At
     * most 80 KiB a worker (72-byte futures in an 80-byte size class). */
    [WEFT__OBJ_FUTURE] = 1024,
    /* Streams give their empty buffers back whenever they idle (a reader
     * about to wait, a send that left nothing): 32 serve the connections
     * a worker has in flight at once in a pass and hold at most 128 KiB
     * a worker. */
    [WEFT__OBJ_STREAMBUF] = 32,
};

/* The calling thread's worker if it is one of @loop's, else NULL. */
static inline struct weft__worker *weft__worker_of(struct weft_loop *loop) {
  struct weft__worker *w = weft__worker_self();
  return w && w->loop == loop ? w : NULL;
}

/* A task object or a plain future of @size bytes for @loop (@k says
 * which), counted among @loop's live objects: from @w's cache if @w (the
 * calling thread's worker, weft__worker_of(@loop)) is not NULL, else from
 * the allocator. NULL: no memory. Its contents are undefined. Any thread.
 * Inline: both kinds are made at the rate of task switches (ping_pong),
 * and with @k constant the kind's figures fold in. */
/* The worker case of both, which makes no call: an object from @w's
 * cache, counted in (NULL if the cache is empty); @o into @w's cache,
 * counted out (false if the cache is full: nothing done). */
static inline void *weft__worker_obj_take(struct weft__worker *w, enum weft__obj_kind k, size_t size) {
  void *o = weft__objcache_pop(&w->caches[k], size);
  if (o) w->live++; /* weft__loop_count's worker case, the worker in hand */
  return o;
}

static inline bool weft__worker_obj_keep(struct weft__worker *w, enum weft__obj_kind k, void *o,
                                         size_t size) {
  if (!weft__objcache_push(&w->caches[k], o, size, weft__obj_cache_max[k])) return false;
  w->live--;
  return true;
}

static inline void *weft__worker_obj_alloc_on(struct weft__worker *w, struct weft_loop *loop,
                                              enum weft__obj_kind k, size_t size) {
  void *o = w ? weft__worker_obj_take(w, k, size) : NULL;
  if (o) return o;
  if (!(o = weft__alloc_bulk(size))) return NULL;
  if (w) w->live++;
  else weft__loop_count(loop, +1);
  return o;
}

/* The same, reading the calling thread's worker itself. */
static inline void *weft__worker_obj_alloc(struct weft_loop *loop, enum weft__obj_kind k,
                                           size_t size) {
  return weft__worker_obj_alloc_on(weft__worker_of(loop), loop, k, size);
}

/* Gives back @o (@size bytes), made by weft__worker_obj_alloc(@loop, @k),
 * and counts it out: into the calling worker's cache while it has room,
 * else to the allocator. Any thread. */
static inline void weft__worker_obj_free(struct weft_loop *loop, enum weft__obj_kind k, void *o,
                                         size_t size) {
  struct weft__worker *w = weft__worker_of(loop);
  if (w && weft__worker_obj_keep(w, k, o, size)) return;
  weft__free(o, size);
  if (w) w->live--;
  else weft__loop_count(loop, -1);
}

/* weft_loop_stop() on a worker of its loop: fires the timers due now and
 * sets aside what is ready, for the rest of this run (worker.c). */
void weft__worker_take_stop(struct weft__worker *w);

/* Runs the worker's loop on the calling thread until the loop stops. */
void weft__worker_main(struct weft__worker *w);

int weft__worker_init(struct weft__worker *w, struct weft_loop *loop, unsigned index);
/* Frees what the worker holds; queued handles are released, queued tasks must
 * be gone (close() ran them to completion). */
void weft__worker_fini(struct weft__worker *w);

/* Tests only (test_worker): when set, each watch of a running victim
 * (worker.c, victim_moves_on) calls it first and, if it returns true,
 * takes the victim as moving on without looking. Set while no loop runs. */
extern bool (*weft__steal_watch_hook)(void);

#endif
