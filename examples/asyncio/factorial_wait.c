/* factorial_wait.c - factorial_wait.py in C: the factorial tasks waited
 * for with wait, then taken as they complete. */
#include <stdint.h>
#include <stdio.h>
#include <weft.h>

struct fact {
  const char *name;
  long number;
};

static int factorial(void *arg, void **result) {
  struct fact *a = arg;
  long f = 1;
  for (long i = 2; i <= a->number; i++) {
    int rc = weft_sleep(0.1);
    if (rc) return rc;
    f *= i;
  }
  printf("Task %s: factorial(%ld) = %ld\n", a->name, a->number, f);
  *result = (void *)(intptr_t)f;
  return 0;
}

static void spawn_all(struct fact *args, weft_task_t **t, weft_future_t **fs) {
  for (int i = 0; i < 3; i++) {
    weft_spawn(factorial, &args[i], &t[i]);
    fs[i] = weft_task_future(t[i]);
  }
}

static int main_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  struct fact first[3] = {{"A", 2}, {"B", 3}, {"C", 4}};
  weft_task_t *t[3];
  weft_future_t *fs[3];
  spawn_all(first, t, fs);
  int done = weft_wait(fs, 3, -1, WEFT_ALL_COMPLETED, NULL);
  void *r[3];
  for (int i = 0; i < 3; i++) weft_future_result(fs[i], &r[i]);
  printf("wait: %d done, %d pending, results [%ld, %ld, %ld]\n", done, 3 - done,
         (long)(intptr_t)r[0], (long)(intptr_t)r[1], (long)(intptr_t)r[2]);
  for (int i = 0; i < 3; i++) weft_task_release(t[i]);

  struct fact second[3] = {{"C", 4}, {"A", 2}, {"B", 3}};
  spawn_all(second, t, fs);
  weft_as_completed_t *it;
  weft_as_completed_new(fs, 3, -1, &it);
  weft_future_t *next;
  while (weft_as_completed_next(it, &next) == 0) {
    void *v;
    weft_future_result(next, &v);
    printf("as_completed: %ld\n", (long)(intptr_t)v);
  }
  weft_as_completed_free(it);
  for (int i = 0; i < 3; i++) weft_task_release(t[i]);
  return 0;
}

int main(void) { return weft_run(main_task, NULL, NULL) ? 1 : 0; }
