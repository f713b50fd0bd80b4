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
