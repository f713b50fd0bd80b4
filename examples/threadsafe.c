/*
 * threadsafe.c - a plain pthread hands work to a running loop and waits for
 * the answer (asyncio.run_coroutine_threadsafe + concurrent.futures).
 *
 *   cc threadsafe.c $(pkg-config --cflags --libs weft) -lpthread -o threadsafe
 */
#include <pthread.h>
#include <stdio.h>
#include <weft.h>

static int square_slowly(void *arg, void **result) {
  long x = (long)arg;
  int rc = weft_sleep(0.001);
  if (rc) return rc;
  *result = (void *)(x * x);
  return 0;
}

struct ctx {
  weft_loop_t *loop;
  weft_future_t *quit; /* completed by the foreign thread when it is done */
};

static void *foreign(void *arg) {
  struct ctx *c = arg;
  long sum = 0;
  for (long i = 1; i <= 10; i++) {
    weft_future_t *f;
    if (weft_run_threadsafe(c->loop, square_slowly, (void *)i, &f)) break;
    void *r;
    if (weft_future_wait_threadsafe(f, 1000000000LL, &r) == 0) sum += (long)r;
    weft_future_release(f);
  }
  printf("sum of squares 1..10 = %ld\n", sum);
  weft_future_set_result(c->quit, NULL);
  return NULL;
}

int main(void) {
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 2;
  struct ctx c;
  if (weft_loop_new(&cfg, &c.loop) || weft_future_new(c.loop, &c.quit)) return 1;
  pthread_t th;
  pthread_create(&th, NULL, foreign, &c);
  int rc = weft_loop_run_until_complete(c.loop, c.quit, NULL);
  pthread_join(th, NULL);
  weft_future_release(c.quit);
  return weft_loop_close(c.loop) == 0 && rc == 0 ? 0 : 1;
}
