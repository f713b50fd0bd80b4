/* test_fiber.c - runtime/fiber.c: switching, arguments, callee-saved
 * registers and the floating-point control state across switches (kept per
 * fiber, or the thread's). */
#include "helpers.h"
#include "fiber.h"
#include "stack.h"

#include <fenv.h>
#include <math.h>

static struct weft__fiber main_f, a_f, b_f;
static int trace[16], ntrace;

static void fiber_a(void *arg) {
  weft__fiber_started();
  trace[ntrace++] = (int)(long)arg;
  weft__fiber_switch(&a_f, &b_f);
  trace[ntrace++] = 3;
  weft__fiber_exit_to(&a_f, &main_f);
}

static void fiber_b(void *arg) {
  weft__fiber_started();
  trace[ntrace++] = (int)(long)arg;
  weft__fiber_switch(&b_f, &a_f);
  ck_abort_msg("b is never resumed");
}

START_TEST(switch_order) {
  struct weft__stack_arena arena;
  weft__stack_arena_init(&arena, 64 * 1024);
  struct weft__stack_pool pool = {.arena = &arena};
  struct weft__stack *sa = weft__stack_get(&pool, 64 * 1024), *sb = weft__stack_get(&pool, 64 * 1024);
  ck_assert_ptr_nonnull(sa);
  ck_assert_ptr_nonnull(sb);
  weft__fiber_init_thread(&main_f, false);
  weft__fiber_init(&a_f, sa->lo, weft__stack_usable(sa), fiber_a, (void *)1L, NULL);
  weft__fiber_init(&b_f, sb->lo, weft__stack_usable(sb), fiber_b, (void *)2L, NULL);
  weft__fiber_switch(&main_f, &a_f);
  ck_assert_int_eq(ntrace, 3);
  ck_assert_int_eq(trace[0], 1);
  ck_assert_int_eq(trace[1], 2);
  ck_assert_int_eq(trace[2], 3);
  weft__fiber_fini(&a_f);
  weft__fiber_fini(&b_f);
  weft__stack_put(&pool, sa);
  weft__stack_put(&pool, sb);
  weft__stack_pool_drain(&pool);
  weft__stack_arena_fini(&arena);
}
END_TEST

static struct weft__fiber fp_f;
static volatile double fp_seen;

static void fiber_fp(void *arg) {
  weft__fiber_started();
  (void)arg;
  fp_seen = nearbyint(2.5); /* 2 to nearest (even), 3 upward */
  fesetround(FE_DOWNWARD);
  weft__fiber_exit_to(&fp_f, &main_f);
}

/* Runs fiber_fp once on a fresh stack, its switcher's mode set upward
 * first; @keep: a fiber that keeps its control state, starting to nearest
 * (the test's own). The switcher's mode is left as the switch back left
 * it, for the caller to check and restore. */
static void run_fp_fiber(bool keep) {
  struct weft__stack_arena arena;
  weft__stack_arena_init(&arena, 64 * 1024);
  struct weft__stack_pool pool = {.arena = &arena};
  struct weft__stack *s = weft__stack_get(&pool, 64 * 1024);
  ck_assert_ptr_nonnull(s);
  weft__fp_ctl nearest = weft__fp_ctl_get();
  weft__fiber_init_thread(&main_f, keep);
  weft__fiber_init(&fp_f, s->lo, weft__stack_usable(s), fiber_fp, NULL, keep ? &nearest : NULL);
  fesetround(FE_UPWARD);
  weft__fiber_switch(&main_f, &fp_f);
  weft__fiber_fini(&fp_f);
  weft__stack_put(&pool, s);
  weft__stack_pool_drain(&pool);
  weft__stack_arena_fini(&arena);
}

/* A fiber that keeps its control state starts with the one it was given
 * and leaves its switcher's as it was. */
START_TEST(fp_control_kept_per_fiber) {
  run_fp_fiber(true);
  ck_assert(fp_seen == 2.0);
  ck_assert_int_eq(fegetround(), FE_UPWARD);
  fesetround(FE_TONEAREST);
}
END_TEST

/* By default the control state is the thread's: a fiber runs in the one
 * it finds, and what it sets stays after it switches away. */
START_TEST(fp_control_is_the_threads_by_default) {
  run_fp_fiber(false);
#if !defined(WEFT_FIBER_UCONTEXT) /* swapcontext keeps it per fiber anyway */
  ck_assert(fp_seen == 3.0);
  ck_assert_int_eq(fegetround(), FE_DOWNWARD);
#endif
  fesetround(FE_TONEAREST);
}
END_TEST

/* The control-state accessors round-trip, and leave MXCSR's sticky flags out. */
START_TEST(fp_control_get_set) {
  weft__fp_ctl c = weft__fp_ctl_get();
  fesetround(FE_TOWARDZERO);
  ck_assert_int_eq(fegetround(), FE_TOWARDZERO);
  weft__fp_ctl z = weft__fp_ctl_get();
  ck_assert(z != c);
  weft__fp_ctl_set(c);
  ck_assert_int_eq(fegetround(), FE_TONEAREST);
  weft__fp_ctl_set(z);
  ck_assert_int_eq(fegetround(), FE_TOWARDZERO);
  weft__fp_ctl_set(c);
#if defined(__x86_64__)
  volatile double zero = 0.0;
  volatile double q = 1.0 / zero; /* raises divide-by-zero: a sticky flag */
  (void)q;
  ck_assert(fetestexcept(FE_DIVBYZERO));
  ck_assert(weft__fp_ctl_get() == c);
  feclearexcept(FE_ALL_EXCEPT);
#endif
}
END_TEST

static struct weft__fiber ping_f;
static long ping_count;

static void fiber_ping(void *arg) {
  weft__fiber_started();
  long n = (long)arg;
  /* Callee-saved values live across switches. */
  volatile long local = 12345;
  for (long i = 0; i < n; i++) {
    ping_count++;
    weft__fiber_switch(&ping_f, &main_f);
    ck_assert_int_eq(local, 12345);
  }
  weft__fiber_exit_to(&ping_f, &main_f);
}

/* _i: 0, the plain switch; 1, the one that keeps the control state. */
START_TEST(many_switches) {
  struct weft__stack_arena arena;
  weft__stack_arena_init(&arena, 64 * 1024);
  struct weft__stack_pool pool = {.arena = &arena};
  struct weft__stack *s = weft__stack_get(&pool, 64 * 1024);
  weft__fiber_init_thread(&main_f, _i == 1);
  long n = 100000;
  ping_count = 0;
  weft__fp_ctl fp = weft__fp_ctl_get();
  weft__fiber_init(&ping_f, s->lo, weft__stack_usable(s), fiber_ping, (void *)n, _i == 1 ? &fp : NULL);
  long keep = 777;
  for (long i = 0; i <= n; i++) weft__fiber_switch(&main_f, &ping_f);
  ck_assert_int_eq(ping_count, n);
  ck_assert_int_eq(keep, 777);
  weft__fiber_fini(&ping_f);
  weft__stack_put(&pool, s);
  weft__stack_pool_drain(&pool);
  weft__stack_arena_fini(&arena);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("fiber");
  TCase *tc = tcase_create("switch");
  tcase_add_test(tc, switch_order);
  tcase_add_test(tc, fp_control_kept_per_fiber);
  tcase_add_test(tc, fp_control_is_the_threads_by_default);
  tcase_add_test(tc, fp_control_get_set);
  tcase_add_loop_test(tc, many_switches, 0, 2);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
