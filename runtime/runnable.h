/*
 * runnable.h - what run queues hold: a task or a callback handle.
 *
 * Both embed a struct weft__runnable; the kind says which container it is.
 * The next link is used by the owner-only FIFO lists (the solo worker's
 * overflow, pinned tasks, the injection queue's out-of-memory fallback); the
 * ring and the injection queue store pointers and do not use it. A runnable is in at most one queue at a time.
 *
 * One word: the kind lives in the link's two low bits (runnables are
 * pointer-aligned), so a task's first-run entry costs its handle 8 bytes,
 * not 16 (task.h: the 128-byte handle). Invariant: the kind bits are set
 * by weft__runnable_init, and every link change here keeps them. Only
 * this file reads or writes `link`, but for a worker's object cache,
 * which keeps a freed task's free-list pointer in its r_start (worker.c):
 * the task's next spawn runs weft__runnable_init before any queue sees it.
 */
#ifndef WEFT_RUNTIME_RUNNABLE_H
#define WEFT_RUNTIME_RUNNABLE_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

/* A task has two runnables: r_start for its first run (it may turn out
 * stale, see task.h) and r for every later resumption. WEFT__R_CALL is an
 * internal callback embedded in a runtime object (handle.h, struct
 * weft__call). */
enum weft__rkind { WEFT__R_CALL = 0, WEFT__R_TASK = 1, WEFT__R_HANDLE = 2, WEFT__R_TASK_START = 3 };

struct weft__runnable {
  uintptr_t link; /* the next runnable in an rlist | its kind (enum weft__rkind) */
};

#define WEFT__RKIND_MASK ((uintptr_t)3)
_Static_assert(_Alignof(struct weft__runnable) > WEFT__RKIND_MASK, "the kind bits need an aligned link");

static inline void weft__runnable_init(struct weft__runnable *r, enum weft__rkind kind) {
  r->link = (uintptr_t)kind;
}

static inline enum weft__rkind weft__runnable_kind(const struct weft__runnable *r) {
  return (enum weft__rkind)(r->link & WEFT__RKIND_MASK);
}

static inline struct weft__runnable *weft__runnable_next(const struct weft__runnable *r) {
  return (struct weft__runnable *)(r->link & ~WEFT__RKIND_MASK);
}

static inline void weft__runnable_set_next(struct weft__runnable *r, struct weft__runnable *next) {
  r->link = (r->link & WEFT__RKIND_MASK) | (uintptr_t)next;
}

/* A FIFO of runnables linked through their links. Not thread-safe, but
 * for its count, which any thread may read (weft__rlist_len). */
struct weft__rlist {
  struct weft__runnable *head, *tail;
  /* Written only by whoever may change the list (its owner, or under its
   * lock): relaxed load and store, no read-modify-write. Read by it, and
   * by the statistics from any thread (weft__rlist_len: a gauge). */
  _Atomic size_t count;
};

static inline void weft__rlist_init(struct weft__rlist *l) {
  l->head = l->tail = NULL;
  atomic_store_explicit(&l->count, 0, memory_order_relaxed);
}

/* How many are queued (relaxed: exact for the list's writer; a gauge for
 * anyone else). */
static inline size_t weft__rlist_len(const struct weft__rlist *l) {
  return atomic_load_explicit(&l->count, memory_order_relaxed);
}

static inline void weft__rlist_set_len(struct weft__rlist *l, size_t n) {
  atomic_store_explicit(&l->count, n, memory_order_relaxed);
}

static inline void weft__rlist_push(struct weft__rlist *l, struct weft__runnable *r) {
  weft__runnable_set_next(r, NULL);
  if (l->tail)
    weft__runnable_set_next(l->tail, r);
  else
    l->head = r;
  l->tail = r;
  weft__rlist_set_len(l, weft__rlist_len(l) + 1);
}

static inline struct weft__runnable *weft__rlist_pop(struct weft__rlist *l) {
  struct weft__runnable *r = l->head;
  if (!r) return NULL;
  l->head = weft__runnable_next(r);
  if (!l->head) l->tail = NULL;
  weft__runnable_set_next(r, NULL);
  weft__rlist_set_len(l, weft__rlist_len(l) - 1);
  return r;
}

#endif
