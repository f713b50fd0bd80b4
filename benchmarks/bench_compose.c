/*
 * bench_compose.c - composition workloads (weft/compose.h), with the same
 * shapes in the Go and Tokio peers:
 *   gather_10k:        spawn 10,000 trivial tasks and gather them, 50 rounds
 *                      (Tokio: spawn + await every handle in order, i.e.
 *                      join_all; Go: goroutines + WaitGroup);
 *   taskgroup_10k:     the same through a TaskGroup (Tokio: JoinSet; Go:
 *                      errgroup semantics with the standard library);
 *   wait_for_overhead: a 1 s timeout scope that never fires around one
 *                      yield, 200,000 times (Tokio: time::timeout around
 *                      yield_now; Go: context.WithTimeout + Gosched).
 * ns/op is per child (gather, taskgroup) or per scope.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <weft.h>

#include "bench.h"

#define CHILDREN 10000
#define ROUNDS 50

static int ret_index(void *arg, void **res) {
  *res = arg;
  return 0;
}

int bench_gather_10k(void *arg, void **res) {
  weft_task_t **ts = malloc(CHILDREN * sizeof *ts);
  weft_future_t **fs = malloc(CHILDREN * sizeof *fs);
  struct weft_gather_slot *slots = malloc(CHILDREN * sizeof *slots);
  if (!ts || !fs || !slots) return -ENOMEM;
  double t0 = now_s();
  for (int r = 0; r < ROUNDS; r++) {
    for (intptr_t i = 0; i < CHILDREN; i++) {
      if (weft_spawn(ret_index, (void *)i, &ts[i])) return -ENOMEM;
      fs[i] = weft_task_future(ts[i]);
    }
    int rc = weft_gather(fs, CHILDREN, 0, slots);
    if (rc) return rc;
    for (intptr_t i = 0; i < CHILDREN; i++) {
      if (slots[i].result != (void *)i) return -EFAULT;
      weft_task_release(ts[i]);
    }
  }
  double dt = now_s() - t0;
  report("gather_10k", (long)CHILDREN * ROUNDS, dt, NULL);
  free(ts);
  free(fs);
  free(slots);
  return 0;
}

int bench_taskgroup_10k(void *arg, void **res) {
  double t0 = now_s();
  for (int r = 0; r < ROUNDS; r++) {
    weft_taskgroup_t *g;
    int rc = weft_taskgroup_enter(&g);
    if (rc) return rc;
    for (intptr_t i = 0; i < CHILDREN; i++)
      if ((rc = weft_taskgroup_spawn(g, ret_index, (void *)i, NULL, NULL))) return rc;
    if ((rc = weft_taskgroup_leave(g, 0))) return rc;
    weft_taskgroup_destroy(g);
  }
  double dt = now_s() - t0;
  report("taskgroup_10k", (long)CHILDREN * ROUNDS, dt, NULL);
  return 0;
}

int bench_wait_for_overhead(void *arg, void **res) {
  const long n = 200000;
  double t0 = now_s();
  for (long i = 0; i < n; i++) {
    struct weft_timeout t;
    int rc = weft_timeout_enter(&t, 1000000000);
    if (rc) return rc;
    rc = weft_timeout_leave(&t, weft_yield());
    if (rc) return rc;
  }
  double dt = now_s() - t0;
  report("wait_for_overhead", n, dt, NULL);
  return 0;
}
