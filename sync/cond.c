/*
 * cond.c - Condition: wait/notify bound to a Lock, with wait morphing.
 *
 * A waiter carries two nodes on its stack: one in the condition's list and
 * one for the lock. notify() (the caller holds the lock) moves each woken
 * waiter straight into the lock's FIFO queue without waking it; the lock's
 * hand-off wakes it, owning the lock. So waiters re-acquire in the order
 * they were notified, on any number of workers, and notify_all wakes one
 * task per release instead of a herd that fights for the lock.
 *
 * Invariants: a waiter's cond node is in c->waiters (under c->m) until
 * notify unlinks it or the waiter leaves on its own (timeout, cancel); once
 * unlinked by notify, its lock node is in the lock's queue or granted, and
 * the waiter waits for that grant without cancellation. wait() returns
 * holding the lock in every case.
 *
 * Cancellation, as asyncio 3.13's Condition.wait: the lock is re-acquired
 * first, then -ECANCELED is returned, also for a cancellation that arrived
 * while re-acquiring after a notify; any error out of wait() (cancelled or
 * timed out) passes one notification on, since it may have consumed one (a
 * spurious wake-up of another waiter is allowed by the protocol).
 *
 * A waiter cancelled while it waits, on a one-worker loop by its own
 * thread, is marked at once (waitlist.h) and skipped by notify, as
 * asyncio's notify skips a cancelled waiter's future; leaving, it passes
 * one notification on all the same (3.13's rule above).
 *
 * One worker in FIFO order (asyncio's exact order) morphs no wait: a
 * notified waiter is woken at once and re-acquires the lock itself when it
 * runs, as asyncio's wait() does once its future is set, so the lock is
 * free meanwhile to whoever asks first (the notifier again, another task),
 * and the waiter's wake-up comes in the notify's pass, not the release's
 * (tests/order found a notifier's next acquire queued behind the waiter it
 * had just notified).
 *
 * Locks: c->m, then the lock's own mutex (notify holds c->m while it
 * queues on the lock; wait holds c->m while releasing the lock, so a
 * notify that follows the release finds the waiter: none is lost).
 * Nothing takes them in the other order.
 */
#include "weft.h"
#include "alloc.h"
#include "misuse.h"
#include "lock.h"
#include "named.h"
#include "waitlist.h"

#include <errno.h>
#include <stdint.h>
#include "task.h"

struct weft_cond {
  struct weft__mutex m;
  WEFT__MAGIC                     /* debug builds: misuse.h */
  _Atomic(const char *) name;     /* weft_cond_set_name; relaxed (the dump reads it) */
  struct weft_lock *lock;          /* immutable */
  bool own_lock;                   /* immutable */
  struct weft__waitlist waiters;   /* under m */
};

int weft_cond_create(weft_lock_t *lock, weft_cond_t **out) {
  if (!out) return -EINVAL;
  struct weft_cond *c = weft__alloc(sizeof *c);
  if (!c) return -ENOMEM;
  weft__magic_live(c);
  atomic_init(&c->name, NULL);
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
  weft__magic_check(c, "double destroy", "cond");
  weft__mutex_lock(&c->m);
  bool busy = c->waiters.count != 0;
  weft__mutex_unlock(&c->m);
  if (busy || (c->own_lock && weft_lock_destroy(c->lock) != 0)) return -EBUSY;
  weft__magic_dead(c);
  weft__free(c, sizeof *c);
  return 0;
}

weft_lock_t *weft_cond_lock(weft_cond_t *c) { return c ? c->lock : NULL; }

/* Whether @t's wait is morphed into a lock wait when notified. */
static bool morphs(const struct weft_task *t) {
  return !weft__loop_asyncio_order(t->fut.loop);
}

/* Moves up to @n waiters to the lock's queue, or wakes them to re-acquire
 * it (morphs). Under c->m; the caller holds the lock. */
static int notify_locked(struct weft_cond *c, int n) {
  int woken = 0;
  struct weft__waiter_node *cw;
  while (woken < n && (cw = weft__wl_pop(&c->waiters))) {
    struct weft__waiter_node *lw = cw->value; /* the waiter's lock node */
    if (morphs(lw->task)) weft__lock_enqueue(c->lock, lw);
    else weft__wl_grant(lw, NULL, 0); /* it re-acquires the lock itself (design comment) */
    woken++;
  }
  return woken;
}

static int wait_until(struct weft_cond *c, uint64_t deadline) {
  struct weft_task *t = weft__task_self();
  struct weft__waiter_node cw, lw;
  weft__wl_node_init(&lw, t);
  weft__mutex_lock(&c->m);
  /* c->m stays held from here until the waiter is queued (design comment). */
  weft_lock_release(c->lock);
  weft__wl_enqueue(&c->waiters, &cw, t);
  cw.value = &lw;
  weft__mutex_unlock(&c->m);
  /* Woken by the lock's hand-off (after a notify), a cancel or the deadline.
   * cw is what weft_task_cancel marks meanwhile (waitlist.h: on a
   * one-worker loop, by its thread), so that notify skips it. */
  weft__task_blocked_named(t, WEFT__BLOCK_COND, c, 0,
                         weft__name_get(&c->name));
  struct weft__task_run *x = weft__task_run_of(t);
  cw.m = &c->m;
  atomic_store_explicit(&x->wait_node, &cw, memory_order_relaxed); /* as wl_sleep's */
  int rc = weft__task_wait(t, &lw.granted, deadline);
  atomic_store_explicit(&x->wait_node, NULL, memory_order_relaxed);
  weft__mutex_lock(&c->m);
  bool queued = weft__list_linked(&cw.link);
  if (queued) {
    weft__list_del_init(&cw.link);
    c->waiters.count--;
  }
  /* Unqueued by a notify, not skipped by one (marked cancelled). */
  bool notified = !queued && !weft__wl_marked(&cw);
  weft__mutex_unlock(&c->m);
  if (notified) {
    if (rc == -ETIMEDOUT) rc = 0; /* notified as the time ran out: keep it */
    /* Not morphed: the notifier woke us to re-acquire the lock. Morphed:
     * lw went to the lock's queue, where a release may be granting it now
     * (its fields written under the lock's mutex, not c->m: reading its
     * status here raced that store, TSan in test_races' cancel_vs_notify;
     * weft__lock_await reads the grant under that mutex). */
    if (!morphs(t)) weft__lock_acquire_mode(c->lock, -1, WEFT__WAIT_NOCANCEL);
    else weft__lock_await(c->lock, &lw);
  } else {
    weft__lock_acquire_mode(c->lock, -1, WEFT__WAIT_NOCANCEL);
  }
  if (rc != -ECANCELED && weft__task_take_cancel(t)) rc = -ECANCELED; /* came while re-acquiring */
  if (rc) {
    weft__mutex_lock(&c->m);
    notify_locked(c, 1);
    weft__mutex_unlock(&c->m);
  }
  return rc;
}

int weft_cond_wait(weft_cond_t *c, int64_t timeout_ns) {
  if (!c) return -EINVAL;
  if (weft__wl_can_wait(WEFT__WAIT_TASK) || !weft__lock_owned(c->lock)) return -EPERM;
  return wait_until(c, weft__deadline(timeout_ns));
}

int weft_cond_wait_for(weft_cond_t *c, int (*pred)(void *arg), void *arg, int64_t timeout_ns) {
  if (!c || !pred) return -EINVAL;
  if (weft__wl_can_wait(WEFT__WAIT_TASK) || !weft__lock_owned(c->lock)) return -EPERM;
  uint64_t deadline = weft__deadline(timeout_ns);
  /* asyncio's wait_for: a predicate already true returns without a
   * suspension point (a pending cancellation stays for the next one); a
   * cancellation is reported even if the predicate became true meanwhile. */
  while (!pred(arg)) {
    int rc = wait_until(c, deadline);
    if (rc == -ETIMEDOUT && pred(arg)) return 0;
    if (rc) return rc;
  }
  return 0;
}

int weft_cond_notify(weft_cond_t *c, int n) {
  if (!c || n < 0) return -EINVAL;
  if (!weft__lock_owned(c->lock)) return -EPERM;
  weft__mutex_lock(&c->m);
  int woken = notify_locked(c, n);
  weft__mutex_unlock(&c->m);
  return woken;
}

int weft_cond_notify_all(weft_cond_t *c) {
  if (!c) return -EINVAL;
  if (!weft__lock_owned(c->lock)) return -EPERM;
  weft__mutex_lock(&c->m);
  int woken = notify_locked(c, INT32_MAX);
  weft__mutex_unlock(&c->m);
  return woken;
}

int weft_cond_set_name(weft_cond_t *c, const char *name) {
  return c ? weft__name_set(&c->name, name) : -EINVAL;
}

const char *weft_cond_name(weft_cond_t *c) {
  return c ? weft__name_get(&c->name) : NULL;
}
