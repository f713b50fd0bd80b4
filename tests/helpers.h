/*
 * helpers.h - shared by the test programs: loops that must close clean, and
 * the Check main.
 */
#ifndef WEFT_TEST_HELPERS_H
#define WEFT_TEST_HELPERS_H

#include <check.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
#include <weft.h>

/* Writes 2 KiB of the stack below the caller, where the frames of a call
 * that just returned were (a waiter node, say): a thread still writing
 * there races this, which TSan reports (or the scribble lands on a return
 * address and the test crashes). For tests of the waker rule. */
static __attribute__((noinline, unused)) void scribble_stack(void) {
  char buf[2048];
  memset(buf, 0x5a, sizeof buf);
  __asm__ volatile("" : : "r"(buf) : "memory");
}

/* Stress sizes shrink under the sanitizers (WEFT_TEST_SCALE=10 divides them
 * by 10); the assertions stay the same. */
static inline long scaled(long n) {
  const char *s = getenv("WEFT_TEST_SCALE");
  long d = s ? atol(s) : 1;
  return d > 1 ? n / d : n;
}

static inline weft_loop_t *make_loop_order(unsigned workers, int order) {
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = workers;
  cfg.order = order;
  weft_loop_t *loop = NULL;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), 0);
  return loop;
}

static inline weft_loop_t *make_loop(unsigned workers) {
  return make_loop_order(workers, WEFT_ORDER_DEFAULT);
}

/* Closes @loop and asserts nothing it made is still alive. */
static inline void close_clean(weft_loop_t *loop) { ck_assert_int_eq(weft_loop_close(loop), 0); }

/* Runs @fn as the main task on a fresh loop of @workers; returns its error
 * code and result; asserts the loop closes with nothing leaked. */
static inline int run_main_order(unsigned workers, int order, weft_task_fn fn, void *arg,
                                 void **result) {
  weft_loop_t *loop = make_loop_order(workers, order);
  weft_task_t *t = NULL;
  ck_assert_int_eq(weft_spawn_opts(loop, fn, arg, NULL, &t), 0);
  int rc = weft_loop_run_until_complete(loop, weft_task_future(t), result);
  weft_task_release(t);
  close_clean(loop);
  return rc;
}

static inline int run_main(unsigned workers, weft_task_fn fn, void *arg, void **result) {
  return run_main_order(workers, WEFT_ORDER_DEFAULT, fn, arg, result);
}

/* Loop shapes for tests that must hold on each (a loop test's index 0-2):
 * one worker in asyncio's FIFO order, one in LOCALITY order, two workers. */
enum { LOOP_SHAPES = 3 };
static inline int run_main_shape(int shape, weft_task_fn fn, void *arg) {
  return run_main_order(shape == 2 ? 2 : 1, shape == 1 ? WEFT_ORDER_LOCALITY : WEFT_ORDER_DEFAULT,
                        fn, arg, NULL);
}

/* asyncio's order on one worker, checked by traces: tasks note letters into
 * one trace as they run, and a test compares it with what CPython prints
 * for the same program (each test names it). One worker only: no locking. */
static struct {
  char s[32];
  int n;
} pass_trace __attribute__((unused));

static inline void pass_note(char c) {
  if (pass_trace.n < (int)sizeof pass_trace.s - 1) pass_trace.s[pass_trace.n++] = c;
  pass_trace.s[pass_trace.n] = 0;
}

/* Empties the trace. */
static inline void pass_reset(void) { pass_trace.n = 0, pass_trace.s[0] = 0; }

/* From a task: notes each letter of @letters, yielding after each. */
static inline void pass_note_each(const char *letters) {
  for (; *letters; letters++) {
    pass_note(*letters);
    weft_yield();
  }
}

/* A task that notes each letter of @arg (a string) a pass later than the
 * one before: a yield, then the letter. */
static inline int pass_ticker(void *arg, void **res) {
  for (const char *c = arg; *c; c++) {
    weft_yield();
    pass_note(*c);
  }
  return 0;
}

/* From a task: @n new futures, set already if @done (their results NULL). */
static inline void futures_new(weft_future_t **fs, int n, bool done) {
  for (int i = 0; i < n; i++) {
    ck_assert_int_eq(weft_future_new(NULL, &fs[i]), 0);
    if (done) ck_assert_int_eq(weft_future_set_result(fs[i], NULL), 0);
  }
}

/* Releases @n futures. */
static inline void futures_release(weft_future_t **fs, int n) {
  for (int i = 0; i < n; i++) weft_future_release(fs[i]);
}

/* From a task, the start of a one-worker hop test (the combinators'
 * `one_worker_hops_as_asyncio`): the trace emptied, @n futures in @fs
 * (done if @done), @subject and a pass_ticker noting @ticks spawned into
 * ts[0] and ts[1], and a yield, so that both take their first step. */
static inline void hop_start(weft_future_t **fs, int n, bool done, weft_task_fn subject,
                             const char *ticks, weft_task_t **ts) {
  pass_reset();
  futures_new(fs, n, done);
  ck_assert_int_eq(weft_spawn(subject, NULL, &ts[0]), 0);
  ck_assert_int_eq(weft_spawn(pass_ticker, (void *)ticks, &ts[1]), 0);
  weft_yield();
}

/* From a task on a one-worker loop: spawns @fn("a") into *@a and @fn("b")
 * into *@b, yields so that both queue on what @fn waits for, and cancels
 * the first; with @uncancel, withdraws that request too, which does not
 * undo a cancellation already delivered to the wait (asyncio's cancelled
 * future still raises). */
static inline void two_waiters_first_cancelled(weft_task_fn fn, bool uncancel, weft_task_t **a,
                                               weft_task_t **b) {
  ck_assert_int_eq(weft_spawn(fn, "a", a), 0);
  ck_assert_int_eq(weft_spawn(fn, "b", b), 0);
  weft_yield(); /* both wait */
  weft_task_cancel(*a, NULL);
  if (uncancel) ck_assert_int_eq(weft_task_uncancel(*a), 0);
}

/* From a task: awaits @n tasks, asserting each returned 0, and releases them. */
static inline void await_all_ok(weft_task_t **ts, int n) {
  for (int i = 0; i < n; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
}

/* From a task: spawns @fn(@arg) pinned to worker @worker of the current
 * loop (weft_worker_index() for the caller's own: then it cannot start
 * before the caller suspends). Returns weft_spawn_opts()'s code. */
static inline int spawn_pinned(int worker, weft_task_fn fn, void *arg, weft_task_t **out) {
  struct weft_task_opts o;
  weft_task_opts_init(&o);
  o.worker = worker;
  return weft_spawn_opts(weft_loop_current(), fn, arg, &o, out);
}

/* From a task: spawns @n tasks of @fn(@arg) (@indexed: each given its
 * index 0..n-1 instead) and awaits each, every one expected to return 0
 * (n <= 256). */
static inline void spawn_n_and_join(weft_task_fn fn, void *arg, bool indexed, int n) {
  weft_task_t *ts[256];
  ck_assert_int_le(n, 256);
  for (int i = 0; i < n; i++)
    ck_assert_int_eq(weft_spawn(fn, indexed ? (void *)(intptr_t)i : arg, &ts[i]), 0);
  for (int i = 0; i < n; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
}

static inline void spawn_and_join(weft_task_fn fn, void *arg, int n) {
  spawn_n_and_join(fn, arg, false, n);
}

static inline void spawn_indexed_and_join(weft_task_fn fn, int n) {
  spawn_n_and_join(fn, NULL, true, n);
}

/* An unnamed scratch file in the current directory (ctest runs in the
 * build tree: a disk file system, where tmpfs would lack O_DIRECT); it is
 * gone once closed. -1 with errno on failure. */
static inline int scratch_file(void) { return open(".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600); }

/* A scratch file with a name, for code that opens it by path: @stem-<pid>
 * in the current directory (Check forks each test: one name per test),
 * created empty; its name in @path. The caller unlinks it. -1 on failure. */
static inline int named_scratch_file(const char *stem, char *path, size_t len) {
  snprintf(path, len, "%s-%d.out", stem, (int)getpid());
  return open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

/* For WEFT_TEST_MAIN_WITH: exits 77 (ctest's skip) with @why in builds
 * under ASan or TSan, and does nothing in plain builds. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WEFT_SKIP_UNDER_SANITIZERS(why)        \
  do {                                         \
    fprintf(stderr, "skipped: %s\n", (why));   \
    exit(77);                                  \
  } while (0)
#else
#define WEFT_SKIP_UNDER_SANITIZERS(why) (void)0
#endif

/* The Check main; @before runs first (a skip check, say). */
#define WEFT_TEST_MAIN_WITH(suite_fn, before)       \
  int main(void) {                                  \
    before;                                         \
    SRunner *sr = srunner_create(suite_fn());       \
    srunner_run_all(sr, CK_NORMAL);                 \
    int failed = srunner_ntests_failed(sr);         \
    srunner_free(sr);                               \
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;    \
  }
#define WEFT_TEST_MAIN(suite_fn) WEFT_TEST_MAIN_WITH(suite_fn, (void)0)

#endif
