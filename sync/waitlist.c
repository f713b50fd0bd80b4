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
  uint32_t g = atomic_load_explicit(&first->granted, memory_order_relaxed);
  return g == 0 || g == WEFT__WL_CANCELLED;
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
  w->m = NULL;
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
 * weft__task_wait's results (0: granted, or marked cancelled). Without
 * @m, the primitive's mutex. A task's cancellable wait names its node in
 * its execution part meanwhile, for weft_task_cancel's mark (head comment
 * of waitlist.h): relaxed, read on this thread only, while it is suspended. */
static int wl_sleep(struct weft__mutex *m, struct weft__waiter_node *w, enum weft__wait_mode mode,
                    uint64_t deadline_ns) {
  struct weft_task *t = w->task;
  if (!t) return weft__futex_wait_nonzero(&w->granted, deadline_ns);
  if (mode == WEFT__WAIT_NOCANCEL) return weft__task_wait_nocancel(t, &w->granted, deadline_ns);
  struct weft__task_run *x = weft__task_run_of(t);
  w->m = m;
  atomic_store_explicit(&x->wait_node, w, memory_order_relaxed);
  int rc = weft__task_wait(t, &w->granted, deadline_ns);
  atomic_store_explicit(&x->wait_node, NULL, memory_order_relaxed);
  return rc;
}

/* With the mutex re-taken after wl_sleep's @rc: unqueues @w if no waker
 * did, keeps a grant that came as the time ran out, and ends a wait marked
 * cancelled with -ECANCELED (also if the request was withdrawn meanwhile:
 * asyncio's cancelled future raises all the same). */
static int wl_leave_locked(struct weft__waitlist *wl, struct weft__waiter_node *w, int rc) {
  if (weft__list_linked(&w->link)) {
    weft__list_del_init(&w->link);
    wl->count--;
  }
  WEFT__INVARIANT(wl_ok(wl));
  uint32_t g = atomic_load_explicit(&w->granted, memory_order_acquire);
  if (g == WEFT__WL_CANCELLED) return -ECANCELED;
  if (rc == -ETIMEDOUT && g) rc = 0; /* granted just as the time ran out: keep it */
  return rc;
}

int weft__wl_await(struct weft__mutex *m, struct weft__waitlist *wl, struct weft__waiter_node *w,
                   enum weft__wait_mode mode, uint64_t deadline_ns) {
  weft__mutex_unlock(m);
  int rc = wl_sleep(m, w, mode, deadline_ns);
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
  int rc = wl_sleep(m, w, mode, deadline_ns);
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

struct weft__waiter_node *weft__wl_pop_head(struct weft__waitlist *wl) {
  if (weft__list_empty(&wl->waiters)) return NULL;
  struct weft__list *first = wl->waiters.next;
  weft__list_del_init(first);
  wl->count--;
  WEFT__INVARIANT(wl_ok(wl));
  return weft__container_of(first, struct weft__waiter_node, link);
}

struct weft__waiter_node *weft__wl_pop(struct weft__waitlist *wl) {
  struct weft__waiter_node *w;
  while ((w = weft__wl_pop_head(wl)) && weft__wl_marked(w)) {
  }
  return w;
}

bool weft__wl_all_cancelled(const struct weft__waitlist *wl) {
  for (const struct weft__list *at = wl->waiters.next; at != &wl->waiters; at = at->next)
    if (!weft__wl_marked(weft__container_of(at, struct weft__waiter_node, link))) return false;
  return true;
}

void weft__wl_mark_cancelled(struct weft__waiter_node *w) {
  struct weft__mutex *m = w->m;
  weft__mutex_lock(m);
  if (weft__list_linked(&w->link) && !atomic_load_explicit(&w->granted, memory_order_relaxed))
    /* release: as a grant's store, which the task's wait loop reads. */
    atomic_store_explicit(&w->granted, WEFT__WL_CANCELLED, memory_order_release);
  weft__mutex_unlock(m);
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
