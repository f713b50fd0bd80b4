/*
 * alloc.c - weft__alloc and friends over jemalloc's explicit API or malloc.
 * See alloc.h. Sizes passed to weft__free must be the allocation's size.
 *
 * The bulk arena (weft__alloc_bulk) is one jemalloc arena, made at the
 * first bulk allocation, with jemalloc's own extent hooks but for two:
 *  - allocation, which marks a new extent of WEFT__BULK_HUGE_MIN bytes or
 *    more for huge pages after the default hook mapped it (unless
 *    $WEFT_HUGE_PAGES=0);
 *  - merge, which refuses: the arena's extents are never coalesced. It
 *    holds only small objects, so every extent it asks for is a slab (the
 *    task handle's 128-byte class's is 4 KiB; the 160-byte class's, when
 *    this was measured, 20 KiB). jemalloc coalesces freed extents with
 *    their free neighbours, and then reuses a free dirty extent only for
 *    a request at least 1/64 of its size (opt.lg_extent_max_active_fit):
 *    a round of 10,000 tasks freed together became one 1.6 MiB extent
 *    that no 20 KiB slab could take,
 *    so each round mapped and faulted fresh memory (gather_10k: 2.9x the
 *    time, 7x the RSS; benchmarks/RESULTS.md, issue 13). Slabs that stay
 *    slabs are reused as they are.
 * Purge and unmap are jemalloc's, so the arena gives memory back as any
 * other does. Invariant: once bulk_setup ran, bulk_flags, bulk_huge and
 * default_hooks never change.
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
#include <sys/mman.h>

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
/* The bulk arena (alloc.h): jemalloc's default extent hooks, but for an
 * allocation that marks a large new extent for huge pages. Set up once;
 * bulk_flags is then the arena's MALLOCX_ARENA, or 0 (the thread's own
 * arena) if it could not be made. pthread_once orders the set-up before
 * every reader. */
static extent_hooks_t *default_hooks;
static extent_hooks_t bulk_hooks;
static int bulk_flags;
static bool bulk_huge; /* mark large extents for huge pages ($WEFT_HUGE_PAGES) */
static pthread_once_t bulk_once = PTHREAD_ONCE_INIT;

static void *bulk_extent_alloc(extent_hooks_t *hooks, void *new_addr, size_t size, size_t alignment,
                               bool *zero, bool *commit, unsigned arena_ind) {
  (void)hooks;
  void *p = default_hooks->alloc(default_hooks, new_addr, size, alignment, zero, commit, arena_ind);
  /* Advice only: a kernel without THP, or with it off, refuses it. */
  if (p && bulk_huge && size >= WEFT__BULK_HUGE_MIN) (void)madvise(p, size, MADV_HUGEPAGE);
  return p;
}

/* true: not merged (jemalloc's convention); see the design comment. */
static bool bulk_extent_merge(extent_hooks_t *hooks, void *addr_a, size_t size_a, void *addr_b,
                              size_t size_b, bool committed, unsigned arena_ind) {
  (void)hooks, (void)addr_a, (void)size_a, (void)addr_b, (void)size_b, (void)committed,
      (void)arena_ind;
  return true;
}

static void bulk_setup(void) {
  const char *env = getenv("WEFT_HUGE_PAGES");
  bulk_huge = !(env && strcmp(env, "0") == 0);
  size_t sz = sizeof default_hooks;
  if (mallctl("arena.0.extent_hooks", &default_hooks, &sz, NULL, 0) != 0 || !default_hooks) return;
  bulk_hooks = *default_hooks;
  bulk_hooks.alloc = bulk_extent_alloc;
  bulk_hooks.merge = bulk_extent_merge;
  extent_hooks_t *mine = &bulk_hooks;
  unsigned index = 0;
  sz = sizeof index;
  if (mallctl("arenas.create", &index, &sz, &mine, sizeof mine) != 0) return;
  bulk_flags = (int)MALLOCX_ARENA(index);
}

/* Through the thread's cache (tcache), as every allocation: a cache miss
 * refills from the arena asked for, so a burst's objects come from the
 * bulk arena; what the cache already held of that size may come from
 * another (harmless: only where the pages are differs). */
void *weft__alloc_bulk(size_t size) {
  pthread_once(&bulk_once, bulk_setup);
  return mallocx(size ? size : 1, bulk_flags);
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
void *weft__alloc_bulk(size_t size) { return malloc(size ? size : 1); }
#endif

char *weft__strdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = weft__alloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

