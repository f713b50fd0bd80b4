/*
 * deadline.h (private) - the one place a relative timeout becomes an
 * absolute deadline, and a deadline becomes time left.
 *
 * Deadlines are absolute CLOCK_MONOTONIC nanoseconds (clock.h); 0 means
 * "none" everywhere in the tree (timers, task waits, futex waits, linked
 * timeouts).
 *
 * The rule, for every timeout a public function takes:
 *  - negative: no limit (asyncio's timeout=None): weft__deadline() is 0;
 *  - zero: already expired, but checked only after one look: the operation
 *    is tried (a future's state read, a lock tried, a request issued) and
 *    fails with -ETIMEDOUT only if it would have to wait (asyncio's
 *    wait_for(timeout=0) / timeout(0));
 *  - positive: now + timeout, saturating.
 * A deadline is never 0 once a timeout was given, so "expire at once" and
 * "none" cannot be confused. Delays (sleep, call_later) are not timeouts:
 * a delay in the past means "now" and is handled where it is taken.
 */
#ifndef WEFT_RUNTIME_DEADLINE_H
#define WEFT_RUNTIME_DEADLINE_H

#include <stdint.h>
#include <time.h>
#include "clock.h"

#define WEFT__NS_PER_S 1000000000u

/* The deadline for a relative @timeout_ns read now; 0 (none) if negative. */
static inline uint64_t weft__deadline(int64_t timeout_ns) {
  if (timeout_ns < 0) return 0;
  uint64_t now = weft__clock_ns();
  uint64_t d = now + (uint64_t)timeout_ns;
  if (d < now) return UINT64_MAX; /* saturate: never wraps into the past */
  return d ? d : 1;
}

/* The timeout left until @deadline, in the same convention: -1 for none
 * (0), 0 once it has passed, else the nanoseconds left. */
static inline int64_t weft__deadline_left(uint64_t deadline) {
  if (!deadline) return -1;
  uint64_t now = weft__clock_ns();
  if (now >= deadline) return 0;
  uint64_t left = deadline - now;
  return left > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)left;
}

/* @ns (absolute or relative) as the seconds and nanoseconds of a timespec. */
static inline struct timespec weft__timespec(uint64_t ns) {
  struct timespec ts = {.tv_sec = (time_t)(ns / WEFT__NS_PER_S), .tv_nsec = (long)(ns % WEFT__NS_PER_S)};
  return ts;
}

#endif
