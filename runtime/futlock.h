/*
 * futlock.h - taking a future's lock: the amutex (amutex.h), with the
 * revocation of owner sections (owner.h) that every thread but the
 * loop's running worker owes after taking it; and the owner section that
 * the worker of a one-worker loop takes instead where it may. A future's
 * lock is an ownlock.h word of its loop's record; these are its forms
 * with the loop in hand.
 *
 * Invariants: whoever reads or writes what a future's lock guards does
 * so under weft__futlock, or in an owner section (weft__futlock_begin_solo,
 * by the running worker of the future's one-worker loop only); on a
 * one-worker loop's future never under the bare amutex (owner.h,
 * invariant 3; with several workers there are no sections, and the bare
 * amutex is the lock). Whoever frees a future that is not a task's
 * settles first (weft__futlock_settle; weft_future_release).
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
 * one-worker loop never changes threads (the only case in which the
 * answer is yes). */
static inline bool weft__futlock_is_owner(const struct weft_loop *loop) {
  struct weft__worker *w = weft__worker_self_leaf();
  return w && w->loop == loop;
}

/* What a thread that is not the running worker owes before it reads or
 * writes what @f's lock guards, or frees @f (ownlock.h). */
static inline void weft__futlock_settle(struct weft_future *f) {
  struct weft_loop *loop = f->loop;
  if (loop->solo) weft__ownlock_settle(loop->owner);
}

/* Takes @f's lock word; on a one-worker loop's future, then settles (after
 * the word: owner.h's pairing), unless @owner (the caller is its worker,
 * already known). */
static inline void weft__futlock_word(struct weft_future *f, struct weft_loop *loop, bool owner) {
  weft__amutex_lock(&f->lock);
  if (!owner) weft__futlock_settle(f);
}

static inline void weft__futlock(struct weft_future *f) {
  struct weft_loop *loop = f->loop;
  weft__futlock_word(f, loop, loop->solo && weft__futlock_is_owner(loop));
}

static inline void weft__futunlock(struct weft_future *f) { weft__amutex_unlock(&f->lock); }

/* For a future of a one-worker loop: an owner section on @f where the
 * caller may take one, else its lock: the loop's owner record if a
 * section was entered, NULL if the lock was taken. Either way end with
 * weft__futlock_end. (Callers test `solo` first and take the bare lock
 * on other loops' futures, out of these paths' way.) */
static inline struct weft__owner *weft__futlock_begin_solo(struct weft_future *f) {
  struct weft_loop *loop = f->loop;
  bool owner = weft__futlock_is_owner(loop);
  if (owner && weft__owner_enter(loop->owner, &f->lock.word)) return loop->owner;
  weft__futlock_word(f, loop, owner);
  return NULL;
}

static inline void weft__futlock_end(struct weft_future *f, struct weft__owner *own) {
  if (own) weft__owner_leave(own);
  else weft__futunlock(f);
}

#endif
