/* shared_future.c - shared_future.py in C: one future, one setter, two waiters. */
#include <stdio.h>
#include <weft.h>

static weft_future_t *fut;

static int set_after(void *value, void **result) {
  (void)result;
  int rc = weft_sleep(0.1);
  if (rc) return rc;
  return weft_future_set_result(fut, value);
}

static int waiter(void *name, void **result) {
  (void)result;
  void *value;
  int rc = weft_await(fut, &value);
  if (rc) return rc;
  printf("%s got %s\n", (const char *)name, (const char *)value);
  return 0;
}

static int main_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  weft_future_new(NULL, &fut);
  weft_task_t *w1, *w2;
  weft_spawn(waiter, "first", &w1);
  weft_spawn(waiter, "second", &w2);
  weft_spawn(set_after, "... world", NULL);
  printf("hello ...\n");
  weft_await(weft_task_future(w1), NULL);
  weft_await(weft_task_future(w2), NULL);
  weft_task_release(w1);
  weft_task_release(w2);
  weft_future_release(fut);
  return 0;
}

int main(void) { return weft_run(main_task, NULL, NULL) ? 1 : 0; }
