/* semaphore.c - semaphore.py in C: downloads throttled by a semaphore. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <weft.h>

static weft_sem_t *sem;
static _Atomic int active, peak;

static int download(void *arg, void **result) {
  int rc;
  WEFT_ASYNC_WITH(rc, weft_acm_sem(), sem) { /* async with sem: */
    int now = atomic_fetch_add(&active, 1) + 1; /* tasks may run on several workers */
    int p = atomic_load(&peak);
    while (now > p && !atomic_compare_exchange_weak(&peak, &p, now)) {
    }
    rc = weft_sleep(0.1);
    atomic_fetch_sub(&active, 1);
  }
  *result = arg;
  return rc;
}

static int main_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  weft_sem_create(2, 0, &sem);
  weft_task_t *t[5];
  weft_future_t *fs[5];
  for (intptr_t i = 0; i < 5; i++) {
    weft_spawn(download, (void *)i, &t[i]);
    fs[i] = weft_task_future(t[i]);
  }
  struct weft_gather_slot slots[5];
  int rc = weft_gather(fs, 5, 0, slots);
  printf("[");
  for (int i = 0; i < 5; i++) printf("%s'page %ld'", i ? ", " : "", (long)(intptr_t)slots[i].result);
  printf("]\nat most %d at a time\n", atomic_load(&peak));
  for (int i = 0; i < 5; i++) weft_task_release(t[i]);
  weft_sem_destroy(sem);
  return rc;
}

int main(void) { return weft_run(main_task, NULL, NULL) ? 1 : 0; }
