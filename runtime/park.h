/*
 * park.h - put one worker thread to sleep until it is unparked, an I/O
 * completion arrives, or a deadline.
 *
 * Tokio's parker: state EMPTY, PARKED or NOTIFIED, so unpark() before park()
 * is not lost (park() then returns at once) and an unpark costs a system
 * call only when the worker really sleeps. The sleeping itself happens in
 * the worker's reactor (io/reactor.h): a wait in its io_uring ring or epoll
 * set, with the next timer as the deadline; unpark kicks the reactor's
 * eventfd. So one wait covers work from other threads, timers and I/O.
 */
#ifndef WEFT_RUNTIME_PARK_H
#define WEFT_RUNTIME_PARK_H

#include <stdatomic.h>
#include <stdint.h>

struct weft__reactor;

struct weft__park {
  _Atomic uint32_t state;
  struct weft__reactor *reactor; /* immutable after init */
  _Atomic uint64_t kicks;        /* unparks that woke a sleeper (a statistic) */
};

void weft__park_init(struct weft__park *p, struct weft__reactor *r);
/* Sleeps until unparked, an I/O completion, or the absolute monotonic
 * @deadline_ns (0 = none); completions are delivered before it returns.
 * Returns early on a pending unpark; may return spuriously. Owner thread. */
void weft__park_wait(struct weft__park *p, uint64_t deadline_ns);
/* Any thread. */
void weft__park_unpark(struct weft__park *p);

#endif
