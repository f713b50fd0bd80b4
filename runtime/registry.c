/*
 * registry.c - the loop's table of listed tasks (registry.h states the
 * design and its invariants).
 *
 * Slot values: 0, never used; a task pointer (aligned: low bit clear),
 * listed; (next << 1) | 1, free, next being the next free slot's index + 1
 * (0: the list's end) on whichever list holds it.
 */
#include "registry.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc.h"
#include "loop.h"
#include "membarrier.h"
#include "task.h"
#include "worker.h"

static unsigned shard_count(const struct weft_loop *loop) { return loop->nworkers + 1; }

int weft__registry_init(struct weft_loop *loop) {
  unsigned n = shard_count(loop), bits = 0;
  while ((1u << bits) < n) bits++;
  loop->reg_index_bits = 32 - bits;
  atomic_init(&loop->reg_visitors, 0);
  loop->reg = weft__calloc_aligned(n * sizeof *loop->reg, 64);
  if (!loop->reg) return -ENOMEM;
  /* A row per worker, whole lines each, so that no two workers share one. */
  unsigned per_line = 64 / sizeof(struct weft__reg_batch);
  loop->reg_batch_row = (n + per_line - 1) / per_line * per_line;
  loop->reg_batches = weft__calloc_aligned(
      (size_t)loop->nworkers * loop->reg_batch_row * sizeof *loop->reg_batches, 64);
  if (!loop->reg_batches) {
    weft__free_aligned(loop->reg, n * sizeof *loop->reg, 64);
    loop->reg = NULL;
    return -ENOMEM;
  }
  /* Per loop, fixed before any of its threads runs, so that its visitors
   * and its ends agree on the protocol. */
  loop->reg_asym = weft__membarrier_available();
  for (unsigned s = 0; s < n; s++) {
    struct weft__reg_shard *sh = &loop->reg[s];
    weft__mutex_init(&sh->lock);
    atomic_init(&sh->bump, 0);
    atomic_init(&sh->remote, 0);
    for (unsigned k = 0; k < WEFT__REG_CHUNKS; k++) atomic_init(&sh->chunks[k], NULL);
  }
  return 0;
}

void weft__registry_fini(struct weft_loop *loop) {
  if (!loop->reg) return;
  unsigned n = shard_count(loop);
  for (unsigned s = 0; s < n; s++)
    for (unsigned k = 0; k < WEFT__REG_CHUNKS; k++) {
      _Atomic uintptr_t *c = atomic_load_explicit(&loop->reg[s].chunks[k], memory_order_relaxed);
      if (c) munmap((void *)c, weft__reg_chunk_slots(k) * sizeof *c);
    }
  weft__free_aligned(loop->reg, n * sizeof *loop->reg, 64);
  loop->reg = NULL;
  weft__free_aligned(loop->reg_batches,
                     (size_t)loop->nworkers * loop->reg_batch_row * sizeof *loop->reg_batches, 64);
  loop->reg_batches = NULL;
}

/* A chunk for the slots [cap, ...): mapped directly, so that its pages are
 * zero and touched only as the bump index reaches them. Under sh->lock. */
static int grow(struct weft__reg_shard *sh) {
  unsigned k = 0;
  while (k < WEFT__REG_CHUNKS && atomic_load_explicit(&sh->chunks[k], memory_order_relaxed)) k++;
  if (k == WEFT__REG_CHUNKS) return -ENOMEM;
  void *c = mmap(NULL, weft__reg_chunk_slots(k) * sizeof(uintptr_t), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (c == MAP_FAILED) return -ENOMEM;
  /* release: its slots' first readers (slot_at) see the mapping's zeros. */
  atomic_store_explicit(&sh->chunks[k], (_Atomic uintptr_t *)c, memory_order_release);
  sh->cap += (uint32_t)weft__reg_chunk_slots(k);
  return 0;
}

/* A free slot of @sh for its owner (or, for the shared shard, whoever
 * holds its lock: @locked). In this order: the owner's free list; an
 * unused slot of the chunks made; the slots other threads freed; a new
 * chunk. The remote stack comes after the unused slots so that a worker
 * whose tasks end on other workers (a spawner feeding thieves) reads its
 * line once per chunk, not once per spawn: measured, gather_10k with two
 * workers went from 2.16x the lock-based registry's time to 1.74x
 * (benchmarks/RESULTS.md, 2026-12-03 18:30Z). The table then holds at
 * most a chunk's worth of slots more than the most tasks listed at once,
 * and chunks double. */
static int take_slot(struct weft__reg_shard *sh, uint32_t limit, bool locked, uint32_t *out) {
  uint32_t i;
  if (sh->free_head) {
    i = sh->free_head - 1;
  } else if ((i = atomic_load_explicit(&sh->bump, memory_order_relaxed)) < sh->cap && i < limit) {
    /* release: a visitor that reads the new bump finds the chunk. */
    atomic_store_explicit(&sh->bump, i + 1, memory_order_release);
    *out = i;
    return 0;
  } else if (atomic_load_explicit(&sh->remote, memory_order_relaxed)) {
    /* acquire: the pushers' release CASes; their slot stores (the links)
     * come before. */
    uint32_t head = atomic_exchange_explicit(&sh->remote, 0, memory_order_acquire);
    i = head - 1;
  } else {
    if (i >= limit) return -ENOMEM;
    if (!locked) weft__mutex_lock(&sh->lock);
    int rc = grow(sh);
    if (!locked) weft__mutex_unlock(&sh->lock);
    if (rc) return rc;
    atomic_store_explicit(&sh->bump, i + 1, memory_order_release); /* as above */
    *out = i;
    return 0;
  }
  /* relaxed: a free slot's link is ours (our own store, or the remote
   * stack's, acquired above). */
  sh->free_head = WEFT__REG_FREE_NEXT(atomic_load_explicit(weft__reg_slot_at(sh, i), memory_order_relaxed));
  *out = i;
  return 0;
}

int weft__registry_add_slow(struct weft__worker *w, struct weft_task *t) {
  struct weft_loop *loop = t->fut.loop;
  unsigned s = w ? w->index : loop->nworkers;
  struct weft__reg_shard *sh = &loop->reg[s];
  if (!w) weft__mutex_lock(&sh->lock);
  uint32_t i;
  int rc = take_slot(sh, weft__reg_index_mask(loop), !w, &i);
  if (!rc) {
    t->reg_slot = ((uint32_t)s << loop->reg_index_bits) | i;
    /* release: a visitor that reads the pointer sees the task as made
     * (registry.h: why not seq_cst). */
    atomic_store_explicit(weft__reg_slot_at(sh, i), (uintptr_t)t, memory_order_release);
  }
  if (!w) weft__mutex_unlock(&sh->lock);
  return rc;
}

void weft__registry_wait_visitors(struct weft__reg_shard *sh) {
  weft__mutex_lock(&sh->lock);
  weft__mutex_unlock(&sh->lock);
}

/* Pushes @b's chain onto @sh's remote stack (one CAS) and empties it. */
static void push_batch(struct weft__reg_shard *sh, struct weft__reg_batch *b) {
  _Atomic uintptr_t *tail = weft__reg_slot_at(sh, b->tail - 1);
  uint32_t head = atomic_load_explicit(&sh->remote, memory_order_relaxed);
  do {
    /* relaxed: still free, so visitors skip it whatever it links to; the
     * CAS's release publishes it with the chain's other links. */
    atomic_store_explicit(tail, WEFT__REG_FREE(head), memory_order_relaxed);
    /* release: the owner's acquire exchange sees every link of the chain. */
  } while (!atomic_compare_exchange_weak_explicit(&sh->remote, &head, b->head, memory_order_release,
                                                  memory_order_relaxed));
  b->head = b->tail = b->count = 0;
}

/* The end of a task listed in @sh by another worker of the loop, on @w:
 * the slot joins w's batch for that shard (registry.h). */
static void remove_gathered(struct weft_loop *loop, struct weft__worker *w, struct weft__reg_shard *sh,
                            uint32_t i) {
  struct weft__reg_batch *b =
      &loop->reg_batches[(size_t)w->index * loop->reg_batch_row + (size_t)(sh - loop->reg)];
  weft__reg_free_slot(loop, sh, weft__reg_slot_at(sh, i), WEFT__REG_FREE(b->head));
  if (!b->head) b->tail = i + 1;
  b->head = i + 1;
  if (++b->count == WEFT__REG_BATCH) push_batch(sh, b);
}

/* weft__registry_remove on any thread but the shard's owner (@w: the
 * calling thread's worker, or NULL): into this worker's batch for the
 * shard, or, off the loop's workers, onto the shard's remote stack. */
void weft__registry_remove_slow(struct weft_task *t, struct weft__worker *w) {
  struct weft_loop *loop = t->fut.loop;
  uint32_t i = t->reg_slot & weft__reg_index_mask(loop);
  struct weft__reg_shard *sh = weft__reg_shard_of(loop, t->reg_slot);
  if (w && w->loop == loop) {
    remove_gathered(loop, w, sh, i);
    return;
  }
  _Atomic uintptr_t *slot = weft__reg_slot_at(sh, i);
  uint32_t head = atomic_load_explicit(&sh->remote, memory_order_relaxed);
  /* seq_cst: the store half of the Dekker pattern (registry.h). */
  atomic_store_explicit(slot, WEFT__REG_FREE(head), memory_order_seq_cst);
  /* release: the owner's acquire exchange sees the link. */
  while (!atomic_compare_exchange_weak_explicit(&sh->remote, &head, i + 1, memory_order_release,
                                                memory_order_relaxed))
    atomic_store_explicit(slot, WEFT__REG_FREE(head), memory_order_relaxed); /* still free: a new link */
  /* seq_cst: the load half (registry.h's inline path says why). */
  if (atomic_load_explicit(&loop->reg_visitors, memory_order_seq_cst)) weft__registry_wait_visitors(sh);
}

static void visitors_enter(struct weft_loop *loop) {
  /* seq_cst: the visitor's store half, before any slot it reads. */
  atomic_fetch_add_explicit(&loop->reg_visitors, 1, memory_order_seq_cst);
  /* The barrier that stands in for thieves' fences (registry.h). It
   * cannot fail once the process is registered (membarrier(2)); were it to,
   * an end could free a task this visitor is about to read, and there is
   * no other way to wait for those ends: stop rather than read freed
   * memory. */
  if (loop->reg_asym && __builtin_expect(weft__membarrier() != 0, 0)) {
    static const char msg[] = "weft: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) failed after registration\n";
    ssize_t unused = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)unused;
    abort();
  }
}

static void visitors_leave(struct weft_loop *loop) {
  /* release: an end that reads the decrement (0) is ordered after every
   * access this visitor made to its task. */
  atomic_fetch_sub_explicit(&loop->reg_visitors, 1, memory_order_release);
}

/* The task in slot @v, or NULL if it is free or unused. */
static struct weft_task *listed(uintptr_t v) { return v && !(v & 1u) ? (struct weft_task *)v : NULL; }

int weft__registry_visit(struct weft_loop *loop, int (*visit)(struct weft_task *, void *), void *arg) {
  int count = 0, stop = 0;
  unsigned n = shard_count(loop);
  if (visit) visitors_enter(loop);
  for (unsigned s = 0; s < n && !stop; s++) {
    struct weft__reg_shard *sh = &loop->reg[s];
    /* Counting reads slots only (never a task), so it needs neither the
     * announcement nor the lock. */
    if (visit) weft__mutex_lock(&sh->lock);
    uint32_t end = atomic_load_explicit(&sh->bump, memory_order_acquire);
    for (unsigned k = 0; (uint64_t)weft__reg_chunk_slots(0) * ((1ull << k) - 1) < end && !stop; k++) {
      _Atomic uintptr_t *c = atomic_load_explicit(&sh->chunks[k], memory_order_acquire);
      size_t first = weft__reg_chunk_slots(0) * (((size_t)1 << k) - 1);
      size_t m = end - first < weft__reg_chunk_slots(k) ? end - first : weft__reg_chunk_slots(k);
      for (size_t j = 0; j < m; j++) {
        /* seq_cst: the visitor's load half (registry.h). */
        struct weft_task *t = listed(atomic_load_explicit(&c[j], memory_order_seq_cst));
        if (!t) continue;
        count++;
        if (visit && (stop = visit(t, arg))) break;
      }
    }
    if (visit) weft__mutex_unlock(&sh->lock);
  }
  if (visit) visitors_leave(loop);
  return count;
}

bool weft__registry_visit_from(struct weft_loop *loop, uint64_t *cursor, size_t max,
                               int (*visit)(struct weft_task *, void *), void *arg) {
  unsigned n = shard_count(loop), s = (unsigned)(*cursor >> 32);
  uint32_t i = (uint32_t)*cursor;
  size_t seen = 0;
  bool stop = false;
  visitors_enter(loop);
  for (; s < n; s++, i = 0) {
    struct weft__reg_shard *sh = &loop->reg[s];
    weft__mutex_lock(&sh->lock);
    uint32_t end = atomic_load_explicit(&sh->bump, memory_order_acquire);
    for (; i < end; i++) {
      if ((stop = seen++ == max)) break; /* the next piece begins at slot i */
      /* seq_cst: the visitor's load half (registry.h). */
      struct weft_task *t = listed(atomic_load_explicit(weft__reg_slot_at(sh, i), memory_order_seq_cst));
      if ((stop = t && visit(t, arg))) { /* ... after this one */
        i++;
        break;
      }
    }
    weft__mutex_unlock(&sh->lock);
    if (stop) break;
  }
  visitors_leave(loop);
  *cursor = s < n ? (uint64_t)s << 32 | i : 0;
  return s >= n;
}

bool weft__registry_lock_listed(struct weft_task *t) {
  struct weft_loop *loop = t->fut.loop;
  struct weft__reg_shard *sh = weft__reg_shard_of(loop, t->reg_slot);
  visitors_enter(loop);
  weft__mutex_lock(&sh->lock);
  /* seq_cst: the load half. The caller's reference keeps t's memory, so
   * no other task can be in its slot under its address. */
  uintptr_t v = atomic_load_explicit(weft__reg_slot_at(sh, t->reg_slot & weft__reg_index_mask(loop)), memory_order_seq_cst);
  return v == (uintptr_t)t;
}

void weft__registry_unlock_listed(struct weft_task *t) {
  struct weft_loop *loop = t->fut.loop;
  weft__mutex_unlock(&weft__reg_shard_of(loop, t->reg_slot)->lock);
  visitors_leave(loop);
}
