/* ticker.c - ticker.py in C: PEP 525's Ticker, consumed with async for. */
#include <stdint.h>
#include <stdio.h>
#include <weft.h>

struct ticker_args {
  double delay;
  intptr_t to;
};

static int ticker(weft_gen_t *g, void *arg) {
  struct ticker_args *a = arg;
  for (intptr_t i = 0; i < a->to; i++) {
    int rc = weft_gen_yield(g, (void *)i, NULL);
    if (rc) return rc == WEFT_EGENEXIT ? 0 : rc;
    if ((rc = weft_sleep(a->delay))) return rc;
  }
  return 0;
}

static int main_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  struct ticker_args a = {0.1, 5};
  weft_gen_t *g;
  weft_gen_new(ticker, &a, &g);
  int rc;
  void *i;
  WEFT_ASYNC_FOR(rc, weft_gen_next(g, &i)) printf("%ld\n", (long)(intptr_t)i);
  printf("done\n");
  weft_gen_release(g);
  return rc == WEFT_ESTOP ? 0 : rc;
}

int main(void) { return weft_run(main_task, NULL, NULL) ? 1 : 0; }
