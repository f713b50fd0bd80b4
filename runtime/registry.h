/*
 * registry.h (private) - the loop's tasks that have not ended, for
 * all_tasks() (weft_loop_tasks), close(), the statistics and the dump.
 *
 * A table of slots per worker (its shard), plus one shared shard for tasks
 * spawned outside any worker of the loop (before a run, from another
 * loop's worker). A slot holds a listed task's pointer, or, once free, the
 * next free slot (odd values), or 0 (never used). A task keeps where it is
 * listed in 4 bytes of its handle (t->reg_slot: shard and index), where an
 * intrusive list took 16; the table costs 8 bytes a slot, for the most
 * tasks a shard has listed at once.
 *
 * Who writes what:
 *  - a worker lists the tasks it spawns in its own shard, and takes the
 *    slot from its own free list, else an unused slot, else the remote
 *    stack (below), else a new chunk: no lock (the shared shard's adds
 *    take its lock); the slot is published with a release store;
 *  - the end of a task frees its slot: on the shard's own worker, onto the
 *    free list (one store, below); on another worker of the loop (a
 *    thief), into that worker's batch for the shard (the slot's store
 *    links it: below), which goes onto the shard's `remote` stack with one
 *    CAS every WEFT__REG_BATCH frees; on any other thread,
 *    onto the remote stack at once (a CAS). The owner takes the remote
 *    stack whole when its free list runs out. A batch holds at most
 *    WEFT__REG_BATCH - 1 slots back, for as long as its worker frees no
 *    more into that shard: the table then has at most that many slots per
 *    worker and shard more than it would;
 *  - growth adds a chunk (chunk k holds 2^(10+k) slots, so the chunk array
 *    never moves) under the shard's lock.
 *
 * Visitors (weft_loop_tasks, the dump's weft__registry_lock_listed) may
 * touch a listed task's fields and execution part, so a task must not end
 * and free what they read while they do. The ends do not lock for that:
 * a visitor announces itself (loop->reg_visitors, a seq_cst RMW) before it
 * reads any slot, under the shard's lock; an end frees the slot with a
 * seq_cst store and then reads reg_visitors (seq_cst). Store-then-load on
 * both sides (Dekker's pattern): in the single total order of seq_cst
 * operations, either the visitor's announcement comes first, and the end
 * sees it and waits the visitor out by taking and dropping the shard's
 * lock; or the end's store comes first, and the visitor reads the slot as
 * free (or as a task listed since). An end that reads 0 after a visitor
 * left reads the visitor's release decrement: its accesses happen before.
 * Invariant: a visitor that reads a task from a slot holds that shard's
 * lock until it is done with the task, and the task cannot end meanwhile.
 *
 * A worker's end does the same with a plain store, where the kernel
 * offers membarrier's private expedited command (Linux 4.14;
 * loop->reg_asym): a visitor, after it
 * announces itself, makes every running thread of the process execute a
 * full barrier (membarrier(2)), which stands in for the end's fence (the
 * asymmetric form of the pattern). The end's store and load stay in order
 * in the compiled code; if the barrier struck the end's thread after its
 * store, the visitor's slot reads see the store; if before it, the end's
 * load comes after the announcement and sees it. A locked store there
 * waits for the line to arrive (a thief's end: the spawner writes it)
 * and for the end's earlier stores to drain before the end goes on: with
 * two workers on vCPUs placed far apart, gather_10k took 1.25x the
 * lock-based registry's time with it on thieves' ends and 1.04x without
 * (benchmarks/RESULTS.md, 2026-12-03 21:05Z and 21:55Z); on the owner's
 * own ends, chained_spawn took 1.05x the time with it (2026-12-05). A
 * visit costs one system call more (~7 us here) and each running worker
 * an interrupt. Ends on other threads (a CAS onto the remote stack) keep
 * their seq_cst stores. The listing needs only release (it publishes the
 * task; no load follows it that a visitor must pair with): a seq_cst
 * store measured faster on the Zen 3 VM (2026-12-03 18:30Z, not
 * understood) and slower on the Intel VM, where its locked exchange
 * costs ~10 ns (chained_spawn 0.85-0.91x the time with release;
 * benchmarks/RESULTS.md, 2026-12-05 23:57Z).
 *
 * Unused slots are handed out lowest-first from a bump index, so a
 * shard's pages are touched as it grows; a visit walks the slots below
 * it. The table keeps its chunks until the loop is freed (8 bytes a slot
 * at the high water, plus at most a chunk: 8 MiB for a million tasks
 * listed at once on one worker). A shard names at most
 * 2^(32 - bits for the shard number) - 1 slots (2^31 - 1 with one
 * worker, 2^21 - 1 with 1,024): a spawn past that fails with -ENOMEM.
 */
#ifndef WEFT_RUNTIME_REGISTRY_H
#define WEFT_RUNTIME_REGISTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "mutex.h"
#include "task.h"

#define WEFT__REG_CHUNK0_LG 10u /* chunk 0: 1,024 slots (8 KiB) */
#define WEFT__REG_CHUNKS 22u    /* 2^32 slots in all: more than an index holds */

/* Three groups of lines, by who writes them: every end reads the chunk
 * array (to find its slot) while the owner writes its free list on every
 * spawn (sharing a line, perf put half of a remote end's samples on the
 * chunk array's load: benchmarks/RESULTS.md, 2026-12-03 18:30Z). */
struct weft__reg_shard {
  /* Read-mostly: chunk k, made once (release, under lock; acquire). */
  _Alignas(64) _Atomic(_Atomic uintptr_t *) chunks[WEFT__REG_CHUNKS];
  /* The owner's. */
  _Alignas(64) uint32_t free_head; /* its free list: slot index + 1; 0: empty */
  uint32_t cap;       /* slots in the chunks made (changed under lock) */
  /* Slots [0, bump) have been handed out at least once. The owner stores
   * it (release) after the slot's chunk exists; visitors load it (acquire). */
  _Atomic uint32_t bump;
  /* Visitors walk the shard under it; growth and the shared shard's adds
   * take it; an end that finds a visitor announced takes and drops it. */
  struct weft__mutex lock;
  /* Slots freed by other threads: a stack linked through the slots (index
   * + 1; 0: empty). Pushed with CAS by any thread, taken whole by the
   * owner (exchange): one consumer, so no ABA. Its own line: thieves
   * push while the owner lists. */
  _Alignas(64) _Atomic uint32_t remote;
};

/* Remote frees a worker gathers per shard before one CAS pushes them. */
#define WEFT__REG_BATCH 64u

/* A worker's frees into one other shard, not pushed yet: a chain linked
 * through the slots from head to tail (indexes + 1; 0: empty), the tail's
 * link set at the push. The worker's own. */
struct weft__reg_batch {
  uint32_t head, tail, count;
};

/* Shards for @loop (nworkers + 1), all empty. 0 or -ENOMEM. */
int weft__registry_init(struct weft_loop *loop);
/* Frees the tables (the loop has no tasks left). */
void weft__registry_fini(struct weft_loop *loop);

/* Slot values (registry.c): a free slot holds the next free one. */
#define WEFT__REG_FREE(next) (((uintptr_t)(next) << 1) | 1u)
#define WEFT__REG_FREE_NEXT(v) ((uint32_t)((v) >> 1))

/* Slots in chunk @k. */
static inline size_t weft__reg_chunk_slots(unsigned k) { return (size_t)1 << (WEFT__REG_CHUNK0_LG + k); }

/* Slot @i of @sh: chunk k holds [2^10 (2^k - 1), 2^10 (2^(k+1) - 1)). */
static inline _Atomic uintptr_t *weft__reg_slot_at(struct weft__reg_shard *sh, uint32_t i) {
  uint64_t j = (uint64_t)i + weft__reg_chunk_slots(0);
  unsigned k = (unsigned)(63 - __builtin_clzll(j)) - WEFT__REG_CHUNK0_LG;
  /* acquire: pairs with the release that published the chunk; a slot's
   * index reaches its user only after that. */
  _Atomic uintptr_t *c = atomic_load_explicit(&sh->chunks[k], memory_order_acquire);
  return &c[j - weft__reg_chunk_slots(k)];
}

/* t->reg_slot's two halves (loop.h: shard << reg_index_bits | index). */
static inline uint32_t weft__reg_index_mask(const struct weft_loop *loop) {
  return (1u << loop->reg_index_bits) - 1; /* reg_index_bits <= 31: two shards at least */
}
static inline struct weft__reg_shard *weft__reg_shard_of(struct weft_loop *loop, uint32_t slot) {
  return &loop->reg[slot >> loop->reg_index_bits];
}

/* The out-of-line paths of the two below (registry.c). */
int weft__registry_add_slow(struct weft__worker *w, struct weft_task *t);
void weft__registry_remove_slow(struct weft_task *t, struct weft__worker *w);
void weft__registry_wait_visitors(struct weft__reg_shard *sh);

/* Frees @slot of @sh (now holding @v, a free link) with the ends' half of
 * the Dekker pattern (above): the store, then a look for visitors, waited
 * out on the shard's lock if there is one. With the visitors' barrier
 * (loop->reg_asym) the store is plain and the two stay in order in the
 * compiled code; else a seq_cst store and load. */
static inline void weft__reg_free_slot(struct weft_loop *loop, struct weft__reg_shard *sh,
                                       _Atomic uintptr_t *slot, uintptr_t v) {
  if (loop->reg_asym) {
    /* release: orders nothing the protocol needs (the visitors' barrier
     * does); it keeps the task's last writes before the slot for a
     * visitor that reads it free. The signal fence keeps the load below
     * after the store in the compiled code, which is all the asymmetric
     * pattern asks of this side. acquire: reading a visitor's release
     * decrement (0) orders its accesses to the task before what follows
     * the end. */
    atomic_store_explicit(slot, v, memory_order_release);
    atomic_signal_fence(memory_order_seq_cst);
    if (__builtin_expect(atomic_load_explicit(&loop->reg_visitors, memory_order_acquire) != 0, 0))
      weft__registry_wait_visitors(sh);
    return;
  }
  atomic_store_explicit(slot, v, memory_order_seq_cst);
  if (__builtin_expect(atomic_load_explicit(&loop->reg_visitors, memory_order_seq_cst) != 0, 0))
    weft__registry_wait_visitors(sh);
}

/* Lists @t, spawned on @w (the calling thread's worker of t's loop, or
 * NULL elsewhere); sets t->reg_slot. 0, or -ENOMEM (no memory for a
 * chunk, or the shard holds as many tasks as an index can name). Inline:
 * a slot from the owner's free list is a pop and one store. */
static inline int weft__registry_add(struct weft__worker *w, struct weft_task *t) {
  if (!w) return weft__registry_add_slow(w, t);
  struct weft_loop *loop = w->loop;
  struct weft__reg_shard *sh = &loop->reg[w->index];
  uint32_t i = sh->free_head;
  if (__builtin_expect(i == 0, 0)) return weft__registry_add_slow(w, t);
  i--;
  _Atomic uintptr_t *slot = weft__reg_slot_at(sh, i);
  /* relaxed: a free slot's link is ours (registry.c). */
  sh->free_head = WEFT__REG_FREE_NEXT(atomic_load_explicit(slot, memory_order_relaxed));
  t->reg_slot = (w->index << loop->reg_index_bits) | i;
  /* release: a visitor that reads the pointer sees the task as made. */
  atomic_store_explicit(slot, (uintptr_t)t, memory_order_release);
  return 0;
}

/* Unlists @t (at its end, once). Any thread. When it returns, no visitor
 * holds @t through the registry. Inline on the shard's own worker. The
 * worker is read inline (worker.h's leaf rule): nothing here switches
 * fibers, and its callers make no switch between a task's end and this. */
static inline void weft__registry_remove(struct weft_task *t) {
  struct weft_loop *loop = t->fut.loop;
  struct weft__worker *w = weft__worker_self_leaf();
  if (__builtin_expect(!w || w->loop != loop || w->index != t->reg_slot >> loop->reg_index_bits, 0)) {
    weft__registry_remove_slow(t, w);
    return;
  }
  struct weft__reg_shard *sh = weft__reg_shard_of(loop, t->reg_slot);
  uint32_t i = t->reg_slot & weft__reg_index_mask(loop);
  weft__reg_free_slot(loop, sh, weft__reg_slot_at(sh, i), WEFT__REG_FREE(sh->free_head));
  sh->free_head = i + 1;
}

/* Calls @visit on every listed task (NULL: counts only) until it returns
 * nonzero; returns how many were visited. The visitor holds a shard's
 * lock during @visit: it may take a task's fut.lock, not spawn on this
 * loop's workers' threads nor wait for a task to end. Any thread. */
int weft__registry_visit(struct weft_loop *loop, int (*visit)(struct weft_task *, void *), void *arg);

/* Calls @visit, as weft__registry_visit does, on the tasks listed in at
 * most @max slots from *@cursor on (0: the first shard's first slot),
 * stopping early where @visit returns nonzero (after that task), and sets
 * *@cursor to where the next call goes on: a walk in pieces, each holding
 * the visitor's announcement and one shard's lock only for its own
 * slots. True when this piece reached the end (*@cursor is 0 again).
 * Tasks listed or unlisted between pieces may be visited or not. Any
 * thread. */
bool weft__registry_visit_from(struct weft_loop *loop, uint64_t *cursor, size_t max,
                               int (*visit)(struct weft_task *, void *), void *arg);

/* As a visitor: true if @t (which the caller holds a reference to) is
 * still listed, so that it cannot end, nor its execution part go, until
 * weft__registry_unlock_listed, which the caller calls either way. No
 * other lock may be taken meanwhile but a task's fut.lock. */
bool weft__registry_lock_listed(struct weft_task *t);
void weft__registry_unlock_listed(struct weft_task *t);

#endif
