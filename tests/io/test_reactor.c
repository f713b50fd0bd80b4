/*
 * test_reactor.c - backend choice (io/reactor.c): io_uring when it can be
 * set up, epoll with a one-line reason when it cannot (a seccomp filter
 * refusing io_uring_setup, as Docker's default profile does), a strict
 * io_uring request that fails instead, and the configuration's errors.
 *
 * Each test runs in its own Check child, so the seccomp filter installed
 * by one never reaches the others.
 */
#include "helpers.h"
#include "loop.h"
#include <fcntl.h>
#include <sys/uio.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Makes io_uring_setup fail with EPERM in this process from now on. */
static void forbid_io_uring(void) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
  ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
  ck_assert_int_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
}

static int echo_once(void *arg, void **res) {
  (void)arg;
  (void)res;
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  ck_assert_int_eq(weft_write(p[1], "ok", 2), 2);
  char b[2];
  ck_assert_int_eq(weft_read(p[0], b, 2), 2);
  close(p[0]);
  close(p[1]);
  return 0;
}

START_TEST(test_fallback_when_forbidden) {
  unsetenv("WEFT_IO_BACKEND");
  forbid_io_uring();
  weft_loop_t *loop = make_loop(2);
  ck_assert_str_eq(weft_loop_backend(loop), "epoll");
  const char *why = weft_loop_backend_reason(loop);
#if defined(WEFT__HAVE_URING)
  ck_assert_ptr_nonnull(strstr(why, "Operation not permitted"));
  ck_assert_ptr_nonnull(strstr(why, "seccomp"));
#else
  ck_assert_str_eq(why, "built without liburing");
#endif
  /* I/O works the same on the fallback. */
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn_opts(loop, echo_once, NULL, NULL, &t), 0);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), NULL), 0);
  weft_task_release(t);
  close_clean(loop);
  /* Asking for io_uring strictly fails with the kernel's error. */
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.io_backend = WEFT_IO_URING;
#if defined(WEFT__HAVE_URING)
  const int refused = -EPERM;
#else
  const int refused = -ENOSYS; /* not even tried */
#endif
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), refused);
  setenv("WEFT_IO_BACKEND", "io_uring", 1);
  ck_assert_int_eq(weft_loop_new(NULL, &loop), refused);
  unsetenv("WEFT_IO_BACKEND");
}
END_TEST

START_TEST(test_choice) {
  unsetenv("WEFT_IO_BACKEND");
  weft_loop_t *loop;
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 1;
  cfg.io_backend = WEFT_IO_EPOLL;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), 0);
  ck_assert_str_eq(weft_loop_backend(loop), "epoll");
  ck_assert_str_eq(weft_loop_backend_reason(loop), ""); /* asked for */
  close_clean(loop);
  setenv("WEFT_IO_BACKEND", "epoll", 1);
  ck_assert_int_eq(weft_loop_new(NULL, &loop), 0);
  ck_assert_str_eq(weft_loop_backend(loop), "epoll");
  close_clean(loop);
  unsetenv("WEFT_IO_BACKEND");
  cfg.io_backend = WEFT_IO_AUTO;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), 0);
  /* io_uring here unless this machine forbids it, and then a reason. */
  if (strcmp(weft_loop_backend(loop), "epoll") == 0)
    ck_assert_str_ne(weft_loop_backend_reason(loop), "");
  else
    ck_assert_str_eq(weft_loop_backend_reason(loop), "");
  char auto_backend[16];
  snprintf(auto_backend, sizeof auto_backend, "%s", weft_loop_backend(loop));
  close_clean(loop);
  /* The largest ring: its completion queue is capped at the kernel's
   * maximum, not refused (which would fall back to epoll). */
  cfg.io_entries = 32768;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), 0);
  ck_assert_str_eq(weft_loop_backend(loop), auto_backend);
  close_clean(loop);
  cfg.io_entries = 0;
  /* Bad configurations. */
  cfg.io_backend = 7;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), -EINVAL);
  cfg.io_backend = WEFT_IO_AUTO;
  cfg.io_entries = 100; /* not a power of two */
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), -EINVAL);
  cfg.io_entries = 65536;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), -EINVAL);
  cfg.io_entries = 64;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), 0);
  close_clean(loop);
  cfg.recv_buffers = -2;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), -EINVAL);
  cfg.recv_buffers = 100; /* not a power of two */
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), -EINVAL);
  cfg.recv_buffers = 65536;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), -EINVAL);
  cfg.recv_buffers = 0;
  ck_assert_ptr_null(weft_loop_backend(NULL));
  ck_assert_ptr_null(weft_loop_backend_reason(NULL));
}
END_TEST

/* Workers 1..N-1 own their rings (SINGLE_ISSUER + DEFER_TASKRUN where the
 * kernel has them): I/O, registration and close all still work, from
 * tasks pinned to every worker, over several runs. */
static int on_each(void *arg, void **res) {
  (void)res;
  char *buf = arg;
  for (int i = 0; i < 100; i++) ck_assert_int_eq(weft_io_nop(), 0);
  ck_assert_int_eq(weft_pread_fixed(WEFT_FIXED_FILE(0), buf, 8, 0, 0), 8);
  ck_assert(memcmp(buf, "weftweft", 8) == 0);
  return weft_worker_index();
}

START_TEST(test_rings_per_thread) {
  unsetenv("WEFT_IO_BACKEND");
  weft_loop_t *loop = make_loop(3);
#if defined(WEFT__HAVE_URING)
  if (strcmp(weft_loop_backend(loop), "io_uring") == 0) {
    ck_assert(!loop->workers[0].reactor.ur.single_issuer); /* worker 0: any caller's thread */
    fprintf(stderr, "workers 1..2 single issuer: %d %d\n", loop->workers[1].reactor.ur.single_issuer,
            loop->workers[2].reactor.ur.single_issuer);
  }
#endif
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  ck_assert_int_eq(write(p[1], "weftweftweftweft", 16), 16);
  /* A pipe has no positions: register a file instead. */
  char path[64];
  snprintf(path, sizeof path, "weft-test-reactor-%d", (int)getpid());
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ck_assert_int_eq(write(fd, "weftweft", 8), 8);
  static char bufs[3][64];
  struct iovec iov = {bufs, sizeof bufs};
  ck_assert_int_eq(weft_loop_register_files(loop, &fd, 1), 0);
  for (int run = 0; run < 3; run++) {
    /* Run 0 registers before the worker threads exist, later runs after. */
    ck_assert_int_eq(weft_loop_register_buffers(loop, &iov, 1), 0);
    for (int w = 0; w < 3; w++) {
      struct weft_task_opts o;
      weft_task_opts_init(&o);
      o.worker = w;
      weft_task_t *t;
      ck_assert_int_eq(weft_spawn_opts(loop, on_each, bufs[w], &o, &t), 0);
      ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), NULL), 0);
      weft_task_release(t);
    }
    ck_assert_int_eq(weft_loop_unregister_buffers(loop), 0);
  }
  ck_assert_int_eq(weft_loop_unregister_files(loop), 0);
  close_clean(loop);
  close(fd);
  close(p[0]);
  close(p[1]);
  unlink(path);
}
END_TEST

static Suite *reactor_suite(void) {
  Suite *s = suite_create("io_reactor");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_fallback_when_forbidden);
  tcase_add_test(tc, test_choice);
  tcase_add_test(tc, test_rings_per_thread);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(reactor_suite)
