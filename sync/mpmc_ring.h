/*
 * mpmc_ring.h - a bounded multi-producer multi-consumer ring of void * items,
 * lock-free (Vyukov's bounded MPMC queue), that a bounded FIFO Queue keeps
 * its items in (queue.c).
 *
 * Each slot carries a sequence number that says whose turn it is: slot
 * pos % cap is free for the put at position pos while seq == pos, holds that
 * put's item while seq == pos + 1, and is free for the put one lap later
 * (pos + cap) once the get at pos set seq = pos + cap. A put reserves its
 * position by a CAS on tail, writes the item, then publishes seq; a get
 * reserves by a CAS on head, reads the item, then frees the slot. Two
 * operations never share a slot turn, so the item needs no atomics.
 * A slot stores seq less its own index (i = pos % cap), so every slot
 * starts at 0: a new ring's slots are zeroed memory, paged in by their
 * first use rather than written whole at creation.
 *
 * Layout: 16-byte slots, four to a cache line, strided: index i lives in
 * line i % lines at place i / lines (lines = cap / 4, rounded up), so
 * consecutive positions (the put publishing one, the get or put beside it)
 * are on different lines, and positions sharing a line are a quarter of
 * the ring apart. Contiguous 16-byte slots made queue_mpmc with two
 * workers take 1.7x the time; a line per slot cost 4x the memory
 * (benchmarks/RESULTS.md, issue 13).
 *
 * Invariants: head <= tail (positions, without CLOSED); tail - head <= cap;
 * every position below head was consumed or is being consumed, every
 * position below tail was reserved by a put. A reserved but not yet
 * published put (between its CAS and its publish) makes gets at its
 * position report EMPTY; a got but not yet freed slot makes the put one lap
 * later report FULL. Both windows are a few instructions of an operation in
 * progress, so either answer is a state the queue passed through for
 * overlapping operations; the queue's waiting protocol (queue.c) re-checks
 * under its mutex after announcing itself, and the late publisher or freer
 * wakes it, so such an answer never loses a wake-up.
 *
 * CLOSED (bit 63 of a position) makes every later CAS on that end fail:
 * weft__ring_close_puts is how a shutdown makes "not shut down, so put"
 * one atomic step with the put itself.
 *
 * Orderings: the publish is a seq_cst exchange: release, so the item written
 * before it is visible to the get that reads seq (acquire at least; the
 * freed slot's emptiness likewise to the next lap's put), and seq_cst, so
 * the publisher's following seq_cst load of the queue's waiting flags is
 * ordered after it; the loads of seq are seq_cst too, so a waiter's try
 * after its seq_cst announcement is in that single order (queue.c's Dekker
 * argument). The reserving CASes are relaxed: the slot's
 * seq, not the counter, carries the data; a position lost to another
 * thread's CAS just retries at the newer one.
 *
 * Threads: any; the ring has no owner. head and tail sit on lines of their
 * own (producers and consumers do not share a line but through slots).
 */
#ifndef WEFT_SYNC_MPMC_RING_H
#define WEFT_SYNC_MPMC_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEFT__RING_CLOSED ((uint64_t)1 << 63)

/* Rings are for bounds up to this many items: their slots are allocated
 * whole at creation (16 bytes each, 1 MiB at this bound), zeroed, and
 * paged in as positions first reach them. */
#define WEFT__RING_MAX 65536

/* What a put or get did: FULL and EMPTY are the same "not now". */
enum weft__ring_rc {
  WEFT__RING_OK = 0,
  WEFT__RING_FULL = 1,
  WEFT__RING_EMPTY = 1,
  WEFT__RING_CLOSED_RC = 2,
};

/* Four to a line, strided (head comment). */
struct weft__ring_slot {
  _Atomic uint64_t seq; /* the turn's sequence number less the slot's index (head comment) */
  void *item; /* written by the put that holds the turn, read by the get that holds it */
};

#define WEFT__RING_PER_LINE 4u

struct weft__ring {
  _Alignas(64) _Atomic uint64_t tail; /* next put's position | CLOSED */
  _Alignas(64) _Atomic uint64_t head; /* next get's position | CLOSED */
  /* Immutable from here. */
  _Alignas(64) size_t cap;
  size_t mask;       /* cap - 1 if cap is a power of two, else 0 */
  size_t lines;      /* cap / WEFT__RING_PER_LINE, rounded up; a power of two with mask */
  unsigned lg_lines; /* log2(lines) if mask */
  _Alignas(64) struct weft__ring_slot slots[]; /* lines * WEFT__RING_PER_LINE */
};

/* 0, -EINVAL (cap below 2 or above WEFT__RING_MAX), -ENOMEM. One slot
 * cannot tell "free for put pos" (seq == pos) from "holding put pos - 1's
 * item" (seq == pos - 1 + 1): the turns need two slots at least. */
int weft__ring_create(size_t cap, struct weft__ring **out);
void weft__ring_destroy(struct weft__ring *r);

/* The slot of position @pos; *@base is pos less its index (the lap's first
 * position), what the slot's stored sequence numbers are relative to. */
static inline struct weft__ring_slot *weft__ring_slot(struct weft__ring *r, uint64_t pos,
                                                     uint64_t *base) {
  size_t i, line, place;
  if (r->mask) {
    i = (size_t)(pos & r->mask);
    line = i & (r->lines - 1);
    place = i >> r->lg_lines;
  } else {
    i = (size_t)(pos % r->cap);
    place = i / r->lines;
    line = i - place * r->lines;
  }
  *base = pos - i;
  return &r->slots[line * WEFT__RING_PER_LINE + place];
}

/* WEFT__RING_OK, _FULL (every slot holds an item, or the oldest is being
 * taken) or _CLOSED_RC (weft__ring_close_puts). */
static inline int weft__ring_put(struct weft__ring *r, void *item) {
  /* relaxed: only a starting point; the CAS below decides. */
  uint64_t pos = atomic_load_explicit(&r->tail, memory_order_relaxed), base;
  struct weft__ring_slot *s;
  for (;;) {
    if (pos & WEFT__RING_CLOSED) return WEFT__RING_CLOSED_RC;
    s = weft__ring_slot(r, pos, &base);
    /* acquire: the get that freed this slot last lap is done with its item;
     * seq_cst: see weft__ring_get. */
    int64_t diff = (int64_t)(atomic_load_explicit(&s->seq, memory_order_seq_cst) - base);
    if (diff == 0) {
      /* relaxed: reserves the turn; seq carries the data (head comment). */
      if (atomic_compare_exchange_weak_explicit(&r->tail, &pos, pos + 1, memory_order_relaxed,
                                                memory_order_relaxed))
        break;
    } else if (diff < 0) {
      return WEFT__RING_FULL;
    } else {
      pos = atomic_load_explicit(&r->tail, memory_order_relaxed); /* another put took it */
    }
  }
  s->item = item;
  /* seq_cst exchange: publishes the item (release) and orders the caller's
   * next seq_cst load after it (head comment). */
  atomic_exchange_explicit(&s->seq, base + 1, memory_order_seq_cst);
  return WEFT__RING_OK;
}

/* WEFT__RING_OK, _EMPTY (no published item at head) or _CLOSED_RC. */
static inline int weft__ring_get(struct weft__ring *r, void **out) {
  uint64_t pos = atomic_load_explicit(&r->head, memory_order_relaxed), base;
  struct weft__ring_slot *s;
  for (;;) {
    if (pos & WEFT__RING_CLOSED) return WEFT__RING_CLOSED_RC;
    s = weft__ring_slot(r, pos, &base);
    /* acquire: pairs with the put's publish; its item is then visible.
     * seq_cst: a waiter's last try follows its announcement in the single
     * order the publishers' exchanges are in (queue.c's Dekker pair); on
     * x86 and AArch64 it costs what an acquire load does. */
    int64_t diff = (int64_t)(atomic_load_explicit(&s->seq, memory_order_seq_cst) - (base + 1));
    if (diff == 0) {
      if (atomic_compare_exchange_weak_explicit(&r->head, &pos, pos + 1, memory_order_relaxed,
                                                memory_order_relaxed))
        break;
    } else if (diff < 0) {
      return WEFT__RING_EMPTY;
    } else {
      pos = atomic_load_explicit(&r->head, memory_order_relaxed);
    }
  }
  *out = s->item;
  /* seq_cst exchange: frees the slot for the next lap's put (release: our
   * read of the item is done) and orders our next seq_cst load after it. */
  atomic_exchange_explicit(&s->seq, base + r->cap, memory_order_seq_cst);
  return WEFT__RING_OK;
}

/* The put and get of the ring's only user at the moment: the home worker
 * of its queue in an owner section (queue.c, sync/home.h), while no other
 * thread may touch the ring (a thread that comes later settles first,
 * which orders these before its own operations). Plain loads and stores:
 * no reservation to race for, nothing to publish to another thread now.
 * A turn that is not free (a put) or not published (a get) answers FULL
 * or EMPTY, and the caller leaves the section for the paths above. */
static inline int weft__ring_put_owned(struct weft__ring *r, void *item) {
  uint64_t pos = atomic_load_explicit(&r->tail, memory_order_relaxed), base;
  if (pos & WEFT__RING_CLOSED) return WEFT__RING_CLOSED_RC;
  struct weft__ring_slot *s = weft__ring_slot(r, pos, &base);
  if (atomic_load_explicit(&s->seq, memory_order_relaxed) != base) return WEFT__RING_FULL;
  atomic_store_explicit(&r->tail, pos + 1, memory_order_relaxed);
  s->item = item;
  atomic_store_explicit(&s->seq, base + 1, memory_order_relaxed);
  return WEFT__RING_OK;
}

static inline int weft__ring_get_owned(struct weft__ring *r, void **out) {
  uint64_t pos = atomic_load_explicit(&r->head, memory_order_relaxed), base;
  if (pos & WEFT__RING_CLOSED) return WEFT__RING_CLOSED_RC;
  struct weft__ring_slot *s = weft__ring_slot(r, pos, &base);
  if (atomic_load_explicit(&s->seq, memory_order_relaxed) != base + 1) return WEFT__RING_EMPTY;
  atomic_store_explicit(&r->head, pos + 1, memory_order_relaxed);
  *out = s->item;
  atomic_store_explicit(&s->seq, base + r->cap, memory_order_relaxed);
  return WEFT__RING_OK;
}

/* Puts ever reserved (tail without CLOSED). relaxed: a count. */
static inline uint64_t weft__ring_puts(struct weft__ring *r) {
  return atomic_load_explicit(&r->tail, memory_order_relaxed) & ~WEFT__RING_CLOSED;
}

/* Items put and not yet taken, counting puts in progress; at most cap. */
size_t weft__ring_count(struct weft__ring *r);
/* True if no put is reserved but unpublished and no item waits: tail == head. */
bool weft__ring_idle(struct weft__ring *r);
/* Makes every later put fail with WEFT__RING_CLOSED_RC. */
void weft__ring_close_puts(struct weft__ring *r);
/* Closes both ends: every later put and get fails with
 * WEFT__RING_CLOSED_RC, and the items between them (counting puts still
 * publishing) are dropped, unreachable; returns how many (0 if dropped
 * before). Items are the user's: nothing is freed. count is 0 from then. */
uint64_t weft__ring_drop_all(struct weft__ring *r);

#endif
