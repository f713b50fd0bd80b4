/*
 * home.h - a primitive's home: the one-worker loop whose worker may change
 * the primitive's word in owner sections (runtime/owner.h), without a
 * locked instruction.
 *
 * A Lock's and a Semaphore's uncontended acquire and release are one
 * compare-and-swap each (lock.c, sem.c), and a ring Queue's put and get
 * two locked instructions each (queue.c, mpmc_ring.h): with one worker,
 * locked instructions on state that nobody else could have touched.
 * So a primitive is bound to the owner record of the one-worker loop
 * whose task first changes it (`rec`: NULL until then), and from then on
 * that loop's worker does its fast paths in an owner section: plain loads
 * and stores of the word, the section's two plain stores and two loads
 * around them. Every other thread (another loop's worker, a foreign or
 * executor thread) that is about to change the word first *unbinds* the
 * primitive, for good (`rec` = SHARED), and settles: unless the record
 * reads OFF it revokes its sections (owner.h) and so waits out one in
 * progress. Then it uses the atomic operations, as every thread does from
 * then on. Any other thread that finds a primitive unbound marks it SHARED
 * before its first change (a CAS from NULL, as a binding is): else a
 * binding could come between its look and its atomic operation, and the
 * worker's plain one would race it.
 *
 * Unlike a future's lock word (taken first, settled after: futlock.h),
 * the word here is the primitive's state itself, so settling comes first:
 *
 *   unbinder:  rec = UNBINDING(rec) (CAS, seq_cst); fence; load on
 *              (acquire); unless OFF: revoke (membarrier, wait for
 *              `in` = 0); then rec = SHARED (release).
 *   worker:    run begins, or a pass re-arms after a revocation:
 *              on = ON (seq_cst); fence (owner.c).
 *              each op: load rec; if its own: in = 1, load on (owner.h).
 *
 * SHARED is stored only once the old home's sections are over, and read
 * with acquire, so a thread that finds it follows their writes. A thread
 * that finds UNBINDING (another is settling) waits out the old home's
 * section itself (weft__owner_revoke: serialized, and a no-op once done)
 * before its atomic operation. Before UNBINDING existed, a third thread
 * that found SHARED went atomic while the unbinder still waited for the
 * worker's section: its CAS and the section's plain store of the same
 * ring end could both take one slot (tests/sync/test_home.c, the queue
 * race, found by TSan).
 *
 * An unbinder that finds `on` OFF (no run, the run ended, or sections
 * revoked and not armed again yet: the release that stored OFF makes the
 * sections' writes visible) is seen by every later load of
 * `rec` on the worker: the two fences make it store-buffering, which
 * cannot have both loads miss. One that finds it ON or REVOKING revokes:
 * a section already entered is waited out, and none begins after.
 *
 * Invariants: `rec` goes NULL -> a record (CAS, by that record's worker)
 * -> SHARED (by anyone else), never back. Only a primitive's home worker
 * changes its word in a section, and only for the fast cases (no waiter,
 * nothing that takes the primitive's mutex or suspends): anything else
 * leaves the section first and takes the atomic path. A record outlives
 * its loop (owner.h, invariant 5), so a stale `rec` is safe to settle.
 * Read-only snapshots (weft_lock_locked, weft_sem_value,
 * weft_queue_qsize) need nothing: the word is atomic, and a snapshot may
 * be stale anyway.
 */
#ifndef WEFT_SYNC_HOME_H
#define WEFT_SYNC_HOME_H

#include <stdatomic.h>
#include <stdint.h>

#include "owner.h"
#include "worker.h"

#define WEFT__HOME_SHARED ((struct weft__owner *)(uintptr_t)1)
/* A record being unbound: its address with bit 1 set (records are
 * aligned; SHARED is 1). */
#define WEFT__HOME_UNBINDING_BIT ((uintptr_t)2)

struct weft__home {
  _Atomic(struct weft__owner *) rec; /* NULL, a record, UNBINDING(a record), or SHARED */
};

static inline void weft__home_init(struct weft__home *h) { atomic_init(&h->rec, NULL); }

/* What the caller of weft__home_enter is to do. */
enum weft__home_role {
  WEFT__HOME_ATOMIC,  /* change the word with the atomic operations */
  WEFT__HOME_SECTION, /* in a section: plain loads and stores, then weft__home_leave_ret;
                         or, for a case the section does not do, ABANDON */
  WEFT__HOME_ABANDON, /* `in` is set but no section may run: weft__home_prepare, then atomic */
  WEFT__HOME_SETTLE,  /* not settled yet: weft__home_prepare, then atomic */
};

/* Before an operation that may change the primitive's word, on any thread
 * (@w: the caller's worker, weft__worker_self_leaf(), or NULL). Calls
 * nothing: the primitives' fast paths stay leaves (no frame), and the
 * other roles go to an out-of-line path that calls weft__home_prepare. */
static inline enum weft__home_role weft__home_enter(struct weft__home *h, struct weft__worker *w) {
  struct weft__owner *mine = w ? w->solo_owner : NULL;
  /* acquire, for the other threads: SHARED is stored once the old home's
   * sections are over (release, home.c), and the atomic path must follow
   * their writes. For the home's worker a record, once read, is its own
   * or not; an unbinding after this load is caught by the section's look
   * at `on` (design comment). On x86 an acquire load is a plain load. */
  struct weft__owner *rec = atomic_load_explicit(&h->rec, memory_order_acquire);
  if (__builtin_expect(rec == mine && mine, 1)) {
    /* owner.h's entry, without a lock word to look at (other threads
     * settle first); its undo left to the caller (ABANDON). */
    enum weft__owner_entry e = weft__owner_try_enter(mine);
    return e == WEFT__OWNER_IN        ? WEFT__HOME_SECTION
           : e == WEFT__OWNER_GAVE_UP ? WEFT__HOME_ABANDON
                                      : WEFT__HOME_ATOMIC;
  }
  return rec == WEFT__HOME_SHARED ? WEFT__HOME_ATOMIC : WEFT__HOME_SETTLE;
}

/* Ends the section @w entered (weft__home_enter: SECTION) and returns
 * @rc, its rare wake-up a tail call (weft__owner_leave_ret). */
static inline int weft__home_leave_ret(struct weft__worker *w, int rc) {
  return weft__owner_leave_ret(w->solo_owner, rc);
}

/* For @role ABANDON (or a SECTION given up) or SETTLE: ends the section,
 * or binds, or unbinds and settles (design comment); the caller then uses
 * the atomic operations. Out of line: rare (once per primitive and thread
 * at most, but for a revocation racing a section). */
void weft__home_prepare(struct weft__home *h, struct weft__worker *w, enum weft__home_role role);

/* The homes of the primitives (lock.c, sem.c, queue.c), for tests. */
struct weft_lock;
struct weft_sem;
struct weft_queue;
struct weft__home *weft__lock_home(struct weft_lock *l);
struct weft__home *weft__sem_home(struct weft_sem *s);
struct weft__home *weft__queue_home(struct weft_queue *q);

#endif
