/*
 * wait.c - asyncio.wait: wait until one, the first failure, or all of a
 * set of futures are done, or a timeout (weft/compose.h).
 *
 * The waiting task registers one notify entry (future.h) per future that
 * is not done; each entry, run under its future's lock at completion,
 * counts down and wakes the task when the condition holds. Nothing is
 * cancelled: not the futures on a timeout, not the futures when the task
 * itself is cancelled (asyncio's wait). The entries live in an array the
 * task allocates and frees; before it returns, the task unregisters every
 * entry under its future's lock, so no entry runs afterwards (future.h's
 * waker rule).
 */
#include "weft.h"
#include "weft/compose.h"
#include "alloc.h"
#include "deadline.h"
#include "future.h"
#include "task.h"

#include <errno.h>

struct wait_state {
  struct weft_task *task;
  int when;
  _Atomic size_t remaining; /* entries that have not fired */
  _Atomic uint32_t fired;   /* the condition holds: the task's wake-up flag */
};

struct wait_entry {
  struct weft__notify note;
  struct wait_state *st;
  bool registered;          /* the task's own bookkeeping */
};

/* Does a completion with @err, leaving @left unfinished, end the wait? */
static bool satisfied(int when, int err, size_t left) {
  if (left == 0 || when == WEFT_FIRST_COMPLETED) return true;
  return when == WEFT_FIRST_EXCEPTION && err && err != -ECANCELED;
}

static void fire(struct wait_state *st) {
  /* release: the task's acquire load in weft__task_wait sees it. */
  atomic_store_explicit(&st->fired, 1, memory_order_release);
  weft__task_wake(st->task);
}

static void on_done(struct weft__notify *n, struct weft_future *f) {
  struct wait_state *st = weft__container_of(n, struct wait_entry, note)->st;
  /* acq_rel: counts down once per entry; the last sees the others. */
  size_t left = atomic_fetch_sub_explicit(&st->remaining, 1, memory_order_acq_rel) - 1;
  if (satisfied(st->when, f->err, left)) fire(st);
}

/* The condition over the futures as they are now. */
static bool holds_now(weft_future_t *const *fs, size_t n, int when) {
  size_t done = 0;
  for (size_t i = 0; i < n; i++) {
    if (!weft__future_is_done(fs[i])) continue;
    done++;
    if (satisfied(when, fs[i]->err, 1)) return true;
  }
  return done == n;
}

static int count_done(weft_future_t *const *fs, size_t n, uint8_t *done) {
  int count = 0;
  for (size_t i = 0; i < n; i++) {
    int d = weft__future_is_done(fs[i]);
    if (done) done[i] = (uint8_t)d;
    count += d;
  }
  return count;
}

int weft_wait(weft_future_t *const *fs, size_t n, int64_t timeout_ns, int when, uint8_t *done) {
  if (!fs || n == 0 || n > INT32_MAX) return -EINVAL;
  if (when < WEFT_ALL_COMPLETED || when > WEFT_FIRST_EXCEPTION) return -EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!fs[i]) return -EINVAL;
  struct weft_task *t = weft__task_self();
  if (!t) return -EPERM;
  if (holds_now(fs, n, when)) return count_done(fs, n, done);
  uint64_t deadline = weft__deadline(timeout_ns);
  struct wait_entry *es = weft__alloc(n * sizeof *es);
  if (!es) return -ENOMEM;
  struct wait_state st = {.task = t, .when = when};
  atomic_init(&st.remaining, n);
  atomic_init(&st.fired, 0);
  for (size_t i = 0; i < n; i++) {
    es[i].st = &st;
    es[i].note.fn = on_done;
    weft__chain_node_init(&es[i].note.e.link);
    es[i].registered = weft__future_notify_add(fs[i], &es[i].note);
    if (!es[i].registered) { /* done meanwhile: counts as fired now */
      size_t left = atomic_fetch_sub_explicit(&st.remaining, 1, memory_order_acq_rel) - 1;
      if (satisfied(when, fs[i]->err, left)) atomic_store_explicit(&st.fired, 1, memory_order_relaxed);
    }
  }
  weft__task_blocked(t, WEFT__BLOCK_WAIT, n ? fs[0] : NULL, (int64_t)n);
  int rc = weft__task_wait(t, &st.fired, deadline);
  for (size_t i = 0; i < n; i++)
    if (es[i].registered) weft__future_notify_remove(fs[i], &es[i].note);
  weft__free(es, n * sizeof *es);
  if (rc == -ECANCELED) return rc;
  return count_done(fs, n, done); /* a timeout is not an error */
}
