/*
 * barrier.c - Barrier: parties tasks meet; each gets its arrival index.
 *
 * Invariants (under m): count tasks have arrived in the current round and
 * count < parties; the waitlist holds count waiters (all but the ones that
 * left through cancellation or timeout, which decrement count). The last
 * arrival grants everyone (status 0), starts a new round and returns its
 * index without waiting. abort() marks the barrier broken and grants every
 * waiter WEFT_EBROKEN; reset() does the same but leaves the barrier usable.
 */
#include "weft.h"
#include "alloc.h"
#include "misuse.h"
#include "task.h"
#include "named.h"
#include "waitlist.h"

#include <errno.h>
#include <limits.h>

struct weft_barrier {
  struct weft__mutex m;
  WEFT__MAGIC                     /* debug builds: misuse.h */
  _Atomic(const char *) name;     /* weft_barrier_set_name; relaxed (the dump reads it) */
  unsigned parties;               /* immutable */
  unsigned count;                 /* under m */
  bool broken;                    /* under m */
  struct weft__waitlist waiters;  /* under m */
};

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
  b->broken = false;
  weft__wl_init(&b->waiters);
  *out = b;
  return 0;
}

int weft_barrier_destroy(weft_barrier_t *b) {
  if (!b) return -EINVAL;
  weft__magic_check(b, "double destroy", "barrier");
  weft__mutex_lock(&b->m);
  bool busy = b->waiters.count != 0;
  weft__mutex_unlock(&b->m);
  if (busy) return -EBUSY;
  weft__magic_dead(b);
  weft__free(b, sizeof *b);
  return 0;
}

int weft_barrier_wait(weft_barrier_t *b, int64_t timeout_ns) {
  if (!b) return -EINVAL;
  int rc = weft__wl_can_wait(WEFT__WAIT_TASK);
  if (rc) return rc;
  weft__mutex_lock(&b->m);
  if (b->broken) {
    weft__mutex_unlock(&b->m);
    return WEFT_EBROKEN;
  }
  int index = (int)b->count++;
  if (b->count == b->parties) {
    b->count = 0;
    weft__wl_wake_all(&b->waiters, 0);
    weft__mutex_unlock(&b->m);
    return index;
  }
  struct weft__waiter_node w;
  weft__task_blocked_named(weft__task_self(), WEFT__BLOCK_BARRIER, b, 0,
                         weft__name_get(&b->name));
  /* Granted: the round completed (or broke) for us, and the status is in
   * our node; m is not held (the parties released at once do not queue
   * on it). */
  rc = weft__wl_wait_handoff(&b->m, &b->waiters, &w, WEFT__WAIT_TASK, weft__deadline(timeout_ns));
  if (!rc) return w.status ? w.status : index;
  /* A cancellation arriving with the grant is reported, the others
   * proceed; without a grant we leave before the round completes. */
  if (!atomic_load_explicit(&w.granted, memory_order_acquire)) b->count--;
  weft__mutex_unlock(&b->m);
  return rc;
}

static int break_all(weft_barrier_t *b, bool stay_broken) {
  if (!b) return -EINVAL;
  weft__mutex_lock(&b->m);
  weft__wl_wake_all(&b->waiters, WEFT_EBROKEN);
  b->count = 0;
  b->broken = stay_broken;
  weft__mutex_unlock(&b->m);
  return 0;
}

int weft_barrier_abort(weft_barrier_t *b) { return break_all(b, true); }
int weft_barrier_reset(weft_barrier_t *b) { return break_all(b, false); }

unsigned weft_barrier_parties(weft_barrier_t *b) { return b ? b->parties : 0; }

unsigned weft_barrier_n_waiting(weft_barrier_t *b) {
  if (!b) return 0;
  weft__mutex_lock(&b->m);
  unsigned n = (unsigned)b->waiters.count;
  weft__mutex_unlock(&b->m);
  return n;
}

int weft_barrier_broken(weft_barrier_t *b) {
  if (!b) return 0;
  weft__mutex_lock(&b->m);
  int v = b->broken;
  weft__mutex_unlock(&b->m);
  return v;
}

int weft_barrier_set_name(weft_barrier_t *b, const char *name) {
  return b ? weft__name_set(&b->name, name) : -EINVAL;
}

const char *weft_barrier_name(weft_barrier_t *b) {
  return b ? weft__name_get(&b->name) : NULL;
}
