#define _POSIX_C_SOURCE 200809L /* nanosleep, strdup */
/* run_in_executor.c - run_in_executor.py in C: blocking calls on threads
 * while the loop keeps ticking. */
#include <stdio.h>
#include <time.h>
#include <weft.h>

static int blocking_io(void *arg, void **result) {
  double seconds = *(double *)arg;
  struct timespec ts = {0, (long)(seconds * 1e9)};
  nanosleep(&ts, NULL); /* blocks its thread, not the loop */
  static char buf[2][32];
  static int k;
  char *out = buf[k++ % 2];
  snprintf(out, 32, "slept %g", seconds);
  *result = out;
  return 0;
}

static int ticker(void *arg, void **result) {
  (void)arg;
  (void)result;
  for (int i = 0; i < 3; i++) {
    weft_sleep(0.02);
    printf("tick %d\n", i);
  }
  return 0;
}

static int main_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  weft_task_t *t;
  weft_spawn(ticker, NULL, &t);
  double long_sleep = 0.3, short_sleep = 0.01;
  weft_future_t *f;
  void *r;
  weft_run_in_executor(NULL, blocking_io, &long_sleep, &f);
  weft_await(f, &r);
  weft_future_release(f);
  printf("default thread pool %s\n", (char *)r);
  weft_await(weft_task_future(t), NULL);
  weft_task_release(t);

  struct weft_executor_config cfg;
  weft_executor_config_init(&cfg);
  cfg.max_threads = 2;
  weft_executor_t *pool;
  weft_executor_new(&cfg, &pool);
  weft_run_in_executor(pool, blocking_io, &short_sleep, &f);
  weft_await(f, &r);
  weft_future_release(f);
  printf("custom thread pool %s\n", (char *)r);
  weft_executor_shutdown(pool, -1); /* the with statement's exit */
  weft_executor_release(pool);

  weft_to_thread(blocking_io, &short_sleep, &r);
  printf("to_thread %s\n", (char *)r);
  return 0;
}

int main(void) { return weft_run(main_task, NULL, NULL) ? 1 : 0; }
