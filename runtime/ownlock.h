/*
 * ownlock.h - a lock word that a worker may pass by in owner sections
 * (owner.h): every other thread settles once it holds the word, and the
 * worker's fast paths take a section instead of it. A future's lock
 * (futlock.h) and a stream's (io/stream.c) are such words; @o, the record
 * of the worker that takes the sections (a one-worker loop's, or on a
 * loop of several a plain future's worker's), is NULL where there are
 * none (a stream of a loop of several workers, no loop).
 *
 * Invariants (owner.h's 2 and 3): what the word guards is read or written
 * with the word held and settled (weft__ownlock_lock), or in a section
 * that @o's running worker entered (weft__ownlock_begin); never under the
 * bare word by another thread.
 */
#ifndef WEFT_RUNTIME_OWNLOCK_H
#define WEFT_RUNTIME_OWNLOCK_H

#include "amutex.h"
#include "owner.h"
#include "worker.h"

/* Whether the calling thread is the running worker whose record is @o
 * (a worker's `sections`: its one-worker loop's record, or its own). */
static inline bool weft__ownlock_mine(const struct weft__owner *o) {
  struct weft__worker *w = weft__worker_self_leaf();
  return o && w && w->sections == o;
}

/* What a thread holding such a word (or freeing what it guards) owes: unless
 * it is @o's worker or sections are off, it revokes them (owner.h,
 * invariants 3 and 4). acquire on `on`: a run that ended, or a revocation
 * that waited out the last section, stored OFF with release, so the
 * sections' writes are seen. The look at `on` first: the worker mostly
 * finds sections ON, other threads OFF. */
static inline void weft__ownlock_settle(struct weft__owner *o) {
  if (o && atomic_load_explicit(&o->on, memory_order_acquire) != WEFT__OWNER_OFF && !weft__ownlock_mine(o))
    weft__owner_revoke(o);
}

/* Takes @m, then settles (after the word: owner.h's pairing). */
static inline void weft__ownlock_lock(struct weft__amutex *m, struct weft__owner *o) {
  weft__amutex_lock(m);
  weft__ownlock_settle(o);
}

/* An owner section where the caller may take one (@o's running worker,
 * @m free): @o, to end with weft__ownlock_end; else @m taken and settled:
 * NULL. */
static inline struct weft__owner *weft__ownlock_begin(struct weft__amutex *m, struct weft__owner *o) {
  bool mine = weft__ownlock_mine(o);
  if (mine && weft__owner_enter(o, &m->word)) return o;
  weft__amutex_lock(m);
  if (!mine) weft__ownlock_settle(o);
  return NULL;
}

/* From a section @own (weft__ownlock_begin's) to @m itself, for work a
 * section may not do: NULL, @m held (the caller is @own's worker, which
 * owes no settle). */
static inline struct weft__owner *weft__ownlock_escalate(struct weft__amutex *m, struct weft__owner *own) {
  weft__owner_leave(own);
  weft__amutex_lock(m);
  return NULL;
}

static inline void weft__ownlock_end(struct weft__amutex *m, struct weft__owner *own) {
  if (own) weft__owner_leave(own);
  else weft__amutex_unlock(m);
}

#endif
