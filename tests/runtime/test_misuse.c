/* test_misuse.c - runtime/misuse.h: in a debug-check build, releasing or
 * destroying an object twice aborts with a line naming its kind (or, under
 * ASan or TSan, the sanitizer reports the access), never corrupts on
 * silently. Each case
 * runs in a child process whose end and stderr we look at. */
#include "helpers.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef void (*misuse_fn)(void);

/* Runs @fn in a child; returns its stderr (and checks it did not end well). */
static void expect_caught(misuse_fn fn, const char *kind) {
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    dup2(p[1], 2);
    close(p[0]);
    fn();
    _exit(0); /* not caught */
  }
  close(p[1]);
  char err[2048];
  size_t n = 0;
  ssize_t k;
  while (n < sizeof err - 1 && (k = read(p[0], err + n, sizeof err - 1 - n)) > 0) n += (size_t)k;
  err[n] = 0;
  close(p[0]);
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
  char want[96];
  snprintf(want, sizeof want, "of a %s", kind);
  bool ours = strstr(err, "weft: ") && strstr(err, want);
  /* Under a sanitizer, its own report of the access may come first. */
  bool sanitizer = strstr(err, "AddressSanitizer") || strstr(err, "ThreadSanitizer");
  ck_assert_msg(ours || sanitizer, "no report for a %s: %s", kind, err);
}

static void future_twice(void) {
  weft_loop_t *loop = make_loop(1);
  weft_future_t *f;
  weft_future_new(loop, &f);
  weft_future_release(f);
  weft_future_release(f);
}

static int ret0(void *a, void **r) { return 0; }

static int task_twice_main(void *arg, void **res) {
  weft_task_t *t;
  weft_spawn(ret0, NULL, &t);
  weft_await(weft_task_future(t), NULL);
  weft_task_release(t); /* freed into the worker's cache */
  weft_task_release(t);
  return 0;
}

static void task_twice(void) { run_main(1, task_twice_main, NULL, NULL); }

static void nothing(void *arg) {}

static void handle_twice(void) {
  weft_loop_t *loop = make_loop(1);
  weft_handle_t *h;
  weft_loop_call_soon(loop, nothing, NULL, &h);
  weft_handle_release(h);
  weft_handle_cancel(h);
  weft_loop_close(loop); /* drops the queued one: the handle is freed */
  weft_handle_release(h);
}

static void lock_twice(void) {
  weft_lock_t *l;
  weft_lock_create(&l);
  weft_lock_destroy(l);
  weft_lock_destroy(l);
}

static void queue_twice(void) {
  weft_queue_t *q;
  weft_queue_create(WEFT_QUEUE_FIFO, 0, NULL, &q);
  weft_queue_destroy(q);
  weft_queue_destroy(q);
}

static void writer_twice(void) {
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  weft_reader_t *r;
  weft_writer_t *w;
  weft_stream_open_fd(sv[0], sv[0], 0, &r, &w);
  weft_writer_release(w);
  weft_writer_release(w); /* the reader still holds the stream */
}

START_TEST(double_release_and_destroy_are_caught) {
  expect_caught(future_twice, "future");
  expect_caught(task_twice, "task");
  expect_caught(handle_twice, "handle");
  expect_caught(lock_twice, "lock");
  expect_caught(queue_twice, "queue");
  expect_caught(writer_twice, "stream writer");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("misuse");
  TCase *tc = tcase_create("misuse");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, double_release_and_destroy_are_caught);
  suite_add_tcase(s, tc);
  return s;
}

#if defined(WEFT_DEBUG_CHECKS)
#define NEED_CHECKS (void)0
#else
#define NEED_CHECKS                                                                  \
  do {                                                                               \
    fprintf(stderr, "skipped: built without WEFT_DEBUG_CHECKS\n");                   \
    exit(77);                                                                        \
  } while (0)
#endif
WEFT_TEST_MAIN_WITH(suite, NEED_CHECKS)
