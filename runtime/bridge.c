/*
 * bridge.c - how foreign threads start work on a loop
 * (asyncio.run_coroutine_threadsafe).
 *
 * A foreign thread's spawn goes through the loop's injection queue and wakes
 * a sleeping worker (worker.c, weft__schedule). The caller gets the task's
 * future: it can wait on it with weft_future_wait_threadsafe(), read it, or
 * cancel it with weft_future_cancel(), which reaches the task as a
 * cancellation request. call_soon_threadsafe lives with the other callbacks
 * in handle.c.
 */
#include "weft.h"
#include "task.h"

#include <errno.h>

int weft_run_threadsafe(weft_loop_t *loop, weft_task_fn fn, void *arg, weft_future_t **out) {
  if (!loop || !fn || !out) return -EINVAL;
  weft_task_t *t;
  int rc = weft__spawn_at(loop, fn, arg, NULL, &t, __builtin_return_address(0));
  if (rc) return rc;
  *out = weft_task_future(t);
  return 0;
}
