/*
 * futlock.h - taking a future's lock: the amutex (amutex.h), with the
 * revocation of owner sections (owner.h) that every thread but the
 * running worker of the future's record owes after taking it; and the
 * owner section that worker takes instead where it may. A future's lock
 * is an ownlock.h word of its record (weft__future_owner): a one-worker
 * loop's for all of its futures; on a loop of several workers, the
 * record of the worker that made it for a plain future (future.h), none
 * for the others (the bare amutex is their lock).
 *
 * Invariants: whoever reads or writes what a future's lock guards does
 * so under weft__futlock, or in an owner section (weft__futlock_begin_own,
 * by the running worker of the future's record only); never under the
 * bare amutex where the future has a record (owner.h, invariant 3).
 * Whoever frees a future that is not a task's settles first
 * (weft__futlock_settle; weft_future_release).
 */
#ifndef WEFT_RUNTIME_FUTLOCK_H
#define WEFT_RUNTIME_FUTLOCK_H

#include "amutex.h"
#include "future.h"
#include "loop.h"
#include "owner.h"
#include "ownlock.h"
#include "worker.h"

/* Whether the calling thread is @loop's running worker. The thread-local
 * is read inline: nothing here switches fibers, and a task of a
 * one-worker loop never changes threads (task.c's task-state paths ask
 * this only of such a loop). */
static inline bool weft__futlock_is_owner(const struct weft_loop *loop) {
  struct weft__worker *w = weft__worker_self_leaf();
  return w && w->loop == loop;
}

/* The owner record whose sections may be taken on @f, or NULL: a
 * one-worker loop's record for every one of its futures; on a loop of
 * several workers, a plain future's binding (future.h: the worker whose
 * task made it), none for the rest: tasks' futures (a task's state is
 * guarded by its future's word, taskstate.h, and moves on whatever worker
 * runs or wakes it) and combinators' (their completions run hooks). */
static inline struct weft__owner *weft__future_owner(const struct weft_future *f) {
  const struct weft_loop *loop = f->loop;
  if (loop->solo) return loop->owner;
  if (f->is_task || f->ops) return NULL;
  return ((const struct weft__plain_future *)f)->own;
}

/* What a thread that is not @f's record's running worker owes before it
 * reads or writes what @f's lock guards, or frees @f (ownlock.h). */
static inline void weft__futlock_settle(struct weft_future *f) { weft__ownlock_settle(weft__future_owner(f)); }

static inline void weft__futlock(struct weft_future *f) {
  weft__amutex_lock(&f->lock);
  weft__futlock_settle(f); /* after the word: owner.h's pairing */
}

static inline void weft__futunlock(struct weft_future *f) { weft__amutex_unlock(&f->lock); }

/* For a future with a record @o (weft__future_owner, not NULL): an owner
 * section on @f where the caller may take one (@o's running worker), else
 * its lock: @o if a section was entered, NULL if the lock was taken.
 * Either way end with weft__futlock_end. (Callers test for a record
 * first and take the bare lock on other futures, out of these paths'
 * way.) */
static inline struct weft__owner *weft__futlock_begin_own(struct weft_future *f, struct weft__owner *o) {
  return weft__ownlock_begin(&f->lock, o);
}

static inline void weft__futlock_end(struct weft_future *f, struct weft__owner *own) {
  weft__ownlock_end(&f->lock, own);
}

#endif
