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
 *
 * One worker in FIFO order (asyncio's exact order): asyncio's _wait looks
 * at each future in a done callback, which the completion queues (and
 * add_done_callback on a future already done, at once), and the task
 * resumes a pass after the callback that satisfies it; it suspends even
 * when the condition already holds. There each entry queues such a
 * callback instead (struct weft__call, handle.h); the state and the entries
 * then live on the heap, referenced by the task and by every callback
 * still queued, and a callback that runs after the task has left does
 * nothing.
 */
#include "weft.h"
#include "weft/compose.h"
#include "alloc.h"
#include "deadline.h"
#include "future.h"
#include "handle.h"
#include "loop.h"
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

/* ---- one worker in FIFO order: looked at in callbacks (head comment) ---- */

struct wait_block {
  struct wait_state st;
  _Atomic uint32_t refs;  /* the task's, and one per callback queued */
  _Atomic bool left;      /* the task has stopped waiting */
  size_t n;
  struct cb_entry {
    struct weft__notify note;
    struct weft__call look;  /* asyncio's _on_completion (queued once at most) */
    struct wait_block *b;
    struct weft_future *f;
    bool registered;
  } es[];
};

static void block_unref(struct wait_block *b) {
  /* acq_rel: the last one frees, after every other's use. */
  if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
    weft__free(b, sizeof *b + b->n * sizeof b->es[0]);
}

/* asyncio's _on_completion: counts @e's future out while the task waits. */
static void look(struct cb_entry *e) {
  struct wait_block *b = e->b;
  /* acquire: the task's store as it left. */
  if (atomic_load_explicit(&b->left, memory_order_acquire)) return;
  size_t left = atomic_fetch_sub_explicit(&b->st.remaining, 1, memory_order_acq_rel) - 1;
  if (satisfied(b->st.when, e->f->err, left)) fire(&b->st);
}

static void entry_callback(struct weft__call *call) {
  struct cb_entry *e = weft__container_of(call, struct cb_entry, look);
  struct wait_block *b = e->b;
  look(e);
  block_unref(b);
}

/* Queues @e's callback (its future is done), or looks at once if the
 * loop is closed. */
static void queue_callback(struct cb_entry *e) {
  /* The caller holds a reference (the task's, or its entry's future is
   * being completed while the task waits). */
  if (weft__call_queue_counted(e->b->st.task->fut.loop, &e->look, entry_callback, &e->b->refs))
    return;
  look(e); /* closed: at once */
}

static void on_done_queue(struct weft__notify *n, struct weft_future *f) {
  queue_callback(weft__container_of(n, struct cb_entry, note));
}

/* weft_wait on a one-worker loop in FIFO order (head comment). */
static int wait_by_callbacks(struct weft_task *t, weft_future_t *const *fs, size_t n,
                             uint64_t deadline, int when, uint8_t *done) {
  struct wait_block *b = weft__alloc(sizeof *b + n * sizeof b->es[0]);
  if (!b) return -ENOMEM;
  b->st.task = t;
  b->st.when = when;
  atomic_init(&b->st.remaining, n);
  atomic_init(&b->st.fired, 0);
  atomic_init(&b->refs, 1);
  atomic_init(&b->left, false);
  b->n = n;
  for (size_t i = 0; i < n; i++) {
    struct cb_entry *e = &b->es[i];
    e->b = b;
    e->f = fs[i];
    e->note.fn = on_done_queue;
    weft__chain_node_init(&e->note.e.link);
    e->registered = weft__future_notify_add(fs[i], &e->note);
    if (!e->registered) queue_callback(e); /* done already: asyncio queues it at once */
  }
  weft__task_blocked(t, WEFT__BLOCK_WAIT, fs[0], (int64_t)n);
  /* A cancellation pending as it begins: one pass, then -ECANCELED (task.h). */
  int rc = weft__task_take_cancel(t) ? weft__task_cancelled_after_pass(t)
                                     : weft__task_wait(t, &b->st.fired, deadline);
  /* release: a callback that reads it leaves the state alone. */
  atomic_store_explicit(&b->left, true, memory_order_release);
  for (size_t i = 0; i < n; i++)
    if (b->es[i].registered) weft__future_notify_remove(fs[i], &b->es[i].note);
  block_unref(b);
  if (rc == -ECANCELED) return rc;
  return count_done(fs, n, done); /* a timeout is not an error */
}

int weft_wait(weft_future_t *const *fs, size_t n, int64_t timeout_ns, int when, uint8_t *done) {
  if (!fs || n == 0 || n > INT32_MAX) return -EINVAL;
  if (when < WEFT_ALL_COMPLETED || when > WEFT_FIRST_EXCEPTION) return -EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!fs[i]) return -EINVAL;
  struct weft_task *t = weft__task_self();
  if (!t) return -EPERM;
  if (weft__loop_asyncio_order(t->fut.loop))
    return wait_by_callbacks(t, fs, n, weft__deadline(timeout_ns), when, done);
  /* asyncio's wait always awaits its waiter, even when the condition
   * holds already: a cancellation pending as it begins is delivered, a
   * pass later (task.h), as on the callback path. */
  if (weft__task_take_cancel(t)) return weft__task_cancelled_after_pass(t);
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
