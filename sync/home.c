/*
 * home.c - binding and unbinding a primitive's home (home.h).
 */
#include "home.h"

/* Binds an unbound primitive to @mine (the caller's record, or NULL), or
 * unbinds one bound to another record and settles (home.h). */
static void settle(struct weft__home *h, struct weft__owner *mine) {
  /* acquire: SHARED was stored after the old home's sections ended. */
  struct weft__owner *rec = atomic_load_explicit(&h->rec, memory_order_acquire);
  for (;;) {
    if (rec == WEFT__HOME_SHARED || (rec && rec == mine)) return; /* settled before us */
    if ((uintptr_t)rec & WEFT__HOME_UNBINDING_BIT) {
      /* Another thread unbinds it and may still wait for a section of
       * the old home: wait it out too (revoke is serialized per record,
       * and finds nothing to do once that is over). The old home's own
       * worker is in none: it is here. */
      struct weft__owner *old = (struct weft__owner *)((uintptr_t)rec & ~WEFT__HOME_UNBINDING_BIT);
      if (old != mine) weft__owner_revoke(old);
      return;
    }
    if (!rec) {
      /* Unbound: a one-worker loop's worker binds it to its record (its
       * sections begin with its next operation); any other thread marks
       * it shared (home.h). relaxed: nothing is published with either;
       * a failure reads what another thread wrote, and we decide again. */
      if (atomic_compare_exchange_strong_explicit(&h->rec, &rec, mine ? mine : WEFT__HOME_SHARED,
                                                  memory_order_relaxed, memory_order_relaxed))
        return;
      rec = atomic_load_explicit(&h->rec, memory_order_acquire); /* as above */
      continue;
    }
    /* Bound to another loop's record: unbind for good, then settle. The
     * CAS and the fence are the heavy side's first half (home.h); one
     * thread unbinds, the others find UNBINDING. */
    struct weft__owner *unbinding = (struct weft__owner *)((uintptr_t)rec | WEFT__HOME_UNBINDING_BIT);
    if (!atomic_compare_exchange_strong_explicit(&h->rec, &rec, unbinding, memory_order_seq_cst,
                                                 memory_order_acquire))
      continue;
#if !defined(WEFT__TSAN) /* TSan warns that it cannot model a fence; it checks no reordering */
    atomic_thread_fence(memory_order_seq_cst);
#endif
    /* acquire: a run that ended, or a revocation that waited out the last
     * section, set OFF with release: the sections' writes are seen. */
    if (atomic_load_explicit(&rec->on, memory_order_acquire) != WEFT__OWNER_OFF) weft__owner_revoke(rec);
    /* release: whoever reads SHARED follows the sections' writes. */
    atomic_store_explicit(&h->rec, WEFT__HOME_SHARED, memory_order_release);
    return;
  }
}

void weft__home_prepare(struct weft__home *h, struct weft__worker *w, enum weft__home_role role) {
  if (role == WEFT__HOME_SETTLE)
    settle(h, w ? w->solo_owner : NULL);
  else if (role != WEFT__HOME_ATOMIC)
    weft__owner_leave(w->solo_owner); /* a section entered, or its `in` set, and given up */
}
