/* test_loop_limits.c - runtime/loop.c when worker threads cannot be started
 * (thread or cgroup pids limits): run returns -EAGAIN, and close and
 * weft_run end instead of retrying forever, with nothing leaked. This
 * program is linked with -Wl,--wrap=pthread_create so the test can make
 * thread creation fail (a real RLIMIT_NPROC does not bind root). */
#include "helpers.h"

#include <errno.h>
#include <pthread.h>

static _Atomic int fail_threads;

int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
  if (atomic_load(&fail_threads)) return EAGAIN;
  return __real_pthread_create(t, a, fn, arg);
}

static _Atomic int ran;

static int body(void *arg, void **res) {
  atomic_fetch_add(&ran, 1);
  return 0;
}

static void cb(void *arg) { atomic_fetch_add(&ran, 1); }

START_TEST(run_and_close_without_threads) {
  atomic_store(&fail_threads, 1);
  atomic_store(&ran, 0);
  /* weft_run: the error, promptly, and the loop is freed (ASan: no leak). */
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 4;
  ck_assert_int_eq(weft_run_config(&cfg, body, NULL, NULL), -EAGAIN);
  /* Work queued for every worker, pinned tasks included: close ends them
   * all (they never started, so they end cancelled) and frees everything. */
  weft_loop_t *loop = make_loop(4);
  weft_task_t *ts[4];
  for (int k = 0; k < 4; k++) {
    struct weft_task_opts o;
    weft_task_opts_init(&o);
    o.worker = k;
    ck_assert_int_eq(weft_spawn_opts(loop, body, NULL, &o, &ts[k]), 0);
    ck_assert_int_eq(weft_call_soon_threadsafe(loop, cb, NULL, NULL), 0);
  }
  ck_assert_int_eq(weft_loop_run_forever(loop), -EAGAIN);
  ck_assert_int_eq(weft_loop_close(loop), 4); /* our four task references */
  for (int k = 0; k < 4; k++) {
    ck_assert_int_eq(weft_future_cancelled(weft_task_future(ts[k])), 1);
    weft_task_release(ts[k]); /* the last one frees the loop */
  }
  ck_assert_int_eq(atomic_load(&ran), 0); /* nothing ran: closing drops callbacks */
  /* Threads come back: the same program works. */
  atomic_store(&fail_threads, 0);
  ck_assert_int_eq(weft_run_config(&cfg, body, NULL, NULL), 0);
  ck_assert_int_eq(atomic_load(&ran), 1);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("loop_limits");
  TCase *tc = tcase_create("loop_limits");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, run_and_close_without_threads);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
