/* test_sem.c - sync/sem.c: permits, bounded overflow, try/locked/value,
 * FIFO hand-off with cancellation, asyncio's one-worker rules (a cancelled
 * waiter skipped, newcomers behind a granted one), 10,000 tasks through 100 permits, the
 * word's limit, and the lock-free fast paths racing waiters and threads. */
#include "helpers.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>

static weft_sem_t *sem;
static char order[16];
static int norder;

static int taker(void *arg, void **res) {
  int rc = weft_sem_acquire(sem, -1);
  if (rc) return rc;
  order[norder++] = *(const char *)arg;
  return 0;
}

static int sem_main(void *arg, void **res) {
  ck_assert_int_eq(weft_sem_acquire(sem, -1), 0);
  ck_assert_int_eq(weft_sem_acquire(sem, -1), 0);
  ck_assert_int_eq(weft_sem_locked(sem), 1);
  ck_assert_int_eq(weft_sem_try_acquire(sem), -EAGAIN);
  ck_assert_int_eq(weft_sem_acquire(sem, 1000000), -ETIMEDOUT);
  weft_task_t *a, *b;
  weft_spawn(taker, "a", &a);
  weft_spawn(taker, "b", &b);
  weft_yield();
  ck_assert_int_eq(weft_sem_release(sem), 0); /* handed to a ... */
  weft_task_cancel(a, NULL);                   /* ... cancelled: passes to b */
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), -ECANCELED);
  ck_assert_int_eq(weft_await(weft_task_future(b), NULL), 0);
  ck_assert_int_eq(weft_sem_value(sem), 0);
  ck_assert_int_eq(weft_sem_release(sem), 0); /* b's permit */
  ck_assert_int_eq(weft_sem_release(sem), 0); /* one of ours */
  ck_assert_int_eq(weft_sem_release(sem), -EOVERFLOW); /* bounded at 2 */
  ck_assert_int_eq(weft_sem_value(sem), 2);
  weft_task_release(a);
  weft_task_release(b);
  return 0;
}

START_TEST(bounded_fifo_cancel) {
  norder = 0;
  ck_assert_int_eq(weft_sem_create(-1, 0, &sem), -EINVAL);
  ck_assert_int_eq(weft_sem_create(2, 1, &sem), 0);
  ck_assert_int_eq(weft_sem_acquire(sem, -1), -EPERM);
  ck_assert_int_eq(run_main(1, sem_main, NULL, NULL), 0);
  order[norder] = 0;
  ck_assert_str_eq(order, "b");
  ck_assert_int_eq(weft_sem_destroy(sem), 0);
  /* An unbounded semaphore may go past its initial value. */
  ck_assert_int_eq(weft_sem_create(0, 0, &sem), 0);
  ck_assert_int_eq(weft_sem_release(sem), 0);
  ck_assert_int_eq(weft_sem_value(sem), 1);
  ck_assert_int_eq(weft_sem_try_acquire(sem), 0);
  ck_assert_int_eq(weft_sem_destroy(sem), 0);
}
END_TEST

static _Atomic int inside, max_inside;

static int limited(void *arg, void **res) {
  int rc = weft_sem_acquire(sem, -1);
  if (rc) return rc;
  int now = atomic_fetch_add(&inside, 1) + 1;
  int m = atomic_load(&max_inside);
  while (now > m && !atomic_compare_exchange_weak(&max_inside, &m, now)) {
  }
  weft_yield();
  atomic_fetch_sub(&inside, 1);
  return weft_sem_release(sem);
}

static int limit_main(void *arg, void **res) {
  long n = scaled(10000);
  weft_task_t **ts = calloc((size_t)n, sizeof *ts);
  for (long i = 0; i < n; i++) weft_spawn(limited, NULL, &ts[i]);
  for (long i = 0; i < n; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  free(ts);
  return 0;
}

START_TEST(never_more_than_the_permits) {
  ck_assert_int_eq(weft_sem_create(100, 1, &sem), 0);
  ck_assert_int_eq(run_main(4, limit_main, NULL, NULL), 0);
  ck_assert_int_le(atomic_load(&max_inside), 100);
  ck_assert_int_gt(atomic_load(&max_inside), 1);
  ck_assert_int_eq(weft_sem_value(sem), 100);
  ck_assert_int_eq(weft_sem_destroy(sem), 0);
}
END_TEST

/* Cancellation storm: workers hammer a Lock (FIFO, then barging: the loop
 * test's index is its policy) and a Semaphore while a killer cancels them
 * at random. A cancelled worker withdraws its request (uncancel), tells
 * the killer, and carries on. Whatever races with the hand-offs, the
 * counters balance and nothing is left held: no hand-off lost or doubled.
 * The killer makes its next request only once the last one was delivered,
 * and the workers go on until it is done: every request it made lands on
 * a running worker and is delivered once, at an acquire or a yield, however
 * the threads are scheduled (a storm of fixed length on a loaded machine
 * once ended before the killer's first request, 2026-12-08). */
enum { STORM_WORKERS = 8 };
static weft_lock_t *storm_lock;
static long storm_counter;
static _Atomic long storm_ok, storm_cancelled, storm_at_acquire, permits_out, permits_over;
static _Atomic int storm_done;
static weft_barrier_t *all_running; /* the workers + the killer */
static weft_queue_t *delivered;    /* a worker's index, each time a request reached it */

/* A request reached worker @me: withdrawn, counted, told. */
static void storm_delivered(long me, bool at_acquire) {
  ck_assert_int_eq(weft_task_uncancel(weft_task_current()), 0);
  atomic_fetch_add(&storm_cancelled, 1);
  if (at_acquire) atomic_fetch_add(&storm_at_acquire, 1);
  ck_assert_int_eq(weft_queue_put(delivered, (void *)me, -1), 0); /* unbounded: never waits */
}

static int storm_worker(void *arg, void **res) {
  long me = (long)(intptr_t)arg;
  long n = scaled(150000); /* 8 workers: 1.2 million acquisitions */
  int idx = weft_barrier_wait(all_running, -1); /* the killer starts after this */
  if (idx == -ECANCELED) /* released, then cancelled before we resumed: carry on */
    storm_delivered(me, false);
  else if (idx < 0)
    return idx;
  for (long i = 0; i < n || !atomic_load(&storm_done); i++) {
    int rc = i % 2 ? weft_lock_acquire(storm_lock, -1) : weft_sem_acquire(sem, (i % 7) ? -1 : 1000);
    if (rc == -ECANCELED) {
      storm_delivered(me, true);
      continue;
    }
    if (rc == -ETIMEDOUT) continue;
    if (rc) return rc;
    if (i % 2) {
      storm_counter++; /* under the lock */
      if (i % 3 == 0 && weft_yield() == -ECANCELED) storm_delivered(me, false);
      weft_lock_release(storm_lock);
    } else {
      if (atomic_fetch_add(&permits_out, 1) + 1 > 3) atomic_fetch_add(&permits_over, 1);
      if (i % 3 == 0 && weft_yield() == -ECANCELED) storm_delivered(me, false);
      atomic_fetch_sub(&permits_out, 1);
      weft_sem_release(sem);
    }
    atomic_fetch_add(&storm_ok, 1);
  }
  return 0;
}

static int killer(void *arg, void **res) {
  weft_task_t **victims = arg;
  unsigned x = 12345;
  int idx = weft_barrier_wait(all_running, -1);
  if (idx < 0) return idx;
  for (long k = scaled(2000); k > 0; k--) {
    x = x * 1103515245 + 12345;
    long v = (x >> 8) % STORM_WORKERS;
    ck_assert_int_eq(weft_task_cancel(victims[v], NULL), 1); /* it runs until we are done */
    void *who = NULL;
    /* -ETIMEDOUT: a request accepted and never delivered (lost). */
    ck_assert_int_eq(weft_queue_get(delivered, &who, 30 * 1000000000LL), 0);
    ck_assert_int_eq((long)(intptr_t)who, v);
  }
  atomic_store(&storm_done, 1);
  return 0;
}

static int storm_main(void *arg, void **res) {
  weft_task_t *ts[STORM_WORKERS], *k;
  for (long i = 0; i < STORM_WORKERS; i++) weft_spawn(storm_worker, (void *)(intptr_t)i, &ts[i]);
  weft_spawn(killer, ts, &k);
  ck_assert_int_eq(weft_await(weft_task_future(k), NULL), 0);
  for (int i = 0; i < STORM_WORKERS; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0); /* every request withdrawn */
    weft_task_release(ts[i]);
  }
  weft_task_release(k);
  return 0;
}

START_TEST(cancellation_storm_loses_no_hand_off) {
  ck_assert_int_eq(weft_lock_create_policy(&storm_lock, (enum weft_lock_policy)_i), 0);
  storm_counter = 0;
  atomic_store(&storm_ok, 0);
  atomic_store(&storm_cancelled, 0);
  atomic_store(&storm_at_acquire, 0);
  atomic_store(&permits_out, 0);
  atomic_store(&permits_over, 0);
  atomic_store(&storm_done, 0);
  ck_assert_int_eq(weft_sem_create(3, 1, &sem), 0);
  ck_assert_int_eq(weft_barrier_create(STORM_WORKERS + 1, &all_running), 0);
  ck_assert_int_eq(weft_queue_create(WEFT_QUEUE_FIFO, 0, NULL, &delivered), 0);
  ck_assert_int_eq(run_main(4, storm_main, NULL, NULL), 0);
  ck_assert_int_eq(weft_barrier_destroy(all_running), 0);
  ck_assert_int_eq(weft_queue_destroy(delivered), 0);
  ck_assert_int_eq(weft_lock_locked(storm_lock), 0);
  ck_assert_int_eq(weft_sem_value(sem), 3);
  ck_assert_int_eq(atomic_load(&permits_over), 0);
  ck_assert_int_eq(atomic_load(&storm_cancelled), scaled(2000)); /* each delivered once */
  fprintf(stderr, "cancellation storm (policy %d): %ld requests, %ld at an acquire\n", _i,
          atomic_load(&storm_cancelled), atomic_load(&storm_at_acquire));
  long lock_ok = storm_counter;
  ck_assert_int_le(lock_ok, atomic_load(&storm_ok));
  ck_assert_int_eq(weft_lock_destroy(storm_lock), 0);
  ck_assert_int_eq(weft_sem_destroy(sem), 0);
}
END_TEST

/* ---- a granted permit cannot be overtaken (asyncio 3.13's fairness fix) -------- */

static int in_flight_main(void *arg, void **res) {
  weft_sem_t *s;
  ck_assert_int_eq(weft_sem_create(1, 0, &s), 0);
  sem = s;
  norder = 0;
  ck_assert_int_eq(weft_sem_acquire(s, -1), 0);
  weft_task_t *a;
  ck_assert_int_eq(weft_spawn(taker, "a", &a), 0);
  weft_yield(); /* a waits (on one worker; on four, it may still be on its way) */
  bool waiting = weft_sem_locked(s) && weft_sem_value(s) == 0;
  ck_assert(waiting);
  ck_assert_int_eq(weft_sem_release(s), 0);
  /* If a was queued, the permit is a's now, although a has not run yet:
   * the semaphore stays locked and a newcomer cannot take it. */
  if (weft_sem_value(s) == 0) {
    ck_assert_int_eq(weft_sem_locked(s), 1);
    ck_assert_int_eq(weft_sem_try_acquire(s), -EAGAIN);
  }
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), 0);
  ck_assert_int_eq(norder, 1);
  weft_task_release(a);
  ck_assert_int_eq(weft_sem_release(s), 0); /* a's permit */
  ck_assert_int_eq(weft_sem_value(s), 1);
  ck_assert_int_eq(weft_sem_destroy(s), 0);
  return 0;
}

START_TEST(a_granted_permit_is_not_overtaken) {
  ck_assert_int_eq(run_main(1, in_flight_main, NULL, NULL), 0);
  for (int i = 0; i < 50; i++) ck_assert_int_eq(run_main(4, in_flight_main, NULL, NULL), 0);
}
END_TEST

/* asyncio's rules on one worker (CPython 3.13's Semaphore): a release
 * skips a waiter cancelled while queued and wakes the next in the same
 * call; a newcomer queues while a granted waiter has not run yet, even
 * with permits free; and that waiter, when it runs, hands on every permit
 * given back meanwhile, not just one. */
static int skip_main(void *arg, void **res) {
  ck_assert_int_eq(weft_sem_acquire(sem, -1), 0);
  weft_task_t *a, *b;
  /* Both queue; a is cancelled, delivered to its wait already:
   * withdrawing it (arg) does not undo it. */
  two_waiters_first_cancelled(taker, arg != NULL, &a, &b);
  ck_assert_int_eq(weft_sem_release(sem), 0); /* to b: a is skipped */
  order[norder++] = 'x';
  weft_yield(); /* a ends, b runs */
  order[norder++] = 'y';
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), -ECANCELED);
  ck_assert_int_eq(weft_await(weft_task_future(b), NULL), 0);
  weft_task_release(a);
  weft_task_release(b);
  return weft_sem_release(sem); /* b's */
}

static int hand_on_main(void *arg, void **res) {
  weft_task_t *w, *n1, *n2;
  weft_spawn(taker, "w", &w);
  weft_yield(); /* w queues */
  weft_spawn(taker, "a", &n1);
  weft_spawn(taker, "b", &n2);
  for (int i = 0; i < 3; i++) ck_assert_int_eq(weft_sem_release(sem), 0); /* w's, and two more */
  ck_assert_int_eq(weft_sem_value(sem), 2);
  ck_assert_int_eq(weft_sem_locked(sem), 1); /* w has not run: newcomers queue */
  for (int i = 1; i <= 3; i++) {
    weft_yield(); /* 1: a and b queue, w runs and hands both permits on; 2: a and b run */
    order[norder++] = (char)('0' + i);
  }
  weft_task_t *ts[3] = {w, n1, n2};
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  return 0;
}

START_TEST(one_worker_keeps_asyncio_rules) {
  for (int uncancel = 0; uncancel < 2; uncancel++) {
    ck_assert_int_eq(weft_sem_create(1, 0, &sem), 0);
    norder = 0;
    ck_assert_int_eq(run_main(1, skip_main, uncancel ? (void *)1 : NULL, NULL), 0);
    ck_assert_int_eq(weft_sem_destroy(sem), 0);
    ck_assert_int_eq(norder, 3);
    ck_assert_int_eq(memcmp(order, "xby", 3), 0);
  }

  ck_assert_int_eq(weft_sem_create(0, 0, &sem), 0);
  norder = 0;
  ck_assert_int_eq(run_main(1, hand_on_main, NULL, NULL), 0);
  ck_assert_int_eq(weft_sem_destroy(sem), 0);
  ck_assert_int_eq(norder, 6);
  ck_assert_int_eq(memcmp(order, "w1ab23", 6), 0); /* 3.11 woke one: w1a2b3 */
}
END_TEST

/* The permit count lives in 63 bits of a word: the most a semaphore holds
 * is 2^62 - 1, refused past it rather than wrapped. */
START_TEST(the_permit_count_has_a_limit) {
  const int64_t max = INT64_MAX >> 1;
  ck_assert_int_eq(weft_sem_create(max + 1, 0, &sem), -EINVAL);
  ck_assert_int_eq(weft_sem_create(INT64_MAX, 0, &sem), -EINVAL);
  ck_assert_int_eq(weft_sem_create(max - 1, 0, &sem), 0);
  ck_assert_int_eq(weft_sem_release(sem), 0);
  ck_assert_int_eq(weft_sem_value(sem), max);
  ck_assert_int_eq(weft_sem_release(sem), -EOVERFLOW);
  ck_assert_int_eq(weft_sem_value(sem), max);
  ck_assert_int_eq(weft_sem_try_acquire(sem), 0);
  ck_assert_int_eq(weft_sem_value(sem), max - 1);
  ck_assert_int_eq(weft_sem_locked(sem), 0);
  ck_assert_int_eq(weft_sem_release(NULL), -EINVAL);
  ck_assert_int_eq(weft_sem_try_acquire(NULL), -EINVAL);
  ck_assert_int_eq(weft_sem_destroy(sem), 0);
}
END_TEST

/* The fast paths (a CAS on the word) from foreign threads (try_acquire and
 * release may be called from any thread) racing tasks on 4 workers that
 * take the slow path whenever the permits run out: never more holders
 * than permits, and every permit back at the end. */
enum { RACE_PERMITS = 3 };
static _Atomic long race_inside, race_over;

static void race_enter(void) {
  if (atomic_fetch_add(&race_inside, 1) + 1 > RACE_PERMITS) atomic_fetch_add(&race_over, 1);
}

static int race_task(void *arg, void **res) {
  long n = scaled(20000);
  for (long i = 0; i < n; i++) {
    int rc = weft_sem_acquire(sem, i % 5 ? -1 : 10000);
    if (rc == -ETIMEDOUT) continue;
    if (rc) return rc;
    race_enter();
    if (i % 4 == 0) weft_yield();
    atomic_fetch_sub(&race_inside, 1);
    if ((rc = weft_sem_release(sem))) return rc;
  }
  return 0;
}

/* A fixed number of attempts, overlapping the tasks' run. */
static void *race_thread(void *arg) {
  long n = scaled(200000);
  for (long i = 0; i < n; i++) {
    if (weft_sem_try_acquire(sem) != 0) continue;
    race_enter();
    atomic_fetch_sub(&race_inside, 1);
    ck_assert_int_eq(weft_sem_release(sem), 0);
  }
  return NULL;
}

static int race_main(void *arg, void **res) {
  weft_task_t *ts[8];
  for (int i = 0; i < 8; i++) ck_assert_int_eq(weft_spawn(race_task, NULL, &ts[i]), 0);
  for (int i = 0; i < 8; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  return 0;
}

START_TEST(fast_paths_race_waiters_and_threads) {
  ck_assert_int_eq(weft_sem_create(RACE_PERMITS, 1, &sem), 0);
  atomic_store(&race_inside, 0);
  atomic_store(&race_over, 0);
  pthread_t th[2];
  for (int i = 0; i < 2; i++) ck_assert_int_eq(pthread_create(&th[i], NULL, race_thread, NULL), 0);
  ck_assert_int_eq(run_main(4, race_main, NULL, NULL), 0);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  ck_assert_int_eq(atomic_load(&race_over), 0);
  ck_assert_int_eq(weft_sem_value(sem), RACE_PERMITS); /* bounded: a lost or doubled permit shows */
  ck_assert_int_eq(weft_sem_locked(sem), 0);
  ck_assert_int_eq(weft_sem_destroy(sem), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("sem");
  TCase *tc = tcase_create("sem");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, bounded_fifo_cancel);
  tcase_add_test(tc, never_more_than_the_permits);
  tcase_add_loop_test(tc, cancellation_storm_loses_no_hand_off, WEFT_LOCK_FIFO, WEFT_LOCK_BARGING + 1);
  tcase_add_test(tc, a_granted_permit_is_not_overtaken);
  tcase_add_test(tc, one_worker_keeps_asyncio_rules);
  tcase_add_test(tc, the_permit_count_has_a_limit);
  tcase_add_test(tc, fast_paths_race_waiters_and_threads);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
