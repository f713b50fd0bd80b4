/* test_idle.c - runtime/idle.c: the searcher cap, last-searcher reporting,
 * notification picks one sleeper and counts it as searching. */
#include "helpers.h"
#include "idle.h"

START_TEST(searcher_cap_is_half) {
  struct weft__idle idle;
  ck_assert_int_eq(weft__idle_init(&idle, 4), 0);
  ck_assert(weft__idle_transition_to_searching(&idle));
  ck_assert(weft__idle_transition_to_searching(&idle));
  ck_assert(!weft__idle_transition_to_searching(&idle)); /* 2 of 4 already */
  ck_assert(!weft__idle_transition_from_searching(&idle));
  ck_assert(weft__idle_transition_from_searching(&idle)); /* the last one */
  weft__idle_fini(&idle);
}
END_TEST

START_TEST(notify_wakes_one_sleeper_as_searcher) {
  struct weft__idle idle;
  ck_assert_int_eq(weft__idle_init(&idle, 3), 0);
  ck_assert_int_eq(weft__idle_worker_to_notify(&idle), -1); /* nobody sleeps */
  ck_assert(!weft__idle_transition_to_parked(&idle, 1, false));
  ck_assert(!weft__idle_transition_to_parked(&idle, 2, false));
  int w = weft__idle_worker_to_notify(&idle);
  ck_assert(w == 1 || w == 2);
  /* A searcher now exists: a second notification wakes nobody. */
  ck_assert_int_eq(weft__idle_worker_to_notify(&idle), -1);
  ck_assert(weft__idle_transition_from_parked(&idle, (unsigned)w)); /* woken as searcher */
  int other = w == 1 ? 2 : 1;
  ck_assert(!weft__idle_transition_from_parked(&idle, (unsigned)other)); /* timed out */
  ck_assert(weft__idle_transition_from_searching(&idle));
  weft__idle_fini(&idle);
}
END_TEST

START_TEST(claim_and_claim_all) {
  struct weft__idle idle;
  ck_assert_int_eq(weft__idle_init(&idle, 4), 0);
  weft__idle_transition_to_parked(&idle, 0, false);
  weft__idle_transition_to_parked(&idle, 3, false);
  ck_assert(weft__idle_claim_worker(&idle, 3));
  ck_assert(!weft__idle_claim_worker(&idle, 3));
  unsigned ids[4];
  ck_assert_uint_eq(weft__idle_claim_all(&idle, ids), 1);
  ck_assert_uint_eq(ids[0], 0);
  ck_assert(!weft__idle_transition_from_parked(&idle, 0));
  ck_assert_uint_eq(weft__idle_claim_all(&idle, ids), 0);
  weft__idle_fini(&idle);
}
END_TEST

START_TEST(last_searcher_parking_is_reported) {
  struct weft__idle idle;
  ck_assert_int_eq(weft__idle_init(&idle, 2), 0);
  ck_assert(weft__idle_transition_to_searching(&idle));
  ck_assert(weft__idle_transition_to_parked(&idle, 0, true));
  weft__idle_fini(&idle);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("idle");
  TCase *tc = tcase_create("idle");
  tcase_add_test(tc, searcher_cap_is_half);
  tcase_add_test(tc, notify_wakes_one_sleeper_as_searcher);
  tcase_add_test(tc, claim_and_claim_all);
  tcase_add_test(tc, last_searcher_parking_is_reported);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
