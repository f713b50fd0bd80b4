/*
 * pool.c - the thread pool (pool.h).
 *
 * Threads wait for work as waiters of the pool's idle waitlist
 * (sync/waitlist.h, the foreign-thread kind: a futex with the idle
 * deadline), after spinning spin_ns for it. Submitting queues the work
 * for a spinning thread if one is free to take it (awake: no wake-up at
 * all), else hands it straight to the longest-idle thread through the
 * waiter's value (one wake-up, no queue); without either the work is
 * queued FIFO and a thread is started if the pool is under its bound.
 * A thread looks at the queue before it waits again, and leaves when its
 * idle wait times out or the pool shuts down with the queue empty.
 * Shutdown and wait_threads wait on the exits waitlist, which every
 * leaving thread wakes; they may be tasks (suspended) or threads.
 *
 * Invariants (under m; pool_ok() checks them after every change):
 *  - idle.count threads are waiting, each unqueued and handed at most one
 *    work item; threads - idle.count are running work or about to look;
 *  - a queued item's state is QUEUED, and the queue's count is queued;
 *    while a thread is idle, no more items are queued than threads spin
 *    (submit queues for a spinner, else hands over to an idle thread, and
 *    a spinner that stops takes an item as it stops spinning);
 *  - refs = the owner's references + threads; the last drop frees.
 */
#include "pool.h"
#include "alloc.h"
#include "invariant.h"
#include "mutex.h"
#include "writesig.h"
#include "waitlist.h"
#include "weft.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

enum { WORK_QUEUED = 1, WORK_RUNNING = 2 };

struct weft__pool {
  struct weft__mutex m;
  struct weft__waitlist idle;   /* threads waiting for work */
  struct weft__waitlist exits;  /* shutdown / wait_threads waiters */
  struct weft__pool_work *head, *tail; /* queued work */
  size_t queued;
  unsigned threads, running, max, serial;
  unsigned spinning;            /* threads looking for work before they wait */
  _Atomic uint32_t pending;     /* queued, readable without m (spinners) */
  _Atomic bool stopping;        /* shutdown, readable without m (spinners) */
  int64_t spin_ns;
  int64_t idle_ns;
  bool shutdown;
  unsigned refs;
  char name[12];
};

WEFT__CHECKER bool pool_ok(const struct weft__pool *p) {
  if (p->idle.count > p->threads || p->running > p->threads || p->threads > p->max) return false;
  /* Work waits while nobody is idle, or for a spinner to take it. */
  if (p->idle.count && p->queued > p->spinning) return false;
  if ((p->head == NULL) != (p->queued == 0) || p->refs < p->threads) return false;
  size_t n = 0;
  for (const struct weft__pool_work *w = p->head; w && n < WEFT__CHECK_WALK; w = w->next, n++)
    if (w->state != WORK_QUEUED) return false;
  return n < WEFT__CHECK_WALK ? n == p->queued : p->queued >= n;
}

int weft__pool_new(const struct weft__pool_config *cfg, struct weft__pool **out) {
  if (!cfg || !out || cfg->max_threads == 0) return -EINVAL;
  struct weft__pool *p = weft__calloc(sizeof *p);
  if (!p) return -ENOMEM;
  weft__mutex_init(&p->m);
  weft__wl_init(&p->idle);
  weft__wl_init(&p->exits);
  p->max = cfg->max_threads;
  p->idle_ns = cfg->idle_ns;
  p->spin_ns = cfg->spin_ns;
  atomic_init(&p->pending, 0);
  atomic_init(&p->stopping, false);
  p->refs = 1;
  snprintf(p->name, sizeof p->name, "%s", cfg->name ? cfg->name : "weft-pool");
  *out = p;
  return 0;
}

void weft__pool_ref(struct weft__pool *p) {
  weft__mutex_lock(&p->m);
  p->refs++;
  weft__mutex_unlock(&p->m);
}

/* Drops a reference under m; unlocks; frees if it was the last. */
static void put_unlock(struct weft__pool *p) {
  bool last = --p->refs == 0;
  weft__mutex_unlock(&p->m);
  if (last) weft__free(p, sizeof *p);
}

void weft__pool_release(struct weft__pool *p) {
  if (!p) return;
  weft__mutex_lock(&p->m);
  put_unlock(p);
}

static void set_queued_locked(struct weft__pool *p, size_t n) {
  p->queued = n;
  /* relaxed: a hint for spinners, who take the lock before acting on it. */
  atomic_store_explicit(&p->pending, n > UINT32_MAX ? UINT32_MAX : (uint32_t)n, memory_order_relaxed);
}

static struct weft__pool_work *pop_locked(struct weft__pool *p) {
  struct weft__pool_work *w = p->head;
  if (!w) return NULL;
  p->head = w->next;
  if (!p->head) p->tail = NULL;
  set_queued_locked(p, p->queued - 1);
  return w;
}

/* Called with m held and the queue empty: spins (m dropped) up to spin_ns
 * for work to be queued, as Go's spinning threads do, so that a caller
 * awaiting one call after another is not paying a sleep and a wake-up per
 * call. Returns with m held; the caller looks at the queue again. */
static void spin_locked(struct weft__pool *p) {
  p->spinning++;
  weft__mutex_unlock(&p->m);
  uint64_t until = weft__deadline(p->spin_ns);
  /* relaxed: a hint; the queue itself is read under m afterwards. */
  for (unsigned i = 1; !atomic_load_explicit(&p->pending, memory_order_relaxed) &&
                      !atomic_load_explicit(&p->stopping, memory_order_relaxed);
       i++) {
    weft__cpu_relax();
    if (i % 64 == 0) {
      if (weft__clock_ns() >= until) break;
      /* A thread we just woke (the awaiting worker) is often queued on this
       * very CPU (the scheduler's wake-affine placement): let it run
       * rather than spin in its way. */
      sched_yield();
    }
  }
  weft__mutex_lock(&p->m);
  p->spinning--;
}

/* The pool this thread serves (NULL elsewhere), and whether its current
 * work said it is finishing (weft__pool_finishing). */
static __thread struct weft__pool *tls_pool;
static __thread bool tls_finishing;

void weft__pool_finishing(void) {
  struct weft__pool *p = tls_pool;
  if (!p || tls_finishing || p->spin_ns <= 0) return;
  weft__mutex_lock(&p->m);
  p->spinning++; /* back for work in a moment: count as looking already */
  weft__mutex_unlock(&p->m);
  tls_finishing = true;
}

static void *pool_thread(void *arg) {
  struct weft__pool *p = arg;
  tls_pool = p;
  /* As a worker's (writesig.h): a function here that writes to a broken
   * pipe or past the file size limit gets EPIPE or EFBIG, as asyncio's
   * executor functions do. The mask dies with the thread. */
  (void)weft__writesig_block();
  char name[16];
  weft__mutex_lock(&p->m);
  snprintf(name, sizeof name, "%s-%u", p->name, p->serial++);
  pthread_setname_np(pthread_self(), name); /* a prctl on ourselves: fine under m */
  for (;;) {
    struct weft__pool_work *w = pop_locked(p);
    /* One spinner at a time: it takes the next submission awake, and more
     * only contend for the CPUs the workers (and the spinner) need: seen
     * as two pool threads spinning beside the worker that spun for the
     * call, on two vCPUs (executor_roundtrip, benchmarks/RESULTS.md
     * 2026-12-03 14:00Z; level in time there, 5% less CPU). */
    if (!w && !p->shutdown && p->spin_ns > 0 && p->spinning == 0) {
      spin_locked(p);
      w = pop_locked(p);
    }
    if (!w) {
      if (p->shutdown) break;
      struct weft__waiter_node n;
      int64_t idle = p->idle_ns;
      int rc = weft__wl_wait(&p->m, &p->idle, &n, WEFT__WAIT_ANY, weft__deadline(idle));
      WEFT__INVARIANT(pool_ok(p));
      w = rc == 0 ? n.value : NULL; /* NULL: a shutdown's wake-up */
      if (!w && rc == -ETIMEDOUT) break; /* idle long enough: leave */
      if (!w) continue;
    }
    w->state = WORK_RUNNING;
    p->running++;
    WEFT__INVARIANT(pool_ok(p));
    weft__mutex_unlock(&p->m);
    w->run(w); /* may free w */
    weft__mutex_lock(&p->m);
    if (tls_finishing) { /* counted as spinning since: no longer (it pops next) */
      p->spinning--;
      tls_finishing = false;
    }
    p->running--;
  }
  p->threads--;
  weft__wl_wake_all(&p->exits, 0); /* they re-check the count */
  WEFT__INVARIANT(pool_ok(p));
  put_unlock(p);
  return NULL;
}

/* Under m: starts one more thread; false if it could not. */
static bool start_thread_locked(struct weft__pool *p) {
  /* A new thread that cannot get allocator memory would crash in it (alloc.h). */
  if (weft__alloc_thread_ready() != 0) return false;
  pthread_t th;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  bool ok = pthread_create(&th, &attr, pool_thread, p) == 0;
  pthread_attr_destroy(&attr);
  if (ok) {
    p->threads++;
    p->refs++; /* the thread's */
  }
  return ok;
}

static void enqueue_locked(struct weft__pool *p, struct weft__pool_work *w) {
  w->state = WORK_QUEUED;
  if (p->tail) p->tail->next = w;
  else p->head = w;
  p->tail = w;
  set_queued_locked(p, p->queued + 1);
}

int weft__pool_submit(struct weft__pool *p, struct weft__pool_work *w) {
  w->next = NULL;
  weft__mutex_lock(&p->m);
  if (p->shutdown) {
    weft__mutex_unlock(&p->m);
    return WEFT_ESHUTDOWN;
  }
  /* A thread spinning for work takes it from the queue, awake: waking a
   * sleeping one instead cost a futex wake-up and two context switches a
   * call once the pool had grown past one thread (executor_roundtrip with
   * two workers, benchmarks/RESULTS.md, issue 13). */
  if (p->spinning > p->queued) {
    enqueue_locked(p, w);
    WEFT__INVARIANT(pool_ok(p));
    weft__mutex_unlock(&p->m);
    return 0;
  }
  if (p->idle.count) { /* straight to the longest-idle thread */
    w->state = WORK_RUNNING;
    weft__wl_wake_one(&p->idle, w, 0);
    WEFT__INVARIANT(pool_ok(p));
    weft__mutex_unlock(&p->m);
    return 0;
  }
  /* A spinning thread will take it; otherwise one more thread if allowed. */
  if (p->spinning <= p->queued && p->threads < p->max) start_thread_locked(p);
  if (!p->threads) {
    weft__mutex_unlock(&p->m);
    return -EAGAIN;
  }
  enqueue_locked(p, w);
  WEFT__INVARIANT(pool_ok(p));
  weft__mutex_unlock(&p->m);
  return 0;
}

bool weft__pool_unqueue(struct weft__pool *p, struct weft__pool_work *w) {
  weft__mutex_lock(&p->m);
  bool queued = w->state == WORK_QUEUED;
  if (queued) {
    struct weft__pool_work **pp = &p->head, *prev = NULL;
    while (*pp != w) {
      prev = *pp;
      pp = &(*pp)->next;
    }
    *pp = w->next;
    if (p->tail == w) p->tail = prev;
    set_queued_locked(p, p->queued - 1);
    w->state = 0;
  }
  WEFT__INVARIANT(pool_ok(p));
  weft__mutex_unlock(&p->m);
  return queued;
}

static int wait_threads_locked(struct weft__pool *p, unsigned n, uint64_t deadline) {
  int rc = 0;
  while (p->threads > n && rc == 0) {
    struct weft__waiter_node w;
    rc = weft__wl_wait(&p->m, &p->exits, &w, WEFT__WAIT_ANY, deadline);
  }
  return p->threads > n ? rc : 0;
}

int weft__pool_wait_threads(struct weft__pool *p, unsigned n, uint64_t deadline) {
  int rc = weft__wl_can_wait(WEFT__WAIT_ANY);
  if (rc) return rc;
  weft__mutex_lock(&p->m);
  rc = wait_threads_locked(p, n, deadline);
  weft__mutex_unlock(&p->m);
  return rc;
}

static void stop_locked(struct weft__pool *p) {
  p->shutdown = true;
  atomic_store_explicit(&p->stopping, true, memory_order_relaxed); /* a hint, as pending */
  weft__wl_wake_all(&p->idle, 0); /* idle threads see the flag and leave */
  WEFT__INVARIANT(pool_ok(p));
}

void weft__pool_stop(struct weft__pool *p) {
  weft__mutex_lock(&p->m);
  stop_locked(p);
  weft__mutex_unlock(&p->m);
}

int weft__pool_shutdown(struct weft__pool *p, uint64_t deadline) {
  int rc = weft__wl_can_wait(WEFT__WAIT_ANY);
  weft__mutex_lock(&p->m);
  stop_locked(p);
  if (rc == 0) rc = wait_threads_locked(p, 0, deadline);
  else if (!p->threads) rc = 0; /* nothing to wait for: no need to be able to */
  weft__mutex_unlock(&p->m);
  return rc;
}

void weft__pool_stats(struct weft__pool *p, struct weft__pool_stats *out) {
  weft__mutex_lock(&p->m);
  out->threads = p->threads;
  out->idle = (unsigned)p->idle.count;
  out->running = p->running;
  out->queued = p->queued;
  weft__mutex_unlock(&p->m);
}

void weft__pool_fork_prepare(struct weft__pool *p) { weft__mutex_lock(&p->m); }

void weft__pool_fork_parent(struct weft__pool *p) { weft__mutex_unlock(&p->m); }

void weft__pool_fork_child(struct weft__pool *p) {
  /* Only this thread exists: the pool starts from nothing (its owner's
   * references stay; the threads' went with them). */
  p->refs -= p->threads;
  p->threads = p->running = 0;
  p->head = p->tail = NULL;
  set_queued_locked(p, 0);
  p->spinning = 0;
  weft__wl_init(&p->idle);
  weft__wl_init(&p->exits);
  weft__mutex_init(&p->m); /* held by fork_prepare in the parent's thread, which we are */
}
