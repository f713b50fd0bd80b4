/* test_stack.c - runtime/stack.c: slab reuse, lone stacks, the bounded pool,
 * guard pages on both kinds, trimming in runs that spare stacks in use
 * and guards, many stacks within the mapping limit, what a fresh stack
 * holds resident, and the slab stacks' skew. */
#include "helpers.h"
#include "stack.h"

#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define KIB 1024

START_TEST(pool_reuses_slab_stacks) {
  struct weft__stack_arena arena;
  weft__stack_arena_init(&arena, 64 * KIB);
  struct weft__stack_pool pool = {.arena = &arena};
  struct weft__stack *a = weft__stack_get(&pool, 64 * KIB);
  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_nonnull(a->slab);
  ck_assert_uint_ge(weft__stack_usable(a), 63 * KIB);
  memset(a->lo, 1, weft__stack_usable(a)); /* the whole usable range is writable */
  weft__stack_put(&pool, a);
  struct weft__stack *b = weft__stack_get(&pool, 64 * KIB);
  ck_assert_ptr_eq(a, b);
  /* Another size is mapped alone and unmapped on put. */
  struct weft__stack *c = weft__stack_get(&pool, 128 * KIB);
  ck_assert_ptr_null(c->slab);
  ck_assert_uint_ge(weft__stack_usable(c), 127 * KIB);
  weft__stack_put(&pool, c);
  weft__stack_put(&pool, b);
  weft__stack_pool_drain(&pool);
  ck_assert_uint_eq(pool.count, 0);
  weft__stack_arena_fini(&arena);
}
END_TEST

START_TEST(pool_is_bounded_and_spills_to_arena) {
  struct weft__stack_arena arena;
  weft__stack_arena_init(&arena, 16 * KIB);
  struct weft__stack_pool pool = {.arena = &arena};
  enum { N = 3 * WEFT__STACK_POOL_MAX };
  struct weft__stack *s[N];
  for (int i = 0; i < N; i++) ck_assert_ptr_nonnull(s[i] = weft__stack_get(&pool, 16 * KIB));
  for (int i = 0; i < N; i++) weft__stack_put(&pool, s[i]);
  ck_assert_uint_le(pool.count, WEFT__STACK_POOL_MAX);
  ck_assert_uint_ge(atomic_load(&arena.nfree), N - WEFT__STACK_POOL_MAX);
  /* Stacks given back are all distinct and get reused. */
  for (int i = 0; i < N; i++) ck_assert_ptr_nonnull(s[i] = weft__stack_get(&pool, 16 * KIB));
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++) ck_assert_ptr_ne(s[i], s[j]);
  for (int i = 0; i < N; i++) weft__stack_put(&pool, s[i]);
  weft__stack_pool_drain(&pool);
  weft__stack_arena_fini(&arena);
}
END_TEST

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
static void expect_fault_below(struct weft__stack *s) {
  pid_t pid = fork();
  if (pid == 0) {
    volatile char *below = (char *)s->lo - 1;
    *below = 1; /* must fault */
    _exit(0);
  }
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert(WIFSIGNALED(status));
  ck_assert(WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS);
}

START_TEST(guard_pages_fault) {
  struct weft__stack_arena arena;
  weft__stack_arena_init(&arena, 16 * KIB);
  struct weft__stack_pool pool = {.arena = &arena};
  struct weft__stack *a = weft__stack_get(&pool, 16 * KIB), *b = weft__stack_get(&pool, 32 * KIB);
  expect_fault_below(a); /* slab stack */
  expect_fault_below(b); /* lone stack */
  weft__stack_put(&pool, a);
  weft__stack_put(&pool, b);
  weft__stack_pool_drain(&pool);
  weft__stack_arena_fini(&arena);
}
END_TEST
#endif

/* Trimming gives back runs of neighbouring free stacks with one madvise
 * each (stack.c, trim_pages): a run must stop at a stack in use,
 * whose pages stay, and the guards inside a run must stay too. A slab's
 * stacks: every third kept in use and filled, the rest given back. */
START_TEST(trim_runs_spare_stacks_in_use_and_guards) {
  struct weft__stack_arena arena;
  weft__stack_arena_init(&arena, 16 * KIB);
  struct weft__stack_pool pool = {.arena = &arena};
  enum { N = WEFT__STACK_SLAB };
  struct weft__stack *s[N];
  for (int i = 0; i < N; i++) {
    ck_assert_ptr_nonnull(s[i] = weft__stack_get(&pool, 16 * KIB));
    memset(s[i]->lo, 0x40 + i, s[i]->size);
  }
  for (int i = 0; i < N; i++)
    if (i % 3) weft__stack_put(&pool, s[i]);
  weft__stack_pool_drain(&pool);
  ck_assert(!weft__stack_arena_trim(&arena, 0, SIZE_MAX));
  for (int i = 0; i < N; i++) {
    const unsigned char *p = s[i]->lo;
    unsigned char want = i % 3 ? 0 : (unsigned char)(0x40 + i);
    ck_assert_uint_eq(p[0], want); /* a trimmed stack reads back zero-filled */
    ck_assert_uint_eq(p[s[i]->size - 1], want);
  }
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  for (int i = 1; i < N; i++)
    if (i % 3 && (i - 1) % 3) expect_fault_below(s[i]); /* a guard inside a run */
#endif
  for (int i = 0; i < N; i += 3) weft__stack_put(&pool, s[i]);
  weft__stack_pool_drain(&pool);
  weft__stack_arena_fini(&arena);
}
END_TEST

/* Whether the page at @p is resident (mincore). */
static bool resident(const void *p) {
  unsigned char v = 0;
  uintptr_t page = (uintptr_t)p & ~(uintptr_t)(sysconf(_SC_PAGESIZE) - 1);
  ck_assert_int_eq(mincore((void *)page, 1, &v), 0);
  return v & 1;
}

/* A fresh arena of 64 KiB stacks, a pool over it, and a slab's worth of
 * its stacks taken (the first slab's, in address order). */
struct slab_taken {
  struct weft__stack_arena arena;
  struct weft__stack_pool pool;
  struct weft__stack *s[WEFT__STACK_SLAB];
};

static void take_a_slab(struct slab_taken *f) {
  weft__stack_arena_init(&f->arena, 64 * KIB);
  f->pool = (struct weft__stack_pool){.arena = &f->arena};
  for (int i = 0; i < WEFT__STACK_SLAB; i++)
    ck_assert_ptr_nonnull(f->s[i] = weft__stack_get(&f->pool, 64 * KIB));
}

static void give_the_slab_back(struct slab_taken *f) {
  for (int i = 0; i < WEFT__STACK_SLAB; i++) weft__stack_put(&f->pool, f->s[i]);
  weft__stack_pool_drain(&f->pool);
  weft__stack_arena_fini(&f->arena);
}

/* A fresh slab's page tables are made by faults on pages its tasks would
 * touch anyway (stack.c, fault_page_tables): each 2 MiB span holding a
 * stack's top page has one resident, and no other usable page is resident
 * but, at most, the highest of the first span (stack 0's). Whether the
 * kernel populates the top pages (process_madvise) or not, this holds; a
 * touch on the wrong page (a stack's lower pages: memory every suspended
 * task would pay for) breaks it. A lone stack: its top page only. */
START_TEST(fresh_stacks_hold_only_their_top_pages) {
  size_t ps = (size_t)sysconf(_SC_PAGESIZE);
  struct slab_taken f;
  take_a_slab(&f);
  enum { N = WEFT__STACK_SLAB };
  struct weft__stack **s = f.s;
  int extra = 0;
  uintptr_t span_seen = 0, span_hit = 0;
  const uintptr_t span = (uintptr_t)2 << 20;
  for (int i = 0; i < N; i++) {
    const char *lo = s[i]->lo, *top = lo + s[i]->size - ps;
    for (const char *p = lo; p < top; p += ps) extra += resident(p);
    uintptr_t sp = (uintptr_t)top & ~(span - 1);
    if (sp != span_seen) { /* the first top of a span: one of its tops is resident */
      if (span_seen) ck_assert_uint_eq(span_hit, span_seen);
      span_seen = sp;
    }
    if (resident(top)) span_hit = sp;
  }
  ck_assert_uint_eq(span_hit, span_seen);
  ck_assert_int_le(extra, 1);
  struct weft__stack *lone = weft__stack_get(&f.pool, 128 * KIB);
  ck_assert_ptr_null(lone->slab);
  const char *lo = lone->lo, *top = lo + lone->size - ps;
  for (const char *p = lo; p < top; p += ps) ck_assert(!resident(p));
  ck_assert(resident(top));
  weft__stack_put(&f.pool, lone);
  give_the_slab_back(&f);
}
END_TEST

/* A slab's stacks are skewed (stack.h): a page apart in what the address
 * bits above the page offset say, so that a thousand tasks' top pages do
 * not all pick the same few TLB sets. At a power-of-two stride every
 * top had the same page number modulo 16; skewed, a slab's 32 tops take
 * all 16 values. The skew page above each top is address space only:
 * nothing makes it resident. */
START_TEST(slab_stack_tops_are_skewed) {
  size_t ps = (size_t)sysconf(_SC_PAGESIZE);
  struct slab_taken f;
  take_a_slab(&f);
  unsigned seen = 0;
  for (int i = 0; i < WEFT__STACK_SLAB; i++) {
    const struct weft__stack *st = f.s[i];
    uintptr_t top_page = ((uintptr_t)st->lo + st->size - 1) / ps;
    seen |= 1u << (top_page % 16);
    ck_assert(!resident((const char *)st->lo + st->size)); /* the skew page */
  }
  ck_assert_uint_eq(seen, 0xffffu);
  give_the_slab_back(&f);
}
END_TEST

START_TEST(hundred_thousand_stacks) {
  /* More than vm.max_map_count / 2: needs guard pages that do not split
   * mappings. Skipped on kernels without MADV_GUARD_INSTALL. */
  struct weft__stack_arena arena;
  weft__stack_arena_init(&arena, 16 * KIB);
  struct weft__stack_pool pool = {.arena = &arena};
  long n = 100000;
  struct weft__stack **s = calloc((size_t)n, sizeof *s);
  long got = 0;
  while (got < n && (s[got] = weft__stack_get(&pool, 16 * KIB))) got++;
  if (got < n && got > 30000) {
    for (long i = 0; i < got; i++) weft__stack_put(&pool, s[i]);
    weft__stack_pool_drain(&pool);
    weft__stack_arena_fini(&arena);
    free(s);
    return; /* mprotect fallback: limited by the mapping count */
  }
  ck_assert_int_eq(got, n);
  for (long i = 0; i < n; i++) weft__stack_put(&pool, s[i]);
  weft__stack_pool_drain(&pool);
  weft__stack_arena_fini(&arena);
  free(s);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("stack");
  TCase *tc = tcase_create("stack");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, pool_reuses_slab_stacks);
  tcase_add_test(tc, pool_is_bounded_and_spills_to_arena);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  tcase_add_test(tc, guard_pages_fault); /* the sanitizers intercept SIGSEGV */
#endif
  tcase_add_test(tc, trim_runs_spare_stacks_in_use_and_guards);
  tcase_add_test(tc, hundred_thousand_stacks);
  tcase_add_test(tc, fresh_stacks_hold_only_their_top_pages);
  tcase_add_test(tc, slab_stack_tops_are_skewed);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
