/*
 * cond.c - Condition: wait/notify bound to a Lock.
 *
 * wait() holds c->m from before it releases the lock until its waiter is
 * queued; a notify() needs the lock and then c->m, so one that follows the
 * release always finds the waiter: no notification is lost. The lock is re-acquired without cancellation, so
 * wait() returns holding it in every case; a cancellation that arrived
 * meanwhile is reported after that. A waiter notified and cancelled at the
 * same moment passes its notification to the next waiter.
 *
 * Locks: c->m protects the waitlist. It is held while *releasing* the
 * user's lock (order c->m, then the lock's own mutex) and never while
 * acquiring it; nothing takes them in the other order.
 */
#include "weft.h"
#include "alloc.h"
#include "lock.h"
#include "waitlist.h"

#include <errno.h>

struct weft_cond {
  struct weft__mutex m;
  struct weft_lock *lock;          /* immutable */
  bool own_lock;                   /* immutable */
  struct weft__waitlist waiters;   /* under m */
};

int weft_cond_create(weft_lock_t *lock, weft_cond_t **out) {
  if (!out) return -EINVAL;
  struct weft_cond *c = weft__alloc(sizeof *c);
  if (!c) return -ENOMEM;
  c->own_lock = lock == NULL;
  if (c->own_lock && weft_lock_create(&lock) != 0) {
    weft__free(c, sizeof *c);
    return -ENOMEM;
  }
  weft__mutex_init(&c->m);
  c->lock = lock;
  weft__wl_init(&c->waiters);
  *out = c;
  return 0;
}

int weft_cond_destroy(weft_cond_t *c) {
  if (!c) return -EINVAL;
  weft__mutex_lock(&c->m);
  bool busy = c->waiters.count != 0;
  weft__mutex_unlock(&c->m);
  if (busy || (c->own_lock && weft_lock_destroy(c->lock) != 0)) return -EBUSY;
  weft__free(c, sizeof *c);
  return 0;
}

weft_lock_t *weft_cond_lock(weft_cond_t *c) { return c ? c->lock : NULL; }

static int wait_until(struct weft_cond *c, uint64_t deadline) {
  struct weft__waiter_node w;
  weft__mutex_lock(&c->m);
  /* c->m stays held from here until the waiter is queued (design
   * comment); the waitlist's own wait drops it while suspended. */
  weft_lock_release(c->lock);
  int rc = weft__wl_wait(&c->m, &c->waiters, &w, WEFT__WAIT_TASK, deadline);
  if (rc && atomic_load_explicit(&w.granted, memory_order_acquire))
    weft__wl_wake_one(&c->waiters, NULL, 0); /* pass the notification on */
  weft__mutex_unlock(&c->m);
  weft__lock_acquire_mode(c->lock, -1, WEFT__WAIT_NOCANCEL);
  return rc;
}

int weft_cond_wait(weft_cond_t *c, int64_t timeout_ns) {
  if (!c) return -EINVAL;
  if (weft__wl_can_wait(WEFT__WAIT_TASK) || !weft__lock_owned(c->lock)) return -EPERM;
  return wait_until(c, weft__wl_deadline(timeout_ns));
}

int weft_cond_wait_for(weft_cond_t *c, int (*pred)(void *arg), void *arg, int64_t timeout_ns) {
  if (!c || !pred) return -EINVAL;
  if (weft__wl_can_wait(WEFT__WAIT_TASK) || !weft__lock_owned(c->lock)) return -EPERM;
  uint64_t deadline = weft__wl_deadline(timeout_ns);
  while (!pred(arg)) {
    int rc = wait_until(c, deadline);
    if (rc) return pred(arg) ? 0 : rc;
  }
  return 0;
}

int weft_cond_notify(weft_cond_t *c, int n) {
  if (!c || n < 0) return -EINVAL;
  if (!weft__lock_owned(c->lock)) return -EPERM;
  weft__mutex_lock(&c->m);
  int woken = 0;
  while (woken < n && weft__wl_wake_one(&c->waiters, NULL, 0)) woken++;
  weft__mutex_unlock(&c->m);
  return woken;
}

int weft_cond_notify_all(weft_cond_t *c) {
  if (!c) return -EINVAL;
  if (!weft__lock_owned(c->lock)) return -EPERM;
  weft__mutex_lock(&c->m);
  int woken = (int)weft__wl_wake_all(&c->waiters, 0);
  weft__mutex_unlock(&c->m);
  return woken;
}
