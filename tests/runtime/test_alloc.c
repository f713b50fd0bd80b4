/* test_alloc.c - runtime/alloc.c: sized alloc/free, zeroing, strdup, the
 * bulk arena and its huge-page extents. */
#include "helpers.h"
#include "alloc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(WEFT_USE_JEMALLOC)
#include <jemalloc/jemalloc.h>
#endif

START_TEST(alloc_roundtrip) {
  for (size_t n = 1; n < 1 << 20; n *= 3) {
    unsigned char *p = weft__alloc(n);
    ck_assert_ptr_nonnull(p);
    memset(p, 0xAB, n);
    p = weft__realloc(p, n, n * 2);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p[n - 1], 0xAB);
    weft__free(p, n * 2);
  }
}
END_TEST

START_TEST(calloc_zeroes) {
  unsigned char *p = weft__calloc(4096);
  ck_assert_ptr_nonnull(p);
  for (int i = 0; i < 4096; i++) ck_assert_int_eq(p[i], 0);
  weft__free(p, 4096);
}
END_TEST

START_TEST(strdup_copies_and_null) {
  char *s = weft__strdup("weft");
  ck_assert_str_eq(s, "weft");
  weft__strfree(s);
  ck_assert_ptr_null(weft__strdup(NULL));
  weft__strfree(NULL);
  weft__free(NULL, 0);
}
END_TEST

#if defined(WEFT_USE_JEMALLOC)
/* The arena @p was allocated from. */
static unsigned arena_of(void *p) {
  unsigned index = ~0u;
  size_t sz = sizeof index;
  ck_assert_int_eq(mallctl("arenas.lookup", &index, &sz, &p, sizeof p), 0);
  return index;
}

/* Whether the mapping holding @p is marked for huge pages (smaps' VmFlags
 * "hg", set by madvise(MADV_HUGEPAGE)). */
static bool marked_huge(const void *p) {
  FILE *f = fopen("/proc/self/smaps", "r");
  ck_assert_ptr_nonnull(f);
  char line[512];
  bool inside = false, hg = false;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
      inside = (unsigned long)p >= lo && (unsigned long)p < hi;
    } else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
      hg = strstr(line, " hg") != NULL;
      break;
    }
  }
  fclose(f);
  return hg;
}

enum { BULK_OBJS = 200000, BULK_SIZE = 192 }; /* 37 MiB: past the small extents */

/* Allocates BULK_OBJS bulk objects (touched); returns them. */
static void **bulk_burst(void) {
  void **objs = malloc(sizeof *objs * BULK_OBJS);
  ck_assert_ptr_nonnull(objs);
  for (int i = 0; i < BULK_OBJS; i++) {
    objs[i] = weft__alloc_bulk(BULK_SIZE);
    ck_assert_ptr_nonnull(objs[i]);
    memset(objs[i], 0x5A, BULK_SIZE);
  }
  return objs;
}

static void bulk_free(void **objs) {
  for (int i = 0; i < BULK_OBJS; i++) weft__free(objs[i], BULK_SIZE);
  free(objs);
}

static bool have_thp(void) { return access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0; }

/* A burst's objects come from an arena that is not the thread's, and the
 * large extents it grew are marked for huge pages; the first, small ones
 * are not. */
START_TEST(bulk_burst_takes_huge_extents_of_its_own_arena) {
  unsetenv("WEFT_HUGE_PAGES");
  void *plain = weft__alloc(BULK_SIZE);
  void **objs = bulk_burst();
  unsigned bulk = arena_of(objs[BULK_OBJS - 1]);
  ck_assert_uint_ne(bulk, arena_of(plain));
  int from_bulk = 0, first = -1;
  for (int i = 0; i < BULK_OBJS; i++) {
    if (arena_of(objs[i]) != bulk) continue;
    from_bulk++;
    if (first < 0) first = i;
  }
  ck_assert_int_ge(from_bulk, BULK_OBJS - 1000); /* all but what the thread cache held */
  if (have_thp()) {
    ck_assert(marked_huge(objs[BULK_OBJS - 1]));
    ck_assert(!marked_huge(objs[first])); /* the arena's first extent is small */
  }
  bulk_free(objs);
  weft__free(plain, BULK_SIZE);
}
END_TEST

/* $WEFT_HUGE_PAGES=0: still the arena of its own (it keeps its free slabs
 * apart, below), nothing marked. (Check forks each test, so the setting is
 * read afresh here.) */
START_TEST(bulk_huge_pages_off_by_environment) {
  setenv("WEFT_HUGE_PAGES", "0", 1);
  void *plain = weft__alloc(BULK_SIZE);
  void **objs = bulk_burst();
  ck_assert_uint_ne(arena_of(objs[BULK_OBJS - 1]), arena_of(plain));
  if (have_thp()) ck_assert(!marked_huge(objs[BULK_OBJS - 1]));
  bulk_free(objs);
  weft__free(plain, BULK_SIZE);
  unsetenv("WEFT_HUGE_PAGES");
}
END_TEST

/* Bytes jemalloc has mapped for arena @index (stats refreshed first). */
static size_t arena_mapped(unsigned index) {
  uint64_t epoch = 1;
  size_t sz = sizeof epoch;
  ck_assert_int_eq(mallctl("epoch", &epoch, &sz, &epoch, sz), 0);
  char name[64];
  snprintf(name, sizeof name, "stats.arenas.%u.mapped", index);
  size_t mapped = 0;
  sz = sizeof mapped;
  ck_assert_int_eq(mallctl(name, &mapped, &sz, NULL, 0), 0);
  return mapped;
}

/* Rounds of 10,000 objects of the task's size class made and freed
 * together (gather_10k's pattern) reuse the first round's memory: freed
 * slabs are not coalesced into extents too large to serve a slab again
 * (alloc.c), which made every round map fresh memory. */
START_TEST(bulk_rounds_reuse_freed_slabs) {
  enum { N = 10000, SIZE = 160, ROUNDS = 8 };
  static void *objs[N];
  size_t after_first = 0;
  unsigned bulk = 0;
  for (int r = 0; r < ROUNDS; r++) {
    for (int i = 0; i < N; i++) {
      objs[i] = weft__alloc_bulk(SIZE);
      ck_assert_ptr_nonnull(objs[i]);
      memset(objs[i], 0x5A, SIZE);
    }
    bulk = arena_of(objs[N - 1]);
    for (int i = 0; i < N; i++) weft__free(objs[i], SIZE);
    if (r == 0) after_first = arena_mapped(bulk);
  }
  ck_assert_uint_le(arena_mapped(bulk), after_first); /* decay may have given some back */
}
END_TEST
#endif

START_TEST(bulk_roundtrip) {
  unsigned char *p = weft__alloc_bulk(192);
  ck_assert_ptr_nonnull(p);
  memset(p, 0x5A, 192);
  unsigned char *q = weft__alloc_bulk(0); /* a valid, distinct pointer, as weft__alloc's */
  ck_assert_ptr_nonnull(q);
  ck_assert_ptr_ne(p, q);
  weft__free(q, 0);
  weft__free(p, 192);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("alloc");
  TCase *tc = tcase_create("alloc");
  tcase_add_test(tc, alloc_roundtrip);
  tcase_add_test(tc, calloc_zeroes);
  tcase_add_test(tc, strdup_copies_and_null);
  tcase_add_test(tc, bulk_roundtrip);
#if defined(WEFT_USE_JEMALLOC)
  tcase_add_test(tc, bulk_burst_takes_huge_extents_of_its_own_arena);
  tcase_add_test(tc, bulk_huge_pages_off_by_environment);
  tcase_add_test(tc, bulk_rounds_reuse_freed_slabs);
#endif
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
