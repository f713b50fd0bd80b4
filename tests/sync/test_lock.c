/* test_lock.c - sync/lock.c: errors, FIFO hand-off, newcomers queue behind
 * waiters, timeouts, cancellation (also at the moment of hand-off, and
 * asyncio's cancelled first waiter on one worker), the
 * scope helper, a contended counter on 4 workers, the one-CAS fast
 * paths racing the queued ones, and hand-offs racing their granters; the
 * barging policy: newcomers take a freed lock, a woken waiter that loses
 * goes back to the front, a starving one gets the lock handed over, a
 * cancelled woken waiter wakes the next, and the three races above and a
 * Condition's token ring with a barging lock; the default lock
 * (WEFT_LOCK_AUTO): FIFO's scripts on one worker, the barging scripts on a
 * loop of two workers (tasks pinned to one), and the races. */
#include "helpers.h"
#include "lock.h"

#include <errno.h>
#include <pthread.h>

/* The order scripts' starving threshold (expect_order_on). */
#define STARVING_MS 100

static weft_lock_t *lk;
static char order[16];
static int norder;

/* The worker the order scripts' tasks are pinned to, or -1: on a loop of
 * several workers, one thread then runs them all, in a fixed order, while
 * the lock's waiters belong to a loop that has several (WEFT_LOCK_AUTO's
 * choice). */
static int pin = -1;

/* From an order script: spawns @fn(@arg) (pinned to `pin` if set). */
static int spawn_here(weft_task_fn fn, void *arg, weft_task_t **out) {
  return pin < 0 ? weft_spawn(fn, arg, out) : spawn_pinned(pin, fn, arg, out);
}

/* The main task of an order script run pinned: runs @arg's script as a
 * task pinned to worker 0. */
static int pinned_script(void *arg, void **res) {
  weft_task_t *t;
  ck_assert_int_eq(spawn_pinned(0, (weft_task_fn)arg, NULL, &t), 0);
  int rc = weft_await(weft_task_future(t), NULL);
  weft_task_release(t);
  return rc;
}

/* Runs @main as the main task of a loop of @workers with a new lock (lk)
 * of @policy and the order record empty (with several workers, @main and
 * the tasks it spawns pinned to worker 0); the tasks' marks in order must
 * read @want, and the lock is free and destroyable after. */
static void expect_order_on(unsigned workers, enum weft_lock_policy policy, weft_task_fn main,
                            const char *want) {
  ck_assert_int_eq(weft_lock_create_policy(&lk, policy), 0);
  /* A barging waiter that loses a try after waiting weft__lock_starving_ns
   * (lock.h; 1 ms in the library) turns starving. The scripts raise it to
   * STARVING_MS: a waiter that must lose a try before it starves must not
   * starve because its worker thread was descheduled for a millisecond;
   * starving_main sleeps past it where it wants one to. */
  uint64_t starving_ns = weft__lock_starving_ns;
  weft__lock_starving_ns = STARVING_MS * 1000000ull;
  norder = 0;
  pin = workers > 1 ? 0 : -1;
  if (workers > 1)
    ck_assert_int_eq(run_main(workers, pinned_script, (void *)main, NULL), 0);
  else
    ck_assert_int_eq(run_main(1, main, NULL, NULL), 0);
  pin = -1;
  weft__lock_starving_ns = starving_ns;
  order[norder] = 0;
  ck_assert_str_eq(order, want);
  ck_assert_int_eq(weft_lock_destroy(lk), 0);
}

static void expect_order(enum weft_lock_policy policy, weft_task_fn main, const char *want) {
  expect_order_on(1, policy, main, want);
}

/* The FIFO scripts' policies (_i: the loop test's index): an explicit
 * FIFO lock, and the default, which is FIFO on one worker. */
static enum weft_lock_policy fifo_or_auto(int i) { return i ? WEFT_LOCK_AUTO : WEFT_LOCK_FIFO; }

static int errors_main(void *arg, void **res) {
  ck_assert_int_eq(weft_lock_release(lk), WEFT_EINVALSTATE);
  ck_assert_int_eq(weft_lock_acquire(lk, -1), 0);
  ck_assert_int_eq(weft_lock_locked(lk), 1);
  ck_assert_int_eq(weft_lock_acquire(lk, -1), -EDEADLK);
  ck_assert_int_eq(weft_lock_try_acquire(lk), -EAGAIN);
  ck_assert_int_eq(weft_lock_destroy(lk), -EBUSY);
  ck_assert_int_eq(weft_lock_release(lk), 0);
  ck_assert_int_eq(weft_lock_try_acquire(lk), 0);
  ck_assert_int_eq(weft_lock_release(lk), 0);
  ck_assert_int_eq(weft_lock_acquire(NULL, -1), -EINVAL);
  return 0;
}

static int hold_until(void *arg, void **res) {
  int rc = weft_lock_acquire(lk, -1);
  if (rc) return rc;
  weft_await(arg, NULL); /* hold it until told */
  return weft_lock_release(lk);
}

static int not_owner_main(void *arg, void **res) {
  weft_future_t *go;
  weft_future_new(NULL, &go);
  weft_task_t *t;
  weft_spawn(hold_until, go, &t);
  weft_yield(); /* t holds the lock now */
  ck_assert_int_eq(weft_lock_locked(lk), 1);
  ck_assert_int_eq(weft_lock_release(lk), -EPERM);
  weft_future_set_result(go, NULL);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  weft_future_release(go);
  return 0;
}

START_TEST(errors) {
  ck_assert_int_eq(weft_lock_create_policy(NULL, WEFT_LOCK_BARGING), -EINVAL);
  ck_assert_int_eq(weft_lock_create_policy(&lk, (enum weft_lock_policy)7), -EINVAL);
  ck_assert_int_eq(weft_lock_create(&lk), 0);
  ck_assert_int_eq(weft_lock_acquire(lk, -1), -EPERM); /* not a task */
  ck_assert_int_eq(run_main(1, errors_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(1, not_owner_main, NULL, NULL), 0);
  ck_assert_int_eq(weft_lock_create(NULL), -EINVAL);
  ck_assert_int_eq(weft_lock_destroy(lk), 0);
}
END_TEST

static int contender(void *arg, void **res) {
  int rc = weft_lock_acquire(lk, -1);
  if (rc) return rc;
  order[norder++] = *(const char *)arg;
  weft_yield();
  return weft_lock_release(lk);
}

static int fifo_main(void *arg, void **res) {
  ck_assert_int_eq(weft_lock_acquire(lk, -1), 0);
  weft_task_t *ts[3];
  spawn_here(contender, "a", &ts[0]);
  spawn_here(contender, "b", &ts[1]);
  spawn_here(contender, "c", &ts[2]);
  weft_yield(); /* all three queue, in order */
  ck_assert_int_eq(weft_lock_release(lk), 0);
  /* Handed to "a" already: a newcomer (us) queues behind the waiters. */
  ck_assert_int_eq(weft_lock_try_acquire(lk), -EAGAIN);
  ck_assert_int_eq(weft_lock_acquire(lk, -1), 0);
  order[norder++] = 'm';
  ck_assert_int_eq(weft_lock_release(lk), 0);
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  return 0;
}

START_TEST(fifo_hand_off) { expect_order(fifo_or_auto(_i), fifo_main, "abcm"); }
END_TEST

/* An explicit FIFO lock keeps asyncio's hand-off on several workers too. */
START_TEST(fifo_hand_off_on_several_workers) {
  expect_order_on(2, WEFT_LOCK_FIFO, fifo_main, "abcm");
}
END_TEST

static int waiter_with_timeout(void *arg, void **res) { return weft_lock_acquire(lk, 5000000); }

static int handoff_cancel_main(void *arg, void **res) {
  ck_assert_int_eq(weft_lock_acquire(lk, -1), 0);
  weft_task_t *t2, *t3;
  spawn_here(contender, "2", &t2);
  spawn_here(contender, "3", &t3);
  weft_yield();
  ck_assert_int_eq(weft_lock_release(lk), 0); /* granted to t2 ... */
  ck_assert_int_eq(weft_lock_locked(lk), 1);       /* a grant in flight holds it */
  ck_assert_int_eq(weft_lock_try_acquire(lk), -EAGAIN); /* no newcomer overtakes */
  ck_assert_int_eq(weft_task_cancel(t2, NULL), 1); /* ... cancelled before it runs */
  ck_assert_int_eq(weft_await(weft_task_future(t2), NULL), -ECANCELED);
  ck_assert_int_eq(weft_await(weft_task_future(t3), NULL), 0); /* it passed to t3 */
  weft_task_release(t2);
  weft_task_release(t3);
  /* A timeout while held leaves the lock alone. */
  ck_assert_int_eq(weft_lock_acquire(lk, -1), 0);
  weft_task_t *tw;
  weft_spawn(waiter_with_timeout, NULL, &tw);
  ck_assert_int_eq(weft_await(weft_task_future(tw), NULL), -ETIMEDOUT);
  weft_task_release(tw);
  ck_assert_int_eq(weft_lock_release(lk), 0);
  ck_assert_int_eq(weft_lock_locked(lk), 0);
  return 0;
}

START_TEST(cancel_at_hand_off_passes_the_lock_on) {
  expect_order(fifo_or_auto(_i), handoff_cancel_main, "3");
}
END_TEST

/* asyncio's rule for a first waiter cancelled while queued (one worker):
 * the release wakes nobody and leaves the lock free; a newcomer takes it
 * only if every waiter is cancelled; the cancelled one, leaving, wakes
 * the next. */
static int cancelled_first_main(void *arg, void **res) {
  ck_assert_int_eq(weft_lock_acquire(lk, -1), 0);
  weft_task_t *a, *b;
  spawn_here(contender, "a", &a);
  weft_yield(); /* a queues */
  weft_task_cancel(a, NULL);
  ck_assert_int_eq(weft_lock_release(lk), 0);
  ck_assert_int_eq(weft_lock_locked(lk), 0);
  ck_assert_int_eq(weft_lock_try_acquire(lk), 0); /* every waiter cancelled: taken at once */
  order[norder++] = 'm';
  ck_assert_int_eq(weft_lock_release(lk), 0);
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), -ECANCELED);
  weft_task_release(a);

  ck_assert_int_eq(weft_lock_acquire(lk, -1), 0);
  spawn_here(contender, "a", &a);
  spawn_here(contender, "b", &b);
  weft_yield(); /* both queue */
  weft_task_cancel(a, NULL);
  ck_assert_int_eq(weft_lock_release(lk), 0);
  ck_assert_int_eq(weft_lock_locked(lk), 0);       /* free, but b waits: */
  ck_assert_int_eq(weft_lock_try_acquire(lk), -EAGAIN); /* a newcomer does not jump it */
  weft_yield(); /* a leaves and wakes b */
  order[norder++] = 'n';
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), -ECANCELED);
  ck_assert_int_eq(weft_await(weft_task_future(b), NULL), 0);
  weft_task_release(a);
  weft_task_release(b);
  return 0;
}

START_TEST(one_worker_cancelled_first_waiter) {
  expect_order(fifo_or_auto(_i), cancelled_first_main, "mnb");
}
END_TEST

/* Barging: a release with waiters frees the lock and wakes the oldest to
 * try; a newcomer (us) that acquires first takes it, and its release
 * wakes nobody more (the woken one is on its way). A woken waiter that
 * loses goes back to the front: the next release wakes it, not the one
 * queued behind it. */
static int barging_main(void *arg, void **res) {
  ck_assert_int_eq(weft_lock_acquire(lk, -1), 0);
  weft_task_t *ts[2];
  spawn_here(contender, "a", &ts[0]);
  spawn_here(contender, "b", &ts[1]);
  weft_yield(); /* both queue */
  ck_assert_int_eq(weft_lock_release(lk), 0); /* "a" woken to try */
  ck_assert_int_eq(weft_lock_locked(lk), 0);  /* free meanwhile */
  ck_assert_int_eq(weft_lock_try_acquire(lk), 0); /* we barge in */
  order[norder++] = 'm';
  ck_assert_int_eq(weft_lock_release(lk), 0);
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  order[norder++] = '|';
  /* A lost try: "c" is woken, we take the lock again first, "c" tries
   * and loses, and goes back before "d". */
  ck_assert_int_eq(weft_lock_acquire(lk, -1), 0);
  spawn_here(contender, "c", &ts[0]);
  spawn_here(contender, "d", &ts[1]);
  weft_yield(); /* both queue */
  ck_assert_int_eq(weft_lock_release(lk), 0); /* "c" woken to try */
  ck_assert_int_eq(weft_lock_acquire(lk, -1), 0); /* taken first, without waiting */
  weft_yield(); /* "c" tries, loses, queues first again */
  ck_assert_int_eq(weft_lock_release(lk), 0); /* wakes "c" */
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  return 0;
}

START_TEST(barging_newcomers_take_a_freed_lock) {
  expect_order(WEFT_LOCK_BARGING, barging_main, "mab|cd");
}
END_TEST

/* A waiter that has waited over the starving threshold (1 ms; STARVING_MS
 * in these scripts) and loses its try again turns the lock to hand-offs:
 * the next release gives it the lock (held at once: we cannot take it),
 * and once the queue is empty the lock barges again. */
static int starving_main(void *arg, void **res) {
  ck_assert_int_eq(weft_lock_acquire(lk, -1), 0);
  weft_task_t *t;
  spawn_here(contender, "a", &t);
  weft_yield(); /* "a" queues */
  ck_assert_int_eq(weft_lock_release(lk), 0); /* "a" woken to try */
  ck_assert_int_eq(weft_lock_try_acquire(lk), 0);
  /* "a" tries and loses (not yet starving), and then waits past it. */
  ck_assert_int_eq(weft_sleep_ns((STARVING_MS + 50) * 1000000LL), 0);
  ck_assert_int_eq(weft_lock_release(lk), 0); /* "a" woken again */
  ck_assert_int_eq(weft_lock_try_acquire(lk), 0);
  weft_yield(); /* "a" loses after over STARVING_MS: starving */
  ck_assert_int_eq(weft_lock_release(lk), 0); /* handed to "a" */
  ck_assert_int_eq(weft_lock_locked(lk), 1);
  ck_assert_int_eq(weft_lock_try_acquire(lk), -EAGAIN);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  order[norder++] = '|';
  /* The queue emptied: barging again. */
  ck_assert_int_eq(weft_lock_acquire(lk, -1), 0);
  spawn_here(contender, "b", &t);
  weft_yield();
  ck_assert_int_eq(weft_lock_release(lk), 0);
  ck_assert_int_eq(weft_lock_try_acquire(lk), 0);
  order[norder++] = 'm';
  ck_assert_int_eq(weft_lock_release(lk), 0);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  return 0;
}

START_TEST(barging_starving_waiter_is_handed_the_lock) {
  expect_order(WEFT_LOCK_BARGING, starving_main, "a|mb");
}
END_TEST

/* A waiter woken to try and cancelled before it runs passes its try on:
 * the next waiter takes the lock with nobody releasing it again. */
static int barging_cancel_main(void *arg, void **res) {
  ck_assert_int_eq(weft_lock_acquire(lk, -1), 0);
  weft_task_t *t2, *t3;
  spawn_here(contender, "2", &t2);
  spawn_here(contender, "3", &t3);
  weft_yield();
  ck_assert_int_eq(weft_lock_release(lk), 0); /* "2" woken to try ... */
  ck_assert_int_eq(weft_task_cancel(t2, NULL), 1); /* ... and cancelled */
  ck_assert_int_eq(weft_await(weft_task_future(t2), NULL), -ECANCELED);
  ck_assert_int_eq(weft_await(weft_task_future(t3), NULL), 0);
  weft_task_release(t2);
  weft_task_release(t3);
  ck_assert_int_eq(weft_lock_locked(lk), 0);
  return 0;
}

START_TEST(barging_cancelled_woken_waiter_wakes_the_next) {
  expect_order(WEFT_LOCK_BARGING, barging_cancel_main, "3");
}
END_TEST

static int scoped(void *arg, void **res) {
  for (int i = 0; i < 3; i++) {
    WEFT_LOCK_SCOPE(guard, lk);
    if (guard.rc) return guard.rc;
    if (i == 1) continue; /* leaves the scope early: still released */
    ck_assert_int_eq(weft_lock_locked(lk), 1);
  }
  ck_assert_int_eq(weft_lock_locked(lk), 0);
  return 0;
}

START_TEST(scope_releases_on_every_exit) {
  ck_assert_int_eq(weft_lock_create(&lk), 0);
  ck_assert_int_eq(run_main(2, scoped, NULL, NULL), 0);
  ck_assert_int_eq(weft_lock_destroy(lk), 0);
}
END_TEST

/* Contended counter with timeouts and cancellations mixed in: the counter
 * equals the number of successful acquisitions. */
static long counter, successes[8];

static int incrementer(void *arg, void **res) {
  long id = (long)arg, n = scaled(20000);
  for (long i = 0; i < n; i++) {
    int rc = weft_lock_acquire(lk, (i % 97 == 0) ? 1000 : -1);
    if (rc == -ETIMEDOUT) continue;
    if (rc) return rc;
    counter++;
    successes[id]++;
    if (i % 5 == 0) weft_yield(); /* hold it across a suspension sometimes */
    weft_lock_release(lk);
  }
  return 0;
}

static int contended_main(void *arg, void **res) {
  spawn_indexed_and_join(incrementer, 8);
  long total = 0;
  for (int i = 0; i < 8; i++) total += successes[i];
  ck_assert_int_eq(counter, total);
  return 0;
}

static _Atomic long timeouts; /* hand_offs_race_their_granters' given-up takes */
static int inside;       /* a plain flag: set while a task holds lk */
static long fast_counter; /* incremented under lk */

/* Runs @main on 4 workers with a new lock (lk) of @policy and
 * fast_counter at 0; the lock is free and destroyable after. */
static void on_four_workers(weft_task_fn main, enum weft_lock_policy policy) {
  ck_assert_int_eq(weft_lock_create_policy(&lk, policy), 0);
  fast_counter = 0;
  timeouts = 0;
  ck_assert_int_eq(run_main(4, main, NULL, NULL), 0);
  ck_assert_int_eq(weft_lock_destroy(lk), 0);
}

/* The races below run with each policy (_i: the loop test's index). */
START_TEST(contended_counter) { on_four_workers(contended_main, (enum weft_lock_policy)_i); }
END_TEST

/* The uncontended fast paths (one CAS each way) racing the queued slow
 * path: most critical sections do not suspend, so owners release with the
 * fast CAS while others queue (setting WAITERS) on other workers; every
 * 32nd one suspends inside, so queues form and hand-offs happen. Mutual
 * exclusion is checked by a plain flag (inside) that TSan would also
 * report. */

static int fast_slow(void *arg, void **res) {
  long n = scaled(50000);
  for (long i = 0; i < n; i++) {
    int rc = weft_lock_acquire(lk, -1);
    if (rc) return rc;
    if (inside) return -EFAULT;
    inside = 1;
    fast_counter++;
    if ((i + (long)arg) % 32 == 0) weft_yield();
    inside = 0;
    if ((rc = weft_lock_release(lk))) return rc;
  }
  return 0;
}

static int fast_slow_main(void *arg, void **res) {
  spawn_indexed_and_join(fast_slow, 8);
  ck_assert_int_eq(fast_counter, 8 * scaled(50000));
  ck_assert_int_eq(weft_lock_locked(lk), 0); /* free, and nobody marked as waiting */
  return 0;
}

/* The default lock shared by a one-worker loop and a two-worker loop
 * running at once, each on its own thread: every release decides by its
 * oldest waiter's loop (a hand-off to a waiter of the first, a wake to try
 * for one of the second), so both kinds of state meet on one lock.
 * Mutual exclusion (the plain flag), every increment counted, and the
 * debug build's lock_ok after every change under the mutex. */
struct mixed_run {
  unsigned workers;
  int rc;
};

static int mixed_main(void *arg, void **res) {
  spawn_indexed_and_join(fast_slow, 4);
  return 0;
}

static void *mixed_thread(void *arg) {
  struct mixed_run *m = arg;
  m->rc = run_main(m->workers, mixed_main, NULL, NULL);
  return NULL;
}

START_TEST(auto_lock_shared_by_loops_of_both_kinds) {
  ck_assert_int_eq(weft_lock_create(&lk), 0);
  fast_counter = 0;
  struct mixed_run one = {1, -1}, two = {2, -1};
  pthread_t t1, t2;
  ck_assert_int_eq(pthread_create(&t1, NULL, mixed_thread, &one), 0);
  ck_assert_int_eq(pthread_create(&t2, NULL, mixed_thread, &two), 0);
  ck_assert_int_eq(pthread_join(t1, NULL), 0);
  ck_assert_int_eq(pthread_join(t2, NULL), 0);
  ck_assert_int_eq(one.rc, 0);
  ck_assert_int_eq(two.rc, 0);
  ck_assert_int_eq(fast_counter, 8 * scaled(50000));
  ck_assert_int_eq(weft_lock_locked(lk), 0);
  ck_assert_int_eq(weft_lock_destroy(lk), 0);
}
END_TEST

START_TEST(fast_and_queued_paths_race) {
  on_four_workers(fast_slow_main, (enum weft_lock_policy)_i);
}
END_TEST

/* Hand-offs racing their granters: a waiter granted the lock leaves
 * without the mutex only once its granter is done with its node, which
 * is on the waiter's stack (and the task itself is freed once it ends).
 * 8 tasks on 4 workers take the lock 50 times each and end, round after
 * round: releases meet waiters that are still queueing or whose timeout
 * just woke them (the granter then grants a task that is running, the
 * tight case), and owners write over the stack where their node was
 * (scribble_stack) right after taking the lock. TSan reports a granter's store into a node that was
 * left too early. */
enum { HAND_OFF_TASKS = 8, HAND_OFF_TAKES = 50 };

static int take_and_end(void *arg, void **res) {
  for (int i = 0; i < HAND_OFF_TAKES; i++) {
    /* Every other take gives up after a microsecond: its timer wakes it
     * while a granter may be choosing it. */
    int rc = weft_lock_acquire(lk, (i + (long)arg) % 2 ? 1000 : -1);
    if (rc == -ETIMEDOUT) {
      timeouts++;
      continue;
    }
    if (rc) return rc;
    scribble_stack();
    if (inside) return -EFAULT;
    inside = 1;
    fast_counter++;
    if ((i + (long)arg) % 8 == 0) weft_yield(); /* queues form behind us */
    inside = 0;
    if ((rc = weft_lock_release(lk))) return rc;
  }
  return 0;
}

static int hand_offs_main(void *arg, void **res) {
  long rounds = scaled(2000);
  for (long r = 0; r < rounds; r++) spawn_indexed_and_join(take_and_end, HAND_OFF_TASKS);
  ck_assert_int_eq(fast_counter + timeouts, (long)HAND_OFF_TASKS * HAND_OFF_TAKES * rounds);
  ck_assert_int_eq(weft_lock_locked(lk), 0);
  return 0;
}

START_TEST(hand_offs_race_their_granters) {
  on_four_workers(hand_offs_main, (enum weft_lock_policy)_i);
}
END_TEST

/* A Condition on a barging lock: 8 tasks on 4 workers pass a token round
 * a ring, each waiting for its turn. Its notify_all moves every waiter
 * into the lock's queue, where releases wake them to try (and some lose
 * to the others' re-acquires and go back first): every turn is taken in
 * order, none lost, and each waiter holds the lock when it returns. */
enum { RING = 8 };
static weft_cond_t *ring_cond;
static long turn;

static int ring_member(void *arg, void **res) {
  long me = (long)arg, rounds = scaled(2000);
  for (long r = 0; r < rounds; r++) {
    int rc = weft_lock_acquire(lk, -1);
    if (rc) return rc;
    while (turn % RING != me)
      if ((rc = weft_cond_wait(ring_cond, -1))) return rc;
    if (inside) return -EFAULT;
    turn++;
    if ((rc = weft_cond_notify_all(ring_cond)) < 0) return rc; /* >= 0: how many it woke */
    if ((rc = weft_lock_release(lk))) return rc;
  }
  return 0;
}

static int ring_main(void *arg, void **res) {
  ck_assert_int_eq(weft_cond_create(lk, &ring_cond), 0);
  turn = 0;
  spawn_indexed_and_join(ring_member, RING);
  ck_assert_int_eq(turn, RING * scaled(2000));
  ck_assert_int_eq(weft_cond_destroy(ring_cond), 0);
  return 0;
}

/* Condition waiters moved to a barging lock by notify_all, one of them
 * woken to try and losing to us: it goes back to the front of the lock's
 * queue, so the next release wakes it before the one notified after it. */
static weft_cond_t *cv;

static int cond_waiter(void *arg, void **res) {
  int rc = weft_lock_acquire(lk, -1);
  if (rc) return rc;
  if ((rc = weft_cond_wait(cv, -1))) return rc;
  order[norder++] = *(const char *)arg;
  return weft_lock_release(lk);
}

static int barging_cond_main(void *arg, void **res) {
  ck_assert_int_eq(weft_cond_create(lk, &cv), 0);
  weft_task_t *ts[2];
  spawn_here(cond_waiter, "a", &ts[0]);
  spawn_here(cond_waiter, "b", &ts[1]);
  weft_yield(); /* both wait on cv, in order */
  ck_assert_int_eq(weft_lock_acquire(lk, -1), 0);
  ck_assert_int_eq(weft_cond_notify_all(cv), 2); /* both queue on the lock */
  ck_assert_int_eq(weft_lock_release(lk), 0);    /* "a" woken to try */
  ck_assert_int_eq(weft_lock_acquire(lk, -1), 0); /* taken first */
  weft_yield(); /* "a" tries, loses, queues first again */
  ck_assert_int_eq(weft_lock_release(lk), 0); /* wakes "a" */
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  ck_assert_int_eq(weft_cond_destroy(cv), 0);
  return 0;
}

START_TEST(barging_condition_waiter_that_loses_goes_first) {
  expect_order(WEFT_LOCK_BARGING, barging_cond_main, "ab");
}
END_TEST

START_TEST(barging_condition_token_ring) {
  on_four_workers(ring_main, (enum weft_lock_policy)_i); /* BARGING, AUTO */
}
END_TEST

/* The default lock barges for waiters of a loop with several workers: the
 * barging scripts read as with WEFT_LOCK_BARGING on one worker (newcomers
 * take a freed lock, a lost try goes back first, a starving waiter is
 * handed the lock, a cancelled woken waiter wakes the next, a Condition's
 * waiter that loses goes first), their tasks pinned to one worker of two;
 * and so does an explicit barging lock there. */
START_TEST(auto_barges_on_several_workers) {
  enum weft_lock_policy p = _i ? WEFT_LOCK_BARGING : WEFT_LOCK_AUTO;
  expect_order_on(2, p, barging_main, "mab|cd");
  expect_order_on(2, p, starving_main, "a|mb");
  expect_order_on(2, p, barging_cancel_main, "3");
  expect_order_on(2, p, barging_cond_main, "ab");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("lock");
  TCase *tc = tcase_create("lock");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, errors);
  tcase_add_loop_test(tc, fifo_hand_off, 0, 2);
  tcase_add_test(tc, fifo_hand_off_on_several_workers);
  tcase_add_loop_test(tc, cancel_at_hand_off_passes_the_lock_on, 0, 2);
  tcase_add_loop_test(tc, one_worker_cancelled_first_waiter, 0, 2);
  tcase_add_test(tc, scope_releases_on_every_exit);
  tcase_add_test(tc, barging_newcomers_take_a_freed_lock);
  tcase_add_test(tc, barging_starving_waiter_is_handed_the_lock);
  tcase_add_test(tc, barging_cancelled_woken_waiter_wakes_the_next);
  tcase_add_loop_test(tc, contended_counter, WEFT_LOCK_FIFO, WEFT_LOCK_AUTO + 1);
  tcase_add_loop_test(tc, fast_and_queued_paths_race, WEFT_LOCK_FIFO, WEFT_LOCK_AUTO + 1);
  tcase_add_loop_test(tc, hand_offs_race_their_granters, WEFT_LOCK_FIFO, WEFT_LOCK_AUTO + 1);
  tcase_add_test(tc, barging_condition_waiter_that_loses_goes_first);
  tcase_add_loop_test(tc, barging_condition_token_ring, WEFT_LOCK_BARGING, WEFT_LOCK_AUTO + 1);
  tcase_add_loop_test(tc, auto_barges_on_several_workers, 0, 2);
  tcase_add_test(tc, auto_lock_shared_by_loops_of_both_kinds);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
