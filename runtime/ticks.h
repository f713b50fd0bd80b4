/*
 * ticks.h - the accounting clock (per-task times, weft_task_get_stats).
 *
 * The CPU's time-stamp counter where the kernel itself keeps time with it
 * (x86-64 whose clocksource is "tsc": ~12 ns a read on the development VM
 * against ~25 for clock_gettime), else CLOCK_MONOTONIC in ns. Ticks are
 * only ever subtracted from ticks and turned into ns when someone reads
 * them (weft__ticks_to_ns), with the ratio measured against
 * CLOCK_MONOTONIC between the first loop's creation and that read.
 *
 * Invariants: weft__ticks_init runs (once per process) before any worker
 * or waker reads the clock: weft_loop_new calls it. The kernel picks the
 * tsc clocksource only when the counter is invariant and synchronized
 * across CPUs, so a difference taken on two CPUs is meaningful; one that
 * comes out negative anyway counts as 0 (callers check).
 */
#ifndef WEFT_RUNTIME_TICKS_H
#define WEFT_RUNTIME_TICKS_H
#include "clock.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

/* true: weft__ticks reads the TSC. Written once under pthread_once before
 * any reader exists; relaxed loads are plain moves. */
extern _Atomic bool weft__ticks_tsc;

static inline uint64_t weft__ticks(void) {
#if defined(__x86_64__)
  if (__builtin_expect(atomic_load_explicit(&weft__ticks_tsc, memory_order_relaxed), 1))
    return __rdtsc();
#endif
  return weft__clock_ns();
}

/* Chooses the counter (once per process; any thread). */
void weft__ticks_init(void);

/* What one weft__ticks() costs here, in ns (measured once; at least 1). */
uint32_t weft__ticks_read_ns(void);

/* @ticks (a difference of weft__ticks values) in ns. */
uint64_t weft__ticks_to_ns(uint64_t ticks);
/* @ns as a number of ticks: the inverse, with the same accuracy (it reads
 * CLOCK_MONOTONIC too, so not for a hot path). */
uint64_t weft__ticks_from_ns(uint64_t ns);

#endif
