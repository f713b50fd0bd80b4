/*
 * switch.c - the calls a task makes to stop running: suspend, yield, start
 * an eager child.
 *
 * Each is the fiber switch between the two halves worker.c provides
 * (weft__worker_switch_begin picks where to go, weft__worker_switch_end
 * finishes the task that switched out). They live apart from worker.c for
 * one reason: their frames stay on the task's stack for as long as it is
 * suspended, so they are compiled with frame pointers (worker.c is not:
 * CMakeLists.txt), and the dump's walk of a suspended task's stack goes
 * through them to the task's own frames (runtime/backtrace.h).
 *
 * Invariant: after the switch returns, the worker is re-read (the task may
 * have been resumed by another worker) before anything else runs.
 */
#include "fiber.h"
#include "task.h"
#include "worker.h"

static void switch_out(struct weft_task *t, enum weft__switch_reason why) {
  struct weft__fiber *to = weft__worker_switch_begin(weft__worker_self(), t, why);
  if (__builtin_expect(to == NULL, 0)) return; /* a yield that goes on in place */
  weft__fiber_switch(&weft__task_run_of(t)->fiber, to);
  weft__worker_switch_end();
}

void weft__worker_suspend(struct weft_task *t) { switch_out(t, WEFT__SWITCH_SUSPEND); }

void weft__worker_yield(struct weft_task *t) { switch_out(t, WEFT__SWITCH_YIELD); }

void weft__worker_run_eager(struct weft_task *t, struct weft_task *child) {
  weft__worker_self()->eager = child;
  switch_out(t, WEFT__SWITCH_EAGER);
}
