/*
 * park.c - the futex parker (see park.h).
 *
 * Protocol: the owner moves EMPTY -> PARKED and sleeps while the word is
 * PARKED; unpark stores NOTIFIED and wakes the futex only if it saw PARKED.
 * The owner consumes NOTIFIED (-> EMPTY) on its way out.
 * Orderings: unpark's exchange is release and the owner's consuming exchange
 * is acquire, so whatever the unparker wrote before unparking (queued work)
 * is visible to the woken worker.
 */
#include "park.h"
#include "futex.h"
#include "clock.h"

enum { EMPTY = 0, PARKED = 1, NOTIFIED = 2 };

void weft__park_init(struct weft__park *p) { atomic_init(&p->state, EMPTY); }

void weft__park_wait(struct weft__park *p, uint64_t deadline_ns) {
  uint32_t expected = EMPTY;
  /* acquire on failure: we saw NOTIFIED, consume it below. */
  if (!atomic_compare_exchange_strong_explicit(&p->state, &expected, PARKED,
                                               memory_order_acquire, memory_order_acquire)) {
    atomic_exchange_explicit(&p->state, EMPTY, memory_order_acquire); /* was NOTIFIED */
    return;
  }
  for (;;) {
    weft__futex_wait(&p->state, PARKED, deadline_ns);
    /* acquire: pairs with the release exchange in weft__park_unpark. */
    if (atomic_load_explicit(&p->state, memory_order_acquire) == NOTIFIED) break;
    if (deadline_ns && weft__clock_ns() >= deadline_ns) break;
    /* a spurious return (signal): sleep again */
  }
  atomic_exchange_explicit(&p->state, EMPTY, memory_order_acquire);
}

void weft__park_unpark(struct weft__park *p) {
  /* release: publishes the work that made us unpark the worker. */
  if (atomic_exchange_explicit(&p->state, NOTIFIED, memory_order_release) == PARKED)
    weft__futex_wake(&p->state, 1);
}
