/*
 * hello.c - asyncio's "hello world" with tasks, in weft.
 *
 *   cc hello.c $(pkg-config --cflags --libs weft) -o hello
 *
 * Python equivalent:
 *   async def say(delay, what): await asyncio.sleep(delay); print(what)
 *   async def main():
 *       t1 = asyncio.create_task(say(0.2, "world"))
 *       t2 = asyncio.create_task(say(0.1, "hello"))
 *       await t1; await t2
 *   asyncio.run(main())
 */
#include <stdio.h>
#include <weft.h>

struct msg {
  double delay;
  const char *what;
};

static int say(void *arg, void **result) {
  struct msg *m = arg;
  int rc = weft_sleep(m->delay);
  if (rc) return rc; /* -ECANCELED if someone cancelled us */
  printf("%s\n", m->what);
  return 0;
}

static int main_task(void *arg, void **result) {
  static struct msg world = {0.2, "world"}, hello = {0.1, "hello"};
  weft_task_t *t1, *t2;
  int rc = weft_spawn(say, &world, &t1);
  if (rc) return rc;
  rc = weft_spawn(say, &hello, &t2);
  if (rc) {
    weft_task_release(t1);
    return rc;
  }
  int rc1 = weft_await(weft_task_future(t1), NULL);
  int rc2 = weft_await(weft_task_future(t2), NULL);
  weft_task_release(t1);
  weft_task_release(t2);
  return rc1 ? rc1 : rc2;
}

int main(void) {
  int rc = weft_run(main_task, NULL, NULL);
  if (rc) fprintf(stderr, "hello: %s\n", weft_strerror(rc));
  return rc ? 1 : 0;
}
