/* say_after.c - say_after.py in C: sequential awaits take ~3 s, the same
 * two calls as tasks ~2 s. */
#include <stdint.h>
#include <stdio.h>
#include <weft.h>

struct say {
  double delay;
  const char *what;
};

static int say_after(void *arg, void **result) {
  (void)result;
  struct say *s = arg;
  int rc = weft_sleep(s->delay);
  if (rc) return rc;
  printf("%s\n", s->what);
  return 0;
}

static long elapsed(uint64_t t0) { return (long)((weft_now_ns() - t0 + 500000000) / 1000000000); }

static int main_task(void *arg, void **result) {
  (void)arg;
  struct say hello = {1, "hello"}, world = {2, "world"};
  uint64_t t0 = weft_now_ns();
  printf("started at %ld\n", elapsed(t0));
  say_after(&hello, result);
  say_after(&world, result);
  printf("finished at %ld\n", elapsed(t0));

  t0 = weft_now_ns();
  weft_task_t *task1, *task2;
  weft_spawn(say_after, &hello, &task1);
  weft_spawn(say_after, &world, &task2);
  printf("started at %ld\n", elapsed(t0));
  weft_await(weft_task_future(task1), NULL);
  weft_await(weft_task_future(task2), NULL);
  printf("finished at %ld\n", elapsed(t0));
  weft_task_release(task1);
  weft_task_release(task2);
  return 0;
}

int main(void) { return weft_run(main_task, NULL, NULL) ? 1 : 0; }
