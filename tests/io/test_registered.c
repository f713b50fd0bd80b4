/*
 * test_registered.c - io/registered.c, registered buffers and files: the
 * fixed-buffer calls inside and outside the registered ranges, registered
 * files with the ordinary calls, and the table rules (owner only, not while
 * running, one table at a time, freed by close). Run once per backend.
 */
#include "io_helpers.h"

#include <sys/uio.h>

static char path_buf[64];

static const char *tmp_path(void) {
  /* The build directory is on a disk file system (tmpfs lacks O_DIRECT). */
  snprintf(path_buf, sizeof path_buf, "weft-test-registered-%d", (int)getpid());
  return path_buf;
}

struct reg_ctx {
  char *buf; /* the registered buffer, 64 KiB */
};

static int registered_main(void *arg, void **res) {
  (void)res;
  struct reg_ctx *c = arg;
  weft_loop_t *loop = weft_loop_current();
  struct iovec iov = {c->buf, 65536};
  ck_assert_int_eq(weft_loop_register_buffers(loop, &iov, 1), -EBUSY); /* running */
  for (int i = 0; i < 4096; i++) c->buf[i] = (char)(i * 13);
  /* Through the registered file and buffer, at an offset inside it. */
  ck_assert_int_eq(weft_pwrite_fixed(WEFT_FIXED_FILE(0), c->buf, 4096, 8192, 0), 4096);
  ck_assert_int_eq(weft_pread_fixed(WEFT_FIXED_FILE(0), c->buf + 4096, 4096, 8192, 0), 4096);
  ck_assert(memcmp(c->buf, c->buf + 4096, 4096) == 0);
  /* A registered file works with the ordinary operations too. */
  char small[4];
  ck_assert_int_eq(weft_pread(WEFT_FIXED_FILE(0), small, 4, 8192), 4);
  ck_assert(memcmp(small, c->buf, 4) == 0);
  /* Outside the registered buffer, or a buffer never registered. */
  char elsewhere[16];
  ck_assert_int_eq(weft_pread_fixed(WEFT_FIXED_FILE(0), elsewhere, 16, 0, 0), -EINVAL);
  ck_assert_int_eq(weft_pread_fixed(WEFT_FIXED_FILE(0), c->buf + 65530, 16, 0, 0), -EINVAL);
  ck_assert_int_eq(weft_pread_fixed(WEFT_FIXED_FILE(0), c->buf, 16, 0, 1), -EINVAL);
  ck_assert_int_eq(weft_pread_fixed(WEFT_FIXED_FILE(0), c->buf, 16, -1, 0), -EINVAL);
  /* A registered-file index that does not exist. */
  ck_assert_int_eq(weft_pread(WEFT_FIXED_FILE(7), small, 4, 0), -EBADF);
  return 0;
}

START_TEST(test_registered) {
  for (unsigned w = 1; w <= 2; w++) {
    struct reg_ctx c = {.buf = aligned_alloc(4096, 65536)};
    const char *p = tmp_path();
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    weft_loop_t *loop = make_loop(w);
    struct iovec iov = {c.buf, 65536};
    ck_assert_int_eq(weft_loop_register_buffers(loop, &iov, 1), 0);
    ck_assert_int_eq(weft_loop_register_buffers(loop, &iov, 1), -EBUSY); /* already */
    ck_assert_int_eq(weft_loop_register_buffers(loop, NULL, 1), -EINVAL);
    ck_assert_int_eq(weft_loop_register_files(loop, &fd, 1), 0);
    weft_task_t *t;
    ck_assert_int_eq(weft_spawn_opts(loop, registered_main, &c, NULL, &t), 0);
    ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), NULL), 0);
    weft_task_release(t);
    ck_assert_int_eq(weft_loop_unregister_files(loop), 0);
    ck_assert_int_eq(weft_loop_unregister_buffers(loop), 0);
    ck_assert_int_eq(weft_loop_unregister_buffers(loop), 0); /* none: fine */
    /* Registered again, then closed with them: close frees the tables. */
    ck_assert_int_eq(weft_loop_register_files(loop, &fd, 1), 0);
    close_clean(loop);
    close(fd);
    unlink(p);
    free(c.buf);
  }
}
END_TEST

START_TEST(test_table_rules) {
  weft_loop_t *loop = make_loop(2);
  int fds[2] = {0, 1};
  ck_assert_int_eq(weft_loop_register_files(loop, NULL, 1), -EINVAL);
  ck_assert_int_eq(weft_loop_register_files(loop, fds, 0), -EINVAL);
  ck_assert_int_eq(weft_loop_register_files(loop, fds, 32769), -EINVAL);
  ck_assert_int_eq(weft_loop_register_files(loop, fds, 2), 0);
  ck_assert_int_eq(weft_loop_register_files(loop, fds, 2), -EBUSY); /* one table at a time */
  ck_assert_int_eq(weft_loop_unregister_files(loop), 0);
  ck_assert_int_eq(weft_loop_unregister_files(loop), 0); /* none left: fine */
  ck_assert_int_eq(weft_loop_register_files(NULL, fds, 2), -EINVAL);
  close_clean(loop);
}
END_TEST

static Suite *registered_suite(void) {
  Suite *s = suite_create("io_registered");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_registered);
  tcase_add_test(tc, test_table_rules);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_IO_TEST_MAIN(registered_suite)
