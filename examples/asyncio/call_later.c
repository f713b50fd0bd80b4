/* call_later.c - call_later.py in C: delayed callbacks in deadline order. */
#include <stdio.h>
#include <weft.h>

static void say(void *what) { printf("%s\n", (const char *)what); }
static void finish(void *fut) { weft_future_set_result(fut, NULL); }

static int main_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  weft_future_t *done;
  weft_future_new(NULL, &done);
  weft_call_later(0.3, say, "third (call_later 0.3)", NULL);
  weft_call_at(weft_loop_time(weft_loop_current()) + 0.1, say, "first (call_at now + 0.1)", NULL);
  weft_call_later(0.2, say, "second (call_later 0.2)", NULL);
  weft_call_later(0.4, finish, done, NULL);
  weft_await(done, NULL);
  printf("done\n");
  weft_future_release(done);
  return 0;
}

int main(void) { return weft_run(main_task, NULL, NULL) ? 1 : 0; }
