/*
 * runq.h - a worker's local run queue: a bounded lock-free FIFO ring that
 * other workers may steal half of. See runq.c for the algorithm and orderings.
 */
#ifndef WEFT_RUNTIME_RUNQ_H
#define WEFT_RUNTIME_RUNQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "invariant.h"
#include "runnable.h"

#ifndef WEFT__RUNQ_CAP
/* Go and Tokio use 256. weft uses 1024 (8 KiB per worker): with 1000
 * runnable tasks on 2 workers, 256 slots overflowed on most pushes, and each
 * overflow and refill walks a batch of cold task nodes under the global
 * queue's lock (measured: 18% of yield_many's time). Steal-half stays one CAS
 * whatever the size. Test builds can shrink it (-DWEFT_RUNQ_CAP=4) to
 * exercise the overflow and steal edges. */
#define WEFT__RUNQ_CAP 1024
#endif
_Static_assert((WEFT__RUNQ_CAP & (WEFT__RUNQ_CAP - 1)) == 0, "ring capacity is a power of two");
/* A position in the ring, as an index into buf. */
#define WEFT__RUNQ_MASK (WEFT__RUNQ_CAP - 1)

struct weft__runq {
  _Atomic uint32_t head; /* next to take; advanced by CAS (owner and thieves) */
  char pad0[60];
  _Atomic uint32_t tail; /* next free slot; written by the owner only */
  char pad1[60];
  _Atomic(struct weft__runnable *) buf[WEFT__RUNQ_CAP];
};

void weft__runq_init(struct weft__runq *q);

/* Owner only. Appends @r and returns 0; when the ring is full, moves the
 * older half of it plus @r into @spill (FIFO order, WEFT__RUNQ_SPILL
 * pointers) and returns how many it wrote there. */
#define WEFT__RUNQ_SPILL (WEFT__RUNQ_CAP / 2 + 1)
size_t weft__runq_push(struct weft__runq *q, struct weft__runnable *r,
                       struct weft__runnable **spill);

/* Owner only. Appends @r if there is room; false if the ring is full. */
bool weft__runq_try_push(struct weft__runq *q, struct weft__runnable *r);
/* Owner only. Appends the first of @items (@n of them, in order) that fit
 * and returns how many it appended (0 when the ring is full). One
 * publication for them all: the same ordering as @n weft__runq_try_push
 * calls, with one fenced store instead of @n. */
size_t weft__runq_push_batch(struct weft__runq *q, struct weft__runnable *const *items, size_t n);

/* The ring's invariant (runq.c), for the inline operations' checks. */
bool weft__runq_ok(struct weft__runq *q);

/* Owner only, and only when no other thread ever touches @q (a loop with
 * one worker: no thieves, nobody to wake): no locked instructions. Inline:
 * a one-worker loop's every schedule and pick is one of these, and the
 * scheduler's fast path stays free of call frames. */
static inline bool weft__runq_try_push_solo(struct weft__runq *q, struct weft__runnable *r) {
  /* relaxed throughout: this thread is the only one touching q. */
  uint32_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
  uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
  if (t - h >= WEFT__RUNQ_CAP) return false;
  atomic_store_explicit(&q->buf[t & WEFT__RUNQ_MASK], r, memory_order_relaxed);
  atomic_store_explicit(&q->tail, t + 1, memory_order_relaxed);
  WEFT__INVARIANT(weft__runq_ok(q));
  return true;
}

static inline struct weft__runnable *weft__runq_pop_solo(struct weft__runq *q) {
  uint32_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
  if (h == atomic_load_explicit(&q->tail, memory_order_relaxed)) return NULL;
  struct weft__runnable *r = atomic_load_explicit(&q->buf[h & WEFT__RUNQ_MASK], memory_order_relaxed);
  atomic_store_explicit(&q->head, h + 1, memory_order_relaxed);
  WEFT__INVARIANT(weft__runq_ok(q));
  return r;
}

/* Owner only, one-worker loops (as weft__runq_pop_solo): the runnable
 * @k places behind the head (0: the next to pop), or NULL. It stays
 * queued, so it is alive and nobody else may touch it. */
static inline struct weft__runnable *weft__runq_peek_solo(struct weft__runq *q, uint32_t k) {
  /* relaxed: this thread is the only one touching q. */
  uint32_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
  if (atomic_load_explicit(&q->tail, memory_order_relaxed) - h <= k) return NULL;
  return atomic_load_explicit(&q->buf[(h + k) & WEFT__RUNQ_MASK], memory_order_relaxed);
}

/* Owner only: the runnable at the head, or NULL, as a hint: a thief may
 * take it at any moment, after which it may run and be freed, so the
 * caller may use the pointer only as an address (a prefetch), never
 * dereference it. */
static inline struct weft__runnable *weft__runq_peek_hint(struct weft__runq *q) {
  /* relaxed: a hint; the slot is an atomic that a thief's CAS may make
   * stale, never torn. */
  uint32_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
  if (h == atomic_load_explicit(&q->tail, memory_order_relaxed)) return NULL;
  return atomic_load_explicit(&q->buf[h & WEFT__RUNQ_MASK], memory_order_relaxed);
}

/* Owner only. Appends @r if there is room (false if the ring is full),
 * publishing it with a store of tail in @tail_order: the one body of
 * weft__runq_try_push (seq_cst) and of the requeue below (release). */
static inline bool weft__runq_try_push_ordered(struct weft__runq *q, struct weft__runnable *r,
                                               memory_order tail_order) {
  /* acquire: pairs with the CAS of whoever took the slot we may reuse. */
  uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
  uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed); /* owner's own */
  if (t - h >= WEFT__RUNQ_CAP) return false;
  atomic_store_explicit(&q->buf[t & WEFT__RUNQ_MASK], r, memory_order_relaxed);
  /* at least release: publishes the slot to a thief's acquire load of tail. */
  atomic_store_explicit(&q->tail, t + 1, tail_order);
  WEFT__INVARIANT(weft__runq_ok(q));
  return true;
}

/* Owner only. Appends @r if there is room (false if the ring is full),
 * with a release store of tail: thieves see the slot, but the push has no
 * place in the idle protocol's total order (idle.c), so a worker going to
 * sleep may miss it. Only for a runnable that was running on this worker
 * a moment ago (a yield's requeue, worker.c): the owner runs it before it
 * sleeps, so nothing is stranded, and no work was added that another
 * worker needs waking for. Saves the seq_cst store's full fence. */
static inline bool weft__runq_try_push_requeue(struct weft__runq *q, struct weft__runnable *r) {
  return weft__runq_try_push_ordered(q, r, memory_order_release);
}

/* Owner only. Takes the oldest runnable, or NULL. */
struct weft__runnable *weft__runq_pop(struct weft__runq *q);

/* Called by the owner of @dst: moves about half of @src's runnables into @dst
 * and returns one of them to run now, or NULL if @src had none. */
struct weft__runnable *weft__runq_steal(struct weft__runq *dst, struct weft__runq *src);

/* Any thread: a snapshot of the number of queued runnables (loads in
 * @order). Inline: the scheduler asks once or twice a task. */
static inline uint32_t weft__runq_len_with(struct weft__runq *q, memory_order order) {
  uint32_t h = atomic_load_explicit(&q->head, order);
  uint32_t t = atomic_load_explicit(&q->tail, order);
  uint32_t n = t - h;
  return n > WEFT__RUNQ_CAP ? 0 : n; /* torn snapshot from a non-owner */
}

/* acquire: what a length counts was published by the push's store of tail. */
static inline uint32_t weft__runq_len(struct weft__runq *q) {
  return weft__runq_len_with(q, memory_order_acquire);
}
/* The same with seq_cst loads: a read in the idle protocol's total order
 * (idle.c), as a thief's look at the ring is. */
static inline uint32_t weft__runq_len_sc(struct weft__runq *q) {
  return weft__runq_len_with(q, memory_order_seq_cst);
}

#endif
