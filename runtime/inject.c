/*
 * inject.c - the chunked FIFO behind the injection queue and the inboxes.
 *
 * Tokio's inject queue is a mutex around a list linked through the tasks;
 * weft first did the same and measured a quarter of spawn_many's time in
 * batch pops walking cold task nodes under the lock. Here the queue is a
 * list of 4 KiB chunks of pointers: batches move by array copy, the lock is
 * held for a few cache lines, and one spare chunk absorbs the usual
 * fill-drain cycle without allocating.
 *
 * If a chunk cannot be allocated, items go to a fallback list linked through
 * the runnables (scheduling must not fail); pops drain chunks first, so under
 * memory exhaustion FIFO order between the two is not kept.
 *
 * len is written inside the lock with seq_cst stores: pushers then read the
 * idle state to decide whom to wake, and a worker about to sleep re-reads
 * len after announcing itself (idle.c); seq_cst on both sides means one of
 * them sees the other.
 */
#include "inject.h"
#include "alloc.h"

#include <string.h>

void weft__inject_init(struct weft__inject *q) {
  weft__mutex_init(&q->lock);
  q->first = q->last = q->spare = NULL;
  weft__rlist_init(&q->fallback);
  atomic_init(&q->len, 0);
}

void weft__inject_fini(struct weft__inject *q) {
  while (q->first) {
    struct weft__inject_chunk *c = q->first;
    q->first = c->next;
    weft__free(c, sizeof *c);
  }
  q->last = NULL;
  weft__free(q->spare, sizeof *q->spare);
  q->spare = NULL;
}

static struct weft__inject_chunk *new_chunk_locked(struct weft__inject *q) {
  struct weft__inject_chunk *c = q->spare;
  if (c)
    q->spare = NULL;
  else if (!(c = weft__alloc(sizeof *c)))
    return NULL;
  c->next = NULL;
  c->head = c->tail = 0;
  if (q->last)
    q->last->next = c;
  else
    q->first = c;
  q->last = c;
  return c;
}

/* Appends up to @n items to the tail chunk(s); returns how many fit. */
static size_t append_locked(struct weft__inject *q, struct weft__runnable **items, size_t n) {
  size_t done = 0;
  while (done < n) {
    struct weft__inject_chunk *c = q->last;
    if (!c || c->tail == WEFT__INJECT_CHUNK) c = new_chunk_locked(q);
    if (!c) break;
    size_t room = WEFT__INJECT_CHUNK - c->tail, k = n - done < room ? n - done : room;
    memcpy(&c->items[c->tail], &items[done], k * sizeof *items);
    c->tail += (unsigned)k;
    done += k;
  }
  return done;
}

void weft__inject_push_array(struct weft__inject *q, struct weft__runnable **items, size_t n) {
  if (!n) return;
  weft__mutex_lock(&q->lock);
  size_t done = append_locked(q, items, n);
  for (size_t i = done; i < n; i++) weft__rlist_push(&q->fallback, items[i]);
  /* seq_cst: see the design comment. */
  atomic_store_explicit(&q->len, atomic_load_explicit(&q->len, memory_order_relaxed) + n,
                        memory_order_seq_cst);
  weft__mutex_unlock(&q->lock);
}

void weft__inject_push(struct weft__inject *q, struct weft__runnable *r) {
  weft__inject_push_array(q, &r, 1);
}

size_t weft__inject_pop_batch(struct weft__inject *q, struct weft__runnable **out, size_t max) {
  if (weft__inject_maybe_empty(q) || !max) return 0;
  size_t n = 0;
  weft__mutex_lock(&q->lock);
  while (n < max && q->first) {
    struct weft__inject_chunk *c = q->first;
    size_t have = c->tail - c->head, k = max - n < have ? max - n : have;
    memcpy(&out[n], &c->items[c->head], k * sizeof *out);
    c->head += (unsigned)k;
    n += k;
    if (c->head == c->tail && (c->tail == WEFT__INJECT_CHUNK || c == q->last)) {
      q->first = c->next;
      if (!q->first) q->last = NULL;
      if (!q->spare)
        q->spare = c;
      else
        weft__free(c, sizeof *c);
    }
  }
  struct weft__runnable *r;
  while (n < max && (r = weft__rlist_pop(&q->fallback))) out[n++] = r;
  /* inside the lock; relaxed is enough for the consumers' side (design comment) */
  atomic_store_explicit(&q->len, atomic_load_explicit(&q->len, memory_order_relaxed) - n,
                        memory_order_relaxed);
  weft__mutex_unlock(&q->lock);
  return n;
}

void weft__inject_drain(struct weft__inject *q,
                        void (*fn)(struct weft__runnable **batch, size_t n, void *arg), void *arg) {
  struct weft__runnable *batch[64];
  size_t n;
  while ((n = weft__inject_pop_batch(q, batch, 64))) fn(batch, n, arg);
}
