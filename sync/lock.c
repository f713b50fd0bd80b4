/*
 * lock.c - Lock: FIFO, direct hand-off, owned by the task that acquired it.
 *
 * Invariants (under m): the lock is held exactly when owner != NULL; a
 * waiter is queued only while the lock is held (lock_ok() checks both and
 * the waitlist's own after every change). Release hands the lock to the oldest waiter by
 * making it the owner before waking it, so the lock is never observably
 * free while tasks wait: a newcomer queues behind them (asyncio's fairness,
 * without its wake-up-and-race). A waiter granted the lock and cancelled at
 * the same moment releases it again, to the next waiter.
 */
#include "weft.h"
#include "alloc.h"
#include "misuse.h"
#include "task.h"
#include "lock.h"
#include "named.h"
#include "waitlist.h"

#include <errno.h>

struct weft_lock {
  struct weft__mutex m;
  WEFT__MAGIC                     /* debug builds: misuse.h */
  _Atomic(const char *) name;     /* weft_lock_set_name; relaxed (the dump reads it) */
  struct weft_task *owner;        /* under m */
  struct weft__waitlist waiters;  /* under m */
};

WEFT__CHECKER bool lock_ok(const struct weft_lock *l) {
  return (l->owner || weft__list_empty(&l->waiters.waiters)) && weft__wl_ok(&l->waiters);
}

int weft_lock_create(weft_lock_t **out) {
  if (!out) return -EINVAL;
  struct weft_lock *l = weft__alloc(sizeof *l);
  if (!l) return -ENOMEM;
  weft__magic_live(l);
  atomic_init(&l->name, NULL);
  weft__mutex_init(&l->m);
  l->owner = NULL;
  weft__wl_init(&l->waiters);
  *out = l;
  return 0;
}

int weft_lock_destroy(weft_lock_t *l) {
  if (!l) return -EINVAL;
  weft__magic_check(l, "double destroy", "lock");
  weft__mutex_lock(&l->m);
  bool busy = l->owner || l->waiters.count;
  weft__mutex_unlock(&l->m);
  if (busy) return -EBUSY;
  weft__magic_dead(l);
  weft__free(l, sizeof *l);
  return 0;
}

/* Hands the lock to the oldest waiter, or frees it. Under m. */
static void release_locked(struct weft_lock *l) {
  if (weft__list_empty(&l->waiters.waiters)) {
    l->owner = NULL;
    return;
  }
  struct weft__waiter_node *w =
      weft__container_of(l->waiters.waiters.next, struct weft__waiter_node, link);
  l->owner = w->task;
  weft__wl_wake_one(&l->waiters, NULL, 0);
  WEFT__INVARIANT(lock_ok(l));
}

/* Acquire with an explicit wait mode (cond.c re-acquires without cancellation). */
int weft__lock_acquire_mode(struct weft_lock *l, int64_t timeout_ns, enum weft__wait_mode mode) {
  if (!l) return -EINVAL;
  struct weft_task *t = weft__task_self();
  if (!t) return -EPERM;
  weft__mutex_lock(&l->m);
  if (!l->owner) {
    l->owner = t;
    WEFT__INVARIANT(lock_ok(l));
    weft__mutex_unlock(&l->m);
    return 0;
  }
  if (l->owner == t) {
    weft__mutex_unlock(&l->m);
    return -EDEADLK;
  }
  struct weft__waiter_node w;
  weft__task_blocked_named(t, WEFT__BLOCK_LOCK, l, (int64_t)l->owner->id,
                         weft__name_get(&l->name));
  int rc = weft__wl_wait(&l->m, &l->waiters, &w, mode, weft__deadline(timeout_ns));
  if (rc && atomic_load_explicit(&w.granted, memory_order_acquire)) release_locked(l);
  WEFT__INVARIANT(lock_ok(l) && (rc || l->owner == t));
  weft__mutex_unlock(&l->m);
  return rc;
}

void weft__lock_enqueue(struct weft_lock *l, struct weft__waiter_node *w) {
  weft__mutex_lock(&l->m);
  if (!l->owner) {
    l->owner = w->task;
    weft__wl_grant(w, NULL, 0);
  } else {
    weft__wl_enqueue(&l->waiters, w, w->task);
  }
  WEFT__INVARIANT(lock_ok(l));
  weft__mutex_unlock(&l->m);
}

void weft__lock_await(struct weft_lock *l, struct weft__waiter_node *w) {
  weft__mutex_lock(&l->m);
  /* No deadline, no cancellation: returns only once granted. */
  weft__wl_await(&l->m, &l->waiters, w, WEFT__WAIT_NOCANCEL, 0);
  WEFT__INVARIANT(lock_ok(l) && l->owner == w->task);
  weft__mutex_unlock(&l->m);
}

int weft_lock_acquire(weft_lock_t *l, int64_t timeout_ns) {
  return weft__lock_acquire_mode(l, timeout_ns, WEFT__WAIT_TASK);
}

int weft_lock_try_acquire(weft_lock_t *l) {
  if (!l) return -EINVAL;
  struct weft_task *t = weft__task_self();
  if (!t) return -EPERM;
  weft__mutex_lock(&l->m);
  int rc = l->owner ? -EAGAIN : 0;
  if (!rc) l->owner = t;
  WEFT__INVARIANT(lock_ok(l));
  weft__mutex_unlock(&l->m);
  return rc;
}

int weft_lock_release(weft_lock_t *l) {
  if (!l) return -EINVAL;
  struct weft_task *t = weft__task_self();
  weft__mutex_lock(&l->m);
  int rc = !l->owner ? WEFT_EINVALSTATE : l->owner != t ? -EPERM : 0;
  if (!rc) release_locked(l);
  weft__mutex_unlock(&l->m);
  return rc;
}

int weft_lock_locked(weft_lock_t *l) {
  if (!l) return 0;
  weft__mutex_lock(&l->m);
  int held = l->owner != NULL;
  weft__mutex_unlock(&l->m);
  return held;
}

/* For cond.c: does the current task hold @l? */
bool weft__lock_owned(struct weft_lock *l) {
  weft__mutex_lock(&l->m);
  bool mine = l->owner && l->owner == weft__task_self();
  weft__mutex_unlock(&l->m);
  return mine;
}

struct weft_lock_scope weft_lock_scope_enter(weft_lock_t *l) {
  struct weft_lock_scope s = {l, weft_lock_acquire(l, -1)};
  return s;
}

void weft_lock_scope_exit(struct weft_lock_scope *s) {
  if (s->rc == 0) weft_lock_release(s->lock);
}

int weft_lock_set_name(weft_lock_t *l, const char *name) {
  return l ? weft__name_set(&l->name, name) : -EINVAL;
}

const char *weft_lock_name(weft_lock_t *l) {
  return l ? weft__name_get(&l->name) : NULL;
}
