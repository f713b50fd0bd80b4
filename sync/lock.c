/*
 * lock.c - Lock: FIFO, direct hand-off, owned by the task that acquired it.
 *
 * The lock word: the owning task's address, or 0 when free, with bit 0
 * (WAITERS) set while tasks wait. Acquiring a free lock is one CAS (0 ->
 * task) and releasing a lock nobody waits for one CAS (task -> 0), without
 * the mutex: 41 -> 22 ns per uncontended acquire and release pair in
 * lock_contended (benchmarks/RESULTS.md, issue 13). Everything else runs
 * under m: queueing, hand-off, leaving the queue; a waiter granted the lock
 * leaves without taking m again once its granter is done with its node
 * (weft__wl_wait_handoff), and a release that finds WAITERS set goes
 * straight to m without its CAS: a hand-off in a convoy takes 7 locked
 * instructions instead of 10, the task's suspension and wake-up included.
 *
 * Invariants: the word is 0 exactly when the lock is free; WAITERS is set
 * exactly when the waitlist is not empty (under m, after every change);
 * while WAITERS is set, the word changes only under m (the fast paths'
 * CASes expect 0 or a bare task, so they fail and take m); a waiter is
 * queued only while the lock is held (lock_ok() checks these and the
 * waitlist's own after every change). Release hands the lock to the
 * oldest waiter by making it the owner before waking it, so the lock is
 * never observably free while tasks wait: a newcomer's CAS fails and it
 * queues behind them (asyncio's fairness, without its wake-up-and-race). A
 * waiter granted the lock and cancelled at the same moment releases it
 * again, to the next waiter.
 *
 * Orderings: taking the lock (the fast CAS, or the CAS under m when it was
 * free) is acquire, and every store that frees it or hands it over is
 * release, so a critical section happens-before the next owner's. The
 * taking CAS is release too (acq_rel, the same instruction on x86): the
 * word names the owner, and a waiter that reads it (acquire) to note whom
 * it waits for reads that task's fields (its id), which must then
 * happen-before (TSan found the read unordered with the owner's creation).
 * Setting and clearing WAITERS is relaxed: it orders nothing by itself; m
 * does, and as read-modify-writes they continue the owner's release.
 */
#include "weft.h"
#include "alloc.h"
#include "misuse.h"
#include "task.h"
#include "lock.h"
#include "named.h"
#include "waitlist.h"

#include <errno.h>

#define WAITERS ((uintptr_t)1)

struct weft_lock {
  struct weft__mutex m;
  WEFT__MAGIC                     /* debug builds: misuse.h */
  _Atomic(const char *) name;     /* weft_lock_set_name; relaxed (the dump reads it) */
  _Atomic uintptr_t word;         /* owner | WAITERS, 0 when free (above) */
  struct weft__waitlist waiters;  /* under m */
};

static inline struct weft_task *owner_of(uintptr_t word) {
  return (struct weft_task *)(word & ~WAITERS);
}

WEFT__CHECKER bool lock_ok(struct weft_lock *l) {
  uintptr_t word = atomic_load_explicit(&l->word, memory_order_relaxed);
  bool queued = !weft__list_empty(&l->waiters.waiters);
  return (word || !queued) && ((word & WAITERS) != 0) == queued && weft__wl_ok(&l->waiters);
}

/* Under m: takes @l for @me if it is free (true), else sets WAITERS (the
 * caller then queues): from then on its word changes only under m. */
static bool take_or_mark_locked(struct weft_lock *l, uintptr_t me) {
  uintptr_t cur = atomic_load_explicit(&l->word, memory_order_relaxed);
  for (;;) {
    if (cur == 0) {
      /* acquire: pairs with the release that freed it; release: names us (head comment). */
      if (atomic_compare_exchange_weak_explicit(&l->word, &cur, me, memory_order_acq_rel,
                                                memory_order_relaxed))
        return true;
    } else if (cur & WAITERS) {
      return false;
    } else if (atomic_compare_exchange_weak_explicit(&l->word, &cur, cur | WAITERS,
                                                     memory_order_relaxed, memory_order_relaxed)) {
      return false; /* the owner's fast release now fails: it takes m */
    }
  }
}

/* Under m, after a waiter left the queue by itself: WAITERS follows the
 * queue (a plain store: with WAITERS set nothing else changes the word). */
static void unmark_if_none_locked(struct weft_lock *l) {
  if (!weft__list_empty(&l->waiters.waiters)) return;
  uintptr_t cur = atomic_load_explicit(&l->word, memory_order_relaxed);
  if (cur & WAITERS) atomic_store_explicit(&l->word, cur & ~WAITERS, memory_order_relaxed);
}

int weft_lock_create(weft_lock_t **out) {
  if (!out) return -EINVAL;
  struct weft_lock *l = weft__alloc(sizeof *l);
  if (!l) return -ENOMEM;
  weft__magic_live(l);
  atomic_init(&l->name, NULL);
  weft__mutex_init(&l->m);
  atomic_init(&l->word, 0);
  weft__wl_init(&l->waiters);
  *out = l;
  return 0;
}

int weft_lock_destroy(weft_lock_t *l) {
  if (!l) return -EINVAL;
  weft__magic_check(l, "double destroy", "lock");
  weft__mutex_lock(&l->m);
  bool busy = atomic_load_explicit(&l->word, memory_order_relaxed) || l->waiters.count;
  weft__mutex_unlock(&l->m);
  if (busy) return -EBUSY;
  weft__magic_dead(l);
  weft__free(l, sizeof *l);
  return 0;
}

/* Hands the lock to the oldest waiter, or frees it. Under m, by its owner. */
static void release_locked(struct weft_lock *l) {
  struct weft__waiter_node *w = weft__wl_pop(&l->waiters);
  if (!w) {
    /* release: the critical section to the next owner. */
    atomic_store_explicit(&l->word, 0, memory_order_release);
    return;
  }
  WEFT__INVARIANT(w->task != NULL); /* lock waits are tasks' (WEFT__WAIT_TASK) */
  uintptr_t next = (uintptr_t)w->task | (weft__list_empty(&l->waiters.waiters) ? 0 : WAITERS);
  /* release: as above; the new owner also syncs through its grant. */
  atomic_store_explicit(&l->word, next, memory_order_release);
  weft__wl_grant(w, NULL, 0);
  WEFT__INVARIANT(lock_ok(l));
}

/* The acquire that found the lock taken (@cur: the word the fast CAS
 * read): -EDEADLK, or under m, taken there or queued. */
static __attribute__((noinline)) int acquire_slow(struct weft_lock *l, struct weft_task *t,
                                                  uintptr_t cur, int64_t timeout_ns,
                                                  enum weft__wait_mode mode) {
  if (owner_of(cur) == t) return -EDEADLK;
  uintptr_t me = (uintptr_t)t;
  weft__mutex_lock(&l->m);
  if (take_or_mark_locked(l, me)) {
    WEFT__INVARIANT(lock_ok(l));
    weft__mutex_unlock(&l->m);
    return 0;
  }
  /* Not us: the fast path saw another owner, and only we take it for us. */
  /* acquire: the owner's taking CAS (acq_rel) published the task we read. */
  struct weft_task *owner = owner_of(atomic_load_explicit(&l->word, memory_order_acquire));
  WEFT__INVARIANT(owner != t);
  struct weft__waiter_node w;
  weft__task_blocked_named(t, WEFT__BLOCK_LOCK, l, (int64_t)owner->id, weft__name_get(&l->name));
  /* Granted: the lock is ours (release_locked named us before granting)
   * and m is not held: nothing is left to do under it. */
  int rc = weft__wl_wait_handoff(&l->m, &l->waiters, &w, mode, weft__deadline(timeout_ns));
  if (!rc) {
    /* relaxed: only the owner, us, changes the owner part now. */
    WEFT__INVARIANT(owner_of(atomic_load_explicit(&l->word, memory_order_relaxed)) == t);
    return 0;
  }
  if (atomic_load_explicit(&w.granted, memory_order_acquire)) release_locked(l);
  else unmark_if_none_locked(l);
  WEFT__INVARIANT(lock_ok(l));
  weft__mutex_unlock(&l->m);
  return rc;
}

/* The uncontended acquire: one CAS (0 -> task). */
static inline bool try_take(struct weft_lock *l, struct weft_task *t, uintptr_t *cur) {
  *cur = 0;
  /* acquire: pairs with the release that freed it; release: names us (head comment). */
  return atomic_compare_exchange_strong_explicit(&l->word, cur, (uintptr_t)t, memory_order_acq_rel,
                                                 memory_order_relaxed);
}

/* Acquire with an explicit wait mode (cond.c re-acquires without
 * cancellation). A leaf until it returns or tail-calls (worker.h,
 * weft__worker_self_leaf): the uncontended acquire without a call frame. */
int weft__lock_acquire_mode(struct weft_lock *l, int64_t timeout_ns, enum weft__wait_mode mode) {
  struct weft_task *t = weft__task_self_leaf();
  if (__builtin_expect(!l, 0)) return -EINVAL;
  if (__builtin_expect(!t, 0)) return -EPERM;
  uintptr_t cur;
  if (try_take(l, t, &cur)) return 0;
  return acquire_slow(l, t, cur, timeout_ns, mode);
}

void weft__lock_enqueue(struct weft_lock *l, struct weft__waiter_node *w) {
  weft__mutex_lock(&l->m);
  if (take_or_mark_locked(l, (uintptr_t)w->task))
    weft__wl_grant(w, NULL, 0);
  else
    weft__wl_enqueue(&l->waiters, w, w->task);
  WEFT__INVARIANT(lock_ok(l));
  weft__mutex_unlock(&l->m);
}

void weft__lock_await(struct weft_lock *l, struct weft__waiter_node *w) {
  weft__mutex_lock(&l->m);
  /* No deadline, no cancellation: returns only once granted. */
  weft__wl_await(&l->m, &l->waiters, w, WEFT__WAIT_NOCANCEL, 0);
  WEFT__INVARIANT(lock_ok(l) && owner_of(atomic_load_explicit(&l->word, memory_order_relaxed)) == w->task);
  weft__mutex_unlock(&l->m);
}

int weft_lock_acquire(weft_lock_t *l, int64_t timeout_ns) {
  return weft__lock_acquire_mode(l, timeout_ns, WEFT__WAIT_TASK);
}

int weft_lock_try_acquire(weft_lock_t *l) {
  if (!l) return -EINVAL;
  struct weft_task *t = weft__task_self();
  if (!t) return -EPERM;
  uintptr_t cur;
  return try_take(l, t, &cur) ? 0 : -EAGAIN;
}

/* The release the fast CAS could not do (waiters, not ours, not a task):
 * under m. */
static __attribute__((noinline)) int release_slow(struct weft_lock *l, struct weft_task *t) {
  weft__mutex_lock(&l->m);
  uintptr_t cur = atomic_load_explicit(&l->word, memory_order_relaxed);
  int rc = !cur ? WEFT_EINVALSTATE : owner_of(cur) != t ? -EPERM : 0;
  if (!rc) release_locked(l);
  weft__mutex_unlock(&l->m);
  return rc;
}

int weft_lock_release(weft_lock_t *l) {
  if (!l) return -EINVAL;
  /* A leaf until it returns or tail-calls (worker.h, weft__worker_self_leaf). */
  struct weft_task *t = weft__task_self_leaf();
  uintptr_t cur = (uintptr_t)t;
  /* relaxed: a look first, so that a release with waiters (WAITERS set:
   * every release in a convoy) skips a CAS bound to fail, a locked
   * instruction. Our own line (we took the lock), or shared by a waiter
   * that set WAITERS. release (the CAS): the critical section to the next
   * owner. It fails if anyone queued meanwhile: then under m. */
  if (t && atomic_load_explicit(&l->word, memory_order_relaxed) == cur &&
      atomic_compare_exchange_strong_explicit(&l->word, &cur, 0, memory_order_release,
                                              memory_order_relaxed))
    return 0;
  return release_slow(l, t);
}

int weft_lock_locked(weft_lock_t *l) {
  if (!l) return 0;
  /* relaxed: a snapshot; it orders nothing. */
  return atomic_load_explicit(&l->word, memory_order_relaxed) != 0;
}

/* For cond.c: does the current task hold @l? */
bool weft__lock_owned(struct weft_lock *l) {
  struct weft_task *t = weft__task_self();
  /* relaxed: only the owner itself can make this true or false. */
  return t && owner_of(atomic_load_explicit(&l->word, memory_order_relaxed)) == t;
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
