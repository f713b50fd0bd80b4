/*
 * test_amutex.c - runtime/amutex.c: the futures' lock keeps its holders
 * apart and loses no wake-up, with the asymmetric barrier (membarrier)
 * and with the seq_cst fallback, while holders give up the CPU inside
 * their critical sections so that waiters go to sleep. (With
 * $WEFT_MEMBARRIER=0, as `make test-epoll` runs it, both cases take the
 * fallback.)
 */
#include "helpers.h"
#include "amutex.h"

#include <pthread.h>
#include <sched.h>

enum { THREADS = 4, LOCKS = 3 };

/* Three locks, so that a sleeper on one meets unlocks of the others
 * (whose bucket it may share: amutex.h). */
static struct weft__amutex locks[LOCKS];
static long counters[LOCKS]; /* plain: only ever touched under its lock (TSan checks) */
static long per_thread;

static void *hammer(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1;
  for (long i = 0; i < per_thread; i++) {
    seed = seed * 1103515245u + 12345u;
    int k = (int)((seed >> 16) % LOCKS);
    weft__amutex_lock(&locks[k]);
    long v = counters[k];
    /* Give up the CPU inside the critical section now and then: the
     * others spin out and sleep, which is the path under test. */
    if (((seed >> 8) & 31) == 0) sched_yield();
    counters[k] = v + 1;
    weft__amutex_unlock(&locks[k]);
  }
  return NULL;
}

/* A lost wake-up hangs a thread (the test's timeout fails it); a broken
 * exclusion loses an increment (and TSan reports the race). */
static void run_hammers(void) {
  per_thread = scaled(20000);
  for (int k = 0; k < LOCKS; k++) {
    weft__amutex_init(&locks[k]);
    counters[k] = 0;
  }
  pthread_t th[THREADS];
  for (uintptr_t i = 0; i < THREADS; i++)
    ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, (void *)i), 0);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  long sum = 0;
  for (int k = 0; k < LOCKS; k++) {
    sum += counters[k];
    ck_assert_uint_eq(atomic_load(&locks[k].word), 0);
    ck_assert_uint_eq(atomic_load(weft__amutex_bucket(&locks[k])), 0); /* every sleeper left */
  }
  ck_assert_int_eq(sum, THREADS * per_thread);
}

START_TEST(exclusion_and_wakeups_with_membarrier) {
  weft__amutex_setup();
  run_hammers();
}
END_TEST

START_TEST(exclusion_and_wakeups_with_seq_cst) {
  weft__amutex_setup();
  /* The fallback where membarrier is missing: the unlock's store and
   * read and the sleeper's count and look are seq_cst (both sides read
   * the flag). Single-threaded here, so the flag may change; put back
   * after. */
  bool was = atomic_load(&weft__amutex_asymmetric);
  atomic_store(&weft__amutex_asymmetric, false);
  run_hammers();
  atomic_store(&weft__amutex_asymmetric, was);
}
END_TEST

START_TEST(uncontended_lock_and_unlock) {
  struct weft__amutex m;
  weft__amutex_init(&m);
  for (int i = 0; i < 3; i++) {
    weft__amutex_lock(&m);
    ck_assert_uint_eq(atomic_load(&m.word), 1);
    weft__amutex_unlock(&m);
    ck_assert_uint_eq(atomic_load(&m.word), 0);
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("amutex");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, uncontended_lock_and_unlock);
  tcase_add_test(tc, exclusion_and_wakeups_with_membarrier);
  tcase_add_test(tc, exclusion_and_wakeups_with_seq_cst);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
