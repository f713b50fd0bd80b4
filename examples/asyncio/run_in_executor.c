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

/* Each call's error ends main_task with it, as an exception ends main(). */
static int main_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  weft_task_t *t;
  int rc = weft_spawn(ticker, NULL, &t);
  if (rc) return rc;
  double long_sleep = 0.3, short_sleep = 0.01;
  weft_future_t *f;
  void *r;
  if ((rc = weft_run_in_executor(NULL, blocking_io, &long_sleep, &f))) return rc;
  rc = weft_await(f, &r);
  weft_future_release(f);
  if (rc) return rc;
  printf("default thread pool %s\n", (char *)r);
  rc = weft_await(weft_task_future(t), NULL);
  weft_task_release(t);
  if (rc) return rc;

  struct weft_executor_config cfg;
  weft_executor_config_init(&cfg);
  cfg.max_threads = 2;
  weft_executor_t *pool;
  if ((rc = weft_executor_new(&cfg, &pool))) return rc;
  if ((rc = weft_run_in_executor(pool, blocking_io, &short_sleep, &f)) == 0) {
    rc = weft_await(f, &r);
    weft_future_release(f);
    if (rc == 0) printf("custom thread pool %s\n", (char *)r);
  }
  weft_executor_shutdown(pool, -1); /* the with statement's exit */
  weft_executor_release(pool);
  if (rc) return rc;

  if ((rc = weft_to_thread(blocking_io, &short_sleep, &r))) return rc;
  printf("to_thread %s\n", (char *)r);
  return 0;
}

int main(void) {
  int rc = weft_run(main_task, NULL, NULL);
  if (rc) fprintf(stderr, "run_in_executor: %s\n", weft_strerror(rc));
  return rc ? 1 : 0;
}
