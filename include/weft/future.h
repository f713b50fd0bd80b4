/*
 * weft/future.h - futures (asyncio.Future) and awaiting them.
 *
 * A future is a one-shot result slot: pending, then done with a result
 * (void *), an error (a negative code plus an optional message), or
 * cancelled (the error -ECANCELED). Any number of tasks, callbacks and
 * foreign threads may wait for the same future; each sees the outcome.
 *
 * Ownership: futures are reference-counted. weft_future_new() returns one
 * reference; weft_future_ref() adds one; weft_future_release() drops one and
 * frees the future with the last. A task's future lives inside the task
 * (weft_task_future()) and shares the task's reference count. The value
 * stored with set_result is never touched by weft: it stays the caller's.
 *
 * Thread-safety: every function here may be called from any worker of the
 * future's loop and from foreign threads, concurrently, unless it says
 * otherwise. Done callbacks and woken tasks run on the loop's workers.
 * Cost: while a loop with one worker runs, its worker touches its futures
 * without locked instructions until another thread first locks one of
 * them (completes, cancels, waits on, reads the error of, or frees the
 * last reference to one); that call then pays one process-wide barrier
 * (membarrier(2)), and the run goes on with the locks (docs/design.md,
 * Futures).
 *
 * If a future ends with an error (other than cancellation) that nobody
 * retrieved (weft_await, weft_future_result or weft_future_error), the loop's
 * exception handler is told when the future is freed ("Future exception was
 * never retrieved" / "Task exception was never retrieved").
 */
#ifndef WEFT_FUTURE_H
#define WEFT_FUTURE_H

#include <stdint.h>
#include "weft/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*weft_future_cb)(weft_future_t *f, void *arg);

/**
 * weft_future_new - create a pending future (loop.create_future)
 * @loop: the loop its callbacks run on, or NULL for weft_loop_current().
 * @out:  receives the future; the caller owns one reference.
 *
 * Returns:  0; -EINVAL if @out is NULL, or @loop is NULL outside a loop;
 *           WEFT_ECLOSED if the loop is closed; -ENOMEM.
 * Suspends: no.  Threads: any.
 */
WEFT_EXTERN int weft_future_new(weft_loop_t *loop, weft_future_t **out);

/** weft_future_ref - add a reference; returns @f (NULL stays NULL). Threads: any. */
WEFT_EXTERN weft_future_t *weft_future_ref(weft_future_t *f);
/** weft_future_release - drop a reference (NULL is ignored). Threads: any. */
WEFT_EXTERN void weft_future_release(weft_future_t *f);

/**
 * weft_future_set_result - complete @f with @value (Future.set_result)
 * Returns:  0; WEFT_EINVALSTATE if @f is already done (nothing changes);
 *           -EINVAL if @f is NULL or is a task's future (tasks end by
 *           returning).
 * Suspends: no.  Threads: any.
 * Ownership: @f must be alive when the call starts (a reference held by
 *           anyone, e.g. the task awaiting it, is enough): the call keeps
 *           its own reference until it returns, so an awaiter that sees @f
 *           done may release it at once. The same holds for set_error and
 *           cancel.
 */
WEFT_EXTERN int weft_future_set_result(weft_future_t *f, void *value);

/**
 * weft_future_set_error - complete @f with an error (Future.set_exception)
 * @err: a negative code; -ECANCELED is refused (use weft_future_cancel).
 * @msg: an optional message, copied; may be NULL.
 *
 * Returns:  0; WEFT_EINVALSTATE if already done; -EINVAL if @err >= 0 or is
 *           -ECANCELED, if @f is NULL or a task's future; -ENOMEM (copying
 *           @msg; the future is then still pending).
 * Suspends: no.  Threads: any.
 */
WEFT_EXTERN int weft_future_set_error(weft_future_t *f, int err, const char *msg);

/**
 * weft_future_cancel - cancel @f (Future.cancel; Task.cancel for a task)
 * @msg: an optional message, copied; may be NULL.
 *
 * For a plain future: it ends cancelled now and its waiters wake with
 * -ECANCELED. For a task's future: the task's cancellation is requested, as
 * weft_task_cancel() does.
 *
 * Returns:  1 if cancelled (or requested); 0 if already done; -EINVAL if NULL;
 *           -ENOMEM copying @msg (nothing changes).
 * Suspends: no.  Threads: any.
 */
WEFT_EXTERN int weft_future_cancel(weft_future_t *f, const char *msg);

/** weft_future_done - 1 if done (result, error or cancelled), else 0. Threads: any. */
WEFT_EXTERN int weft_future_done(const weft_future_t *f);
/** weft_future_cancelled - 1 if it ended with -ECANCELED, else 0. Threads: any. */
WEFT_EXTERN int weft_future_cancelled(const weft_future_t *f);

/**
 * weft_future_result - read the outcome of a done future (Future.result)
 * @out: receives the result on success; may be NULL.
 *
 * Returns:  0; the future's error code (-ECANCELED if cancelled);
 *           WEFT_EINVALSTATE if still pending; -EINVAL if @f is NULL.
 * Suspends: no.  Threads: any. Marks an error as retrieved.
 */
WEFT_EXTERN int weft_future_result(weft_future_t *f, void **out);

/**
 * weft_future_error - the error of a done future (Future.exception)
 * @msg: receives the error message or NULL; valid while the caller holds a
 *       reference to @f; may be NULL.
 *
 * Returns:  0 if it succeeded; its error code otherwise; WEFT_EINVALSTATE if
 *           pending; -EINVAL if @f is NULL.
 * Suspends: no.  Threads: any. Marks an error as retrieved.
 */
WEFT_EXTERN int weft_future_error(weft_future_t *f, const char **msg);

/**
 * weft_future_on_done - call @cb(@f, @arg) once @f is done (add_done_callback)
 *
 * The callback is scheduled on @f's loop (never called inline), after the
 * callbacks and awaiting tasks registered before it; if @f is already done
 * it is scheduled now. It runs outside any task and must not suspend.
 *
 * Returns:  0; -EINVAL if @f or @cb is NULL; -ENOMEM (then @cb is never
 *           called and @arg stays the caller's).
 * Suspends: no.  Threads: any.
 */
WEFT_EXTERN int weft_future_on_done(weft_future_t *f, weft_future_cb cb, void *arg);

/**
 * weft_future_remove_done - unregister @cb/@arg (remove_done_callback)
 * Returns:  how many registrations were removed (>= 0); -EINVAL if NULL.
 *           Callbacks already scheduled still run.
 * Threads:  any.
 */
WEFT_EXTERN int weft_future_remove_done(weft_future_t *f, weft_future_cb cb, void *arg);

/**
 * weft_await - suspend the current task until @f is done (await f)
 * @f:      the future (or weft_task_future(task)); borrowed.
 * @result: receives the result on success; may be NULL.
 *
 * If the awaiting task is cancelled while it waits, @f is cancelled too (a
 * plain future ends cancelled for every awaiter; a task gets a cancellation
 * request) and weft_await returns -ECANCELED at once. If @f completes and the
 * task is cancelled before it resumes, the cancellation wins, unless
 * weft_task_uncancel() withdrew it first.
 *
 * Returns:  0 with the result; @f's error (-ECANCELED if @f was cancelled);
 *           -ECANCELED if the task was cancelled; -EPERM outside a task;
 *           -EDEADLK if a task awaits itself; -EINVAL if @f is NULL.
 * Suspends: yes, unless @f is already done.  Threads: tasks only.
 */
WEFT_EXTERN int weft_await(weft_future_t *f, void **result);

/**
 * weft_await_timeout - weft_await() bounded by @timeout_ns
 *
 * On timeout @f is left alone (not cancelled) and -ETIMEDOUT is returned.
 * @timeout_ns < 0 means no limit (as every weft timeout: asyncio's None);
 * 0 returns the result of a done @f, else -ETIMEDOUT after one pass.
 * Returns:  as weft_await(), plus -ETIMEDOUT.
 * Suspends: yes.  Threads: tasks only.
 */
WEFT_EXTERN int weft_await_timeout(weft_future_t *f, int64_t timeout_ns, void **result);

/**
 * weft_future_wait_threadsafe - block a foreign thread until @f is done
 * (concurrent.futures.Future.result(timeout))
 * @timeout_ns: how long to wait; < 0 waits without limit.
 * @result:     receives the result; may be NULL.
 *
 * Returns:  0 with the result; @f's error; -ETIMEDOUT; -EINVAL if @f is NULL;
 *           -EDEADLK when called on a worker thread (that would block a
 *           worker: await the future from a task instead).
 * Suspends: blocks the calling thread.  Threads: non-worker threads.
 */
WEFT_EXTERN int weft_future_wait_threadsafe(weft_future_t *f, int64_t timeout_ns,
                                            void **result);

/** weft_future_loop - the loop @f belongs to. Threads: any. */
WEFT_EXTERN weft_loop_t *weft_future_loop(const weft_future_t *f);

#ifdef __cplusplus
}
#endif
#endif
