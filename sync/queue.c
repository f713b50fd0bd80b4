/*
 * queue.c - Queue, LifoQueue, PriorityQueue: bounded or not, with
 * task_done/join, Python 3.13's shutdown, and blocking variants for foreign
 * threads.
 *
 * Storage: one array of (item, seq) entries. FIFO uses it as a ring, LIFO as
 * a stack, PRIORITY as a binary min-heap on (cmp, seq), so equal items come
 * out in insertion order. An unbounded queue grows the array by doubling.
 *
 * Waiting is asyncio's wake-and-recheck: a put wakes the oldest getter, a
 * get wakes the oldest putter, and the woken task re-checks the queue. A
 * woken waiter that is cancelled (or times out) instead passes its wake-up
 * to the next waiter of its kind, so no wake-up is lost; a cancelled getter
 * takes nothing, so its item stays queued.
 *
 * Invariants (under m): count <= cap; maxsize == 0 or count <= maxsize;
 * unfinished >= count; getters wait only while count == 0 and not shut down
 * for them, putters only while full and not shut down.
 */
#include "weft.h"
#include "alloc.h"
#include "misuse.h"
#include "task.h"
#include "named.h"
#include "waitlist.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

struct entry {
  void *item;
  uint64_t seq;
};

struct weft_queue {
  struct weft__mutex m;
  WEFT__MAGIC                     /* debug builds: misuse.h */
  _Atomic(const char *) name;     /* weft_queue_set_name; relaxed (the dump reads it) */
  enum weft_queue_kind kind;             /* immutable */
  size_t maxsize;                        /* immutable */
  int (*cmp)(const void *, const void *); /* immutable */
  struct entry *slots;                   /* under m */
  size_t cap, head, count;               /* under m; head is used by FIFO */
  uint64_t seq;                          /* under m */
  size_t unfinished;                     /* under m */
  int shutdown;                          /* under m: 0, 1 (draining), 2 (immediate) */
  struct weft__waitlist getters, putters, joiners; /* under m */
};

int weft_queue_create(enum weft_queue_kind kind, size_t maxsize,
                      int (*cmp)(const void *a, const void *b), weft_queue_t **out) {
  if (!out || kind > WEFT_QUEUE_PRIORITY || (kind == WEFT_QUEUE_PRIORITY) != (cmp != NULL))
    return -EINVAL;
  struct weft_queue *q = weft__calloc(sizeof *q);
  if (!q) return -ENOMEM;
  weft__magic_live(q);
  atomic_init(&q->name, NULL);
  weft__mutex_init(&q->m);
  q->kind = kind;
  q->maxsize = maxsize > SSIZE_MAX ? 0 : maxsize; /* asyncio: maxsize <= 0 is unbounded */
  q->cmp = cmp;
  weft__wl_init(&q->getters);
  weft__wl_init(&q->putters);
  weft__wl_init(&q->joiners);
  *out = q;
  return 0;
}

int weft_queue_destroy(weft_queue_t *q) {
  if (!q) return -EINVAL;
  weft__magic_check(q, "double destroy", "queue");
  weft__mutex_lock(&q->m);
  bool busy = q->getters.count || q->putters.count || q->joiners.count;
  weft__mutex_unlock(&q->m);
  if (busy) return -EBUSY;
  weft__free(q->slots, q->cap * sizeof *q->slots);
  weft__magic_dead(q);
  weft__free(q, sizeof *q);
  return 0;
}

/* ---- storage (under m) ---------------------------------------------------------- */

static bool before(struct weft_queue *q, const struct entry *a, const struct entry *b) {
  int c = q->cmp(a->item, b->item);
  return c < 0 || (c == 0 && a->seq < b->seq);
}

/* head + @i wrapped into the FIFO ring (i < cap): a compare, not a
 * division, which a put and a get each paid inside the lock. */
static size_t ring_at(const struct weft_queue *q, size_t i) {
  size_t at = q->head + i;
  return at < q->cap ? at : at - q->cap;
}

static int grow(struct weft_queue *q) {
  size_t ncap = q->cap ? q->cap * 2 : 16;
  if (q->maxsize && ncap > q->maxsize) ncap = q->maxsize;
  struct entry *n = weft__alloc(ncap * sizeof *n);
  if (!n) return -ENOMEM;
  for (size_t i = 0; i < q->count; i++) /* unroll the FIFO ring */
    n[i] = q->slots[q->kind == WEFT_QUEUE_FIFO ? ring_at(q, i) : i];
  weft__free(q->slots, q->cap * sizeof *q->slots);
  q->slots = n;
  q->cap = ncap;
  q->head = 0;
  return 0;
}

/* The heap's halves of push and pop, out of line: their loops need
 * registers that the FIFO and LIFO paths would otherwise save and restore
 * on every item (queue_mpmc, benchmarks/RESULTS.md 2026-12-02 15:49Z). */
static __attribute__((noinline)) void heap_push(struct weft_queue *q, void *item) {
  struct entry e = {item, q->seq++}; /* equal items leave in insertion order */
  size_t i = q->count; /* sift up */
  while (i > 0 && before(q, &e, &q->slots[(i - 1) / 2])) {
    q->slots[i] = q->slots[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  q->slots[i] = e;
}

/* Called with count already one less: takes the root, sifts the last down. */
static __attribute__((noinline)) void *heap_pop(struct weft_queue *q) {
  void *item = q->slots[0].item;
  struct entry last = q->slots[q->count];
  size_t i = 0; /* sift down */
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= q->count) break;
    if (c + 1 < q->count && before(q, &q->slots[c + 1], &q->slots[c])) c++;
    if (!before(q, &q->slots[c], &last)) break;
    q->slots[i] = q->slots[c];
    i = c;
  }
  if (q->count) q->slots[i] = last;
  return item;
}

static inline int push(struct weft_queue *q, void *item) {
  if (__builtin_expect(q->count == q->cap, 0) && grow(q)) return -ENOMEM;
  if (q->kind == WEFT_QUEUE_FIFO) q->slots[ring_at(q, q->count)].item = item;
  else if (q->kind == WEFT_QUEUE_LIFO) q->slots[q->count].item = item;
  else heap_push(q, item);
  q->count++;
  q->unfinished++;
  return 0;
}

static inline void *pop(struct weft_queue *q) {
  void *item;
  q->count--;
  if (q->kind == WEFT_QUEUE_FIFO) {
    item = q->slots[q->head].item;
    q->head = ring_at(q, 1);
  } else if (q->kind == WEFT_QUEUE_LIFO) {
    item = q->slots[q->count].item;
  } else {
    item = heap_pop(q);
  }
  return item;
}

static bool full(struct weft_queue *q) { return q->maxsize && q->count >= q->maxsize; }

/* ---- put / get --------------------------------------------------------------------- */

static int put_locked(struct weft_queue *q, void *item) {
  int rc = push(q, item);
  if (!rc) weft__wl_wake_one(&q->getters, NULL, 0);
  return rc;
}

/* put and get are inlined into their task and thread-safe entry points:
 * one call frame per item, not two. */
static inline __attribute__((always_inline)) int put(struct weft_queue *q, void *item,
                                                     int64_t timeout_ns, enum weft__wait_mode mode) {
  if (!q) return -EINVAL;
  int rc = weft__wl_can_wait(mode);
  if (rc) return rc;
  uint64_t deadline = weft__deadline(timeout_ns);
  weft__mutex_lock(&q->m);
  for (;;) {
    if (q->shutdown) {
      rc = WEFT_ESHUTDOWN;
      break;
    }
    if (!full(q)) {
      rc = put_locked(q, item);
      break;
    }
    struct weft__waiter_node w;
    weft__task_blocked_named(weft__task_self(), WEFT__BLOCK_QUEUE_PUT, q, 0,
                         weft__name_get(&q->name));
    rc = weft__wl_wait(&q->m, &q->putters, &w, mode, deadline);
    if (rc) {
      if (atomic_load_explicit(&w.granted, memory_order_acquire) && !full(q))
        weft__wl_wake_one(&q->putters, NULL, 0); /* pass the wake-up on */
      break;
    }
  }
  weft__mutex_unlock(&q->m);
  return rc;
}

static inline __attribute__((always_inline)) int get(struct weft_queue *q, void **out,
                                                     int64_t timeout_ns, enum weft__wait_mode mode) {
  if (!q || !out) return -EINVAL;
  int rc = weft__wl_can_wait(mode);
  if (rc) return rc;
  uint64_t deadline = weft__deadline(timeout_ns);
  weft__mutex_lock(&q->m);
  for (;;) {
    if (q->count) {
      *out = pop(q);
      weft__wl_wake_one(&q->putters, NULL, 0);
      rc = 0;
      break;
    }
    if (q->shutdown) {
      rc = WEFT_ESHUTDOWN;
      break;
    }
    struct weft__waiter_node w;
    weft__task_blocked_named(weft__task_self(), WEFT__BLOCK_QUEUE_GET, q, 0,
                         weft__name_get(&q->name));
    rc = weft__wl_wait(&q->m, &q->getters, &w, mode, deadline);
    if (rc) {
      if (atomic_load_explicit(&w.granted, memory_order_acquire) && q->count)
        weft__wl_wake_one(&q->getters, NULL, 0); /* the item stays; pass the wake-up on */
      break;
    }
  }
  weft__mutex_unlock(&q->m);
  return rc;
}

int weft_queue_put(weft_queue_t *q, void *item, int64_t timeout_ns) {
  return put(q, item, timeout_ns, WEFT__WAIT_TASK);
}

int weft_queue_get(weft_queue_t *q, void **out, int64_t timeout_ns) {
  return get(q, out, timeout_ns, WEFT__WAIT_TASK);
}

int weft_queue_put_threadsafe(weft_queue_t *q, void *item, int64_t timeout_ns) {
  return put(q, item, timeout_ns, WEFT__WAIT_ANY);
}

int weft_queue_get_threadsafe(weft_queue_t *q, void **out, int64_t timeout_ns) {
  return get(q, out, timeout_ns, WEFT__WAIT_ANY);
}

int weft_queue_put_nowait(weft_queue_t *q, void *item) {
  if (!q) return -EINVAL;
  weft__mutex_lock(&q->m);
  int rc = q->shutdown ? WEFT_ESHUTDOWN : full(q) ? -EAGAIN : put_locked(q, item);
  weft__mutex_unlock(&q->m);
  return rc;
}

int weft_queue_get_nowait(weft_queue_t *q, void **out) {
  if (!q || !out) return -EINVAL;
  weft__mutex_lock(&q->m);
  int rc = 0;
  if (q->count) {
    *out = pop(q);
    weft__wl_wake_one(&q->putters, NULL, 0);
  } else {
    rc = q->shutdown ? WEFT_ESHUTDOWN : -EAGAIN;
  }
  weft__mutex_unlock(&q->m);
  return rc;
}

/* ---- sizes, task_done, join, shutdown ------------------------------------------------ */

size_t weft_queue_qsize(weft_queue_t *q) {
  if (!q) return 0;
  weft__mutex_lock(&q->m);
  size_t n = q->count;
  weft__mutex_unlock(&q->m);
  return n;
}

int weft_queue_empty(weft_queue_t *q) { return weft_queue_qsize(q) == 0; }

int weft_queue_full(weft_queue_t *q) {
  if (!q) return 0;
  weft__mutex_lock(&q->m);
  int v = full(q);
  weft__mutex_unlock(&q->m);
  return v;
}

size_t weft_queue_maxsize(weft_queue_t *q) { return q ? q->maxsize : 0; }

int weft_queue_task_done(weft_queue_t *q) {
  if (!q) return -EINVAL;
  weft__mutex_lock(&q->m);
  int rc = q->unfinished > 0 ? 0 : -EINVAL;
  if (!rc && --q->unfinished == 0) weft__wl_wake_all(&q->joiners, 0);
  weft__mutex_unlock(&q->m);
  return rc;
}

int weft_queue_join(weft_queue_t *q, int64_t timeout_ns) {
  if (!q) return -EINVAL;
  int rc = weft__wl_can_wait(WEFT__WAIT_TASK);
  if (rc) return rc;
  uint64_t deadline = weft__deadline(timeout_ns);
  weft__mutex_lock(&q->m);
  while (q->unfinished && !rc) {
    struct weft__waiter_node w;
    weft__task_blocked_named(weft__task_self(), WEFT__BLOCK_QUEUE_JOIN, q, 0,
                         weft__name_get(&q->name));
    rc = weft__wl_wait(&q->m, &q->joiners, &w, WEFT__WAIT_TASK, deadline);
  }
  weft__mutex_unlock(&q->m);
  return rc;
}

int weft_queue_shutdown(weft_queue_t *q, int immediate) {
  if (!q) return -EINVAL;
  weft__mutex_lock(&q->m);
  q->shutdown = immediate ? 2 : (q->shutdown ? q->shutdown : 1);
  if (immediate) {
    /* The items left are dropped and count as done (asyncio 3.13). */
    q->unfinished -= q->count < q->unfinished ? q->count : q->unfinished;
    q->count = 0;
    q->head = 0;
    if (!q->unfinished) weft__wl_wake_all(&q->joiners, 0);
  }
  weft__wl_wake_all(&q->getters, 0); /* they re-check: empty and shut down fails */
  weft__wl_wake_all(&q->putters, 0);
  weft__mutex_unlock(&q->m);
  return 0;
}

int weft_queue_set_name(weft_queue_t *q, const char *name) {
  return q ? weft__name_set(&q->name, name) : -EINVAL;
}

const char *weft_queue_name(weft_queue_t *q) {
  return q ? weft__name_get(&q->name) : NULL;
}
