/* test_errno.c - runtime/errno.c: names and messages for weft and errno codes. */
#include "helpers.h"

#include <errno.h>
#include <string.h>

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

static Suite *suite(void) {
  Suite *s = suite_create("errno");
  TCase *tc = tcase_create("errno");
  tcase_add_test(tc, weft_codes);
  tcase_add_test(tc, errno_codes);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
