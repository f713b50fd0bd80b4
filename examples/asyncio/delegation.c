/* delegation.c - delegation.py in C: an outer generator yielding what two
 * inner ones yield, between values of its own. */
#include <stdint.h>
#include <stdio.h>
#include <weft.h>

struct inner_args {
  const char *name;
  int n;
  char buf[3][16];
};

static int inner(weft_gen_t *g, void *arg) {
  struct inner_args *a = arg;
  for (int i = 0; i < a->n; i++) {
    int rc = weft_sleep(0.01);
    if (rc) return rc;
    snprintf(a->buf[i], sizeof a->buf[i], "%s.%d", a->name, i);
    if ((rc = weft_gen_yield(g, a->buf[i], NULL))) return rc == WEFT_EGENEXIT ? 0 : rc;
  }
  return 0;
}

/* async for x in sub: yield x */
static int delegate(weft_gen_t *g, weft_gen_t *sub) {
  int rc, yrc = 0;
  void *x;
  WEFT_ASYNC_FOR(rc, weft_gen_next(sub, &x)) {
    if ((yrc = weft_gen_yield(g, x, NULL))) break;
  }
  if (yrc) { /* we are being closed (or thrown into): close the inner one too */
    weft_gen_close(sub);
    return yrc;
  }
  return rc == WEFT_ESTOP ? 0 : rc;
}

static int outer(weft_gen_t *g, void *arg) {
  (void)arg;
  struct inner_args a = {"a", 2, {{0}}}, b = {"b", 3, {{0}}};
  weft_gen_t *ga, *gb;
  weft_gen_new(inner, &a, &ga);
  weft_gen_new(inner, &b, &gb);
  int rc = weft_gen_yield(g, "start", NULL);
  if (!rc) rc = delegate(g, ga);
  if (!rc) rc = delegate(g, gb);
  if (!rc) rc = weft_gen_yield(g, "end", NULL);
  weft_gen_release(ga);
  weft_gen_release(gb);
  return rc == WEFT_EGENEXIT ? 0 : rc;
}

static int main_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  weft_gen_t *g;
  weft_gen_new(outer, NULL, &g);
  int rc, k = 0;
  void *x;
  printf("[");
  WEFT_ASYNC_FOR(rc, weft_gen_next(g, &x)) printf("%s'%s'", k++ ? ", " : "", (const char *)x);
  printf("]\n");
  weft_gen_release(g);
  return rc == WEFT_ESTOP ? 0 : rc;
}

int main(void) { return weft_run(main_task, NULL, NULL) ? 1 : 0; }
