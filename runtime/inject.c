/*
 * inject.c - the mutex-protected FIFO behind the injection queue and inboxes.
 *
 * Tokio's inject queue is the same design: a mutex around a linked list is
 * cheap when, as here, it is touched only by foreign threads, overflow (rare)
 * and the fairness tick. len is written inside the lock with seq_cst stores:
 * pushers then read the idle state to decide whom to wake, and a worker about
 * to sleep re-reads len after announcing itself (idle.c); seq_cst on both
 * sides means one of them sees the other.
 */
#include "inject.h"

void weft__inject_init(struct weft__inject *q) {
  weft__mutex_init(&q->lock);
  weft__rlist_init(&q->list);
  atomic_init(&q->len, 0);
}

void weft__inject_push(struct weft__inject *q, struct weft__runnable *r) {
  weft__mutex_lock(&q->lock);
  weft__rlist_push(&q->list, r);
  /* seq_cst: see the design comment. */
  atomic_store_explicit(&q->len, q->list.count, memory_order_seq_cst);
  weft__mutex_unlock(&q->lock);
}

void weft__inject_push_list(struct weft__inject *q, struct weft__rlist *l) {
  if (!l->count) return;
  weft__mutex_lock(&q->lock);
  weft__rlist_append(&q->list, l);
  atomic_store_explicit(&q->len, q->list.count, memory_order_seq_cst);
  weft__mutex_unlock(&q->lock);
}

size_t weft__inject_pop_batch(struct weft__inject *q, struct weft__rlist *out, size_t max) {
  if (weft__inject_maybe_empty(q)) return 0;
  size_t n = 0;
  weft__mutex_lock(&q->lock);
  while (n < max) {
    struct weft__runnable *r = weft__rlist_pop(&q->list);
    if (!r) break;
    weft__rlist_push(out, r);
    n++;
  }
  atomic_store_explicit(&q->len, q->list.count, memory_order_relaxed); /* inside the lock */
  weft__mutex_unlock(&q->lock);
  return n;
}
