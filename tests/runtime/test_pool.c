/*
 * test_pool.c - runtime/pool.c, the one thread pool: threads start on
 * demand up to the bound, an idle thread is handed work directly, idle
 * threads leave after their timeout, shutdown runs what was queued and
 * refuses the rest, and a pool its owner let go of is freed by its last
 * thread (ASan watches).
 */
#include "helpers.h"
#include "deadline.h"
#include "gate.h"
#include "pool.h"

#include <errno.h>
#include <pthread.h>

/* Blocks until the gate opens. */
static void gated(struct weft__pool_work *w) {
  (void)w;
  pass_gate();
}

static void quick(struct weft__pool_work *w) {
  (void)w;
  bump(&finished);
}

static struct weft__pool *make(unsigned max, int64_t idle_ns) {
  struct weft__pool_config cfg = {.max_threads = max, .idle_ns = idle_ns, .name = "test-pool"};
  struct weft__pool *p;
  ck_assert_int_eq(weft__pool_new(&cfg, &p), 0);
  return p;
}

START_TEST(bounded_and_queued) {
  struct weft__pool *p = make(3, -1);
  struct weft__pool_work w[5];
  for (int i = 0; i < 5; i++) {
    w[i].run = gated;
    ck_assert_int_eq(weft__pool_submit(p, &w[i]), 0);
  }
  wait_count(&started, 3);
  struct weft__pool_stats s;
  weft__pool_stats(p, &s);
  ck_assert_uint_eq(s.threads, 3); /* the bound */
  ck_assert_uint_eq(s.running, 3);
  ck_assert_uint_eq(s.queued, 2);
  ck_assert(weft__pool_unqueue(p, &w[4])); /* not started: taken back */
  open_gate();
  wait_count(&finished, 4);
  ck_assert_uint_eq(atomic_load(&started), 4);
  ck_assert_int_eq(weft__pool_shutdown(p, 0), 0);
  weft__pool_stats(p, &s);
  ck_assert_uint_eq(s.threads, 0);
  weft__pool_release(p);
}
END_TEST

START_TEST(idle_threads_take_work_and_leave) {
  struct weft__pool *p = make(4, 20 * 1000000LL);
  struct weft__pool_work w = {.run = quick};
  ck_assert_int_eq(weft__pool_submit(p, &w), 0);
  wait_count(&finished, 1);
  struct weft__pool_stats s;
  /* The thread is idle now or about to be: new work reuses it. */
  ck_assert_int_eq(weft__pool_submit(p, &w), 0);
  wait_count(&finished, 2);
  weft__pool_stats(p, &s);
  ck_assert_uint_le(s.threads, 2);
  /* With nothing to do, the idle timeout sends the threads away. */
  ck_assert_int_eq(weft__pool_wait_threads(p, 0, weft__deadline(10 * 1000000000LL)), 0);
  weft__pool_stats(p, &s);
  ck_assert_uint_eq(s.threads, 0);
  ck_assert_int_eq(weft__pool_submit(p, &w), 0); /* and come back on demand */
  wait_count(&finished, 3);
  ck_assert_int_eq(weft__pool_shutdown(p, 0), 0);
  weft__pool_release(p);
}
END_TEST

START_TEST(shutdown_runs_queued_and_refuses_new) {
  struct weft__pool *p = make(1, -1);
  struct weft__pool_work a = {.run = gated}, b = {.run = quick}, c = {.run = quick};
  ck_assert_int_eq(weft__pool_submit(p, &a), 0);
  wait_count(&started, 1);
  ck_assert_int_eq(weft__pool_submit(p, &b), 0); /* queued behind a */
  ck_assert_int_eq(weft__pool_shutdown(p, weft__deadline(0)), -ETIMEDOUT); /* a still runs */
  ck_assert_int_eq(weft__pool_submit(p, &c), WEFT_ESHUTDOWN);
  open_gate();
  ck_assert_int_eq(weft__pool_shutdown(p, 0), 0); /* waits: b ran too */
  ck_assert_uint_eq(atomic_load(&finished), 2);
  weft__pool_release(p);
}
END_TEST

START_TEST(last_thread_frees_a_released_pool) {
  struct weft__pool *p = make(2, -1);
  static struct weft__pool_work w[2];
  for (int i = 0; i < 2; i++) {
    w[i].run = gated;
    ck_assert_int_eq(weft__pool_submit(p, &w[i]), 0);
  }
  wait_count(&started, 2);
  weft__pool_stop(p);
  weft__pool_release(p); /* the owner lets go while both still run */
  open_gate();
  wait_count(&finished, 2); /* the threads leave and the last frees (ASan: no leak) */
}
END_TEST

START_TEST(a_spinning_thread_takes_the_next_item) {
  /* One thread, spinning up to 5 s between items: each item is found by
   * the spinner (or, if it has not started spinning yet, by its next look
   * at the queue); shutdown ends the spin at once (the test's timeout
   * would catch a 5 s spin per shutdown only as slowness, not as failure:
   * what this exercises is the spin path itself, under TSan too). */
  struct weft__pool_config cfg = {.max_threads = 1, .idle_ns = -1, .spin_ns = 5 * 1000000000LL};
  struct weft__pool *p;
  ck_assert_int_eq(weft__pool_new(&cfg, &p), 0);
  struct weft__pool_work w = {.run = quick};
  for (uint32_t i = 1; i <= 20; i++) {
    ck_assert_int_eq(weft__pool_submit(p, &w), 0);
    wait_count(&finished, i);
  }
  struct weft__pool_stats s;
  weft__pool_stats(p, &s);
  ck_assert_uint_eq(s.threads, 1);
  ck_assert_uint_eq(s.idle, 0); /* spinning, not waiting */
  ck_assert_int_eq(weft__pool_shutdown(p, 0), 0);
  weft__pool_release(p);
}
END_TEST

/* Two foreign threads submit a burst each to a pool of three threads that
 * spin a little between items: items go to spinning threads through the
 * queue, to idle ones directly, and to new threads while the pool grows;
 * every item runs exactly once, and the stats agree at the end. */
enum { BURST = 2000 };
static struct weft__pool *burst_pool;
static struct weft__pool_work burst_items[2][BURST];

static void *submit_burst(void *arg) {
  struct weft__pool_work *items = arg;
  for (uint32_t i = 0; i < BURST; i++) {
    items[i].run = quick;
    ck_assert_int_eq(weft__pool_submit(burst_pool, &items[i]), 0);
    if (i % 16 == 15) wait_count(&finished, i + 1); /* let threads go idle now and then */
  }
  return NULL;
}

START_TEST(spinning_and_idle_threads_share_a_burst) {
  struct weft__pool_config cfg = {.max_threads = 3, .idle_ns = -1, .spin_ns = 20000};
  ck_assert_int_eq(weft__pool_new(&cfg, &burst_pool), 0);
  pthread_t th[2];
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, submit_burst, burst_items[i]);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  wait_count(&finished, 2 * BURST);
  struct weft__pool_stats s;
  weft__pool_stats(burst_pool, &s);
  ck_assert_uint_le(s.threads, 3);
  ck_assert_uint_eq(s.queued, 0);
  ck_assert_int_eq(weft__pool_shutdown(burst_pool, 0), 0);
  ck_assert_uint_eq(atomic_load(&finished), 2 * BURST); /* none ran twice */
  weft__pool_release(burst_pool);
}
END_TEST

/* Work that says it is finishing before its last step (the executor
 * completing a call's future): the next item, submitted once that step
 * is seen, goes to the same thread, whether it is still finishing,
 * spinning or idle, so round trips one after another never start a
 * second thread. */
static void finishing_quick(struct weft__pool_work *w) {
  (void)w;
  weft__pool_finishing();
  weft__pool_finishing(); /* twice: counted once */
  bump(&finished);
}

START_TEST(round_trips_one_after_another_keep_one_thread) {
  struct weft__pool_config cfg = {.max_threads = 4, .idle_ns = -1, .spin_ns = 20000};
  struct weft__pool *p;
  ck_assert_int_eq(weft__pool_new(&cfg, &p), 0);
  struct weft__pool_work w = {.run = finishing_quick};
  for (uint32_t i = 1; i <= (uint32_t)scaled(5000); i++) {
    ck_assert_int_eq(weft__pool_submit(p, &w), 0);
    wait_count(&finished, i);
  }
  struct weft__pool_stats s;
  weft__pool_stats(p, &s);
  ck_assert_uint_eq(s.threads, 1);
  ck_assert_int_eq(weft__pool_shutdown(p, 0), 0);
  weft__pool_release(p);
  weft__pool_finishing(); /* not a pool thread: nothing */
}
END_TEST

START_TEST(bad_config) {
  struct weft__pool_config cfg = {.max_threads = 0};
  struct weft__pool *p;
  ck_assert_int_eq(weft__pool_new(&cfg, &p), -EINVAL);
  ck_assert_int_eq(weft__pool_new(NULL, &p), -EINVAL);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("pool");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, bounded_and_queued);
  tcase_add_test(tc, idle_threads_take_work_and_leave);
  tcase_add_test(tc, shutdown_runs_queued_and_refuses_new);
  tcase_add_test(tc, last_thread_frees_a_released_pool);
  tcase_add_test(tc, a_spinning_thread_takes_the_next_item);
  tcase_add_test(tc, spinning_and_idle_threads_share_a_burst);
  tcase_add_test(tc, round_trips_one_after_another_keep_one_thread);
  tcase_add_test(tc, bad_config);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
