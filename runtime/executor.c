/*
 * executor.c - executors (weft/executor.h): runtime/pool.c threads running
 * blocking functions whose outcome completes a future of the caller's loop.
 *
 * A call is one allocation, struct exec_job: the future the caller gets
 * (first member, with its own ops) and the pool work. The future has two
 * references at first, the caller's and the job's; the job drops its own
 * when the function has run and completed the future, or when a cancel
 * takes the job back before any thread started it (then it never runs).
 * A thread completes and drops its reference inside the loop's entry
 * guard, so close never counts the future of a call that has completed.
 * A weft_to_thread call of a one-worker loop whose owner sections are on
 * is completed on the worker instead (complete_on_worker: a call queued
 * inside the guard, which close runs even at teardown), so that the
 * completion does not revoke the sections.
 * A cancel that comes later completes the future with -ECANCELED at once;
 * the function's own completion then finds it done and its result is
 * dropped (asyncio's wrap_future). The job holds a reference on its pool,
 * so a cancel never touches a freed pool.
 *
 * The loop's default executor lives in loop->executor under exec_lock,
 * made at first use; shutdown_default_executor sets executor_shut, after
 * which the default is refused (asyncio's _executor_shutdown_called).
 */
#include "weft.h"
#include "weft/executor.h"
#include "alloc.h"
#include "context.h"
#include "deadline.h"
#include "future.h"
#include "handle.h"
#include "loop.h"
#include "pool.h"
#include "task.h"
#include "worker.h"

#include <errno.h>
#include <unistd.h>

/* Justification: asyncio's ThreadPoolExecutor bound (CPUs + 4, at most
 * 32: enough to overlap I/O-bound blocking calls without a thread per
 * call); Tokio's blocking pool keeps idle threads 10 s. */
#define MAX_THREADS_CAP 4096u
#define DEFAULT_IDLE_NS (10 * 1000000000LL)
/* Justification: a thread out of work looks for more for 30 us before it
 * sleeps. On the development VM a sleeping thread's wake-up costs ~20-40
 * us (a bare futex ping-pong between two threads: ~38 us a round trip), so
 * a caller awaiting one call after another paid it on every call;
 * executor_roundtrip's median went 46 -> 27 us (1 worker) with 30 us, and
 * 50 us was no better (benchmarks/RESULTS.md). Go's idle Ms spin the same
 * way. */
#define DEFAULT_SPIN_NS (30 * 1000LL)
/* asyncio.run gives shutdown_default_executor 300 s. */
#define RUN_SHUTDOWN_NS (300 * 1000000000LL)

struct weft_executor {
  struct weft__pool *pool; /* one reference, ours */
  _Atomic unsigned refs;
};

static unsigned default_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) n = 1;
  return n + 4 > 32 ? 32u : (unsigned)(n + 4);
}

void weft_executor_config_init(struct weft_executor_config *cfg) {
  if (!cfg) return;
  cfg->max_threads = 0;
  cfg->idle_timeout_ns = 0;
  cfg->name = NULL;
  cfg->spin_ns = 0;
}

int weft_executor_new(const struct weft_executor_config *cfg, weft_executor_t **out) {
  if (!out) return -EINVAL;
  struct weft_executor_config c;
  weft_executor_config_init(&c);
  if (cfg) c = *cfg;
  if (c.max_threads > MAX_THREADS_CAP) return -EINVAL;
  struct weft_executor *ex = weft__alloc(sizeof *ex);
  if (!ex) return -ENOMEM;
  struct weft__pool_config pc = {
      .max_threads = c.max_threads ? c.max_threads : default_threads(),
      .idle_ns = c.idle_timeout_ns ? c.idle_timeout_ns : DEFAULT_IDLE_NS,
      .name = c.name ? c.name : "weft-exec",
      .spin_ns = c.spin_ns < 0 ? 0 : c.spin_ns ? c.spin_ns : DEFAULT_SPIN_NS,
  };
  int rc = weft__pool_new(&pc, &ex->pool);
  if (rc) {
    weft__free(ex, sizeof *ex);
    return rc;
  }
  atomic_init(&ex->refs, 1);
  *out = ex;
  return 0;
}

weft_executor_t *weft_executor_ref(weft_executor_t *ex) {
  /* relaxed: taking a reference needs no ordering; the caller holds one. */
  if (ex) atomic_fetch_add_explicit(&ex->refs, 1, memory_order_relaxed);
  return ex;
}

void weft_executor_release(weft_executor_t *ex) {
  if (!ex) return;
  /* acq_rel: the last releaser sees every holder's writes before freeing. */
  if (atomic_fetch_sub_explicit(&ex->refs, 1, memory_order_acq_rel) != 1) return;
  weft__pool_stop(ex->pool);    /* work already given still runs ... */
  weft__pool_release(ex->pool); /* ... and its threads free the pool */
  weft__free(ex, sizeof *ex);
}

int weft_executor_shutdown(weft_executor_t *ex, int64_t timeout_ns) {
  if (!ex) return -EINVAL;
  return weft__pool_shutdown(ex->pool, weft__deadline(timeout_ns));
}

int weft_executor_stats(weft_executor_t *ex, struct weft_executor_counts *out) {
  if (!ex || !out) return -EINVAL;
  struct weft__pool_stats s;
  weft__pool_stats(ex->pool, &s);
  out->threads = s.threads;
  out->idle = s.idle;
  out->running = s.running;
  out->queued = s.queued;
  return 0;
}

/* ---- one call ------------------------------------------------------------------ */

struct exec_job {
  struct weft_future fut; /* first: what the caller holds */
  struct weft__pool_work work;
  struct weft__pool *pool; /* referenced */
  weft_task_fn fn;
  void *arg;
  struct weft__ctx_map *ctx_map; /* the caller's context: fn runs in it (to_thread) */
  uint64_t submitted_ns;         /* for the loop's average call time */
  bool to_thread;                /* weft_to_thread's: only its caller awaits the future */
  /* The function's outcome, written by the pool thread before the
   * completion (complete_job), there or on the worker (the call). */
  int rc;
  void *result;
  struct weft__call complete; /* complete_on_worker's */
};

/* A call of @loop is done (run or taken back): one fewer in flight. */
static void call_done(struct weft_loop *loop) {
  /* release: orders the completion (the task's wake-up, pushed before)
   * before a spinning worker's acquire load sees the count drop. */
  atomic_fetch_sub_explicit(&loop->exec_inflight, 1, memory_order_release);
}

static void job_free(struct weft_future *f) {
  struct exec_job *j = (struct exec_job *)f;
  struct weft_loop *loop = f->loop;
  weft__future_fini(f);
  weft__ctx_release(j->ctx_map);
  weft__pool_release(j->pool);
  weft__free(j, sizeof *j);
  weft__loop_count(loop, -1);
}

static int job_cancel(struct weft_future *f, const char *msg) {
  struct exec_job *j = (struct exec_job *)f;
  if (!weft__future_is_done(f) && weft__pool_unqueue(j->pool, &j->work)) {
    call_done(f->loop);
    int rc = weft__future_cancel_plain(f, msg); /* never runs: cancelled, certainly */
    weft_future_release(f);                    /* the job's reference */
    return rc;
  }
  return weft__future_cancel_plain(f, msg); /* running: its result will be dropped */
}

static const struct weft__future_ops job_ops = {.cancel = job_cancel, .free = job_free};

/* Whether @j's completion is made on its loop's worker (complete_on_worker)
 * rather than on the pool thread. Made here it locks the future, which on
 * a one-worker loop with owner sections on revokes them (owner.h): the
 * loop then locks every future and task state for a hold of 1 ms to 1 s,
 * and a program calling to_thread steadily ran without sections most of
 * the time (RESULTS.md, 2026-12-07 21:20Z). On the worker it is made in a
 * section, as asyncio makes it (call_soon_threadsafe(future.set_result)).
 * Only for weft_to_thread's calls: their future is awaited by their caller
 * alone, a task of the loop, so no thread waits for a completion that the
 * worker would not have to run for anyway. relaxed: a hint; either way is
 * correct. */
static bool complete_on_worker_wanted(const struct exec_job *j, struct weft_loop *loop) {
  return j->to_thread && loop->solo &&
         atomic_load_explicit(&loop->owner->on, memory_order_relaxed) == WEFT__OWNER_ON;
}

/* The call's outcome on its future. Done already (cancelled while the
 * function ran): the result is dropped. */
static void complete_job(struct exec_job *j) {
  weft__future_complete(&j->fut, j->rc < 0 ? j->rc : 0, j->rc < 0 ? NULL : j->result, NULL);
}

/* On the worker (or, queued at teardown, on the closing thread: handle.h,
 * weft__call_queue_sure): the completion job_run would have made. */
static void complete_on_worker(struct weft__call *c) {
  struct exec_job *j = weft__container_of(c, struct exec_job, complete);
  complete_job(j);
  weft_future_release(&j->fut); /* the job's reference; may free j */
}

/* Queues @j's completion to its loop's worker where that is wanted: true
 * if so (the job's reference went with it). Inside the entry guard, taken
 * only while closing is not raised (rule b), so close has not begun: its
 * runs or its teardown (a sure call) run the call, and the loop is not
 * closed, so the queue takes it. */
static bool hand_to_worker(struct exec_job *j, struct weft_loop *loop) {
  if (!complete_on_worker_wanted(j, loop) || !weft__loop_enter_foreign(loop, true)) return false;
  bool queued = weft__call_queue_sure(loop, &j->complete, complete_on_worker);
  if (queued) call_done(loop); /* after the push: a spinning worker finds the call queued */
  weft__loop_exit_foreign(loop);
  return queued;
}

static void job_run(struct weft__pool_work *w) {
  struct exec_job *j = weft__container_of(w, struct exec_job, work);
  j->result = NULL;
  struct weft__ctx_map *saved = weft__ctx_enter(j->ctx_map);
  j->rc = j->fn(j->arg, &j->result);
  weft__ctx_leave(saved);
  weft__pool_finishing(); /* the rest is short: a next call waits for this thread */
  struct weft_loop *loop = j->fut.loop;
  uint64_t took = weft__clock_ns() - j->submitted_ns;
  /* relaxed: an average for a heuristic; racing updates lose a sample. */
  uint64_t avg = atomic_load_explicit(&loop->exec_avg_ns, memory_order_relaxed);
  atomic_store_explicit(&loop->exec_avg_ns, avg ? avg - avg / 8 + took / 8 : took, memory_order_relaxed);
  if (hand_to_worker(j, loop)) return;
  /* The completion and the job's release run inside the loop's entry
   * guard (loop.c, rule b), which close waits out: a caller that awaited
   * this call and closed the loop at once could otherwise find the job's
   * reference not yet dropped, and close would count the future as the
   * user's. Refused only once the loop is closed: then no task waits, and
   * the reference is counted on the zombie, which it keeps alive. */
  bool entered = weft__loop_enter_foreign(loop, false);
  complete_job(j);
  call_done(loop); /* after the wake-up: a spinning worker finds the task queued */
  weft_future_release(&j->fut); /* the job's reference; may free j */
  if (entered) weft__loop_exit_foreign(loop); /* the guard keeps loop alive until here */
}

/* The loop's default executor, made at first use; a reference for the caller. */
static int default_executor(struct weft_loop *loop, weft_executor_t **out) {
  int rc = 0;
  weft__mutex_lock(&loop->exec_lock);
  if (loop->executor_shut) rc = WEFT_ESHUTDOWN;
  else if (!loop->executor) rc = weft_executor_new(NULL, &loop->executor);
  if (rc == 0) *out = weft_executor_ref(loop->executor);
  weft__mutex_unlock(&loop->exec_lock);
  return rc;
}

/* Submits one call of @fn to @pool; the future of @loop through @out
 * (@to_thread: weft_to_thread's, which only its caller awaits). */
static int submit(struct weft_loop *loop, struct weft__pool *pool, weft_task_fn fn, void *arg,
                  bool to_thread, weft_future_t **out) {
  struct exec_job *j = weft__alloc(sizeof *j);
  if (!j) return -ENOMEM;
  weft__future_init(&j->fut, loop, false);
  j->fut.ops = &job_ops;
  j->work.run = job_run;
  j->pool = pool;
  weft__pool_ref(pool);
  j->fn = fn;
  j->arg = arg;
  j->to_thread = to_thread;
  j->ctx_map = weft__ctx_capture();
  weft__loop_count(loop, +1);
  /* relaxed: nobody else sees the job before the pool's lock publishes it. */
  atomic_store_explicit(&j->fut.refs, 2, memory_order_relaxed); /* the caller's, the job's */
  j->submitted_ns = weft__clock_ns();
  atomic_fetch_add_explicit(&loop->exec_inflight, 1, memory_order_relaxed); /* a hint */
  int rc = weft__pool_submit(pool, &j->work);
  if (rc) { /* never queued: both references are ours */
    call_done(loop);
    atomic_store_explicit(&j->fut.refs, 1, memory_order_relaxed);
    weft_future_release(&j->fut);
    return rc;
  }
  *out = &j->fut;
  return 0;
}

static int run_in_executor(weft_executor_t *ex, weft_task_fn fn, void *arg, bool to_thread,
                           weft_future_t **out) {
  struct weft__worker *w = weft__worker_self();
  if (!w) return -EPERM;
  if (ex) return submit(w->loop, ex->pool, fn, arg, to_thread, out);
  weft_executor_t *def = NULL;
  int rc = default_executor(w->loop, &def);
  if (rc) return rc;
  rc = submit(w->loop, def->pool, fn, arg, to_thread, out);
  weft_executor_release(def); /* the job holds the pool */
  return rc;
}

int weft_run_in_executor(weft_executor_t *ex, weft_task_fn fn, void *arg, weft_future_t **out) {
  if (!fn || !out) return -EINVAL;
  return run_in_executor(ex, fn, arg, false, out);
}

int weft_to_thread(weft_task_fn fn, void *arg, void **result) {
  if (!fn) return -EINVAL;
  if (!weft__task_self()) return -EPERM;
  weft_future_t *f;
  int rc = run_in_executor(NULL, fn, arg, true, &f);
  if (rc) return rc;
  rc = weft_await(f, result); /* a cancellation cancels f: unqueued, or its result dropped */
  weft_future_release(f);
  return rc;
}

/* ---- the loop's default executor ------------------------------------------------- */

int weft_loop_set_default_executor(weft_loop_t *loop, weft_executor_t *ex) {
  if (!loop) return -EINVAL;
  if (atomic_load_explicit(&loop->closed, memory_order_acquire)) return WEFT_ECLOSED;
  weft__mutex_lock(&loop->exec_lock);
  weft_executor_t *old = loop->executor;
  loop->executor = weft_executor_ref(ex);
  weft__mutex_unlock(&loop->exec_lock);
  weft_executor_release(old);
  return 0;
}

/* Takes the default executor out of @loop (refusing it from now on if
 * @refuse); the caller gets the loop's reference. */
static weft_executor_t *take_default(struct weft_loop *loop, bool refuse) {
  weft__mutex_lock(&loop->exec_lock);
  weft_executor_t *ex = loop->executor;
  loop->executor = NULL;
  if (refuse) loop->executor_shut = true;
  weft__mutex_unlock(&loop->exec_lock);
  return ex;
}

int weft_loop_shutdown_default_executor(weft_loop_t *loop, int64_t timeout_ns) {
  if (!loop) return -EINVAL;
  weft_executor_t *ex = take_default(loop, true);
  if (!ex) return 0;
  int rc = weft_executor_shutdown(ex, timeout_ns);
  weft_executor_release(ex);
  return rc;
}

void weft__loop_executor_fini(struct weft_loop *loop) {
  /* asyncio's close: shutdown(wait=False). The threads finish what they
   * were given; its futures belong to this (closed) loop, counted on its
   * zombie, and are freed by whoever holds them. */
  weft_executor_release(take_default(loop, true));
}

static int shutdown_task(void *arg, void **result) {
  (void)result;
  return weft_loop_shutdown_default_executor(arg, RUN_SHUTDOWN_NS);
}

int weft__loop_shutdown_executor_running(struct weft_loop *loop) {
  /* asyncio.run: the loop keeps running while the threads finish, so a
   * function that calls back into the loop (call_soon_threadsafe) is
   * served. Only if there is an executor to wait for. */
  weft__mutex_lock(&loop->exec_lock);
  bool any = loop->executor != NULL;
  weft__mutex_unlock(&loop->exec_lock);
  if (!any) return 0;
  return weft_loop_run_task(loop, shutdown_task, loop, NULL);
}
