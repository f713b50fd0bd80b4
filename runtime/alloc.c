/*
 * alloc.c - weft__alloc and friends over jemalloc's explicit API or malloc.
 * See alloc.h. Sizes passed to weft__free must be the allocation's size.
 */
#include "alloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(WEFT_USE_JEMALLOC)
#include <jemalloc/jemalloc.h>

void *weft__alloc(size_t size) { return mallocx(size ? size : 1, 0); }

#define WEFT__STR2(x) #x
#define WEFT__STR(x) WEFT__STR2(x)
void weft__alloc_purge(void) {
  /* Best effort: an error only means there was nothing to purge. */
  (void)mallctl("arena." WEFT__STR(MALLCTL_ARENAS_ALL) ".purge", NULL, NULL, NULL, 0);
}

/* Set once every automatic arena is initialized (then it stays so).
 * acquire/release: a thread that sees it true starts threads knowing the
 * arenas exist (jemalloc's own locks order their contents). */
static _Atomic bool arenas_ready;
static pthread_mutex_t arenas_lock = PTHREAD_MUTEX_INITIALIZER;

int weft__alloc_thread_ready(void) {
  if (atomic_load_explicit(&arenas_ready, memory_order_acquire)) return 0;
  pthread_mutex_lock(&arenas_lock);
  unsigned n = 0, mine = 0;
  size_t sz = sizeof n;
  bool ok = mallctl("opt.narenas", &n, &sz, NULL, 0) == 0;
  sz = sizeof mine;
  /* Our own arena: this thread has one (it allocated before), so reading
   * it initializes nothing. */
  ok = ok && mallctl("thread.arena", &mine, &sz, NULL, 0) == 0;
  /* Binding to arena i initializes it, or fails with EAGAIN: unlike a new
   * thread's automatic choice, this path checks. */
  for (unsigned i = 0; ok && i < n; i++) ok = mallctl("thread.arena", NULL, NULL, &i, sizeof i) == 0;
  if (n) (void)mallctl("thread.arena", NULL, NULL, &mine, sizeof mine);
  if (ok) atomic_store_explicit(&arenas_ready, true, memory_order_release);
  pthread_mutex_unlock(&arenas_lock);
  return ok ? 0 : -ENOMEM;
}
void *weft__calloc(size_t size) { return mallocx(size ? size : 1, MALLOCX_ZERO); }
void *weft__realloc(void *p, size_t old_size, size_t new_size) {
  (void)old_size;
  if (!p) return mallocx(new_size ? new_size : 1, 0);
  return rallocx(p, new_size ? new_size : 1, 0);
}
void weft__free(void *p, size_t size) {
  if (p) sdallocx(p, size ? size : 1, 0);
}
void *weft__calloc_aligned(size_t size, size_t align) {
  return mallocx(size ? size : 1, MALLOCX_ALIGN(align) | MALLOCX_ZERO);
}
void weft__free_aligned(void *p, size_t size, size_t align) {
  if (p) sdallocx(p, size ? size : 1, MALLOCX_ALIGN(align));
}
#else
void *weft__alloc(size_t size) { return malloc(size ? size : 1); }
void *weft__calloc(size_t size) { return calloc(1, size ? size : 1); }
void *weft__realloc(void *p, size_t old_size, size_t new_size) {
  (void)old_size;
  return realloc(p, new_size ? new_size : 1);
}
void weft__free(void *p, size_t size) {
  (void)size;
  free(p);
}
void *weft__calloc_aligned(size_t size, size_t align) {
  size = (size + align - 1) & ~(align - 1); /* aligned_alloc wants a multiple */
  void *p = aligned_alloc(align, size ? size : align);
  if (p) memset(p, 0, size);
  return p;
}
void weft__free_aligned(void *p, size_t size, size_t align) {
  (void)size;
  (void)align;
  free(p);
}
void weft__alloc_purge(void) {}
int weft__alloc_thread_ready(void) { return 0; }
#endif

char *weft__strdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = weft__alloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

void weft__strfree(char *s) {
  if (s) weft__free(s, strlen(s) + 1);
}
