#define _POSIX_C_SOURCE 200809L /* nanosleep, strdup */
/* task_factory.c - task_factory.py in C: a factory naming and counting
 * every task, and the tasks listed by name (all_tasks). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

static int made;

static int factory(weft_loop_t *loop, weft_task_fn fn, void *arg, const struct weft_task_opts *opts,
                   weft_task_t **out, void *factory_arg) {
  (void)factory_arg;
  char name[32];
  snprintf(name, sizeof name, "job-%d", ++made);
  struct weft_task_opts o = *opts;
  o.name = name;
  return weft_task_create(loop, fn, arg, &o, out);
}

static int work(void *event, void **result) {
  (void)result;
  return weft_event_wait(event, -1);
}

struct names {
  char *v[16];
  int n;
};

static int collect(weft_task_t *t, void *arg) {
  struct names *ns = arg;
  if (ns->n < 16) ns->v[ns->n++] = strdup(weft_task_name(t));
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int main_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  weft_event_t *event;
  weft_event_create(&event);
  weft_task_t *t[3];
  weft_future_t *fs[3];
  for (int i = 0; i < 3; i++) {
    weft_spawn(work, event, &t[i]);
    fs[i] = weft_task_future(t[i]);
  }
  weft_yield();
  struct names ns = {.n = 0};
  weft_loop_tasks(weft_loop_current(), collect, &ns);
  qsort(ns.v, (size_t)ns.n, sizeof ns.v[0], by_name);
  for (int i = 0; i < ns.n; i++) {
    printf("%s\n", ns.v[i]);
    free(ns.v[i]);
  }
  weft_event_set(event);
  weft_gather(fs, 3, 0, NULL);
  for (int i = 0; i < 3; i++) weft_task_release(t[i]);
  weft_event_destroy(event);
  printf("tasks made: %d\n", made);
  return 0;
}

int main(void) {
  weft_loop_t *loop;
  if (weft_loop_new(NULL, &loop)) return 1;
  weft_loop_set_task_factory(loop, factory, NULL);
  int rc = weft_loop_run_task(loop, main_task, NULL, NULL);
  weft_loop_close(loop);
  return rc ? 1 : 0;
}
