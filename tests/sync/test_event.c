/* test_event.c - sync/event.c: set wakes every waiter exactly once, clear,
 * waits on a set event return at once, timeouts, cancellation, and a set
 * racing its waiters on 4 workers. */
#include "helpers.h"

#include <errno.h>

static weft_event_t *ev;
static _Atomic int woken;

static int waiter(void *arg, void **res) {
  int rc = weft_event_wait(ev, -1);
  if (rc == 0) atomic_fetch_add(&woken, 1);
  return rc;
}

static int event_main(void *arg, void **res) {
  bool one_worker = weft_loop_workers(weft_loop_current()) == 1;
  enum { N = 50 };
  weft_task_t *ts[N];
  for (int i = 0; i < N; i++) weft_spawn(waiter, NULL, &ts[i]);
  weft_yield(); /* one worker, FIFO: every waiter has registered when we resume */
  ck_assert_int_eq(weft_event_is_set(ev), 0);
  if (one_worker) ck_assert_int_eq(weft_event_destroy(ev), -EBUSY);
  ck_assert_int_eq(weft_event_set(ev), 0);
  /* Cleared at once: registered waiters still wake. With several workers
   * some waiters may not have registered yet, so the flag stays set. */
  if (one_worker) ck_assert_int_eq(weft_event_clear(ev), 0);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  ck_assert_int_eq(atomic_load(&woken), N);
  weft_event_clear(ev);
  ck_assert_int_eq(weft_event_wait(ev, 2000000), -ETIMEDOUT);
  weft_event_set(ev);
  ck_assert_int_eq(weft_event_wait(ev, 0), 0); /* set: no wait */
  ck_assert_int_eq(weft_event_is_set(ev), 1);
  weft_event_clear(ev);
  weft_task_t *t;
  weft_spawn(waiter, NULL, &t);
  weft_yield();
  weft_task_cancel(t, NULL);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), -ECANCELED);
  weft_task_release(t);
  return 0;
}

START_TEST(set_wakes_all_once) {
  for (unsigned w = 1; w <= 4; w += 3) {
    atomic_store(&woken, 0);
    ck_assert_int_eq(weft_event_create(&ev), 0);
    ck_assert_int_eq(weft_event_wait(ev, 0), -EPERM);
    ck_assert_int_eq(run_main(w, event_main, NULL, NULL), 0);
    ck_assert_int_eq(weft_event_destroy(ev), 0);
  }
  ck_assert_int_eq(weft_event_create(NULL), -EINVAL);
}
END_TEST

/* A set racing its waiters on 4 workers: a waiter woken by the set
 * leaves without the event's mutex once the setter is done with its node
 * (on the waiter's stack, written over right after: scribble_stack), and
 * half the waiters give up after a microsecond, so timeouts meet the set.
 * Every waiter returns exactly once, woken or timed out. */
static _Atomic long timed_out;

static int racing_waiter(void *arg, void **res) {
  int rc = weft_event_wait(ev, (long)arg % 2 ? 1000 : -1);
  scribble_stack();
  if (rc == -ETIMEDOUT) {
    atomic_fetch_add(&timed_out, 1);
    return 0;
  }
  if (rc == 0) atomic_fetch_add(&woken, 1);
  return rc;
}

static int set_race_main(void *arg, void **res) {
  long rounds = scaled(2000);
  for (long r = 0; r < rounds; r++) {
    weft_task_t *ts[8];
    for (int i = 0; i < 8; i++) ck_assert_int_eq(weft_spawn(racing_waiter, (void *)(long)i, &ts[i]), 0);
    weft_yield(); /* some wait already, some are on their way */
    ck_assert_int_eq(weft_event_set(ev), 0);
    for (int i = 0; i < 8; i++) {
      ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
      weft_task_release(ts[i]);
    }
    ck_assert_int_eq(weft_event_clear(ev), 0);
  }
  ck_assert_int_eq(atomic_load(&woken) + atomic_load(&timed_out), 8 * rounds);
  ck_assert_int_ge(atomic_load(&woken), 4 * rounds); /* those without a timeout */
  return 0;
}

START_TEST(set_races_its_waiters) {
  atomic_store(&woken, 0);
  ck_assert_int_eq(weft_event_create(&ev), 0);
  ck_assert_int_eq(run_main(4, set_race_main, NULL, NULL), 0);
  ck_assert_int_eq(weft_event_destroy(ev), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("event");
  TCase *tc = tcase_create("event");
  tcase_add_test(tc, set_wakes_all_once);
  tcase_add_test(tc, set_races_its_waiters);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
