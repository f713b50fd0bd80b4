/* lock.h (private) - what cond.c needs from lock.c. */
#ifndef WEFT_SYNC_LOCK_H
#define WEFT_SYNC_LOCK_H
#include <stdbool.h>
#include "weft.h"
#include "waitlist.h"
int weft__lock_acquire_mode(struct weft_lock *l, int64_t timeout_ns, enum weft__wait_mode mode);
bool weft__lock_owned(struct weft_lock *l);
/* Queues @w (initialised for its task, not linked) for @l: it is granted
 * the lock in FIFO order with the other waiters, or at once if @l is free.
 * The caller of a notify holds @l, so the waiter queues behind it. */
void weft__lock_enqueue(struct weft_lock *l, struct weft__waiter_node *w);
/* Waits, without cancellation, until @w (queued by weft__lock_enqueue) is
 * granted; returns holding @l. */
void weft__lock_await(struct weft_lock *l, struct weft__waiter_node *w);
/* A barging waiter that has waited longer than this (ns) and loses a try
 * turns the lock to hand-offs (lock.c). 1 ms; written only by tests, while
 * no loop runs. */
extern uint64_t weft__lock_starving_ns;
#endif
