/*
 * bench_sync.c - the sync/ workloads of weft-bench (benchmarks/README.md):
 * lock_contended, lock_contended_fifo, lock_contended_barging, queue_mpmc,
 * semaphore_limit, semaphore_uncontended, ping_pong_queue, lock_handoff, event_broadcast.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <weft.h>

#include "bench.h"

/* ---- lock_contended: 8 tasks increment a shared counter under the Lock ----
 * (the default Lock, WEFT_LOCK_AUTO: FIFO with one worker, barging with
 * several). lock_contended_fifo: the same with a WEFT_LOCK_FIFO lock, the
 * hand-off per acquisition that asyncio's order asks for on any loop.
 * lock_handoff: the same with the first locker holding the lock across a
 * yield: the other 7 queue, and from then on every release hands the lock
 * to the oldest waiter and the releaser's next acquire queues behind the
 * rest (asyncio's FIFO), so each increment is one hand-off and one task
 * switch, a convoy on purpose. Deterministic with one worker, where
 * lock_contended never meets a waiter. lock_contended_barging: the same
 * as lock_contended with a WEFT_LOCK_BARGING lock (Go's Mutex rule: a
 * release wakes a waiter to try, and whoever acquires first takes it). */

enum { LOCKERS = 8, INCREMENTS = 100000 };
static weft_lock_t *lock;
static long counter;

static int locker(void *arg, void **res) {
  for (int i = 0; i < INCREMENTS; i++) {
    int rc = weft_lock_acquire(lock, -1);
    if (rc) return rc;
    if (i == 0 && arg) weft_yield(); /* lock_handoff: the others queue behind us */
    counter++;
    weft_lock_release(lock);
  }
  return 0;
}

static int run_lockers(const char *name, bool convoy, enum weft_lock_policy policy) {
  weft_lock_create_policy(&lock, policy);
  counter = 0;
  weft_task_t *ts[LOCKERS];
  double t0 = now_s();
  for (int i = 0; i < LOCKERS; i++) weft_spawn(locker, convoy && i == 0 ? (void *)1 : NULL, &ts[i]);
  await_all(ts, LOCKERS);
  double dt = now_s() - t0;
  weft_lock_destroy(lock);
  if (counter != (long)LOCKERS * INCREMENTS) return -EFAULT;
  report(name, (long)LOCKERS * INCREMENTS, dt, NULL);
  return 0;
}

int bench_lock_contended(void *arg, void **res) {
  return run_lockers("lock_contended", false, WEFT_LOCK_AUTO); /* weft_lock_create's */
}

int bench_lock_contended_fifo(void *arg, void **res) {
  return run_lockers("lock_contended_fifo", false, WEFT_LOCK_FIFO);
}

int bench_lock_contended_barging(void *arg, void **res) {
  return run_lockers("lock_contended_barging", false, WEFT_LOCK_BARGING);
}

int bench_lock_handoff(void *arg, void **res) { return run_lockers("lock_handoff", true, WEFT_LOCK_FIFO); }

/* ---- queue_mpmc: 4 producers, 4 consumers, 1M items, bounded at 128 ------- */

enum { PRODUCERS = 4, CONSUMERS = 4, ITEMS = 1000000 };
static weft_queue_t *queue;

static int producer(void *arg, void **res) {
  for (long i = 1; i <= ITEMS / PRODUCERS; i++) {
    int rc = weft_queue_put(queue, (void *)i, -1);
    if (rc) return rc;
  }
  return 0;
}

static int consumer(void *arg, void **res) {
  long n = 0;
  for (;;) {
    void *v;
    int rc = weft_queue_get(queue, &v, -1);
    if (rc == WEFT_ESHUTDOWN) break;
    if (rc) return rc;
    n++;
  }
  *res = (void *)n;
  return 0;
}

int bench_queue_mpmc(void *arg, void **res) {
  weft_queue_create(WEFT_QUEUE_FIFO, 128, NULL, &queue);
  weft_task_t *p[PRODUCERS], *c[CONSUMERS];
  double t0 = now_s();
  for (int i = 0; i < CONSUMERS; i++) weft_spawn(consumer, NULL, &c[i]);
  for (int i = 0; i < PRODUCERS; i++) weft_spawn(producer, NULL, &p[i]);
  for (int i = 0; i < PRODUCERS; i++) {
    weft_await(weft_task_future(p[i]), NULL);
    weft_task_release(p[i]);
  }
  weft_queue_shutdown(queue, 0); /* consumers drain what is left, then stop */
  long got = 0;
  for (int i = 0; i < CONSUMERS; i++) {
    void *n;
    weft_await(weft_task_future(c[i]), &n);
    got += (long)n;
    weft_task_release(c[i]);
  }
  double dt = now_s() - t0;
  weft_queue_destroy(queue);
  if (got != ITEMS) return -EFAULT;
  report("queue_mpmc", ITEMS, dt, NULL);
  return 0;
}

/* ---- ping_pong_queue: ping_pong with a Queue(maxsize 1) per direction ----- */

enum { PAIRS = 1000, ROUNDS = 1000 };
struct qpair {
  weft_queue_t *ab, *ba;
};

static int qping(void *arg, void **res) {
  struct qpair *p = arg;
  for (long r = 0; r < ROUNDS; r++) {
    void *v;
    if (weft_queue_put(p->ab, (void *)(r + 1), -1) || weft_queue_get(p->ba, &v, -1)) return -EIO;
  }
  return 0;
}

static int qpong(void *arg, void **res) {
  struct qpair *p = arg;
  for (long r = 0; r < ROUNDS; r++) {
    void *v;
    if (weft_queue_get(p->ab, &v, -1) || weft_queue_put(p->ba, v, -1)) return -EIO;
  }
  return 0;
}

int bench_ping_pong_queue(void *arg, void **res) {
  static struct qpair pairs[PAIRS];
  weft_task_t **ts = malloc(sizeof *ts * 2 * PAIRS);
  double t0 = now_s();
  for (int i = 0; i < PAIRS; i++) {
    weft_queue_create(WEFT_QUEUE_FIFO, 1, NULL, &pairs[i].ab);
    weft_queue_create(WEFT_QUEUE_FIFO, 1, NULL, &pairs[i].ba);
    weft_spawn(qpong, &pairs[i], &ts[2 * i]);
    weft_spawn(qping, &pairs[i], &ts[2 * i + 1]);
  }
  await_all(ts, 2 * PAIRS);
  double dt = now_s() - t0;
  for (int i = 0; i < PAIRS; i++) {
    weft_queue_destroy(pairs[i].ab);
    weft_queue_destroy(pairs[i].ba);
  }
  free(ts);
  report("ping_pong_queue", (long)PAIRS * ROUNDS * 2, dt, NULL);
  return 0;
}

/* ---- semaphore_limit: 10,000 tasks through a semaphore of 100 -------------- */

enum { SEM_TASKS = 10000, PERMITS = 100 };
static weft_sem_t *sem;

static int limited(void *arg, void **res) {
  int rc = weft_sem_acquire(sem, -1);
  if (rc) return rc;
  weft_yield(); /* hold the permit across a suspension, as real work would */
  return weft_sem_release(sem);
}

/* @arg non-NULL: semaphore_limit_warm (the stacks and task memory of
 * SEM_TASKS tasks suspended at once and ended first, weft_bench.c's
 * warm-up: a long-running program's burst, which takes resident stacks
 * instead of fresh pages). */
int bench_semaphore_limit(void *arg, void **res) {
  if (arg) warm_up(SEM_TASKS);
  weft_sem_create(PERMITS, 0, &sem);
  weft_task_t **ts = malloc(sizeof *ts * SEM_TASKS);
  double t0 = now_s();
  for (int i = 0; i < SEM_TASKS; i++) weft_spawn(limited, NULL, &ts[i]);
  await_all(ts, SEM_TASKS);
  double dt = now_s() - t0;
  free(ts);
  weft_sem_destroy(sem);
  report(arg ? "semaphore_limit_warm" : "semaphore_limit", SEM_TASKS, dt, NULL);
  return 0;
}

int bench_semaphore_limit_warm(void *arg, void **res) { return bench_semaphore_limit((void *)1, res); }

/* ---- semaphore_uncontended: 8 tasks take and give back a permit of a
 * semaphore of 8, 100,000 times each: the path a server's concurrency limit
 * takes while it is under its limit. -------------------------------------- */

enum { SEM_HOLDERS = 8, SEM_ROUNDS = 100000 };
static weft_sem_t *wide;

static int holder(void *arg, void **res) {
  long rounds = 0;
  for (int i = 0; i < SEM_ROUNDS; i++) {
    int rc = weft_sem_acquire(wide, -1);
    if (rc) return rc;
    rounds++;
    if ((rc = weft_sem_release(wide))) return rc;
  }
  *res = (void *)rounds;
  return 0;
}

int bench_semaphore_uncontended(void *arg, void **res) {
  weft_sem_create(SEM_HOLDERS, 0, &wide);
  weft_task_t *ts[SEM_HOLDERS];
  double t0 = now_s();
  for (int i = 0; i < SEM_HOLDERS; i++) weft_spawn(holder, NULL, &ts[i]);
  long total = 0;
  int failed = 0;
  for (int i = 0; i < SEM_HOLDERS; i++) {
    void *n = NULL;
    failed |= weft_await(weft_task_future(ts[i]), &n) != 0;
    total += (long)n;
    weft_task_release(ts[i]);
  }
  double dt = now_s() - t0;
  weft_sem_destroy(wide);
  if (failed || total != (long)SEM_HOLDERS * SEM_ROUNDS) return -EFAULT;
  report("semaphore_uncontended", (long)SEM_HOLDERS * SEM_ROUNDS, dt, NULL);
  return 0;
}

/* ---- event_broadcast: 1,000 new tasks wait on an Event, one set wakes
 * them all, they end; 100 rounds. A bursty load: each round's tasks take
 * stacks the last round's gave back (idle trimming's decay, stack.h). --- */

enum { BCAST_WAITERS = 1000, BCAST_ROUNDS = 100 };
static weft_event_t *bcast;

static int bcast_waiter(void *arg, void **res) { return weft_event_wait(bcast, -1); }

int bench_event_broadcast(void *arg, void **res) {
  weft_event_create(&bcast);
  weft_task_t **ts = malloc(sizeof *ts * BCAST_WAITERS);
  int failed = 0;
  double t0 = now_s();
  for (int r = 0; r < BCAST_ROUNDS; r++) {
    for (int i = 0; i < BCAST_WAITERS; i++) weft_spawn(bcast_waiter, NULL, &ts[i]);
    weft_yield(); /* they start and wait */
    weft_event_set(bcast);
    for (int i = 0; i < BCAST_WAITERS; i++) {
      failed |= weft_await(weft_task_future(ts[i]), NULL) != 0;
      weft_task_release(ts[i]);
    }
    weft_event_clear(bcast);
  }
  double dt = now_s() - t0;
  free(ts);
  weft_event_destroy(bcast);
  if (failed) return -EFAULT;
  report("event_broadcast", (long)BCAST_WAITERS * BCAST_ROUNDS, dt, NULL);
  return 0;
}
