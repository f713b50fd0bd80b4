/* threadsafe_loop.c - threadsafe_loop.py in C: a loop in a second thread,
 * fed from the main thread. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <weft.h>

static void report(void *what) { printf("callback: %s\n", (const char *)what); }

static int square(void *arg, void **result) {
  weft_sleep(0.01);
  intptr_t x = (intptr_t)arg;
  *result = (void *)(x * x);
  return 0;
}

static void *run_forever(void *loop) {
  int rc = weft_loop_run_forever(loop);
  if (rc) { /* Python prints the thread's exception; nothing would set done */
    fprintf(stderr, "run_forever: %s\n", weft_strerror(rc));
    exit(1);
  }
  return NULL;
}

static void stop(void *loop) { weft_loop_stop(loop); }

/* threading.Event in the main thread: a future the loop completes. */
static void set_done(void *fut) { weft_future_set_result(fut, NULL); }

int main(void) {
  weft_loop_t *loop;
  if (weft_loop_new(NULL, &loop)) return 1;
  pthread_t thread;
  if (pthread_create(&thread, NULL, run_forever, loop) != 0) { /* thread.start() raises */
    fprintf(stderr, "cannot start the loop's thread\n");
    weft_loop_close(loop);
    return 1;
  }
  weft_future_t *done;
  weft_future_new(loop, &done);
  weft_call_soon_threadsafe(loop, report, "from the main thread", NULL);
  weft_call_soon_threadsafe(loop, set_done, done, NULL);
  weft_future_wait_threadsafe(done, -1, NULL);
  weft_future_release(done);
  weft_future_t *future;
  weft_run_threadsafe(loop, square, (void *)7, &future);
  void *r;
  weft_future_wait_threadsafe(future, 5000000000LL, &r);
  printf("result: %ld\n", (long)(intptr_t)r);
  weft_future_release(future);
  weft_call_soon_threadsafe(loop, stop, loop, NULL);
  pthread_join(thread, NULL);
  weft_loop_close(loop);
  printf("closed\n");
  return 0;
}
