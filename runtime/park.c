/*
 * park.c - the parker (see park.h).
 *
 * Protocol: the owner moves EMPTY -> PARKED and sleeps in its reactor;
 * unpark stores NOTIFIED and kicks the reactor only if it saw PARKED. The
 * owner goes back to EMPTY on its way out, whatever woke it (a kick, an I/O
 * completion, the deadline): its caller re-checks every source of work.
 * A kick that lands after the owner woke for another reason leaves the
 * eventfd readable, so the next wait returns at once: one spurious pass,
 * never a lost wake-up.
 * Orderings: unpark's exchange is release and the owner's exchanges are
 * acquire, so whatever the unparker wrote before unparking (queued work) is
 * visible to the woken worker.
 */
#include "park.h"
#include "reactor.h"

enum { EMPTY = 0, PARKED = 1, NOTIFIED = 2 };

void weft__park_init(struct weft__park *p, struct weft__reactor *r) {
  atomic_init(&p->state, EMPTY);
  atomic_init(&p->kicks, 0);
  p->reactor = r;
}

void weft__park_wait(struct weft__park *p, uint64_t deadline_ns) {
  uint32_t expected = EMPTY;
  /* acquire on failure: we saw NOTIFIED, consume it below. */
  if (atomic_compare_exchange_strong_explicit(&p->state, &expected, PARKED,
                                              memory_order_acquire, memory_order_acquire))
    weft__reactor_wait(p->reactor, deadline_ns);
  /* acquire: pairs with the release exchange in weft__park_unpark. */
  atomic_exchange_explicit(&p->state, EMPTY, memory_order_acquire);
}

void weft__park_unpark(struct weft__park *p) {
  /* release: publishes the work that made us unpark the worker. */
  if (atomic_exchange_explicit(&p->state, NOTIFIED, memory_order_release) == PARKED) {
    atomic_fetch_add_explicit(&p->kicks, 1, memory_order_relaxed); /* a statistic */
    weft__reactor_kick(p->reactor);
  }
}
