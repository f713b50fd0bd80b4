/*
 * exception.c - the loop's exception handler (asyncio's
 * set_exception_handler / default_exception_handler /
 * call_exception_handler): where errors nobody retrieved are reported.
 *
 * Invariant: the handler and its argument change only while the loop is
 * not running, so workers read them without a lock.
 */
#include "loop.h"

#include <stdio.h>

int weft_loop_set_exception_handler(weft_loop_t *loop, weft_exception_handler h, void *arg) {
  if (!loop) return -EINVAL;
  loop->exc_handler = h;
  loop->exc_arg = arg;
  return 0;
}

weft_exception_handler weft_loop_get_exception_handler(weft_loop_t *loop, void **arg) {
  if (!loop) return NULL;
  if (arg) *arg = loop->exc_arg;
  return loop->exc_handler;
}

/* asyncio's words and shape: the message alone on the first line (its
 * default "Unhandled exception in event loop"), then what it concerns,
 * as asyncio's "future: <Task finished name='Task-2' ... exception=...>". */
void weft_loop_default_exception_handler(weft_loop_t *loop,
                                         const struct weft_exception_context *ctx) {
  (void)loop;
  if (!ctx) return;
  char err[192] = "";
  if (ctx->error)
    snprintf(err, sizeof err, "%s (%s)%s%s%s", weft_err_name(ctx->error),
             weft_strerror(ctx->error), ctx->error_msg ? " '" : "",
             ctx->error_msg ? ctx->error_msg : "", ctx->error_msg ? "'" : "");
  flockfile(stderr);
  fprintf(stderr, "%s\n", ctx->message ? ctx->message : "Unhandled exception in event loop");
  if (ctx->future) {
    bool done = weft_future_done(ctx->future);
    if (ctx->task_name)
      fprintf(stderr, "task: <Task %s name='%s'%s%s>\n", done ? "finished" : "pending",
              ctx->task_name, err[0] ? " error=" : "", err);
    else
      fprintf(stderr, "future: <Future %s%s%s>\n", done ? "finished" : "pending",
              err[0] ? " error=" : "", err);
  } else if (ctx->error) {
    fprintf(stderr, "error: %s\n", err);
  }
  funlockfile(stderr);
}

void weft_loop_call_exception_handler(weft_loop_t *loop,
                                      const struct weft_exception_context *ctx) {
  if (!loop || !ctx) return;
  if (loop->exc_handler)
    loop->exc_handler(loop, ctx, loop->exc_arg);
  else
    weft_loop_default_exception_handler(loop, ctx);
}
