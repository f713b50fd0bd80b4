/*
 * bench_executor.c - blocking work handed to threads (weft/executor.h)
 * and generators (weft/gen.h), with the same shapes in the Go and Tokio
 * peers:
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

/*   gen_pingpong: a consumer sends i to a generator that yields i + 1,
 *                 200,000 round trips (the asend shape of a running
 *                 average). Go: two unbuffered channels to a goroutine;
 *                 Tokio: two mpsc channels of capacity 1 to a task (no
 *                 stream crate offline); weft's own Queue(maxsize=1)
 *                 exchange is ping_pong_queue.
 * ns/op is per round trip (send + yield). */
#define PINGPONGS 200000

static int plus_one_gen(weft_gen_t *g, void *arg) {
  (void)arg;
  void *sent = NULL;
  for (;;) {
    int rc = weft_gen_yield(g, (void *)((intptr_t)sent + 1), &sent);
    if (rc) return rc == WEFT_EGENEXIT ? 0 : rc;
  }
}

int bench_gen_pingpong(void *arg, void **res) {
  (void)arg;
  (void)res;
  weft_gen_t *g;
  int rc = weft_gen_new(plus_one_gen, NULL, &g);
  if (rc) return rc;
  void *v;
  if ((rc = weft_gen_next(g, &v))) return rc; /* started */
  double t0 = now_s();
  for (intptr_t i = 1; i <= PINGPONGS; i++) {
    if ((rc = weft_gen_send(g, (void *)i, &v))) return rc;
    if (v != (void *)(i + 1)) return -EFAULT;
  }
  report("gen_pingpong", PINGPONGS, now_s() - t0, NULL);
  rc = weft_gen_close(g);
  weft_gen_release(g);
  return rc;
}
