/*
 * inject.h - a multi-producer multi-consumer FIFO of runnables under a mutex.
 *
 * The loop's global injection queue (foreign threads, ring overflow) and each
 * worker's inbox (pinned tasks woken by other threads) are one of these.
 * Items are stored as pointers in chunks, not linked through the runnables:
 * moving a batch of 512 in or out is an array copy that never touches the
 * (cold) tasks themselves. See inject.c.
 */
#ifndef WEFT_RUNTIME_INJECT_H
#define WEFT_RUNTIME_INJECT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include "mutex.h"
#include "runnable.h"

/* 510 pointers plus the header make a 4 KiB chunk. */
#define WEFT__INJECT_CHUNK 510

struct weft__inject_chunk {
  struct weft__inject_chunk *next;
  unsigned head, tail; /* [head, tail) are queued */
  struct weft__runnable *items[WEFT__INJECT_CHUNK];
};

struct weft__inject {
  struct weft__mutex lock;
  struct weft__inject_chunk *first, *last; /* protected by lock */
  struct weft__inject_chunk *spare;        /* one empty chunk kept for reuse; lock */
  struct weft__rlist fallback;             /* only when a chunk could not be allocated; lock */
  _Atomic size_t len;                      /* items queued; written under lock */
};

void weft__inject_init(struct weft__inject *q);
void weft__inject_fini(struct weft__inject *q); /* frees chunks; the queue must be empty */
void weft__inject_push(struct weft__inject *q, struct weft__runnable *r);
void weft__inject_push_array(struct weft__inject *q, struct weft__runnable **items, size_t n);
/* Moves up to @max runnables, oldest first, into @out; returns how many. */
size_t weft__inject_pop_batch(struct weft__inject *q, struct weft__runnable **out, size_t max);
/* Empties @q in batches, calling @fn(batch, n, @arg) on each (outside the
 * queue's lock). For teardown and hand-over, not the scheduler's tick. */
void weft__inject_drain(struct weft__inject *q,
                        void (*fn)(struct weft__runnable **batch, size_t n, void *arg), void *arg);

/* Cheap, racy hint: may be stale in either direction. */
static inline bool weft__inject_maybe_empty(struct weft__inject *q) {
  return atomic_load_explicit(&q->len, memory_order_relaxed) == 0;
}

/* seq_cst emptiness check for the idle protocol (idle.c). */
static inline bool weft__inject_empty_sc(struct weft__inject *q) {
  return atomic_load_explicit(&q->len, memory_order_seq_cst) == 0;
}

#endif
