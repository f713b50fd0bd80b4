/* exception_handler.c - exception_handler.py in C. A C callback cannot
 * raise: it reports its error to the loop's handler, which is what asyncio
 * does with the exception a callback raises. */
#include <errno.h>
#include <stdio.h>
#include <weft.h>

static void handler(weft_loop_t *loop, const struct weft_exception_context *ctx, void *arg) {
  (void)loop;
  (void)arg;
  printf("handler: %s: OSError(%d, '%s')\n", ctx->message, -ctx->error, weft_strerror(ctx->error));
}

static void bad_callback(void *arg) {
  (void)arg;
  struct weft_exception_context ctx = {.message = "Exception in callback bad_callback()",
                                       .error = -EIO};
  weft_loop_call_exception_handler(weft_loop_current(), &ctx);
}

static int main_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  weft_loop_set_exception_handler(weft_loop_current(), handler, NULL);
  weft_call_soon(bad_callback, NULL, NULL);
  weft_sleep(0.01);
  printf("the loop goes on\n");
  return 0;
}

int main(void) { return weft_run(main_task, NULL, NULL) ? 1 : 0; }
