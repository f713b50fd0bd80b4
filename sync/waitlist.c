/*
 * waitlist.c - FIFO waiters granted under their primitive's mutex.
 *
 * Invariants (under the primitive's mutex): a node is in at most one
 * waitlist; count == number of nodes; a node leaves the list either through
 * a waker (granted = 1, set before the wake-up) or through its own waiter
 * (not granted, after a cancellation or a timeout). Orderings: granted is
 * stored with release and read with acquire, so value and status written
 * before it are visible to the woken waiter (which also re-takes the mutex).
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

void weft__wl_enqueue(struct weft__waitlist *wl, struct weft__waiter_node *w, struct weft_task *t) {
  weft__wl_node_init(w, t);
  weft__list_add_tail(&wl->waiters, &w->link);
  wl->count++;
  WEFT__INVARIANT(wl_ok(wl));
}

int weft__wl_await(struct weft__mutex *m, struct weft__waitlist *wl, struct weft__waiter_node *w,
                   enum weft__wait_mode mode, uint64_t deadline_ns) {
  struct weft_task *t = w->task;
  weft__mutex_unlock(m);
  int rc;
  if (!t)
    rc = weft__futex_wait_nonzero(&w->granted, deadline_ns);
  else if (mode == WEFT__WAIT_NOCANCEL)
    rc = weft__task_wait_nocancel(t, &w->granted, deadline_ns);
  else
    rc = weft__task_wait(t, &w->granted, deadline_ns);
  weft__mutex_lock(m); /* waker rule: the waker is done with w */
  if (weft__list_linked(&w->link)) {
    weft__list_del_init(&w->link);
    wl->count--;
  }
  WEFT__INVARIANT(wl_ok(wl));
  if (rc == -ETIMEDOUT && atomic_load_explicit(&w->granted, memory_order_acquire))
    rc = 0; /* granted just as the time ran out: keep it */
  return rc;
}

int weft__wl_wait(struct weft__mutex *m, struct weft__waitlist *wl, struct weft__waiter_node *w,
                  enum weft__wait_mode mode, uint64_t deadline_ns) {
  weft__wl_enqueue(wl, w, weft__task_self());
  return weft__wl_await(m, wl, w, mode, deadline_ns);
}

void weft__wl_grant(struct weft__waiter_node *w, void *value, int status) {
  w->value = value;
  w->status = status;
  /* release: value and status are visible to the waiter's acquire load. */
  atomic_store_explicit(&w->granted, 1, memory_order_release);
  if (w->task)
    weft__task_wake(w->task);
  else
    weft__futex_wake(&w->granted, 1);
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
