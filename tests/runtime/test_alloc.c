/* test_alloc.c - runtime/alloc.c: sized alloc/free, zeroing, strdup. */
#include "helpers.h"
#include "alloc.h"

#include <string.h>

START_TEST(alloc_roundtrip) {
  for (size_t n = 1; n < 1 << 20; n *= 3) {
    unsigned char *p = weft__alloc(n);
    ck_assert_ptr_nonnull(p);
    memset(p, 0xAB, n);
    p = weft__realloc(p, n, n * 2);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p[n - 1], 0xAB);
    weft__free(p, n * 2);
  }
}
END_TEST

START_TEST(calloc_zeroes) {
  unsigned char *p = weft__calloc(4096);
  ck_assert_ptr_nonnull(p);
  for (int i = 0; i < 4096; i++) ck_assert_int_eq(p[i], 0);
  weft__free(p, 4096);
}
END_TEST

START_TEST(strdup_copies_and_null) {
  char *s = weft__strdup("weft");
  ck_assert_str_eq(s, "weft");
  weft__strfree(s);
  ck_assert_ptr_null(weft__strdup(NULL));
  weft__strfree(NULL);
  weft__free(NULL, 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("alloc");
  TCase *tc = tcase_create("alloc");
  tcase_add_test(tc, alloc_roundtrip);
  tcase_add_test(tc, calloc_zeroes);
  tcase_add_test(tc, strdup_copies_and_null);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
