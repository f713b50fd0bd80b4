/*
 * weft/sync.h - Lock, Event, Condition, Semaphore, BoundedSemaphore, Barrier
 * and Queues (asyncio's synchronization primitives and queues).
 *
 * asyncio's primitives assume one thread; weft's tasks run in parallel on
 * many workers. Every object here is safe to use from any task on any
 * worker at once; waiting suspends the task, never the worker thread.
 * Queues also serve foreign threads (weft_queue_put_threadsafe/get_threadsafe
 * block the calling thread, with a timeout).
 *
 * Waits: every suspending function takes a timeout in nanoseconds (< 0: no
 * limit) and returns -ETIMEDOUT when it passes, -ECANCELED when the task is
 * cancelled, -EPERM when called outside a task. A wait allocates nothing.
 * A cancelled waiter never swallows what was meant for others: a lock,
 * permit or wake-up handed to it as it was cancelled passes to the next
 * waiter, and a cancelled queue getter leaves its item in the queue.
 *
 * Fairness: Lock and Semaphore hand over directly, first come first served:
 * a task that arrives while others wait queues behind them, even if the lock
 * is momentarily free. One exception by default: a Lock whose waiter belongs
 * to a loop of several workers, where no order is promised, barges (Go's
 * sync.Mutex rule, with its 1 ms bound on how long a waiter can be passed
 * over): enum weft_lock_policy.
 *
 * Cost: an uncontended Lock acquire and release, or Semaphore acquire and
 * release, is one atomic compare-and-swap each; a put or get on a bounded
 * FIFO Queue of up to 65,536 items that need not wait, two locked
 * instructions. A Lock, Semaphore or such a Queue first changed by a task
 * of a one-worker loop is bound to that loop, whose worker then does these
 * without a locked instruction (plain loads and stores, like asyncio's).
 * The first change made by any other thread (another loop's task, a plain
 * thread releasing a permit or using a queue's _threadsafe calls) unbinds
 * it for good and costs that one-worker loop a membarrier(2) system call
 * and its lock-free futures for the rest of its current run
 * (weft/future.h).
 *
 * Ownership: *_create allocates and returns the object; *_destroy frees it
 * and must only be called once nobody waits on it or uses it (-EBUSY
 * otherwise, and nothing is freed). Items in queues are the user's: weft
 * never frees or dereferences them.
 */
#ifndef WEFT_SYNC_H
#define WEFT_SYNC_H

#include <stddef.h>
#include <stdint.h>
#include "weft/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_lock weft_lock_t;
typedef struct weft_event weft_event_t;
typedef struct weft_cond weft_cond_t;
typedef struct weft_sem weft_sem_t;
typedef struct weft_barrier weft_barrier_t;
typedef struct weft_queue weft_queue_t;

/* ---- Lock --------------------------------------------------------------------- */

/** weft_lock_create - a new unlocked Lock with WEFT_LOCK_AUTO (below): asyncio's
 *  FIFO on a one-worker loop, Go's barging on several. Returns 0, -EINVAL, -ENOMEM.
 *  Threads: any. */
WEFT_EXTERN int weft_lock_create(weft_lock_t **out);

/* Who gets a Lock released while tasks wait for it. */
enum weft_lock_policy {
  WEFT_LOCK_FIFO = 0,    /* handed to the oldest waiter (asyncio) */
  WEFT_LOCK_BARGING = 1, /* freed, and the oldest waiter woken to try for it: a
                          * task that acquires it first, even one that arrived
                          * later, takes it (Go's sync.Mutex). Much faster when
                          * tasks on several workers retake a lock in a loop;
                          * not asyncio's order. A woken waiter that loses goes
                          * back to the front; once one has waited over 1 ms
                          * and loses again, releases hand over FIFO until the
                          * queue empties, so nobody waits forever. */
  WEFT_LOCK_AUTO = 2,    /* the default (weft_lock_create): each release chooses
                          * by its oldest waiter's loop, FIFO if that loop has
                          * one worker (asyncio's order, which one worker
                          * promises), BARGING if it has several (no order is
                          * promised there, and FIFO's hand-off per acquisition
                          * turns a lock retaken in a loop into a convoy: 5x
                          * slower than barging with two workers). */
};
/** weft_lock_create_policy - a new unlocked Lock with @policy. Returns 0;
 *  -EINVAL (@out NULL or @policy unknown); -ENOMEM. Threads: any. */
WEFT_EXTERN int weft_lock_create_policy(weft_lock_t **out, enum weft_lock_policy policy);
/** weft_lock_destroy - free it. Returns 0; -EBUSY if locked or waited on (nothing freed). */
WEFT_EXTERN int weft_lock_destroy(weft_lock_t *l);
/** weft_lock_set_name - name it in task dumps (weft/debug.h); @name is not copied:
 *  a string with static storage (a literal), or NULL. 0; -EINVAL if @l is NULL. Threads: any. */
WEFT_EXTERN int weft_lock_set_name(weft_lock_t *l, const char *name);
/** weft_lock_name - its name, or NULL (none, or @l NULL). Threads: any. */
WEFT_EXTERN const char *weft_lock_name(weft_lock_t *l);

/**
 * weft_lock_acquire - take the lock, suspending while another task holds it
 * @timeout_ns: < 0 waits without limit.
 *
 * Returns:  0; -ETIMEDOUT; -ECANCELED (the lock is not held; had it just been
 *           handed over, it passes to the next waiter); -EDEADLK if the caller
 *           already holds it (not reentrant); -EPERM outside a task; -EINVAL.
 * Suspends: yes.  Threads: tasks on any worker.
 */
WEFT_EXTERN int weft_lock_acquire(weft_lock_t *l, int64_t timeout_ns);
/** weft_lock_try_acquire - take it only if free and, unless a barging release freed it,
 *  nobody waits or every waiter was cancelled while queued on a one-worker loop (asyncio's
 *  acquire): 0 or -EAGAIN; -EPERM outside a task; -EINVAL. Suspends: no. */
WEFT_EXTERN int weft_lock_try_acquire(weft_lock_t *l);
/**
 * weft_lock_release - release the lock: to the oldest waiter, if any; or, if
 * the policy barges for that waiter, free, waking it to try
 * Returns:  0; WEFT_EINVALSTATE if not locked; -EPERM if the caller is not
 *           the task holding it; -EINVAL.  Suspends: no.
 */
WEFT_EXTERN int weft_lock_release(weft_lock_t *l);
/** weft_lock_locked - 1 if held (handed to a waiter that has not run yet counts), else 0;
 *  free while its first waiter, cancelled while queued on a one-worker loop, has not left
 *  (asyncio's rule, docs/sync.md). Threads: any. */
WEFT_EXTERN int weft_lock_locked(weft_lock_t *l);

/* `async with lock:` — the scope releases on every way out (GCC/Clang):
 *     WEFT_LOCK_SCOPE(guard, lock);
 *     if (guard.rc) return guard.rc;    (acquire failed: nothing to release)
 *     ...                               (released when guard goes out of scope)
 */
struct weft_lock_scope {
  weft_lock_t *lock;
  int rc;   /* weft_lock_acquire()'s result; the lock is held only if 0 */
};
/** weft_lock_scope_enter - weft_lock_acquire(@l, no timeout) into a scope (same errors, in .rc). Suspends: yes. */
WEFT_EXTERN struct weft_lock_scope weft_lock_scope_enter(weft_lock_t *l);
/** weft_lock_scope_exit - release the lock if .rc is 0 (the cleanup of WEFT_LOCK_SCOPE). */
WEFT_EXTERN void weft_lock_scope_exit(struct weft_lock_scope *s);
#define WEFT_LOCK_SCOPE(name, lock)                                                  \
  struct weft_lock_scope name __attribute__((cleanup(weft_lock_scope_exit))) = \
      weft_lock_scope_enter(lock)

/* ---- Event -------------------------------------------------------------------- */

/** weft_event_create - a new Event, flag clear. Returns 0, -EINVAL (@out NULL), -ENOMEM. Threads: any. */
WEFT_EXTERN int weft_event_create(weft_event_t **out);
/** weft_event_destroy - 0; -EBUSY while tasks wait; -EINVAL if NULL. */
WEFT_EXTERN int weft_event_destroy(weft_event_t *e);
/** weft_event_set_name - name it in task dumps (weft/debug.h); @name is not copied:
 *  a string with static storage (a literal), or NULL. 0; -EINVAL if @e is NULL. Threads: any. */
WEFT_EXTERN int weft_event_set_name(weft_event_t *e, const char *name);
/** weft_event_name - its name, or NULL (none, or @e NULL). Threads: any. */
WEFT_EXTERN const char *weft_event_name(weft_event_t *e);
/** weft_event_set - set the flag and wake every waiter exactly once. 0; -EINVAL. Threads: any. */
WEFT_EXTERN int weft_event_set(weft_event_t *e);
/** weft_event_clear - clear the flag. 0; -EINVAL. Threads: any. */
WEFT_EXTERN int weft_event_clear(weft_event_t *e);
/** weft_event_is_set - 1 or 0. Threads: any. */
WEFT_EXTERN int weft_event_is_set(weft_event_t *e);
/**
 * weft_event_wait - suspend until the flag is set (at once if it is)
 * Returns:  0; -ETIMEDOUT; -ECANCELED; -EPERM outside a task; -EINVAL.
 * Suspends: yes.
 */
WEFT_EXTERN int weft_event_wait(weft_event_t *e, int64_t timeout_ns);

/* ---- Condition ---------------------------------------------------------------- */

/**
 * weft_cond_create - a Condition bound to @lock, or to a lock of its own
 * when @lock is NULL (weft_cond_lock() returns it). Returns 0, -EINVAL, -ENOMEM.
 */
WEFT_EXTERN int weft_cond_create(weft_lock_t *lock, weft_cond_t **out);
/** weft_cond_destroy - 0; -EBUSY while tasks wait (or its own lock is held); -EINVAL. Frees its own lock, not a given one. */
WEFT_EXTERN int weft_cond_destroy(weft_cond_t *c);
/** weft_cond_set_name - name it in task dumps (weft/debug.h); @name is not copied:
 *  a string with static storage (a literal), or NULL. 0; -EINVAL if @c is NULL. Threads: any. */
WEFT_EXTERN int weft_cond_set_name(weft_cond_t *c, const char *name);
/** weft_cond_name - its name, or NULL (none, or @c NULL). Threads: any. */
WEFT_EXTERN const char *weft_cond_name(weft_cond_t *c);
/** weft_cond_lock - the lock the condition is bound to (NULL if @c is NULL). Threads: any. */
WEFT_EXTERN weft_lock_t *weft_cond_lock(weft_cond_t *c);
/**
 * weft_cond_wait - release the lock, wait for a notification, re-acquire
 *
 * The lock is held again when this returns, whatever it returns (also when
 * cancelled or timed out: re-acquiring is not cancellable).
 * Returns:  0 when notified; -ETIMEDOUT; -ECANCELED; -EPERM if the caller does
 *           not hold the lock or is not a task; -EINVAL.
 * Suspends: yes.
 */
WEFT_EXTERN int weft_cond_wait(weft_cond_t *c, int64_t timeout_ns);
/**
 * weft_cond_wait_for - wait until @pred(@arg) is nonzero (checked with the
 * lock held, first before waiting). @timeout_ns bounds the whole wait.
 * Returns:  as weft_cond_wait().
 */
WEFT_EXTERN int weft_cond_wait_for(weft_cond_t *c, int (*pred)(void *arg), void *arg,
                                   int64_t timeout_ns);
/** weft_cond_notify - wake up to @n waiters. Returns how many; -EPERM without the lock; -EINVAL if @c is NULL or @n < 0. */
WEFT_EXTERN int weft_cond_notify(weft_cond_t *c, int n);
/** weft_cond_notify_all - wake every waiter. Returns how many; -EPERM without the lock; -EINVAL. */
WEFT_EXTERN int weft_cond_notify_all(weft_cond_t *c);

/* ---- Semaphore, BoundedSemaphore ---------------------------------------------- */

/**
 * weft_sem_create - a Semaphore with @value permits; @bounded makes it a
 * BoundedSemaphore (releasing past @value is an error).
 * Returns:  0; -EINVAL if @value < 0, @value > 2^62 - 1 (the most permits a
 *           semaphore holds) or @out is NULL; -ENOMEM.  Threads: any.
 */
WEFT_EXTERN int weft_sem_create(int64_t value, int bounded, weft_sem_t **out);
/** weft_sem_destroy - 0; -EBUSY while tasks wait (on a one-worker FIFO loop, also while a
 *  waiter granted a permit has not run yet: it still takes the semaphore's mutex). */
WEFT_EXTERN int weft_sem_destroy(weft_sem_t *s);
/** weft_sem_set_name - name it in task dumps (weft/debug.h); @name is not copied:
 *  a string with static storage (a literal), or NULL. 0; -EINVAL if @s is NULL. Threads: any. */
WEFT_EXTERN int weft_sem_set_name(weft_sem_t *s, const char *name);
/** weft_sem_name - its name, or NULL (none, or @s NULL). Threads: any. */
WEFT_EXTERN const char *weft_sem_name(weft_sem_t *s);
/**
 * weft_sem_acquire - take a permit, suspending while there is none
 * Returns:  0; -ETIMEDOUT; -ECANCELED (no permit kept); -EPERM outside a task;
 *           -EINVAL if @s is NULL.
 * Suspends: yes.
 */
WEFT_EXTERN int weft_sem_acquire(weft_sem_t *s, int64_t timeout_ns);
/** weft_sem_try_acquire - 0 or -EAGAIN (none free, or others wait); -EINVAL if @s is NULL.
 *  Threads: any. */
WEFT_EXTERN int weft_sem_try_acquire(weft_sem_t *s);
/**
 * weft_sem_release - give a permit back (to the oldest waiter, if any)
 * Returns:  0; -EOVERFLOW for a bounded semaphore already at its initial value,
 *           or any semaphore already holding 2^62 - 1 permits; -EINVAL if @s
 *           is NULL.
 * Threads:  any.
 */
WEFT_EXTERN int weft_sem_release(weft_sem_t *s);
/** weft_sem_locked - 1 if an acquire would suspend (no permit, or waiters queued or granted
 *  and not yet run, asyncio's FIFO rule). Threads: any. */
WEFT_EXTERN int weft_sem_locked(weft_sem_t *s);
/** weft_sem_value - permits free now. Threads: any. */
WEFT_EXTERN int64_t weft_sem_value(weft_sem_t *s);

/* ---- Barrier ------------------------------------------------------------------ */

/** weft_barrier_create - a Barrier for @parties tasks, 1 to INT_MAX (a larger
 * value is a negative count converted: -EINVAL). 0, -EINVAL, -ENOMEM. */
WEFT_EXTERN int weft_barrier_create(unsigned parties, weft_barrier_t **out);
/** weft_barrier_destroy - 0; -EBUSY while tasks wait. */
WEFT_EXTERN int weft_barrier_destroy(weft_barrier_t *b);
/** weft_barrier_set_name - name it in task dumps (weft/debug.h); @name is not copied:
 *  a string with static storage (a literal), or NULL. 0; -EINVAL if @b is NULL. Threads: any. */
WEFT_EXTERN int weft_barrier_set_name(weft_barrier_t *b, const char *name);
/** weft_barrier_name - its name, or NULL (none, or @b NULL). Threads: any. */
WEFT_EXTERN const char *weft_barrier_name(weft_barrier_t *b);
/**
 * weft_barrier_wait - wait until @parties tasks arrived
 * Returns:  the arrival index (0 .. parties-1) when the barrier trips;
 *           WEFT_EBROKEN if it was or becomes broken (abort, reset);
 *           -ETIMEDOUT or -ECANCELED (the caller no longer counts as arrived);
 *           -EPERM outside a task.
 * Suspends: yes (not the last arrival).
 */
WEFT_EXTERN int weft_barrier_wait(weft_barrier_t *b, int64_t timeout_ns);
/** weft_barrier_abort - break it: waiters, tasks released by a trip that have not run
 *  yet, and later arrivals get WEFT_EBROKEN. 0; -EINVAL. Suspends: no. Threads: any. */
WEFT_EXTERN int weft_barrier_abort(weft_barrier_t *b);
/** weft_barrier_reset - waiters get WEFT_EBROKEN; the barrier fills again once every
 *  task inside has left (arrivals meanwhile wait), at once if none is (asyncio's
 *  RESETTING). A broken barrier becomes usable again. 0; -EINVAL. Suspends: no.
 *  Threads: any. */
WEFT_EXTERN int weft_barrier_reset(weft_barrier_t *b);
/** weft_barrier_parties, _n_waiting, _broken - as in asyncio (n_waiting counts the
 *  arrivals of the round while it fills, 0 while it drains, resets or is broken);
 *  0 for a NULL barrier. Threads: any. */
WEFT_EXTERN unsigned weft_barrier_parties(weft_barrier_t *b);
WEFT_EXTERN unsigned weft_barrier_n_waiting(weft_barrier_t *b);
WEFT_EXTERN int weft_barrier_broken(weft_barrier_t *b);

/* ---- Queue, LifoQueue, PriorityQueue ------------------------------------------------ */

enum weft_queue_kind { WEFT_QUEUE_FIFO = 0, WEFT_QUEUE_LIFO = 1, WEFT_QUEUE_PRIORITY = 2 };

/**
 * weft_queue_create - a queue of void * items
 * @kind:    FIFO (Queue), LIFO (LifoQueue) or PRIORITY (PriorityQueue).
 * @maxsize: 0 for unbounded; so is a value above SSIZE_MAX (a negative one
 *           converted), as asyncio's Queue(maxsize <= 0). A FIFO queue of
 *           2 to 65,536 items allocates its storage here, 16 bytes an
 *           item, zeroed (pages are mapped as the queue first reaches
 *           them); its put and get are lock-free while it is neither
 *           empty nor full (docs/sync.md). The others grow theirs as
 *           needed.
 * @cmp:     PRIORITY only: < 0 when a comes out first; equal items come out in
 *           insertion order. Must be NULL for the other kinds.
 * Returns:  0; -EINVAL (bad kind, a missing or unexpected @cmp); -ENOMEM.
 */
WEFT_EXTERN int weft_queue_create(enum weft_queue_kind kind, size_t maxsize,
                                  int (*cmp)(const void *a, const void *b), weft_queue_t **out);
/** weft_queue_destroy - 0; -EBUSY while anyone waits (items left are the user's). */
WEFT_EXTERN int weft_queue_destroy(weft_queue_t *q);
/** weft_queue_set_name - name it in task dumps (weft/debug.h); @name is not copied:
 *  a string with static storage (a literal), or NULL. 0; -EINVAL if @q is NULL. Threads: any. */
WEFT_EXTERN int weft_queue_set_name(weft_queue_t *q, const char *name);
/** weft_queue_name - its name, or NULL (none, or @q NULL). Threads: any. */
WEFT_EXTERN const char *weft_queue_name(weft_queue_t *q);

/**
 * weft_queue_put - add @item, suspending while the queue is full
 * Returns:  0; WEFT_ESHUTDOWN; -ETIMEDOUT; -ECANCELED (nothing added);
 *           -EPERM outside a task; -ENOMEM (unbounded queue could not grow).
 * Suspends: yes.  Foreign threads: weft_queue_put_threadsafe().
 */
WEFT_EXTERN int weft_queue_put(weft_queue_t *q, void *item, int64_t timeout_ns);
/**
 * weft_queue_get - take the next item, suspending while the queue is empty
 * @out: receives the item; ownership passes to the caller.
 * Returns:  0; WEFT_ESHUTDOWN (shut down and, unless immediate, empty);
 *           -ETIMEDOUT; -ECANCELED (nothing taken: no item is lost);
 *           -EPERM outside a task.
 * Suspends: yes.  Foreign threads: weft_queue_get_threadsafe().
 */
WEFT_EXTERN int weft_queue_get(weft_queue_t *q, void **out, int64_t timeout_ns);
/** weft_queue_put_nowait - 0; -EAGAIN if full; WEFT_ESHUTDOWN; -ENOMEM. Threads: any. */
WEFT_EXTERN int weft_queue_put_nowait(weft_queue_t *q, void *item);
/** weft_queue_get_nowait - 0; -EAGAIN if empty; WEFT_ESHUTDOWN if shut down and empty. Threads: any. */
WEFT_EXTERN int weft_queue_get_nowait(weft_queue_t *q, void **out);
/**
 * weft_queue_put_threadsafe, weft_queue_get_threadsafe - the same for a
 * thread outside weft: it blocks (with @timeout_ns) instead of suspending.
 * Returns:  as put/get, and -EDEADLK on a worker thread outside a task
 *           (from a task they behave as put/get).
 */
WEFT_EXTERN int weft_queue_put_threadsafe(weft_queue_t *q, void *item, int64_t timeout_ns);
WEFT_EXTERN int weft_queue_get_threadsafe(weft_queue_t *q, void **out, int64_t timeout_ns);
/** weft_queue_qsize, _empty, _full, _maxsize - as in asyncio. Threads: any. */
WEFT_EXTERN size_t weft_queue_qsize(weft_queue_t *q);
WEFT_EXTERN int weft_queue_empty(weft_queue_t *q);
WEFT_EXTERN int weft_queue_full(weft_queue_t *q);
WEFT_EXTERN size_t weft_queue_maxsize(weft_queue_t *q);
/** weft_queue_task_done - one item was processed. 0; -EINVAL if called more times than items were put. */
WEFT_EXTERN int weft_queue_task_done(weft_queue_t *q);
/**
 * weft_queue_join - suspend until every item put was marked done
 * As asyncio's: a joiner woken by the task_done that left nothing unfinished
 * returns 0 even if a put comes before it runs; one that begins with a
 * cancellation pending (and something unfinished) returns -ECANCELED a
 * pass later (docs/runtime.md, "Suspension points and cancellation").
 * Returns:  0; -ETIMEDOUT; -ECANCELED; -EPERM outside a task.  Suspends: yes.
 */
WEFT_EXTERN int weft_queue_join(weft_queue_t *q, int64_t timeout_ns);
/**
 * weft_queue_shutdown - Python 3.13's Queue.shutdown
 * @immediate: 0: puts fail with WEFT_ESHUTDOWN, gets drain what is left then
 *             fail; nonzero: the items left are dropped (counted as done) and
 *             every blocked getter fails too.
 * Blocked putters always fail with WEFT_ESHUTDOWN. Returns 0. Threads: any.
 */
WEFT_EXTERN int weft_queue_shutdown(weft_queue_t *q, int immediate);

#ifdef __cplusplus
}
#endif
#endif
