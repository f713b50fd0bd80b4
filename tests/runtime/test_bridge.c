/* test_bridge.c - runtime/bridge.c: run_threadsafe from foreign threads, their
 * waits with timeouts, and cancellation from outside reaching the task. */
#include "helpers.h"

#include <errno.h>
#include <pthread.h>

static int square(void *arg, void **res) {
  long x = (long)arg;
  if (weft_yield()) return -ECANCELED;
  *res = (void *)(x * x);
  return 0;
}

static int sleepy(void *arg, void **res) { return weft_sleep(3600); }

struct runner {
  weft_loop_t *loop;
  weft_future_t *stop;
  int rc;
};

static void *run_loop(void *arg) {
  struct runner *r = arg;
  r->rc = weft_loop_run_until_complete(r->loop, r->stop, NULL);
  return NULL;
}

#define THREADS 4
static long per_thread;

static void *submitter(void *arg) {
  weft_loop_t *loop = arg;
  for (long i = 0; i < per_thread; i++) {
    weft_future_t *f;
    ck_assert_int_eq(weft_run_threadsafe(loop, square, (void *)i, &f), 0);
    void *r;
    ck_assert_int_eq(weft_future_wait_threadsafe(f, -1, &r), 0);
    ck_assert_int_eq((long)r, i * i);
    weft_future_release(f);
  }
  return NULL;
}

START_TEST(foreign_threads_flood_run_threadsafe) {
  per_thread = scaled(20000);
  struct runner r = {.loop = make_loop(4)};
  ck_assert_int_eq(weft_future_new(r.loop, &r.stop), 0);
  pthread_t loop_th, th[THREADS];
  pthread_create(&loop_th, NULL, run_loop, &r);
  for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, submitter, r.loop);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  ck_assert_int_eq(weft_future_set_result(r.stop, NULL), 0);
  pthread_join(loop_th, NULL);
  ck_assert_int_eq(r.rc, 0);
  weft_future_release(r.stop);
  close_clean(r.loop);
}
END_TEST

START_TEST(foreign_wait_timeout_then_cancel) {
  struct runner r = {.loop = make_loop(2)};
  ck_assert_int_eq(weft_future_new(r.loop, &r.stop), 0);
  pthread_t loop_th;
  pthread_create(&loop_th, NULL, run_loop, &r);
  weft_future_t *f;
  ck_assert_int_eq(weft_run_threadsafe(r.loop, sleepy, NULL, &f), 0);
  ck_assert_int_eq(weft_future_wait_threadsafe(f, 20 * 1000000, NULL), -ETIMEDOUT);
  ck_assert_int_eq(weft_future_cancel(f, "from outside"), 1);
  ck_assert_int_eq(weft_future_wait_threadsafe(f, -1, NULL), -ECANCELED);
  const char *msg;
  ck_assert_int_eq(weft_future_error(f, &msg), -ECANCELED);
  ck_assert_str_eq(msg, "from outside");
  weft_future_release(f);
  weft_future_set_result(r.stop, NULL);
  pthread_join(loop_th, NULL);
  weft_future_release(r.stop);
  close_clean(r.loop);
}
END_TEST

static int wait_rc;
static void wait_in_callback(void *arg) { wait_rc = weft_future_wait_threadsafe(arg, 0, NULL); }

static int deadlock_main(void *arg, void **res) {
  weft_future_t *f;
  weft_future_new(NULL, &f);
  ck_assert_int_eq(weft_future_wait_threadsafe(f, 0, NULL), -EDEADLK);
  weft_call_soon(wait_in_callback, f, NULL);
  weft_yield();
  ck_assert_int_eq(wait_rc, -EDEADLK);
  weft_future_release(f);
  return 0;
}

START_TEST(workers_may_not_block_on_futures) {
  ck_assert_int_eq(run_main(1, deadlock_main, NULL, NULL), 0);
}
END_TEST

START_TEST(run_threadsafe_errors) {
  weft_future_t *f;
  ck_assert_int_eq(weft_run_threadsafe(NULL, square, NULL, &f), -EINVAL);
  weft_loop_t *loop = make_loop(1);
  ck_assert_int_eq(weft_run_threadsafe(loop, NULL, NULL, &f), -EINVAL);
  ck_assert_int_eq(weft_run_threadsafe(loop, square, NULL, NULL), -EINVAL);
  /* Submitted before the loop runs: it runs when the loop does. */
  ck_assert_int_eq(weft_run_threadsafe(loop, square, (void *)3, &f), 0);
  void *r;
  ck_assert_int_eq(weft_loop_run_until_complete(loop, f, &r), 0);
  ck_assert_int_eq((long)r, 9);
  weft_future_release(f);
  close_clean(loop);
}
END_TEST

/* ---- order across threads: one ready queue, as asyncio's ---------------------- */

static pthread_mutex_t ord_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ord_c = PTHREAD_COND_INITIALIZER;
static int ord_pushed;
static char ord_trace[8];
static _Atomic int ord_n;

static void ord_note(void *arg) { ord_trace[atomic_fetch_add(&ord_n, 1)] = *(const char *)arg; }

static void *ord_foreign(void *arg) {
  pthread_mutex_lock(&ord_m);
  ck_assert_int_eq(weft_call_soon_threadsafe(arg, ord_note, "F", NULL), 0);
  ord_pushed = 1;
  pthread_cond_signal(&ord_c);
  pthread_mutex_unlock(&ord_m);
  return NULL;
}

static int ord_main(void *arg, void **res) {
  pthread_t th;
  ord_pushed = 0;
  atomic_store(&ord_n, 0);
  ck_assert_int_eq(pthread_create(&th, NULL, ord_foreign, weft_loop_current()), 0);
  /* Block this worker (no suspension) until the foreign push happened:
   * through the mutex, it happens-before our call_soon. */
  pthread_mutex_lock(&ord_m);
  while (!ord_pushed) pthread_cond_wait(&ord_c, &ord_m);
  pthread_mutex_unlock(&ord_m);
  ck_assert_int_eq(weft_call_soon(ord_note, "L", NULL), 0);
  pthread_join(th, NULL);
  weft_yield();
  weft_yield();
  ck_assert_int_eq(atomic_load(&ord_n), 2);
  ord_trace[2] = 0;
  ck_assert_str_eq(ord_trace, "FL");
  return 0;
}

START_TEST(threadsafe_call_before_local_call_runs_first) {
  for (int i = 0; i < 20; i++) ck_assert_int_eq(run_main(1, ord_main, NULL, NULL), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("bridge");
  TCase *tc = tcase_create("bridge");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, foreign_threads_flood_run_threadsafe);
  tcase_add_test(tc, foreign_wait_timeout_then_cancel);
  tcase_add_test(tc, workers_may_not_block_on_futures);
  tcase_add_test(tc, run_threadsafe_errors);
  tcase_add_test(tc, threadsafe_call_before_local_call_runs_first);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
