/* test_worker.c - runtime/worker.c: cross-worker wake storms, a token ring,
 * work spreading to idle workers, and many stop/run cycles. */
#include "helpers.h"

#include <errno.h>

/* A token goes around a ring of tasks; each hop is a future completed on
 * one worker and awaited on another. */
enum { RING = 64, ROUNDS = 200 };
static weft_future_t *slots[RING][ROUNDS + 1];

static int ring_member(void *arg, void **res) {
  long i = (long)arg;
  for (int r = 0; r < ROUNDS; r++) {
    void *tok;
    int rc = weft_await(slots[i][r], &tok);
    if (rc) return rc;
    long next = (i + 1) % RING;
    int nr = next == 0 ? r + 1 : r;
    weft_future_set_result(slots[next][nr], (void *)((long)tok + 1));
  }
  return 0;
}

static int ring_main(void *arg, void **res) {
  for (int i = 0; i < RING; i++)
    for (int r = 0; r <= ROUNDS; r++) ck_assert_int_eq(weft_future_new(NULL, &slots[i][r]), 0);
  weft_task_t *ts[RING];
  for (long i = 0; i < RING; i++) ck_assert_int_eq(weft_spawn(ring_member, (void *)i, &ts[i]), 0);
  weft_future_set_result(slots[0][0], (void *)0);
  void *last;
  ck_assert_int_eq(weft_await(slots[0][ROUNDS], &last), 0);
  ck_assert_int_eq((long)last, (long)RING * ROUNDS);
  for (int i = 0; i < RING; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
    for (int r = 0; r <= ROUNDS; r++) weft_future_release(slots[i][r]);
  }
  return 0;
}

START_TEST(token_ring_across_workers) {
  for (unsigned w = 1; w <= 4; w++) ck_assert_int_eq(run_main(w, ring_main, NULL, NULL), 0);
}
END_TEST

/* Wake storm: many tasks wait on one gate; opening it wakes them all at
 * once on every worker; they then hammer a second gate. */
static _Atomic long passed;

static int storm_member(void *arg, void **res) {
  weft_future_t **gates = arg;
  for (int g = 0; g < 8; g++) {
    int rc = weft_await(gates[g], NULL);
    if (rc) return rc;
    atomic_fetch_add(&passed, 1);
  }
  return 0;
}

static int storm_main(void *arg, void **res) {
  long n = scaled(2000);
  weft_future_t *gates[8];
  for (int g = 0; g < 8; g++) weft_future_new(NULL, &gates[g]);
  weft_task_t **ts = calloc((size_t)n, sizeof *ts);
  for (long i = 0; i < n; i++) ck_assert_int_eq(weft_spawn(storm_member, gates, &ts[i]), 0);
  for (int g = 0; g < 8; g++) {
    weft_yield();
    weft_future_set_result(gates[g], NULL);
  }
  for (long i = 0; i < n; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  free(ts);
  for (int g = 0; g < 8; g++) weft_future_release(gates[g]);
  ck_assert_int_eq(atomic_load(&passed), 8 * n);
  return 0;
}

START_TEST(wake_storm) {
  atomic_store(&passed, 0);
  ck_assert_int_eq(run_main(4, storm_main, NULL, NULL), 0);
}
END_TEST

/* Tasks spawned from one task on 4 workers, each yielding 10 times: every
 * step runs exactly once, whichever worker steals it. */
static _Atomic long ran_on[8];

static int note_worker(void *arg, void **res) {
  for (int i = 0; i < 10; i++) {
    atomic_fetch_add(&ran_on[weft_worker_index()], 1);
    if (weft_yield()) return -ECANCELED;
  }
  return 0;
}

static int spread_main(void *arg, void **res) {
  enum { N = 1000 };
  static weft_task_t *ts[N];
  for (int i = 0; i < N; i++) ck_assert_int_eq(weft_spawn(note_worker, NULL, &ts[i]), 0);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  long total = 0;
  for (int i = 0; i < 4; i++) total += atomic_load(&ran_on[i]);
  ck_assert_int_eq(total, N * 10);
  return 0;
}

START_TEST(spawned_work_runs_exactly_once) {
  ck_assert_int_eq(run_main(4, spread_main, NULL, NULL), 0);
}
END_TEST

/* Stop and run again many times while tasks are in flight. */
static int ticker(void *arg, void **res) {
  long *count = arg;
  while (weft_sleep_ns(100000) == 0) (*count)++;
  return 0;
}

START_TEST(repeated_stop_and_run) {
  weft_loop_t *loop = make_loop(3);
  static long count;
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn_opts(loop, ticker, &count, NULL, &t), 0);
  for (int i = 0; i < 50; i++) {
    /* stop() before run_forever(): exactly one pass per worker. */
    ck_assert_int_eq(weft_loop_stop(loop), 0);
    ck_assert_int_eq(weft_loop_run_forever(loop), 0);
    ck_assert_int_eq(weft_loop_is_running(loop), 0);
  }
  weft_task_cancel(t, NULL);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), NULL), 0);
  weft_task_release(t);
  close_clean(loop);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("worker");
  TCase *tc = tcase_create("worker");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, token_ring_across_workers);
  tcase_add_test(tc, wake_storm);
  tcase_add_test(tc, spawned_work_runs_exactly_once);
  tcase_add_test(tc, repeated_stop_and_run);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
