/*
 * weft/compose.h - composing tasks and futures: gather, wait, as_completed,
 * wait_for, timeout scopes, shield and TaskGroup (asyncio 3.13's rules).
 *
 * Every combinator takes tasks and plain futures alike (a task is a future:
 * weft_task_future()), works from any worker, never polls and is itself
 * cancellable. docs/compose.md shows each one beside the asyncio code it
 * replaces.
 *
 * Ownership: arrays of futures passed in are borrowed for the call; a
 * combinator that outlives the call (a gathering future, an as_completed
 * iterator, a shield) takes its own references and drops them when freed.
 * Objects returned through an out-parameter are the caller's to release
 * with the function named in their doc block.
 *
 * Thread-safety: as weft/future.h: any worker, and foreign threads where a
 * function says so. Functions that suspend work only inside a task (-EPERM
 * elsewhere).
 */
#ifndef WEFT_COMPOSE_H
#define WEFT_COMPOSE_H

#include <stddef.h>
#include <stdint.h>
#include "weft/runtime.h"
#include "weft/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- gather ------------------------------------------------------------------ */

/* weft_gather flags. */
#define WEFT_GATHER_RETURN_EXCEPTIONS 1u /* every slot carries its own outcome */

/**
 * struct weft_gather_slot - one child's outcome, in input order
 * @err:    0, the child's error (-ECANCELED if it was cancelled), or
 *          WEFT_EINVALSTATE for a child still running (only after a gather
 *          without return_exceptions failed early).
 * @result: the child's result when @err is 0.
 * @msg:    the child's error message or NULL; valid while the gathering
 *          future (or, for weft_gather(), the child) is referenced.
 */
struct weft_gather_slot {
  int err;
  void *result;
  const char *msg;
};

/**
 * weft_gather_start - gather @n awaitables into one future (asyncio.gather)
 * @fs:    the children (tasks' futures or plain futures); borrowed. The same
 *         future passed twice is one child whose outcome fills both slots.
 * @n:     how many; 0 gives a future that is already done.
 * @flags: 0 or WEFT_GATHER_RETURN_EXCEPTIONS.
 * @out:   receives the gathering future; release it with
 *         weft_future_release().
 *
 * Without return_exceptions the gathering future fails with the first
 * child error (or -ECANCELED if a child was cancelled) as soon as it
 * happens; the other children keep running and cancel no sibling, and
 * their later errors count as retrieved. With it, it completes when every
 * child is done. weft_future_cancel() on it cancels every child not done
 * and returns 1 if any accepted; it then ends with -ECANCELED even with
 * return_exceptions (asyncio 3.13's _GatheringFuture). A child task that
 * returns as that cancellation reaches it on another worker keeps its
 * result (docs/runtime.md, "Suspension points and cancellation").
 *
 * Returns:  0; -EINVAL if @fs (with @n > 0), an element or @out is NULL, or
 *           the children belong to different loops; -EPERM if @n is 0 and
 *           the caller is not on a loop; -ENOMEM (nothing registered).
 * Suspends: no.  Threads: any (the children's loop must exist).
 */
WEFT_EXTERN int weft_gather_start(weft_future_t *const *fs, size_t n, unsigned flags,
                                  weft_future_t **out);

/**
 * weft_gather_slots - read a gathering future's slots
 * @g:     a future made by weft_gather_start().
 * @slots: @n slots, filled in input order.
 * @n:     the number of children it was started with.
 *
 * Returns:  0; -EINVAL if @g is not a gathering future or @n differs.
 * Suspends: no.  Threads: any. Reading marks the children's errors retrieved.
 */
WEFT_EXTERN int weft_gather_slots(weft_future_t *g, struct weft_gather_slot *slots, size_t n);

/**
 * weft_gather - await weft_gather_start() and read its slots
 * @slots: @n slots, filled in input order (also when it fails: children
 *         still running show WEFT_EINVALSTATE); messages in them stay valid
 *         while the caller holds the children.
 *
 * Returns:  0 when every child succeeded, or with return_exceptions when
 *           every child is done; the first child error otherwise; -ECANCELED
 *           if the calling task was cancelled (the children are cancelled
 *           too, as asyncio cancels the gathering future), also by a
 *           cancellation pending as it begins when every child is done
 *           already (asyncio's gathering future is not done yet when
 *           gather() returns; @n 0: done at once, nothing delivered); the
 *           errors of weft_gather_start(); -EPERM outside a task.
 * Suspends: yes.  Threads: tasks only.
 */
WEFT_EXTERN int weft_gather(weft_future_t *const *fs, size_t n, unsigned flags,
                            struct weft_gather_slot *slots);

/* ---- wait ---------------------------------------------------------------------- */

enum weft_wait_when {
  WEFT_ALL_COMPLETED = 0,   /* every future is done */
  WEFT_FIRST_COMPLETED = 1, /* any future is done */
  WEFT_FIRST_EXCEPTION = 2, /* any future failed (not cancelled), or all are done */
};

/**
 * weft_wait - wait until @when holds for @fs, or @timeout_ns (asyncio.wait)
 * @fs:         the futures; borrowed; duplicates allowed.
 * @n:          how many; 0 is -EINVAL, as asyncio refuses an empty set.
 * @timeout_ns: < 0 no limit. A timeout is not an error and cancels nothing.
 * @when:       enum weft_wait_when.
 * @done:       @n bytes: done[i] is set to 1 if fs[i] is done, else 0 (the
 *              done and pending sets); may be NULL.
 *
 * Cancelling the caller cancels none of @fs (asyncio's wait). A
 * cancellation pending as it begins is delivered even if @when holds
 * already (asyncio's wait always awaits its waiter), a pass later.
 * Returns:  how many of @fs are done (>= 0); -ECANCELED; -EINVAL (@n is 0,
 *           @fs or an element NULL, @when unknown); -EPERM outside a task;
 *           -ENOMEM.
 * Suspends: yes, unless @when already holds and no cancellation is pending
 *           (on a one-worker loop in FIFO order always, as asyncio's: each
 *           future is looked at in a done callback a pass after it
 *           finished, docs/compose.md).  Threads: tasks only.
 */
WEFT_EXTERN int weft_wait(weft_future_t *const *fs, size_t n, int64_t timeout_ns, int when,
                          uint8_t *done);

/* ---- as_completed ------------------------------------------------------------------ */

typedef struct weft_as_completed weft_as_completed_t;

/**
 * weft_as_completed_new - iterate over @fs in the order they finish
 * (asyncio.as_completed)
 * @fs:         the futures; referenced by the iterator.
 * @timeout_ns: < 0 no limit; counted from this call.
 * @out:        receives the iterator; free it with weft_as_completed_free().
 *
 * Returns:  0; -EINVAL (@fs or an element or @out NULL); -ENOMEM.
 * Threads:  any.
 */
WEFT_EXTERN int weft_as_completed_new(weft_future_t *const *fs, size_t n, int64_t timeout_ns,
                                      weft_as_completed_t **out);

/**
 * weft_as_completed_next - the next future to finish, earliest first
 * @f: receives the original future (asyncio 3.13's `async for` form; it is
 *     borrowed from the iterator). The plain form, the outcome itself, is
 *     weft_future_result(*f, &v) right after.
 *
 * Returns:  0 with *@f; 1 when every future was yielded; -ETIMEDOUT once the
 *           timeout passed and only futures still pending are left: once per
 *           such future, then 1 (the rest stay pending, nothing is
 *           cancelled); -ECANCELED (the iterator stays usable), a pass
 *           after it began if the cancellation was pending then and it had
 *           to wait, which a first call in the slice that made the
 *           iterator always does (asyncio's queue fills a pass later, even
 *           for futures done at the start); -EPERM outside a task; -EINVAL
 *           if an argument is NULL.
 * Suspends: yes, while nothing finished (on a one-worker loop in FIFO
 *           order a future is handed out a pass after it finished, as
 *           asyncio's done callback queues it, docs/compose.md).
 *           Threads: one task at a time.
 */
WEFT_EXTERN int weft_as_completed_next(weft_as_completed_t *it, weft_future_t **f);

/** weft_as_completed_free - drop the iterator and its references (NULL is ignored). Threads: any. */
WEFT_EXTERN void weft_as_completed_free(weft_as_completed_t *it);

/* ---- timeout scopes and wait_for ---------------------------------------------------- */

/**
 * struct weft_timeout - a timeout scope (asyncio.timeout / timeout_at)
 *
 * Caller storage, normally on the task's stack; not movable while entered.
 * Every suspension point between enter and leave is bounded by one
 * deadline: when it passes, the task is cancelled, and leave turns exactly
 * that cancellation into -ETIMEDOUT (the cancel count rule of 3.11+: a
 * cancellation from outside at the same moment stays -ECANCELED, and nested
 * scopes each convert only their own expiry).
 *
 * A scope must be left on every path. WEFT_TIMEOUT_SCOPE() declares one
 * that is at least disarmed on any way out of the block it is declared in
 * (GCC/Clang cleanup); a scope declared without it and abandoned would
 * cancel its task at the deadline and leave a dangling timer: undefined.
 */
struct weft_timeout {
  int rc;                /* weft_timeout_enter()'s result, for WEFT_TIMEOUT_SCOPE users */
  uint64_t opaque[11];
};

/**
 * weft_timeout_enter - start a scope of @timeout_ns from now (asyncio.timeout)
 * @timeout_ns: < 0 for no deadline (timeout(None)); 0 or a deadline in the
 *              past expires at the next timer pass.
 * Returns:  0; -EPERM outside a task; -EINVAL if @t is NULL; -ENOMEM. The
 *           result is also stored in @t->rc; a scope whose enter failed is
 *           not entered (leave returns WEFT_EINVALSTATE, cleanup does nothing).
 * Suspends: no.  Threads: the task that leaves it.
 */
WEFT_EXTERN int weft_timeout_enter(struct weft_timeout *t, int64_t timeout_ns);
/** weft_timeout_enter_at - the same with an absolute deadline on weft_now_ns()'s clock; 0 for none. */
WEFT_EXTERN int weft_timeout_enter_at(struct weft_timeout *t, uint64_t when_ns);

/**
 * weft_timeout_leave - end the scope
 * @rc: the result of the scope's body.
 * Returns:  -ETIMEDOUT if the scope expired and @rc is the -ECANCELED it
 *           caused; @rc otherwise (also 0 when the body finished although
 *           the deadline passed: its value stands). WEFT_EINVALSTATE if @t
 *           was not entered or already left.
 * Suspends: no.  Threads: the task that entered it.
 */
WEFT_EXTERN int weft_timeout_leave(struct weft_timeout *t, int rc);

/**
 * weft_timeout_reschedule - move the deadline (Timeout.reschedule)
 * @when_ns: the new absolute deadline; 0 removes it.
 * Returns:  0; WEFT_EINVALSTATE if not entered, already expired or left;
 *           -ENOMEM.  Threads: the task inside the scope.
 */
WEFT_EXTERN int weft_timeout_reschedule(struct weft_timeout *t, uint64_t when_ns);
/** weft_timeout_when - the deadline (weft_now_ns() clock), 0 if none. Threads: any. */
WEFT_EXTERN uint64_t weft_timeout_when(const struct weft_timeout *t);
/** weft_timeout_expired - 1 once the deadline fired, else 0 (Timeout.expired). Threads: any. */
WEFT_EXTERN int weft_timeout_expired(const struct weft_timeout *t);
/** weft_timeout_cleanup - disarm a scope not left (the cleanup of WEFT_TIMEOUT_SCOPE); a NULL
 * scope, one whose enter failed or one already left is ignored. Suspends: no. Threads: the
 * task that entered it. */
WEFT_EXTERN void weft_timeout_cleanup(struct weft_timeout *t);

/* `async with asyncio.timeout(s):` — the scope is at least disarmed on every
 * way out of the block it is declared in (GCC/Clang cleanup), so a path
 * that forgets weft_timeout_leave() cannot leave a timer behind (it then
 * returns the body's -ECANCELED unconverted):
 *     WEFT_TIMEOUT_SCOPE(tmo, 500 * 1000000);
 *     if (tmo.rc) return tmo.rc;              (enter failed: no scope)
 *     int rc = work();                        (every await here is bounded)
 *     rc = weft_timeout_leave(&tmo, rc);      (-ETIMEDOUT if it expired)
 */
#define WEFT_TIMEOUT_SCOPE(name, timeout_ns)                                          \
  struct weft_timeout name __attribute__((cleanup(weft_timeout_cleanup)));           \
  weft_timeout_enter(&name, (timeout_ns))

/**
 * weft_wait_for - await @f with a timeout (asyncio.wait_for)
 * @timeout_ns: < 0 waits without limit; 0 returns the result of a done @f.
 *
 * On timeout it cancels @f, waits until @f has actually finished, and
 * returns -ETIMEDOUT; if @f produced a result after all (it completed as
 * the time ran out, or ignored the cancellation), that result is returned:
 * a completed resource is never dropped, also when the timeout lands as a
 * task @f returns on another worker (docs/runtime.md, "Suspension points
 * and cancellation"). Cancelling the caller cancels @f
 * and, once @f has finished, returns -ECANCELED, not a timeout.
 * Returns:  0 with the result; @f's error; -ETIMEDOUT; -ECANCELED; -EPERM
 *           outside a task; -EINVAL if @f is NULL; -EDEADLK for the
 *           caller's own future.
 * Suspends: yes.  Threads: tasks only.
 */
WEFT_EXTERN int weft_wait_for(weft_future_t *f, int64_t timeout_ns, void **result);

/* ---- shield -------------------------------------------------------------------------- */

/**
 * weft_shield - a future that follows @inner but whose cancellation does
 * not reach it (asyncio.shield)
 * @out: receives the outer future (@inner itself, referenced, if @inner is
 *       done); release it with weft_future_release().
 *
 * Cancelling @out (e.g. by cancelling a task awaiting it) leaves @inner
 * running; its outcome stays readable on @inner, and an error @inner ends
 * with after @out was cancelled is reported through the exception handler
 * when @inner is freed unless someone reads it (never lost).
 * Returns:  0; -EINVAL if an argument is NULL; -ENOMEM.
 * Suspends: no.  Threads: any.
 */
WEFT_EXTERN int weft_shield(weft_future_t *inner, weft_future_t **out);

/* ---- TaskGroup ------------------------------------------------------------------------- */

typedef struct weft_taskgroup weft_taskgroup_t;

/**
 * struct weft_task_error - one failure a TaskGroup collected (the C form of
 * an ExceptionGroup member)
 * @err:       the error code.
 * @msg:       its message, or NULL.
 * @task_name: the failed task's name, or "" for the group's own body.
 * @task_id:   its id, or 0 for the body.
 */
struct weft_task_error {
  int err;
  const char *msg;
  const char *task_name;
  uint64_t task_id;
};

/**
 * weft_taskgroup_enter - open a TaskGroup owned by the current task
 * (async with asyncio.TaskGroup())
 * @out: receives the group; free it with weft_taskgroup_destroy() after
 *       weft_taskgroup_leave().
 * Returns:  0; -EPERM outside a task; -EINVAL if @out is NULL; -ENOMEM.
 * Suspends: no.  Threads: tasks only.
 */
WEFT_EXTERN int weft_taskgroup_enter(weft_taskgroup_t **out);

/**
 * weft_taskgroup_spawn - start a task in the group (TaskGroup.create_task)
 * @opts: spawn options (name, stack size, pinning), or NULL.
 * @out:  receives a task reference, or NULL (the group keeps its own).
 *
 * The first child that fails (other than by cancellation) cancels every
 * other child and the group's owner.
 * Returns:  0; WEFT_ESHUTDOWN while the group is shutting down (a child
 *           failed, the owner was cancelled, or weft_taskgroup_cancel());
 *           WEFT_ECLOSED once the group has finished, which is from
 *           the moment its owner is in weft_taskgroup_leave() and every
 *           child has ended (asyncio's "TaskGroup is finished"); the errors of
 *           weft_spawn_opts(); -EINVAL if @g or @fn is NULL.
 * Suspends: no.  Threads: any worker of the group's loop.
 */
WEFT_EXTERN int weft_taskgroup_spawn(weft_taskgroup_t *g, weft_task_fn fn, void *arg,
                                     const struct weft_task_opts *opts, weft_task_t **out);

/**
 * weft_taskgroup_leave - end the group's body and wait for every child
 * @body_rc: the body's result: a negative value (an error, or -ECANCELED
 *           because the owner was cancelled) cancels the children first.
 *
 * No child outlives this call. If the owner is cancelled while it waits,
 * the children are cancelled and the wait goes on until they end.
 * Returns:  0 (also after weft_taskgroup_cancel()); WEFT_EGROUP if any
 *           child failed or @body_rc was an error (other than
 *           -ECANCELED): weft_taskgroup_errors() lists them (ExceptionGroup);
 *           -ECANCELED if the owner was cancelled from outside and nothing
 *           failed (re-raised, not swallowed); WEFT_EINVALSTATE if called
 *           twice or by another task.
 * Suspends: yes.  Threads: the owner task.
 */
WEFT_EXTERN int weft_taskgroup_leave(weft_taskgroup_t *g, int body_rc);

/**
 * weft_taskgroup_errors - the failures collected, in the order they happened
 * @errs: receives the array (valid until weft_taskgroup_destroy()).
 * @n:    receives its length.
 * Returns:  0; -EINVAL if an argument is NULL.  Threads: the owner.
 */
WEFT_EXTERN int weft_taskgroup_errors(weft_taskgroup_t *g, const struct weft_task_error **errs,
                                      size_t *n);

/**
 * weft_taskgroup_cancel - cancel the whole group (CPython main's
 * TaskGroup.cancel())
 *
 * Cancels every child not done and, while the owner is in the group's body,
 * the owner; leave then returns 0 rather than -ECANCELED. Idempotent; after
 * the group finished it does nothing.
 * Returns:  0; -EINVAL if @g is NULL.  Suspends: no.  Threads: any worker.
 */
WEFT_EXTERN int weft_taskgroup_cancel(weft_taskgroup_t *g);

/**
 * weft_taskgroup_destroy - free a group that was left
 * Returns:  0; -EBUSY if it was not left (children may still run; nothing
 *           is freed); -EINVAL if @g is NULL.  Threads: any.
 */
WEFT_EXTERN int weft_taskgroup_destroy(weft_taskgroup_t *g);

#ifdef __cplusplus
}
#endif
#endif
