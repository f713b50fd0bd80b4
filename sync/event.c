/*
 * event.c - Event: a flag that wakes every waiter when set.
 *
 * Invariant (under m): waiters are queued only while the flag is clear.
 * set() grants every queued waiter, so each wakes exactly once, even if the
 * flag is cleared again before it runs (asyncio: a waiter woken by set()
 * returns True although is_set() may be false by then).
 */
#include "weft.h"
#include "alloc.h"
#include "misuse.h"
#include "task.h"
#include "named.h"
#include "waitlist.h"

#include <errno.h>

struct weft_event {
  struct weft__mutex m;
  WEFT__MAGIC                     /* debug builds: misuse.h */
  _Atomic(const char *) name;     /* weft_event_set_name; relaxed (the dump reads it) */
  bool set;                       /* under m */
  struct weft__waitlist waiters;  /* under m */
};

int weft_event_create(weft_event_t **out) {
  if (!out) return -EINVAL;
  struct weft_event *e = weft__alloc(sizeof *e);
  if (!e) return -ENOMEM;
  weft__magic_live(e);
  atomic_init(&e->name, NULL);
  weft__mutex_init(&e->m);
  e->set = false;
  weft__wl_init(&e->waiters);
  *out = e;
  return 0;
}

int weft_event_destroy(weft_event_t *e) {
  if (!e) return -EINVAL;
  weft__magic_check(e, "double destroy", "event");
  weft__mutex_lock(&e->m);
  bool busy = e->waiters.count != 0;
  weft__mutex_unlock(&e->m);
  if (busy) return -EBUSY;
  weft__magic_dead(e);
  weft__free(e, sizeof *e);
  return 0;
}

int weft_event_set(weft_event_t *e) {
  if (!e) return -EINVAL;
  weft__mutex_lock(&e->m);
  e->set = true;
  weft__wl_wake_all(&e->waiters, 0);
  weft__mutex_unlock(&e->m);
  return 0;
}

int weft_event_clear(weft_event_t *e) {
  if (!e) return -EINVAL;
  weft__mutex_lock(&e->m);
  e->set = false;
  weft__mutex_unlock(&e->m);
  return 0;
}

int weft_event_is_set(weft_event_t *e) {
  if (!e) return 0;
  weft__mutex_lock(&e->m);
  int v = e->set;
  weft__mutex_unlock(&e->m);
  return v;
}

int weft_event_wait(weft_event_t *e, int64_t timeout_ns) {
  if (!e) return -EINVAL;
  int rc = weft__wl_can_wait(WEFT__WAIT_TASK);
  if (rc) return rc;
  weft__mutex_lock(&e->m);
  if (!e->set && (rc = weft__wl_cancel_point_locked(&e->m, WEFT__WAIT_TASK)) < 0) {
    weft__mutex_unlock(&e->m);
    return rc;
  }
  rc = 0;
  if (!e->set) { /* looked at again if m was let go */
    struct weft__waiter_node w;
    weft__task_blocked_named(weft__task_self(), WEFT__BLOCK_EVENT, e, 0,
                         weft__name_get(&e->name));
    /* Set: nothing is left to do under m, which a granted waiter no
     * longer holds (a set wakes every waiter: none of them queues on m). */
    rc = weft__wl_wait_handoff(&e->m, &e->waiters, &w, WEFT__WAIT_TASK, weft__deadline(timeout_ns));
    if (!rc) return 0;
  }
  weft__mutex_unlock(&e->m);
  return rc;
}

int weft_event_set_name(weft_event_t *e, const char *name) {
  return e ? weft__name_set(&e->name, name) : -EINVAL;
}

const char *weft_event_name(weft_event_t *e) {
  return e ? weft__name_get(&e->name) : NULL;
}
