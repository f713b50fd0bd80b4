/* test_timer.c - runtime/timer.c: deadline order, FIFO ties, cancel from the
 * middle, the earliest-deadline hint, and random operations against a
 * model. */
#include "helpers.h"
#include "timer.h"

#include <stdbool.h>
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

/* A model check: random arms (deadlines from a small range, so many
 * ties), cancels and runs against a reference that fires, at each run,
 * the armed timers due, in (deadline, arming order). Re-armed timers, and
 * a heap past several doublings (its array no larger than the most timers
 * armed at once needed). */
enum { MODEL_N = 3000 };
static struct model {
  struct tagged tm[MODEL_N];
  bool armed[MODEL_N];
  uint64_t deadline[MODEL_N], order[MODEL_N];
  int got[MODEL_N], ngot;
} md;

static void on_model_fire(struct weft__timer *t) {
  int id = ((struct tagged *)t)->id;
  ck_assert_int_lt(md.ngot, MODEL_N);
  md.got[md.ngot++] = id;
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rnd_state ^= rnd_state << 13;
  rnd_state ^= rnd_state >> 7;
  rnd_state ^= rnd_state << 17;
  return rnd_state;
}

START_TEST(random_operations_match_a_model) {
  struct weft__timers ts;
  weft__timers_init(&ts);
  uint64_t now = 0, arming = 0;
  int narmed = 0, most = 0;
  for (int i = 0; i < MODEL_N; i++) {
    md.tm[i].id = i;
    weft__timer_init(&md.tm[i].t, on_model_fire);
  }
  for (int step = 0; step < 60000; step++) {
    unsigned op = (unsigned)(rnd() % 16);
    int i = (int)(rnd() % MODEL_N);
    if (op < 9) { /* arm, or re-arm after a cancel */
      if (md.armed[i]) ck_assert(weft__timers_cancel(&md.tm[i].t));
      else narmed++;
      md.deadline[i] = now + rnd() % 64;
      md.order[i] = arming++;
      md.armed[i] = true;
      ck_assert_int_eq(weft__timers_add(&ts, &md.tm[i].t, md.deadline[i]), 0);
    } else if (op < 13) { /* cancel */
      ck_assert(weft__timers_cancel(&md.tm[i].t) == md.armed[i]);
      if (md.armed[i]) narmed--;
      md.armed[i] = false;
    } else { /* run */
      now += rnd() % 8;
      md.ngot = 0;
      unsigned n = weft__timers_run(&ts, now);
      ck_assert_uint_eq(n, (unsigned)md.ngot);
      /* exactly the armed ones due, each once, in (deadline, order) */
      int due = 0;
      for (int k = 0; k < MODEL_N; k++) due += md.armed[k] && md.deadline[k] <= now;
      ck_assert_int_eq(md.ngot, due);
      for (int k = 0; k < md.ngot; k++) {
        int id = md.got[k];
        ck_assert(md.armed[id] && md.deadline[id] <= now);
        if (k > 0) {
          int prev = md.got[k - 1];
          ck_assert(md.deadline[prev] < md.deadline[id] ||
                    (md.deadline[prev] == md.deadline[id] && md.order[prev] < md.order[id]));
        }
        md.armed[id] = false;
        narmed--;
      }
      uint64_t next = UINT64_MAX;
      for (int k = 0; k < MODEL_N; k++)
        if (md.armed[k] && md.deadline[k] < next) next = md.deadline[k];
      ck_assert_uint_eq(weft__timers_next(&ts), next);
    }
    if (narmed > most) most = narmed;
    ck_assert_uint_eq(ts.len, (unsigned)narmed);
  }
  ck_assert_uint_lt(ts.cap, 2u * (unsigned)most + 64u);
  weft__timers_fini(&ts);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("timer");
  TCase *tc = tcase_create("heap");
  tcase_add_test(tc, fires_in_deadline_then_insertion_order);
  tcase_add_test(tc, cancel_keeps_heap_valid);
  tcase_add_test(tc, never_armed_cancel_is_false);
  tcase_add_test(tc, random_operations_match_a_model);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
