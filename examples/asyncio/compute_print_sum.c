/* compute_print_sum.c - compute_print_sum.py in C: one coroutine awaiting
 * another is a plain call in a fiber. */
#include <stdio.h>
#include <weft.h>

static int compute(int x, int y) {
  printf("Compute %d + %d ...\n", x, y);
  weft_sleep(0.1);
  return x + y;
}

static int print_sum(void *arg, void **result) {
  (void)arg;
  (void)result;
  int x = 1, y = 2;
  int r = compute(x, y);
  printf("%d + %d = %d\n", x, y, r);
  return 0;
}

int main(void) { return weft_run(print_sum, NULL, NULL) ? 1 : 0; }
