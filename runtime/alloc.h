/*
 * alloc.h - the one allocation path of weft.
 *
 * With WEFT_ALLOCATOR=jemalloc (the default) these call jemalloc's explicit
 * API: mallocx() and sdallocx() (sized free skips the size lookup) through
 * jemalloc's per-thread caches, so steady-state allocation makes no system
 * calls. Linking jemalloc also makes it the process's malloc. With
 * WEFT_ALLOCATOR=system they call malloc/free, for hosts that bring their own
 * allocator. Task objects are further recycled per worker (worker.c).
 */
#ifndef WEFT_RUNTIME_ALLOC_H
#define WEFT_RUNTIME_ALLOC_H

#include <stddef.h>
#include <string.h>

void *weft__alloc(size_t size);                  /* NULL on failure */
void *weft__calloc(size_t size);                 /* zeroed; NULL on failure */
void *weft__realloc(void *p, size_t old_size, size_t new_size);
void weft__free(void *p, size_t size);           /* p may be NULL */
/* Zeroed, aligned to @align (a power of two); free with weft__free_aligned. */
void *weft__calloc_aligned(size_t size, size_t align);
void weft__free_aligned(void *p, size_t size, size_t align);
/* Returns the allocator's unused dirty pages to the kernel (jemalloc: every
 * arena's purge); a no-op with the system allocator. Any thread. */
void weft__alloc_purge(void);
/* 0 when a thread started now may allocate without crashing; -ENOMEM when
 * not. jemalloc (5.3, its issue #2289) crashes in a new thread's first
 * allocation when the arena it picks is not initialized yet and cannot be
 * (an address-space limit): it dereferences the NULL arena. Initializing
 * every automatic arena first, from a thread that already has one, makes
 * new threads pick among initialized arenas only; once that succeeded it
 * stays true. Called before weft starts any thread. Any thread that has
 * allocated through weft before. */
int weft__alloc_thread_ready(void);
/* Memory for the objects weft makes in bursts, a million at a time if a
 * program spawns so (tasks, futures: the workers' object caches). With
 * jemalloc they come from an arena of their own whose extents of
 * WEFT__BULK_HUGE_MIN bytes or more are marked for transparent huge pages
 * (madvise MADV_HUGEPAGE; the kernel's "madvise" THP mode, Debian's
 * default, honours it): a burst then faults its memory in 2 MiB at a time
 * instead of 4 KiB (spawn_many, benchmarks/RESULTS.md). The arena's first
 * extents are smaller, so a program with fewer than ~50,000 such objects
 * alive keeps 4 KiB pages and pays no 2 MiB rounding. $WEFT_HUGE_PAGES=0
 * turns the marking off (read once, at the first bulk allocation). The
 * arena never coalesces its free extents, so a freed slab is reused as a
 * slab (alloc.c says why). Freed memory is returned to the kernel as
 * jemalloc's decay decides, as for any arena. Any thread; free with weft__free (jemalloc finds the arena from
 * the address). */
#define WEFT__BULK_HUGE_MIN ((size_t)4 << 20)
void *weft__alloc_bulk(size_t size);
char *weft__strdup(const char *s);               /* NULL on failure or s == NULL */
/* Frees a weft__strdup copy; @s may be NULL, tested inline (most callers
 * free a message or name that was never set). */
static inline void weft__strfree(char *s) {
  if (s) weft__free(s, strlen(s) + 1);
}

#endif
