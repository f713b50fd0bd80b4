/* test_barrier.c - sync/barrier.c: distinct arrival indices over rounds,
 * abort and reset break waiters, a cancelled waiter no longer counts,
 * rounds racing their parties on 4 workers, and a cancelled waiter passing
 * a wake-up on as 3.13's Condition.wait does (one worker). */
#include "helpers.h"

#include <errno.h>

static weft_barrier_t *bar;
static _Atomic int index_mask[4];

static int party(void *arg, void **res) {
  for (int round = 0; round < 4; round++) {
    int idx = weft_barrier_wait(bar, -1);
    if (idx < 0) return idx;
    atomic_fetch_or(&index_mask[round], 1 << idx);
  }
  return 0;
}

static int rounds_main(void *arg, void **res) {
  weft_task_t *ts[3];
  for (int i = 0; i < 3; i++) weft_spawn(party, NULL, &ts[i]);
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  for (int r = 0; r < 4; r++) ck_assert_int_eq(atomic_load(&index_mask[r]), 7); /* 0, 1, 2 */
  return 0;
}

START_TEST(indices_over_rounds) {
  ck_assert_int_eq(weft_barrier_create(0, &bar), -EINVAL);
  ck_assert_int_eq(weft_barrier_create((unsigned)-1, &bar), -EINVAL); /* -1 converted */
  ck_assert_int_eq(weft_barrier_create(3, &bar), 0);
  ck_assert_uint_eq(weft_barrier_parties(bar), 3);
  ck_assert_int_eq(run_main(3, rounds_main, NULL, NULL), 0);
  ck_assert_int_eq(weft_barrier_destroy(bar), 0);
}
END_TEST

static int one_wait(void *arg, void **res) { return weft_barrier_wait(bar, (long)arg); }

static int break_main(void *arg, void **res) {
  weft_task_t *a, *b;
  weft_spawn(one_wait, (void *)-1L, &a);
  weft_spawn(one_wait, (void *)-1L, &b);
  weft_yield();
  ck_assert_uint_eq(weft_barrier_n_waiting(bar), 2);
  ck_assert_int_eq(weft_barrier_reset(bar), 0);
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), WEFT_EBROKEN);
  ck_assert_int_eq(weft_await(weft_task_future(b), NULL), WEFT_EBROKEN);
  ck_assert_int_eq(weft_barrier_broken(bar), 0); /* reset: usable again */
  weft_task_release(a);
  weft_task_release(b);
  /* A cancelled waiter leaves: two more arrivals are needed after it. */
  weft_spawn(one_wait, (void *)-1L, &a);
  weft_yield();
  weft_task_cancel(a, NULL);
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), -ECANCELED);
  ck_assert_uint_eq(weft_barrier_n_waiting(bar), 0);
  weft_task_release(a);
  ck_assert_int_eq(weft_barrier_wait(bar, 1000000), -ETIMEDOUT);
  /* abort: waiters and later arrivals fail. */
  weft_spawn(one_wait, (void *)-1L, &a);
  weft_yield();
  ck_assert_int_eq(weft_barrier_abort(bar), 0);
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), WEFT_EBROKEN);
  ck_assert_int_eq(weft_barrier_wait(bar, -1), WEFT_EBROKEN);
  ck_assert_int_eq(weft_barrier_broken(bar), 1);
  weft_task_release(a);
  return 0;
}

START_TEST(reset_abort_cancel) {
  ck_assert_int_eq(weft_barrier_create(3, &bar), 0);
  ck_assert_int_eq(weft_barrier_wait(bar, -1), -EPERM);
  ck_assert_int_eq(run_main(1, break_main, NULL, NULL), 0);
  ck_assert_int_eq(weft_barrier_destroy(bar), 0);
}
END_TEST
/* Rounds racing their parties on 4 workers: a party released by the last
 * arrival leaves without the barrier's mutex once the releaser is done
 * with its node (on the party's stack, written over right after:
 * scribble_stack), and is at once back for the next round. Each round
 * hands out the indices 0-3 once. */
enum { RACE_PARTIES = 4, RACE_ROUNDS = 5000 };
static _Atomic int race_mask[RACE_ROUNDS];

static int racing_party(void *arg, void **res) {
  long rounds = scaled(RACE_ROUNDS);
  for (long r = 0; r < rounds; r++) {
    int idx = weft_barrier_wait(bar, -1);
    scribble_stack();
    if (idx < 0) return idx;
    atomic_fetch_or(&race_mask[r], 1 << idx);
  }
  return 0;
}

static int race_main(void *arg, void **res) {
  spawn_and_join(racing_party, NULL, RACE_PARTIES);
  for (long r = 0; r < scaled(RACE_ROUNDS); r++) ck_assert_int_eq(atomic_load(&race_mask[r]), 15);
  return 0;
}

START_TEST(rounds_race_their_parties) {
  ck_assert_int_eq(weft_barrier_create(RACE_PARTIES, &bar), 0);
  ck_assert_int_eq(run_main(4, race_main, NULL, NULL), 0);
  ck_assert_uint_eq(weft_barrier_n_waiting(bar), 0);
  ck_assert_int_eq(weft_barrier_destroy(bar), 0);
}
END_TEST

/* One worker: asyncio's states. CPython prints "B1 A0 B1 A0 B1 A0" for two
 * tasks A and B (spawned in that order) that each await a Barrier(2)
 * three times: B trips each round, comes straight back, and waits until
 * A has left the round (draining) before the next round counts it, so B
 * arrives second again. Without the draining state B started the next
 * round at once and the indices swapped every other round ("B1 A0 A1 B0
 * B1 A0"). And a trip followed by an abort before the released task runs
 * makes that task's wait fail, as asyncio's released waiter looks at the
 * state only when it runs. */
static char loop_trace[32];
static int loop_n;

static int looping_party(void *arg, void **res) {
  for (int round = 0; round < 3; round++) {
    int idx = weft_barrier_wait(bar, -1);
    ck_assert_int_ge(idx, 0);
    loop_trace[loop_n++] = *(const char *)arg;
    loop_trace[loop_n++] = (char)('0' + idx);
  }
  return 0;
}

static int loop_main(void *arg, void **res) {
  ck_assert_int_eq(weft_barrier_create(2, &bar), 0);
  loop_n = 0;
  weft_task_t *a, *b;
  ck_assert_int_eq(weft_spawn(looping_party, "A", &a), 0);
  ck_assert_int_eq(weft_spawn(looping_party, "B", &b), 0);
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), 0);
  ck_assert_int_eq(weft_await(weft_task_future(b), NULL), 0);
  weft_task_release(a);
  weft_task_release(b);
  loop_trace[loop_n] = 0;
  ck_assert_str_eq(loop_trace, "B1A0B1A0B1A0");
  ck_assert_int_eq(weft_barrier_destroy(bar), 0);
  return 0;
}

static int waiter(void *arg, void **res) { return weft_barrier_wait(bar, -1); }

static int abort_after_trip_main(void *arg, void **res) {
  ck_assert_int_eq(weft_barrier_create(2, &bar), 0);
  weft_task_t *a;
  ck_assert_int_eq(weft_spawn(waiter, NULL, &a), 0);
  ck_assert_int_eq(weft_yield(), 0);                   /* a waits */
  ck_assert_int_eq(weft_barrier_wait(bar, -1), 1);     /* trips, a released */
  ck_assert_uint_eq(weft_barrier_n_waiting(bar), 0);   /* draining */
  ck_assert_int_eq(weft_barrier_abort(bar), 0);        /* before a runs */
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), WEFT_EBROKEN);
  weft_task_release(a);
  ck_assert_int_eq(weft_barrier_destroy(bar), 0);
  return 0;
}

START_TEST(one_worker_keeps_asyncio_states) {
  ck_assert_int_eq(run_main(1, loop_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(1, abort_after_trip_main, NULL, NULL), 0);
}
END_TEST

/* CPython 3.13's Condition.wait, which asyncio's Barrier waits on: a waiter
 * that leaves by a cancellation passes a notification on, so the first
 * waiter left wakes, finds the barrier still filling and waits again, at
 * the back. One worker, four parties, three waiting (c, b, a); c is
 * cancelled: an abort a pass later finds b woken and on its way (b fails
 * first), two passes later behind a (a first). CPython prints "ba", "ab". */
static int noting_waiter(void *arg, void **res) {
  int rc = weft_barrier_wait(bar, -1);
  if (rc == WEFT_EBROKEN) pass_note(*(const char *)arg);
  return rc;
}

static int pass_on_main(void *arg, void **res) {
  int passes = (int)(intptr_t)arg;
  pass_reset();
  ck_assert_int_eq(weft_barrier_create(4, &bar), 0);
  weft_task_t *c, *b, *a;
  weft_spawn(noting_waiter, "c", &c);
  weft_spawn(noting_waiter, "b", &b);
  weft_spawn(noting_waiter, "a", &a);
  weft_yield(); /* all three wait */
  weft_task_cancel(c, NULL);
  for (int i = 0; i < passes; i++) weft_yield();
  ck_assert_int_eq(weft_barrier_abort(bar), 0);
  ck_assert_int_eq(weft_await(weft_task_future(c), NULL), -ECANCELED);
  ck_assert_int_eq(weft_await(weft_task_future(b), NULL), WEFT_EBROKEN);
  ck_assert_int_eq(weft_await(weft_task_future(a), NULL), WEFT_EBROKEN);
  weft_task_release(a);
  weft_task_release(b);
  weft_task_release(c);
  ck_assert_int_eq(weft_barrier_destroy(bar), 0);
  return 0;
}

START_TEST(one_worker_cancelled_waiter_passes_a_wake_up_on) {
  ck_assert_int_eq(run_main(1, pass_on_main, (void *)1, NULL), 0);
  ck_assert_str_eq(pass_trace.s, "ba");
  ck_assert_int_eq(run_main(1, pass_on_main, (void *)2, NULL), 0);
  ck_assert_str_eq(pass_trace.s, "ab");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("barrier");
  TCase *tc = tcase_create("barrier");
  tcase_add_test(tc, indices_over_rounds);
  tcase_add_test(tc, reset_abort_cancel);
  tcase_add_test(tc, one_worker_keeps_asyncio_states);
  tcase_add_test(tc, one_worker_cancelled_waiter_passes_a_wake_up_on);
  tcase_add_test(tc, rounds_race_their_parties);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
