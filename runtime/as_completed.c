/*
 * as_completed.c - asyncio.as_completed: the futures of a set in the order
 * they finish (weft/compose.h).
 *
 * The iterator registers one notify entry (future.h) per future; an entry
 * appends its future's index to `ready` under the iterator's mutex and
 * wakes the task waiting in next(), if any. Futures done at the start are
 * appended in input order (asyncio schedules their callbacks in that
 * order). next() hands out `ready` oldest first, as the original futures
 * (3.13's `async for` form).
 *
 * Timeout (3.13's _handle_timeout): once the deadline passed, every entry
 * still registered is removed, so what finishes later is not yielded;
 * what had finished before is still handed out first, and each later
 * next() returns -ETIMEDOUT. Nothing is cancelled.
 *
 * One worker in FIFO order (asyncio's exact order): asyncio's
 * _handle_completion, a done callback, puts a future in the iterator's
 * queue a pass after it completes (queued at once for one already done),
 * and a task waiting in next() resumes a pass after that. There each entry
 * (and the start, for a future already done) queues such a callback
 * (struct weft__call, handle.h) that appends the index; the iterator then
 * counts a reference per callback queued, so that weft_as_completed_free
 * leaves it to the last one, and a callback that runs after the free
 * appends nothing.
 *
 * Locks: a future's lock, then `m` (the entries run under the first). The
 * iterator never holds `m` while it takes a future's lock. Waker rule: the
 * waiting task clears `waiter` under `m` before it leaves next().
 */
#include "weft.h"
#include "weft/compose.h"
#include "alloc.h"
#include "deadline.h"
#include "future.h"
#include "handle.h"
#include "loop.h"
#include "mutex.h"
#include "task.h"

#include <errno.h>

struct ac_entry {
  struct weft__notify note;
  struct weft__call push;  /* asyncio's _handle_completion (queued once at most) */
  struct weft_as_completed *it;
  size_t idx;
  bool registered; /* the owner's bookkeeping */
};

struct weft_as_completed {
  struct weft__mutex m;
  size_t n;                  /* immutable */
  struct weft_future **fs;   /* referenced; immutable */
  struct ac_entry *entries;  /* n */
  size_t *ready;             /* n slots: each index is appended once; under m */
  size_t rhead, rtail;       /* under m */
  size_t yielded;            /* the task calling next() */
  uint64_t deadline;         /* 0: none; immutable */
  bool timed_out;            /* the task calling next() */
  struct weft_task *waiter;  /* under m */
  _Atomic uint32_t fired;    /* waiter's wake-up flag */
  struct weft_loop *loop;    /* the creator's; immutable */
  bool by_callback;          /* one worker in FIFO order (head comment); immutable */
  struct weft_task *maker;   /* the task that made it, or NULL; compared, never used; immutable */
  uint64_t made_in;          /* maker's slice count then (weft__task_runs); immutable */
  bool freed;                /* weft_as_completed_free was called; under m */
  _Atomic uint32_t refs;     /* the owner's, and one per callback queued */
  size_t bytes;
};

static void it_unref(struct weft_as_completed *it) {
  /* acq_rel: the last one frees, after every other's use. */
  if (atomic_fetch_sub_explicit(&it->refs, 1, memory_order_acq_rel) != 1) return;
  for (size_t i = 0; i < it->n; i++) weft_future_release(it->fs[i]);
  weft__free(it, it->bytes);
}

static void push_ready_locked(struct weft_as_completed *it, size_t idx) {
  it->ready[it->rtail++] = idx;
  if (it->waiter) {
    /* release: the waiter's acquire load sees the index appended. */
    atomic_store_explicit(&it->fired, 1, memory_order_release);
    weft__task_wake(it->waiter);
  }
}

/* Appends @e's index, unless the iterator was freed meanwhile. */
static void push_ready(struct ac_entry *e) {
  weft__mutex_lock(&e->it->m);
  if (!e->it->freed) push_ready_locked(e->it, e->idx);
  weft__mutex_unlock(&e->it->m);
}

/* asyncio's _handle_completion, as a callback (head comment). */
static void push_callback(struct weft__call *call) {
  struct ac_entry *e = weft__container_of(call, struct ac_entry, push);
  struct weft_as_completed *it = e->it;
  push_ready(e);
  it_unref(it);
}

/* Appends @e's index now, or queues the callback that will. */
static void completed(struct ac_entry *e) {
  struct weft_as_completed *it = e->it;
  if (!it->by_callback) {
    push_ready(e);
    return;
  }
  /* The caller's reference (the owner's, or the entry's while it is
   * registered) keeps it alive meanwhile. */
  if (weft__call_queue_counted(it->loop, &e->push, push_callback, &it->refs)) return;
  push_ready(e); /* closed: at once */
}

static void on_done(struct weft__notify *n, struct weft_future *f) {
  (void)f;
  completed(weft__container_of(n, struct ac_entry, note));
}

int weft_as_completed_new(weft_future_t *const *fs, size_t n, int64_t timeout_ns,
                          weft_as_completed_t **out) {
  if (!out || (n && !fs)) return -EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!fs[i]) return -EINVAL;
  if (n > SIZE_MAX / (sizeof(struct ac_entry) + sizeof(size_t) + sizeof(void *)) - 1) return -ENOMEM;
  size_t bytes = sizeof(struct weft_as_completed) +
                 n * (sizeof(struct ac_entry) + sizeof(size_t) + sizeof(void *));
  struct weft_as_completed *it = weft__alloc(bytes);
  if (!it) return -ENOMEM;
  weft__mutex_init(&it->m);
  it->n = n;
  it->bytes = bytes;
  it->entries = (struct ac_entry *)(it + 1);
  it->fs = (struct weft_future **)(it->entries + n);
  it->ready = (size_t *)(it->fs + n);
  it->rhead = it->rtail = 0;
  it->yielded = 0;
  it->deadline = weft__deadline(timeout_ns);
  it->timed_out = false;
  it->waiter = NULL;
  atomic_init(&it->fired, 0);
  struct weft_task *self = weft__task_self();
  it->loop = self ? self->fut.loop : (n ? fs[0]->loop : NULL);
  it->by_callback = it->loop && weft__loop_asyncio_order(it->loop);
  it->maker = self;
  it->made_in = self ? weft__task_runs(self) : 0;
  it->freed = false;
  atomic_init(&it->refs, 1);
  for (size_t i = 0; i < n; i++) {
    struct ac_entry *e = &it->entries[i];
    it->fs[i] = weft_future_ref(fs[i]);
    e->it = it;
    e->idx = i;
    e->note.fn = on_done;
    weft__chain_node_init(&e->note.e.link);
    e->registered = weft__future_notify_add(fs[i], &e->note);
    if (!e->registered) completed(e); /* done already: in input order */
  }
  *out = it;
  return 0;
}

/* Unregisters every entry still registered; after it, none runs. */
static void unregister_all(struct weft_as_completed *it) {
  for (size_t i = 0; i < it->n; i++) {
    if (!it->entries[i].registered) continue;
    weft__future_notify_remove(it->fs[i], &it->entries[i].note);
    it->entries[i].registered = false;
  }
}

/* Takes the oldest ready index, if any. */
static bool take_ready(struct weft_as_completed *it, size_t *idx) {
  weft__mutex_lock(&it->m);
  bool any = it->rhead != it->rtail;
  if (any) *idx = it->ready[it->rhead++];
  weft__mutex_unlock(&it->m);
  return any;
}

int weft_as_completed_next(weft_as_completed_t *it, weft_future_t **f) {
  if (!it || !f) return -EINVAL;
  struct weft_task *t = weft__task_self();
  if (!t) return -EPERM;
  if (it->yielded == it->n) return 1;
  /* asyncio's next() waits on a queue that done callbacks fill a pass
   * after each completion (a future done at the start included), so a
   * first next() in the slice that made the iterator finds it empty and
   * waits, and a cancellation pending then is delivered, a pass later
   * (task.h). Where futures done at the start were counted in at once
   * (several workers, LOCALITY order), the same. */
  if (!it->by_callback && it->yielded == 0 && it->maker == t &&
      weft__task_runs(t) == it->made_in && weft__task_take_cancel(t))
    return weft__task_cancelled_after_pass(t);
  for (;;) {
    size_t idx;
    if (take_ready(it, &idx)) {
      it->yielded++;
      *f = it->fs[idx];
      return 0;
    }
    if (it->timed_out) {
      it->yielded++; /* one TimeoutError per future left, as asyncio's iterator */
      return -ETIMEDOUT;
    }
    /* About to wait with a cancellation pending: asyncio cancels the
     * queue getter's future, and the task raises a pass later (task.h). */
    if (weft__task_take_cancel(t)) return weft__task_cancelled_after_pass(t);
    weft__mutex_lock(&it->m);
    bool wait = it->rhead == it->rtail;
    if (wait) {
      it->waiter = t;
      atomic_store_explicit(&it->fired, 0, memory_order_relaxed);
    }
    weft__mutex_unlock(&it->m);
    if (!wait) continue;
    weft__task_blocked(t, WEFT__BLOCK_AS_COMPLETED, it, 0);
    int rc = weft__task_wait(t, &it->fired, it->deadline);
    weft__mutex_lock(&it->m);
    it->waiter = NULL; /* waker rule */
    weft__mutex_unlock(&it->m);
    if (rc == -ECANCELED) return rc;
    if (rc == -ETIMEDOUT) {
      it->timed_out = true; /* what finishes from now on is not yielded */
      unregister_all(it);
    }
  }
}

void weft_as_completed_free(weft_as_completed_t *it) {
  if (!it) return;
  unregister_all(it);
  weft__mutex_lock(&it->m);
  it->freed = true; /* a callback still queued appends nothing */
  weft__mutex_unlock(&it->m);
  it_unref(it);
}
