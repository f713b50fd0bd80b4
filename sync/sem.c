/*
 * sem.c - Semaphore and BoundedSemaphore: FIFO, permits handed over directly.
 *
 * Invariants (under m): waiters are queued only while value == 0; a release
 * with waiters hands its permit to the oldest (value stays 0), so a
 * newcomer cannot overtake them. A waiter granted a permit and cancelled at
 * the same moment releases it again (to the next waiter). Bounded: value
 * never exceeds initial; a release that would is refused with -EOVERFLOW.
 */
#include "weft.h"
#include "alloc.h"
#include "misuse.h"
#include "task.h"
#include "named.h"
#include "waitlist.h"

#include <errno.h>

struct weft_sem {
  struct weft__mutex m;
  WEFT__MAGIC                     /* debug builds: misuse.h */
  _Atomic(const char *) name;     /* weft_sem_set_name; relaxed (the dump reads it) */
  int64_t value;                  /* under m */
  int64_t initial;                /* immutable */
  bool bounded;                   /* immutable */
  struct weft__waitlist waiters;  /* under m */
};

int weft_sem_create(int64_t value, int bounded, weft_sem_t **out) {
  if (!out || value < 0) return -EINVAL;
  struct weft_sem *s = weft__alloc(sizeof *s);
  if (!s) return -ENOMEM;
  weft__magic_live(s);
  atomic_init(&s->name, NULL);
  weft__mutex_init(&s->m);
  s->value = s->initial = value;
  s->bounded = bounded != 0;
  weft__wl_init(&s->waiters);
  *out = s;
  return 0;
}

int weft_sem_destroy(weft_sem_t *s) {
  if (!s) return -EINVAL;
  weft__magic_check(s, "double destroy", "sem");
  weft__mutex_lock(&s->m);
  bool busy = s->waiters.count != 0;
  weft__mutex_unlock(&s->m);
  if (busy) return -EBUSY;
  weft__magic_dead(s);
  weft__free(s, sizeof *s);
  return 0;
}

/* Gives a permit back: to the oldest waiter, or to the pool. Under m. */
static int release_locked(struct weft_sem *s) {
  if (weft__wl_wake_one(&s->waiters, NULL, 0)) return 0;
  if (s->bounded && s->value >= s->initial) return -EOVERFLOW;
  s->value++;
  return 0;
}

int weft_sem_acquire(weft_sem_t *s, int64_t timeout_ns) {
  if (!s) return -EINVAL;
  int rc = weft__wl_can_wait(WEFT__WAIT_TASK);
  if (rc) return rc;
  weft__mutex_lock(&s->m);
  if (s->value > 0) {
    s->value--;
  } else {
    struct weft__waiter_node w;
    weft__task_blocked_named(weft__task_self(), WEFT__BLOCK_SEM, s, 0,
                         weft__name_get(&s->name));
    rc = weft__wl_wait(&s->m, &s->waiters, &w, WEFT__WAIT_TASK, weft__deadline(timeout_ns));
    if (rc && atomic_load_explicit(&w.granted, memory_order_acquire)) release_locked(s);
  }
  weft__mutex_unlock(&s->m);
  return rc;
}

int weft_sem_try_acquire(weft_sem_t *s) {
  if (!s) return -EINVAL;
  weft__mutex_lock(&s->m);
  int rc = s->value > 0 ? 0 : -EAGAIN;
  if (!rc) s->value--;
  weft__mutex_unlock(&s->m);
  return rc;
}

int weft_sem_release(weft_sem_t *s) {
  if (!s) return -EINVAL;
  weft__mutex_lock(&s->m);
  int rc = release_locked(s);
  weft__mutex_unlock(&s->m);
  return rc;
}

int weft_sem_locked(weft_sem_t *s) {
  if (!s) return 0;
  weft__mutex_lock(&s->m);
  int v = s->value == 0;
  weft__mutex_unlock(&s->m);
  return v;
}

int64_t weft_sem_value(weft_sem_t *s) {
  if (!s) return 0;
  weft__mutex_lock(&s->m);
  int64_t v = s->value;
  weft__mutex_unlock(&s->m);
  return v;
}

int weft_sem_set_name(weft_sem_t *s, const char *name) {
  return s ? weft__name_set(&s->name, name) : -EINVAL;
}

const char *weft_sem_name(weft_sem_t *s) {
  return s ? weft__name_get(&s->name) : NULL;
}
