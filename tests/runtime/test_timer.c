/* test_timer.c - runtime/timer.c: deadline order, FIFO ties, cancel from the
 * middle, and the earliest-deadline hint. */
#include "helpers.h"
#include "timer.h"

#include <stdint.h>

static int fired[64], nfired;

static void on_fire(struct weft__timer *t);
struct tagged {
  struct weft__timer t;
  int id;
};
static void on_fire(struct weft__timer *t) { fired[nfired++] = ((struct tagged *)t)->id; }

START_TEST(fires_in_deadline_then_insertion_order) {
  struct weft__timers ts;
  weft__timers_init(&ts);
  struct tagged tm[6];
  uint64_t deadlines[6] = {50, 10, 30, 10, 20, 10};
  for (int i = 0; i < 6; i++) {
    tm[i].id = i;
    weft__timer_init(&tm[i].t, on_fire);
    ck_assert_int_eq(weft__timers_add(&ts, &tm[i].t, deadlines[i]), 0);
  }
  ck_assert_uint_eq(weft__timers_next(&ts), 10);
  nfired = 0;
  ck_assert_uint_eq(weft__timers_run(&ts, 5), 0);
  ck_assert_uint_eq(weft__timers_run(&ts, 30), 5);
  int want[] = {1, 3, 5, 4, 2};
  for (int i = 0; i < 5; i++) ck_assert_int_eq(fired[i], want[i]);
  ck_assert_uint_eq(weft__timers_next(&ts), 50);
  ck_assert(weft__timers_cancel(&tm[0].t));
  ck_assert(!weft__timers_cancel(&tm[0].t));
  ck_assert_uint_eq(weft__timers_next(&ts), UINT64_MAX);
  weft__timers_fini(&ts);
}
END_TEST

START_TEST(cancel_keeps_heap_valid) {
  struct weft__timers ts;
  weft__timers_init(&ts);
  enum { N = 1000 };
  static struct tagged tm[N];
  for (int i = 0; i < N; i++) {
    tm[i].id = i;
    weft__timer_init(&tm[i].t, on_fire);
    ck_assert_int_eq(weft__timers_add(&ts, &tm[i].t, (uint64_t)((i * 7919) % N)), 0);
  }
  for (int i = 0; i < N; i += 2) ck_assert(weft__timers_cancel(&tm[i].t));
  /* What is left fires in nondecreasing deadline order. */
  uint64_t last = 0;
  for (uint64_t now = 0; now < N; now++) {
    nfired = 0;
    weft__timers_run(&ts, now);
    for (int k = 0; k < nfired; k++) {
      ck_assert(fired[k] % 2 == 1);
      uint64_t d = (uint64_t)((fired[k] * 7919) % N);
      ck_assert_uint_ge(d, last);
      last = d;
    }
  }
  ck_assert_uint_eq(weft__timers_next(&ts), UINT64_MAX);
  weft__timers_fini(&ts);
}
END_TEST

START_TEST(never_armed_cancel_is_false) {
  struct tagged t;
  weft__timer_init(&t.t, on_fire);
  ck_assert(!weft__timers_cancel(&t.t));
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("timer");
  TCase *tc = tcase_create("heap");
  tcase_add_test(tc, fires_in_deadline_then_insertion_order);
  tcase_add_test(tc, cancel_keeps_heap_valid);
  tcase_add_test(tc, never_armed_cancel_is_false);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
