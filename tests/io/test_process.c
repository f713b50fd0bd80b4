/*
 * test_process.c - subprocesses (io/process.c): exit codes, signals sent
 * to children, pipes in both directions, large transfers without
 * deadlock, spawn errors, cancellation of wait, a child that exits
 * without reading its stdin (-EPIPE, never SIGPIPE), a child's empty
 * signal mask though workers block SIGPIPE and SIGXFSZ.
 */
#include "io_helpers.h"
#include <signal.h>

static int exit_codes_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  weft_process_t *p;
  char *const f[] = {"sh", "-c", "exit 7", NULL};
  ck_assert_int_eq(weft_create_subprocess_exec("sh", f, NULL, &p), 0);
  ck_assert_int_gt(weft_process_pid(p), 0);
  int rc = -1;
  ck_assert_int_eq(weft_process_returncode(p, &rc), -EAGAIN);
  ck_assert_int_eq(weft_process_wait(p, &rc), 0);
  ck_assert_int_eq(rc, 7);
  ck_assert_int_eq(weft_process_wait(p, &rc), 0); /* again: the same */
  ck_assert_int_eq(rc, 7);
  ck_assert_int_eq(weft_process_kill(p), -ESRCH); /* reaped: never signal a recycled pid */
  weft_process_release(p);
  /* Killed: -SIGKILL, as asyncio's returncode. */
  char *const s[] = {"sleep", "30", NULL};
  ck_assert_int_eq(weft_create_subprocess_exec("sleep", s, NULL, &p), 0);
  /* send_signal: a bad signal or no process refused; SIGUSR1's default
   * action ends sleep, as asyncio's send_signal would. */
  ck_assert_int_eq(weft_process_send_signal(NULL, SIGTERM), -EINVAL);
  ck_assert_int_eq(weft_process_send_signal(p, -1), -EINVAL);
  ck_assert_int_eq(weft_process_send_signal(p, 4096), -EINVAL);
  ck_assert_int_eq(weft_process_send_signal(p, SIGUSR1), 0);
  ck_assert_int_eq(weft_process_wait(p, &rc), 0);
  ck_assert_int_eq(rc, -SIGUSR1);
  weft_process_release(p);
  ck_assert_int_eq(weft_create_subprocess_exec("sleep", s, NULL, &p), 0);
  ck_assert_int_eq(weft_process_kill(p), 0);
  ck_assert_int_eq(weft_process_wait(p, &rc), 0);
  ck_assert_int_eq(rc, -SIGKILL);
  weft_process_release(p);
  /* A program that does not exist: the spawn says so. */
  char *const n[] = {"weft-no-such-program", NULL};
  ck_assert_int_eq(weft_create_subprocess_exec("weft-no-such-program", n, NULL, &p), -ENOENT);
  ck_assert_int_eq(weft_create_subprocess_exec(NULL, n, NULL, &p), -EINVAL);
  struct weft_process_opts bad = {.stdout_mode = WEFT_STDIO_STDOUT};
  ck_assert_int_eq(weft_create_subprocess_exec("sh", f, &bad, &p), -EINVAL);
  return 0;
}

START_TEST(test_exit_codes) {
  ck_assert_int_eq(run_main(1, exit_codes_main, NULL, NULL), 0);
  weft_process_t *p;
  char *const f[] = {"true", NULL};
  ck_assert_int_eq(weft_create_subprocess_exec("true", f, NULL, &p), -EPERM);
}
END_TEST

static int pipes_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  /* stderr merged into stdout, a working directory, an environment. */
  char *const a[] = {"sh", "-c", "echo out; echo err >&2; echo $WEFT_X; pwd", NULL};
  char *const env[] = {"WEFT_X=42", "PATH=/usr/bin:/bin", NULL};
  struct weft_process_opts o = {.stdout_mode = WEFT_STDIO_PIPE, .stderr_mode = WEFT_STDIO_STDOUT,
                                .cwd = "/", .envp = env};
  weft_process_t *p;
  ck_assert_int_eq(weft_create_subprocess_exec("sh", a, &o, &p), 0);
  ck_assert_ptr_null(weft_process_stdin(p));
  ck_assert_ptr_null(weft_process_stderr(p));
  char *out;
  size_t len;
  int rc;
  ck_assert_int_eq(weft_process_communicate(p, NULL, 0, &out, &len, NULL, NULL, &rc), 0);
  ck_assert_int_eq(rc, 0);
  ck_assert_str_eq(out, "out\nerr\n42\n/\n");
  ck_assert_uint_eq(len, 13);
  free(out);
  weft_process_release(p);
  /* Line by line through the streams. */
  char *const c[] = {"cat", NULL};
  struct weft_process_opts io = {.stdin_mode = WEFT_STDIO_PIPE, .stdout_mode = WEFT_STDIO_PIPE};
  ck_assert_int_eq(weft_create_subprocess_exec("cat", c, &io, &p), 0);
  char line[32];
  for (int i = 0; i < 3; i++) {
    int n = snprintf(line, sizeof line, "line %d\n", i);
    ck_assert_int_eq(weft_writer_write(weft_process_stdin(p), line, (size_t)n), 0);
    char got[32];
    ck_assert_int_eq(weft_reader_readline(weft_process_stdout(p), got, sizeof got), n);
    ck_assert(memcmp(got, line, (size_t)n) == 0);
  }
  weft_writer_close(weft_process_stdin(p));
  ck_assert_int_eq(weft_reader_read(weft_process_stdout(p), line, sizeof line), 0); /* cat ended */
  ck_assert_int_eq(weft_process_wait(p, &rc), 0);
  ck_assert_int_eq(rc, 0);
  weft_process_release(p);
  return 0;
}

START_TEST(test_pipes) {
  ck_assert_int_eq(run_main(1, pipes_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(2, pipes_main, NULL, NULL), 0);
}
END_TEST

static int big_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  /* 4 MiB through cat and back: far more than a pipe holds, so stdin must
   * be fed while stdout is read (communicate must not deadlock). */
  size_t n = 4u << 20;
  char *in = malloc(n);
  for (size_t i = 0; i < n; i++) in[i] = (char)('a' + i % 26);
  char *const c[] = {"cat", NULL};
  struct weft_process_opts io = {.stdin_mode = WEFT_STDIO_PIPE, .stdout_mode = WEFT_STDIO_PIPE,
                                 .stderr_mode = WEFT_STDIO_PIPE};
  weft_process_t *p;
  ck_assert_int_eq(weft_create_subprocess_exec("cat", c, &io, &p), 0);
  char *out, *err;
  size_t olen, elen;
  int rc;
  ck_assert_int_eq(weft_process_communicate(p, in, n, &out, &olen, &err, &elen, &rc), 0);
  ck_assert_int_eq(rc, 0);
  ck_assert_uint_eq(olen, n);
  ck_assert(memcmp(in, out, n) == 0);
  ck_assert_uint_eq(elen, 0);
  free(in);
  free(out);
  free(err);
  weft_process_release(p);
  return 0;
}

START_TEST(test_big_communicate) {
  ck_assert_int_eq(run_main(1, big_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(2, big_main, NULL, NULL), 0);
}
END_TEST

/* A child that exits without reading its stdin: the parent's writes find
 * the pipe's reader gone. asyncio's communicate ignores the broken pipe
 * (test_communicate_ignore_broken_pipe) and a write to the stream fails
 * with BrokenPipeError (test_stdin_broken_pipe); neither ends the
 * process, whose SIGPIPE disposition here is the default (the test's own
 * process would die of it: Check reports the signal). */
static int broken_stdin_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  size_t n = 1u << 20; /* more than the pipe holds: a write must find it gone */
  char *in = malloc(n);
  memset(in, 'x', n);
  char *const t[] = {"true", NULL};
  struct weft_process_opts io = {.stdin_mode = WEFT_STDIO_PIPE};
  weft_process_t *p;
  ck_assert_int_eq(weft_create_subprocess_exec("true", t, &io, &p), 0);
  int rc = -1;
  ck_assert_int_eq(weft_process_communicate(p, in, n, NULL, NULL, NULL, NULL, &rc), 0);
  ck_assert_int_eq(rc, 0);
  weft_process_release(p);
  /* The stream itself: the child is reaped first, so the pipe's reader
   * is gone before the first byte is written. */
  ck_assert_int_eq(weft_create_subprocess_exec("true", t, &io, &p), 0);
  ck_assert_int_eq(weft_process_wait(p, &rc), 0);
  weft_writer_t *w = weft_process_stdin(p);
  int wr = weft_writer_write(w, in, n);
  ck_assert(wr == 0 || wr == -EPIPE);
  ck_assert_int_eq(weft_writer_drain(w), -EPIPE);
  weft_process_release(p);
  free(in);
  return 0;
}

/* Workers block SIGPIPE and SIGXFSZ (runtime/writesig.h); a child starts
 * with nothing blocked, as Python's restore_signals gives its children. */
static int child_mask_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  /* grep itself, not a shell: dash clears its mask as it starts. */
  char *const c[] = {"grep", "SigBlk", "/proc/self/status", NULL};
  struct weft_process_opts io = {.stdout_mode = WEFT_STDIO_PIPE};
  weft_process_t *p;
  ck_assert_int_eq(weft_create_subprocess_exec("grep", c, &io, &p), 0);
  char *out;
  size_t olen;
  int rc = -1;
  ck_assert_int_eq(weft_process_communicate(p, NULL, 0, &out, &olen, NULL, NULL, &rc), 0);
  ck_assert_int_eq(rc, 0);
  ck_assert_str_eq(out, "SigBlk:\t0000000000000000\n");
  free(out);
  weft_process_release(p);
  return 0;
}

START_TEST(test_stdin_of_a_child_that_exited) {
  ck_assert(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
  ck_assert_int_eq(run_main(1, broken_stdin_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, broken_stdin_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(2, child_mask_main, NULL, NULL), 0);
}
END_TEST

struct waiter {
  weft_process_t *p;
  weft_event_t *started;
  int rc;
};

static int wait_task(void *arg, void **res) {
  (void)res;
  struct waiter *w = arg;
  weft_event_set(w->started);
  int code;
  w->rc = weft_process_wait(w->p, &code);
  return 0;
}

static int cancel_wait_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  char *const s[] = {"sleep", "30", NULL};
  struct waiter w = {.rc = 1};
  ck_assert_int_eq(weft_create_subprocess_exec("sleep", s, NULL, &w.p), 0);
  ck_assert_int_eq(weft_event_create(&w.started), 0);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(wait_task, &w, &t), 0);
  ck_assert_int_eq(weft_event_wait(w.started, -1), 0);
  weft_task_cancel(t, NULL);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  weft_event_destroy(w.started);
  ck_assert_int_eq(w.rc, -ECANCELED);
  /* The child is still there: kill and reap it. */
  ck_assert_int_eq(weft_process_terminate(w.p), 0);
  int code;
  ck_assert_int_eq(weft_process_wait(w.p, &code), 0);
  ck_assert_int_eq(code, -SIGTERM);
  weft_process_release(w.p);
  return 0;
}

START_TEST(test_cancel_wait) { ck_assert_int_eq(run_main(2, cancel_wait_main, NULL, NULL), 0); }
END_TEST

static Suite *process_suite(void) {
  Suite *s = suite_create("io_process");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_exit_codes);
  tcase_add_test(tc, test_pipes);
  tcase_add_test(tc, test_big_communicate);
  tcase_add_test(tc, test_cancel_wait);
  tcase_add_test(tc, test_stdin_of_a_child_that_exited);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_IO_TEST_MAIN(process_suite)
