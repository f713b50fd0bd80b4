/*
 * runnable.h - what run queues hold: a task or a callback handle.
 *
 * Both embed a struct weft__runnable; the kind says which container it is.
 * The next link is used by the owner-only FIFO lists (the solo worker's
 * overflow, pinned tasks, the injection queue's out-of-memory fallback); the
 * ring and the injection queue store pointers and do not use it. A runnable is in at most one queue at a time.
 */
#ifndef WEFT_RUNTIME_RUNNABLE_H
#define WEFT_RUNTIME_RUNNABLE_H

#include <stddef.h>
#include <stdint.h>

/* A task has two runnables: r_start for its first run (it may turn out
 * stale, see task.h) and r for every later resumption. */
enum weft__rkind { WEFT__R_TASK = 1, WEFT__R_HANDLE = 2, WEFT__R_TASK_START = 3 };

struct weft__runnable {
  struct weft__runnable *next;
  uint32_t kind;
};

/* A FIFO of runnables linked through ->next. Not thread-safe. */
struct weft__rlist {
  struct weft__runnable *head, *tail;
  size_t count;
};

static inline void weft__rlist_init(struct weft__rlist *l) {
  l->head = l->tail = NULL;
  l->count = 0;
}

static inline void weft__rlist_push(struct weft__rlist *l, struct weft__runnable *r) {
  r->next = NULL;
  if (l->tail)
    l->tail->next = r;
  else
    l->head = r;
  l->tail = r;
  l->count++;
}

static inline struct weft__runnable *weft__rlist_pop(struct weft__rlist *l) {
  struct weft__runnable *r = l->head;
  if (!r) return NULL;
  l->head = r->next;
  if (!l->head) l->tail = NULL;
  r->next = NULL;
  l->count--;
  return r;
}

#endif
