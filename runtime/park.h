/*
 * park.h - put one worker thread to sleep until it is unparked or a deadline.
 *
 * Tokio's parker on a futex: state EMPTY, PARKED or NOTIFIED. unpark() before
 * park() is not lost: park() then returns at once. This is the only place a
 * worker blocks; the io_uring reactor replaces weft__park_wait with a wait in
 * the worker's ring (deadline = next timer) and weft__park_unpark with a
 * message to that ring, without touching the protocol above it (idle.c).
 */
#ifndef WEFT_RUNTIME_PARK_H
#define WEFT_RUNTIME_PARK_H

#include <stdatomic.h>
#include <stdint.h>

struct weft__park {
  _Atomic uint32_t state;
};

void weft__park_init(struct weft__park *p);
/* Sleeps until unparked or until the absolute monotonic @deadline_ns (0 =
 * none). Returns early on a pending unpark. Owner thread only. */
void weft__park_wait(struct weft__park *p, uint64_t deadline_ns);
/* Any thread. */
void weft__park_unpark(struct weft__park *p);

#endif
