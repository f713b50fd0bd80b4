/*
 * weft/executor.h - blocking work on threads (asyncio's run_in_executor,
 * to_thread, set_default_executor, shutdown_default_executor).
 *
 * An executor is a pool of threads that runs functions which block (a
 * synchronous library, a CPU-heavy step, a blocking system call) while the
 * awaiting task is suspended: no worker ever blocks. Threads start on
 * demand up to the executor's bound and leave after an idle while. Every
 * loop has a default executor, made at its first use with asyncio's size,
 * min(32, CPUs + 4), or set with weft_loop_set_default_executor(). Its
 * threads run with SIGPIPE and SIGXFSZ blocked, as workers do
 * (weft/runtime.h): a function that writes to a pipe whose reader is gone
 * gets EPIPE, one that writes past the file size limit EFBIG.
 *
 * Cancellation follows asyncio: cancelling the future of a function that
 * has not started yet means it never runs; one that is running is not
 * interrupted (a thread cannot be): it runs to its end and its result is
 * dropped. A function whose result owns memory should therefore not be
 * cancelled, or should free what it made when weft_future_cancelled() is
 * true for its future (the function cannot see that; the awaiter can).
 *
 * Closing: weft_loop_close() does not wait for functions still running
 * (asyncio's shutdown(wait=False)); the future of a call cancelled while
 * running stays counted (close returns it; the loop's memory is freed when
 * the thread lets go of it at the function's end). A call that has
 * completed is never counted: its thread's completion and release finish
 * before close goes on. Shut the executors down first, as weft_run() does
 * for the default one, to wait for running functions too.
 *
 * Ownership: weft_executor_new() gives the caller one reference, released
 * with weft_executor_release(); the default-executor slot of a loop holds
 * one of its own. An executor whose last reference is gone is shut down
 * without waiting: work already given still runs, and the threads free it
 * when they leave. Futures returned by weft_run_in_executor() are the
 * caller's (weft_future_release()).
 *
 * Waiting for a call: a worker with nothing else to do while one of its
 * loop's calls is on an executor, and such calls have lately taken under
 * 50 us on average, waits for it awake for up to 50 us instead of going to
 * sleep (one worker per loop; docs/design.md). A caller awaiting short
 * calls one after another then pays no thread wake-up on either side;
 * calls slower than that make no worker spin.
 *
 * Thread-safety: every function may be called from any thread, except
 * where a doc block says "Suspends": those suspend a task, block a foreign
 * thread, and refuse (-EDEADLK) on a worker outside a task.
 */
#ifndef WEFT_EXECUTOR_H
#define WEFT_EXECUTOR_H

#include <stdint.h>
#include "weft/runtime.h"
#include "weft/task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_executor weft_executor_t;

/**
 * struct weft_executor_config - an executor's shape
 * @max_threads:     the bound (asyncio's max_workers); 0: min(32, CPUs + 4).
 * @idle_timeout_ns: an idle thread leaves after this long; 0: 10 s; < 0: never.
 * @name:            thread name prefix (a number is appended; 15 bytes in
 *                   all); NULL: "weft-exec". Copied.
 * @spin_ns:         a thread out of work looks for more this long before it
 *                   sleeps (saving a sleep and a wake-up per call to callers
 *                   that await one call after another, at the price of that
 *                   much CPU after the last); 0: 30 us; < 0: never.
 */
struct weft_executor_config {
  unsigned max_threads;
  int64_t idle_timeout_ns;
  const char *name;
  int64_t spin_ns;
};

/** weft_executor_config_init - the defaults above. */
WEFT_EXTERN void weft_executor_config_init(struct weft_executor_config *cfg);

/**
 * weft_executor_new - an executor (concurrent.futures.ThreadPoolExecutor)
 * @cfg: NULL for the defaults.
 *
 * Return: 0; -EINVAL (@out NULL, @max_threads above 4096); -ENOMEM.
 * Threads: any.
 */
WEFT_EXTERN int weft_executor_new(const struct weft_executor_config *cfg, weft_executor_t **out);
/** weft_executor_ref - another reference to @ex (NULL passes through). Threads: any. */
WEFT_EXTERN weft_executor_t *weft_executor_ref(weft_executor_t *ex);
/** weft_executor_release - drops a reference (NULL: no-op); the last shuts it down without waiting. Threads: any. */
WEFT_EXTERN void weft_executor_release(weft_executor_t *ex);

/**
 * weft_run_in_executor - run @fn(@arg, &result) on a thread of @ex (loop.run_in_executor)
 * @ex:  the executor; NULL: the current loop's default executor.
 * @fn:  the blocking function; its return (0 or a negative error code) and
 *       result become the future's outcome.
 * @out: receives a future of the current loop; release it with
 *       weft_future_release(). Cancelling it before @fn starts means @fn
 *       never runs; after, @fn runs to its end and its result is dropped.
 *
 * Return: 0; -EINVAL (@fn or @out NULL); -EPERM (not on a worker of a loop);
 * WEFT_ESHUTDOWN (@ex, or the default executor, was shut down); -EAGAIN (no
 * thread could be started); -ENOMEM.
 * Threads: a worker of a loop (a task or a callback). Suspends: no.
 */
WEFT_EXTERN int weft_run_in_executor(weft_executor_t *ex, weft_task_fn fn, void *arg,
                                     weft_future_t **out);

/**
 * weft_to_thread - run @fn(@arg, @result) on the default executor and wait (asyncio.to_thread)
 * @result: receives @fn's result if it returned 0; may be NULL.
 *
 * Return: @fn's return value; -ECANCELED if the calling task was cancelled
 * meanwhile (at once: @fn, if it started, runs on and its result is
 * dropped); -EINVAL; -EPERM (outside a task); the errors of
 * weft_run_in_executor().
 * Threads: a task. Suspends: yes.
 */
WEFT_EXTERN int weft_to_thread(weft_task_fn fn, void *arg, void **result);

/**
 * weft_executor_shutdown - refuse new work, then wait for the threads to finish (Executor.shutdown)
 * @timeout_ns: how long to wait; < 0: until done; 0: not at all (wait=False).
 *
 * Work already given (queued or running) still runs. Calling it again is
 * harmless.
 * Return: 0 once every thread has left; -ETIMEDOUT (work still running; it
 * goes on); -ECANCELED (the waiting task was cancelled; it goes on);
 * -EDEADLK (on a worker outside a task); -EINVAL.
 * Threads: any. Suspends: yes (a task), blocks (a foreign thread).
 */
WEFT_EXTERN int weft_executor_shutdown(weft_executor_t *ex, int64_t timeout_ns);

/**
 * struct weft_executor_counts - a snapshot
 * @threads: threads alive; @idle: of those, waiting for work; @running:
 * running a function; @queued: functions waiting for a thread.
 */
struct weft_executor_counts {
  unsigned threads, idle, running;
  size_t queued;
};

/** weft_executor_stats - 0, or -EINVAL. Threads: any. */
WEFT_EXTERN int weft_executor_stats(weft_executor_t *ex, struct weft_executor_counts *out);

/**
 * weft_loop_set_default_executor - make @ex @loop's default executor (loop.set_default_executor)
 *
 * The loop takes its own reference; the executor it replaces (if any) is
 * released, not shut down. @ex NULL: the loop makes a fresh default one at
 * its next use.
 * Return: 0; -EINVAL (@loop NULL); WEFT_ECLOSED. Threads: any.
 */
WEFT_EXTERN int weft_loop_set_default_executor(weft_loop_t *loop, weft_executor_t *ex);

/**
 * weft_loop_shutdown_default_executor - shut the default executor down and wait (loop.shutdown_default_executor)
 *
 * Later weft_run_in_executor(NULL, ...) calls fail with WEFT_ESHUTDOWN, as
 * asyncio's. weft_run() calls this (300 s limit, asyncio.run's) before it
 * closes the loop; weft_loop_close() shuts it down without waiting.
 * Return: as weft_executor_shutdown(); 0 if there is none.
 * Threads: any. Suspends: yes (a task), blocks (a foreign thread).
 */
WEFT_EXTERN int weft_loop_shutdown_default_executor(weft_loop_t *loop, int64_t timeout_ns);

#ifdef __cplusplus
}
#endif

#endif
