/* fiber_main.c - the fiber switch tests without Check, for the aarch64
 * assembly run under qemu-user (scripts/check-aarch64.sh): switch order, FPCR
 * kept per fiber or left the thread's, callee-saved registers across 100,000
 * switches of each kind. */
#include "fiber.h"
#include "stack.h"
#include <fenv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #c); exit(1); } } while (0)
static struct weft__fiber main_f, a_f, b_f, fp_f;
static int trace[8], ntrace;
static void fa(void *arg) { weft__fiber_started(); trace[ntrace++] = (int)(long)arg; weft__fiber_switch(&a_f, &b_f); trace[ntrace++] = 3; weft__fiber_exit_to(&a_f, &main_f); }
static void fb(void *arg) { weft__fiber_started(); trace[ntrace++] = (int)(long)arg; weft__fiber_switch(&b_f, &a_f); CHECK(0); }
static volatile double seen;
static void ffp(void *arg) { weft__fiber_started(); seen = nearbyint(2.5); fesetround(FE_DOWNWARD); weft__fiber_exit_to(&fp_f, &main_f); }
static long count;
static void fping(void *arg) { weft__fiber_started(); volatile long local = 12345; double d = 1.5; for (;;) { count++; weft__fiber_switch(&a_f, &main_f); CHECK(local == 12345); CHECK(d == 1.5); } }
int main(void) {
  struct weft__stack_arena arena; weft__stack_arena_init(&arena, 64 * 1024);
  struct weft__stack_pool pool = {.arena = &arena};
  struct weft__stack *sa = weft__stack_get(&pool, 64 * 1024), *sb = weft__stack_get(&pool, 64 * 1024);
  CHECK(sa && sb);
  weft__fiber_init_thread(&main_f, false);
  weft__fiber_init(&a_f, sa->lo, weft__stack_usable(sa), fa, (void *)1L, NULL);
  weft__fiber_init(&b_f, sb->lo, weft__stack_usable(sb), fb, (void *)2L, NULL);
  weft__fiber_switch(&main_f, &a_f);
  CHECK(ntrace == 3 && trace[0] == 1 && trace[1] == 2 && trace[2] == 3);
  /* Kept: the fiber starts to nearest (2.5 -> 2), the caller keeps upward. */
  weft__fp_ctl nearest = weft__fp_ctl_get();
  weft__fiber_init_thread(&main_f, true);
  fesetround(FE_UPWARD);
  weft__fiber_init(&fp_f, sa->lo, weft__stack_usable(sa), ffp, NULL, &nearest);
  weft__fiber_switch(&main_f, &fp_f);
  CHECK(seen == 2.0);
  CHECK(fegetround() == FE_UPWARD);
  /* The thread's: the fiber runs upward (2.5 -> 3), its downward stays. */
  weft__fiber_init_thread(&main_f, false);
  weft__fiber_init(&fp_f, sa->lo, weft__stack_usable(sa), ffp, NULL, NULL);
  weft__fiber_switch(&main_f, &fp_f);
  CHECK(seen == 3.0);
  CHECK(fegetround() == FE_DOWNWARD);
  fesetround(FE_TONEAREST);
  volatile long keep = 777; double x = 3.25;
  for (int kind = 0; kind < 2; kind++) {
    weft__fp_ctl fp = weft__fp_ctl_get();
    weft__fiber_init_thread(&main_f, kind == 1);
    weft__fiber_init(&a_f, sb->lo, weft__stack_usable(sb), fping, NULL, kind == 1 ? &fp : NULL);
    count = 0;
    for (long i = 0; i < 100000; i++) weft__fiber_switch(&main_f, &a_f);
    CHECK(count == 100000 && keep == 777 && x == 3.25);
  }
  printf("aarch64 fiber switch: ok (order, FPCR kept or the thread's, callee-saved across 100000 switches of each kind)\n");
  return 0;
}
