/* test_ticks.c - runtime/ticks.c: the accounting clock never runs
 * backwards, and its conversions to and from ns agree with each other and
 * with CLOCK_MONOTONIC. */
#include "helpers.h"
#include "clock.h"
#include "ticks.h"

static int noop(void *arg, void **res) {
  (void)arg;
  (void)res;
  return 0;
}

/* Real time for the ratio to be measured over: loops made, run and closed
 * (milliseconds of work, no sleep). */
static void let_time_pass(void) {
  for (int i = 0; i < 5; i++) ck_assert_int_eq(run_main(1, noop, NULL, NULL), 0);
}

/* The two clocks read together: of 100 tries, the one whose clock read sat
 * between the closest pair of tick reads (a preemption between them
 * would skew the pair). */
static void read_both(uint64_t *ticks, uint64_t *ns) {
  uint64_t best = UINT64_MAX;
  for (int i = 0; i < 100; i++) {
    uint64_t a = weft__ticks(), c = weft__clock_ns(), b = weft__ticks();
    if (b - a < best) {
      best = b - a;
      *ticks = a + (b - a) / 2;
      *ns = c;
    }
  }
}

START_TEST(ticks_never_go_back) {
  weft__ticks_init();
  uint64_t prev = weft__ticks();
  for (int i = 0; i < 100000; i++) {
    uint64_t now = weft__ticks();
    ck_assert_uint_ge(now, prev);
    prev = now;
  }
}
END_TEST

START_TEST(conversions_agree) {
  weft__ticks_init();
  let_time_pass();
  ck_assert_uint_eq(weft__ticks_from_ns(0), 0);
  ck_assert_uint_eq(weft__ticks_to_ns(0), 0);
  const uint64_t ns = 50000000; /* 50 ms */
  uint64_t tk = weft__ticks_from_ns(ns);
  ck_assert_uint_gt(tk, 0);
  uint64_t back = weft__ticks_to_ns(tk);
  ck_assert_uint_ge(back, ns - ns / 50); /* within 2% both ways */
  ck_assert_uint_le(back, ns + ns / 50);
  uint64_t tk2 = weft__ticks_from_ns(2 * ns); /* linear */
  ck_assert_uint_ge(tk2, 2 * tk - tk / 25);
  ck_assert_uint_le(tk2, 2 * tk + tk / 25);
}
END_TEST

/* An interval in ticks, turned into ns, is the interval CLOCK_MONOTONIC saw
 * (within 10%). */
START_TEST(ticks_measure_what_the_clock_measures) {
  weft__ticks_init();
  uint64_t t0, c0, t1, c1;
  read_both(&t0, &c0);
  let_time_pass();
  read_both(&t1, &c1);
  uint64_t clock = c1 - c0, ticks_ns = weft__ticks_to_ns(t1 - t0);
  ck_assert_uint_ge(ticks_ns, clock - clock / 10);
  ck_assert_uint_le(ticks_ns, clock + clock / 10);
}
END_TEST

/* The measured cost of a read (loop.c's sampling period follows it) is
 * measured once, at least 1 ns, and not overstated: 1,024 reads take at
 * least a quarter of what it predicts (a lower bound, as a sleep's). */
START_TEST(read_cost_is_measured_once) {
  uint32_t ns = weft__ticks_read_ns();
  ck_assert_uint_ge(ns, 1);
  ck_assert_uint_eq(weft__ticks_read_ns(), ns);
  uint64_t sink = 0, c0 = weft__clock_ns();
  for (int i = 0; i < 1024; i++) sink += weft__ticks();
  uint64_t took = weft__clock_ns() - c0;
  ck_assert_uint_gt(sink, 0);
  ck_assert_uint_ge(took, (uint64_t)ns * 1024 / 4);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("ticks");
  TCase *tc = tcase_create("ticks");
  tcase_add_test(tc, ticks_never_go_back);
  tcase_add_test(tc, conversions_agree);
  tcase_add_test(tc, ticks_measure_what_the_clock_measures);
  tcase_add_test(tc, read_cost_is_measured_once);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
