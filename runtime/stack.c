/*
 * stack.c - mmap'ed fiber stacks with guard pages, pooled per worker.
 *
 * The struct weft__stack describing a stack lives at the top of the stack's
 * own mapping (above the usable area's top, inside the mapping), so a stack
 * costs no separate allocation. Invariant: a stack is either in exactly one
 * pool's free list or owned by exactly one running/suspended task.
 */
#include "stack.h"

#include <sys/mman.h>
#include <unistd.h>

#if defined(WEFT_HAVE_VALGRIND_H)
#include <valgrind/valgrind.h>
#endif

static size_t page_size(void) {
  static size_t ps;
  if (!ps) ps = (size_t)sysconf(_SC_PAGESIZE);
  return ps;
}

size_t weft__stack_round(size_t size) {
  size_t ps = page_size();
  return (size + ps - 1) & ~(ps - 1);
}

static struct weft__stack *stack_map(size_t size) {
  size_t ps = page_size();
  size_t usable = weft__stack_round(size);
  size_t map_size = usable + 2 * ps; /* guard page + a page for the descriptor */
  void *base = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (base == MAP_FAILED) return NULL;
  if (mprotect(base, ps, PROT_NONE) != 0) {
    munmap(base, map_size);
    return NULL;
  }
  struct weft__stack *s = (struct weft__stack *)((char *)base + map_size - ps);
  s->next_free = NULL;
  s->base = base;
  s->map_size = map_size;
  s->lo = (char *)base + ps;
  s->size = usable;
#if defined(WEFT_HAVE_VALGRIND_H)
  s->valgrind_id = VALGRIND_STACK_REGISTER(s->lo, (char *)s->lo + usable);
#else
  s->valgrind_id = 0;
#endif
  return s;
}

static void stack_unmap(struct weft__stack *s) {
#if defined(WEFT_HAVE_VALGRIND_H)
  VALGRIND_STACK_DEREGISTER(s->valgrind_id);
#endif
  munmap(s->base, s->map_size);
}

struct weft__stack *weft__stack_get(struct weft__stack_pool *pool, size_t size) {
  size = weft__stack_round(size);
  if (size == pool->size && pool->free) {
    struct weft__stack *s = pool->free;
    pool->free = s->next_free;
    pool->count--;
    return s;
  }
  return stack_map(size);
}

void weft__stack_put(struct weft__stack_pool *pool, struct weft__stack *s) {
  if (s->size != pool->size || pool->count >= WEFT__STACK_POOL_MAX) {
    stack_unmap(s);
    return;
  }
  s->next_free = pool->free;
  pool->free = s;
  pool->count++;
}

void weft__stack_pool_drain(struct weft__stack_pool *pool) {
  while (pool->free) {
    struct weft__stack *s = pool->free;
    pool->free = s->next_free;
    stack_unmap(s);
  }
  pool->count = 0;
}
