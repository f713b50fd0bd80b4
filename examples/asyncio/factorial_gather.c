/* factorial_gather.c - factorial_gather.py in C: three tasks gathered. */
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
    printf("Task %s: Compute factorial(%ld), currently i=%ld...\n", a->name, a->number, i);
    int rc = weft_sleep(0.1);
    if (rc) return rc;
    f *= i;
  }
  printf("Task %s: factorial(%ld) = %ld\n", a->name, a->number, f);
  *result = (void *)(intptr_t)f;
  return 0;
}

static int main_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  struct fact args[3] = {{"A", 2}, {"B", 3}, {"C", 4}};
  weft_task_t *t[3];
  weft_future_t *fs[3];
  for (int i = 0; i < 3; i++) {
    weft_spawn(factorial, &args[i], &t[i]);
    fs[i] = weft_task_future(t[i]);
  }
  struct weft_gather_slot slots[3];
  int rc = weft_gather(fs, 3, 0, slots);
  if (rc == 0)
    printf("[%ld, %ld, %ld]\n", (long)(intptr_t)slots[0].result, (long)(intptr_t)slots[1].result,
           (long)(intptr_t)slots[2].result);
  for (int i = 0; i < 3; i++) weft_task_release(t[i]);
  return rc;
}

int main(void) { return weft_run(main_task, NULL, NULL) ? 1 : 0; }
