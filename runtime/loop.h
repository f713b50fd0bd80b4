/*
 * loop.h (private) - the loop object.
 */
#ifndef WEFT_RUNTIME_LOOP_PRIV_H
#define WEFT_RUNTIME_LOOP_PRIV_H

#include <stdatomic.h>
#include <signal.h>
#include <stdbool.h>
#include "loop_io.h"
#include "weft.h"
#include "idle.h"
#include "inject.h"
#include "owner.h"
#include "stack.h"
#include "stackdrop.h"
#include "worker.h"

/* Layout: read-mostly fields first; the injection queue, the idle state
 * and the counters written by foreign threads each on their own cache line
 * (see worker.h on false sharing). */
#define WEFT__MAX_WORKERS 1024u

/* An installed task factory (weft_loop_set_task_factory). */
struct weft__factory {
  weft_task_factory fn;
  void *arg;
  struct weft__factory *next; /* loop->factories */
};

/* Task ids come to each worker in blocks of this many (weft__loop_task_id)
 * so spawning does not contend on one counter; 1024 keeps ids dense. */
#define WEFT__ID_BLOCK 1024u

struct weft_loop {
  unsigned nworkers;          /* immutable */
  size_t stack_size;          /* page-rounded; immutable */
  bool pin_workers;           /* immutable */
  bool solo;                  /* nworkers == 1: no thieves, nobody to wake */
  bool fifo;                  /* WEFT_ORDER_FIFO: no LIFO slot, timer priority or inline runs */
  size_t max_tasks;           /* 0: no cap; immutable */
  /* Workers [0, nserving) take shared work; the rest are standbys (adapt.h).
   * nworkers unless cfg.adapt_workers lets the monitor lower it. seq_cst
   * stores (weft__adapt_set_serving), relaxed loads (worker.c): see
   * adapt.c for why a worker cannot sleep through a change. */
  _Atomic unsigned nserving;
  _Atomic uint64_t serving_changes; /* relaxed: a statistic (weft_loop_get_stats) */
  struct weft__adapt *adapt;  /* cfg.adapt_workers: the controller; else NULL */
  bool track_stack;           /* cfg.track_stack_use; immutable */
  /* cfg.task_fp_env: each task keeps its own floating-point control state
   * (fiber.h), starting with fp_init, the creating thread's at
   * weft_loop_new. Immutable. */
  bool task_fp_env;
  weft__fp_ctl fp_init;
  _Atomic size_t stack_high_water; /* max of ended tasks' stack_used (relaxed: a statistic) */
  struct weft__worker *workers;
  /* Owner sections (owner.h): one worker's futures and primitives
   * without locked instructions. A record of the pool (invariant 5: it
   * outlives the loop, as primitives bound to it may); a line of its own,
   * the worker's. Immutable. */
  struct weft__owner *owner;
  _Alignas(WEFT__CACHELINE) struct weft__inject inject; /* foreign threads, ring overflow */
  _Alignas(WEFT__CACHELINE) struct weft__idle idle;
  /* The task registry (registry.h): a shard per worker and the shared
   * one (index nworkers); immutable but the shards' contents. A line of
   * their own: every task's end reads them, and the idle set and the
   * stack arena around them are written often. */
  _Alignas(WEFT__CACHELINE) struct weft__reg_shard *reg;
  unsigned reg_index_bits;     /* t->reg_slot: shard << these | index */
  /* Each worker's row of gathered remote frees, one per shard (registry.h);
   * a row is the worker's own and 64-byte aligned. */
  struct weft__reg_batch *reg_batches;
  unsigned reg_batch_row;      /* entries a row holds (shards, rounded up to a line) */
  bool reg_asym;               /* the workers' ends use the asymmetric fence (registry.h) */
  /* Visitors announced (registry.h): seq_cst RMWs by visitors, seq_cst
   * loads by every task's end. Read-mostly. */
  _Atomic uint32_t reg_visitors;
  _Alignas(WEFT__CACHELINE) struct weft__stack_arena stack_arena; /* stacks of the default size */
  /* Idle workers' walk that gives back the pages below long-suspended
   * tasks' stack pointers (stackdrop.h). A line of its own. */
  _Alignas(WEFT__CACHELINE) struct weft__stackdrop drop;

  /* Workers 1..N-1 are threads that live from the first run to close (an
   * io_uring ring may be bound to its thread: io/ring.c). Between runs they
   * wait on run_gen; each run, or each command (cmd), bumps it. */
  bool threads_up;            /* owner only */
  uint32_t gen0;              /* run_gen when the threads were started */
  _Atomic uint32_t run_gen;   /* futex word: the threads' wake-up call */
  _Atomic uint32_t active;    /* futex word: threads still in this run or command */
  _Atomic bool exiting;       /* close: the threads leave */
  int (*cmd)(struct weft__worker *w, void *arg); /* run instead of the loop, if set */
  void *cmd_arg;
  _Atomic int cmd_err;        /* the first error a command returned */
  sigset_t run_mask;          /* the caller's plus writesig.h's, each run's */

  _Alignas(WEFT__CACHELINE) _Atomic int running; /* 1 while run_* executes */
  _Atomic bool stopping;      /* stop() requested */
  _Atomic bool closing;       /* close() is cancelling: suspensions fail at once */
  _Atomic bool closed;

  /* Threads that are not workers of this loop (loop.c, "Foreign
   * threads"): their object counts, and the entry points close waits out. */
  _Alignas(WEFT__CACHELINE) struct weft__mutex foreign_lock;
  int64_t live_foreign;       /* under foreign_lock: made minus freed, before close */
  int64_t zombie;             /* under foreign_lock: what is still out after close */
  uint32_t foreign_inflight;  /* under foreign_lock: threads inside an entry point */
  bool close_waiting;         /* under foreign_lock: close sleeps on foreign_seq */
  _Atomic uint32_t foreign_seq; /* futex word close sleeps on */
  _Atomic uint64_t next_id;   /* task id blocks are carved from here */
  /* Tasks alive, counted only when max_tasks is set; its own line: every
   * spawn and every task end of every worker writes it. */
  _Alignas(WEFT__CACHELINE) _Atomic size_t ntasks;

  struct weft__io_state io;   /* io/loop_io.h: io/'s, opaque here */
  struct weft__mutex exec_lock; /* the default executor (executor.c) */
  /* Blocking calls handed to executors by this loop's tasks and not done,
   * and how long such a call has taken lately (an average over the last
   * ~8): a worker about to park spins briefly instead while one is due
   * back soon (worker.c, park_worker). Relaxed: hints, both. */
  _Alignas(WEFT__CACHELINE) _Atomic uint32_t exec_inflight;
  _Atomic uint64_t exec_avg_ns;
  _Atomic bool exec_spinner;    /* a worker spins for one now (at most one) */
  /* The task factory (task.c): spawns read factory lock-free; every record
   * ever installed stays on factories (under factory_lock) until the
   * loop's memory is freed, so a spawn never reads a freed one. */
  _Atomic(const struct weft__factory *) factory;
  struct weft__factory *factories;
  struct weft__mutex factory_lock;
  struct weft_executor *executor; /* under exec_lock; NULL until first use */
  bool executor_shut;         /* under exec_lock: shutdown_default_executor was called */
  struct weft__monitor *mon;   /* monitor.c: stall detector, dump signal; immutable pointer */
  _Atomic bool acct;          /* debug mode: every slice timed (relaxed: workers read it each pass) */
  _Atomic uint32_t acct_period; /* otherwise one slice in this many (0: none); immutable after new */
  /* The coarse clock in ms, kept by the monitor while it samples (0: not
   * kept; workers read the clock themselves). Relaxed: a timestamp for
   * the dump's ages, as fresh as the sampling period. */
  _Atomic uint32_t now_ms;
  weft_exception_handler exc_handler; /* set while not running */
  void *exc_arg;
};

/* The worker-thread hand-off (loop_threads.c), owner thread only. */
/* Starts workers 1..N-1 once (they live until close): 0, -ENOMEM (no
 * allocator memory for new threads) or -EAGAIN (thread limit; none left). */
int weft__loop_threads_start(struct weft_loop *loop);
/* Sends the threads into a run or command and returns at once. */
void weft__loop_threads_release(struct weft_loop *loop);
/* Waits until every thread has finished the current run or command;
 * @wake: unparks idle workers meanwhile (a late one may be parked). */
void weft__loop_threads_wait(struct weft_loop *loop, bool wake);
/* Makes the threads leave and joins them (close). */
void weft__loop_threads_stop(struct weft_loop *loop);
/* Pins the calling thread to the @index-th CPU it may run on. */
void weft__loop_pin_self(unsigned index);
/* Unparks every parked worker. Any thread. */
void weft__loop_wake_all(struct weft_loop *loop);
/* Runs @fn(worker, @arg) on each of workers 1..N-1 on its own thread and
 * @fn(worker 0) on the caller, while the loop is not running; returns the
 * first error. For state bound to a worker's thread (io_uring rings). */
int weft__loop_on_each_worker(struct weft_loop *loop, int (*fn)(struct weft__worker *w, void *arg),
                              void *arg);
/* A thread that is not a worker of @loop entering an entry point that
 * touches the loop's queues: false (and nothing to undo) if the loop is
 * closing (@when_closing) or closed, else it must call
 * weft__loop_exit_foreign when done; close waits for it. */
bool weft__loop_enter_foreign(struct weft_loop *loop, bool when_closing);
void weft__loop_exit_foreign(struct weft_loop *loop);
/* For an entry point any thread may call: a thread that is not one of
 * @loop's workers enters as a foreign thread, so that close cannot free
 * what it reads meanwhile (rule b). False: the loop is closed. */
bool weft__loop_enter_any(struct weft_loop *loop, bool *foreign);
/* Frees the loop's memory (after close, when no object refers to it). */
void weft__loop_free(struct weft_loop *loop);
/* Shuts the default executor down without waiting (close; executor.c). */
void weft__loop_executor_fini(struct weft_loop *loop);
/* asyncio.run's shutdown_default_executor: waits (300 s at most) with the
 * loop running; the owner, loop not running. */
int weft__loop_shutdown_executor_running(struct weft_loop *loop);
/* Whether @loop runs in asyncio's exact order: one worker in FIFO order
 * (the default for one worker). Where it does, the combinators look at
 * their children in callbacks, as asyncio's done callbacks, and the sync
 * primitives keep asyncio's wake-up rules (docs/asyncio.md). */
static inline bool weft__loop_asyncio_order(const struct weft_loop *loop) {
  return loop->solo && loop->fifo;
}

/* Tasks of @loop not done yet (task.c; the registry's listed tasks). */
int weft__loop_count_tasks(struct weft_loop *loop);
/* Next task id for the calling thread (@w: its worker, or NULL). Inline:
 * every spawn takes one, and a worker's block runs out once in
 * WEFT__ID_BLOCK ids (then the out-of-line refill). */
uint64_t weft__loop_task_id_slow(struct weft_loop *loop, struct weft__worker *w);
static inline uint64_t weft__loop_task_id(struct weft_loop *loop, struct weft__worker *w) {
  if (w && w->id_next != w->id_end) return w->id_next++;
  return weft__loop_task_id_slow(loop, w);
}

#endif
