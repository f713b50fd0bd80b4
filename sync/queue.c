/*
 * queue.c - Queue, LifoQueue, PriorityQueue: bounded or not, with
 * task_done/join, Python 3.13's shutdown, and blocking variants for foreign
 * threads.
 *
 * Storage: one array of (item, seq) entries. FIFO uses it as a ring, LIFO as
 * a stack, PRIORITY as a binary min-heap on (cmp, seq), so equal items come
 * out in insertion order. An unbounded queue grows the array by doubling.
 *
 * A bounded FIFO queue of 2 to WEFT__RING_MAX items keeps them instead in
 * a lock-free ring (mpmc_ring.h), and its put and get take m only to wait
 * or to wake a waiter: while the queue is neither empty nor full, producers
 * and consumers on different workers share no lock (queue_mpmc, issue 13).
 *
 * Waiting is asyncio's wake-and-recheck: a put wakes the oldest getter, a
 * get wakes the oldest putter, and the woken task re-checks the queue. A
 * woken waiter that is cancelled (or times out) instead passes its wake-up
 * to the next waiter of its kind, so no wake-up is lost; a cancelled getter
 * takes nothing, so its item stays queued. A put or get that does not wait
 * takes the item at once even while others wait (asyncio's put_nowait and
 * get_nowait inside put and get).
 *
 * One worker (home.h): a ring queue bound to a one-worker loop has its
 * puts and gets that need not wait done by that loop's worker in owner
 * sections: the ring's plain put and get (mpmc_ring.h: _owned), and a
 * plain look at `waiting` (the waiters are the worker's own tasks, under
 * m on the same thread). Every other thread settles (home.h) before it
 * touches the ring: put, get, their _nowait and _threadsafe forms and
 * shutdown. Queues without a ring (unbounded, LIFO, priority, bounds
 * above WEFT__RING_MAX) run under m, as before. A task's put and get in a
 * section are leaves (weft_queue_put, weft_queue_get): everything else is
 * a tail call out of them.
 *
 * The ring's wake-ups without m (a Dekker pair): `waiting` has a bit per
 * waitlist, set under m while that list is not empty. A waiter sets its
 * bit (a seq_cst RMW) before its last try at the ring (whose loads of
 * slots are seq_cst), under m, and queues only if that try fails; a put or
 * get publishes its slot with a seq_cst exchange (mpmc_ring.h) and then
 * loads `waiting` (seq_cst).
 * In the single order of those operations either the try sees the slot or
 * the load sees the bit, and then the publisher takes m and wakes the
 * oldest waiter; m orders the rest. A bit is cleared only under m, when its
 * list is empty (sync_waiting).
 *
 * Invariants (under m): count <= cap; maxsize == 0 or count <= maxsize (the
 * ring's own bound is maxsize); puts - done items are unfinished (puts: the
 * ring's tail, or puts made under m; done: task_done calls and items an
 * immediate shutdown dropped); getters wait only while no item is
 * published and not shut down for them (or a put still publishing, which
 * will wake them), putters only while full and not shut down; a waitlist's
 * bit in `waiting` is set while it is not empty.
 */
#include "weft.h"
#include "alloc.h"
#include "misuse.h"
#include "task.h"
#include "home.h"
#include "named.h"
#include "mpmc_ring.h"
#include "waitlist.h"
#include "backtrace.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

struct entry {
  void *item;
  uint64_t seq;
};

struct weft_queue {
  /* Line 0: what every put and get on the ring reads, and nothing that
   * the mutex's holders write but `waiting` (which changes only as tasks
   * begin or stop waiting). With m here too, every lock and unlock of a
   * queue that keeps filling and emptying took this line from the other
   * workers' puts and gets (queue_mpmc with two workers, perf: 30% of
   * the fast paths' samples on the load of `waiting`). */
  WEFT__MAGIC                     /* debug builds: misuse.h */
  _Atomic(const char *) name;     /* weft_queue_set_name; relaxed (the dump reads it) */
  enum weft_queue_kind kind;             /* immutable */
  size_t maxsize;                        /* immutable */
  int (*cmp)(const void *, const void *); /* immutable */
  struct weft__ring *ring;               /* immutable; NULL: items in slots */
  _Atomic uint32_t waiting;              /* WAIT_GET | WAIT_PUT; changed under m (head comment) */
  struct weft__home home;                /* the one-worker loop that may take sections on the ring */
  /* Line 1 on: the mutex and what it guards. */
  _Alignas(WEFT__CACHELINE) struct weft__mutex m;
  struct entry *slots;                   /* under m */
  size_t cap, head, count;               /* under m; head is used by FIFO; not with a ring */
  uint64_t seq;                          /* under m */
  uint64_t puts, done;                   /* under m; puts: not with a ring (its tail counts them) */
  int shutdown;                          /* under m: 0, 1 (draining), 2 (immediate) */
  struct weft__waitlist getters, putters, joiners; /* under m */
};

int weft_queue_create(enum weft_queue_kind kind, size_t maxsize,
                      int (*cmp)(const void *a, const void *b), weft_queue_t **out) {
  if (!out || kind > WEFT_QUEUE_PRIORITY || (kind == WEFT_QUEUE_PRIORITY) != (cmp != NULL))
    return -EINVAL;
  struct weft_queue *q = weft__calloc_aligned(sizeof *q, _Alignof(struct weft_queue));
  if (!q) return -ENOMEM;
  weft__magic_live(q);
  atomic_init(&q->name, NULL);
  weft__mutex_init(&q->m);
  q->kind = kind;
  q->maxsize = maxsize > SSIZE_MAX ? 0 : maxsize; /* asyncio: maxsize <= 0 is unbounded */
  q->cmp = cmp;
  weft__wl_init(&q->getters);
  weft__wl_init(&q->putters);
  weft__wl_init(&q->joiners);
  atomic_init(&q->waiting, 0);
  weft__home_init(&q->home);
  if (kind == WEFT_QUEUE_FIFO && q->maxsize >= 2 && q->maxsize <= WEFT__RING_MAX) {
    int rc = weft__ring_create(q->maxsize, &q->ring);
    if (rc) {
      weft__magic_dead(q);
      weft__free_aligned(q, sizeof *q, _Alignof(struct weft_queue));
      return rc;
    }
  }
  *out = q;
  return 0;
}

int weft_queue_destroy(weft_queue_t *q) {
  if (!q) return -EINVAL;
  weft__magic_check(q, "double destroy", "queue");
  weft__mutex_lock(&q->m);
  bool busy = q->getters.count || q->putters.count || q->joiners.count;
  weft__mutex_unlock(&q->m);
  if (busy) return -EBUSY;
  weft__free(q->slots, q->cap * sizeof *q->slots);
  weft__ring_destroy(q->ring);
  weft__magic_dead(q);
  weft__free_aligned(q, sizeof *q, _Alignof(struct weft_queue));
  return 0;
}

/* ---- storage (under m) ---------------------------------------------------------- */

static bool before(struct weft_queue *q, const struct entry *a, const struct entry *b) {
  int c = q->cmp(a->item, b->item);
  return c < 0 || (c == 0 && a->seq < b->seq);
}

/* head + @i wrapped into the FIFO ring (i < cap): a compare, not a
 * division, which a put and a get each paid inside the lock. */
static size_t ring_at(const struct weft_queue *q, size_t i) {
  size_t at = q->head + i;
  return at < q->cap ? at : at - q->cap;
}

static int grow(struct weft_queue *q) {
  size_t ncap = q->cap ? q->cap * 2 : 16;
  if (q->maxsize && ncap > q->maxsize) ncap = q->maxsize;
  struct entry *n = weft__alloc(ncap * sizeof *n);
  if (!n) return -ENOMEM;
  for (size_t i = 0; i < q->count; i++) /* unroll the FIFO ring */
    n[i] = q->slots[q->kind == WEFT_QUEUE_FIFO ? ring_at(q, i) : i];
  weft__free(q->slots, q->cap * sizeof *q->slots);
  q->slots = n;
  q->cap = ncap;
  q->head = 0;
  return 0;
}

/* The heap's halves of push and pop, out of line: their loops need
 * registers that the FIFO and LIFO paths would otherwise save and restore
 * on every item (queue_mpmc, benchmarks/RESULTS.md 2026-12-02 15:49Z). */
static __attribute__((noinline)) void heap_push(struct weft_queue *q, void *item) {
  struct entry e = {item, q->seq++}; /* equal items leave in insertion order */
  size_t i = q->count; /* sift up */
  while (i > 0 && before(q, &e, &q->slots[(i - 1) / 2])) {
    q->slots[i] = q->slots[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  q->slots[i] = e;
}

/* Called with count already one less: takes the root, sifts the last down. */
static __attribute__((noinline)) void *heap_pop(struct weft_queue *q) {
  void *item = q->slots[0].item;
  struct entry last = q->slots[q->count];
  size_t i = 0; /* sift down */
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= q->count) break;
    if (c + 1 < q->count && before(q, &q->slots[c + 1], &q->slots[c])) c++;
    if (!before(q, &q->slots[c], &last)) break;
    q->slots[i] = q->slots[c];
    i = c;
  }
  if (q->count) q->slots[i] = last;
  return item;
}

static inline int push(struct weft_queue *q, void *item) {
  if (__builtin_expect(q->count == q->cap, 0) && grow(q)) return -ENOMEM;
  if (q->kind == WEFT_QUEUE_FIFO) q->slots[ring_at(q, q->count)].item = item;
  else if (q->kind == WEFT_QUEUE_LIFO) q->slots[q->count].item = item;
  else heap_push(q, item);
  q->count++;
  q->puts++;
  return 0;
}

static inline void *pop(struct weft_queue *q) {
  void *item;
  q->count--;
  if (q->kind == WEFT_QUEUE_FIFO) {
    item = q->slots[q->head].item;
    q->head = ring_at(q, 1);
  } else if (q->kind == WEFT_QUEUE_LIFO) {
    item = q->slots[q->count].item;
  } else {
    item = heap_pop(q);
  }
  return item;
}

/* Items queued: under m, or a snapshot (a ring's count needs no lock). */
static size_t count_of(struct weft_queue *q) {
  return q->ring ? weft__ring_count(q->ring) : q->count;
}

static bool full(struct weft_queue *q) { return q->maxsize && count_of(q) >= q->maxsize; }

/* Under m: items put and not yet marked done. */
static uint64_t unfinished(struct weft_queue *q) {
  return (q->ring ? weft__ring_puts(q->ring) : q->puts) - q->done;
}

/* ---- the ring's waiting protocol (head comment) ---------------------------------------- */

#define WAIT_GET 1u
#define WAIT_PUT 2u

/* Under m: each bit of `waiting` follows its list. */
static void sync_waiting(struct weft_queue *q) {
  uint32_t want = (q->getters.count ? WAIT_GET : 0) | (q->putters.count ? WAIT_PUT : 0);
  /* relaxed: only m's holders write it, and clearing orders nothing (a
   * publisher that still sees the bit just finds the list empty). */
  if (atomic_load_explicit(&q->waiting, memory_order_relaxed) != want)
    atomic_store_explicit(&q->waiting, want, memory_order_relaxed);
}

/* Under m, before a waiter's last try at the ring. */
static void announce(struct weft_queue *q, uint32_t bit) {
  /* seq_cst: the bit comes before the try's seq_cst loads of the ring's
   * slots (mpmc_ring.h) in the single order the publishers' exchanges and
   * loads of `waiting` are in. */
  atomic_fetch_or_explicit(&q->waiting, bit, memory_order_seq_cst);
}

/* A publisher that saw @bit: wakes the oldest waiter of that kind. */
static __attribute__((noinline)) void wake_waiter(struct weft_queue *q, struct weft__waitlist *wl) {
  weft__mutex_lock(&q->m);
  weft__wl_wake_one(wl, NULL, 0);
  sync_waiting(q);
  weft__mutex_unlock(&q->m);
}

/* After a ring put or get that published: wakes a waiter of the other kind
 * if the bit says one may wait. */
static inline void after_publish(struct weft_queue *q, uint32_t bit) {
  /* seq_cst: after the publishing exchange (mpmc_ring.h, head comment). */
  if (__builtin_expect(atomic_load_explicit(&q->waiting, memory_order_seq_cst) & bit, 0))
    wake_waiter(q, bit == WAIT_GET ? &q->getters : &q->putters);
}

/* A put (@put; @item) or get (into @out) on the ring that does not wait,
 * with the atomic operations, once @role (home.h: not SECTION) is
 * prepared for. Wakes a waiter of the other kind. Returns WEFT__RING_OK,
 * _FULL / _EMPTY or _CLOSED_RC. */
static inline __attribute__((always_inline)) int ring_atomic(struct weft_queue *q, bool put,
                                                             void *item, void **out,
                                                             struct weft__worker *w,
                                                             enum weft__home_role role) {
  if (role != WEFT__HOME_ATOMIC) weft__home_prepare(&q->home, w, role);
  int r = put ? weft__ring_put(q->ring, item) : weft__ring_get(q->ring, out);
  if (r == WEFT__RING_OK) after_publish(q, put ? WAIT_GET : WAIT_PUT);
  return r;
}

/* Under m: waits as a putter (a wake-up re-checks; the caller loops). On
 * an error, a wake-up it was granted anyway goes on to the next putter
 * while there is room: nobody loses one. A cancellation pending as it
 * begins ends it after a pass, nothing queued (waitlist.h). */
static int wait_to_put(struct weft_queue *q, enum weft__wait_mode mode, uint64_t deadline) {
  int first = weft__wl_cancel_point_locked(&q->m, mode);
  if (first <= 0) return first; /* cancelled, or m was let go: look again */
  struct weft__waiter_node w;
  weft__task_blocked_named(weft__task_self(), WEFT__BLOCK_QUEUE_PUT, q, 0,
                           weft__name_get(&q->name));
  int rc = weft__wl_wait(&q->m, &q->putters, &w, mode, deadline);
  if (rc && weft__wl_granted(&w) && !full(q))
    weft__wl_wake_one(&q->putters, NULL, 0); /* pass the wake-up on */
  return rc;
}

/* Under m: waits as a getter, as wait_to_put; a cancelled getter takes
 * nothing, so its item stays and the wake-up goes on. */
static int wait_to_get(struct weft_queue *q, enum weft__wait_mode mode, uint64_t deadline) {
  int first = weft__wl_cancel_point_locked(&q->m, mode);
  if (first <= 0) return first; /* cancelled, or m was let go: look again */
  struct weft__waiter_node w;
  weft__task_blocked_named(weft__task_self(), WEFT__BLOCK_QUEUE_GET, q, 0,
                           weft__name_get(&q->name));
  int rc = weft__wl_wait(&q->m, &q->getters, &w, mode, deadline);
  if (rc && weft__wl_granted(&w) && count_of(q))
    weft__wl_wake_one(&q->getters, NULL, 0); /* the item stays; pass the wake-up on */
  return rc;
}

/* The put that found the ring full or closed (then shut down). */
static __attribute__((noinline)) int ring_put_slow(struct weft_queue *q, void *item,
                                                   int64_t timeout_ns, enum weft__wait_mode mode) {
  uint64_t deadline = weft__deadline(timeout_ns);
  int rc;
  weft__mutex_lock(&q->m);
  for (;;) {
    if (q->shutdown) {
      rc = WEFT_ESHUTDOWN;
      break;
    }
    announce(q, WAIT_PUT);
    int r = weft__ring_put(q->ring, item);
    if (r == WEFT__RING_OK) {
      weft__wl_wake_one(&q->getters, NULL, 0);
      rc = 0;
      break;
    }
    /* Puts close only under m, after shutdown is set (checked above). */
    WEFT__INVARIANT(r == WEFT__RING_FULL);
    if ((rc = wait_to_put(q, mode, deadline))) break;
  }
  sync_waiting(q);
  weft__mutex_unlock(&q->m);
  return rc;
}

/* The get that found no published item (or the ring closed). */
static __attribute__((noinline)) int ring_get_slow(struct weft_queue *q, void **out,
                                                   int64_t timeout_ns, enum weft__wait_mode mode) {
  uint64_t deadline = weft__deadline(timeout_ns);
  int rc;
  weft__mutex_lock(&q->m);
  for (;;) {
    announce(q, WAIT_GET);
    int r = weft__ring_get(q->ring, out);
    if (r == WEFT__RING_OK) {
      weft__wl_wake_one(&q->putters, NULL, 0);
      /* Shut down: the getters waiting for this item (a put still
       * publishing) re-check, and end if it was the last. */
      if (q->shutdown) weft__wl_wake_all(&q->getters, 0);
      rc = 0;
      break;
    }
    /* Shut down and nothing left, not even a put still publishing (it was
     * made before the shutdown: its item is still to be had). */
    if (r == WEFT__RING_CLOSED_RC || (q->shutdown && weft__ring_idle(q->ring))) {
      weft__wl_wake_all(&q->getters, 0); /* a publisher woke one of us: the rest end too */
      rc = WEFT_ESHUTDOWN;
      break;
    }
    if ((rc = wait_to_get(q, mode, deadline))) break;
  }
  sync_waiting(q);
  weft__mutex_unlock(&q->m);
  return rc;
}

/* A section's put or get that published and saw a waiter of the other
 * kind (@other): ends the section, then wakes one. */
static __attribute__((noinline)) int leave_and_wake(struct weft_queue *q, struct weft__worker *w,
                                                    uint32_t other) {
  weft__owner_leave(w->solo_owner);
  wake_waiter(q, other == WAIT_GET ? &q->getters : &q->putters);
  return WEFT__RING_OK;
}

/* A task's put (@item) or get (into @out) on a ring queue past its
 * section (@role: ABANDON after a section that found the ring full, empty
 * or closed; SETTLE or ATOMIC where none was entered): the atomic
 * operation, then the slow path. */
static __attribute__((noinline)) int put_past_section(struct weft_queue *q, void *item,
                                                      int64_t timeout_ns, struct weft__worker *w,
                                                      enum weft__home_role role) {
  if (ring_atomic(q, true, item, NULL, w, role) == WEFT__RING_OK) return 0;
  return ring_put_slow(q, item, timeout_ns, WEFT__WAIT_TASK);
}

static __attribute__((noinline)) int get_past_section(struct weft_queue *q, void **out,
                                                      int64_t timeout_ns, struct weft__worker *w,
                                                      enum weft__home_role role) {
  if (ring_atomic(q, false, NULL, out, w, role) == WEFT__RING_OK) return 0;
  return ring_get_slow(q, out, timeout_ns, WEFT__WAIT_TASK);
}

/* A put (@put; @item) or get (into @out) on the ring by @w (the caller's
 * worker or NULL): in an owner section on the queue's home worker
 * (home.h), else atomically once settled; wakes a waiter of the other
 * kind. The section's case is a leaf, every other a tail call. @wait:
 * a task's put or get (@timeout_ns), which goes on to wait where the ring
 * is full or empty and returns 0 or an error code; otherwise returns
 * WEFT__RING_OK, _FULL / _EMPTY or _CLOSED_RC and waits for nothing.
 * Inlined with @put and @wait known. */
static inline __attribute__((always_inline)) int ring_now(struct weft_queue *q, bool put, void *item,
                                                          void **out, struct weft__worker *w,
                                                          bool wait, int64_t timeout_ns) {
  enum weft__home_role role = weft__home_enter(&q->home, w);
  if (__builtin_expect(role == WEFT__HOME_SECTION, 1)) {
    int r = put ? weft__ring_put_owned(q->ring, item) : weft__ring_get_owned(q->ring, out);
    if (__builtin_expect(r == WEFT__RING_OK, 1)) {
      uint32_t other = put ? WAIT_GET : WAIT_PUT;
      /* relaxed: changed under m, by this thread while sections are on. */
      if (__builtin_expect(atomic_load_explicit(&q->waiting, memory_order_relaxed) & other, 0))
        return leave_and_wake(q, w, other);
      return weft__home_leave_ret(w, WEFT__RING_OK);
    }
    role = WEFT__HOME_ABANDON; /* full, empty or closed: the atomic path says which */
  }
  if (!wait) return ring_atomic(q, put, item, out, w, role);
  return put ? put_past_section(q, item, timeout_ns, w, role)
             : get_past_section(q, out, timeout_ns, w, role);
}

static inline int ring_put_now(struct weft_queue *q, void *item) {
  return ring_now(q, true, item, NULL, weft__worker_self_leaf(), false, 0);
}

static inline int ring_get_now(struct weft_queue *q, void **out) {
  return ring_now(q, false, NULL, out, weft__worker_self_leaf(), false, 0);
}

/* ---- put / get --------------------------------------------------------------------- */

static int put_locked(struct weft_queue *q, void *item) {
  int rc = push(q, item);
  if (!rc) weft__wl_wake_one(&q->getters, NULL, 0);
  return rc;
}

/* put and get, the mutex queue's and the ring's paths past a fast one
 * that did not do: inlined into the thread-safe entry points, and out of
 * line (put_rest, get_rest) behind the task entry points' fast paths. */
static inline __attribute__((always_inline)) int put(struct weft_queue *q, void *item,
                                                     int64_t timeout_ns, enum weft__wait_mode mode) {
  if (!q) return -EINVAL;
  int rc = weft__wl_can_wait(mode);
  if (rc) return rc;
  if (q->ring) {
    if (__builtin_expect(ring_put_now(q, item) == WEFT__RING_OK, 1)) return 0;
    return ring_put_slow(q, item, timeout_ns, mode);
  }
  uint64_t deadline = weft__deadline(timeout_ns);
  weft__mutex_lock(&q->m);
  for (;;) {
    if (q->shutdown) {
      rc = WEFT_ESHUTDOWN;
      break;
    }
    if (!full(q)) {
      rc = put_locked(q, item);
      break;
    }
    if ((rc = wait_to_put(q, mode, deadline))) break;
  }
  weft__mutex_unlock(&q->m);
  return rc;
}

static inline __attribute__((always_inline)) int get(struct weft_queue *q, void **out,
                                                     int64_t timeout_ns, enum weft__wait_mode mode) {
  if (!q || !out) return -EINVAL;
  int rc = weft__wl_can_wait(mode);
  if (rc) return rc;
  if (q->ring) {
    if (__builtin_expect(ring_get_now(q, out) == WEFT__RING_OK, 1)) return 0;
    return ring_get_slow(q, out, timeout_ns, mode);
  }
  uint64_t deadline = weft__deadline(timeout_ns);
  weft__mutex_lock(&q->m);
  for (;;) {
    if (q->count) {
      *out = pop(q);
      weft__wl_wake_one(&q->putters, NULL, 0);
      rc = 0;
      break;
    }
    if (q->shutdown) {
      rc = WEFT_ESHUTDOWN;
      break;
    }
    if ((rc = wait_to_get(q, mode, deadline))) break;
  }
  weft__mutex_unlock(&q->m);
  return rc;
}

static __attribute__((noinline)) int put_rest(struct weft_queue *q, void *item, int64_t timeout_ns) {
  return put(q, item, timeout_ns, WEFT__WAIT_TASK);
}

static __attribute__((noinline)) int get_rest(struct weft_queue *q, void **out, int64_t timeout_ns) {
  return get(q, out, timeout_ns, WEFT__WAIT_TASK);
}

/* A task's put or get on a ring queue, the common case on a one-worker
 * loop, is ring_now's leaf; every other case (a mutex queue, a bad
 * argument, no task) is put()'s or get()'s, out of line: the same checks,
 * in an order that reads the worker once (queue_mpmc,
 * benchmarks/RESULTS.md). */
WEFT__NO_FRAME int weft_queue_put(weft_queue_t *q, void *item, int64_t timeout_ns) {
  struct weft__worker *w = weft__worker_self_leaf();
  if (__builtin_expect(!q || !q->ring || !w || !weft__worker_current(w), 0))
    return put_rest(q, item, timeout_ns);
  return ring_now(q, true, item, NULL, w, true, timeout_ns);
}

WEFT__NO_FRAME int weft_queue_get(weft_queue_t *q, void **out, int64_t timeout_ns) {
  struct weft__worker *w = weft__worker_self_leaf();
  if (__builtin_expect(!q || !out || !q->ring || !w || !weft__worker_current(w), 0))
    return get_rest(q, out, timeout_ns);
  return ring_now(q, false, NULL, out, w, true, timeout_ns);
}

int weft_queue_put_threadsafe(weft_queue_t *q, void *item, int64_t timeout_ns) {
  return put(q, item, timeout_ns, WEFT__WAIT_ANY);
}

int weft_queue_get_threadsafe(weft_queue_t *q, void **out, int64_t timeout_ns) {
  return get(q, out, timeout_ns, WEFT__WAIT_ANY);
}

int weft_queue_put_nowait(weft_queue_t *q, void *item) {
  if (!q) return -EINVAL;
  if (q->ring) {
    int r = ring_put_now(q, item);
    return r == WEFT__RING_OK ? 0 : r == WEFT__RING_CLOSED_RC ? WEFT_ESHUTDOWN : -EAGAIN;
  }
  weft__mutex_lock(&q->m);
  int rc = q->shutdown ? WEFT_ESHUTDOWN : full(q) ? -EAGAIN : put_locked(q, item);
  weft__mutex_unlock(&q->m);
  return rc;
}

int weft_queue_get_nowait(weft_queue_t *q, void **out) {
  if (!q || !out) return -EINVAL;
  if (q->ring) {
    int r = ring_get_now(q, out);
    if (r == WEFT__RING_OK) return 0;
    if (r == WEFT__RING_CLOSED_RC) return WEFT_ESHUTDOWN;
    /* Empty: final only if shut down with no put still publishing. */
    weft__mutex_lock(&q->m);
    int rc = q->shutdown && weft__ring_idle(q->ring) ? WEFT_ESHUTDOWN : -EAGAIN;
    weft__mutex_unlock(&q->m);
    return rc;
  }
  weft__mutex_lock(&q->m);
  int rc = 0;
  if (q->count) {
    *out = pop(q);
    weft__wl_wake_one(&q->putters, NULL, 0);
  } else {
    rc = q->shutdown ? WEFT_ESHUTDOWN : -EAGAIN;
  }
  weft__mutex_unlock(&q->m);
  return rc;
}

/* ---- sizes, task_done, join, shutdown ------------------------------------------------ */

size_t weft_queue_qsize(weft_queue_t *q) {
  if (!q) return 0;
  if (q->ring) return weft__ring_count(q->ring);
  weft__mutex_lock(&q->m);
  size_t n = q->count;
  weft__mutex_unlock(&q->m);
  return n;
}

int weft_queue_empty(weft_queue_t *q) { return weft_queue_qsize(q) == 0; }

int weft_queue_full(weft_queue_t *q) {
  if (!q) return 0;
  weft__mutex_lock(&q->m);
  int v = full(q);
  weft__mutex_unlock(&q->m);
  return v;
}

size_t weft_queue_maxsize(weft_queue_t *q) { return q ? q->maxsize : 0; }

int weft_queue_task_done(weft_queue_t *q) {
  if (!q) return -EINVAL;
  weft__mutex_lock(&q->m);
  int rc = unfinished(q) > 0 ? 0 : -EINVAL;
  if (!rc && (++q->done, unfinished(q) == 0)) weft__wl_wake_all(&q->joiners, 0);
  weft__mutex_unlock(&q->m);
  return rc;
}

int weft_queue_join(weft_queue_t *q, int64_t timeout_ns) {
  if (!q) return -EINVAL;
  int rc = weft__wl_can_wait(WEFT__WAIT_TASK);
  if (rc) return rc;
  uint64_t deadline = weft__deadline(timeout_ns);
  weft__mutex_lock(&q->m);
  while (unfinished(q)) {
    /* A cancellation pending as it begins ends it after a pass (waitlist.h). */
    int first = weft__wl_cancel_point_locked(&q->m, WEFT__WAIT_TASK);
    if (first < 0) {
      rc = first;
      break;
    }
    if (first == 0) continue; /* m was let go: look again */
    struct weft__waiter_node w;
    weft__task_blocked_named(weft__task_self(), WEFT__BLOCK_QUEUE_JOIN, q, 0,
                             weft__name_get(&q->name));
    /* Woken (0), it returns: asyncio's join waits once on an Event that the
     * task_done finishing the queue set, so a put made before the joiner
     * runs does not send it back to wait. */
    rc = weft__wl_wait(&q->m, &q->joiners, &w, WEFT__WAIT_TASK, deadline);
    break;
  }
  weft__mutex_unlock(&q->m);
  return rc;
}

int weft_queue_shutdown(weft_queue_t *q, int immediate) {
  if (!q) return -EINVAL;
  /* It closes the ring: settled first (home.h; the home worker's own
   * atomic operations need nothing). */
  if (q->ring) weft__home_prepare(&q->home, weft__worker_self_leaf(), WEFT__HOME_SETTLE);
  weft__mutex_lock(&q->m);
  q->shutdown = immediate ? 2 : (q->shutdown ? q->shutdown : 1);
  if (q->ring) weft__ring_close_puts(q->ring); /* no put lands after this */
  if (immediate) {
    /* The items left are dropped and count as done (asyncio 3.13). */
    uint64_t dropped = q->ring ? weft__ring_drop_all(q->ring) : q->count;
    uint64_t left = unfinished(q);
    q->done += dropped < left ? dropped : left;
    q->count = 0;
    q->head = 0;
    if (!unfinished(q)) weft__wl_wake_all(&q->joiners, 0);
  }
  weft__wl_wake_all(&q->getters, 0); /* they re-check: empty and shut down fails */
  weft__wl_wake_all(&q->putters, 0);
  sync_waiting(q);
  weft__mutex_unlock(&q->m);
  return 0;
}

struct weft__home *weft__queue_home(struct weft_queue *q) { return &q->home; }

int weft_queue_set_name(weft_queue_t *q, const char *name) {
  return q ? weft__name_set(&q->name, name) : -EINVAL;
}

const char *weft_queue_name(weft_queue_t *q) {
  return q ? weft__name_get(&q->name) : NULL;
}
