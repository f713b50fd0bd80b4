/* clock.h - the one clock: CLOCK_MONOTONIC in nanoseconds (vDSO, no syscall),
 * and its coarse twin (the same timeline at the kernel tick's resolution,
 * a few ms, for ~5 ns instead of ~23 on the development VM), which the
 * workers use for "how long has it been waiting" stamps in the dump. */
#ifndef WEFT_RUNTIME_CLOCK_H
#define WEFT_RUNTIME_CLOCK_H
#include <stdint.h>
#include <time.h>

static inline uint64_t weft__clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Orders a clock read with the memory accesses around it, which the CPU
 * does not do by itself: the time-stamp counter is read out of order
 * (Intel SDM, RDTSC: LFENCE after it keeps later loads behind it, and
 * MFENCE;LFENCE before it keeps it behind earlier stores). For the few
 * places whose readers compare a clock read with a count read next to it
 * (worker.h, the worker's times). */
static inline void weft__clock_fence(void) {
#if defined(__x86_64__) || defined(__i386__)
  __asm__ volatile("lfence" ::: "memory");
#elif defined(__aarch64__)
  __asm__ volatile("isb" ::: "memory");
#else
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

static inline uint64_t weft__clock_coarse_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The coarse clock in ms, modulo 2^32 and never 0 (0 means "no stamp" to
 * its readers: the tasks' since_ms, loop->now_ms). */
static inline uint32_t weft__clock_coarse_ms(void) {
  return (uint32_t)(weft__clock_coarse_ns() / 1000000u) | 1u;
}
#endif
