/*
 * waitlist.h - the one wait queue every sync/ primitive is built on.
 *
 * A primitive owns a mutex and one or more waitlists. A waiter (on the
 * waiting fiber's or thread's stack, so a wait allocates nothing) is queued
 * FIFO under that mutex; a waker, holding the mutex, dequeues it, stores a
 * value and a status in it, marks it granted and wakes its task or thread.
 * The waiter re-takes the mutex before leaving (future.h's waker rule), so
 * a waker never touches a waiter that is gone; a task waiter granted by
 * hand-off skips that when the waker says it is done with the node
 * (WEFT__WL_GRANT_DONE, the future waiter's FIRED_WOKEN rule). What "granted" hands over
 * (a lock, a permit, a wake-up) is the primitive's business; when a granted
 * waiter turns out to be cancelled, the primitive passes the grant on.
 *
 * A task cancelled while it waits on a one-worker loop, by that loop's own
 * thread, is marked at once (WEFT__WL_CANCELLED, under the mutex; task.c's
 * weft_task_cancel): asyncio's Task.cancel() cancels the future the task
 * waits on, and its primitives' wakers skip a cancelled waiter's future,
 * so the next waiter is woken in its place in the same call. weft__wl_pop
 * skips marked nodes the same way (unqueued, not granted: their task ends
 * its wait with -ECANCELED when it runs); weft__wl_pop_head does not (the
 * Lock, whose asyncio rule looks only at its first waiter).
 */
#ifndef WEFT_SYNC_WAITLIST_H
#define WEFT_SYNC_WAITLIST_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "deadline.h" /* timeouts become deadlines by its rule */
#include "invariant.h"
#include "list.h"
#include "mutex.h"
#include "task.h"
#include "worker.h" /* weft__wl_can_wait reads the worker inline */

struct weft_task;

struct weft__waiter_node {
  struct weft__list link;  /* in a waitlist; under the primitive's mutex */
  struct weft_task *task;  /* NULL: a foreign thread */
  _Atomic uint32_t granted; /* 0, then WEFT__WL_GRANTED once a waker chose it (and
                             * WEFT__WL_GRANT_DONE, for a task, once the waker
                             * is done with the node); futex word for threads */
  void *value;             /* what the waker handed over, if anything */
  int status;              /* 0, or an error the waker wants returned */
  struct weft__mutex *m;   /* the primitive's mutex, while its task waits cancellably */
};

enum {
  WEFT__WL_GRANTED = 1,    /* a waker chose the node; it may still touch it */
  WEFT__WL_GRANT_DONE = 2, /* and woke its task: the waker's last touch */
  WEFT__WL_CANCELLED = 3,  /* its task was cancelled while queued (head comment):
                            * wakers skip it; it is not granted */
};

/* Whether @w was granted (not only marked cancelled). acquire: as every
 * load of granted, it pairs with the waker's release store. */
static inline bool weft__wl_granted(struct weft__waiter_node *w) {
  uint32_t g = atomic_load_explicit(&w->granted, memory_order_acquire);
  return g == WEFT__WL_GRANTED || g == WEFT__WL_GRANT_DONE;
}

struct weft__waitlist {
  struct weft__list waiters; /* under the primitive's mutex */
  size_t count;
};

enum weft__wait_mode {
  WEFT__WAIT_TASK = 0,       /* tasks only; -EPERM elsewhere */
  WEFT__WAIT_ANY = 1,        /* tasks, or foreign threads (blocking them); -EDEADLK on a worker outside a task */
  WEFT__WAIT_NOCANCEL = 2,   /* a task's wait that cancellation does not end */
};

void weft__wl_init(struct weft__waitlist *wl);

/* Checks that the caller may wait in @mode; 0 or -EPERM / -EDEADLK.
 * Inline: every put and get asks, and the answer is one thread-local read
 * (the worker) and one load (its current task). */
static inline int weft__wl_can_wait(enum weft__wait_mode mode) {
  struct weft__worker *w = weft__worker_self();
  if (w && weft__worker_current(w)) return 0;
  if (mode == WEFT__WAIT_ANY) return w ? -EDEADLK : 0;
  return -EPERM;
}

/* Called with @m held: queues @w, drops @m, waits until granted, cancelled
 * or @deadline_ns (absolute, 0 = none), re-takes @m, and unqueues @w if no
 * waker did. Returns with @m held: 0 if granted and not cancelled,
 * -ECANCELED or -ETIMEDOUT otherwise (w->granted says whether a grant
 * arrived anyway, which the caller must then pass on). */
int weft__wl_wait(struct weft__mutex *m, struct weft__waitlist *wl, struct weft__waiter_node *w,
                  enum weft__wait_mode mode, uint64_t deadline_ns);

/* weft__wl_wait for a wait whose grant needs nothing more done under @m
 * (a lock or a permit handed over to the waiter): returns 0 (granted)
 * WITHOUT @m, and without taking it again when the waker is done with @w
 * (two locked instructions fewer a hand-off); any error with @m held and
 * @w unqueued, as weft__wl_wait (w->granted then says whether a grant
 * arrived anyway, which the caller must pass on). */
int weft__wl_wait_handoff(struct weft__mutex *m, struct weft__waitlist *wl,
                          struct weft__waiter_node *w, enum weft__wait_mode mode,
                          uint64_t deadline_ns);

/* weft__wl_wait_handoff queueing @w first, before every waiter: for a
 * waiter that was woken, lost its turn and goes back to the front (a
 * barging Lock, lock.c). Same contract. */
int weft__wl_wait_handoff_first(struct weft__mutex *m, struct weft__waitlist *wl,
                                struct weft__waiter_node *w, enum weft__wait_mode mode,
                                uint64_t deadline_ns);

/* A task's wait on a sync object that found it unavailable, with a
 * cancellation pending as the wait begins: asyncio's pending cancel
 * cancels the waiter's future at once (nothing granted meanwhile goes to
 * it) and raises CancelledError a pass later. So the primitive queues
 * nothing and calls this, without its mutex, before it marks anything:
 * true, and *@rc = -ECANCELED after that pass (task.h,
 * weft__task_cancelled_after_pass), if a cancellation was pending; else
 * false (the wait goes on). Not for WEFT__WAIT_NOCANCEL nor a foreign
 * thread (@t NULL). */
static inline bool weft__wl_cancelled_first(struct weft_task *t, enum weft__wait_mode mode, int *rc) {
  if (!t || mode == WEFT__WAIT_NOCANCEL || !weft__task_take_cancel(t)) return false;
  *rc = weft__task_cancelled_after_pass(t);
  return true;
}

/* weft__wl_cancelled_first for a wait that decides under @m (held), @m
 * held again on return: -ECANCELED after the pass (@m let go for it) if a
 * cancellation was pending; 0 if one looked pending but was withdrawn
 * before it could be taken (@m was let go: the caller looks at its object
 * again instead of waiting, as after a wake-up); 1 if none: wait. */
static inline int weft__wl_cancel_point_locked(struct weft__mutex *m, enum weft__wait_mode mode) {
  struct weft_task *t = weft__task_self();
  /* relaxed: a hint, decided by weft__task_take_cancel. */
  if (!t || mode == WEFT__WAIT_NOCANCEL || !atomic_load_explicit(&t->must_cancel, memory_order_relaxed))
    return 1;
  weft__mutex_unlock(m);
  int rc = 0;
  weft__wl_cancelled_first(t, mode, &rc);
  weft__mutex_lock(m);
  return rc;
}

/* The list's invariants (waitlist.c's head comment), for the primitives'
 * own checkers. Under the mutex. */
bool weft__wl_ok(const struct weft__waitlist *wl);

/* Called with @m held: queues @w for task @t (NULL: a foreign thread)
 * without waiting; weft__wl_await then waits for it. For waits whose node
 * is queued by someone else (cond.c's notify moves a waiter to its lock). */
void weft__wl_enqueue(struct weft__waitlist *wl, struct weft__waiter_node *w, struct weft_task *t);
/* weft__wl_enqueue at the front, before every waiter (the same use as
 * weft__wl_wait_handoff_first, for a node weft__wl_await then waits on). */
void weft__wl_enqueue_first(struct weft__waitlist *wl, struct weft__waiter_node *w,
                            struct weft_task *t);
/* Readies @w to be queued later (weft__wl_enqueue's fields, not linked). */
void weft__wl_node_init(struct weft__waiter_node *w, struct weft_task *t);
/* Called with @m held, for a node queued on @wl (or already granted):
 * weft__wl_wait without the queueing. Same return and contract. */
int weft__wl_await(struct weft__mutex *m, struct weft__waitlist *wl, struct weft__waiter_node *w,
                   enum weft__wait_mode mode, uint64_t deadline_ns);
/* Called with the mutex held: unqueues the oldest waiter without granting
 * or waking it; NULL if nobody waits. Waiters marked cancelled on the way
 * are unqueued and skipped (head comment). */
struct weft__waiter_node *weft__wl_pop(struct weft__waitlist *wl);
/* The same without skipping: the oldest waiter, marked or not (a grant
 * then replaces the mark). */
struct weft__waiter_node *weft__wl_pop_head(struct weft__waitlist *wl);
/* Called with the mutex held: the oldest waiter, left queued; NULL if
 * nobody waits. */
static inline struct weft__waiter_node *weft__wl_first(const struct weft__waitlist *wl) {
  if (weft__list_empty(&wl->waiters)) return NULL;
  return weft__container_of(wl->waiters.next, struct weft__waiter_node, link);
}
/* Called with the mutex held: unqueues @w, the node weft__wl_first gave
 * (weft__wl_pop_head without the look). */
static inline void weft__wl_unqueue_first(struct weft__waitlist *wl, struct weft__waiter_node *w) {
  weft__list_del_init(&w->link);
  wl->count--;
}
/* Called with the mutex held: whether queued @w is marked cancelled.
 * relaxed: marks are written under that mutex. */
static inline bool weft__wl_marked(const struct weft__waiter_node *w) {
  return atomic_load_explicit(&w->granted, memory_order_relaxed) == WEFT__WL_CANCELLED;
}
/* Called with the mutex held: whether the oldest waiter is marked
 * cancelled; whether every waiter is (true if none waits). */
static inline bool weft__wl_head_cancelled(const struct weft__waitlist *wl) {
  const struct weft__waiter_node *w = weft__wl_first(wl);
  return w && weft__wl_marked(w);
}
bool weft__wl_all_cancelled(const struct weft__waitlist *wl);
/* weft_task_cancel's mark (head comment), by a one-worker loop's own
 * thread while @w's task is suspended in its wait: under the node's mutex,
 * marks @w if it is still queued and not granted. */
void weft__wl_mark_cancelled(struct weft__waiter_node *w);
/* Called with the mutex held: grants @w (already unqueued) @value and
 * @status and wakes it. */
void weft__wl_grant(struct weft__waiter_node *w, void *value, int status);

/* Called with the mutex held: grants the oldest waiter @value and @status
 * and wakes it. Returns false if nobody waits. */
bool weft__wl_wake_one(struct weft__waitlist *wl, void *value, int status);
/* Grants every waiter @status; returns how many. */
size_t weft__wl_wake_all(struct weft__waitlist *wl, int status);

#endif
