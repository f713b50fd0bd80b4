/* spinner.c - spinner.py in C: a task cancelled by its supervisor, which
 * it notices at its next await and cleans up after. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <weft.h>

static int spin(void *msg, void **result) {
  (void)msg;
  (void)result;
  long frames = 0;
  for (;;) {
    frames++;
    int rc = weft_sleep(0.01);
    if (rc == -ECANCELED) { /* except CancelledError: clean up, then re-raise */
      printf("spinner cancelled after some frames: %s\n", frames > 0 ? "True" : "False");
      return rc;
    }
  }
}

static int slow(void) {
  weft_sleep(0.2);
  return 42;
}

static int supervisor(void *arg, void **result) {
  (void)arg;
  weft_task_t *spinner;
  weft_spawn(spin, "thinking!", &spinner);
  printf("spinner object: %s\n", weft_task_name(spinner)[0] ? "True" : "False");
  int answer = slow();
  weft_task_cancel(spinner, NULL);
  if (weft_await(weft_task_future(spinner), NULL) == -ECANCELED) printf("spinner is done\n");
  weft_task_release(spinner);
  *result = (void *)(intptr_t)answer;
  return 0;
}

int main(void) {
  void *result;
  if (weft_run(supervisor, NULL, &result)) return 1;
  printf("Answer: %ld\n", (long)(intptr_t)result);
  return 0;
}
