/*
 * test_mpmc_ring.c - sync/mpmc_ring.c, the lock-free ring a bounded FIFO
 * Queue keeps its items in: bounds, FIFO order across many laps for
 * power-of-two and other capacities, FULL and EMPTY at the edges, the
 * count, the strided slot layout, closing puts, and dropping everything. Its concurrency is tested
 * through the queue it serves (test_queue.c: foreign threads and tasks on
 * four workers), which adds the waiting a ring has not.
 */
#include "helpers.h"
#include "mpmc_ring.h"

#include <errno.h>
#include <string.h>

START_TEST(bounds_are_checked) {
  struct weft__ring *r = NULL;
  ck_assert_int_eq(weft__ring_create(0, &r), -EINVAL);
  ck_assert_int_eq(weft__ring_create(1, &r), -EINVAL); /* turns need two slots */
  ck_assert_int_eq(weft__ring_create(WEFT__RING_MAX + 1, &r), -EINVAL);
  ck_assert_ptr_null(r);
  ck_assert_int_eq(weft__ring_create(WEFT__RING_MAX, &r), 0);
  ck_assert_uint_eq(weft__ring_count(r), 0);
  weft__ring_destroy(r);
  weft__ring_destroy(NULL);
}
END_TEST

START_TEST(fifo_across_laps) {
  /* Every shape of the strided layout: one line (2, 3), a last line part
   * full (5, 7, 1001), power-of-two lines (4, 8, 128, 4096). */
  static const size_t caps[] = {2, 3, 4, 5, 7, 8, 100, 128, 1001, 4096};
  for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
    size_t cap = caps[c];
    struct weft__ring *r;
    ck_assert_int_eq(weft__ring_create(cap, &r), 0);
    void *v = NULL;
    ck_assert_int_eq(weft__ring_get(r, &v), WEFT__RING_EMPTY);
    /* Fill exactly to the bound: the next put is FULL, nothing is lost. */
    for (long i = 0; i < (long)cap; i++)
      ck_assert_int_eq(weft__ring_put(r, (void *)(i + 1)), WEFT__RING_OK);
    ck_assert_int_eq(weft__ring_put(r, (void *)-1L), WEFT__RING_FULL);
    ck_assert_uint_eq(weft__ring_count(r), cap);
    ck_assert_uint_eq(weft__ring_puts(r), cap);
    long next_in = (long)cap + 1, next_out = 1;
    /* Many laps, the fill level wandering between empty and full. */
    for (long step = 0; step < 50 * (long)cap; step++) {
      bool put = (step / (long)(cap / 2 + 1)) % 2 == 0;
      if (put) {
        int rc = weft__ring_put(r, (void *)next_in);
        ck_assert_int_eq(rc, next_in - next_out == (long)cap ? WEFT__RING_FULL : WEFT__RING_OK);
        if (rc == WEFT__RING_OK) next_in++;
      } else {
        int rc = weft__ring_get(r, &v);
        ck_assert_int_eq(rc, next_in == next_out ? WEFT__RING_EMPTY : WEFT__RING_OK);
        if (rc == WEFT__RING_OK) ck_assert_int_eq((long)v, next_out++);
      }
      ck_assert_uint_eq(weft__ring_count(r), (size_t)(next_in - next_out));
    }
    ck_assert_uint_eq(weft__ring_puts(r), (uint64_t)(next_in - 1));
    while (weft__ring_get(r, &v) == WEFT__RING_OK) ck_assert_int_eq((long)v, next_out++);
    ck_assert_int_eq(next_out, next_in);
    ck_assert(weft__ring_idle(r));
    weft__ring_destroy(r);
  }
}
END_TEST

/* The strided layout maps a lap's positions onto distinct slots inside the
 * allocation, consecutive positions onto different cache lines (from 8
 * slots up, where there are two lines or more), and a position one lap
 * later onto the same slot. */
START_TEST(slots_are_strided) {
  static bool used[WEFT__RING_MAX + WEFT__RING_PER_LINE];
  for (size_t cap = 2; cap <= WEFT__RING_MAX; cap = cap < 300 ? cap + 1 : cap * 2 + 1) {
    size_t c = cap > WEFT__RING_MAX ? WEFT__RING_MAX : cap;
    struct weft__ring *r;
    ck_assert_int_eq(weft__ring_create(c, &r), 0);
    size_t nslots = r->lines * WEFT__RING_PER_LINE;
    ck_assert_uint_ge(nslots, c);
    ck_assert_uint_lt(nslots, c + WEFT__RING_PER_LINE);
    memset(used, 0, sizeof used);
    uint64_t lap = 7 * (uint64_t)c; /* any lap: the mapping is per lap */
    for (uint64_t pos = lap; pos < lap + c; pos++) {
      uint64_t base, base2;
      struct weft__ring_slot *s = weft__ring_slot(r, pos, &base);
      size_t i = (size_t)(s - r->slots);
      ck_assert_uint_lt(i, nslots);
      ck_assert_msg(!used[i], "cap %zu: position %llu reuses slot %zu", c,
                    (unsigned long long)pos, i);
      used[i] = true;
      ck_assert_uint_eq(base, lap);
      ck_assert_ptr_eq(weft__ring_slot(r, pos + c, &base2), s);
      ck_assert_uint_eq(base2, lap + c);
      if (c >= 8 && pos + 1 < lap + c) {
        struct weft__ring_slot *next = weft__ring_slot(r, pos + 1, &base2);
        ck_assert_uint_ne((uintptr_t)s / 64, (uintptr_t)next / 64);
      }
    }
    weft__ring_destroy(r);
    if (c == WEFT__RING_MAX) break;
  }
}
END_TEST

START_TEST(closing_and_dropping) {
  struct weft__ring *r;
  ck_assert_int_eq(weft__ring_create(5, &r), 0);
  for (long i = 1; i <= 3; i++) ck_assert_int_eq(weft__ring_put(r, (void *)i), WEFT__RING_OK);
  /* Closed for puts: gets go on until empty. */
  weft__ring_close_puts(r);
  ck_assert_int_eq(weft__ring_put(r, (void *)9L), WEFT__RING_CLOSED_RC);
  ck_assert_uint_eq(weft__ring_puts(r), 3);
  void *v;
  ck_assert_int_eq(weft__ring_get(r, &v), WEFT__RING_OK);
  ck_assert_int_eq((long)v, 1);
  ck_assert_uint_eq(weft__ring_count(r), 2);
  ck_assert(!weft__ring_idle(r));
  /* Dropping takes the two left, and closes gets too. */
  ck_assert_uint_eq(weft__ring_drop_all(r), 2);
  ck_assert_int_eq(weft__ring_get(r, &v), WEFT__RING_CLOSED_RC);
  ck_assert_int_eq(weft__ring_put(r, (void *)9L), WEFT__RING_CLOSED_RC);
  ck_assert_uint_eq(weft__ring_count(r), 0);
  ck_assert_uint_eq(weft__ring_drop_all(r), 0); /* dropped before */
  weft__ring_destroy(r);
  /* drop_all closes puts itself. */
  ck_assert_int_eq(weft__ring_create(2, &r), 0);
  ck_assert_int_eq(weft__ring_put(r, (void *)1L), WEFT__RING_OK);
  ck_assert_uint_eq(weft__ring_drop_all(r), 1);
  ck_assert_int_eq(weft__ring_put(r, (void *)2L), WEFT__RING_CLOSED_RC);
  weft__ring_destroy(r);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("mpmc_ring");
  TCase *tc = tcase_create("mpmc_ring");
  tcase_add_test(tc, bounds_are_checked);
  tcase_add_test(tc, fifo_across_laps);
  tcase_add_test(tc, slots_are_strided);
  tcase_add_test(tc, closing_and_dropping);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
