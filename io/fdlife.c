/*
 * fdlife.c - the lives of the fds weft owns (a stream's fds, from
 * weft_stream_open_fd until the stream closes them): a process-wide word
 * per fd number, changed whenever an owner takes the number or gives it
 * up.
 *
 * Why: the epoll backend registers an owned fd once, edge-triggered, and
 * then waits on it without a system call per wait (epoll.c). The kernel
 * drops that registration with the file, and the number may then name
 * another file, which a worker's table would still believe registered
 * (its waits would never end). An owner's close ends the life first, so a
 * registration made in an earlier life is never trusted. An fd weft does
 * not own (a raw fd handed to weft_recv) keeps the one-shot registration
 * that is checked by every wait: its closes are not seen here.
 *
 * A word: bit 0 set while owned, the bits above count lives (a change at
 * each adopt and release; wrapping would need 2^31 lives of one number
 * between two waits of a worker). The table: chunks of CHUNK words,
 * allocated when an fd in them is first owned, under a top array for fds
 * below MAX_FDS; larger fds are never owned (they wait as unowned ones do).
 *
 * Invariants: a chunk, once installed, lives until the process ends (at
 * most 4 MiB in all, reachable from the top array). A word changes only in
 * adopt and release, by its number's owner (one at a time: two owners of
 * one number would be closing each other's file). Its readers, the epoll
 * workers, reach the fd through whatever handed it to their task after
 * the adopt, so a relaxed load returns that adopt's value or a later one
 * (coherence); a release precedes the close(2) on the owner's thread, and
 * the number's next owner is ordered after that close by the kernel.
 */
#include "fdlife.h"
#include "alloc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define CHUNK_BITS 12
#define CHUNK (1u << CHUNK_BITS)
#define MAX_FDS (1u << 20)

static _Atomic(_Atomic uint32_t *) chunks[MAX_FDS / CHUNK];

/* @fd's word, or NULL: out of range, or no chunk (and @make false, or no
 * memory). */
static _Atomic uint32_t *word(int fd, bool make) {
  if (fd < 0 || (unsigned)fd >= MAX_FDS) return NULL;
  _Atomic(_Atomic uint32_t *) *top = &chunks[(unsigned)fd >> CHUNK_BITS];
  /* acquire: pairs with the installing CAS, so the chunk reads zeroed. */
  _Atomic uint32_t *c = atomic_load_explicit(top, memory_order_acquire);
  if (!c && make) {
    _Atomic uint32_t *fresh = weft__calloc(CHUNK * sizeof *fresh);
    if (!fresh) return NULL;
    /* acq_rel: publishes the zeroed chunk; on failure, reads the winner's. */
    if (atomic_compare_exchange_strong_explicit(top, &c, fresh, memory_order_acq_rel,
                                                memory_order_acquire))
      c = fresh;
    else
      weft__free(fresh, CHUNK * sizeof *fresh);
  }
  return c ? &c[(unsigned)fd & (CHUNK - 1)] : NULL;
}

/* The next life, owned or not. relaxed: one owner writes (head comment). */
static void next_life(int fd, bool owned) {
  _Atomic uint32_t *w = word(fd, owned);
  if (!w) return;
  uint32_t v = atomic_load_explicit(w, memory_order_relaxed);
  atomic_store_explicit(w, (((v >> 1) + 1) << 1) | (owned ? 1u : 0u), memory_order_relaxed);
}

void weft__fd_adopt(int fd) { next_life(fd, true); }

void weft__fd_release(int fd) { next_life(fd, false); }

uint32_t weft__fd_life(int fd) {
  _Atomic uint32_t *w = word(fd, false);
  uint32_t v = w ? atomic_load_explicit(w, memory_order_relaxed) : 0;
  return v & 1u ? v : 0; /* not owned now: no life to trust */
}
