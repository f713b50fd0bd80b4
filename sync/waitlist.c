/*
 * waitlist.c - FIFO waiters granted under their primitive's mutex.
 *
 * Invariants (under the primitive's mutex): a node is in at most one
 * waitlist; count == number of nodes; a node leaves the list either through
 * a waker (granted nonzero, set before the wake-up; for a task set again
 * to WEFT__WL_GRANT_DONE after it, the waker's last touch) or through its
 * own waiter (not granted, after a cancellation or a timeout). Orderings:
 * granted is stored with release and read with acquire, so value and
 * status written before it are visible to the woken waiter (which also
 * re-takes the mutex, unless it waits by hand-off and reads GRANT_DONE).
 * A queued node is not granted yet (wakers unqueue before granting).
 * wl_ok() checks the list side of this after every change.
 */
#include "waitlist.h"
#include "clock.h"
#include "futex.h"
#include "task.h"
#include "worker.h"

#include <errno.h>

/* The invariants of the head comment, under the primitive's mutex. */
WEFT__CHECKER bool wl_ok(const struct weft__waitlist *wl) {
  if (!weft__list_count_ok(&wl->waiters, wl->count)) return false;
  if (weft__list_empty(&wl->waiters)) return true;
  const struct weft__waiter_node *first =
      weft__container_of(wl->waiters.next, struct weft__waiter_node, link);
  return atomic_load_explicit(&first->granted, memory_order_relaxed) == 0;
}

bool weft__wl_ok(const struct weft__waitlist *wl) { return wl_ok(wl); }

void weft__wl_init(struct weft__waitlist *wl) {
  weft__list_init(&wl->waiters);
  wl->count = 0;
}

void weft__wl_node_init(struct weft__waiter_node *w, struct weft_task *t) {
  weft__list_init(&w->link);
  w->task = t;
  atomic_init(&w->granted, 0);
  w->value = NULL;
  w->status = 0;
}

/* Readies @w for task @t and links it into @wl just before @at (the
 * list's head: last; its first node: first). */
static void wl_link(struct weft__waitlist *wl, struct weft__waiter_node *w, struct weft_task *t,
                    struct weft__list *at) {
  weft__wl_node_init(w, t);
  weft__list_add_tail(at, &w->link);
  wl->count++;
  WEFT__INVARIANT(wl_ok(wl));
}

void weft__wl_enqueue(struct weft__waitlist *wl, struct weft__waiter_node *w, struct weft_task *t) {
  wl_link(wl, w, t, &wl->waiters);
}

void weft__wl_enqueue_first(struct weft__waitlist *wl, struct weft__waiter_node *w,
                            struct weft_task *t) {
  wl_link(wl, w, t, wl->waiters.next);
}

/* Sleeps until @w is granted, cancelled or @deadline_ns, by @mode;
 * weft__task_wait's results (0: granted). Without the mutex. */
static int wl_sleep(struct weft__waiter_node *w, enum weft__wait_mode mode, uint64_t deadline_ns) {
  struct weft_task *t = w->task;
  if (!t) return weft__futex_wait_nonzero(&w->granted, deadline_ns);
  if (mode == WEFT__WAIT_NOCANCEL) return weft__task_wait_nocancel(t, &w->granted, deadline_ns);
  return weft__task_wait(t, &w->granted, deadline_ns);
}

/* With the mutex re-taken after wl_sleep's @rc: unqueues @w if no waker
 * did, and keeps a grant that came as the time ran out. */
static int wl_leave_locked(struct weft__waitlist *wl, struct weft__waiter_node *w, int rc) {
  if (weft__list_linked(&w->link)) {
    weft__list_del_init(&w->link);
    wl->count--;
  }
  WEFT__INVARIANT(wl_ok(wl));
  if (rc == -ETIMEDOUT && atomic_load_explicit(&w->granted, memory_order_acquire))
    rc = 0; /* granted just as the time ran out: keep it */
  return rc;
}

int weft__wl_await(struct weft__mutex *m, struct weft__waitlist *wl, struct weft__waiter_node *w,
                   enum weft__wait_mode mode, uint64_t deadline_ns) {
  weft__mutex_unlock(m);
  int rc = wl_sleep(w, mode, deadline_ns);
  weft__mutex_lock(m); /* waker rule: the waker is done with w */
  return wl_leave_locked(wl, w, rc);
}

int weft__wl_wait(struct weft__mutex *m, struct weft__waitlist *wl, struct weft__waiter_node *w,
                  enum weft__wait_mode mode, uint64_t deadline_ns) {
  weft__wl_enqueue(wl, w, weft__task_self());
  return weft__wl_await(m, wl, w, mode, deadline_ns);
}

/* weft__wl_wait_handoff for a node already queued (by either enqueue). */
static inline __attribute__((always_inline)) int wl_await_handoff(
    struct weft__mutex *m, struct weft__waitlist *wl, struct weft__waiter_node *w,
    enum weft__wait_mode mode, uint64_t deadline_ns) {
  weft__mutex_unlock(m);
  int rc = wl_sleep(w, mode, deadline_ns);
  /* acquire: pairs with weft__wl_grant's last release store: the waker
   * unqueued w before granting and is done with it, so the mutex has
   * nothing left to wait out (the waker rule holds without it). */
  if (rc == 0 && atomic_load_explicit(&w->granted, memory_order_acquire) == WEFT__WL_GRANT_DONE)
    return 0;
  weft__mutex_lock(m); /* waker rule: the waker is done with w */
  rc = wl_leave_locked(wl, w, rc);
  if (rc == 0) weft__mutex_unlock(m);
  return rc;
}

int weft__wl_wait_handoff(struct weft__mutex *m, struct weft__waitlist *wl,
                          struct weft__waiter_node *w, enum weft__wait_mode mode,
                          uint64_t deadline_ns) {
  weft__wl_enqueue(wl, w, weft__task_self());
  return wl_await_handoff(m, wl, w, mode, deadline_ns);
}

int weft__wl_wait_handoff_first(struct weft__mutex *m, struct weft__waitlist *wl,
                                struct weft__waiter_node *w, enum weft__wait_mode mode,
                                uint64_t deadline_ns) {
  weft__wl_enqueue_first(wl, w, weft__task_self());
  return wl_await_handoff(m, wl, w, mode, deadline_ns);
}

void weft__wl_grant(struct weft__waiter_node *w, void *value, int status) {
  struct weft_task *t = w->task; /* read before the grant: then only the two stores touch w */
  w->value = value;
  w->status = status;
  /* release: value and status are visible to the waiter's acquire load. */
  atomic_store_explicit(&w->granted, WEFT__WL_GRANTED, memory_order_release);
  if (t) {
    weft__task_wake(t);
    /* release: our last touch of w; a hand-off waiter that reads it
     * leaves without the mutex (weft__wl_wait_handoff). A task waiter
     * sees GRANTED only if it runs before this store; it then takes the
     * mutex, which we hold. */
    atomic_store_explicit(&w->granted, WEFT__WL_GRANT_DONE, memory_order_release);
  } else {
    weft__futex_wake(&w->granted, 1); /* a thread always re-takes the mutex */
  }
}

struct weft__waiter_node *weft__wl_pop(struct weft__waitlist *wl) {
  if (weft__list_empty(&wl->waiters)) return NULL;
  struct weft__list *first = wl->waiters.next;
  weft__list_del_init(first);
  wl->count--;
  WEFT__INVARIANT(wl_ok(wl));
  return weft__container_of(first, struct weft__waiter_node, link);
}

bool weft__wl_wake_one(struct weft__waitlist *wl, void *value, int status) {
  struct weft__waiter_node *w = weft__wl_pop(wl);
  if (w) weft__wl_grant(w, value, status);
  return w != NULL;
}

size_t weft__wl_wake_all(struct weft__waitlist *wl, int status) {
  size_t n = 0;
  while (weft__wl_wake_one(wl, NULL, status)) n++;
  return n;
}
