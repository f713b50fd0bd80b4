/*
 * objcache.h - a worker's cache of freed objects of one size.
 *
 * Tasks and plain futures are made and freed at the rate of task switches
 * (ping_pong: a future per message); jemalloc's mallocx plus sdallocx cost
 * ~120 instructions a pair there (benchmarks/RESULTS.md, issue 13), a pop
 * and a push here a handful. Each worker keeps, per kind, a LIFO list of up
 * to `max` freed objects, linked through a pointer-sized field the kind
 * names (not the first word: a debug build tells a double release of a
 * task from one of a future by fields a link there would overwrite,
 * misuse.h); what is freed past that goes back to the allocator, so the
 * cache bounds what it keeps.
 *
 * Threads: owned by one worker and touched only by its thread (an object
 * freed on another thread goes to the allocator). The objects' memory
 * comes from weft__alloc_bulk and goes back with weft__free (drain).
 *
 * ASan: a cached object is poisoned but for its link word, so a late use of
 * a released object is reported (misuse.h).
 */
#ifndef WEFT_RUNTIME_OBJCACHE_H
#define WEFT_RUNTIME_OBJCACHE_H

#include "alloc.h"
#include "fiber.h" /* WEFT__ASAN */

#include <stdbool.h>
#include <stddef.h>

#if defined(WEFT__ASAN)
#include <sanitizer/asan_interface.h>
#endif

struct weft__objcache {
  void *head;
  unsigned len;
  unsigned link; /* offset of the link field in a cached object */
};

static inline void weft__objcache_init(struct weft__objcache *c, size_t link_offset) {
  c->head = NULL;
  c->len = 0;
  c->link = (unsigned)link_offset;
}

static inline void **weft__objcache_link(const struct weft__objcache *c, void *o) {
  return (void **)((char *)o + c->link);
}

/* A cached object of @size bytes (its contents undefined), or NULL. */
static inline void *weft__objcache_pop(struct weft__objcache *c, size_t size) {
  void *o = c->head;
  if (!o) return NULL;
  c->head = *weft__objcache_link(c, o);
  c->len--;
#if defined(WEFT__ASAN)
  ASAN_UNPOISON_MEMORY_REGION(o, size);
#else
  (void)size;
#endif
  return o;
}

/* Keeps @o (@size bytes, its link field inside) if there is room for it
 * (fewer than @max cached); false: the caller frees it. */
static inline bool weft__objcache_push(struct weft__objcache *c, void *o, size_t size,
                                       unsigned max) {
  if (c->len >= max) return false;
  *weft__objcache_link(c, o) = c->head;
  c->head = o;
  c->len++;
#if defined(WEFT__ASAN)
  size_t after = c->link + sizeof(void *);
  ASAN_POISON_MEMORY_REGION(o, c->link);
  ASAN_POISON_MEMORY_REGION((char *)o + after, size - after);
#else
  (void)size;
#endif
  return true;
}

/* Frees every cached object (the worker's teardown). */
static inline void weft__objcache_drain(struct weft__objcache *c, size_t size) {
  void *o;
  while ((o = weft__objcache_pop(c, size))) weft__free(o, size);
}

#endif
