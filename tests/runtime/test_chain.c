/*
 * test_chain.c - runtime/chain.h (a list whose head is one pointer, the
 * future's entries) and runtime/runnable.h (a queue entry of one word, its
 * kind in the link's low bits): order, unlinking any node, detachment, the
 * bounded walk, and kinds that survive every link change.
 */
#include "helpers.h"
#include "chain.h"
#include "invariant.h"
#include "runnable.h"

enum { N = 8 };
static struct weft__chain_node nodes[N];

static int index_of(const struct weft__chain_node *n) { return (int)(n - nodes); }

/* Checks that @c holds exactly the nodes @want (n of them), in order, with
 * sound back links. */
static void expect(const struct weft__chain *c, const int *want, int n) {
  ck_assert_uint_eq(weft__chain_walk(c, 100), (size_t)n);
  ck_assert(weft__chain_empty(c) == (n == 0));
  int i = 0;
  for (const struct weft__chain_node *p = c->first; p; p = weft__chain_next(c, p), i++) {
    ck_assert_int_lt(i, n);
    ck_assert_int_eq(index_of(p), want[i]);
    ck_assert(weft__chain_linked(p));
  }
  ck_assert_int_eq(i, n);
  if (n) ck_assert_int_eq(index_of(c->first->prev), want[n - 1]); /* the tail, O(1) */
}

static void fill(struct weft__chain *c, int n) {
  weft__chain_init(c);
  for (int i = 0; i < n; i++) {
    weft__chain_node_init(&nodes[i]);
    weft__chain_add_tail(c, &nodes[i]);
  }
}

START_TEST(appends_keep_order) {
  struct weft__chain c;
  fill(&c, 0);
  expect(&c, NULL, 0);
  fill(&c, 1);
  expect(&c, (int[]){0}, 1);
  ck_assert_ptr_eq(nodes[0].next, &nodes[0]); /* a ring of one: linked, not detached */
  fill(&c, 4);
  expect(&c, (int[]){0, 1, 2, 3}, 4);
}
END_TEST

START_TEST(any_node_unlinks_and_is_detached) {
  struct weft__chain c;
  fill(&c, 5);
  weft__chain_del(&c, &nodes[2]); /* a middle one */
  ck_assert(!weft__chain_linked(&nodes[2]));
  expect(&c, (int[]){0, 1, 3, 4}, 4);
  weft__chain_del(&c, &nodes[0]); /* the first: the head moves on */
  expect(&c, (int[]){1, 3, 4}, 3);
  weft__chain_del(&c, &nodes[4]); /* the last */
  expect(&c, (int[]){1, 3}, 2);
  weft__chain_add_tail(&c, &nodes[0]); /* a detached node goes back in */
  expect(&c, (int[]){1, 3, 0}, 3);
  weft__chain_del(&c, &nodes[3]);
  weft__chain_del(&c, &nodes[1]);
  expect(&c, (int[]){0}, 1);
  weft__chain_del(&c, &nodes[0]); /* the only one: empty again */
  expect(&c, NULL, 0);
  for (int i = 0; i < 5; i++) ck_assert(!weft__chain_linked(&nodes[i]));
}
END_TEST

START_TEST(pop_takes_the_first_in_order) {
  struct weft__chain c;
  fill(&c, 3);
  for (int i = 0; i < 3; i++) {
    struct weft__chain_node *n = weft__chain_pop(&c);
    ck_assert_ptr_eq(n, &nodes[i]);
    ck_assert(!weft__chain_linked(n));
  }
  ck_assert_ptr_null(weft__chain_pop(&c));
  expect(&c, NULL, 0);
}
END_TEST

START_TEST(walk_catches_broken_links_and_stops) {
  struct weft__chain c;
  fill(&c, 5);
  ck_assert_uint_eq(weft__chain_walk(&c, 3), 3); /* bounded */
  nodes[3].prev = &nodes[1]; /* should be nodes[2] */
  ck_assert_uint_eq(weft__chain_walk(&c, 100), SIZE_MAX);
  fill(&c, 5);
  nodes[0].prev = &nodes[3]; /* the tail is nodes[4] */
  ck_assert_uint_eq(weft__chain_walk(&c, 100), SIZE_MAX);
  fill(&c, 2);
  nodes[1].next = NULL; /* a detached node inside the ring */
  ck_assert_uint_eq(weft__chain_walk(&c, 100), SIZE_MAX);
}
END_TEST

/* ---- runnable.h: the kind in the link ------------------------------------- */

START_TEST(kinds_survive_every_link_change) {
  static const enum weft__rkind kinds[] = {WEFT__R_TASK, WEFT__R_HANDLE, WEFT__R_TASK_START};
  _Static_assert(sizeof(struct weft__runnable) == sizeof(void *), "a queue entry is one word");
  struct weft__runnable r[6];
  struct weft__rlist l;
  weft__rlist_init(&l);
  for (int i = 0; i < 6; i++) {
    weft__runnable_init(&r[i], kinds[i % 3]);
    ck_assert_ptr_null(weft__runnable_next(&r[i]));
    weft__rlist_push(&l, &r[i]);
  }
  for (int i = 0; i < 6; i++) ck_assert_int_eq(weft__runnable_kind(&r[i]), kinds[i % 3]);
  for (int i = 0; i < 5; i++) ck_assert_ptr_eq(weft__runnable_next(&r[i]), &r[i + 1]);
  for (int i = 0; i < 6; i++) {
    struct weft__runnable *p = weft__rlist_pop(&l);
    ck_assert_ptr_eq(p, &r[i]); /* FIFO */
    ck_assert_int_eq(weft__runnable_kind(p), kinds[i % 3]);
    ck_assert_ptr_null(weft__runnable_next(p));
    weft__rlist_push(&l, p); /* requeued at the tail, kind kept */
    ck_assert_int_eq(weft__runnable_kind(p), kinds[i % 3]);
  }
  ck_assert_uint_eq(l.count, 6);
  ck_assert_ptr_eq(weft__rlist_pop(&l), &r[0]);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("chain");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, appends_keep_order);
  tcase_add_test(tc, any_node_unlinks_and_is_detached);
  tcase_add_test(tc, pop_takes_the_first_in_order);
  tcase_add_test(tc, walk_catches_broken_links_and_stops);
  tcase_add_test(tc, kinds_survive_every_link_change);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
