/*
 * test_stats.c - runtime metrics and per-task accounting (runtime/stats.c,
 * weft/debug.h): counters move with the work that moves them, debug mode
 * times tasks, sampled accounting estimates them from every Nth slice,
 * the Prometheus text is well formed and sized like snprintf.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <unistd.h>

#include "helpers.h"
#include "ticks.h"

static void hello(void *arg) { atomic_fetch_add((_Atomic int *)arg, 1); }

__attribute__((noinline)) static void burn_ns(uint64_t ns) {
  uint64_t end = weft_now_ns() + ns; /* CPU work of a known length, not a wait */
  while (weft_now_ns() < end) {
  }
}

/* Spawns @fn pinned to worker 0 and awaits it: pinned, so that awaiting it
 * does not run it inline on our own slice (fork-join), which would count
 * its time as ours. */
static weft_task_t *spawn_pinned_and_await(weft_task_fn fn) {
  struct weft_task_opts o;
  weft_task_opts_init(&o);
  o.worker = 0;
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn_opts(NULL, fn, NULL, &o, &t), 0);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  return t;
}

static int timed_child(void *arg, void **res) {
  (void)arg;
  (void)res;
  burn_ns(5000000);        /* 5 ms on a worker */
  return weft_sleep(0.02); /* 20 ms suspended */
}

static int workload(void *arg, void **res) {
  (void)res;
  weft_loop_t *loop = weft_loop_current();
  _Atomic int calls = 0;
  weft_handle_t *h;
  ck_assert_int_eq(weft_call_soon(hello, (void *)&calls, &h), 0);
  weft_handle_release(h);
  for (int i = 0; i < 10; i++) ck_assert_int_eq(weft_sleep(0.001), 0);
  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  ck_assert_int_eq(weft_write(fds[1], "x", 1), 1);
  char c;
  ck_assert_int_eq(weft_read(fds[0], &c, 1), 1);
  close(fds[0]);
  close(fds[1]);
  ck_assert_int_eq(weft_loop_get_debug(loop), 1); /* cfg.debug */
  weft_task_t *t = spawn_pinned_and_await(timed_child);
  struct weft_task_stats ts;
  ck_assert_int_eq(weft_task_get_stats(t, &ts), 0);
  ck_assert_uint_ge(ts.runs, 2); /* started, then resumed after the sleep */
  ck_assert_uint_ge(ts.run_ns, 5000000);
  ck_assert_uint_ge(ts.max_slice_ns, 5000000);
  ck_assert_uint_le(ts.max_slice_ns, ts.run_ns);
  /* Suspended from the end of the slice that armed the 20 ms timer to the
   * timer's wake-up: a little under 20 ms, never much. */
  ck_assert_uint_ge(ts.suspended_ns, 10000000);
  weft_task_release(t);
  ck_assert_int_eq(atomic_load(&calls), 1);
  *(int *)arg = 1;
  return 0;
}

static void check_counters(unsigned workers) {
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = workers;
  cfg.debug = 1; /* every worker counts times from its first pass */
  weft_loop_t *loop;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), 0);
  int done = 0;
  weft_task_t *m;
  ck_assert_int_eq(weft_spawn_opts(loop, workload, &done, NULL, &m), 0);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(m), NULL), 0);
  weft_task_release(m);
  ck_assert_int_eq(done, 1);
  struct weft_loop_stats ls;
  ck_assert_int_eq(weft_loop_get_stats(loop, &ls), 0);
  ck_assert_uint_eq(ls.workers, workers);
  ck_assert_uint_eq(ls.live_tasks, 0);
  ck_assert_uint_ge(ls.total.polled, 14); /* main's slices, the child's, the callback */
  ck_assert_uint_ge(ls.total.timers_fired, 10);
  ck_assert_uint_ge(ls.total.handles_run, 1); /* ours, and run_until_complete's own */
  ck_assert_uint_ge(ls.total.io_submitted, 1);
  ck_assert_uint_eq(ls.total.io_submitted, ls.total.io_completed);
  ck_assert_uint_ge(ls.total.parks, 1); /* the sleeps leave the workers idle */
  ck_assert_uint_gt(ls.total.busy_ns, 0);
  ck_assert_uint_gt(ls.total.idle_ns, 0);
  ck_assert_int_eq(ls.debug, 1);
  ck_assert_ptr_nonnull(ls.io_backend);
  struct weft_worker_stats ws;
  ck_assert_int_eq(weft_loop_worker_stats(loop, 0, &ws), 0);
  ck_assert_uint_eq(ws.busy, 0); /* the loop is not running */
  ck_assert_int_eq(weft_loop_worker_stats(loop, workers, &ws), -EINVAL);

  /* Prometheus text: sized like snprintf, every family typed. */
  int need = weft_loop_stats_format(loop, NULL, 0);
  ck_assert_int_gt(need, 0);
  char *buf = malloc((size_t)need + 1);
  ck_assert_int_eq(weft_loop_stats_format(loop, buf, (size_t)need + 1), need);
  ck_assert_uint_eq(strlen(buf), (size_t)need);
  ck_assert_ptr_nonnull(strstr(buf, "# TYPE weft_worker_polls_total counter\n"));
  ck_assert_ptr_nonnull(strstr(buf, "weft_worker_polls_total{worker=\"0\"} "));
  ck_assert_ptr_nonnull(strstr(buf, "# TYPE weft_tasks gauge\nweft_tasks 0\n"));
  ck_assert_ptr_nonnull(strstr(buf, "# TYPE weft_owner_revocations_total counter\nweft_owner_revocations_total "));
  char small[16];
  ck_assert_int_eq(weft_loop_stats_format(loop, small, sizeof small), need);
  ck_assert_uint_eq(strlen(small), sizeof small - 1);
  free(buf);
  weft_loop_t *held = weft_loop_ref(loop);
  ck_assert_int_ge(weft_loop_close(loop), 0); /* our reference keeps its memory */
  ck_assert_int_eq(weft_loop_get_stats(held, &ls), WEFT_ECLOSED);
  ck_assert_int_eq(weft_loop_stats_format(held, NULL, 0), WEFT_ECLOSED);
  ck_assert_int_eq(weft_loop_worker_stats(held, 0, &ws), WEFT_ECLOSED);
  weft_loop_release(held);
}

/* A worker asleep counts as idle while it sleeps, not only once it wakes:
 * read during main's 200 ms sleep's neighbourhood, the other worker of a
 * two-worker loop (nothing to do, asleep throughout) gained at least half
 * of it as idle time. Before, a sleep in progress read as busy, so that
 * worker's idle time did not move at all. */
static int sleep_between_reads(void *arg, void **res) {
  unsigned other = weft_worker_index() == 0 ? 1 : 0;
  struct weft_worker_stats a, b;
  ck_assert_int_eq(weft_loop_worker_stats(weft_loop_current(), other, &a), 0);
  ck_assert_int_eq(weft_sleep_ns(200000000), 0);
  ck_assert_int_eq(weft_loop_worker_stats(weft_loop_current(), other, &b), 0);
  ck_assert_uint_ge(b.idle_ns, a.idle_ns + 100000000);
  ck_assert_uint_ge(b.busy_ns, a.busy_ns); /* counters never go back */
  return 0;
}

START_TEST(a_sleeping_worker_counts_as_idle_while_it_sleeps) {
  ck_assert_int_eq(run_main(2, sleep_between_reads, NULL, NULL), 0);
}
END_TEST

/* A thread reading a worker's idle and busy times while the worker
 * sleeps and wakes hundreds of times: neither ever goes back (the sleep
 * in progress is estimated inside the count's snapshot, which its end
 * never undercuts). Run under TSan too: the pair is a seqlock. */
static _Atomic bool reading_done;
static _Atomic long went_back, reads;
static sem_t reader_started; /* its first reads done: the run starts after them */

static void *stats_reader(void *arg) {
  weft_loop_t *loop = arg;
  uint64_t idle[2] = {0, 0}, busy[2] = {0, 0};
  bool started = false;
  while (!atomic_load(&reading_done)) {
    for (unsigned k = 0; k < 2; k++) {
      struct weft_worker_stats ws;
      if (weft_loop_worker_stats(loop, k, &ws) != 0) continue;
      if (ws.idle_ns < idle[k] || ws.busy_ns < busy[k]) atomic_fetch_add(&went_back, 1);
      idle[k] = ws.idle_ns;
      busy[k] = ws.busy_ns;
      atomic_fetch_add(&reads, 1);
    }
    if (!started) { /* once, after the first look at both workers */
      started = true;
      sem_post(&reader_started);
    }
  }
  return NULL;
}

static int short_sleeps(void *arg, void **res) {
  for (int i = 0; i < 300; i++) ck_assert_int_eq(weft_sleep_ns(200000), 0);
  return 0;
}

START_TEST(idle_and_busy_never_go_back_under_a_reader) {
  weft_loop_t *loop = make_loop(2);
  atomic_store(&reading_done, false);
  atomic_store(&went_back, 0);
  atomic_store(&reads, 0);
  ck_assert_int_eq(sem_init(&reader_started, 0, 0), 0);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, stats_reader, loop), 0);
  /* Not a wait for timing: the reader must be reading when the run
   * begins, however late a loaded machine starts its thread. */
  while (sem_wait(&reader_started) != 0) ck_assert_int_eq(errno, EINTR);
  weft_task_t *m;
  ck_assert_int_eq(weft_spawn_opts(loop, short_sleeps, NULL, NULL, &m), 0);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(m), NULL), 0);
  weft_task_release(m);
  atomic_store(&reading_done, true);
  pthread_join(th, NULL);
  sem_destroy(&reader_started);
  ck_assert_int_gt(atomic_load(&reads), 0);
  ck_assert_int_eq(atomic_load(&went_back), 0);
  ck_assert_int_ge(weft_loop_close(loop), 0);
}
END_TEST

START_TEST(counters_one_worker) { check_counters(1); }
END_TEST

START_TEST(counters_four_workers) { check_counters(4); }
END_TEST

/* 200 slices of 200 us of CPU, each followed by a 1 ms sleep. */
#define SAMPLED_SLICES 200
static int sampled_child(void *arg, void **res) {
  (void)arg;
  (void)res;
  for (int i = 0; i < SAMPLED_SLICES - 1; i++) {
    burn_ns(200000);
    if (weft_sleep(0.001) != 0) return -1;
  }
  burn_ns(200000);
  return 0;
}

struct sampled {
  int every;
  struct weft_task_stats ts;
};

static int sampled_main(void *arg, void **res) {
  (void)res;
  struct sampled *sm = arg;
  weft_task_t *t = spawn_pinned_and_await(sampled_child);
  ck_assert_int_eq(weft_task_get_stats(t, &sm->ts), 0);
  weft_task_release(t);
  return 0;
}

/* With one worker every slice of the loop goes through one countdown: the
 * child, alone with its parent (suspended while it runs), gets one timed
 * slice in @every, and its estimated totals are at least what it spent. */
static void check_sampled(int every) {
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 1;
  cfg.acct_sample = every;
  weft_loop_t *loop;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), 0);
  struct sampled sm = {.every = every};
  weft_task_t *m;
  ck_assert_int_eq(weft_spawn_opts(loop, sampled_main, &sm, NULL, &m), 0);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(m), NULL), 0);
  weft_task_release(m);
  struct weft_loop_stats ls;
  ck_assert_int_eq(weft_loop_get_stats(loop, &ls), 0);
  ck_assert_uint_eq(ls.acct_sample, (unsigned)every);
  ck_assert_int_ge(weft_loop_close(loop), 0);
  const struct weft_task_stats *ts = &sm.ts;
  ck_assert_uint_eq(ts->runs, SAMPLED_SLICES);
  if (every == 0) {
    ck_assert_uint_eq(ts->timed_slices, 0);
    ck_assert_uint_eq(ts->run_ns, 0);
    ck_assert_uint_eq(ts->suspended_ns, 0);
    return;
  }
  /* The parent's two or three slices share the countdown. */
  ck_assert_uint_ge(ts->timed_slices, SAMPLED_SLICES / (unsigned)every - 1);
  ck_assert_uint_le(ts->timed_slices, SAMPLED_SLICES / (unsigned)every + 1);
  ck_assert_uint_ge(ts->run_ns, (uint64_t)SAMPLED_SLICES * 200000);
  ck_assert_uint_ge(ts->max_slice_ns, 200000);
  /* Each timed suspension is a 1 ms sleep armed within the slice. */
  ck_assert_uint_ge(ts->suspended_ns, (uint64_t)(SAMPLED_SLICES - 1) * 900000);
  ck_assert_uint_gt(ts->ready_ns, 0);
}

START_TEST(sampled_every_4) { check_sampled(4); }
END_TEST

START_TEST(sampled_every_slice) { check_sampled(1); }
END_TEST

START_TEST(sampled_off) { check_sampled(0); }
END_TEST

/* The default period follows the counter's measured cost (loop.c): the
 * shortest period, from 32 to 1024, whose four reads per timed slice cost
 * at most 1 ns a slice. */
static void check_default_period(unsigned period) {
  uint64_t per_sample_ps = (uint64_t)weft__ticks_read_ns() * 4000u;
  ck_assert_uint_ge(period, 32);
  ck_assert_uint_le(period, 1024);
  if (period < 1024) ck_assert_uint_le(per_sample_ps, (uint64_t)period * 1000u);
  if (period > 32) ck_assert_uint_gt(per_sample_ps, (uint64_t)(period - 1) * 1000u);
}

/* A task that only yields, every slice timed (debug mode's period, 1):
 * each requeue takes its slice's end as the instant its wait for a worker
 * starts, so it counts a suspension of exactly 0 per yield (before, a
 * clock read a moment later counted a few ns), and the waits for a worker
 * are timed. */
enum { YIELDS = 50 };

static int yielder(void *arg, void **res) {
  (void)res;
  ck_assert_int_eq(weft_future_set_result(arg, NULL), 0); /* started: not run inline */
  for (int i = 0; i < YIELDS; i++) ck_assert_int_eq(weft_yield(), 0);
  return 0;
}

static int yield_main(void *arg, void **res) {
  (void)res;
  weft_task_t *t;
  weft_future_t *started;
  ck_assert_int_eq(weft_future_new(NULL, &started), 0);
  ck_assert_int_eq(weft_spawn(yielder, started, &t), 0);
  ck_assert_int_eq(weft_await(started, NULL), 0);
  weft_future_release(started);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  ck_assert_int_eq(weft_task_get_stats(t, arg), 0);
  weft_task_release(t);
  return 0;
}

static void check_yields(unsigned workers) {
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = workers;
  cfg.acct_sample = 1; /* every slice timed */
  struct weft_task_stats ts;
  ck_assert_int_eq(weft_run_config(&cfg, yield_main, &ts, NULL), 0);
  ck_assert_uint_eq(ts.runs, YIELDS + 1);
  ck_assert_uint_eq(ts.timed_slices, YIELDS + 1);
  ck_assert_uint_eq(ts.suspended_ns, 0);
  ck_assert_uint_gt(ts.run_ns, 0);
}

START_TEST(yields_are_not_suspensions_one_worker) { check_yields(1); }
END_TEST

START_TEST(yields_are_not_suspensions_two_workers) { check_yields(2); }
END_TEST

/* ---- local_queue counts what waits past the ring ---------------------- */

static int noop(void *arg, void **res) { return 0; }

/* One worker in FIFO order: the ring holds 1024; spawning more puts the
 * rest on the overflow list, which local_queue counts too (it is ready
 * work queued there). */
static int queue_main(void *arg, void **res) {
  enum { N = 3000 };
  weft_loop_t *loop = weft_loop_current();
  struct weft_worker_stats ws;
  ck_assert_int_eq(weft_loop_worker_stats(loop, 0, &ws), 0);
  uint64_t before = ws.local_queue;
  for (int i = 0; i < N; i++) ck_assert_int_eq(weft_spawn(noop, NULL, NULL), 0);
  ck_assert_int_eq(weft_loop_worker_stats(loop, 0, &ws), 0);
  ck_assert_uint_eq(ws.local_queue, before + N);
  ck_assert_int_eq(weft_sleep(0), 0); /* they all run before we go on (FIFO) */
  ck_assert_int_eq(weft_loop_worker_stats(loop, 0, &ws), 0);
  ck_assert_uint_eq(ws.local_queue, before);
  return 0;
}

/* A sampled spawn times the task's first wait for a worker, from the
 * spawn to its first slice (every spawn is sampled at period 1): here at
 * least the 2 ms its spawner kept the only worker busy after spawning. */
static int ends_at_once(void *arg, void **res) {
  (void)arg;
  (void)res;
  return 0;
}

static int first_wait_main(void *arg, void **res) {
  (void)res;
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(ends_at_once, NULL, &t), 0);
  burn_ns(2000000);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  ck_assert_int_eq(weft_task_get_stats(t, arg), 0);
  weft_task_release(t);
  return 0;
}

START_TEST(a_sampled_spawn_times_the_first_wait) {
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 1;
  cfg.order = WEFT_ORDER_FIFO; /* the await does not run it inline */
  cfg.acct_sample = 1;
  struct weft_task_stats ts;
  ck_assert_int_eq(weft_run_config(&cfg, first_wait_main, &ts, NULL), 0);
  ck_assert_uint_eq(ts.runs, 1);
  ck_assert_uint_eq(ts.timed_slices, 1);
  ck_assert_uint_ge(ts.ready_ns, 2000000);
}
END_TEST

START_TEST(local_queue_counts_the_overflow) {
  ck_assert_int_eq(run_main(1, queue_main, NULL, NULL), 0);
}
END_TEST

START_TEST(bad_input) {
  struct weft_loop_stats ls;
  struct weft_task_stats ts;
  ck_assert_int_eq(weft_loop_get_stats(NULL, &ls), -EINVAL);
  ck_assert_int_eq(weft_task_get_stats(NULL, &ts), -EINVAL);
  ck_assert_int_eq(weft_loop_stats_format(NULL, NULL, 0), -EINVAL);
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  ck_assert_int_eq(cfg.acct_sample, WEFT_ACCT_DEFAULT);
  weft_loop_t *bad = NULL;
  cfg.acct_sample = -2;
  ck_assert_int_eq(weft_loop_new(&cfg, &bad), -EINVAL);
  cfg.acct_sample = WEFT_ACCT_SAMPLE_MAX + 1;
  ck_assert_int_eq(weft_loop_new(&cfg, &bad), -EINVAL);
  ck_assert_ptr_null(bad);
  weft_loop_t *loop = make_loop(1);
  ck_assert_int_eq(weft_loop_get_stats(loop, &ls), 0);
  if (!getenv("WEFT_ACCT_SAMPLE") && !getenv("WEFT_DEBUG")) check_default_period(ls.acct_sample);
  ck_assert_int_eq(weft_loop_get_stats(loop, NULL), -EINVAL);
  ck_assert_int_eq(weft_loop_stats_format(loop, NULL, 5), -EINVAL);
  ck_assert_int_eq(weft_loop_set_debug(NULL, 1), -EINVAL);
  ck_assert_int_eq(weft_loop_get_debug(NULL), -EINVAL);
  ck_assert_int_eq(weft_loop_get_debug(loop), 0);
  ck_assert_int_eq(weft_loop_set_debug(loop, 1), 0);
  ck_assert_int_eq(weft_loop_get_debug(loop), 1);
  ck_assert_int_eq(weft_loop_set_debug(loop, 0), 0);
  ck_assert_int_eq(weft_loop_get_debug(loop), 0);
  weft_loop_t *held = weft_loop_ref(loop);
  ck_assert_int_ge(weft_loop_close(loop), 0);
  ck_assert_int_eq(weft_loop_set_debug(held, 1), WEFT_ECLOSED);
  weft_loop_release(held);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("stats");
  TCase *tc = tcase_create("stats");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, counters_one_worker);
  tcase_add_test(tc, a_sleeping_worker_counts_as_idle_while_it_sleeps);
  tcase_add_test(tc, idle_and_busy_never_go_back_under_a_reader);
  tcase_add_test(tc, counters_four_workers);
  tcase_add_test(tc, sampled_every_4);
  tcase_add_test(tc, sampled_every_slice);
  tcase_add_test(tc, sampled_off);
  tcase_add_test(tc, yields_are_not_suspensions_one_worker);
  tcase_add_test(tc, yields_are_not_suspensions_two_workers);
  tcase_add_test(tc, a_sampled_spawn_times_the_first_wait);
  tcase_add_test(tc, local_queue_counts_the_overflow);
  tcase_add_test(tc, bad_input);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
