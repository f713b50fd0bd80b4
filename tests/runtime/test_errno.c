/* test_errno.c - runtime/errno.c: names and messages for weft and errno
 * codes; errno through weft_errno_location (WEFT_ERRNO_ANEW, defined here
 * before any header as a user would) right after a suspension point that
 * moved the task to another worker. */
#define WEFT_ERRNO_ANEW 1
#include "helpers.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

START_TEST(weft_codes) {
  ck_assert_str_eq(weft_err_name(WEFT_EINVALSTATE), "WEFT_EINVALSTATE");
  ck_assert_str_eq(weft_err_name(WEFT_ESTOPPED), "WEFT_ESTOPPED");
  ck_assert_str_eq(weft_err_name(WEFT_ECLOSED), "WEFT_ECLOSED");
  ck_assert_ptr_nonnull(strstr(weft_strerror(WEFT_EINVALSTATE), "invalid state"));
  ck_assert_int_lt(WEFT_EINVALSTATE, -4000 + 1);
}
END_TEST

START_TEST(errno_codes) {
  ck_assert_str_eq(weft_err_name(-ECANCELED), "ECANCELED");
  ck_assert_str_eq(weft_err_name(ETIMEDOUT), "ETIMEDOUT");
  ck_assert_str_eq(weft_strerror(-EINVAL), "Invalid argument");
  ck_assert_str_eq(weft_err_name(0), "OK");
  ck_assert_str_eq(weft_err_name(-99999), "UNKNOWN");
  ck_assert_str_eq(weft_strerror(-99999), "unknown error");
}
END_TEST

static _Atomic int moves;

/* Sets errno, suspends (a yield, after which a thief may run the task on
 * another worker), then fails a system call and reads errno: its own,
 * whichever thread it now runs on. Without WEFT_ERRNO_ANEW gcc -O2 keeps
 * errno's address from the first use (tests/runtime/test_loop.c saw it). */
static int errno_after_moves(void *arg, void **res) {
  (void)arg;
  (void)res;
  for (int i = 0; i < 200; i++) {
    errno = EDOM;
    int before = weft_worker_index();
    ck_assert_int_eq(weft_yield(), 0);
    if (weft_worker_index() != before) atomic_fetch_add(&moves, 1);
    ck_assert_int_eq(close(-1), -1);
    ck_assert_int_eq(errno, EBADF);
    ck_assert_ptr_eq(&errno, weft_errno_location());
  }
  return 0;
}

static int moves_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  weft_task_t *t[16];
  for (int i = 0; i < 16; i++) ck_assert_int_eq(weft_spawn(errno_after_moves, NULL, &t[i]), 0);
  for (int i = 0; i < 16; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(t[i]), NULL), 0);
    weft_task_release(t[i]);
  }
  return 0;
}

START_TEST(errno_anew_after_a_move) {
  ck_assert_int_eq(run_main(4, moves_main, NULL, NULL), 0);
  fprintf(stderr, "errno_anew_after_a_move: %d moves between workers\n", atomic_load(&moves));
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("errno");
  TCase *tc = tcase_create("errno");
  tcase_add_test(tc, weft_codes);
  tcase_add_test(tc, errno_codes);
  tcase_add_test(tc, errno_anew_after_a_move);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
