/*
 * bench_executor.c - blocking work handed to threads (weft/executor.h),
 * with the same shape in the Go and Tokio peers:
 *   executor_roundtrip: one task awaits a trivial function on the default
 *                       executor, 100,000 times in a row (Tokio:
 *                       spawn_blocking(..).await; Go: a goroutine that
 *                       sends on a channel the caller receives from).
 * ns/op is per round trip: hand-off to a pool thread, the call, the
 * completion and the awaiting task's wake-up.
 */
#include <errno.h>
#include <stdint.h>
#include <weft.h>

#include "bench.h"

#define ROUNDTRIPS 100000

static int plus_one(void *arg, void **res) {
  *res = (void *)((intptr_t)arg + 1);
  return 0;
}

int bench_executor_roundtrip(void *arg, void **res) {
  (void)arg;
  (void)res;
  void *warm;
  if (weft_to_thread(plus_one, NULL, &warm)) return -EIO; /* the first thread starts */
  double t0 = now_s();
  for (intptr_t i = 0; i < ROUNDTRIPS; i++) {
    void *r;
    int rc = weft_to_thread(plus_one, (void *)i, &r);
    if (rc) return rc;
    if (r != (void *)(i + 1)) return -EFAULT;
  }
  report("executor_roundtrip", ROUNDTRIPS, now_s() - t0, NULL);
  return weft_loop_shutdown_default_executor(weft_loop_current(), -1);
}
