/*
 * weft/task.h - tasks: functions running on their own fiber (asyncio.Task).
 *
 * A task runs weft_task_fn on a fiber with its own stack. It gets the stack
 * when it first runs and gives it back when it ends (to the worker's pool,
 * or straight to the next task starting there, whose function then runs
 * on it without a fiber switch). Awaiting, sleeping and
 * yielding suspend the fiber, never the worker thread; a suspended task may
 * resume on another worker unless it is pinned. Thread-locals are then the
 * new worker's, and a compiler may keep a thread-local's address across the
 * call that suspended: errno's is, with gcc -O2 (weft/errno.h says what to
 * do: WEFT_ERRNO_ANEW).
 *
 * A task ends with a result (its fn returned 0) or an error (a negative code,
 * with an optional message set by weft_fail()). It is cancelled only if it
 * ended with -ECANCELED.
 *
 * Cancellation is a request: the task's current or next suspension point
 * returns -ECANCELED once per request (weft_task_cancelling() counts them,
 * weft_task_uncancel() withdraws one). The task may clean up, carry on, or
 * return the error. A task cancelled before it first runs ends cancelled
 * without running.
 *
 * Ownership: a task is reference-counted together with its future.
 * weft_spawn() gives the caller one reference when @out is not NULL, and it
 * must be released with weft_task_release() (or weft_future_release() on
 * weft_task_future()). Pass @out = NULL to detach: the task then lives until
 * it ends. A running task is kept alive by the loop regardless.
 *
 * Thread-safety: every function may be called from any worker of the task's
 * loop; cancel, name, done and release also from foreign threads.
 */
#ifndef WEFT_TASK_H
#define WEFT_TASK_H

#include <stddef.h>
#include <stdint.h>
#include "weft/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * struct weft_task_opts - spawn options
 * @name:       the task's name, copied; NULL gives "Task-<id>".
 * @stack_size: bytes of stack; 0 uses the loop's default. Minimum 16 KiB,
 *              of which the runtime keeps up to ~1 KiB at the top (as
 *              weft_loop_config.stack_size).
 * @worker:     -1 to run anywhere; otherwise the index of the worker the task
 *              is pinned to: it only ever runs there and is never stolen.
 */
struct weft_task_opts {
  const char *name;
  size_t stack_size;
  int worker;
};

/** weft_task_opts_init - fill @opts with the defaults. Threads: any. */
WEFT_EXTERN void weft_task_opts_init(struct weft_task_opts *opts);

/**
 * weft_spawn - start @fn(@arg) as a task on the current loop (create_task)
 * @out: receives a task reference, or NULL to detach the task.
 *
 * The new task is scheduled, not run: the caller continues first.
 * Returns:  0; -EPERM when not on a worker of a running loop (use
 *           weft_spawn_opts with a loop, or weft_run_threadsafe); -EINVAL if
 *           @fn is NULL; -EAGAIN at the loop's max_tasks; -ENOMEM (then @fn
 *           never runs and @arg stays yours).
 * Suspends: no.  Threads: workers.
 */
WEFT_EXTERN int weft_spawn(weft_task_fn fn, void *arg, weft_task_t **out);

/**
 * weft_spawn_opts - start a task with options on @loop
 * @loop: the loop; NULL means the current loop. The loop need not be running.
 * @opts: options, or NULL for the defaults.
 *
 * Returns:  0; -EINVAL if @fn is NULL, @opts->worker is out of range or the
 *           stack size is below 16 KiB or above 1 GiB; -EPERM if @loop is NULL
 *           outside a loop; WEFT_ECLOSED (also from a foreign thread once
 *           close started); -EAGAIN at the loop's max_tasks; -ENOMEM.
 * Suspends: no.  Threads: any.
 */
WEFT_EXTERN int weft_spawn_opts(weft_loop_t *loop, weft_task_fn fn, void *arg,
                                const struct weft_task_opts *opts, weft_task_t **out);

/**
 * weft_task_factory - what makes every task of a loop (loop.set_task_factory)
 * @opts: never NULL (the defaults if the spawner gave none).
 * @out:  must receive the new task (one reference) when returning 0.
 *
 * Called by weft_spawn(), weft_spawn_opts() and everything built on them
 * (TaskGroup children, server handlers, weft_run's main task), on the
 * spawning thread; not for the library's own tasks (a server's acceptors,
 * a stream's flusher), which asyncio runs as callbacks, not tasks. It may rename (its own opts), wrap (another fn and
 * arg), count or refuse (return an error: the spawn fails with it); it
 * makes the task with weft_task_create(), which does not call it again.
 */
typedef int (*weft_task_factory)(weft_loop_t *loop, weft_task_fn fn, void *arg,
                                 const struct weft_task_opts *opts, weft_task_t **out,
                                 void *factory_arg);

/**
 * weft_loop_set_task_factory - install @factory (NULL: the default, plain weft_task_create)
 * Return: 0; -EINVAL (@loop NULL); WEFT_ECLOSED. Threads: any; spawns
 * already under way use the factory they found.
 */
WEFT_EXTERN int weft_loop_set_task_factory(weft_loop_t *loop, weft_task_factory factory,
                                           void *factory_arg);
/** weft_loop_get_task_factory - the factory (NULL: default, or @loop NULL) and, through @arg, its argument. Threads: any. */
WEFT_EXTERN weft_task_factory weft_loop_get_task_factory(weft_loop_t *loop, void **arg);

/**
 * weft_task_create - make a task without the loop's factory (asyncio's Task(coro, loop=...))
 *
 * What a factory calls; otherwise as weft_spawn_opts() (@out may be NULL).
 */
WEFT_EXTERN int weft_task_create(weft_loop_t *loop, weft_task_fn fn, void *arg,
                                 const struct weft_task_opts *opts, weft_task_t **out);

/**
 * weft_spawn_eager - start @fn(@arg) at once, on this worker, before the caller goes on (create_task(eager_start=True))
 * @out: receives a task reference, or NULL to detach it.
 *
 * The task runs right away, inside this call, until its first suspension
 * or its end (then it is already done when this returns), as asyncio's
 * eager tasks (3.12); the caller then continues before anything else
 * queued on its worker. The consequences on order are asyncio's: the
 * child's first step happens before the caller's next line, and a child
 * that never suspends costs no trip through the run queue. Spawned from
 * an inline child (the fork-join fast path) or for a task pinned to
 * another worker, it starts the ordinary way. Does not go through the
 * loop's task factory (install weft_eager_task_factory for that).
 * Returns:  as weft_spawn(); -EPERM outside a task.
 * Suspends: the caller is set aside while the child's first step runs
 * (it is not a suspension point: no cancellation is delivered).
 */
WEFT_EXTERN int weft_spawn_eager(weft_task_fn fn, void *arg, weft_task_t **out);
/** weft_task_create_eager - weft_task_create(), eager as weft_spawn_eager() when the caller is a task of @loop. */
WEFT_EXTERN int weft_task_create_eager(weft_loop_t *loop, weft_task_fn fn, void *arg,
                                       const struct weft_task_opts *opts, weft_task_t **out);
/** weft_eager_task_factory - a task factory making every task eager (asyncio.eager_task_factory). */
WEFT_EXTERN int weft_eager_task_factory(weft_loop_t *loop, weft_task_fn fn, void *arg,
                                        const struct weft_task_opts *opts, weft_task_t **out,
                                        void *factory_arg);

/** weft_task_future - the task's future (shares the task's references). */
WEFT_EXTERN weft_future_t *weft_task_future(weft_task_t *t);

/**
 * weft_task_from_future - the task whose future @f is
 * Returns:  the task, or NULL if @f is a plain future.  Threads: any.
 */
WEFT_EXTERN weft_task_t *weft_task_from_future(weft_future_t *f);

/** weft_task_ref - add a reference; returns @t. Threads: any. */
WEFT_EXTERN weft_task_t *weft_task_ref(weft_task_t *t);
/** weft_task_release - drop a reference (NULL is ignored). Threads: any. */
WEFT_EXTERN void weft_task_release(weft_task_t *t);

/**
 * weft_task_current - the task running on this thread (current_task)
 * Returns:  the task (borrowed), or NULL in callbacks and foreign threads.
 */
WEFT_EXTERN weft_task_t *weft_task_current(void);

/**
 * weft_task_cancel - request cancellation of @t (Task.cancel(msg))
 * @msg: an optional message, copied; may be NULL.
 *
 * @t's current or next suspension point returns -ECANCELED. Called on a
 * one-worker loop's own thread while @t is suspended in weft_await, it
 * also cancels the awaited future at once, as asyncio's cancel() does (its
 * other waiters see the cancellation); elsewhere @t cancels it when it
 * wakes. Likewise for a sync/ wait (Lock, Semaphore, Queue, Event,
 * Condition, Barrier): the waiter is marked cancelled at once and the
 * primitive's wake-ups skip it (docs/sync.md). A wait @t begins with the
 * request already pending gives up one pass, then returns -ECANCELED
 * (docs/runtime.md).
 *
 * Returns:  1 if the request was recorded; 0 if @t is already done;
 *           -EINVAL if @t is NULL; -ENOMEM copying @msg; -EOVERFLOW if
 *           65,535 requests are already standing (not withdrawn by
 *           weft_task_uncancel): a task counts that many at most, where
 *           asyncio's count has no bound. @t is being cancelled already.
 * Suspends: no.  Threads: any.
 */
WEFT_EXTERN int weft_task_cancel(weft_task_t *t, const char *msg);

/** weft_task_cancelling - pending cancel requests (Task.cancelling); -EINVAL if NULL. Threads: any. */
WEFT_EXTERN int weft_task_cancelling(weft_task_t *t);

/**
 * weft_task_uncancel - withdraw one cancel request (Task.uncancel)
 * Returns:  the remaining count; when it reaches 0 a cancellation not yet
 *           delivered is withdrawn (on a one-worker loop, one that reached
 *           the sync/ wait @t is suspended in is delivered, as asyncio's
 *           cancelled waiter future: that wait still returns -ECANCELED).
 *           -EINVAL if NULL.  Threads: any.
 */
WEFT_EXTERN int weft_task_uncancel(weft_task_t *t);

/**
 * weft_task_stack_used - how much of its stack a task touched (for tuning)
 * @t: the task.
 *
 * Needs cfg.track_stack_use on the task's loop: each task's stack then
 * starts with no page resident, and the deepest page the task touched is
 * found with mincore(2) when it ends: the figure is exact to the page, and
 * includes what the runtime itself used on that stack (a few hundred
 * bytes). Pages swapped out meanwhile would not count.
 * Returns:  the bytes (a page multiple) once the task has ended, or, for
 *           the calling task itself, so far; -EBUSY while another task has
 *           not ended; -ENODATA if tracking is off or the task never ran on
 *           a stack of its own (cancelled before its first step, failed to
 *           get a stack, or run inline by its awaiter: then its use counts
 *           toward the awaiter's), or there was no memory to record the
 *           figure when it ended; -EINVAL if @t is NULL.
 * Threads:  any; never suspends.
 */
WEFT_EXTERN long weft_task_stack_used(weft_task_t *t);

/**
 * weft_task_name - the task's name (Task.get_name)
 * Returns:  a string valid until weft_task_set_name() or the task is freed
 *           (the static "Task" if there was no memory to make its default
 *           "Task-<id>"); NULL if @t is NULL.  Threads: any.
 */
WEFT_EXTERN const char *weft_task_name(weft_task_t *t);

/**
 * weft_task_set_name - rename the task (Task.set_name)
 * Returns:  0; -EINVAL if an argument is NULL; -ENOMEM.
 * Threads:  any, but not concurrently with weft_task_name() on the same task.
 */
WEFT_EXTERN int weft_task_set_name(weft_task_t *t, const char *name);

/** weft_task_id - the task's loop-unique id (its "Task-<id>" number); 0 if NULL. Threads: any. */
WEFT_EXTERN uint64_t weft_task_id(const weft_task_t *t);

/**
 * weft_loop_tasks - visit every task of @loop that is not done (all_tasks)
 * @visit: called with each task (borrowed) and @arg; return nonzero to stop.
 *
 * The program's tasks: not the library's own (a server's acceptors, a
 * stream's flusher, a generator's body), which asyncio runs as no task;
 * the dump (weft_loop_dump) and weft_loop_close see those too.
 *
 * Returns:  the number of tasks visited; -EINVAL if @loop or @visit is NULL.
 * Threads:  any. @visit runs with an internal lock held: it must not spawn,
 *           free or await. Tasks that start or end meanwhile may be missed.
 * Cost:     a walk of the loop's task table, plus, on Linux 4.14 and later,
 *           one membarrier(2) call (a few microseconds, and an interrupt for
 *           each worker running at that moment): what lets tasks that end
 *           on another worker than their spawner's skip a locked
 *           instruction (runtime/registry.h). Not for a hot path.
 */
WEFT_EXTERN int weft_loop_tasks(weft_loop_t *loop, int (*visit)(weft_task_t *t, void *arg),
                                void *arg);

/**
 * weft_fail - attach a message to the error the current task is about to return
 * @err: the negative code to return.
 * @fmt: printf format for the message, or NULL.
 *
 * Usage: `return weft_fail(-EIO, "short read at %zu", off);`
 * Returns:  @err (also outside a task, where the message is dropped).
 */
WEFT_EXTERN int weft_fail(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/**
 * weft_yield - let other ready tasks run (await asyncio.sleep(0))
 * Returns:  0; -ECANCELED if a cancellation was requested; -EPERM outside a task.
 * Suspends: yes.  Threads: tasks only.
 */
WEFT_EXTERN int weft_yield(void);

#ifdef __cplusplus
}
#endif
#endif
