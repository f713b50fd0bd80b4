/* as_completed.c - as_completed.py in C: results in the order they finish,
 * then wait(FIRST_COMPLETED). */
#include <stdint.h>
#include <stdio.h>
#include <weft.h>

struct fetch {
  const char *name;
  double delay;
  char text[48];
};

static int fetch(void *arg, void **result) {
  struct fetch *f = arg;
  int rc = weft_sleep(f->delay);
  if (rc) return rc;
  snprintf(f->text, sizeof f->text, "%s after %gs", f->name, f->delay);
  *result = f->text;
  return 0;
}

static int main_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  struct fetch jobs[3] = {{"slow", 0.3, ""}, {"fast", 0.1, ""}, {"medium", 0.2, ""}};
  weft_task_t *t[3];
  weft_future_t *fs[3];
  for (int i = 0; i < 3; i++) {
    weft_spawn(fetch, &jobs[i], &t[i]);
    fs[i] = weft_task_future(t[i]);
  }
  weft_as_completed_t *it;
  weft_as_completed_new(fs, 3, -1, &it);
  weft_future_t *next;
  while (weft_as_completed_next(it, &next) == 0) {
    void *text;
    weft_future_result(next, &text);
    printf("%s\n", (char *)text);
  }
  weft_as_completed_free(it);
  for (int i = 0; i < 3; i++) weft_task_release(t[i]);

  struct fetch more[2] = {{"a", 0.2, ""}, {"b", 0.05, ""}};
  for (int i = 0; i < 2; i++) {
    weft_spawn(fetch, &more[i], &t[i]);
    fs[i] = weft_task_future(t[i]);
  }
  uint8_t done[2];
  weft_wait(fs, 2, -1, WEFT_FIRST_COMPLETED, done);
  printf("done: [");
  for (int i = 0, k = 0; i < 2; i++)
    if (done[i]) {
      void *text;
      weft_future_result(fs[i], &text);
      printf("%s'%s'", k++ ? ", " : "", (char *)text);
    }
  printf("], pending: %d\n", 2 - done[0] - done[1]);
  weft_wait(fs, 2, -1, WEFT_ALL_COMPLETED, NULL);
  printf("all done\n");
  for (int i = 0; i < 2; i++) weft_task_release(t[i]);
  return 0;
}

int main(void) { return weft_run(main_task, NULL, NULL) ? 1 : 0; }
