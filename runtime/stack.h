/*
 * stack.h - fiber stacks: slabs per loop, a cache per worker.
 *
 * Stacks of the loop's default size come from slabs (one mmap holds
 * WEFT__STACK_SLAB stacks), each stack with a guard region of
 * WEFT__STACK_GUARD bytes below it. Guard regions are installed with
 * MADV_GUARD_INSTALL (Linux 6.13+), which costs no memory and does not
 * split the mapping: 100,000 suspended tasks cost a few thousand mappings,
 * not 200,000 (vm.max_map_count is 65530 by default). Older kernels fall
 * back to mprotect(PROT_NONE), which splits it (and costs no memory
 * either). Stacks of other sizes (a task's own stack_size) are mapped one
 * by one and unmapped when freed.
 *
 * Why the guard is wide: a frame larger than the guard jumps over it, and
 * below a slab stack lies the previous stack's top, so a one-page guard
 * let a 72 KiB frame silently overwrite a neighbour. With 64 KiB any frame
 * up to the default stack size is caught even in code built without
 * -fstack-clash-protection (which probes every page of a large frame, so
 * that code is caught by any guard); stackguard.c turns the hit into a
 * report naming the task.
 *
 * A new slab's page tables are made by faults, not by the kernel's advice:
 * before its guards and populate calls, one page per 2 MiB span (a stack's
 * top page, which its task writes anyway) is written from user mode. Under
 * a shadow-paging hypervisor, page tables the kernel makes outside a fault
 * cost every page the process touched earlier a re-fault (~8 us on the
 * development VM), so each new slab used to re-fault every idle suspended
 * task's stack (stack.c, fault_page_tables; weft-page-touch measures it).
 *
 * Stacks are skewed: each slab stack (and each stack mapped alone) is
 * followed by a page of address space that nothing touches, so stacks sit
 * every guard + size + one page (132 KiB by default), not every 128 KiB.
 * At a power-of-two stride every stack's top page had the same virtual
 * page number bits 0-4, which pick a page's set in a set-associative TLB
 * (the second-level data TLB), so a thousand tasks' top pages competed for
 * a few of its sets while it had room for all of them, and a switch's
 * look ahead (worker.c: prefetching the tasks next in line) waited for
 * page walks. The colours (task.h) spread the lines within a page (the L1
 * index); the caches beyond L1 are indexed by physical address, which no
 * virtual layout chooses. yield_many_warm with one worker took 0.89x the
 * time with the skew, two workers 0.81x (benchmarks/RESULTS.md,
 * 2026-12-05, issue 13). The skew page costs no memory (never touched)
 * and 3% more address space.
 *
 * Descriptors live off the stack (in the slab's header, or allocated for a
 * lone stack), so a trimmed free stack holds no resident page at all, and a
 * suspended task that used little stack holds one or two pages.
 *
 * A task takes a stack when it first runs and gives it back when it ends.
 * Each worker keeps up to WEFT__STACK_POOL_MAX free stacks without locking;
 * beyond that, stacks go back to the loop's arena (a mutex). When a worker
 * is about to sleep it trims the arena: past WEFT__STACK_ARENA_RETAIN free
 * stacks, the pages of those that no task took during a whole decay epoch
 * (WEFT__STACK_DECAY_NS) go back to the kernel (MADV_DONTNEED), so memory
 * stays bounded after a burst without a steady bursty load paying for its
 * stacks' pages again on every burst: fresh pages cost 3-12 us here, and
 * trimming at every park made a broadcast to 1,000 waiters on two workers
 * 2.9x slower (benchmarks/RESULTS.md, issue 13). The epoch ends at an idle
 * worker's park (a parked worker wakes for it while stacks wait to be
 * trimmed), so a burst's stacks start going back one to two epochs after
 * it. Neighbouring free stacks of a slab go back with one madvise.
 * Trimming only when idle matters: every MADV_DONTNEED in a
 * multi-threaded process costs TLB-shootdown IPIs, which on the hot path
 * delayed ready tasks by tens of milliseconds. A worker trims a batch at a
 * time and looks for work between batches, so a million-stack burst is
 * given back within a few seconds of going idle (~200 MiB of 4.1 GiB left
 * after 5 s on the development VM) without delaying work that arrives
 * meanwhile by more than one batch.
 */
#ifndef WEFT_RUNTIME_STACK_H
#define WEFT_RUNTIME_STACK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mutex.h"

struct weft__stack_slab;

/* Bytes of guard region below every stack (above). Address space only. */
#define WEFT__STACK_GUARD (64u * 1024u)

struct weft__stack {
  struct weft__stack *next_free;
  bool trimmed;                 /* pages returned to the kernel while free */
  /* In use: which suspension of its task last gave back the pages below
   * its stack pointer (stackdrop.c's tag; written and read by whoever
   * holds the task). */
  uint32_t drop_tag;
  void *lo;                     /* usable memory is [lo, lo + size) */
  size_t size;                  /* usable bytes, a page multiple */
  struct weft__stack_slab *slab; /* NULL: mapped alone */
  void *map_base;               /* alone: the mapping, guard included */
  size_t map_size;
  unsigned valgrind_id;
};

/* Task stack sizes (weft_loop_config.stack_size, weft_task_opts.stack_size):
 * the only definition. The default is larger under the sanitizers, whose
 * instrumented frames are several times larger. */
#define WEFT__STACK_MIN (16u * 1024u)
#define WEFT__STACK_MAX (1024u * 1024u * 1024u)
#if defined(WEFT__ASAN) || defined(WEFT__TSAN)
#define WEFT__STACK_DEFAULT (256u * 1024u)
#else
#define WEFT__STACK_DEFAULT (64u * 1024u)
#endif

static inline bool weft__stack_size_ok(size_t size) {
  return size >= WEFT__STACK_MIN && size <= WEFT__STACK_MAX;
}

/* Justification: 64 free stacks per worker absorb the usual spawn/complete
 * churn without touching the arena's lock; 32 stacks per slab amortize the
 * mmap and the guard installation. The arena retains 256 stacks' pages. */
#define WEFT__STACK_POOL_MAX 64
#define WEFT__STACK_SLAB 32
#define WEFT__STACK_ARENA_RETAIN 256
/* At most this many stacks are trimmed per idle moment, so a worker that
 * parks briefly is back quickly (each trim is a system call). */
#define WEFT__STACK_TRIM_BATCH 64
/* A free stack is trimmed only if no task needed it for a whole epoch
 * this long: the arena's low-water mark of free stacks over the epoch,
 * beyond the retained ones, is what the next epoch may trim. Justification:
 * a load that bursts more often than once a second keeps its stacks; a
 * burst is given back 1-2 s after it (jemalloc's pages decay over 10 s). */
#define WEFT__STACK_DECAY_NS 1000000000ull

struct weft__stack_arena {
  struct weft__mutex lock;
  size_t size;                    /* mapped bytes per stack (page multiple), immutable */
  struct weft__stack *free;       /* resident free stacks; protected by lock */
  _Atomic size_t nfree;           /* written under lock; peeked without it */
  struct weft__stack *trimmed;    /* free stacks whose pages were returned; lock */
  size_t ntrimmed;                /* protected by lock */
  _Atomic size_t nmapped;         /* stacks in all slabs; written under lock, peeked without it */
  struct weft__stack_slab *slabs; /* protected by lock */
  _Atomic size_t nalone;          /* lone stacks mapped now (stats only; relaxed) */
  _Atomic bool idle_trimming;     /* a worker is trimming (weft__stack_arena_trim_idle) */
  /* Decay (under lock): the fewest free stacks since epoch_ns (never above
   * nfree), and how many the current epoch may still trim. */
  size_t low_water;
  size_t decay_budget;
  uint64_t epoch_ns;
};

struct weft__stack_pool {
  struct weft__stack *free;  /* owner worker only */
  /* Written by the owner only; atomic (relaxed: a plain load or store) so
   * that statistics may read it from any thread. */
  _Atomic unsigned count;
  struct weft__stack_arena *arena;
};

/* Whether taking a stack of the arena's size from @pool now would need
 * fresh memory (a new slab, or a trimmed stack's pages) while the arena
 * already holds at least @floor stacks: the pool is empty, and so is the
 * arena's list of resident free stacks. Owner of @pool only. A peek
 * (relaxed loads of counts written under the arena's lock): it may be
 * stale by a concurrent give-back or take, which only makes a scheduling
 * choice (worker.c, held starts) a little early or late. */
static inline bool weft__stack_pool_dry(const struct weft__stack_pool *pool, size_t floor) {
  const struct weft__stack_arena *a = pool->arena;
  return !pool->free && a && atomic_load_explicit(&a->nfree, memory_order_relaxed) == 0 &&
         atomic_load_explicit(&a->nmapped, memory_order_relaxed) >= floor;
}

/* A snapshot of an arena (weft_loop_memory_stats). */
struct weft__stack_counts {
  size_t mapped, arena_free, trimmed, alone;
};

size_t weft__stack_round(size_t size); /* page-rounded */
void weft__stack_arena_init(struct weft__stack_arena *a, size_t size);
void weft__stack_arena_fini(struct weft__stack_arena *a); /* unmaps every slab */

/* A stack with at least @size bytes, or NULL (-ENOMEM). Owner worker. */
struct weft__stack *weft__stack_get(struct weft__stack_pool *pool, size_t size);
void weft__stack_put(struct weft__stack_pool *pool, struct weft__stack *s);
/* Returns the pages of up to @max free stacks beyond @retain to the kernel;
 * true when more such stacks remain. Called by a worker about to sleep (a
 * batch at a time) and by weft_loop_trim (any thread, everything); cheap
 * when there is nothing to trim. */
bool weft__stack_arena_trim(struct weft__stack_arena *a, size_t retain, size_t max);
/* An idle worker's share at @now_ns (the loop's clock): one batch of the
 * stacks beyond the retained count that no task took during the last
 * decay epoch, unless another worker is trimming already (two trimming at
 * once made each madvise interrupt the other's CPU with TLB shootdowns: 2
 * workers trimmed 7x slower than one). True when this worker should come
 * back for more before it sleeps. *@wake_ns: 0, or when the current epoch
 * ends if free stacks beyond the retained ones wait for it (the worker
 * wakes then to trim them, so an idle loop gives a burst back). */
bool weft__stack_arena_trim_idle(struct weft__stack_arena *a, uint64_t now_ns, uint64_t *wake_ns);
void weft__stack_arena_counts(struct weft__stack_arena *a, struct weft__stack_counts *out);
/* Returns the pool's stacks to the arena (or unmaps lone ones). */
void weft__stack_pool_drain(struct weft__stack_pool *pool);

/* Gives back the pages of @s wholly below @sp, its suspended task's saved
 * stack pointer, less a margin (MADV_DONTNEED: they come back zero-filled
 * on touch): nothing the task needs lies below its stack pointer. Only
 * while the task is held (task.h). Returns the bytes advised (0: none
 * below, or the call failed). */
size_t weft__stack_drop_below(struct weft__stack *s, uintptr_t sp);

/* Stack use tracking (cfg.track_stack_use): drop every page before a task
 * starts; later, bytes from the top down to the deepest resident page. */
void weft__stack_forget_pages(struct weft__stack *s);
size_t weft__stack_touched(const struct weft__stack *s);

/* Usable bytes: [lo, lo + usable) is the stack. */
static inline size_t weft__stack_usable(const struct weft__stack *s) { return s->size; }

#endif
