/*
 * runq.c - the per-worker run queue: Go's runq / Tokio's local queue in C11.
 *
 * Why a FIFO ring and not a Chase-Lev deque: with workers = 1 weft must run
 * ready work in exactly asyncio's FIFO order, and a Chase-Lev owner pops LIFO.
 * The ring is FIFO for its owner, has no resize path (the published C11
 * Chase-Lev ordering bug lives there), and steals half with one CAS. The LIFO
 * behaviour that helps message passing comes from the worker's separate LIFO
 * slot (worker.c), which thieves never touch.
 *
 * Layout: head and tail are free-running 32-bit counters; slot i lives at
 * buf[i % CAP]. [head, tail) are queued. Only the owner writes tail. Anyone
 * (owner pop, thieves) advances head by CAS. The ring is "full" when
 * tail - head == CAP.
 *
 * Orderings:
 *  - Owner push: slot store relaxed, then tail store seq_cst. The release
 *    half publishes the slot to a thief's acquire load of tail; seq_cst is
 *    for the idle protocol (idle.c): a worker that announces it is going to
 *    sleep and then finds this ring empty must not miss this push, while the
 *    pusher, after this store, reads the idle state and wakes a sleeper.
 *    The one exception, a task requeued on its own worker after a yield
 *    (runq.h, weft__runq_try_push_requeue), stores tail with release only:
 *    it is outside the idle protocol (idle.c says what that costs).
 *  - Thief: head and tail loads seq_cst (acquire pairs with the push's
 *    release; seq_cst because a worker about to sleep re-checks the other
 *    rings by trying to steal, which is step (d) of idle.c's argument; on
 *    x86-64 a seq_cst load is a plain load), slot loads relaxed, then CAS
 *    head acq_rel. The release half
 *    orders the thief's slot reads before the owner's reuse of those slots:
 *    the owner loads head with acquire before it overwrites a slot.
 *    A thief may read a slot the owner is overwriting concurrently; its CAS
 *    then fails (head moved) and the value is discarded. Slots are atomics so
 *    that race is defined behaviour.
 *  - Owner pop: same CAS as thieves (they compete for head).
 *  - Counters wrap; differences are computed in uint32_t and are always <= CAP,
 *    so wrap-around is harmless. ABA on head needs 2^32 operations between a
 *    thief's load and its CAS.
 *
 * Invariant (checked by runq_ok() on the owner's thread after each change):
 * 0 <= tail - head <= CAP, and every queued slot holds a runnable. Thieves
 * only move head forward, which keeps both true, so the owner may check
 * while they run.
 */
#include "runq.h"

#include "invariant.h"

WEFT__CHECKER bool runq_ok(struct weft__runq *q) {
  uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed); /* the caller's own */
  /* relaxed: read after our own earlier loads of head, never older (coherence). */
  uint32_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
  if (t - h > WEFT__RUNQ_CAP) return false;
  for (uint32_t i = 0; i < t - h && i < WEFT__CHECK_WALK; i++)
    if (!atomic_load_explicit(&q->buf[(h + i) & WEFT__RUNQ_MASK], memory_order_relaxed)) return false;
  return true;
}

void weft__runq_init(struct weft__runq *q) {
  atomic_init(&q->head, 0);
  atomic_init(&q->tail, 0);
  for (unsigned i = 0; i < WEFT__RUNQ_CAP; i++) atomic_init(&q->buf[i], NULL);
}

bool weft__runq_try_push(struct weft__runq *q, struct weft__runnable *r) {
  /* seq_cst: release for thieves, total order for the idle protocol (above). */
  return weft__runq_try_push_ordered(q, r, memory_order_seq_cst);
}

size_t weft__runq_push_batch(struct weft__runq *q, struct weft__runnable *const *items, size_t n) {
  /* acquire: as weft__runq_try_push_ordered's, for the slots we reuse. */
  uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
  uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed); /* owner's own */
  size_t room = WEFT__RUNQ_CAP - (t - h);
  if (n > room) n = room;
  for (size_t i = 0; i < n; i++)
    atomic_store_explicit(&q->buf[(t + i) & WEFT__RUNQ_MASK], items[i], memory_order_relaxed);
  /* seq_cst, once: release publishes every slot above to a thief's
   * acquire load of tail; the total order is the idle protocol's, as a
   * single push's (design comment), and a sleeper that misses this store
   * misses none of the slots, all published by it. */
  if (n) atomic_store_explicit(&q->tail, t + (uint32_t)n, memory_order_seq_cst);
  WEFT__INVARIANT(runq_ok(q));
  return n;
}

bool weft__runq_ok(struct weft__runq *q) { return runq_ok(q); }

/* The ring is full: claim its older half with one CAS and hand it, then @r,
 * to @spill. Fails (returns false) if a thief moved head meanwhile. */
static size_t push_overflow(struct weft__runq *q, struct weft__runnable *r, uint32_t h,
                            uint32_t t, struct weft__runnable **spill) {
  uint32_t n = (t - h) / 2;
  WEFT__INVARIANT(n == WEFT__RUNQ_CAP / 2);
  for (uint32_t i = 0; i < n; i++)
    spill[i] = atomic_load_explicit(&q->buf[(h + i) & WEFT__RUNQ_MASK], memory_order_relaxed);
  /* acq_rel: as a thief's CAS (see the design comment). */
  if (!atomic_compare_exchange_strong_explicit(&q->head, &h, h + n, memory_order_acq_rel,
                                               memory_order_acquire))
    return 0;
  spill[n] = r;
  WEFT__INVARIANT(runq_ok(q));
  return n + 1;
}

size_t weft__runq_push(struct weft__runq *q, struct weft__runnable *r,
                       struct weft__runnable **spill) {
  for (;;) {
    if (weft__runq_try_push(q, r)) return 0;
    uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    if (t - h < WEFT__RUNQ_CAP) continue; /* a thief made room */
    size_t n = push_overflow(q, r, h, t, spill);
    if (n) return n;
  }
}

struct weft__runnable *weft__runq_pop(struct weft__runq *q) {
  uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
  for (;;) {
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed); /* owner's own */
    if (t == h) return NULL;
    struct weft__runnable *r = atomic_load_explicit(&q->buf[h & WEFT__RUNQ_MASK], memory_order_relaxed);
    /* acq_rel: competes with thieves; see the design comment. On failure h
     * is reloaded (acquire) and we retry. */
    if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + 1, memory_order_acq_rel,
                                              memory_order_acquire))
      return r;
  }
}

/* Copies about half of @src into @dst's free slots starting at @dst_tail
 * without publishing them; returns how many were claimed. */
static uint32_t grab_half(struct weft__runq *src, struct weft__runq *dst, uint32_t dst_tail) {
  for (;;) {
    /* seq_cst: acquire for the slots, plus idle.c's total order (above). */
    uint32_t h = atomic_load_explicit(&src->head, memory_order_seq_cst);
    uint32_t t = atomic_load_explicit(&src->tail, memory_order_seq_cst);
    uint32_t n = t - h;
    n -= n / 2;
    if (n == 0) return 0;
    if (n > WEFT__RUNQ_CAP / 2) continue; /* h and t read at different times */
    for (uint32_t i = 0; i < n; i++) {
      struct weft__runnable *r =
          atomic_load_explicit(&src->buf[(h + i) & WEFT__RUNQ_MASK], memory_order_relaxed);
      atomic_store_explicit(&dst->buf[(dst_tail + i) & WEFT__RUNQ_MASK], r, memory_order_relaxed);
    }
    /* acq_rel: claims [h, h+n); release orders our slot reads before the
     * owner's later reuse of them. */
    if (atomic_compare_exchange_strong_explicit(&src->head, &h, h + n, memory_order_acq_rel,
                                                memory_order_relaxed))
      return n;
  }
}

struct weft__runnable *weft__runq_steal(struct weft__runq *dst, struct weft__runq *src) {
  uint32_t t = atomic_load_explicit(&dst->tail, memory_order_relaxed); /* we own dst */
  uint32_t n = grab_half(src, dst, t);
  if (n == 0) return NULL;
  n--;
  struct weft__runnable *r = atomic_load_explicit(&dst->buf[(t + n) & WEFT__RUNQ_MASK], memory_order_relaxed);
  if (n == 0) return r;
  /* seq_cst: publishes the stolen items, as a push does. */
  atomic_store_explicit(&dst->tail, t + n, memory_order_seq_cst);
  WEFT__INVARIANT(runq_ok(dst));
  return r;
}

