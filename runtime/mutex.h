/*
 * mutex.h - a 4-byte futex mutex for short critical sections.
 *
 * Futures, timer heaps, queues and the idle set each hold one. pthread_mutex_t
 * is 40 bytes and a million futures would pay for it; this one is Drepper's
 * three-state mutex ("Futexes Are Tricky", mutex3): 0 unlocked, 1 locked,
 * 2 locked with possible sleepers. Uncontended lock and unlock are one atomic
 * RMW each; a contended lock spins briefly (the holder is usually running
 * and about to leave), then sleeps in the kernel.
 *
 * Orderings: the acquiring CAS/exchange is acquire and the releasing exchange
 * is release, so everything written inside a critical section happens-before
 * everything read in the next one.
 */
#ifndef WEFT_RUNTIME_MUTEX_H
#define WEFT_RUNTIME_MUTEX_H

#include <stdatomic.h>
#include <stdint.h>
#include "futex.h"

struct weft__mutex {
  _Atomic uint32_t word;
};

#define WEFT__MUTEX_INIT {0}

void weft__mutex_lock_slow(struct weft__mutex *m);

static inline void weft__mutex_init(struct weft__mutex *m) { atomic_init(&m->word, 0); }

static inline void weft__mutex_lock(struct weft__mutex *m) {
  if (__builtin_expect(weft__futex_try_acquire(&m->word), 1)) return; /* pairs with the unlock */
  weft__mutex_lock_slow(m);
}

static inline void weft__mutex_unlock(struct weft__mutex *m) {
  /* release: publishes the critical section to the next acquirer. */
  if (atomic_exchange_explicit(&m->word, 0, memory_order_release) == 2)
    weft__futex_wake(&m->word, 1);
}

#endif
