/* test_stack.c - runtime/stack.c: pooling, sizes, and the guard page. */
#include "helpers.h"
#include "stack.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

START_TEST(pool_reuses_same_size) {
  struct weft__stack_pool pool = {.size = weft__stack_round(64 * 1024)};
  struct weft__stack *a = weft__stack_get(&pool, 64 * 1024);
  ck_assert_ptr_nonnull(a);
  ck_assert_uint_ge(a->size, 64 * 1024);
  memset(a->lo, 1, a->size); /* the whole usable range is writable */
  weft__stack_put(&pool, a);
  ck_assert_uint_eq(pool.count, 1);
  struct weft__stack *b = weft__stack_get(&pool, 64 * 1024);
  ck_assert_ptr_eq(a, b);
  ck_assert_uint_eq(pool.count, 0);
  /* Another size is mapped fresh and unmapped on put. */
  struct weft__stack *c = weft__stack_get(&pool, 128 * 1024);
  ck_assert_ptr_ne(c, b);
  weft__stack_put(&pool, c);
  ck_assert_uint_eq(pool.count, 0);
  weft__stack_put(&pool, b);
  weft__stack_pool_drain(&pool);
  ck_assert_ptr_null(pool.free);
}
END_TEST

START_TEST(pool_is_bounded) {
  struct weft__stack_pool pool = {.size = weft__stack_round(16 * 1024)};
  struct weft__stack *s[WEFT__STACK_POOL_MAX + 8];
  for (int i = 0; i < WEFT__STACK_POOL_MAX + 8; i++) s[i] = weft__stack_get(&pool, 16 * 1024);
  for (int i = 0; i < WEFT__STACK_POOL_MAX + 8; i++) weft__stack_put(&pool, s[i]);
  ck_assert_uint_eq(pool.count, WEFT__STACK_POOL_MAX);
  weft__stack_pool_drain(&pool);
}
END_TEST

START_TEST(guard_page_faults) {
  struct weft__stack_pool pool = {.size = weft__stack_round(16 * 1024)};
  struct weft__stack *s = weft__stack_get(&pool, 16 * 1024);
  pid_t pid = fork();
  if (pid == 0) {
    volatile char *below = (char *)s->lo - 1;
    *below = 1; /* must fault */
    _exit(0);
  }
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert(WIFSIGNALED(status));
  ck_assert_int_eq(WTERMSIG(status), SIGSEGV);
  weft__stack_put(&pool, s);
  weft__stack_pool_drain(&pool);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("stack");
  TCase *tc = tcase_create("stack");
  tcase_add_test(tc, pool_reuses_same_size);
  tcase_add_test(tc, pool_is_bounded);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  tcase_add_test(tc, guard_page_faults); /* sanitizers intercept SIGSEGV */
#endif
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
