/* clock.h - the one clock: CLOCK_MONOTONIC in nanoseconds (vDSO, no syscall). */
#ifndef WEFT_RUNTIME_CLOCK_H
#define WEFT_RUNTIME_CLOCK_H
#include <stdint.h>
#include <time.h>

static inline uint64_t weft__clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif
