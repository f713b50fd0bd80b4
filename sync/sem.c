/*
 * sem.c - Semaphore and BoundedSemaphore: FIFO, permits handed over directly.
 *
 * The word: the free permits (value) shifted left by one, with bit 0
 * (WAITERS) set while tasks wait. Taking a permit nobody waits for is one
 * CAS (value - 1), and giving one back while nobody waits one CAS (value +
 * 1), without the mutex: the Lock's design (lock.c). Everything else runs
 * under m: queueing, hand-off, leaving the queue (a waiter granted a permit
 * leaves without m: weft__wl_wait_handoff). Before: a mutex pass for
 * each, 4 locked instructions a pair instead of 2 (benchmarks/RESULTS.md,
 * semaphore_uncontended).
 *
 * asyncio's rule (3.13): acquire() queues while any waiter whose future
 * is not cancelled is still in the queue, a granted one that has not run
 * yet included; that waiter, when it runs, hands on whatever permits were
 * given back meanwhile (`while value > 0: _wake_up_next()`); a release
 * wakes the oldest waiter not cancelled. weft keeps it exactly for waiters
 * of one-worker loops in FIFO order (asyncio's order): such a waiter,
 * granted, is counted in granted_unrun until it runs. A waiter of any
 * other loop leaves the count at its grant (a newcomer may then take a
 * permit given back before that waiter runs: it has its own already).
 *
 * Invariants (under m, after every change): WAITERS is set exactly when
 * the waitlist is not empty or granted_unrun > 0; waiters are queued while
 * value > 0 only behind a granted waiter that has not run (granted_unrun >
 * 0); while WAITERS is set the word changes only under m (the fast paths
 * expect it clear, so they take m instead). A release with waiters hands
 * its permit to the oldest (value unchanged), so a newcomer cannot
 * overtake them. A waiter granted a permit and cancelled at the same
 * moment releases it again (to the next waiter). Bounded: value never
 * exceeds initial; a release that would is refused with -EOVERFLOW. Any
 * semaphore: value at most WEFT__SEM_MAX (the word's room), the same
 * refusal past it. sem_ok() checks these under m after every change.
 *
 * Orderings: taking a permit is an acquire and giving one back a release
 * (the CASes; m's own ordering under m), so what a holder wrote before
 * its release happens-before what the next taker reads after its acquire,
 * as with a lock (a semaphore of 1 is one). Setting and clearing WAITERS
 * happens under m, which orders it.
 *
 * One worker (home.h): a semaphore bound to a one-worker loop has its
 * uncontended acquire and release done by that loop's worker in owner
 * sections, a plain load and store instead of the CAS, as the Lock's
 * (lock.c). Every other thread, a foreign one releasing included, settles
 * (home.h) before it changes the word.
 */
#include "weft.h"
#include "alloc.h"
#include "invariant.h"
#include "misuse.h"
#include "task.h"
#include "home.h"
#include "named.h"
#include "waitlist.h"

#include <errno.h>

#define WAITERS ((uint64_t)1)
#define ONE ((uint64_t)2) /* one permit in the word */
#define WEFT__SEM_MAX (INT64_MAX >> 1)

struct weft_sem {
  struct weft__mutex m;
  WEFT__MAGIC                     /* debug builds: misuse.h */
  _Atomic(const char *) name;     /* weft_sem_set_name; relaxed (the dump reads it) */
  _Atomic uint64_t word;          /* value << 1 | WAITERS (above) */
  struct weft__home home;         /* the one-worker loop that may take sections on it */
  int64_t initial;                /* immutable */
  bool bounded;                   /* immutable */
  uint32_t granted_unrun;         /* waiters granted, not yet run (head comment); under m */
  struct weft__waitlist waiters;  /* under m */
};

static inline int64_t value_of(uint64_t word) { return (int64_t)(word >> 1); }

WEFT__CHECKER bool sem_ok(struct weft_sem *s) {
  uint64_t word = atomic_load_explicit(&s->word, memory_order_relaxed);
  bool queued = !weft__list_empty(&s->waiters.waiters);
  return ((word & WAITERS) != 0) == (queued || s->granted_unrun > 0) &&
         (!queued || value_of(word) == 0 || s->granted_unrun > 0) &&
         (!s->bounded || value_of(word) <= s->initial) && weft__wl_ok(&s->waiters);
}

/* Whether a waiter of @t's loop counts in granted_unrun until it runs
 * (head comment): a one-worker loop in FIFO order. */
static inline bool counts_until_run(const struct weft_task *t) {
  return weft__loop_asyncio_order(t->fut.loop);
}

int weft_sem_create(int64_t value, int bounded, weft_sem_t **out) {
  if (!out || value < 0 || value > WEFT__SEM_MAX) return -EINVAL;
  struct weft_sem *s = weft__alloc(sizeof *s);
  if (!s) return -ENOMEM;
  weft__magic_live(s);
  atomic_init(&s->name, NULL);
  weft__mutex_init(&s->m);
  atomic_init(&s->word, (uint64_t)value << 1);
  weft__home_init(&s->home);
  s->initial = value;
  s->bounded = bounded != 0;
  s->granted_unrun = 0;
  weft__wl_init(&s->waiters);
  *out = s;
  return 0;
}

int weft_sem_destroy(weft_sem_t *s) {
  if (!s) return -EINVAL;
  weft__magic_check(s, "double destroy", "sem");
  weft__mutex_lock(&s->m);
  bool busy = s->waiters.count != 0 || s->granted_unrun != 0;
  weft__mutex_unlock(&s->m);
  if (busy) return -EBUSY;
  weft__magic_dead(s);
  weft__free(s, sizeof *s);
  return 0;
}

/* The fast acquire: a permit if one is free and nobody waits (one CAS). */
static inline bool try_take(struct weft_sem *s) {
  /* relaxed: a guess the CAS checks. */
  uint64_t cur = atomic_load_explicit(&s->word, memory_order_relaxed);
  while (!(cur & WAITERS) && cur >= ONE) {
    /* acquire: pairs with the release that gave the permit back. */
    if (atomic_compare_exchange_weak_explicit(&s->word, &cur, cur - ONE, memory_order_acquire,
                                              memory_order_relaxed))
      return true;
  }
  return false;
}

/* Whether one more permit would pass the bound (or the word's room). */
static inline bool full(const struct weft_sem *s, uint64_t word) {
  return value_of(word) >= (s->bounded ? s->initial : WEFT__SEM_MAX);
}

/* The fast release: 1 if the permit went back to the pool (one CAS), 0 if
 * somebody waits (the caller takes m), -EOVERFLOW if full. */
static inline int try_give(struct weft_sem *s) {
  uint64_t cur = atomic_load_explicit(&s->word, memory_order_relaxed); /* checked by the CAS */
  for (;;) {
    if (cur & WAITERS) return 0;
    if (full(s, cur)) return -EOVERFLOW;
    /* release: the holder's writes to the next taker. */
    if (atomic_compare_exchange_weak_explicit(&s->word, &cur, cur + ONE, memory_order_release,
                                              memory_order_relaxed))
      return 1;
  }
}

/* Under m, WAITERS set: the free permits go to the queued waiters, the
 * oldest not cancelled first, while both last (asyncio's `while value > 0:
 * _wake_up_next()`); then the word says what is left, WAITERS cleared if
 * nobody is queued or granted and not yet run. With WAITERS set only m
 * changes the word: plain stores keep it exact. */
static void hand_out_locked(struct weft_sem *s) {
  int64_t value = value_of(atomic_load_explicit(&s->word, memory_order_relaxed));
  struct weft__waiter_node *w;
  while (value > 0 && (w = weft__wl_pop(&s->waiters))) {
    struct weft_task *t = w->task; /* before the grant: the node may go with it */
    value--;
    if (counts_until_run(t)) s->granted_unrun++;
    weft__wl_grant(w, NULL, 0);
  }
  bool waiting = !weft__list_empty(&s->waiters.waiters) || s->granted_unrun > 0;
  /* release: a permit left in the pool passes the releaser's writes to
   * the fast path's acquire CAS that takes it once WAITERS is clear (a
   * granted one passes them through its grant). */
  atomic_store_explicit(&s->word, (uint64_t)value << 1 | (waiting ? WAITERS : 0), memory_order_release);
}

/* Gives a permit back: to the oldest waiter, or to the pool. Under m. */
static int release_locked(struct weft_sem *s) {
  uint64_t cur = atomic_load_explicit(&s->word, memory_order_relaxed);
  if (cur & WAITERS) {
    if (full(s, cur)) return -EOVERFLOW;
    atomic_store_explicit(&s->word, cur + ONE, memory_order_relaxed); /* only m changes it; */
    hand_out_locked(s);                                                 /* its store releases */
    return 0;
  }
  int rc = try_give(s); /* nobody waits: WAITERS is clear, the fast paths race us */
  return rc < 0 ? rc : 0;
}

/* The acquire that found no permit it could take: under m, takes one or
 * queues (setting WAITERS first, so the fast paths stop). */
static __attribute__((noinline)) int acquire_slow(struct weft_sem *s, int64_t timeout_ns) {
  int rc = 0;
  /* No permit: a pending cancellation ends it after a pass (waitlist.h). */
  if (weft__wl_cancelled_first(weft__task_self(), WEFT__WAIT_TASK, &rc)) return rc;
  weft__mutex_lock(&s->m);
  for (;;) {
    if (try_take(s)) goto out;
    /* No permit, or WAITERS already set (changed only under m): mark the
     * word if it is bare 0, then queue; if a release slipped a permit in
     * meanwhile, take that instead. relaxed: m orders it. */
    uint64_t cur = 0;
    if (atomic_compare_exchange_strong_explicit(&s->word, &cur, WAITERS, memory_order_relaxed,
                                                memory_order_relaxed) ||
        (cur & WAITERS))
      break;
  }
  struct weft_task *self = weft__task_self();
  struct weft__waiter_node w;
  weft__task_blocked_named(self, WEFT__BLOCK_SEM, s, 0, weft__name_get(&s->name));
  /* Granted: the permit is ours (release_locked handed it over, the word
   * already says so) and m is not held. */
  rc = weft__wl_wait_handoff(&s->m, &s->waiters, &w, WEFT__WAIT_TASK, weft__deadline(timeout_ns));
  if (!rc) {
    if (!counts_until_run(self)) return 0;
    /* Counted until now (head comment): what came back meanwhile goes on. */
    weft__mutex_lock(&s->m);
    s->granted_unrun--;
    hand_out_locked(s);
    goto out;
  }
  if (weft__wl_granted(&w)) {
    /* Granted and cancelled (or timed out) at once: pass it on. */
    if (counts_until_run(self)) s->granted_unrun--;
    release_locked(s);
  } else if (atomic_load_explicit(&s->word, memory_order_relaxed) & WAITERS) {
    hand_out_locked(s); /* asyncio's finally: the permits free go on; WAITERS follows */
  }
out:
  WEFT__INVARIANT(sem_ok(s));
  weft__mutex_unlock(&s->m);
  return rc;
}

/* In an owner section (home.h: SECTION): takes a permit if one is free
 * and nobody waits. relaxed: only this thread changes the word while
 * sections are on. */
static inline bool take_plain(struct weft_sem *s) {
  uint64_t cur = atomic_load_explicit(&s->word, memory_order_relaxed);
  if ((cur & WAITERS) || cur < ONE) return false;
  atomic_store_explicit(&s->word, cur - ONE, memory_order_relaxed);
  return true;
}

/* The acquire after weft__home_enter said @role, not ATOMIC and no
 * section taken: settles or ends the section (home.h), then atomically. */
static __attribute__((noinline)) int acquire_prepared(struct weft_sem *s, struct weft__worker *w,
                                                      enum weft__home_role role, int64_t timeout_ns) {
  weft__home_prepare(&s->home, w, role);
  if (try_take(s)) return 0;
  return acquire_slow(s, timeout_ns);
}

int weft_sem_acquire(weft_sem_t *s, int64_t timeout_ns) {
  if (!s) return -EINVAL;
  /* weft__wl_can_wait(WEFT__WAIT_TASK), as a leaf until it returns or
   * tail-calls (worker.h, weft__worker_self_leaf). */
  struct weft__worker *w = weft__worker_self_leaf();
  if (__builtin_expect(!w || !weft__worker_current(w), 0)) return -EPERM;
  enum weft__home_role role = weft__home_enter(&s->home, w);
  if (role == WEFT__HOME_SECTION) {
    if (take_plain(s)) return weft__home_leave_ret(w, 0);
    role = WEFT__HOME_ABANDON;
  }
  if (__builtin_expect(role != WEFT__HOME_ATOMIC, 0)) return acquire_prepared(s, w, role, timeout_ns);
  if (try_take(s)) return 0;
  return acquire_slow(s, timeout_ns);
}

int weft_sem_try_acquire(weft_sem_t *s) {
  if (!s) return -EINVAL;
  struct weft__worker *w = weft__worker_self_leaf();
  enum weft__home_role role = weft__home_enter(&s->home, w);
  if (role == WEFT__HOME_SECTION) return weft__home_leave_ret(w, take_plain(s) ? 0 : -EAGAIN);
  weft__home_prepare(&s->home, w, role);
  return try_take(s) ? 0 : -EAGAIN;
}

/* The release that found waiters: under m. */
static __attribute__((noinline)) int release_slow(struct weft_sem *s) {
  weft__mutex_lock(&s->m);
  int rc = release_locked(s);
  WEFT__INVARIANT(sem_ok(s));
  weft__mutex_unlock(&s->m);
  return rc;
}

/* The release on the atomic path. */
static inline int release_atomic(struct weft_sem *s) {
  int rc = try_give(s);
  if (rc) return rc < 0 ? rc : 0;
  return release_slow(s);
}

/* The release after weft__home_enter said @role, not ATOMIC and no
 * section taken: settles or ends the section (home.h), then atomically. */
static __attribute__((noinline)) int release_prepared(struct weft_sem *s, struct weft__worker *w,
                                                      enum weft__home_role role) {
  weft__home_prepare(&s->home, w, role);
  return release_atomic(s);
}

int weft_sem_release(weft_sem_t *s) {
  if (!s) return -EINVAL;
  struct weft__worker *w = weft__worker_self_leaf();
  enum weft__home_role role = weft__home_enter(&s->home, w);
  if (role == WEFT__HOME_SECTION) {
    /* relaxed: only this thread changes the word while sections are on. */
    uint64_t cur = atomic_load_explicit(&s->word, memory_order_relaxed);
    if (!(cur & WAITERS)) {
      if (full(s, cur)) return weft__home_leave_ret(w, -EOVERFLOW);
      atomic_store_explicit(&s->word, cur + ONE, memory_order_relaxed);
      return weft__home_leave_ret(w, 0);
    }
    role = WEFT__HOME_ABANDON; /* somebody waits: the hand-over, under m */
  }
  if (__builtin_expect(role != WEFT__HOME_ATOMIC, 0)) return release_prepared(s, w, role);
  return release_atomic(s);
}

int weft_sem_locked(weft_sem_t *s) {
  if (!s) return 0;
  /* relaxed: a snapshot. As asyncio's: no permit, or waiters a newcomer
   * queues behind (WAITERS). */
  uint64_t word = atomic_load_explicit(&s->word, memory_order_relaxed);
  return value_of(word) == 0 || (word & WAITERS) != 0;
}

struct weft__home *weft__sem_home(struct weft_sem *s) { return &s->home; }

int64_t weft_sem_value(weft_sem_t *s) {
  if (!s) return 0;
  /* relaxed: a snapshot. */
  return value_of(atomic_load_explicit(&s->word, memory_order_relaxed));
}

int weft_sem_set_name(weft_sem_t *s, const char *name) {
  return s ? weft__name_set(&s->name, name) : -EINVAL;
}

const char *weft_sem_name(weft_sem_t *s) {
  return s ? weft__name_get(&s->name) : NULL;
}
