/*
 * owner.c - owner sections' slow side (owner.h): a run's start and end,
 * revocation and its wait, and arming them again after a hold.
 *
 * Invariants: see owner.h. A revocation is the only place that waits
 * here, and it waits only for a section in progress (bounded work on the
 * worker, invariant 2), asleep on `in` with a futex, woken by the
 * section's end. Its two barriers pair with the worker's two plain
 * store-then-load sequences (entering: in, then on; leaving: in, then
 * waiting).
 */
#include "owner.h"
#include "amutex.h"
#include "futex.h"
#include "membarrier.h"
#include "worker.h" /* WEFT__CACHELINE */

#include <stdlib.h>
#include <time.h>

/* Invariant 5: records made once, pooled, never freed. A loop's creation
 * and its freeing take the pool's lock once each, and once more per
 * worker on a loop of several (each worker's record). */
static struct weft__mutex pool_mu = WEFT__MUTEX_INIT;
static struct weft__owner *pool;

struct weft__owner *weft__owner_get(void) {
  weft__mutex_lock(&pool_mu);
  struct weft__owner *o = pool;
  if (o) pool = o->next;
  weft__mutex_unlock(&pool_mu);
  if (!o) {
    /* Not weft__alloc: the record must outlive any purge or arena of
     * ours, and nothing frees it. Aligned: the worker's line (owner.h). */
    o = aligned_alloc(WEFT__CACHELINE, (sizeof *o + WEFT__CACHELINE - 1) & ~(WEFT__CACHELINE - 1));
    if (!o) return NULL;
    atomic_init(&o->in, 0);
    atomic_init(&o->waiting, 0);
    atomic_init(&o->on, WEFT__OWNER_OFF);
    weft__mutex_init(&o->mu);
    o->next = NULL;
    o->armed_ms = o->off_ms = o->hold_ms = 0; /* run_begins sets them */
    o->off_seen = false;
  }
  /* Counted for this loop, pooled or new. relaxed: a statistic; the loop
   * that gets @o publishes it (its creation) before any thread reads it. */
  atomic_store_explicit(&o->revocations, 0, memory_order_relaxed);
  return o;
}

void weft__owner_put(struct weft__owner *o) {
  if (!o) return;
  weft__mutex_lock(&pool_mu);
  o->next = pool;
  pool = o;
  weft__mutex_unlock(&pool_mu);
}

uint32_t weft__owner_rearm_min_ms = WEFT__OWNER_REARM_MIN_MS;

/* Sets `on` ON (the worker, outside any section), as a run begins or
 * from OFF at a pass. */
static void arm(struct weft__owner *o, uint32_t now_ms) {
  /* seq_cst: a thread that took a future's lock word before this store
   * and looks at `on` after its swap either sees it set (and revokes) or
   * its word is seen set by the worker's next section (owner.h). */
  atomic_store_explicit(&o->on, WEFT__OWNER_ON, memory_order_seq_cst);
  /* The worker's side of home.h's pair: its loads of a primitive's home
   * from here on see an unbinding that looked at `on` and found it OFF. */
  atomic_thread_fence(memory_order_seq_cst);
  o->armed_ms = now_ms;
  o->off_seen = false;
}

void weft__owner_run_begins(struct weft__owner *o, uint32_t now_ms) {
  /* relaxed flag: set by amutex.c's once, which the loop's creation ran
   * (weft__amutex_setup), before any thread relied on it. */
  if (!atomic_load_explicit(&weft__amutex_asymmetric, memory_order_relaxed)) return;
  o->hold_ms = 0; /* the first revocation's hold: the minimum */
  arm(o, now_ms);
}

void weft__owner_off_at_pass(struct weft__owner *o, uint32_t now_ms) {
  if (!o->off_seen) {
    /* Revoked since the arming: the hold starts now, twice the last one
     * if they were revoked within the maximum of their arming (other
     * threads keep coming), else the minimum (wrapping differences of
     * the coarse clock: a run is not 49 days between two passes). */
    uint32_t hold = now_ms - o->armed_ms < WEFT__OWNER_REARM_MAX_MS ? o->hold_ms * 2 : 0;
    if (hold > WEFT__OWNER_REARM_MAX_MS) hold = WEFT__OWNER_REARM_MAX_MS;
    if (hold < weft__owner_rearm_min_ms) hold = weft__owner_rearm_min_ms;
    o->hold_ms = hold;
    o->off_ms = now_ms;
    o->off_seen = true;
    return;
  }
  /* From OFF only this thread moves `on` (revokers move ON -> REVOKING ->
   * OFF), so the look that brought us here still holds. */
  if (now_ms - o->off_ms >= o->hold_ms) arm(o, now_ms);
}

void weft__owner_run_ends(struct weft__owner *o) {
  /* release: a thread that reads OFF (acquire) sees every section's
   * writes; none begins after it (the worker is this thread). */
  atomic_store_explicit(&o->on, WEFT__OWNER_OFF, memory_order_release);
}

void weft__owner_wake(struct weft__owner *o) { weft__futex_wake(&o->in, 1); }

int weft__owner_wake_ret(struct weft__owner *o, int rc) {
  weft__owner_wake(o);
  return rc;
}

/* Justification for the retry: after registration the barrier fails only
 * when the kernel cannot allocate its CPU mask (ENOMEM), and without it
 * nothing proves a section has ended; a revocation is rare (once a run at
 * most), so it tries again a millisecond later rather than guess. */
#define BARRIER_RETRY_NS 1000000L

static void barrier(void) {
  while (weft__membarrier() != 0) {
    struct timespec ts = {0, BARRIER_RETRY_NS};
    nanosleep(&ts, NULL);
  }
}

void weft__owner_revoke(struct weft__owner *o) {
  weft__mutex_lock(&o->mu);
  uint8_t expected = WEFT__OWNER_ON;
  /* seq_cst: the store of the entry's pair; under mu, nobody else revokes
   * (OFF: a run ended, nothing to clear; a section may still have to be
   * waited out below, harmlessly). */
  bool cleared = atomic_compare_exchange_strong_explicit(&o->on, &expected, WEFT__OWNER_REVOKING,
                                                         memory_order_seq_cst, memory_order_relaxed);
  /* The heavy side of the entry's pair: the worker's sections from now
   * on see `on` cleared, and one already entered shows in `in` below. */
  if (cleared) {
    atomic_fetch_add_explicit(&o->revocations, 1, memory_order_relaxed); /* a statistic */
    barrier();
  }
  /* acquire: pairs with the section's release store of 0 (its writes). */
  if (atomic_load_explicit(&o->in, memory_order_acquire) != 0) {
    atomic_store_explicit(&o->waiting, 1, memory_order_seq_cst);
    /* The heavy side of the wake-up's pair (owner.h, weft__owner_leave):
     * either the worker's look at `waiting` sees it, or our look at `in`
     * below sees its store of 0. */
    barrier();
    while (atomic_load_explicit(&o->in, memory_order_acquire) != 0)
      weft__futex_wait(&o->in, 1, 0);
    atomic_store_explicit(&o->waiting, 0, memory_order_relaxed);
  }
  /* release: a thread that reads OFF (acquire) sees what the last section
   * wrote (invariant 4). A run that ended (OFF) or began (ON) meanwhile
   * set its own value, which stays. */
  expected = WEFT__OWNER_REVOKING;
  if (cleared)
    atomic_compare_exchange_strong_explicit(&o->on, &expected, WEFT__OWNER_OFF, memory_order_release,
                                            memory_order_relaxed);
  weft__mutex_unlock(&o->mu);
}
