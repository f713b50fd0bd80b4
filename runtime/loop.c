/*
 * loop.c - the loop's lifecycle: new, run_forever, run_until_complete,
 * stop, close and weft_run, with the object accounting close relies on.
 *
 * Threads: the calling thread of run_* becomes worker 0; workers 1..N-1 are
 * threads handed each run by loop_threads.c. The exception handler lives
 * in exception.c, the loop's I/O state in io/loop_io.c.
 *
 * Closing (numbered steps):
 *  1. Set closing: from now on every suspension point returns -ECANCELED at
 *     once, callbacks are dropped instead of run, and tasks that never
 *     started end cancelled.
 *  2. Repeat { cancel every task not done; run one iteration of every
 *     worker } until no task is left. If the worker threads cannot be
 *     started (thread or pids limits), they never ran anything: what they
 *     hold moves to worker 0, which runs alone (adopt_orphans), so close
 *     still ends instead of retrying forever. Each round makes progress: a task
 *     woken by its cancellation runs until its next suspension point, which
 *     fails at once. Only a task that ignores -ECANCELED forever keeps close
 *     from returning; that is documented.
 *  3. Set closed; free queued handles, timers, stacks and workers.
 *  4. If futures, tasks or handles are still referenced by the user, the
 *     loop's memory stays as a zombie counting them, and the last release
 *     frees it (loop->zombie).
 *
 * Accounting: every object of the loop (futures, tasks, handles, and the
 * references weft_loop_ref() hands out) counts +1 when made and -1 when
 * freed, on the counter of the worker doing it (a plain field, touched only
 * by that worker's thread while the loop runs) or, from other threads, on
 * live_foreign under foreign_lock. The sum is exact once the workers are
 * joined.
 *
 * Foreign threads (those that are not workers of this loop) can race with
 * close; three rules make that safe:
 *  a. Counting: under foreign_lock, live_foreign before close, zombie
 *     after. Once the workers are joined, close sets closed and makes
 *     zombie the whole count (live_foreign plus every worker's counter)
 *     plus a bias of 1, in one hold of the lock; it drops the bias when its
 *     teardown is over, so no release can free the loop while close still
 *     uses it. The release that brings zombie to 0 frees it (after
 *     unlocking).
 *  b. Entry points that touch the loop's queues from outside (scheduling,
 *     spawning) run inside weft__loop_enter_foreign/exit_foreign: they
 *     check the flag and count themselves in under foreign_lock. close
 *     raises closing (spawns are refused from then on) and later closed
 *     (scheduling is refused), each under the lock, and waits until no one
 *     is inside (a futex, no polling), so nothing is pushed into a queue
 *     that close drains or frees, and no task is spawned after the last
 *     round that would cancel it.
 *  c. The exiting thread wakes close while holding foreign_lock, so it is
 *     done with the loop before close can go on.
 */
#include "loop.h"
#include "writesig.h"
#include "amutex.h"
#include "registry.h"
#include "adapt.h"
#include "ticks.h"
#include "monitor.h"
#include "alloc.h"
#include "clock.h"
#include "futex.h"
#include "handle.h"
#include "stackguard.h"
#include "task.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Justification: 256 submissions per tick covers a tick's worth of tasks
 * (61) issuing a few operations each; the completion queue is 4x that. */
#define DEFAULT_IO_ENTRIES 256u

static unsigned default_workers(void) {
  const char *env = getenv("WEFT_WORKERS");
  if (env && *env) {
    long n = strtol(env, NULL, 10);
    if (n >= 1 && n <= (long)WEFT__MAX_WORKERS) return (unsigned)n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n >= 1 ? (unsigned)(n > (long)WEFT__MAX_WORKERS ? WEFT__MAX_WORKERS : n) : 1u;
}

/* $WEFT_DEBUG=1 turns debug mode on for every loop (asyncio's
 * PYTHONASYNCIODEBUG). */
static bool env_debug(void) {
  const char *env = getenv("WEFT_DEBUG");
  return env && *env && strcmp(env, "0") != 0;
}

/* The accounting's sampling period: cfg's, else $WEFT_ACCT_SAMPLE, else
 * one that keeps the timed slices' clock reads (four per timed slice) at
 * 1 ns a slice on average, 3% of yield_many's ~30 ns slice: issue 12's
 * budget (benchmarks/RESULTS.md, 2026-12-01 19:20Z). The period follows
 * the counter's measured cost (ticks.c): 44 with the TSC's 11 ns, ~100
 * with kvm-clock's ~25 (1 in 32 cost yield_many 9% there, 2026-12-03),
 * never shorter than 32 nor longer than ACCT_PERIOD_MAX. */
enum { ACCT_PERIOD_MIN = 32, ACCT_READS_PER_SAMPLE = 4, ACCT_PERIOD_MAX = 1024 };
#define ACCT_BUDGET_PS 1000u /* clock cost per slice, in picoseconds */
static uint32_t acct_default_period(void) {
  uint64_t per_sample_ps = (uint64_t)weft__ticks_read_ns() * 1000u * ACCT_READS_PER_SAMPLE;
  uint64_t p = (per_sample_ps + ACCT_BUDGET_PS - 1) / ACCT_BUDGET_PS;
  return p < ACCT_PERIOD_MIN ? ACCT_PERIOD_MIN : p > ACCT_PERIOD_MAX ? ACCT_PERIOD_MAX : (uint32_t)p;
}

static uint32_t acct_period(int cfg) {
  if (cfg >= 0) return (uint32_t)cfg;
  const char *env = getenv("WEFT_ACCT_SAMPLE");
  if (env && *env) {
    char *end;
    long v = strtol(env, &end, 10);
    if (*end == '\0' && v >= 0 && v <= WEFT_ACCT_SAMPLE_MAX) return (uint32_t)v;
  }
  return acct_default_period();
}

void weft_loop_config_init(struct weft_loop_config *cfg) {
  if (!cfg) return;
  cfg->workers = 0;
  cfg->stack_size = 0;
  cfg->pin_workers = 0;
  cfg->order = WEFT_ORDER_DEFAULT;
  cfg->io_backend = WEFT_IO_AUTO;
  cfg->io_entries = 0;
  cfg->recv_buffers = 0;
  cfg->max_tasks = 0;
  cfg->track_stack_use = 0;
  cfg->stall_ms = WEFT_STALL_DEFAULT;
  cfg->dump_signal = 0;
  cfg->dump_path = NULL;
  cfg->debug = 0;
  cfg->dump_on_stall = 0;
  cfg->acct_sample = WEFT_ACCT_DEFAULT;
  cfg->adapt_workers = WEFT_ADAPT_DEFAULT;
  cfg->task_fp_env = 0;
}

static void free_loop_memory(struct weft_loop *loop) {
  weft__adapt_free(loop);
  weft__monitor_free(loop);
  while (loop->factories) {
    struct weft__factory *f = loop->factories;
    loop->factories = f->next;
    weft__free(f, sizeof *f);
  }
  if (!loop->solo && loop->workers)
    for (unsigned i = 0; i < loop->nworkers; i++) weft__owner_put(loop->workers[i].sections);
  weft__free_aligned(loop->workers, loop->nworkers * sizeof(struct weft__worker), WEFT__CACHELINE);
  weft__registry_fini(loop);
  weft__owner_put(loop->owner);
  weft__free_aligned(loop, sizeof *loop, WEFT__CACHELINE);
}

/* weft_loop_new; @one_thread: the caller promises that only it will ever
 * run or close the loop (weft_run), so worker 0's ring can be made for one
 * thread as the others are (SINGLE_ISSUER + DEFER_TASKRUN: completions are
 * collected in batches when it asks, never by interrupting its system
 * calls) and bound to the caller here. */
static int loop_new(const struct weft_loop_config *cfg, weft_loop_t **out, bool one_thread) {
  if (!out) return -EINVAL;
  struct weft_loop_config c;
  weft_loop_config_init(&c);
  if (cfg) c = *cfg;
  if (c.workers > WEFT__MAX_WORKERS) return -EINVAL;
  if (c.stack_size && !weft__stack_size_ok(c.stack_size)) return -EINVAL;
  if (c.order < WEFT_ORDER_DEFAULT || c.order > WEFT_ORDER_LOCALITY) return -EINVAL;
  if (c.io_backend < WEFT_IO_AUTO || c.io_backend > WEFT_IO_EPOLL) return -EINVAL;
  if (c.io_entries > 32768) return -EINVAL;
  if (c.recv_buffers < -1 || c.recv_buffers > 32768 ||
      (c.recv_buffers > 0 && (c.recv_buffers & (c.recv_buffers - 1))))
    return -EINVAL;
  if (c.acct_sample < WEFT_ACCT_DEFAULT || c.acct_sample > WEFT_ACCT_SAMPLE_MAX) return -EINVAL;
  if (c.adapt_workers < WEFT_ADAPT_DEFAULT || c.adapt_workers > 1) return -EINVAL;
  unsigned entries = c.io_entries ? c.io_entries : DEFAULT_IO_ENTRIES;
  if (entries & (entries - 1)) return -EINVAL;
  struct weft_loop *loop = weft__calloc_aligned(sizeof *loop, WEFT__CACHELINE);
  if (!loop) return -ENOMEM;
  weft__stackguard_install(); /* stack overflows are reported (stackguard.c) */
  weft__amutex_setup(); /* futures' unlocks without a fence from now on (amutex.h) */
  loop->nworkers = c.workers ? c.workers : default_workers();
  loop->stack_size = weft__stack_round(c.stack_size ? c.stack_size : WEFT__STACK_DEFAULT);
  loop->pin_workers = c.pin_workers != 0;
  loop->solo = loop->nworkers == 1;
  if (!(loop->owner = weft__owner_get())) {
    weft__free_aligned(loop, sizeof *loop, WEFT__CACHELINE);
    return -ENOMEM;
  }
  loop->fifo = c.order == WEFT_ORDER_FIFO || (c.order == WEFT_ORDER_DEFAULT && loop->solo);
  loop->max_tasks = c.max_tasks;
  loop->track_stack = c.track_stack_use != 0;
  loop->task_fp_env = c.task_fp_env != 0;
  loop->fp_init = weft__fp_ctl_get();
  atomic_init(&loop->stack_high_water, 0);
  loop->workers = weft__calloc_aligned(loop->nworkers * sizeof(struct weft__worker), WEFT__CACHELINE);
  if (!loop->workers || weft__registry_init(loop) != 0 ||
      weft__idle_init(&loop->idle, loop->nworkers) != 0) {
    free_loop_memory(loop);
    return -ENOMEM;
  }
  /* I/O first: the only step that can fail for reasons outside us. */
  int rc = weft__loop_io_init(loop, c.io_backend, entries, one_thread,
                              c.recv_buffers < 0 ? 0u
                              : c.recv_buffers ? (unsigned)c.recv_buffers
                                               : WEFT__RECV_BUFS_DEFAULT);
  if (rc < 0) {
    weft__idle_fini(&loop->idle);
    free_loop_memory(loop);
    return rc;
  }
  rc = weft__adapt_init(loop, &c);
  if (rc == 0) rc = weft__monitor_init(loop, &c);
  if (rc < 0) { /* what the inits made, free_loop_memory frees */
    weft__loop_io_fini(loop);
    weft__idle_fini(&loop->idle);
    free_loop_memory(loop);
    return rc;
  }
  atomic_init(&loop->acct, c.debug != 0 || env_debug());
  weft__ticks_init(); /* before the period, which follows the counter's cost */
  atomic_init(&loop->acct_period, acct_period(c.acct_sample));
  atomic_init(&loop->now_ms, 0);
  atomic_init(&loop->exec_inflight, 0);
  atomic_init(&loop->exec_avg_ns, 0);
  atomic_init(&loop->exec_spinner, false);
  weft__stack_arena_init(&loop->stack_arena, loop->stack_size);
  weft__stackdrop_init(&loop->drop, weft__clock_ns());
  for (unsigned i = 0; i < loop->nworkers; i++) weft__worker_init(&loop->workers[i], loop, i);
  weft__inject_init(&loop->inject);
  atomic_init(&loop->running, 0);
  atomic_init(&loop->stopping, false);
  atomic_init(&loop->closing, false);
  atomic_init(&loop->closed, false);
  weft__mutex_init(&loop->foreign_lock);
  weft__mutex_init(&loop->exec_lock);
  weft__mutex_init(&loop->factory_lock);
  atomic_init(&loop->factory, NULL);
  loop->factories = NULL;
  loop->executor = NULL;
  loop->executor_shut = false;
  loop->live_foreign = 0;
  loop->zombie = 0;
  loop->foreign_inflight = 0;
  loop->close_waiting = false;
  atomic_init(&loop->foreign_seq, 0);
  atomic_init(&loop->next_id, 1);
  atomic_init(&loop->ntasks, 0);
  atomic_init(&loop->run_gen, 0);
  atomic_init(&loop->active, 0);
  atomic_init(&loop->exiting, false);
  atomic_init(&loop->cmd_err, 0);
  loop->threads_up = false;
  loop->cmd = NULL;
  if (one_thread) weft__reactor_bind(&loop->workers[0].reactor); /* ours from now on */
  *out = loop;
  return 0;
}

int weft_loop_new(const struct weft_loop_config *cfg, weft_loop_t **out) {
  return loop_new(cfg, out, false);
}

void weft__loop_free(struct weft_loop *loop) { free_loop_memory(loop); }

void weft__loop_count(struct weft_loop *loop, int delta) {
  struct weft__worker *w = weft__worker_self();
  if (w && w->loop == loop) {
    w->live += delta;
    return;
  }
  /* Rule (a) of the design comment. closed is set under this lock. */
  weft__mutex_lock(&loop->foreign_lock);
  bool last = false;
  if (atomic_load_explicit(&loop->closed, memory_order_relaxed)) {
    loop->zombie += delta;
    last = loop->zombie == 0;
  } else {
    loop->live_foreign += delta;
  }
  weft__mutex_unlock(&loop->foreign_lock);
  if (last) weft__loop_free(loop);
}

bool weft__loop_enter_foreign(struct weft_loop *loop, bool when_closing) {
  weft__mutex_lock(&loop->foreign_lock);
  /* relaxed: both flags are set under this lock (rule b). */
  bool refused = atomic_load_explicit(when_closing ? &loop->closing : &loop->closed,
                                      memory_order_relaxed);
  if (!refused) loop->foreign_inflight++;
  weft__mutex_unlock(&loop->foreign_lock);
  return !refused;
}

void weft__loop_exit_foreign(struct weft_loop *loop) {
  weft__mutex_lock(&loop->foreign_lock);
  if (--loop->foreign_inflight == 0 && loop->close_waiting) {
    /* relaxed: the futex re-reads it; the lock orders the rest (rule c). */
    atomic_fetch_add_explicit(&loop->foreign_seq, 1, memory_order_relaxed);
    weft__futex_wake(&loop->foreign_seq, INT32_MAX);
  }
  weft__mutex_unlock(&loop->foreign_lock);
}

/* Under foreign_lock: waits until no foreign thread is inside an entry
 * point (rule b). Returns with the lock held. */
static void wait_foreign_locked(struct weft_loop *loop) {
  while (loop->foreign_inflight) {
    loop->close_waiting = true;
    uint32_t seq = atomic_load_explicit(&loop->foreign_seq, memory_order_relaxed);
    weft__mutex_unlock(&loop->foreign_lock);
    weft__futex_wait(&loop->foreign_seq, seq, 0);
    weft__mutex_lock(&loop->foreign_lock);
  }
  loop->close_waiting = false;
}

/* Raises closing or closed (rule b) and waits out the entry points. */
static void raise_flag(struct weft_loop *loop, _Atomic bool *flag) {
  weft__mutex_lock(&loop->foreign_lock);
  /* seq_cst: workers about to sleep re-read closing after announcing (idle.c). */
  atomic_store_explicit(flag, true, memory_order_seq_cst);
  wait_foreign_locked(loop);
  weft__mutex_unlock(&loop->foreign_lock);
}

weft_loop_t *weft_loop_ref(weft_loop_t *loop) {
  if (loop) weft__loop_count(loop, +1);
  return loop;
}

void weft_loop_release(weft_loop_t *loop) {
  if (loop) weft__loop_count(loop, -1);
}

uint64_t weft__loop_task_id_slow(struct weft_loop *loop, struct weft__worker *w) {
  /* relaxed: ids need uniqueness, not ordering. */
  if (!w) return atomic_fetch_add_explicit(&loop->next_id, 1, memory_order_relaxed);
  if (w->id_next == w->id_end) {
    w->id_next = atomic_fetch_add_explicit(&loop->next_id, WEFT__ID_BLOCK, memory_order_relaxed);
    w->id_end = w->id_next + WEFT__ID_BLOCK;
  }
  return w->id_next++;
}

/* ---- running ------------------------------------------------------------- */


/* One run on the calling thread as worker 0; @alone: without workers
 * 1..N-1 (close, when their threads cannot be started: below). */
static int run(struct weft_loop *loop, bool alone) {
  int expected = 0;
  /* acq_rel: orders this run after the previous one's end. */
  if (!atomic_compare_exchange_strong_explicit(&loop->running, &expected, 1,
                                               memory_order_acq_rel, memory_order_acquire))
    return -EBUSY;
  weft__idle_reset(&loop->idle);
  cpu_set_t saved;
  bool restore = loop->pin_workers && sched_getaffinity(0, sizeof saved, &saved) == 0;
  int rc = alone ? 0 : weft__loop_threads_start(loop);
  if (rc == 0 && !alone) rc = weft__monitor_start(loop);
  sigset_t write_blocked;
  sigemptyset(&write_blocked);
  if (rc == 0) {
    /* Workers run with the caller's mask plus SIGPIPE and SIGXFSZ
     * (writesig.h), this thread too until the run ends. */
    pthread_sigmask(SIG_SETMASK, NULL, &loop->run_mask);
    weft__writesig_add(&loop->run_mask);
    write_blocked = weft__writesig_block();
    if (!alone) weft__loop_threads_release(loop);
    if (loop->pin_workers) weft__loop_pin_self(0);
    struct weft__altstack alt;
    weft__stackguard_thread_enter(&alt); /* for the run, if the caller has none */
    weft__reactor_bind(&loop->workers[0].reactor);
    weft__worker_main(&loop->workers[0]);
    weft__stackguard_thread_exit(&alt);
    if (!alone) weft__loop_threads_wait(loop, true);
  }
  weft__writesig_restore(&write_blocked); /* no task writes on this thread any more */
  if (restore) pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
  atomic_store_explicit(&loop->stopping, false, memory_order_relaxed);
  /* release: publishes everything the run did to the next run or close. */
  atomic_store_explicit(&loop->running, 0, memory_order_release);
  return rc;
}

int weft_loop_run_forever(weft_loop_t *loop) {
  if (!loop) return -EINVAL;
  if (atomic_load_explicit(&loop->closed, memory_order_acquire)) return WEFT_ECLOSED;
  if (weft__worker_self()) return -EBUSY;
  return run(loop, false);
}

static void push_to_inject(struct weft__runnable **batch, size_t n, void *inject) {
  weft__inject_push_array(inject, batch, n);
}

/* Worker threads could not be started, ever (once started they live until
 * close): nothing has run on workers 1..N-1, so what they hold is work
 * that never started. It moves to the injection queue, where worker 0,
 * running alone, takes it: tasks that never started end cancelled, as
 * close wants. Owner thread, loop not running. */
static void adopt_orphans(struct weft_loop *loop) {
  for (unsigned i = 1; i < loop->nworkers; i++) {
    struct weft__worker *w = &loop->workers[i];
    struct weft__runnable *r;
    while ((r = weft__runq_pop(&w->runq))) weft__inject_push(&loop->inject, r);
    weft__inject_drain(&w->inbox, push_to_inject, &loop->inject);
  }
}

int weft_loop_stop(weft_loop_t *loop) {
  if (!loop) return -EINVAL;
  if (atomic_load_explicit(&loop->closed, memory_order_acquire)) return WEFT_ECLOSED;
  /* A worker of the loop sets its ready work aside first, so that what it
   * schedules after this call waits for the next run (worker.c). */
  struct weft__worker *w = weft__worker_self();
  if (w && w->loop == loop && atomic_load_explicit(&loop->running, memory_order_relaxed))
    weft__worker_take_stop(w);
  /* seq_cst: a worker about to sleep re-reads it after announcing (idle.c). */
  atomic_store_explicit(&loop->stopping, true, memory_order_seq_cst);
  weft__loop_wake_all(loop);
  return 0;
}

static void stop_cb(weft_future_t *f, void *arg) {
  (void)f;
  weft_loop_stop(arg);
}

int weft_loop_run_until_complete(weft_loop_t *loop, weft_future_t *f, void **result) {
  if (!loop || !f || f->loop != loop) return -EINVAL;
  if (atomic_load_explicit(&loop->closed, memory_order_acquire)) return WEFT_ECLOSED;
  if (weft__worker_self() || atomic_load_explicit(&loop->running, memory_order_acquire))
    return -EBUSY;
  weft_future_ref(f);
  struct weft_handle *h = weft__handle_new_done(f, stop_cb, loop);
  if (!h) {
    weft_future_release(f);
    return -ENOMEM;
  }
  atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed); /* ours, to cancel it after */
  weft__future_add_callback(f, h); /* asyncio runs one pass even if f is done */
  int rc = weft_loop_run_forever(loop);
  /* A stop callback that did not run must not stop a later run. */
  bool linked = weft__future_remove_callback(f, h);
  weft_handle_cancel(h);
  if (linked) weft__handle_drop(h);
  weft_handle_release(h);
  if (rc == 0) rc = weft__future_is_done(f) ? weft__future_outcome(f, result) : WEFT_ESTOPPED;
  weft_future_release(f);
  return rc;
}

int weft_loop_run_task(weft_loop_t *loop, weft_task_fn fn, void *arg, void **result) {
  if (!loop || !fn) return -EINVAL;
  if (weft__worker_self() || atomic_load_explicit(&loop->running, memory_order_acquire))
    return -EBUSY; /* before spawning: a refused run must leave nothing behind */
  weft_task_t *t;
  int rc = weft_spawn_opts(loop, fn, arg, NULL, &t);
  if (rc) return rc;
  rc = weft_loop_run_until_complete(loop, weft_task_future(t), result);
  weft_task_release(t);
  return rc;
}

int weft_loop_is_running(const weft_loop_t *loop) {
  return loop && atomic_load_explicit(&((weft_loop_t *)loop)->running, memory_order_acquire);
}

int weft_loop_is_closed(const weft_loop_t *loop) {
  return loop && atomic_load_explicit(&((weft_loop_t *)loop)->closed, memory_order_acquire);
}

unsigned weft_loop_workers(const weft_loop_t *loop) { return loop ? loop->nworkers : 0; }

int weft_loop_serving_workers(const weft_loop_t *loop) {
  if (!loop) return -EINVAL;
  /* relaxed: a snapshot of a count only adapt.c stores. */
  return (int)atomic_load_explicit(&((weft_loop_t *)loop)->nserving, memory_order_relaxed);
}

bool weft__loop_enter_any(struct weft_loop *loop, bool *foreign) {
  struct weft__worker *self = weft__worker_self();
  *foreign = !self || self->loop != loop;
  return !*foreign || weft__loop_enter_foreign(loop, false);
}

int weft_loop_memory_stats(weft_loop_t *loop, struct weft_memory_stats *out) {
  if (!loop || !out) return -EINVAL;
  bool foreign;
  if (!weft__loop_enter_any(loop, &foreign)) return WEFT_ECLOSED;
  struct weft__stack_counts c;
  weft__stack_arena_counts(&loop->stack_arena, &c);
  size_t cached = c.arena_free;
  for (unsigned i = 0; i < loop->nworkers; i++)
    cached += atomic_load_explicit(&loop->workers[i].stacks.count, memory_order_relaxed);
  if (foreign) weft__loop_exit_foreign(loop);
  out->stack_size = loop->stack_size;
  out->stacks_mapped = c.mapped;
  out->stacks_trimmed = c.trimmed;
  /* Counts read at slightly different moments: clamp, never wrap. */
  out->stacks_cached = cached > c.mapped - c.trimmed ? c.mapped - c.trimmed : cached;
  out->stacks_in_use = c.mapped - c.trimmed - out->stacks_cached;
  out->stacks_alone = c.alone;
  out->stack_high_water = atomic_load_explicit(&loop->stack_high_water, memory_order_relaxed);
  out->stack_dropped = atomic_load_explicit(&loop->drop.bytes, memory_order_relaxed);
  return 0;
}

int weft_loop_trim(weft_loop_t *loop) {
  if (!loop) return -EINVAL;
  bool foreign;
  if (!weft__loop_enter_any(loop, &foreign)) return WEFT_ECLOSED;
  weft__stack_arena_trim(&loop->stack_arena, 0, SIZE_MAX);
  weft__stackdrop_all(loop);
  if (foreign) weft__loop_exit_foreign(loop);
  weft__alloc_purge();
  return 0;
}

weft_loop_t *weft_loop_current(void) {
  struct weft__worker *w = weft__worker_self();
  return w ? w->loop : NULL;
}

int weft_worker_index(void) {
  struct weft__worker *w = weft__worker_self();
  return w ? (int)w->index : -EPERM;
}

/* ---- closing ------------------------------------------------------------- */

static int cancel_visit(weft_task_t *t, void *arg) {
  (void)arg;
  weft_task_cancel(t, NULL);
  return 0;
}

int weft_loop_close(weft_loop_t *loop) {
  if (!loop) return -EINVAL;
  if (atomic_load_explicit(&loop->closed, memory_order_acquire)) return 0;
  if (atomic_load_explicit(&loop->running, memory_order_acquire) || weft__worker_self())
    return -EBUSY;
  raise_flag(loop, &loop->closing); /* no spawn from outside gets in after this */
  while (weft__loop_count_tasks(loop) > 0) {
    weft__loop_tasks_all(loop, cancel_visit, NULL);
    weft_loop_stop(loop);
    int rc = run(loop, false);
    if (rc == -EAGAIN || rc == -ENOMEM) { /* one iteration per worker, or ... */
      adopt_orphans(loop);             /* ... no threads: worker 0 alone */
      weft_loop_stop(loop);
      run(loop, true);
    }
  }
  weft__loop_io_quiesce(loop);   /* on each worker's thread: rings are theirs */
  weft__loop_threads_stop(loop); /* their rings are theirs until now */
  weft__monitor_stop(loop);       /* before closed: a dump it is writing finishes */
  weft__loop_executor_fini(loop);
  /* Rule (a): closed, and what foreign threads counted becomes the zombie
   * count, with close's own bias; rule (b): no one is inside an entry point
   * once this returns. */
  int64_t live = 0; /* the workers' counters are final: their threads are joined */
  for (unsigned i = 0; i < loop->nworkers; i++) live += loop->workers[i].live;
  weft__mutex_lock(&loop->foreign_lock);
  atomic_store_explicit(&loop->closed, true, memory_order_seq_cst);
  loop->zombie = loop->live_foreign + live + 1; /* + close's bias */
  wait_foreign_locked(loop);
  weft__mutex_unlock(&loop->foreign_lock);
  for (unsigned i = 0; i < loop->nworkers; i++)
    weft__worker_fini(&loop->workers[i]); /* drops queued handles (counted on zombie) */
  weft__loop_io_fini(loop); /* no op is in flight: tasks are done */
  weft__inject_drain(&loop->inject, weft__drop_runnables, NULL);
  weft__inject_fini(&loop->inject);
  weft__idle_fini(&loop->idle);
  weft__stack_arena_fini(&loop->stack_arena);
  weft__mutex_lock(&loop->foreign_lock);
  int64_t z = --loop->zombie; /* close's bias */
  weft__mutex_unlock(&loop->foreign_lock);
  if (z == 0) weft__loop_free(loop);
  return z > 0 ? (z > INT32_MAX ? INT32_MAX : (int)z) : 0;
}

/* ---- weft_run ------------------------------------------------------------ */

/* asyncio.run's _cancel_all_tasks: every task left when the main task
 * ends is cancelled and run to its end; one that ends with an error other
 * than cancellation is reported, which also retrieves the error. */
struct leftovers {
  weft_task_t **tasks;
  size_t n, cap;
};

static int collect_visit(weft_task_t *t, void *arg) {
  struct leftovers *l = arg;
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 64;
    weft_task_t **grown = weft__alloc(cap * sizeof *grown);
    if (!grown) return 1; /* what is missed, close() still cancels */
    if (l->n) memcpy(grown, l->tasks, l->n * sizeof *grown);
    weft__free(l->tasks, l->cap * sizeof *grown);
    l->tasks = grown;
    l->cap = cap;
  }
  l->tasks[l->n++] = weft_task_ref(t);
  return 0;
}

static void cancel_leftovers(weft_loop_t *loop) {
  struct leftovers l = {0};
  weft_loop_tasks(loop, collect_visit, &l);
  for (size_t i = 0; i < l.n; i++) weft_task_cancel(l.tasks[i], NULL);
  for (size_t i = 0; i < l.n; i++) {
    weft_future_t *f = weft_task_future(l.tasks[i]);
    /* A stop() from one of them ends a run early: run again. A run that
     * fails (no threads) leaves the rest to close, which ends them all. */
    while (!weft_future_done(f) && weft_loop_run_until_complete(loop, f, NULL) == WEFT_ESTOPPED) {
    }
    const char *msg = NULL;
    int err = weft_future_done(f) ? weft_future_error(f, &msg) : 0;
    if (err < 0 && err != -ECANCELED) {
      struct weft_exception_context ctx = {
          .message = "unhandled exception during asyncio.run() shutdown",
          .error = err,
          .error_msg = msg,
          .future = f,
          .task_name = weft_task_name(l.tasks[i]),
      };
      weft_loop_call_exception_handler(loop, &ctx);
    }
    weft_task_release(l.tasks[i]);
  }
  weft__free(l.tasks, l.cap * sizeof *l.tasks);
}

/* asyncio.Runner's SIGINT rule: the first one cancels the main task (the
 * run then returns -EINTR), a second one is not swallowed: its default
 * action ends the process, as KeyboardInterrupt would. */
struct sigint_state {
  weft_task_t *main;
  int count;
  bool interrupted;
};

static void on_sigint(void *arg) {
  struct sigint_state *s = arg;
  if (++s->count == 1 && !weft_future_done(weft_task_future(s->main))) {
    s->interrupted = true;
    weft_task_cancel(s->main, "interrupted (SIGINT)");
    return;
  }
  signal(SIGINT, SIG_DFL); /* the loop blocks it in its threads: unblock here and raise */
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, SIGINT);
  pthread_sigmask(SIG_UNBLOCK, &one, NULL);
  raise(SIGINT);
}

/* Whether weft_run takes SIGINT: on the process's main thread, when the
 * program left SIGINT's default action in place (asyncio: only in the
 * main thread, only over Python's default handler). */
static bool takes_sigint(void) {
  struct sigaction sa;
  return syscall(SYS_gettid) == getpid() && sigaction(SIGINT, NULL, &sa) == 0 &&
         sa.sa_handler == SIG_DFL && !(sa.sa_flags & SA_SIGINFO);
}

int weft_run_config(const struct weft_loop_config *cfg, weft_task_fn fn, void *arg,
                    void **result) {
  if (!fn) return -EINVAL;
  if (weft__worker_self()) return -EBUSY;
  weft_loop_t *loop;
  /* The loop never leaves this call: this thread alone runs and closes it. */
  int rc = loop_new(cfg, &loop, true);
  if (rc) return rc;
  weft_task_t *main_task;
  rc = weft_spawn_opts(loop, fn, arg, NULL, &main_task);
  if (rc == 0) {
    struct sigint_state sig = {.main = main_task};
    bool sigint = takes_sigint() && weft_loop_add_signal_handler(loop, SIGINT, on_sigint, &sig) == 0;
    rc = weft_loop_run_until_complete(loop, weft_task_future(main_task), result);
    if (sigint) weft_loop_remove_signal_handler(loop, SIGINT);
    if (sig.interrupted && rc == -ECANCELED) rc = -EINTR;
    weft_task_release(main_task);
    cancel_leftovers(loop);
    weft__loop_shutdown_executor_running(loop); /* asyncio.run does, before close */
  }
  weft_loop_close(loop); /* what is left (spawned during shutdown) is cancelled too */
  return rc;
}

int weft_run(weft_task_fn fn, void *arg, void **result) {
  return weft_run_config(NULL, fn, arg, result);
}
