/*
 * futex.h - thin wrappers over the futex system call.
 *
 * weft__futex_wait() sleeps while *word == expected, until woken, a signal,
 * or the absolute CLOCK_MONOTONIC deadline (0 = none) passes. Callers always
 * re-check their condition: the kernel may return early.
 */
#ifndef WEFT_RUNTIME_FUTEX_H
#define WEFT_RUNTIME_FUTEX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* One spin-wait step: tells the core we are spinning (pause / yield). */
static inline void weft__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

void weft__futex_wait(_Atomic uint32_t *word, uint32_t expected, uint64_t deadline_ns);
void weft__futex_wake(_Atomic uint32_t *word, int count);
/* Blocks the calling thread until *word is nonzero (read with acquire,
 * pairing with the setter's release store) or the absolute monotonic
 * @deadline_ns (0 = none) passes. Returns 0 or -ETIMEDOUT. */
int weft__futex_wait_nonzero(_Atomic uint32_t *word, uint64_t deadline_ns);
/* A lock word's one try (mutex.h, amutex.h: 0 free, 1 held): CAS 0 -> 1.
 * acquire: pairs with the unlock's release. */
static inline bool weft__futex_try_acquire(_Atomic uint32_t *word) {
  uint32_t expected = 0;
  return atomic_compare_exchange_strong_explicit(word, &expected, 1, memory_order_acquire,
                                                 memory_order_relaxed);
}
/* A lock word's spin phase (mutex.h, amutex.h: 0 free, 1 held): tries to
 * take it (CAS 0 -> 1, acquire) for a bounded number of pause steps while
 * its holder is likely running. True if taken. */
bool weft__futex_spin_acquire(_Atomic uint32_t *word);

#endif
