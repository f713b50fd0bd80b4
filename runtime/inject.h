/*
 * inject.h - a multi-producer multi-consumer FIFO of runnables under a mutex.
 *
 * The loop's global injection queue (foreign threads, ring overflow) and each
 * worker's inbox (pinned tasks woken by other threads) are one of these.
 */
#ifndef WEFT_RUNTIME_INJECT_H
#define WEFT_RUNTIME_INJECT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include "mutex.h"
#include "runnable.h"

struct weft__inject {
  struct weft__mutex lock;
  struct weft__rlist list; /* protected by lock */
  _Atomic size_t len;      /* mirrors list.count for lock-free emptiness checks */
};

void weft__inject_init(struct weft__inject *q);
void weft__inject_push(struct weft__inject *q, struct weft__runnable *r);
void weft__inject_push_list(struct weft__inject *q, struct weft__rlist *l);
/* Moves up to @max runnables to @out; returns how many. */
size_t weft__inject_pop_batch(struct weft__inject *q, struct weft__rlist *out, size_t max);

/* Cheap, racy hint: may be stale in either direction. */
static inline bool weft__inject_maybe_empty(struct weft__inject *q) {
  return atomic_load_explicit(&q->len, memory_order_relaxed) == 0;
}

/* seq_cst emptiness check for the idle protocol (idle.c). */
static inline bool weft__inject_empty_sc(struct weft__inject *q) {
  return atomic_load_explicit(&q->len, memory_order_seq_cst) == 0;
}

#endif
