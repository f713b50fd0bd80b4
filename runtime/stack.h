/*
 * stack.h - fiber stacks and the per-worker pool that recycles them.
 *
 * A stack is one mmap: a PROT_NONE guard page at the low end (an overflow
 * faults instead of corrupting the neighbour) and the usable bytes above it.
 * MAP_NORESERVE: pages cost memory only once touched, so a 64 KiB stack of
 * a task that used 3 KiB holds one page.
 *
 * A task takes a stack when it first runs and gives it back when it ends;
 * the worker that ends it keeps up to WEFT__STACK_POOL_MAX stacks of the
 * loop's default size for the next task. Owner-only: no locks.
 */
#ifndef WEFT_RUNTIME_STACK_H
#define WEFT_RUNTIME_STACK_H

#include <stddef.h>

struct weft__stack {
  struct weft__stack *next_free; /* pool link, stored at the stack's low end */
  void *base;                    /* the mapping, guard page included */
  size_t map_size;
  void *lo;                      /* usable [lo, lo + size) */
  size_t size;
  unsigned valgrind_id;
};

/* Justification: 64 stacks of 64 KiB cover the tasks a worker typically
 * ends between two new ones; past that, unmapping returns the memory. */
#define WEFT__STACK_POOL_MAX 64

struct weft__stack_pool {
  struct weft__stack *free; /* owner worker only */
  unsigned count;
  size_t size;              /* the size pooled stacks have */
};

size_t weft__stack_round(size_t size); /* page-rounded usable size */
struct weft__stack *weft__stack_get(struct weft__stack_pool *pool, size_t size);
void weft__stack_put(struct weft__stack_pool *pool, struct weft__stack *s);
void weft__stack_pool_drain(struct weft__stack_pool *pool);

#endif
