/*
 * test_signal.c - io/signal.c, the loop's signal handlers
 * (add_signal_handler): bad arguments refused, each delivery runs the
 * callback on the loop, removal, and a handler added between runs still
 * covers every worker thread. Run once per backend.
 */
#include "io_helpers.h"
#include <signal.h>

struct sigctx {
  weft_event_t *got;
  int count;
};

static void on_usr1(void *arg) {
  struct sigctx *c = arg;
  c->count++;
  weft_event_set(c->got);
}

static int signal_main(void *arg, void **res) {
  (void)res;
  struct sigctx *c = arg;
  ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
  ck_assert_int_eq(weft_event_wait(c->got, -1), 0);
  ck_assert_int_eq(c->count, 1);
  weft_event_clear(c->got);
  ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
  ck_assert_int_eq(weft_event_wait(c->got, -1), 0);
  ck_assert_int_eq(c->count, 2);
  return 0;
}

START_TEST(test_signals) {
#if defined(__SANITIZE_THREAD__)
  return; /* see test_signals_between_runs */
#endif
  weft_loop_t *loop = make_loop(1);
  struct sigctx c = {0};
  ck_assert_int_eq(weft_event_create(&c.got), 0);
  ck_assert_int_eq(weft_loop_add_signal_handler(loop, SIGKILL, on_usr1, &c), -EINVAL);
  ck_assert_int_eq(weft_loop_add_signal_handler(loop, 0, on_usr1, &c), -EINVAL);
  ck_assert_int_eq(weft_loop_add_signal_handler(loop, SIGUSR1, NULL, &c), -EINVAL);
  ck_assert_int_eq(weft_loop_add_signal_handler(loop, SIGUSR1, on_usr1, &c), 0);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn_opts(loop, signal_main, &c, NULL, &t), 0);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), NULL), 0);
  weft_task_release(t);
  ck_assert_int_eq(weft_loop_remove_signal_handler(loop, SIGUSR1), 1);
  ck_assert_int_eq(weft_loop_remove_signal_handler(loop, SIGUSR1), 0);
  close_clean(loop);
  weft_event_destroy(c.got);
}
END_TEST

/* Worker threads outlive runs: a handler added between runs must still be
 * blocked in them (each run hands them the caller's mask), or the signal
 * could reach a worker with its default action and end the process. */
static int raise_from_each(void *arg, void **res) {
  (void)res;
  struct sigctx *c = arg;
  for (int i = 0; i < 5; i++) {
    weft_event_clear(c->got);
    ck_assert_int_eq(kill(getpid(), SIGUSR2), 0);
    ck_assert_int_eq(weft_event_wait(c->got, -1), 0);
  }
  return 0;
}

static int noop(void *arg, void **res) {
  (void)arg;
  (void)res;
  return 0;
}

START_TEST(test_signals_between_runs) {
#if defined(__SANITIZE_THREAD__)
  /* TSan's own threads do not block the signal, so a process-directed
   * signal may land there; this test needs every thread to be ours. */
  return;
#endif
  weft_loop_t *loop = make_loop(3);
  weft_task_t *t;
  /* Run once: the worker threads start, before any handler exists. */
  ck_assert_int_eq(weft_spawn_opts(loop, noop, NULL, NULL, &t), 0);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), NULL), 0);
  weft_task_release(t);
  struct sigctx c = {0};
  ck_assert_int_eq(weft_event_create(&c.got), 0);
  ck_assert_int_eq(weft_loop_add_signal_handler(loop, SIGUSR2, on_usr1, &c), 0);
  for (int w = 0; w < 3; w++) { /* raised from every worker's thread */
    struct weft_task_opts o;
    weft_task_opts_init(&o);
    o.worker = w;
    ck_assert_int_eq(weft_spawn_opts(loop, raise_from_each, &c, &o, &t), 0);
    ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), NULL), 0);
    weft_task_release(t);
  }
  ck_assert_int_eq(c.count, 15);
  ck_assert_int_eq(weft_loop_remove_signal_handler(loop, SIGUSR2), 1);
  close_clean(loop);
  weft_event_destroy(c.got);
}
END_TEST

static Suite *signal_suite(void) {
  Suite *s = suite_create("io_signal");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_signals);
  tcase_add_test(tc, test_signals_between_runs);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_IO_TEST_MAIN(signal_suite)
