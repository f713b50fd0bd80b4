/*
 * futlock.h - taking a future's lock: the amutex (amutex.h), with the
 * revocation of owner sections (owner.h) that every thread but the
 * loop's running worker owes after taking it; and the owner section that
 * the worker of a one-worker loop takes instead where it may.
 *
 * Invariants: whoever reads or writes what a future's lock guards does so
 * under weft__futlock, or in an owner section (weft__futlock_begin, by the
 * running worker of the future's one-worker loop only); never under the
 * bare amutex (owner.h, invariant 3). Whoever frees a future that is not
 * a task's settles first (weft__futlock_settle; weft_future_release).
 */
#ifndef WEFT_RUNTIME_FUTLOCK_H
#define WEFT_RUNTIME_FUTLOCK_H

#include "amutex.h"
#include "future.h"
#include "loop.h"
#include "owner.h"
#include "worker.h"

/* Whether the calling thread is @loop's running worker. The thread-local
 * is read inline: nothing here switches fibers, and a task of a
 * one-worker loop never changes threads (the only case in which the
 * answer is yes). */
static inline bool weft__futlock_is_owner(const struct weft_loop *loop) {
  struct weft__worker *w = weft__worker_self_leaf();
  return w && w->loop == loop;
}

/* What a thread that is not the running worker owes before it reads or
 * writes what @f's lock guards, or frees @f: if owner sections are on,
 * revoke them (owner.h, invariant 3). acquire on `on`: a run that ended
 * cleared it with release, so its sections' writes are seen. */
static inline void weft__futlock_settle(struct weft_future *f) {
  struct weft_loop *loop = f->loop;
  if (loop->solo && atomic_load_explicit(&loop->owner.on, memory_order_acquire) &&
      !weft__futlock_is_owner(loop))
    weft__owner_revoke(&loop->owner);
}

/* Takes @f's lock word; on a one-worker loop's future, then settles (after
 * the word: owner.h's pairing), unless @owner (the caller is its worker). */
static inline void weft__futlock_word(struct weft_future *f, struct weft_loop *loop, bool owner) {
  weft__amutex_lock(&f->lock);
  if (loop->solo && !owner && atomic_load_explicit(&loop->owner.on, memory_order_acquire))
    weft__owner_revoke(&loop->owner);
}

static inline void weft__futlock(struct weft_future *f) {
  struct weft_loop *loop = f->loop;
  weft__futlock_word(f, loop, loop->solo && weft__futlock_is_owner(loop));
}

static inline void weft__futunlock(struct weft_future *f) { weft__amutex_unlock(&f->lock); }

/* An owner section on @f where the caller may take one, else its lock:
 * the loop's owner record if a section was entered, NULL if the lock was
 * taken. Either way end with weft__futlock_end. A loop of several workers
 * pays one test of `solo` over the bare lock (_solo: the future's loop
 * has one worker). */
static inline struct weft__owner *weft__futlock_begin_solo(struct weft_future *f) {
  struct weft_loop *loop = f->loop;
  bool owner = weft__futlock_is_owner(loop);
  if (owner && weft__owner_enter(&loop->owner, &f->lock.word)) return &loop->owner;
  weft__futlock_word(f, loop, owner);
  return NULL;
}

static inline struct weft__owner *weft__futlock_begin(struct weft_future *f) {
  if (f->loop->solo) return weft__futlock_begin_solo(f);
  weft__amutex_lock(&f->lock);
  return NULL;
}

static inline void weft__futlock_end(struct weft_future *f, struct weft__owner *own) {
  if (own) weft__owner_leave(own);
  else weft__futunlock(f);
}

#endif
