/* test_stackguard.c - runtime/stackguard.c and the guard regions of
 * runtime/stack.c: a task that overflows its stack is reported (name, id,
 * stack size) and the process aborts, never running on into a neighbour's
 * stack; a 72 KiB frame (wider than a page) is caught too; a fault that is
 * not a guard hit goes to the handler the application installed first;
 * an overflow in a direct switch's bookkeeping (which runs on the stack of
 * the task switching out, after it stopped being the current one) is
 * reported as that task's, and one on a stack an ended task handed on to
 * its successor as the successor's. Each case runs in a child process
 * whose stderr and end we look at. */
#include "helpers.h"
#include "task.h" /* white box: the fiber's stack bounds */

#include <alloca.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

static long deep(long n) {
  volatile char frame[4096];
  frame[0] = (char)n;
  frame[sizeof frame - 1] = (char)n;
  return n ? deep(n - 1) + frame[0] : frame[sizeof frame - 1];
}

static int recurse(void *arg, void **res) {
  *res = (void *)(intptr_t)deep(1 << 20); /* far more than 64 KiB */
  return 0;
}

#define BIG (72 * 1024)

static int big_frame(void *arg, void **res) {
  volatile char buf[BIG]; /* writes its low end: below a one-page guard */
  buf[0] = 1;
  *res = (void *)(intptr_t)buf[0];
  return 0;
}

__attribute__((unused)) static int null_write(void *arg, void **res) {
  *(volatile int *)arg = 1; /* not a stack overflow */
  return 0;
}

static void run_one(weft_task_fn fn, void *arg, unsigned workers) {
  weft_loop_t *loop = make_loop(workers);
  struct weft_task_opts o;
  weft_task_opts_init(&o);
  o.name = "deep-diver";
  o.stack_size = 64 * 1024;
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn_opts(loop, fn, arg, &o, &t), 0);
  weft_loop_run_until_complete(loop, weft_task_future(t), NULL);
  _exit(3); /* reached only if nothing faulted */
}

/* Runs @fn in a child; returns its wait status and stderr in @err. */
static int in_child(weft_task_fn fn, void *arg, unsigned workers, void (*setup)(void), char *err,
                    size_t errlen) {
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    dup2(p[1], 2);
    close(p[0]);
    if (setup) setup();
    run_one(fn, arg, workers);
  }
  close(p[1]);
  size_t n = 0;
  ssize_t k;
  while (n < errlen - 1 && (k = read(p[0], err + n, errlen - 1 - n)) > 0) n += (size_t)k;
  err[n] = 0;
  close(p[0]);
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  return status;
}

START_TEST(overflow_is_reported_by_name) {
  for (unsigned w = 1; w <= 4; w += 3) {
    char err[512];
    int status = in_child(recurse, NULL, w, NULL, err, sizeof err);
    ck_assert(WIFSIGNALED(status));
    ck_assert_int_eq(WTERMSIG(status), SIGABRT);
    ck_assert_ptr_nonnull(strstr(err, "weft: stack overflow in task 'deep-diver' (id "));
    ck_assert_ptr_nonnull(strstr(err, "stack of 65536 bytes"));
  }
}
END_TEST

START_TEST(a_frame_wider_than_a_page_is_caught) {
  char err[512];
  int status = in_child(big_frame, NULL, 1, NULL, err, sizeof err);
  ck_assert(WIFSIGNALED(status));
  ck_assert_int_eq(WTERMSIG(status), SIGABRT);
  ck_assert_ptr_nonnull(strstr(err, "stack overflow in task 'deep-diver'"));
}
END_TEST

/* A task that yields with only @leave bytes of stack left below its
 * frame, @waiters tasks holding stacks and one more queued behind it: the
 * yield's switch prepares that task's first run on what is left of this
 * stack, taking a new slab of stacks (guard pages, pre-faulting: the
 * deepest bookkeeping) when the first slab is all in use. */
struct edge {
  size_t leave;
  int waiters;
  weft_event_t *go;
};

static int noop(void *arg, void **res) {
  (void)arg;
  (void)res;
  return 0;
}

static int hold_stack(void *arg, void **res) {
  (void)res;
  return weft_event_wait((weft_event_t *)arg, -1);
}

__attribute__((noinline)) static void yield_low(size_t leave) {
  struct weft_task *t = weft__task_self();
  char *sp = __builtin_frame_address(0);
  size_t room = (size_t)(sp - (char *)weft__task_run_of(t)->fiber.stack_lo);
  size_t take = room > leave + 128 ? room - leave - 128 : 0;
  volatile char *block = alloca(take);
  block[0] = 1;
  weft_yield();
  block[0] = 2;
}

static int edge_yield(void *arg, void **res) {
  (void)res;
  struct edge *e = arg;
  ck_assert_int_eq(weft_event_create(&e->go), 0);
  for (int i = 0; i < e->waiters; i++) ck_assert_int_eq(weft_spawn(hold_stack, e->go, NULL), 0);
  ck_assert_int_eq(weft_yield(), 0); /* they start (taking stacks) and wait */
  ck_assert_int_eq(weft_spawn(noop, NULL, NULL), 0);
  yield_low(e->leave);
  weft_event_set(e->go);
  return 0;
}

START_TEST(overflow_while_switching_out_is_reported) {
  int reported = 0;
  for (int waiters = 29; waiters <= 33; waiters++) {
    for (size_t leave = 0; leave <= 1024; leave += 16) {
      struct edge e = {.leave = leave, .waiters = waiters};
      char err[512];
      int status = in_child(edge_yield, &e, 1, NULL, err, sizeof err);
      if (WIFEXITED(status)) {
        ck_assert_int_eq(WEXITSTATUS(status), 3); /* enough stack: it ran to the end */
        continue;
      }
      /* Wherever the overflow happened (the yield's own frames, or the
       * switch's bookkeeping after the task stopped being current), it is
       * reported by name, never a bare SIGSEGV. */
      ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
                    "waiters %d, leave %zu: signal %d, stderr: %s", waiters, leave,
                    WIFSIGNALED(status) ? WTERMSIG(status) : -1, err);
      ck_assert_ptr_nonnull(strstr(err, "stack overflow in task 'deep-diver'"));
      reported++;
    }
  }
  ck_assert_int_gt(reported, 0);
}
END_TEST

/* A task that ends hands its stack to the next task's first run, when its
 * size fits (worker.c, "Stacks handed on"): an overflow there is the
 * successor's, and reported as such, not as the task that ended there. */
static int spawn_diver_and_end(void *arg, void **res) {
  (void)arg;
  (void)res;
  struct weft_task_opts o;
  weft_task_opts_init(&o);
  o.name = "successor";
  o.stack_size = 64 * 1024; /* run_one's size: the stack is handed on */
  ck_assert_int_eq(weft_spawn_opts(NULL, recurse, NULL, &o, NULL), 0);
  return 0;
}

START_TEST(overflow_on_a_handed_on_stack_names_its_new_task) {
  char err[512];
  int status = in_child(spawn_diver_and_end, NULL, 1, NULL, err, sizeof err);
  ck_assert(WIFSIGNALED(status));
  ck_assert_int_eq(WTERMSIG(status), SIGABRT);
  ck_assert_msg(strstr(err, "weft: stack overflow in task 'successor' (id ") != NULL, "stderr: %s",
                err);
}
END_TEST

static void app_handler(int sig) {
  static const char msg[] = "app handler\n";
  ssize_t unused = write(2, msg, sizeof msg - 1);
  (void)unused;
  _exit(42);
}

__attribute__((unused)) static void install_app_handler(void) { signal(SIGSEGV, app_handler); }

#if !defined(__SANITIZE_ADDRESS__) /* see suite() */
START_TEST(other_faults_reach_the_application) {
  char err[512];
  int status = in_child(null_write, NULL, 1, install_app_handler, err, sizeof err);
  ck_assert(WIFEXITED(status));
  ck_assert_int_eq(WEXITSTATUS(status), 42); /* chained to the handler installed first */
  ck_assert_ptr_null(strstr(err, "stack overflow"));
  /* Without one: the default action, a plain SIGSEGV. */
  status = in_child(null_write, NULL, 1, NULL, err, sizeof err);
  ck_assert(WIFSIGNALED(status));
  ck_assert_int_eq(WTERMSIG(status), SIGSEGV);
}
END_TEST
#endif

static Suite *suite(void) {
  Suite *s = suite_create("stackguard");
  TCase *tc = tcase_create("stackguard");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, overflow_is_reported_by_name);
  tcase_add_test(tc, a_frame_wider_than_a_page_is_caught);
  tcase_add_test(tc, overflow_while_switching_out_is_reported);
  tcase_add_test(tc, overflow_on_a_handed_on_stack_names_its_new_task);
#if !defined(__SANITIZE_ADDRESS__)
  /* ASan's own SIGSEGV handler stands between weft's and the one the
   * application installed first (ASan intercepts signal()). */
  tcase_add_test(tc, other_faults_reach_the_application);
#endif
  suite_add_tcase(s, tc);
  return s;
}

/* Under ASan weft's report appears as in plain builds (weft's handler is
 * installed over ASan's and runs first); TSan owns SIGSEGV. */
#if defined(__SANITIZE_THREAD__)
WEFT_TEST_MAIN_WITH(suite, WEFT_SKIP_UNDER_SANITIZERS("TSan handles SIGSEGV itself"))
#else
WEFT_TEST_MAIN(suite)
#endif
