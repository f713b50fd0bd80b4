/*
 * stack.c - slabs of guarded fiber stacks (see stack.h for the design).
 *
 * Invariants:
 *  1. A stack is in exactly one place: a worker's pool, the arena's free
 *     list, or owned by one task.
 *  2. Slabs are unmapped only by weft__stack_arena_fini, when no task
 *     exists any more (loop close).
 *  3. The arena's free list holds resident stacks, its trimmed list stacks
 *     whose pages all went back to the kernel (descriptors are off-stack).
 *     Trimming (an idle worker) moves the resident ones beyond the retained
 *     count there, as many as no task took during the last decay epoch
 *     (low_water <= nfree: the fewest free since the epoch began).
 *     Resident stacks are reused first; trimmed ones are reused as they
 *     are, their pages coming back zero-filled on touch.
 *  4. nfree and ntrimmed count those two lists, and with the stacks in
 *     pools and tasks add up to nmapped; a pool holds at most
 *     WEFT__STACK_POOL_MAX stacks, counted by its count.
 * arena_ok() and pool_ok() check 3 and 4 (walks bounded: invariant.h)
 * after every change.
 *
 * A new slab is mapped and its guards installed without the arena's lock
 * (one process_madvise for the slab's guards where the kernel takes it,
 * and one populating its stacks' top pages), then adopted under the lock:
 * workers needing stacks meanwhile are not held up behind system calls.
 */
#include "stack.h"
#include "invariant.h"
#include "alloc.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#if defined(WEFT_HAVE_VALGRIND_H)
#include <valgrind/valgrind.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

struct weft__stack_slab {
  struct weft__stack_slab *next;
  void *base;
  size_t map_size;
  struct weft__stack descs[WEFT__STACK_SLAB]; /* one per stack, in address order */
};

/* nmapped changes only under the arena's lock; atomic (relaxed: plain
 * loads and stores) so that a worker may peek at it without the lock
 * (weft__stack_pool_dry). */
static inline size_t mapped_count(const struct weft__stack_arena *a) {
  return atomic_load_explicit(&a->nmapped, memory_order_relaxed);
}

/* nfree changes only under the arena's lock; it is atomic (relaxed) so
 * that an idle worker may peek at it without the lock (trim). */
static inline void nfree_add(struct weft__stack_arena *a, ptrdiff_t d) {
  size_t n = atomic_load_explicit(&a->nfree, memory_order_relaxed) + (size_t)d;
  atomic_store_explicit(&a->nfree, n, memory_order_relaxed);
  if (n < a->low_water) a->low_water = n; /* the epoch's low-water mark (decay) */
}

static size_t page_size(void) {
  /* relaxed: every thread that finds it unset stores the same value;
   * loops made at once on several threads race to it (TSan, test_lock's
   * two loops sharing a lock). */
  static _Atomic size_t ps;
  size_t v = atomic_load_explicit(&ps, memory_order_relaxed);
  if (!v) atomic_store_explicit(&ps, v = (size_t)sysconf(_SC_PAGESIZE), memory_order_relaxed);
  return v;
}

size_t weft__stack_round(size_t size) {
  size_t ps = page_size();
  return (size + ps - 1) & ~(ps - 1);
}

static int install_guard(void *lo) {
  /* Lightweight guard regions first (no memory, no VMA split); mprotect
   * splits the VMA but works on every kernel, and costs no memory either. */
  if (madvise(lo, WEFT__STACK_GUARD, MADV_GUARD_INSTALL) == 0) return 0;
  return mprotect(lo, WEFT__STACK_GUARD, PROT_NONE);
}

/* The span of memory one last-level page table maps (x86-64 and arm64
 * with 4 KiB pages). */
#define PT_SPAN ((uintptr_t)2u << 20)

/* Writes one byte, from user mode, in each page-table span of a fresh
 * mapping of @n stacks of @size usable bytes every @stride bytes from
 * @base that holds a stack's top page (every started task writes its top
 * page anyway), plus the first span's highest usable page if it holds no
 * top: so the page faults create the mapping's last-level page tables
 * before the guard and populate advice reach them. Why: under a
 * shadow-paging hypervisor (PVM, as on the development VM; nested KVM
 * without EPT), a page table that the kernel creates outside a fault
 * (madvise guards, MADV_POPULATE_WRITE) makes the hypervisor drop the
 * process's shadow mappings, and every page the process then touches
 * that it had not touched since faults again (~8 us each). A slab used
 * to do that: each new slab cost every idle suspended task's stack page
 * a re-fault (semaphore_limit with two workers spent a quarter of its
 * time on a waker's store to a waiting task's stack;
 * benchmarks/RESULTS.md). Elsewhere this costs a fault per 2 MiB in place
 * of populating that page. */
static void fault_page_tables(char *base, size_t stride, size_t size, size_t n) {
  size_t ps = page_size();
  uintptr_t done = UINTPTR_MAX; /* the last span touched */
  char *first_top = base + WEFT__STACK_GUARD + size - ps;
  uintptr_t first_span = (uintptr_t)base & ~(PT_SPAN - 1);
  if (((uintptr_t)first_top & ~(PT_SPAN - 1)) != first_span) {
    /* The first span ends before stack 0's top page: its highest page,
     * if that is stack 0's and not its guard. */
    char *page = (char *)(first_span + PT_SPAN) - ps;
    if (page >= base + WEFT__STACK_GUARD) *(volatile char *)page = 0;
  }
  for (size_t i = 0; i < n; i++) {
    char *top = base + i * stride + WEFT__STACK_GUARD + size - ps;
    uintptr_t span = (uintptr_t)top & ~(PT_SPAN - 1);
    if (span == done) continue;
    *(volatile char *)top = 0;
    done = span;
  }
}

/* Whether process_madvise takes guard advice here (1), does not (0), or
 * is untried (-1). Relaxed: a racing first try is harmless. */
static _Atomic int batch_guards = -1;

/* Installs the guards of @n stacks of @size usable bytes laid out every
 * @stride bytes from @base: in one system call where process_madvise
 * takes guard advice (Linux 6.13+), else one call per stack. A slab used
 * to cost a madvise per stack, taking the mmap lock each time while other
 * workers fault their new stacks in (benchmarks/RESULTS.md, issue 13).
 * With batched guards, the stacks' top pages (every started task touches
 * its top page) are populated in a second call: one system call instead of
 * 32 page faults (best effort; a refusal leaves them to fault in). */
static int install_guards(char *base, size_t stride, size_t size, size_t n) {
  fault_page_tables(base, stride, size, n);
#if defined(SYS_process_madvise) && defined(SYS_pidfd_open)
  if (n <= WEFT__STACK_SLAB && atomic_load_explicit(&batch_guards, memory_order_relaxed) != 0) {
    struct iovec v[WEFT__STACK_SLAB];
    for (size_t i = 0; i < n; i++) {
      v[i].iov_base = base + i * stride;
      v[i].iov_len = WEFT__STACK_GUARD;
    }
    /* A pidfd of our own, opened for the calls and closed after them: one
     * kept open would show up in the program's fds and follow a fork. */
    int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    long done = fd >= 0 ? syscall(SYS_process_madvise, fd, v, n, MADV_GUARD_INSTALL, 0) : -1;
    int err = errno;
    if (done == (long)(n * WEFT__STACK_GUARD)) {
      size_t ps = page_size();
      for (size_t i = 0; i < n; i++) {
        v[i].iov_base = base + i * stride + WEFT__STACK_GUARD + size - ps;
        v[i].iov_len = ps;
      }
      (void)syscall(SYS_process_madvise, fd, v, n, MADV_POPULATE_WRITE, 0);
    }
    /* Closed as it was opened, by a raw system call: TSan never saw the
     * open, and its close() interceptor took the number for the last fd
     * it did see under it (another thread's socket, closed by the ring)
     * and reported a race (tests/io/test_net.c under TSan, now and then). */
    if (fd >= 0) (void)syscall(SYS_close, fd);
    if (done == (long)(n * WEFT__STACK_GUARD)) {
      atomic_store_explicit(&batch_guards, 1, memory_order_relaxed);
      return 0;
    }
    if (done < 0 && (err == EINVAL || err == EPERM || err == ENOSYS || err == EBADF))
      atomic_store_explicit(&batch_guards, 0, memory_order_relaxed); /* not here */
    /* Partly done or refused: the rest one by one (installing a guard
     * twice is harmless). */
  }
#endif
  for (size_t i = 0; i < n; i++)
    if (install_guard(base + i * stride) != 0) return -1;
  return 0;
}

/* Describes, in @s, a stack whose usable memory starts at @lo and spans
 * @size bytes. */
static void describe(struct weft__stack *s, void *lo, size_t size) {
  s->next_free = NULL;
  s->trimmed = false;
  s->lo = lo;
  s->size = size;
  s->slab = NULL;
  s->map_base = NULL;
  s->map_size = 0;
#if defined(WEFT_HAVE_VALGRIND_H)
  s->valgrind_id = VALGRIND_STACK_REGISTER(lo, (char *)lo + size);
#else
  s->valgrind_id = 0;
#endif
}

static void forget(struct weft__stack *s) {
#if defined(WEFT_HAVE_VALGRIND_H)
  VALGRIND_STACK_DEREGISTER(s->valgrind_id);
#else
  (void)s;
#endif
}

/* Bytes from one slab stack's guard to the next's: its guard, its usable
 * memory, and a page of address space above its top that nothing touches
 * (the skew, stack.h), which costs no memory. A stack mapped alone has the
 * same layout. */
static size_t stack_stride(size_t usable) { return WEFT__STACK_GUARD + usable + page_size(); }

static struct weft__stack *map_alone(struct weft__stack_arena *a, size_t size) {
  size_t usable = weft__stack_round(size), map_size = stack_stride(usable);
  struct weft__stack *s = weft__alloc(sizeof *s);
  if (!s) return NULL;
  void *base = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (base == MAP_FAILED) {
    weft__free(s, sizeof *s);
    return NULL;
  }
  fault_page_tables(base, map_size, usable, 1);
  if (install_guard(base) != 0) {
    munmap(base, map_size);
    weft__free(s, sizeof *s);
    return NULL;
  }
  describe(s, (char *)base + WEFT__STACK_GUARD, usable);
  s->map_base = base;
  s->map_size = map_size;
  if (a) atomic_fetch_add_explicit(&a->nalone, 1, memory_order_relaxed); /* a count only */
  return s;
}

/* Maps a slab with its guards, without the arena's lock (system calls
 * there would stall every worker that needs a stack); NULL on failure. */
static struct weft__stack_slab *map_slab(size_t size) {
  size_t stride = stack_stride(size), map_size = stride * WEFT__STACK_SLAB;
  struct weft__stack_slab *slab = weft__alloc(sizeof *slab);
  if (!slab) return NULL;
  char *base = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (base == MAP_FAILED) {
    weft__free(slab, sizeof *slab);
    return NULL;
  }
  if (install_guards(base, stride, size, WEFT__STACK_SLAB) != 0) {
    munmap(base, map_size);
    weft__free(slab, sizeof *slab);
    return NULL;
  }
  for (size_t i = 0; i < WEFT__STACK_SLAB; i++) {
    describe(&slab->descs[i], base + i * stride + WEFT__STACK_GUARD, size);
    slab->descs[i].slab = slab;
  }
  slab->base = base;
  slab->map_size = map_size;
  return slab;
}

/* Adds a mapped slab's stacks to the arena's free list. Arena lock held. */
static void adopt_slab_locked(struct weft__stack_arena *a, struct weft__stack_slab *slab) {
  for (size_t i = WEFT__STACK_SLAB; i-- > 0;) {
    slab->descs[i].next_free = a->free;
    a->free = &slab->descs[i];
  }
  nfree_add(a, WEFT__STACK_SLAB);
  slab->next = a->slabs;
  a->slabs = slab;
  atomic_store_explicit(&a->nmapped, mapped_count(a) + WEFT__STACK_SLAB, memory_order_relaxed);
}

void weft__stack_arena_init(struct weft__stack_arena *a, size_t size) {
  weft__mutex_init(&a->lock);
  a->size = weft__stack_round(size);
  a->free = NULL;
  atomic_store_explicit(&a->nfree, 0, memory_order_relaxed);
  a->trimmed = NULL;
  a->ntrimmed = 0;
  atomic_store_explicit(&a->nmapped, 0, memory_order_relaxed);
  a->slabs = NULL;
  atomic_store_explicit(&a->nalone, 0, memory_order_relaxed);
  atomic_store_explicit(&a->idle_trimming, false, memory_order_relaxed);
  a->low_water = 0; /* the first epoch trims nothing: nothing is known unused */
  a->decay_budget = 0;
  a->epoch_ns = 0;
}

static struct weft__stack *arena_take_locked(struct weft__stack_arena *a);

void weft__stack_arena_fini(struct weft__stack_arena *a) {
  struct weft__stack *s;
  while ((s = arena_take_locked(a))) forget(s);
  while (a->slabs) {
    struct weft__stack_slab *slab = a->slabs;
    a->slabs = slab->next;
    munmap(slab->base, slab->map_size);
    weft__free(slab, sizeof *slab);
  }
  atomic_store_explicit(&a->nfree, 0, memory_order_relaxed);
  atomic_store_explicit(&a->nmapped, 0, memory_order_relaxed);
}

/* Walks a free list's first WEFT__CHECK_WALK stacks: false if one has the
 * wrong trimmed flag or is not from a slab; *@n gets the count seen. */
WEFT__CHECKER bool free_list_ok(const struct weft__stack *s, bool trimmed, size_t *n) {
  for (*n = 0; s && *n < WEFT__CHECK_WALK; s = s->next_free, (*n)++)
    if (s->trimmed != trimmed || !s->slab) return false;
  return true;
}

WEFT__CHECKER bool count_matches(size_t walked, size_t count) {
  return walked < WEFT__CHECK_WALK ? walked == count : count >= walked;
}

/* Invariants 3 and 4, under the arena's lock. */
WEFT__CHECKER bool arena_ok(const struct weft__stack_arena *a) {
  size_t nfree = atomic_load_explicit(&a->nfree, memory_order_relaxed), n;
  if (nfree + a->ntrimmed > mapped_count(a) || a->low_water > nfree) return false;
  if (!free_list_ok(a->free, false, &n) || !count_matches(n, nfree)) return false;
  return free_list_ok(a->trimmed, true, &n) && count_matches(n, a->ntrimmed);
}

static struct weft__stack *arena_take_locked(struct weft__stack_arena *a) {
  struct weft__stack *s = a->free;
  if (s) {
    a->free = s->next_free;
    nfree_add(a, -1);
  } else if ((s = a->trimmed)) {
    a->trimmed = s->next_free;
    a->ntrimmed--;
    s->trimmed = false;
  }
  return s;
}

/* The pool's count: written by its owner only, atomic (relaxed: plain
 * loads and stores) so that statistics may read it from any thread. */
static unsigned pool_count(const struct weft__stack_pool *pool) {
  return atomic_load_explicit(&pool->count, memory_order_relaxed);
}
static void pool_set_count(struct weft__stack_pool *pool, unsigned n) {
  atomic_store_explicit(&pool->count, n, memory_order_relaxed);
}

/* Invariant 4 for a pool, on its owner's thread. */
WEFT__CHECKER bool pool_ok(const struct weft__stack_pool *pool) {
  size_t n;
  unsigned count = pool_count(pool);
  return count <= WEFT__STACK_POOL_MAX && free_list_ok(pool->free, false, &n) &&
         count_matches(n, count);
}

/* Moves up to half a pool's capacity from the arena's lists. Arena lock held. */
static void take_half_locked(struct weft__stack_arena *a, struct weft__stack_pool *pool) {
  struct weft__stack *s;
  unsigned count = pool_count(pool);
  while (count < WEFT__STACK_POOL_MAX / 2 && (s = arena_take_locked(a))) {
    s->next_free = pool->free;
    pool->free = s;
    count++;
  }
  pool_set_count(pool, count);
}

/* Fills an empty pool with up to half its capacity from the arena, which
 * maps a new slab (outside its lock) when it has none left. */
static void refill(struct weft__stack_pool *pool) {
  struct weft__stack_arena *a = pool->arena;
  weft__mutex_lock(&a->lock);
  bool empty = !a->free && !a->trimmed;
  if (!empty) take_half_locked(a, pool);
  WEFT__INVARIANT(arena_ok(a) && pool_ok(pool));
  weft__mutex_unlock(&a->lock);
  if (!empty) return;
  struct weft__stack_slab *slab = map_slab(a->size); /* a->size is immutable */
  weft__mutex_lock(&a->lock);
  if (slab) adopt_slab_locked(a, slab);
  take_half_locked(a, pool); /* or what others gave back meanwhile */
  WEFT__INVARIANT(arena_ok(a) && pool_ok(pool));
  weft__mutex_unlock(&a->lock);
}

struct weft__stack *weft__stack_get(struct weft__stack_pool *pool, size_t size) {
  if (!pool->arena || weft__stack_round(size) != pool->arena->size) return map_alone(pool->arena, size);
  if (!pool->free) refill(pool);
  struct weft__stack *s = pool->free;
  if (!s) return NULL;
  pool->free = s->next_free;
  pool_set_count(pool, pool_count(pool) - 1);
  WEFT__INVARIANT(pool_ok(pool));
  return s;
}

/* Hands the stacks of @list back to the arena. */
static void give_back(struct weft__stack_arena *a, struct weft__stack *list) {
  struct weft__stack *last = NULL;
  size_t n = 0;
  for (struct weft__stack *s = list; s; s = s->next_free) {
    last = s;
    n++;
  }
  if (!last) return;
  weft__mutex_lock(&a->lock);
  last->next_free = a->free;
  a->free = list;
  nfree_add(a, (ptrdiff_t)n);
  WEFT__INVARIANT(arena_ok(a));
  weft__mutex_unlock(&a->lock);
}

static int by_address(const void *x, const void *y) {
  uintptr_t a = (uintptr_t)(*(struct weft__stack *const *)x)->lo;
  uintptr_t b = (uintptr_t)(*(struct weft__stack *const *)y)->lo;
  return (a > b) - (a < b);
}

/* Gives back every page of the stacks on @list (detached: nobody else
 * reaches them) and marks them trimmed, leaving the list's links alone.
 * Stacks side by side in a slab go in one madvise with the guard between
 * them (its marker, or its PROT_NONE, stays; the guard holds no page):
 * each call is a TLB shootdown to every CPU running a worker, and
 * 1M stacks' pages went back at one call each, tens of microseconds
 * apiece on the development VM. Sorted a chunk at a time. */
static void trim_pages(struct weft__stack *list) {
  struct weft__stack *chunk[256];
  size_t k = 0;
  for (struct weft__stack *s = list; s; s = s->next_free) {
    s->trimmed = true;
    chunk[k++] = s;
    if (k < sizeof chunk / sizeof chunk[0] && s->next_free) continue;
    qsort(chunk, k, sizeof chunk[0], by_address);
    for (size_t i = 0; i < k;) {
      size_t j = i;
      /* The run chunk[i..j]: each the next stack of the same slab. */
      while (j + 1 < k && chunk[j + 1]->slab == chunk[i]->slab &&
             (char *)chunk[j + 1]->lo == (char *)chunk[j]->lo + stack_stride(chunk[j]->size))
        j++;
      char *lo = chunk[i]->lo, *hi = (char *)chunk[j]->lo + chunk[j]->size;
      madvise(lo, (size_t)(hi - lo), MADV_DONTNEED); /* whole stacks: descriptors are elsewhere */
      i = j + 1;
    }
    k = 0;
  }
}

bool weft__stack_arena_trim(struct weft__stack_arena *a, size_t retain, size_t max) {
  /* A racy peek skips the common case; the decision is made under the lock. */
  if (atomic_load_explicit(&a->nfree, memory_order_relaxed) <= retain) return false;
  struct weft__stack *trim = NULL, *last = NULL;
  size_t n = 0;
  weft__mutex_lock(&a->lock);
  /* Detach the excess so nobody takes those stacks while their pages are
   * being returned. */
  while (n < max && atomic_load_explicit(&a->nfree, memory_order_relaxed) > retain) {
    struct weft__stack *s = a->free;
    a->free = s->next_free;
    nfree_add(a, -1);
    s->next_free = trim;
    trim = s;
    if (!last) last = s;
    n++;
  }
  WEFT__INVARIANT(arena_ok(a)); /* the detached ones are on no list: counted in neither */
  weft__mutex_unlock(&a->lock);
  if (!trim) return false;
  trim_pages(trim);
  weft__mutex_lock(&a->lock);
  last->next_free = a->trimmed;
  a->trimmed = trim;
  a->ntrimmed += n;
  WEFT__INVARIANT(arena_ok(a));
  bool more = atomic_load_explicit(&a->nfree, memory_order_relaxed) > retain;
  weft__mutex_unlock(&a->lock);
  return more;
}

bool weft__stack_arena_trim_idle(struct weft__stack_arena *a, uint64_t now_ns, uint64_t *wake_ns) {
  *wake_ns = 0;
  if (atomic_load_explicit(&a->nfree, memory_order_relaxed) <= WEFT__STACK_ARENA_RETAIN) return false;
  /* acquire/release only order the flag itself; the lists are under the lock. */
  if (atomic_exchange_explicit(&a->idle_trimming, true, memory_order_acquire)) return false;
  weft__mutex_lock(&a->lock);
  size_t nfree = atomic_load_explicit(&a->nfree, memory_order_relaxed);
  /* A worker's clock read before another one began the epoch is older
   * than it: not an epoch's end (unsigned, it would look like one). */
  if (now_ns >= a->epoch_ns && now_ns - a->epoch_ns >= WEFT__STACK_DECAY_NS) {
    /* A new epoch: what no task took during the last one may go. */
    a->decay_budget = a->low_water > WEFT__STACK_ARENA_RETAIN ? a->low_water - WEFT__STACK_ARENA_RETAIN : 0;
    a->low_water = nfree;
    a->epoch_ns = now_ns;
  }
  size_t n = a->decay_budget < WEFT__STACK_TRIM_BATCH ? a->decay_budget : WEFT__STACK_TRIM_BATCH;
  a->decay_budget -= n;
  bool more = a->decay_budget > 0;
  if (!more && nfree > WEFT__STACK_ARENA_RETAIN + n) *wake_ns = a->epoch_ns + WEFT__STACK_DECAY_NS;
  weft__mutex_unlock(&a->lock);
  if (n) more = weft__stack_arena_trim(a, WEFT__STACK_ARENA_RETAIN, n) && more;
  atomic_store_explicit(&a->idle_trimming, false, memory_order_release);
  return more;
}

/* Justification: below the saved stack pointer nothing is live (no red
 * zone survives a call); the margin keeps a page the switch's own frame
 * might share with a deeper one out of the advice, for no more than one
 * page of memory. */
#define DROP_MARGIN 256u

size_t weft__stack_drop_below(struct weft__stack *s, uintptr_t sp) {
  uintptr_t lo = (uintptr_t)s->lo;
  if (sp < lo + DROP_MARGIN || sp > lo + s->size) return 0; /* not on this stack: leave it */
  uintptr_t cut = (sp - DROP_MARGIN) & ~(uintptr_t)(page_size() - 1);
  if (cut <= lo) return 0;
  return madvise(s->lo, cut - lo, MADV_DONTNEED) == 0 ? cut - lo : 0;
}

void weft__stack_forget_pages(struct weft__stack *s) { madvise(s->lo, s->size, MADV_DONTNEED); }

size_t weft__stack_touched(const struct weft__stack *s) {
  size_t ps = page_size(), pages = s->size / ps;
  unsigned char vec[256];
  /* Lowest resident page first: scan up from lo in chunks. */
  for (size_t first = 0; first < pages; first += sizeof vec) {
    size_t n = pages - first < sizeof vec ? pages - first : sizeof vec;
    if (mincore((char *)s->lo + first * ps, n * ps, vec) != 0) return 0;
    for (size_t i = 0; i < n; i++)
      if (vec[i] & 1) return (pages - first - i) * ps;
  }
  return 0;
}

void weft__stack_arena_counts(struct weft__stack_arena *a, struct weft__stack_counts *out) {
  weft__mutex_lock(&a->lock);
  out->mapped = mapped_count(a);
  out->arena_free = atomic_load_explicit(&a->nfree, memory_order_relaxed);
  out->trimmed = a->ntrimmed;
  weft__mutex_unlock(&a->lock);
  out->alone = atomic_load_explicit(&a->nalone, memory_order_relaxed);
}

static void unmap_alone(struct weft__stack_arena *a, struct weft__stack *s) {
  forget(s);
  munmap(s->map_base, s->map_size);
  weft__free(s, sizeof *s);
  if (a) atomic_fetch_sub_explicit(&a->nalone, 1, memory_order_relaxed); /* a count only */
}

void weft__stack_put(struct weft__stack_pool *pool, struct weft__stack *s) {
  if (!s->slab) {
    unmap_alone(pool->arena, s);
    return;
  }
  s->next_free = pool->free;
  pool->free = s;
  unsigned count = pool_count(pool) + 1;
  pool_set_count(pool, count);
  if (count <= WEFT__STACK_POOL_MAX) return;
  /* Over the cap: the older half goes back to the arena in one batch. */
  struct weft__stack *keep = pool->free, *cut = keep;
  for (unsigned i = 1; i < WEFT__STACK_POOL_MAX / 2; i++) cut = cut->next_free;
  struct weft__stack *rest = cut->next_free;
  cut->next_free = NULL;
  pool_set_count(pool, WEFT__STACK_POOL_MAX / 2);
  WEFT__INVARIANT(pool_ok(pool));
  give_back(pool->arena, rest);
}

void weft__stack_pool_drain(struct weft__stack_pool *pool) {
  if (pool->free) give_back(pool->arena, pool->free);
  pool->free = NULL;
  pool_set_count(pool, 0);
}
