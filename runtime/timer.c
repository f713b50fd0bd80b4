/*
 * timer.c - a four-ary min-heap of timers per worker.
 *
 * Insert and cancel are O(log n): each timer records its heap index. Ties on
 * the deadline fire in insertion order (seq), so with one worker timers are
 * deterministic. A timer is armed on the heap of the worker that armed it and
 * fires there; it may be cancelled from any thread, hence the heap's mutex
 * (uncontended in the common case: a sleeping task cancels its own timer on
 * the worker it resumed on, usually the same one). The mutex is the
 * futures' amutex (amutex.h), whose unlock is a plain store: every timed
 * wait adds and cancels, two locked instructions less than mutex.h's
 * exchange (wait_for_overhead 0.88x the time with one worker;
 * benchmarks/RESULTS.md, 2026-12-06 00:00Z).
 *
 * The heap's slots hold each timer's key (deadline, seq) beside its
 * pointer, so a sift compares within the heap's own array: the timers live
 * on fiber stacks, one page apart, and comparing through the pointer cost
 * a cache miss per step once thousands are armed (a server's read
 * deadlines, the timers workload). A step that moves a slot still writes
 * the timer's index, the one line of the timer a sift touches: a cold line
 * on another stack. Four children per node (Go's timer heaps have the
 * same arity) halve the levels a pop walks down, so half those writes;
 * the four children sit side by side (96 bytes), so a level's comparisons
 * read one or two adjacent lines. Measured (benchmarks/RESULTS.md,
 * 2026-12-06 23:24Z): timers_steady (100,000 armed, the whole sleep path)
 * 0.93x the time with one worker, 0.95x with two; the heap alone level
 * with the binary one up to 100,000 timers, ahead at a million. A
 * position table (the index kept in an array beside the heap, under an id
 * the timer gets when armed, so a sift writes no timer) was tried with it
 * and dropped: ~2 ns more per add and cancel on small heaps, no clear gain
 * on large ones (the fired timer's own line and its task's wake-up are
 * most of a large heap's pop).
 *
 * Invariants (under lock): heap[i].t->index == i; the heap property on
 * (deadline, seq): no slot is before its parent, (i - 1) / ARITY;
 * next == heap[0].deadline or UINT64_MAX when empty. heap_ok() checks the
 * first two over a bounded prefix after each change (invariant.h).
 * A fire callback runs with the lock held, so a concurrent cancel either
 * removes the timer first or waits until the callback returned: a timer that
 * lives on a fiber's stack is never touched after its owner cancelled it.
 *
 * Rejected: a hashed timing wheel (O(1) but coarse-grained and it needs a
 * ticking thread or per-tick work while idle); lazy deletion (timers on fiber
 * stacks would be read after their frame is gone).
 */
#include "timer.h"
#include "alloc.h"
#include "invariant.h"

#include <errno.h>

enum { ARITY = 4 };

static inline bool before(const struct weft__timer_slot *a, const struct weft__timer_slot *b) {
  return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static inline uint32_t parent_of(uint32_t i) { return (i - 1) / ARITY; }

static inline void place(struct weft__timers *ts, uint32_t i, struct weft__timer_slot s) {
  ts->heap[i] = s;
  s.t->index = i;
}

/* The heap's invariants over its first WEFT__CHECK_WALK slots (a bounded
 * check, invariant.h). */
WEFT__CHECKER bool heap_ok(const struct weft__timers *ts) {
  uint32_t n = ts->len < WEFT__CHECK_WALK ? ts->len : WEFT__CHECK_WALK;
  for (uint32_t i = 0; i < n; i++) {
    if (ts->heap[i].t->index != i) return false;
    if (i > 0 && before(&ts->heap[i], &ts->heap[parent_of(i)])) return false;
  }
  return ts->len <= ts->cap;
}

static void sift_up(struct weft__timers *ts, uint32_t i) {
  struct weft__timer_slot s = ts->heap[i];
  while (i > 0) {
    uint32_t parent = parent_of(i);
    if (!before(&s, &ts->heap[parent])) break;
    place(ts, i, ts->heap[parent]);
    i = parent;
  }
  place(ts, i, s);
}

static void sift_down(struct weft__timers *ts, uint32_t i) {
  struct weft__timer_slot s = ts->heap[i];
  for (;;) {
    uint32_t first = ARITY * i + 1;
    if (first >= ts->len) break;
    uint32_t end = first + ARITY < ts->len ? first + ARITY : ts->len;
    uint32_t c = first;
    for (uint32_t k = first + 1; k < end; k++)
      if (before(&ts->heap[k], &ts->heap[c])) c = k;
    if (!before(&ts->heap[c], &s)) break;
    place(ts, i, ts->heap[c]);
    i = c;
  }
  place(ts, i, s);
}

static void publish_next(struct weft__timers *ts) {
  /* release: a worker reading the hint also sees the heap it summarizes. */
  atomic_store_explicit(&ts->next, ts->len ? ts->heap[0].deadline : UINT64_MAX,
                        memory_order_release);
}

static void remove_at(struct weft__timers *ts, uint32_t i) {
  ts->heap[i].t->index = WEFT__TIMER_IDLE;
  ts->len--;
  if (i != ts->len) {
    place(ts, i, ts->heap[ts->len]);
    if (i > 0 && before(&ts->heap[i], &ts->heap[parent_of(i)]))
      sift_up(ts, i);
    else
      sift_down(ts, i);
  }
}

void weft__timers_init(struct weft__timers *ts) {
  weft__amutex_init(&ts->lock);
  ts->heap = NULL;
  ts->len = ts->cap = 0;
  ts->seq = 0;
  atomic_init(&ts->next, UINT64_MAX);
}

void weft__timers_fini(struct weft__timers *ts) {
  weft__free(ts->heap, ts->cap * sizeof(*ts->heap));
  ts->heap = NULL;
  ts->len = ts->cap = 0;
}

int weft__timers_add(struct weft__timers *ts, struct weft__timer *t, uint64_t deadline) {
  weft__amutex_lock(&ts->lock);
  if (ts->len == ts->cap) {
    uint32_t ncap = ts->cap ? ts->cap * 2 : 64;
    void *n = weft__realloc(ts->heap, ts->cap * sizeof(*ts->heap), ncap * sizeof(*ts->heap));
    if (!n) {
      weft__amutex_unlock(&ts->lock);
      return -ENOMEM;
    }
    ts->heap = n;
    ts->cap = ncap;
  }
  t->owner = ts;
  ts->heap[ts->len++] = (struct weft__timer_slot){.deadline = deadline, .seq = ts->seq++, .t = t};
  sift_up(ts, ts->len - 1);
  publish_next(ts);
  WEFT__INVARIANT(heap_ok(ts));
  weft__amutex_unlock(&ts->lock);
  return 0;
}

bool weft__timers_cancel(struct weft__timer *t) {
  struct weft__timers *ts = t->owner;
  if (!ts) return false; /* never armed */
  weft__amutex_lock(&ts->lock);
  bool armed = t->index != WEFT__TIMER_IDLE;
  if (armed) {
    remove_at(ts, t->index);
    publish_next(ts);
    WEFT__INVARIANT(heap_ok(ts));
  }
  weft__amutex_unlock(&ts->lock);
  return armed;
}

unsigned weft__timers_run(struct weft__timers *ts, uint64_t now) {
  if (weft__timers_next(ts) > now) return 0;
  unsigned n = 0;
  weft__amutex_lock(&ts->lock);
  while (ts->len && ts->heap[0].deadline <= now) {
    struct weft__timer *t = ts->heap[0].t;
    remove_at(ts, 0);
    WEFT__INVARIANT(heap_ok(ts));
    /* The next due timer's line (on its fiber's stack, cold) comes in
     * while this one's callback wakes its task. */
    if (ts->len) __builtin_prefetch(ts->heap[0].t);
    t->fire(t);
    n++;
  }
  publish_next(ts);
  weft__amutex_unlock(&ts->lock);
  return n;
}

void weft__timers_drain(struct weft__timers *ts, void (*visit)(struct weft__timer *t)) {
  weft__amutex_lock(&ts->lock);
  while (ts->len) {
    struct weft__timer *t = ts->heap[ts->len - 1].t;
    t->index = WEFT__TIMER_IDLE;
    ts->len--;
    visit(t);
  }
  publish_next(ts);
  weft__amutex_unlock(&ts->lock);
}
