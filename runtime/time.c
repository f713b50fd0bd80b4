/*
 * time.c - clocks and sleeping.
 *
 * A sleep is a wait with a deadline and nothing else to wait for: the
 * timer lives on the sleeping fiber's stack (task.c, weft__task_wait), so a
 * sleep allocates nothing unless the worker's heap must grow.
 */
#include "weft.h"
#include "deadline.h"
#include "task.h"

#include <errno.h>
#include <math.h>

uint64_t weft_now_ns(void) { return weft__clock_ns(); }

double weft_loop_time(const weft_loop_t *loop) {
  (void)loop;
  return (double)weft__clock_ns() / 1e9;
}

int weft_sleep_ns(int64_t ns) {
  struct weft_task *t = weft__task_self();
  if (!t) return -EPERM;
  if (ns <= 0) return weft_yield(); /* asyncio: sleep(delay <= 0) is sleep(0) */
  /* A pending cancellation ends the sleep a pass later (task.h). */
  if (weft__task_take_cancel(t)) return weft__task_cancelled_after_pass(t);
  uint64_t deadline = weft__deadline(ns);
  weft__task_blocked(t, WEFT__BLOCK_SLEEP, NULL, (int64_t)deadline);
  int rc = weft__task_wait(t, NULL, deadline);
  return rc == -ETIMEDOUT ? 0 : rc;
}

int weft_sleep(double seconds) {
  if (isnan(seconds)) return weft__task_self() ? -EINVAL : -EPERM;
  if (seconds < 0) seconds = 0;
  if (seconds > 1e9) seconds = 1e9; /* about 31 years (also +inf): effectively forever */
  return weft_sleep_ns((int64_t)(seconds * 1e9));
}
