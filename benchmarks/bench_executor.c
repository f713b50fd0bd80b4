/*
 * bench_executor.c - the rest of asyncio's model: blocking work handed to
 * threads (weft/executor.h), generators (weft/gen.h) and context
 * variables (weft/context.h), with the same shapes in the Go and Tokio
 * peers where they have one:
 *   executor_roundtrip: one task awaits a trivial function on the default
 *                       executor, 100,000 times in a row (Tokio:
 *                       spawn_blocking(..).await; Go: a goroutine that
 *                       sends on a channel the caller receives from).
 * ns/op is per round trip: hand-off to a pool thread, the call, the
 * completion and the awaiting task's wake-up.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
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

/*   contextvar_spawn: spawn and await 200,000 trivial tasks, first in a
 *                     context where nothing was set, then with one
 *                     context variable set: the price of asyncio's
 *                     context copy at create_task (weft shares the
 *                     spawner's map: one reference). No peer has the
 *                     same thing (Tokio's task_local is not inherited by
 *                     spawned tasks; Go passes a context.Context by hand).
 * ns/op is per spawn + await; "extra" has the ratio. */
#define CTX_SPAWNS 200000

static int read_var(void *arg, void **res) {
  weft_contextvar_t *v = arg;
  return v ? weft_contextvar_get(v, res) : 0;
}

static double spawn_loop(weft_contextvar_t *v) {
  double t0 = now_s();
  for (int i = 0; i < CTX_SPAWNS; i++) {
    weft_task_t *t;
    if (weft_spawn(read_var, v, &t)) return -1;
    if (weft_await(weft_task_future(t), NULL)) return -1;
    weft_task_release(t);
  }
  return now_s() - t0;
}

int bench_contextvar_spawn(void *arg, void **res) {
  (void)arg;
  (void)res;
  static weft_contextvar_t *var;
  if (!var && weft_contextvar_new("bench", 1, NULL, &var)) return -ENOMEM;
  double none = spawn_loop(var); /* nothing set: the tasks read the default */
  if (weft_contextvar_set(var, (void *)1, NULL)) return -ENOMEM;
  double one = spawn_loop(var);
  if (none < 0 || one < 0) return -EIO;
  char extra[96];
  snprintf(extra, sizeof extra, "none_ns=%.1f one_var_ns=%.1f ratio=%.2f", none * 1e9 / CTX_SPAWNS,
           one * 1e9 / CTX_SPAWNS, one / none);
  report("contextvar_spawn", CTX_SPAWNS, one, extra);
  return 0;
}
