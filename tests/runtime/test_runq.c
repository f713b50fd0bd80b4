/* test_runq.c - runtime/runq.c: FIFO order, the peeks, overflow, batch pushes,
 * steal-half, and the owner (pushing one at a time or in batches) against 1
 * and 3 thieves with no item lost or taken twice. */
#include "helpers.h"
#include "runq.h"

#include <pthread.h>
#include <stdatomic.h>

START_TEST(fifo_order) {
  static struct weft__runq q;
  weft__runq_init(&q);
  static struct weft__runnable items[WEFT__RUNQ_CAP];
  for (int round = 0; round < 3; round++) { /* wrap the counters around */
    for (int i = 0; i < WEFT__RUNQ_CAP; i++) ck_assert(weft__runq_try_push(&q, &items[i]));
    ck_assert(!weft__runq_try_push(&q, &items[0]));
    ck_assert_uint_eq(weft__runq_len(&q), WEFT__RUNQ_CAP);
    for (int i = 0; i < WEFT__RUNQ_CAP; i++) ck_assert_ptr_eq(weft__runq_pop(&q), &items[i]);
    ck_assert_ptr_null(weft__runq_pop(&q));
    ck_assert_uint_eq(weft__runq_len(&q), 0);
  }
}
END_TEST

/* The peeks the scheduler's prefetch uses (worker.c): what the next pops
 * will return, in order, without taking anything, across the counters'
 * wrap; NULL past the tail and on an empty ring. */
START_TEST(peeks_see_the_next_pops) {
  static struct weft__runq q;
  weft__runq_init(&q);
  static struct weft__runnable items[WEFT__RUNQ_CAP];
  ck_assert_ptr_null(weft__runq_peek_solo(&q, 0));
  ck_assert_ptr_null(weft__runq_peek_hint(&q));
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < WEFT__RUNQ_CAP; i++) ck_assert(weft__runq_try_push_solo(&q, &items[i]));
    ck_assert_ptr_null(weft__runq_peek_solo(&q, WEFT__RUNQ_CAP));
    for (int i = 0; i < WEFT__RUNQ_CAP; i++) {
      ck_assert_ptr_eq(weft__runq_peek_solo(&q, 0), &items[i]);
      ck_assert_ptr_eq(weft__runq_peek_hint(&q), &items[i]);
      if (i + 1 < WEFT__RUNQ_CAP)
        ck_assert_ptr_eq(weft__runq_peek_solo(&q, 1), &items[i + 1]);
      else
        ck_assert_ptr_null(weft__runq_peek_solo(&q, 1));
      ck_assert_ptr_eq(weft__runq_pop_solo(&q), &items[i]);
    }
    ck_assert_ptr_null(weft__runq_peek_solo(&q, 0));
    ck_assert_ptr_null(weft__runq_peek_hint(&q));
  }
}
END_TEST

START_TEST(overflow_spills_older_half_in_order) {
  static struct weft__runq q;
  weft__runq_init(&q);
  static struct weft__runnable items[WEFT__RUNQ_CAP + 1];
  struct weft__runnable *spill[WEFT__RUNQ_SPILL];
  for (int i = 0; i < WEFT__RUNQ_CAP; i++) ck_assert_uint_eq(weft__runq_push(&q, &items[i], spill), 0);
  ck_assert_uint_eq(weft__runq_push(&q, &items[WEFT__RUNQ_CAP], spill), WEFT__RUNQ_CAP / 2 + 1);
  for (int i = 0; i < WEFT__RUNQ_CAP / 2; i++) ck_assert_ptr_eq(spill[i], &items[i]);
  ck_assert_ptr_eq(spill[WEFT__RUNQ_CAP / 2], &items[WEFT__RUNQ_CAP]);
  for (int i = WEFT__RUNQ_CAP / 2; i < WEFT__RUNQ_CAP; i++) ck_assert_ptr_eq(weft__runq_pop(&q), &items[i]);
}
END_TEST

/* A batch push appends, in order, as many of its items as fit and says
 * how many; on a full ring none. Across the counters' wrap. */
START_TEST(batch_push_appends_what_fits_in_order) {
  static struct weft__runq q;
  weft__runq_init(&q);
  static struct weft__runnable items[WEFT__RUNQ_CAP + 3];
  static struct weft__runnable *list[WEFT__RUNQ_CAP + 3];
  for (int i = 0; i < WEFT__RUNQ_CAP + 3; i++) list[i] = &items[i];
  ck_assert_uint_eq(weft__runq_push_batch(&q, list, 0), 0);
  for (int round = 0; round < 3; round++) {
    ck_assert(weft__runq_try_push(&q, &items[0])); /* one ahead of the batch */
    size_t in = weft__runq_push_batch(&q, &list[1], WEFT__RUNQ_CAP + 2);
    ck_assert_uint_eq(in, WEFT__RUNQ_CAP - 1);
    ck_assert_uint_eq(weft__runq_len(&q), WEFT__RUNQ_CAP);
    ck_assert_uint_eq(weft__runq_push_batch(&q, &list[1 + in], 2), 0); /* full */
    for (int i = 0; i < WEFT__RUNQ_CAP; i++) ck_assert_ptr_eq(weft__runq_pop(&q), &items[i]);
    ck_assert_ptr_null(weft__runq_pop(&q));
    /* A batch that fits whole, behind what is queued. */
    ck_assert(weft__runq_try_push(&q, &items[1]));
    ck_assert_uint_eq(weft__runq_push_batch(&q, list, 1), 1);
    ck_assert_ptr_eq(weft__runq_pop(&q), &items[1]);
    ck_assert_ptr_eq(weft__runq_pop(&q), &items[0]);
    ck_assert_ptr_null(weft__runq_pop(&q));
  }
}
END_TEST

START_TEST(steal_takes_half) {
  static struct weft__runq a, b;
  weft__runq_init(&a);
  weft__runq_init(&b);
  enum { N = WEFT__RUNQ_CAP < 10 ? WEFT__RUNQ_CAP : 10 }; /* test builds shrink the ring */
  struct weft__runnable items[N];
  for (int i = 0; i < N; i++) ck_assert(weft__runq_try_push(&a, &items[i]));
  struct weft__runnable *r = weft__runq_steal(&b, &a);
  ck_assert_ptr_nonnull(r);
  ck_assert_uint_eq(weft__runq_len(&a), N / 2);
  ck_assert_uint_eq(weft__runq_len(&b), N - N / 2 - 1); /* one of the stolen is returned */
  ck_assert_ptr_null(weft__runq_steal(&b, &(struct weft__runq){0}));
}
END_TEST

/* ---- stress -------------------------------------------------------------- */

static struct weft__runq owner_q;
static struct weft__runnable *items;
static _Atomic unsigned char *seen;
static _Atomic long taken;
static _Atomic bool owner_done;
static long nitems;

static _Atomic long errors;

/* Hot path: no ck_assert here (in fork mode each one writes to a pipe);
 * mistakes are counted and asserted once at the end. */
static void take(struct weft__runnable *r) {
  long id = r - items;
  if (id < 0 || id >= nitems) {
    atomic_fetch_add_explicit(&errors, 1, memory_order_relaxed);
    return;
  }
  /* relaxed: the final check happens after the threads are joined. */
  if (atomic_fetch_add_explicit(&seen[id], 1, memory_order_relaxed) != 0)
    atomic_fetch_add_explicit(&errors, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&taken, 1, memory_order_relaxed);
}

static void *thief(void *arg) {
  struct weft__runq *mine = arg;
  weft__runq_init(mine);
  for (;;) {
    bool done = atomic_load(&owner_done);
    struct weft__runnable *r = weft__runq_steal(mine, &owner_q);
    if (r) {
      take(r);
      while ((r = weft__runq_pop(mine))) take(r);
    } else if (done) {
      break;
    } else {
      sched_yield(); /* each attempt is a steal under test; let the owner run on 2 cores */
    }
  }
  return NULL;
}

/* The owner's pushes: one at a time (spilling when full), or in batches
 * of up to 7 (what does not fit is taken on the spot, as a spill's). */
static void owner_push(long *i, bool batches, struct weft__runnable **spill) {
  if (!batches) {
    size_t n = weft__runq_push(&owner_q, &items[*i], spill);
    for (size_t k = 0; k < n; k++) take(spill[k]);
    (*i)++;
    return;
  }
  struct weft__runnable *list[7] = {0};
  size_t n = 0;
  while (n < 1 + (size_t)(*i % 7) && *i < nitems) list[n++] = &items[(*i)++];
  size_t in = weft__runq_push_batch(&owner_q, list, n);
  for (size_t k = in; k < n; k++) take(list[k]);
}

static void stress(int nthieves, bool batches) {
  nitems = scaled(5000000); /* push + take = 10M operations */
  items = calloc((size_t)nitems, sizeof *items);
  seen = calloc((size_t)nitems, 1);
  atomic_store(&taken, 0);
  atomic_store(&errors, 0);
  atomic_store(&owner_done, false);
  weft__runq_init(&owner_q);
  pthread_t th[3];
  static struct weft__runq thief_q[3];
  for (int i = 0; i < nthieves; i++) pthread_create(&th[i], NULL, thief, &thief_q[i]);
  static struct weft__runnable *spill[WEFT__RUNQ_SPILL];
  for (long i = 0; i < nitems;) {
    owner_push(&i, batches, spill);
    if (i % 3 == 0) {
      struct weft__runnable *r = weft__runq_pop(&owner_q);
      if (r) take(r);
    }
  }
  struct weft__runnable *r;
  while ((r = weft__runq_pop(&owner_q))) take(r);
  atomic_store(&owner_done, true);
  for (int i = 0; i < nthieves; i++) pthread_join(th[i], NULL);
  ck_assert_int_eq(atomic_load(&errors), 0);
  ck_assert_int_eq(atomic_load(&taken), nitems);
  long bad = 0;
  for (long i = 0; i < nitems; i++) bad += seen[i] != 1;
  ck_assert_int_eq(bad, 0);
  free(items);
  free((void *)seen);
}

START_TEST(owner_vs_one_thief) { stress(1, false); }
END_TEST

START_TEST(owner_vs_three_thieves) { stress(3, false); }
END_TEST

START_TEST(owner_batches_vs_three_thieves) { stress(3, true); }
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("runq");
  TCase *tc = tcase_create("ring");
  tcase_add_test(tc, fifo_order);
  tcase_add_test(tc, peeks_see_the_next_pops);
  tcase_add_test(tc, overflow_spills_older_half_in_order);
  tcase_add_test(tc, batch_push_appends_what_fits_in_order);
  tcase_add_test(tc, steal_takes_half);
  suite_add_tcase(s, tc);
  TCase *st = tcase_create("stress");
  tcase_set_timeout(st, 600);
  tcase_add_test(st, owner_vs_one_thief);
  tcase_add_test(st, owner_vs_three_thieves);
  tcase_add_test(st, owner_batches_vs_three_thieves);
  suite_add_tcase(s, st);
  return s;
}
WEFT_TEST_MAIN(suite)
