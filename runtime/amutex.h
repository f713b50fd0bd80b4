/*
 * amutex.h - a 4-byte futex mutex whose unlock is a plain store: the
 * future's lock.
 *
 * Every await that waits and every completion takes its future's lock once
 * and gives it back once. mutex.h's unlock is an exchange (a locked
 * instruction, ~5 ns on the development host: benchmarks/RESULTS.md,
 * 2026-12-04) because it must learn whether anyone sleeps on the word.
 * Here a sleeper announces itself elsewhere, in a counter the unlocker
 * reads after its store, and the two sides are ordered asymmetrically: the
 * unlocker's side, taken on every unlock, has no fence; the sleeper's side,
 * taken only after spinning failed, pays a process-wide barrier
 * (membarrier(2), MEMBARRIER_CMD_PRIVATE_EXPEDITED). That barrier makes
 * every running thread of the process execute a full memory barrier, which
 * is what the missing fence on the unlock side would have provided:
 *
 *   unlock:  store word = 0 (release); compiler barrier; load sleepers[h];
 *            if nonzero, futex-wake one waiter on word.
 *   sleep:   sleepers[h] += 1; membarrier; until CAS word 0 -> 1 succeeds,
 *            futex-wait while word == 1; sleepers[h] -= 1.
 *
 * (The membarrier(2) man page's fast path / slow path pattern.) Either the
 * unlocker sees the increment, and wakes, or the sleeper's CAS or its
 * futex check sees the unlock: no wake-up is lost. Where membarrier is
 * not available (old kernels, sandboxes, valgrind), the four accesses are
 * seq_cst instead, the symmetric Dekker pattern: correct, and the unlock
 * then costs what mutex.h's does.
 *
 * Invariants: word is 0 (free) or 1 (held); only the holder stores 0; a
 * thread that may futex-wait on word has counted itself in sleepers[h]
 * (h: the lock's address hashed to one of WEFT__AMUTEX_BUCKETS counters)
 * and run the heavy barrier before its first look at word. Locks sharing
 * a counter cost each other a futex wake system call per unlock while one
 * of them has a sleeper (64 counters: rare, and only while a sleep lasts).
 *
 * Orderings: the acquiring CAS is acquire and the unlocking store is
 * release, so a critical section happens-before the next one, as in
 * mutex.h. Unlock's last touch of the lock's memory is its store: the
 * futex wake after it is a system call on the address, harmless if the
 * memory was freed meanwhile (a future's free waits for word == 0:
 * future.h, Freeing).
 */
#ifndef WEFT_RUNTIME_AMUTEX_H
#define WEFT_RUNTIME_AMUTEX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "futex.h"

struct weft__amutex {
  _Atomic uint32_t word;
};

enum { WEFT__AMUTEX_BUCKETS = 64 };

/* Sleepers per bucket; 256 bytes, read by every unlock, written only when
 * a lock is slept on. */
extern _Atomic uint32_t weft__amutex_sleepers[WEFT__AMUTEX_BUCKETS];
/* Whether the sleepers' barrier is membarrier(2) (set once, before any
 * sleeper relies on it; never cleared): then the unlock needs no fence. */
extern _Atomic bool weft__amutex_asymmetric;

void weft__amutex_lock_slow(struct weft__amutex *m);
/* Registers the process for membarrier(2) once (every loop's creation
 * calls it), so that unlocks skip their fence from then on; without it,
 * the first sleeper registers. Safe to call from any thread, any time. */
void weft__amutex_setup(void);

static inline void weft__amutex_init(struct weft__amutex *m) { atomic_init(&m->word, 0); }

static inline _Atomic uint32_t *weft__amutex_bucket(const struct weft__amutex *m) {
  /* Fibonacci hashing of the address: futures sit 64 bytes apart or more. */
  uint64_t h = ((uint64_t)(uintptr_t)m >> 4) * 0x9E3779B97F4A7C15ull;
  return &weft__amutex_sleepers[h >> 58];
}

static inline void weft__amutex_lock(struct weft__amutex *m) {
  if (__builtin_expect(weft__futex_try_acquire(&m->word), 1)) return; /* pairs with the unlock */
  weft__amutex_lock_slow(m);
}

static inline void weft__amutex_unlock(struct weft__amutex *m) {
  _Atomic uint32_t *sleepers = weft__amutex_bucket(m);
  /* The light side of the barrier pair (design comment): the store must
   * not be ordered after the load of the sleepers' count. relaxed flag: it
   * only ever goes false -> true, and a stale false takes the seq_cst
   * store, which is always enough. */
  if (__builtin_expect(atomic_load_explicit(&weft__amutex_asymmetric, memory_order_relaxed), 1)) {
    /* release: publishes the critical section to the next acquirer. The
     * signal fence keeps the compiler's order; the sleeper's membarrier
     * does the rest. */
    atomic_store_explicit(&m->word, 0, memory_order_release);
    atomic_signal_fence(memory_order_seq_cst);
  } else {
    /* seq_cst: the symmetric Dekker pattern with the sleeper's seq_cst
     * increment and look at the word (an exchange on x86, as mutex.h's). */
    atomic_store_explicit(&m->word, 0, memory_order_seq_cst);
  }
  /* seq_cst: the fallback's load half (a plain load on x86). */
  if (__builtin_expect(atomic_load_explicit(sleepers, memory_order_seq_cst) != 0, 0))
    weft__futex_wake(&m->word, 1);
}

#endif
