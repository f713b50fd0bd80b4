/*
 * mpmc_ring.c - creating, counting, closing and draining a bounded MPMC ring
 * (mpmc_ring.h has the algorithm and its invariants; its hot halves are inline
 * there).
 */
#include "mpmc_ring.h"
#include "alloc.h"

#include <errno.h>

static size_t ring_bytes(size_t lines) {
  return sizeof(struct weft__ring) + lines * WEFT__RING_PER_LINE * sizeof(struct weft__ring_slot);
}

int weft__ring_create(size_t cap, struct weft__ring **out) {
  if (cap < 2 || cap > WEFT__RING_MAX) return -EINVAL;
  size_t lines = (cap + WEFT__RING_PER_LINE - 1) / WEFT__RING_PER_LINE;
  /* Zeroed: every slot's relative sequence number starts at 0, put i's
   * turn (mpmc_ring.h), and pages nobody reached stay unmapped. */
  struct weft__ring *r = weft__calloc_aligned(ring_bytes(lines), _Alignof(struct weft__ring));
  if (!r) return -ENOMEM;
  atomic_init(&r->tail, 0);
  atomic_init(&r->head, 0);
  r->cap = cap;
  r->mask = (cap & (cap - 1)) == 0 ? cap - 1 : 0;
  r->lines = lines;
  r->lg_lines = (unsigned)__builtin_ctzll(lines); /* used only with mask: lines is a power of two */
  *out = r;
  return 0;
}

void weft__ring_destroy(struct weft__ring *r) {
  if (r) weft__free_aligned(r, ring_bytes(r->lines), _Alignof(struct weft__ring));
}

size_t weft__ring_count(struct weft__ring *r) {
  /* Head first: tail read later is at least the head read earlier (head <=
   * tail at every moment, and both only grow). relaxed: a snapshot. */
  uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
  if (head & WEFT__RING_CLOSED) return 0; /* dropped (weft__ring_drop_all) */
  uint64_t n = weft__ring_puts(r) - head;
  return n > r->cap ? r->cap : (size_t)n; /* both moved between the loads */
}

bool weft__ring_idle(struct weft__ring *r) {
  /* relaxed: only equality matters. The queue asks under its mutex, after
   * the shutdown that closed puts under the same mutex: tail then reads at
   * least the closing RMW's value, which counts every reserved put. */
  uint64_t tail = weft__ring_puts(r);
  uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed) & ~WEFT__RING_CLOSED;
  return tail == head;
}

void weft__ring_close_puts(struct weft__ring *r) {
  /* relaxed: CLOSED orders nothing by itself; it only makes later CASes fail. */
  atomic_fetch_or_explicit(&r->tail, WEFT__RING_CLOSED, memory_order_relaxed);
}

uint64_t weft__ring_drop_all(struct weft__ring *r) {
  weft__ring_close_puts(r); /* tail is final */
  /* relaxed: as in close_puts. A get that reserved its position before this
   * takes its item as usual; every later one fails. */
  uint64_t head = atomic_fetch_or_explicit(&r->head, WEFT__RING_CLOSED, memory_order_relaxed);
  if (head & WEFT__RING_CLOSED) return 0; /* dropped before */
  return weft__ring_puts(r) - head;
}
