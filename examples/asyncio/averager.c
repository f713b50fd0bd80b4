/* averager.c - averager.py in C: a running average driven by send. */
#include <stdio.h>
#include <weft.h>

static int averager(weft_gen_t *g, void *arg) {
  (void)arg;
  double total = 0, count = 0, average = 0, *term;
  for (;;) {
    int rc = weft_gen_yield(g, &average, (void **)&term);
    if (rc) return rc == WEFT_EGENEXIT ? 0 : rc; /* aclose(), or an error thrown in */
    total += *term;
    count++;
    average = total / count;
  }
}

static int main_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  weft_gen_t *avg;
  weft_gen_new(averager, NULL, &avg);
  double *out, terms[] = {10, 30, 5};
  weft_gen_next(avg, NULL); /* prime it */
  for (int i = 0; i < 3; i++) {
    weft_gen_send(avg, &terms[i], (void **)&out);
    printf("%.1f\n", *out);
  }
  weft_gen_close(avg);
  printf("closed\n");
  weft_gen_release(avg);
  return 0;
}

int main(void) { return weft_run(main_task, NULL, NULL) ? 1 : 0; }
