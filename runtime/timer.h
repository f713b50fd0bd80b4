/*
 * timer.h - per-worker timer heaps (four-ary). See timer.c.
 */
#ifndef WEFT_RUNTIME_TIMER_H
#define WEFT_RUNTIME_TIMER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "amutex.h"

#define WEFT__TIMER_IDLE UINT32_MAX

struct weft__timers;

struct weft__timer {
  uint32_t index;               /* heap slot, or WEFT__TIMER_IDLE; under owner->lock */
  struct weft__timers *owner;   /* the heap it is (or was last) in */
  /* Called with owner->lock held, after the timer left the heap. */
  void (*fire)(struct weft__timer *t);
};

/* A heap slot: the timer's key beside it, so sifts compare in the array. */
struct weft__timer_slot {
  uint64_t deadline;             /* absolute monotonic ns */
  uint64_t seq;                  /* insertion order: ties fire FIFO */
  struct weft__timer *t;
};

struct weft__timers {
  struct weft__amutex lock;      /* unlock a plain store (amutex.h) */
  struct weft__timer_slot *heap; /* protected by lock */
  uint32_t len, cap;             /* protected by lock */
  uint64_t seq;                  /* protected by lock */
  _Atomic uint64_t next;         /* earliest deadline or UINT64_MAX; hint for lock-free checks */
};

void weft__timers_init(struct weft__timers *ts);
void weft__timers_fini(struct weft__timers *ts);

static inline void weft__timer_init(struct weft__timer *t, void (*fire)(struct weft__timer *)) {
  t->index = WEFT__TIMER_IDLE;
  t->owner = 0;
  t->fire = fire;
}

/* Arms @t in @ts. Returns 0 or -ENOMEM. Any thread. */
int weft__timers_add(struct weft__timers *ts, struct weft__timer *t, uint64_t deadline);
/* Disarms @t if still armed; returns true if it was. Any thread. When it
 * returns, @t's fire callback is not running and will not run. */
bool weft__timers_cancel(struct weft__timer *t);
/* Fires every timer due at @now; returns how many fired. Owner worker. */
unsigned weft__timers_run(struct weft__timers *ts, uint64_t now);
/* Earliest deadline (UINT64_MAX if none); a lock-free hint. */
static inline uint64_t weft__timers_next(struct weft__timers *ts) {
  /* acquire: pairs with the release store made under the heap's lock. */
  return atomic_load_explicit(&ts->next, memory_order_acquire);
}
/* Removes every timer and returns them through @visit (no fire). Owner, loop stopped. */
void weft__timers_drain(struct weft__timers *ts, void (*visit)(struct weft__timer *t));

#endif
