/*
 * test_invariant.c - runtime/invariant.h: the bounded list checks the
 * invariant checkers are built from, and that a checker (the waitlist's)
 * tells a broken structure from a sound one.
 */
#include "helpers.h"
#include "invariant.h"
#include "waitlist.h"

static struct weft__list nodes[WEFT__CHECK_WALK + 10];

static void build(struct weft__list *h, size_t n) {
  weft__list_init(h);
  for (size_t i = 0; i < n; i++) weft__list_add_tail(h, &nodes[i]);
}

START_TEST(short_lists_are_counted_exactly) {
  struct weft__list h;
  build(&h, 0);
  ck_assert(weft__list_count_ok(&h, 0));
  ck_assert(!weft__list_count_ok(&h, 1));
  build(&h, 5);
  ck_assert(weft__list_ok(&h));
  ck_assert(weft__list_count_ok(&h, 5));
  ck_assert(!weft__list_count_ok(&h, 4));
  ck_assert(!weft__list_count_ok(&h, 6));
}
END_TEST

START_TEST(long_lists_are_counted_at_least) {
  struct weft__list h;
  build(&h, WEFT__CHECK_WALK + 10);
  ck_assert(weft__list_count_ok(&h, WEFT__CHECK_WALK + 10));
  ck_assert(weft__list_count_ok(&h, WEFT__CHECK_WALK + 1000)); /* beyond the walk: not seen */
  ck_assert(!weft__list_count_ok(&h, WEFT__CHECK_WALK - 1));
}
END_TEST

START_TEST(broken_links_are_caught) {
  struct weft__list h;
  build(&h, 5);
  nodes[2].prev = &nodes[0]; /* should be nodes[1] */
  ck_assert(!weft__list_ok(&h));
  build(&h, 5);
  h.prev = &nodes[3]; /* the tail is nodes[4] */
  ck_assert(!weft__list_ok(&h));
}
END_TEST

START_TEST(waitlist_checker) {
  struct weft__waitlist wl;
  struct weft__waiter_node a, b;
  weft__wl_init(&wl);
  ck_assert(weft__wl_ok(&wl));
  weft__wl_enqueue(&wl, &a, NULL);
  weft__wl_enqueue(&wl, &b, NULL);
  ck_assert(weft__wl_ok(&wl));
  wl.count = 3; /* a miscount */
  ck_assert(!weft__wl_ok(&wl));
  wl.count = 2;
  atomic_store(&a.granted, 1); /* a granted node still queued */
  ck_assert(!weft__wl_ok(&wl));
  atomic_store(&a.granted, 0);
  ck_assert_ptr_eq(weft__wl_pop(&wl), &a);
  ck_assert_ptr_eq(weft__wl_pop(&wl), &b);
  ck_assert(weft__wl_ok(&wl));
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("invariant");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, short_lists_are_counted_exactly);
  tcase_add_test(tc, long_lists_are_counted_at_least);
  tcase_add_test(tc, broken_links_are_caught);
  tcase_add_test(tc, waitlist_checker);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
