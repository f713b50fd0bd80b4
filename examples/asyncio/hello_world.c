/* hello_world.c - hello_world.py in C: print, sleep 1 s, print. */
#include <stdio.h>
#include <weft.h>

static int main_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  printf("hello\n");
  weft_sleep(1);
  printf("world\n");
  return 0;
}

int main(void) { return weft_run(main_task, NULL, NULL) ? 1 : 0; }
