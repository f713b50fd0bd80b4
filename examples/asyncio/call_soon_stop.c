/* call_soon_stop.c - call_soon_stop.py in C: callbacks queued before the
 * loop runs, the last one stops it. */
#include <stdint.h>
#include <stdio.h>
#include <weft.h>

static void hello_world(void *arg) { printf("Hello World %ld\n", (long)(intptr_t)arg); }

static void stop(void *loop) {
  printf("stopping\n");
  weft_loop_stop(loop);
}

int main(void) {
  weft_loop_t *loop;
  if (weft_loop_new(NULL, &loop)) return 1;
  for (intptr_t n = 0; n < 4; n++) weft_loop_call_soon(loop, hello_world, (void *)n, NULL);
  weft_loop_call_soon(loop, stop, loop, NULL);
  weft_loop_run_forever(loop);
  weft_loop_close(loop);
  printf("closed\n");
  return 0;
}
