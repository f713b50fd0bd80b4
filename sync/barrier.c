/*
 * barrier.c - Barrier: parties tasks meet; each gets its arrival index.
 *
 * asyncio's Barrier, state for state (CPython's locks.py): FILLING while
 * tasks arrive; the last arrival turns it DRAINING and wakes everyone;
 * each task that leaves wait() takes itself off the count, and the last to
 * leave turns a DRAINING or RESETTING barrier back to FILLING and wakes
 * everyone again. An arrival while it drains or resets waits first (its
 * _block), so a task that trips the barrier and comes straight back
 * starts the next round only once every released task has left this one:
 * a barrier in a loop gives each task the index asyncio gives it. reset()
 * makes the waiters fail (RESETTING, or FILLING if none is inside);
 * abort() breaks it for good (BROKEN).
 *
 * asyncio builds it on a Condition whose lock is never held across a
 * suspension, so only the condition's waits order anything: one list of
 * waiters here (those blocked while it drains and those waiting for their
 * round), every state change waking all of them in order, each looking at
 * the state again when it runs and waiting again, at the back, if it must
 * (wait_for's loop). With one worker that is asyncio's order exactly; with
 * several, every change is under m, so no wake-up is lost.
 *
 * Invariants (under m): count is the number of tasks inside wait() past
 * the block (asyncio's _count), below parties while FILLING; the list
 * holds only tasks waiting in wait(), blocked or counted (barrier_ok()).
 */
#include "weft.h"
#include "alloc.h"
#include "misuse.h"
#include "task.h"
#include "named.h"
#include "waitlist.h"

#include <errno.h>
#include <limits.h>

enum barrier_state { FILLING, DRAINING, RESETTING, BROKEN };

struct weft_barrier {
  struct weft__mutex m;
  WEFT__MAGIC                     /* debug builds: misuse.h */
  _Atomic(const char *) name;     /* weft_barrier_set_name; relaxed (the dump reads it) */
  unsigned parties;               /* immutable */
  unsigned count;                 /* under m */
  enum barrier_state state;       /* under m */
  struct weft__waitlist waiters;  /* under m */
};

WEFT__CHECKER bool barrier_ok(struct weft_barrier *b) {
  return (b->state != FILLING || b->count < b->parties) && weft__wl_ok(&b->waiters);
}

int weft_barrier_create(unsigned parties, weft_barrier_t **out) {
  /* The arrival index is returned as an int; a larger count is a negative
   * value converted. */
  if (!out || parties < 1 || parties > INT_MAX) return -EINVAL;
  struct weft_barrier *b = weft__alloc(sizeof *b);
  if (!b) return -ENOMEM;
  weft__magic_live(b);
  atomic_init(&b->name, NULL);
  weft__mutex_init(&b->m);
  b->parties = parties;
  b->count = 0;
  b->state = FILLING;
  weft__wl_init(&b->waiters);
  *out = b;
  return 0;
}

int weft_barrier_destroy(weft_barrier_t *b) {
  if (!b) return -EINVAL;
  weft__magic_check(b, "double destroy", "barrier");
  weft__mutex_lock(&b->m);
  bool busy = b->waiters.count != 0 || b->count != 0;
  weft__mutex_unlock(&b->m);
  if (busy) return -EBUSY;
  weft__magic_dead(b);
  weft__free(b, sizeof *b);
  return 0;
}

/* Under m: wakes every waiter (the condition's notify_all). */
static void wake_all(struct weft_barrier *b) { weft__wl_wake_all(&b->waiters, 0); }

/* Under m (held again on return): one wait for the next state change (the
 * condition's wait); the caller looks at the state again. A cancellation
 * pending as it begins ends it a pass later (waitlist.h). A wait that ends
 * by an error (cancelled, timed out) wakes the first waiter left, as
 * CPython 3.13's Condition.wait passes on a notification it may have used
 * up: that one looks at the state and, if it must wait on, waits again at
 * the back. */
static int wait_change(struct weft_barrier *b, uint64_t deadline) {
  int rc = weft__wl_cancel_point_locked(&b->m, WEFT__WAIT_TASK);
  if (rc == 0) return 0; /* m was let go: look again */
  if (rc > 0) {
    struct weft__waiter_node w;
    weft__task_blocked_named(weft__task_self(), WEFT__BLOCK_BARRIER, b, 0, weft__name_get(&b->name));
    rc = weft__wl_wait(&b->m, &b->waiters, &w, WEFT__WAIT_TASK, deadline);
  }
  if (rc) weft__wl_wake_one(&b->waiters, NULL, 0);
  return rc;
}

int weft_barrier_wait(weft_barrier_t *b, int64_t timeout_ns) {
  if (!b) return -EINVAL;
  int rc = weft__wl_can_wait(WEFT__WAIT_TASK);
  if (rc) return rc;
  uint64_t deadline = weft__deadline(timeout_ns);
  weft__mutex_lock(&b->m);
  /* _block: while it drains or resets. */
  while (b->state == DRAINING || b->state == RESETTING)
    if ((rc = wait_change(b, deadline))) goto out;
  if (b->state == BROKEN) {
    rc = WEFT_EBROKEN;
    goto out;
  }
  int index = (int)b->count++;
  if ((unsigned)index + 1 == b->parties) {
    b->state = DRAINING; /* _release */
    wake_all(b);
  } else {
    while (b->state == FILLING) /* _wait */
      if ((rc = wait_change(b, deadline))) break;
    if (!rc && (b->state == BROKEN || b->state == RESETTING)) rc = WEFT_EBROKEN;
  }
  /* _exit, on every way out past the block (asyncio's finally). */
  if (--b->count == 0) {
    if (b->state == RESETTING || b->state == DRAINING) b->state = FILLING;
    wake_all(b);
  }
  if (!rc) rc = index;
out:
  WEFT__INVARIANT(barrier_ok(b));
  weft__mutex_unlock(&b->m);
  return rc;
}

int weft_barrier_abort(weft_barrier_t *b) {
  if (!b) return -EINVAL;
  weft__mutex_lock(&b->m);
  b->state = BROKEN;
  wake_all(b);
  weft__mutex_unlock(&b->m);
  return 0;
}

int weft_barrier_reset(weft_barrier_t *b) {
  if (!b) return -EINVAL;
  weft__mutex_lock(&b->m);
  if (b->count > 0)
    b->state = RESETTING; /* those inside fail; the last to leave refills it */
  else
    b->state = FILLING;
  wake_all(b);
  weft__mutex_unlock(&b->m);
  return 0;
}

unsigned weft_barrier_parties(weft_barrier_t *b) { return b ? b->parties : 0; }

unsigned weft_barrier_n_waiting(weft_barrier_t *b) {
  if (!b) return 0;
  weft__mutex_lock(&b->m);
  unsigned n = b->state == FILLING ? b->count : 0;
  weft__mutex_unlock(&b->m);
  return n;
}

int weft_barrier_broken(weft_barrier_t *b) {
  if (!b) return 0;
  weft__mutex_lock(&b->m);
  int v = b->state == BROKEN;
  weft__mutex_unlock(&b->m);
  return v;
}

int weft_barrier_set_name(weft_barrier_t *b, const char *name) {
  return b ? weft__name_set(&b->name, name) : -EINVAL;
}

const char *weft_barrier_name(weft_barrier_t *b) {
  return b ? weft__name_get(&b->name) : NULL;
}
