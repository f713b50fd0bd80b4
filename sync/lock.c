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
 * Invariants: the word is 0 exactly when the lock is free and nobody
 * waits (free with WAITERS only while the first waiter is marked
 * cancelled, below); WAITERS is set
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
 * One exception, asyncio's rule for a cancelled first waiter: a waiter a
 * one-worker loop's own thread cancelled while it was queued is marked at
 * once (sync/waitlist.h). asyncio's release wakes its first waiter only if
 * that one's future is not cancelled, and leaves the lock free; a
 * newcomer takes a free lock only if every queued waiter is cancelled; a
 * cancelled waiter, when it runs and leaves, wakes the first waiter if the
 * lock is free. So a release that finds a marked first waiter frees the
 * lock with WAITERS still set, a newcomer under m takes it only if every
 * queued waiter is marked, and a marked waiter leaving a free lock hands
 * it to the first waiter (or finds it marked too, and leaves it free).
 *
 * Barging (Go's sync.Mutex rule, not asyncio's): a WEFT_LOCK_BARGING lock
 * always, and the default lock (WEFT_LOCK_AUTO) for a waiter whose task's
 * loop has several workers, where no order is promised; a waiter of a
 * one-worker loop is handed the lock as above. The choice is made per
 * release by the oldest waiter's loop (barges_for), so a lock shared by
 * loops of both kinds serves each waiter by its own loop's rule; the word's
 * bits say which state the lock is in (WOKEN: a barging release's waiter is
 * on its way), never the policy. A release that finds waiters frees the
 * lock and wakes the oldest to *try* (its grant's status TRY_AGAIN, not the
 * lock), setting WOKEN; while WOKEN is set a release is the one fast CAS
 * again (nobody more to wake), and a newcomer takes a free lock with its
 * fast CAS even if tasks wait. So an owner that takes the lock again and
 * again keeps it on its worker instead of a hand-off and a task switch per
 * acquisition (the convoy lock_contended shows with two workers). The
 * woken waiter clears WOKEN as it tries: it takes the lock if free, else
 * goes back to the front of the queue. One that has waited more than
 * weft__lock_starving_ns (1 ms) and loses again sets starving: releases
 * then hand over directly, as the FIFO lock does, until the queue empties.
 *
 * Invariants added by barging (under m, after every change): WOKEN is set
 * exactly while a waiter woken to try has not yet tried (it is never set
 * on a FIFO lock); the word's owner part is 0 while WAITERS is set only if
 * WOKEN is set too (a free lock with waiters has one on its way); starving
 * only while tasks wait. While the lock is free a newcomer's fast CAS may
 * change the word at any moment, so every change made under m then is a
 * CAS; while it is held, only its owner (under m) or the fast CASes that
 * fail change it, as for a FIFO lock.
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
 *
 * One worker (sync/home.h): a lock bound to a one-worker loop is taken and
 * freed by that loop's worker in owner sections, a plain load and store
 * of the word instead of the CAS. The sections do only the uncontended
 * cases (free -> ours, ours -> free with nobody to wake); anything else
 * leaves the section and runs as above. Every other thread settles
 * (home.h) before it changes the word, so the CASes never race a section.
 * Which is cheaper depends on the CPU: on the Zen 3 VM of 2026-12-05
 * 11:20Z a locked instruction cost less than a section (lock_contended
 * 6.0 vs 7.3 ns a pair, so the Lock went without sections for a while);
 * on the Intel Xeon VM of 23:43Z that day a locked instruction costs ~10
 * ns and a section's plain loads and stores less (lock_contended 22.4 ->
 * 5.7 ns a pair; benchmarks/RESULTS.md). A section's worse case is 1.3x a
 * CAS, the CAS's 4x a section. A section that finds the lock held goes
 * to the queue without the CAS bound to fail.
 */
#include "weft.h"
#include "alloc.h"
#include "clock.h"
#include "misuse.h"
#include "task.h"
#include "lock.h"
#include "home.h"
#include "named.h"
#include "waitlist.h"

#include <errno.h>

#define WAITERS ((uintptr_t)1)
#define WOKEN ((uintptr_t)2) /* barging: a waiter woken to try has not tried yet */
#define BITS (WAITERS | WOKEN)
/* A barging waiter's grant status: woken to try, not handed the lock. */
#define TRY_AGAIN 1
/* A barging waiter that has waited this long and loses its try again
 * turns the lock to direct hand-offs (Go's starvation threshold). A
 * variable only for the tests (lock.h), which raise it so that their
 * scripts' "not yet starving" steps do not depend on the worker thread
 * not being descheduled for a millisecond. */
uint64_t weft__lock_starving_ns = 1000000;

struct weft_lock {
  struct weft__mutex m;
  WEFT__MAGIC                     /* debug builds: misuse.h */
  _Atomic(const char *) name;     /* weft_lock_set_name; relaxed (the dump reads it) */
  _Atomic uintptr_t word;         /* owner | WAITERS | WOKEN, 0 when free (above) */
  struct weft__home home;         /* the one-worker loop that may take sections on it */
  uint8_t policy;                 /* enum weft_lock_policy; set at creation */
  bool starving;                  /* barging: hand over directly for now; under m */
  struct weft__waitlist waiters;  /* under m */
};

static inline struct weft_task *owner_of(uintptr_t word) {
  return (struct weft_task *)(word & ~BITS);
}

/* Whether a release barges for @t, the oldest waiter (head comment): a
 * barging lock always; the default lock when @t's loop has several
 * workers (lock_contended with two: a FIFO hand-off per increment is a
 * convoy, 53 ns against barging's 9 and Go's 18; benchmarks/RESULTS.md,
 * 2026-12-05 19:35Z). */
static inline bool barges_for(const struct weft_lock *l, const struct weft_task *t) {
  return l->policy == WEFT_LOCK_BARGING || (l->policy == WEFT_LOCK_AUTO && !t->fut.loop->solo);
}

WEFT__CHECKER bool lock_ok(struct weft_lock *l) {
  uintptr_t word = atomic_load_explicit(&l->word, memory_order_relaxed);
  bool queued = !weft__list_empty(&l->waiters.waiters);
  bool woken = (word & WOKEN) != 0;
  return (owner_of(word) || !queued || woken ||
          (l->policy != WEFT_LOCK_BARGING && weft__wl_head_cancelled(&l->waiters))) &&
         ((word & WAITERS) != 0) == queued &&
         (l->policy != WEFT_LOCK_FIFO || (!woken && !l->starving)) && (!l->starving || queued) &&
         weft__wl_ok(&l->waiters);
}

/* Under m: takes @l for @me if it is free (true), else sets WAITERS (the
 * caller then queues): from then on its word changes only under m. Free:
 * no owner (a FIFO lock's word is then 0; a barging one keeps its bits). */
static bool take_or_mark_locked(struct weft_lock *l, uintptr_t me) {
  uintptr_t cur = atomic_load_explicit(&l->word, memory_order_relaxed);
  for (;;) {
    if (!owner_of(cur)) {
      /* Free with waiters and none woken to try: the first waiter is
       * marked cancelled (head comment); asyncio's newcomer jumps the
       * queue only if every waiter is cancelled. (Free with a waiter
       * woken to try: a barging release's, which anyone may beat.) */
      if ((cur & BITS) == WAITERS && !weft__wl_all_cancelled(&l->waiters)) return false;
      /* acquire: pairs with the release that freed it; release: names us (head comment). */
      if (atomic_compare_exchange_weak_explicit(&l->word, &cur, me | (cur & BITS),
                                                memory_order_acq_rel, memory_order_relaxed))
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
 * queue. A FIFO lock's word changes only under m while WAITERS is set (a
 * plain store would do); a free barging one also by newcomers' CASes. A
 * timeout's path: the read-modify-write costs nothing that matters. */
static void unmark_if_none_locked(struct weft_lock *l) {
  if (!weft__list_empty(&l->waiters.waiters)) return;
  l->starving = false;
  /* relaxed: WAITERS orders nothing by itself (head comment). */
  if (atomic_load_explicit(&l->word, memory_order_relaxed) & WAITERS)
    atomic_fetch_and_explicit(&l->word, ~WAITERS, memory_order_relaxed);
}

int weft_lock_create_policy(weft_lock_t **out, enum weft_lock_policy policy) {
  if (!out || (policy != WEFT_LOCK_FIFO && policy != WEFT_LOCK_BARGING && policy != WEFT_LOCK_AUTO))
    return -EINVAL;
  struct weft_lock *l = weft__alloc(sizeof *l);
  if (!l) return -ENOMEM;
  weft__magic_live(l);
  atomic_init(&l->name, NULL);
  weft__mutex_init(&l->m);
  atomic_init(&l->word, 0);
  weft__home_init(&l->home);
  l->policy = (uint8_t)policy;
  l->starving = false;
  weft__wl_init(&l->waiters);
  *out = l;
  return 0;
}

int weft_lock_create(weft_lock_t **out) { return weft_lock_create_policy(out, WEFT_LOCK_AUTO); }

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

/* Hands the lock to the oldest waiter, or frees it; for a waiter it
 * barges for (barges_for), unless starving, frees it and wakes that waiter
 * to try, unless one is already on its way. Under m, by its owner: nobody
 * else changes the word meanwhile (head comment), so plain stores. */
static void release_locked(struct weft_lock *l) {
  struct weft__waiter_node *w = weft__wl_first(&l->waiters);
  if (l->policy != WEFT_LOCK_FIFO && !l->starving) {
    uintptr_t cur = atomic_load_explicit(&l->word, memory_order_relaxed);
    if ((cur & (WAITERS | WOKEN)) != WAITERS) {
      /* release: the critical section to the next owner. */
      atomic_store_explicit(&l->word, cur & BITS, memory_order_release);
      return;
    }
    if (w && barges_for(l, w->task)) {
      weft__wl_unqueue_first(&l->waiters, w);
      uintptr_t next = WOKEN | (weft__list_empty(&l->waiters.waiters) ? 0 : WAITERS);
      /* release: as above, to a barger or to the woken waiter. */
      atomic_store_explicit(&l->word, next, memory_order_release);
      weft__wl_grant(w, NULL, TRY_AGAIN);
      WEFT__INVARIANT(lock_ok(l));
      return;
    }
  }
  if (!w || weft__wl_marked(w)) {
    /* Nobody waits: free (and no longer starving: a waiter that gave up
     * may have been the last). A marked first waiter (head comment):
     * asyncio wakes nobody, so free, WAITERS kept. release: the critical
     * section to the next owner. */
    if (!w) l->starving = false;
    atomic_store_explicit(&l->word, w ? WAITERS : 0, memory_order_release);
    return;
  }
  weft__wl_unqueue_first(&l->waiters, w);
  WEFT__INVARIANT(w->task != NULL); /* lock waits are tasks' (WEFT__WAIT_TASK) */
  bool more = !weft__list_empty(&l->waiters.waiters);
  if (!more && l->starving) l->starving = false;
  uintptr_t next = (uintptr_t)w->task | (more ? WAITERS : 0);
  /* release: as above; the new owner also syncs through its grant. */
  atomic_store_explicit(&l->word, next, memory_order_release);
  weft__wl_grant(w, NULL, 0);
  WEFT__INVARIANT(lock_ok(l));
}

/* Barging, under m: the try of a waiter woken to try (WOKEN is its own).
 * Takes the lock if it is free (true: WOKEN cleared with it); else clears
 * WOKEN, setting WAITERS if @requeue (the caller then queues again, under
 * m still): the owner's release then takes m and wakes the next. */
static bool try_after_wake_locked(struct weft_lock *l, uintptr_t me, bool requeue) {
  uintptr_t cur = atomic_load_explicit(&l->word, memory_order_relaxed);
  for (;;) {
    WEFT__INVARIANT(cur & WOKEN);
    if (!owner_of(cur)) {
      /* acq_rel: as the fast CAS (try_take). */
      if (atomic_compare_exchange_weak_explicit(&l->word, &cur, me | (cur & WAITERS),
                                                memory_order_acq_rel, memory_order_relaxed))
        return true;
    } else if (atomic_compare_exchange_weak_explicit(&l->word, &cur,
                                                     (cur & ~WOKEN) | (requeue ? WAITERS : 0),
                                                     memory_order_relaxed, memory_order_relaxed)) {
      return false; /* relaxed: the owner's release reads it under m, which we hold */
    }
  }
}

/* Barging, under m: a woken waiter's try that requeues it if lost
 * (try_after_wake_locked); a loss after waiting since @since for over
 * weft__lock_starving_ns turns the lock to hand-offs. True: the lock is
 * taken. */
static bool retry_locked(struct weft_lock *l, uintptr_t me, uint64_t since) {
  if (try_after_wake_locked(l, me, true)) return true;
  if (weft__clock_ns() - since > weft__lock_starving_ns) l->starving = true;
  return false;
}

/* A barging waiter woken to try, without m: takes the lock if it is free
 * (one CAS; WOKEN cleared with it). */
static inline bool try_after_wake(struct weft_lock *l, uintptr_t me) {
  uintptr_t cur = atomic_load_explicit(&l->word, memory_order_relaxed);
  /* acq_rel: as the fast CAS (try_take). */
  return !owner_of(cur) &&
         atomic_compare_exchange_strong_explicit(&l->word, &cur, me | (cur & WAITERS),
                                                 memory_order_acq_rel, memory_order_relaxed);
}

/* The acquire that found the lock taken (@cur: the word the fast CAS
 * read): -EDEADLK, or under m, taken there or queued. */
static __attribute__((noinline)) int acquire_slow(struct weft_lock *l, struct weft_task *t,
                                                  uintptr_t cur, int64_t timeout_ns,
                                                  enum weft__wait_mode mode) {
  if (owner_of(cur) == t) return -EDEADLK;
  int rc;
  if (weft__wl_cancelled_first(t, mode, &rc)) return rc; /* held: queue nothing (waitlist.h) */
  uintptr_t me = (uintptr_t)t;
  weft__mutex_lock(&l->m);
  if (take_or_mark_locked(l, me)) {
    WEFT__INVARIANT(lock_ok(l));
    weft__mutex_unlock(&l->m);
    return 0;
  }
  /* Not us: the fast path saw another owner, and only we take it for us.
   * acquire: the owner's taking CAS (acq_rel) published the task we read.
   * It cannot end meanwhile: with WAITERS set and WOKEN clear its release
   * takes m, which we hold. With WOKEN set (barging) it may release with
   * its fast CAS and end at any moment: its id is not read (0: unknown). */
  uintptr_t seen = atomic_load_explicit(&l->word, memory_order_acquire);
  struct weft_task *owner = seen & WOKEN ? NULL : owner_of(seen);
  WEFT__INVARIANT(owner != t);
  struct weft__waiter_node w;
  weft__task_blocked_named(t, WEFT__BLOCK_LOCK, l, owner ? (int64_t)owner->id : 0,
                           weft__name_get(&l->name));
  uint64_t deadline = weft__deadline(timeout_ns);
  uint64_t since = barges_for(l, t) ? weft__clock_ns() : 0;
  /* Granted: the lock is ours (release_locked named us before granting),
   * or, barging, ours to try; m is not held. */
  rc = weft__wl_wait_handoff(&l->m, &l->waiters, &w, mode, deadline);
  while (!rc && w.status == TRY_AGAIN) {
    if (try_after_wake(l, me)) return 0;
    weft__mutex_lock(&l->m);
    if (retry_locked(l, me, since)) {
      WEFT__INVARIANT(lock_ok(l));
      weft__mutex_unlock(&l->m);
      return 0;
    }
    rc = weft__wl_wait_handoff_first(&l->m, &l->waiters, &w, mode, deadline);
  }
  if (!rc) {
    /* relaxed: only the owner, us, changes the owner part now. */
    WEFT__INVARIANT(owner_of(atomic_load_explicit(&l->word, memory_order_relaxed)) == t);
    return 0;
  }
  /* A grant that came as we gave up is passed on: the lock to the next
   * waiter, or a try (taken and released again, which wakes the next). */
  if (weft__wl_granted(&w)) {
    if (w.status != TRY_AGAIN || try_after_wake_locked(l, me, false)) release_locked(l);
  } else if (atomic_load_explicit(&l->word, memory_order_relaxed) == WAITERS) {
    /* Left a lock free with waiters and none woken to try (head comment:
     * a marked first waiter): to the first waiter, if live. */
    release_locked(l);
  } else {
    unmark_if_none_locked(l);
  }
  WEFT__INVARIANT(lock_ok(l));
  weft__mutex_unlock(&l->m);
  return rc;
}

/* The uncontended acquire: one CAS (0 -> task). A lock freed by a barging
 * release (free, WOKEN set: a waiter on its way to try) is taken by a
 * second CAS, bits kept. */
static inline bool try_take(struct weft_lock *l, struct weft_task *t, uintptr_t *cur) {
  *cur = 0;
  /* acquire: pairs with the release that freed it; release: names us (head comment). */
  if (atomic_compare_exchange_strong_explicit(&l->word, cur, (uintptr_t)t, memory_order_acq_rel,
                                              memory_order_relaxed))
    return true;
  return (*cur & WOKEN) && !owner_of(*cur) &&
         atomic_compare_exchange_strong_explicit(&l->word, cur, (uintptr_t)t | (*cur & BITS),
                                                 memory_order_acq_rel, memory_order_relaxed);
}

/* In an owner section (home.h: SECTION): takes the lock if it is free
 * (true); false: the caller gives the section up, the word it saw in
 * @seen. relaxed: only this thread changes the word while sections are on. */
static inline bool take_plain(struct weft_lock *l, struct weft_task *t, uintptr_t *seen) {
  *seen = atomic_load_explicit(&l->word, memory_order_relaxed);
  if (*seen != 0) return false;
  atomic_store_explicit(&l->word, (uintptr_t)t, memory_order_relaxed);
  return true;
}

/* weft__home_enter, and in a section the take: SECTION when the lock was
 * taken there (the caller leaves: weft__home_leave_ret), else what the
 * atomic path needs first (ABANDON: held, or free with its bits set; the
 * word the section saw in @seen, else 0). */
static inline enum weft__home_role enter_and_take(struct weft_lock *l, struct weft_task *t,
                                                  struct weft__worker *w, uintptr_t *seen) {
  *seen = 0;
  enum weft__home_role role = weft__home_enter(&l->home, w);
  if (role == WEFT__HOME_SECTION && !take_plain(l, t, seen)) role = WEFT__HOME_ABANDON;
  return role;
}

/* The acquire after weft__home_enter said @role, not ATOMIC and no
 * section taken: settles or ends the section (home.h), then atomically.
 * A section that saw the lock held (@seen) goes to the queue without the
 * CAS bound to fail (a hand-off's acquire: one locked instruction less);
 * acquire_slow looks again under m. */
static __attribute__((noinline)) int acquire_prepared(struct weft_lock *l, struct weft_task *t,
                                                      struct weft__worker *w,
                                                      enum weft__home_role role, uintptr_t seen,
                                                      int64_t timeout_ns,
                                                      enum weft__wait_mode mode) {
  weft__home_prepare(&l->home, w, role);
  if (owner_of(seen)) return acquire_slow(l, t, seen, timeout_ns, mode);
  uintptr_t cur;
  if (try_take(l, t, &cur)) return 0;
  return acquire_slow(l, t, cur, timeout_ns, mode);
}

/* Acquire with an explicit wait mode (cond.c re-acquires without
 * cancellation). A leaf until it returns or tail-calls (worker.h,
 * weft__worker_self_leaf): the uncontended acquire without a call frame,
 * in an owner section on the lock's home worker (home.h), else one CAS. */
int weft__lock_acquire_mode(struct weft_lock *l, int64_t timeout_ns, enum weft__wait_mode mode) {
  struct weft__worker *w = weft__worker_self_leaf();
  struct weft_task *t = w ? weft__worker_current(w) : NULL;
  if (__builtin_expect(!l, 0)) return -EINVAL;
  if (__builtin_expect(!t, 0)) return -EPERM;
  uintptr_t seen;
  enum weft__home_role role = enter_and_take(l, t, w, &seen);
  if (role == WEFT__HOME_SECTION) return weft__home_leave_ret(w, 0);
  if (__builtin_expect(role != WEFT__HOME_ATOMIC, 0))
    return acquire_prepared(l, t, w, role, seen, timeout_ns, mode);
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
  uint64_t since = barges_for(l, w->task) ? weft__clock_ns() : 0;
  weft__mutex_lock(&l->m);
  /* No deadline, no cancellation: returns only once granted (barging:
   * granted a try it won; a lost one queues it first again). */
  for (;;) {
    weft__wl_await(&l->m, &l->waiters, w, WEFT__WAIT_NOCANCEL, 0);
    if (w->status != TRY_AGAIN || retry_locked(l, (uintptr_t)w->task, since)) break;
    weft__wl_enqueue_first(&l->waiters, w, w->task);
  }
  WEFT__INVARIANT(lock_ok(l) && owner_of(atomic_load_explicit(&l->word, memory_order_relaxed)) == w->task);
  weft__mutex_unlock(&l->m);
}

int weft_lock_acquire(weft_lock_t *l, int64_t timeout_ns) {
  return weft__lock_acquire_mode(l, timeout_ns, WEFT__WAIT_TASK);
}

int weft_lock_try_acquire(weft_lock_t *l) {
  if (!l) return -EINVAL;
  struct weft__worker *w = weft__worker_self_leaf();
  struct weft_task *t = w ? weft__worker_current(w) : NULL;
  if (!t) return -EPERM;
  uintptr_t seen;
  enum weft__home_role role = enter_and_take(l, t, w, &seen);
  if (role == WEFT__HOME_SECTION) return weft__home_leave_ret(w, 0);
  if (role != WEFT__HOME_ATOMIC) weft__home_prepare(&l->home, w, role);
  if (owner_of(seen)) return -EAGAIN; /* held when the section looked */
  uintptr_t cur;
  if (try_take(l, t, &cur)) return 0;
  if (cur != WAITERS) return -EAGAIN;
  /* Free with waiters (head comment: a marked first waiter): taken, as
   * acquire would, only if every waiter is cancelled. */
  weft__mutex_lock(&l->m);
  cur = WAITERS;
  bool taken = weft__wl_all_cancelled(&l->waiters) &&
               /* acq_rel: as take_or_mark_locked's CAS. */
               atomic_compare_exchange_strong_explicit(&l->word, &cur, (uintptr_t)t | WAITERS,
                                                       memory_order_acq_rel, memory_order_relaxed);
  WEFT__INVARIANT(lock_ok(l));
  weft__mutex_unlock(&l->m);
  return taken ? 0 : -EAGAIN;
}

/* The release the fast CAS could not do (waiters, not ours, not a task):
 * under m. */
static __attribute__((noinline)) int release_slow(struct weft_lock *l, struct weft_task *t) {
  weft__mutex_lock(&l->m);
  uintptr_t cur = atomic_load_explicit(&l->word, memory_order_relaxed);
  int rc = !owner_of(cur) ? WEFT_EINVALSTATE : owner_of(cur) != t ? -EPERM : 0;
  if (!rc) release_locked(l);
  weft__mutex_unlock(&l->m);
  return rc;
}

/* The release on the atomic path: one CAS when nobody waits. */
static inline int release_atomic(struct weft_lock *l, struct weft_task *t) {
  /* relaxed: a look first, so that a release with waiters (WAITERS set:
   * every release in a convoy) skips a CAS bound to fail, a locked
   * instruction. Our own line (we took the lock), or shared by a waiter
   * that set WAITERS. release (the CAS): the critical section to the next
   * owner. It fails if anyone queued meanwhile: then under m. A barging
   * lock whose woken waiter is on its way (WOKEN) has nobody to wake: the
   * CAS frees it, bits kept. */
  uintptr_t cur = atomic_load_explicit(&l->word, memory_order_relaxed);
  if (owner_of(cur) == t && (cur & (WAITERS | WOKEN)) != WAITERS &&
      atomic_compare_exchange_strong_explicit(&l->word, &cur, cur & BITS, memory_order_release,
                                              memory_order_relaxed))
    return 0;
  return release_slow(l, t);
}

/* The release after weft__home_enter said @role, not ATOMIC and no
 * section taken: settles or ends the section (home.h), then atomically. */
static __attribute__((noinline)) int release_prepared(struct weft_lock *l, struct weft_task *t,
                                                      struct weft__worker *w,
                                                      enum weft__home_role role) {
  weft__home_prepare(&l->home, w, role);
  return release_atomic(l, t);
}

int weft_lock_release(weft_lock_t *l) {
  if (!l) return -EINVAL;
  /* A leaf until it returns or tail-calls (worker.h, weft__worker_self_leaf). */
  struct weft__worker *w = weft__worker_self_leaf();
  struct weft_task *t = w ? weft__worker_current(w) : NULL;
  /* A thread that is no task changes nothing (release_slow refuses it);
   * a task settles before it changes the word (home.h). */
  if (__builtin_expect(!t, 0)) return release_slow(l, t);
  enum weft__home_role role = weft__home_enter(&l->home, w);
  if (role == WEFT__HOME_SECTION) {
    /* relaxed: only this thread changes the word while sections are on. */
    uintptr_t cur = atomic_load_explicit(&l->word, memory_order_relaxed);
    if (owner_of(cur) == t && (cur & (WAITERS | WOKEN)) != WAITERS) {
      atomic_store_explicit(&l->word, cur & BITS, memory_order_relaxed);
      return weft__home_leave_ret(w, 0);
    }
    role = WEFT__HOME_ABANDON; /* waiters to wake, or not ours: under m */
  }
  if (__builtin_expect(role != WEFT__HOME_ATOMIC, 0)) return release_prepared(l, t, w, role);
  return release_atomic(l, t);
}

struct weft__home *weft__lock_home(struct weft_lock *l) { return &l->home; }

int weft_lock_locked(weft_lock_t *l) {
  if (!l) return 0;
  /* relaxed: a snapshot; it orders nothing. */
  return owner_of(atomic_load_explicit(&l->word, memory_order_relaxed)) != NULL;
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
