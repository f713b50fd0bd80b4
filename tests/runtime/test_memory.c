/* test_memory.c - weft_loop_memory_stats and weft_loop_trim (runtime/stack.c,
 * runtime/loop.c): stacks are counted where they are (in use, cached,
 * trimmed), a trim gives every page of every free stack in the arena back
 * (mincore sees none resident), trimmed stacks are reused correctly, and
 * idle trimming decays (only stacks no task took for a whole epoch). */
#include "helpers.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../runtime/stack.h"

#define KIB 1024u

/* Pages of [lo, lo + len) resident now. */
static size_t resident_pages(void *lo, size_t len) {
  size_t ps = (size_t)sysconf(_SC_PAGESIZE), n = len / ps, res = 0;
  unsigned char *v = malloc(n);
  ck_assert_ptr_nonnull(v);
  ck_assert_int_eq(mincore(lo, len, v), 0);
  for (size_t i = 0; i < n; i++) res += v[i] & 1;
  free(v);
  return res;
}

START_TEST(arena_trim_returns_whole_stacks) {
  struct weft__stack_arena arena;
  weft__stack_arena_init(&arena, 32 * KIB);
  struct weft__stack_pool pool = {.arena = &arena};
  enum { N = 400 };
  struct weft__stack *s[N];
  for (int i = 0; i < N; i++) {
    ck_assert_ptr_nonnull(s[i] = weft__stack_get(&pool, 32 * KIB));
    memset(s[i]->lo, 0x5a, s[i]->size); /* every page resident */
  }
  for (int i = 0; i < N; i++) weft__stack_put(&pool, s[i]);
  weft__stack_pool_drain(&pool);
  struct weft__stack_counts c;
  weft__stack_arena_counts(&arena, &c);
  ck_assert_uint_eq(c.arena_free, c.mapped);
  ck_assert_uint_eq(c.trimmed, 0);
  /* A worker's batch: 64 at most, more left beyond the retained 256. */
  ck_assert(weft__stack_arena_trim(&arena, WEFT__STACK_ARENA_RETAIN, 64));
  weft__stack_arena_counts(&arena, &c);
  ck_assert_uint_eq(c.trimmed, 64);
  /* Everything, as weft_loop_trim asks. */
  ck_assert(!weft__stack_arena_trim(&arena, 0, SIZE_MAX));
  weft__stack_arena_counts(&arena, &c);
  ck_assert_uint_eq(c.arena_free, 0);
  ck_assert_uint_eq(c.trimmed, c.mapped);
  for (int i = 0; i < N; i++) ck_assert_uint_eq(resident_pages(s[i]->lo, s[i]->size), 0);
  /* Trimmed stacks come back usable and zero-filled. */
  for (int i = 0; i < N; i++) {
    ck_assert_ptr_nonnull(s[i] = weft__stack_get(&pool, 32 * KIB));
    unsigned char *p = s[i]->lo;
    ck_assert_uint_eq(p[0], 0);
    ck_assert_uint_eq(p[s[i]->size - 1], 0);
    memset(s[i]->lo, 1, s[i]->size);
  }
  weft__stack_arena_counts(&arena, &c);
  ck_assert_uint_eq(c.trimmed, c.mapped - N - c.arena_free - atomic_load(&pool.count));
  for (int i = 0; i < N; i++) weft__stack_put(&pool, s[i]);
  weft__stack_pool_drain(&pool);
  weft__stack_arena_fini(&arena);
}
END_TEST

/* Idle trimming decays (stack.h): a stack goes back only once no task
 * took it for a whole epoch. The clock is the caller's, so this runs in
 * virtual time: epochs begin at 1 s, 2 s, ... */
static size_t trimmed_count(struct weft__stack_arena *a) {
  struct weft__stack_counts c;
  weft__stack_arena_counts(a, &c);
  return c.trimmed;
}

/* Trims as an idle worker does at @now until it has nothing more due;
 * returns its last wake-up time. */
static uint64_t idle_trims(struct weft__stack_arena *a, uint64_t now) {
  uint64_t wake;
  int batches = 0;
  while (weft__stack_arena_trim_idle(a, now, &wake)) ck_assert_int_lt(++batches, 1000);
  return wake;
}

START_TEST(idle_trimming_decays) {
  const uint64_t E = WEFT__STACK_DECAY_NS;
  struct weft__stack_arena arena;
  weft__stack_arena_init(&arena, 32 * KIB);
  struct weft__stack_pool pool = {.arena = &arena};
  enum { N = 600, BURST = 100 };
  struct weft__stack *s[N];
  for (int i = 0; i < N; i++) ck_assert_ptr_nonnull(s[i] = weft__stack_get(&pool, 32 * KIB));
  for (int i = 0; i < N; i++) weft__stack_put(&pool, s[i]);
  weft__stack_pool_drain(&pool);
  struct weft__stack_counts c;
  weft__stack_arena_counts(&arena, &c);
  size_t free0 = c.arena_free;
  ck_assert_uint_gt(free0, WEFT__STACK_ARENA_RETAIN + BURST);
  /* The first epoch knows nothing unused: it trims nothing and asks to be
   * woken at its end, since stacks beyond the retained ones wait. */
  ck_assert_uint_eq(idle_trims(&arena, 1 * E), 2 * E);
  ck_assert_uint_eq(trimmed_count(&arena), 0);
  ck_assert_uint_eq(idle_trims(&arena, 1 * E + E / 2), 2 * E); /* mid-epoch: still nothing */
  ck_assert_uint_eq(trimmed_count(&arena), 0);
  /* A worker whose clock was read before the epoch began: not its end. */
  ck_assert_uint_eq(idle_trims(&arena, 1 * E - 1), 2 * E);
  ck_assert_uint_eq(trimmed_count(&arena), 0);
  /* A burst takes BURST stacks and gives them back within the epoch. */
  for (int i = 0; i < BURST; i++) ck_assert_ptr_nonnull(s[i] = weft__stack_get(&pool, 32 * KIB));
  for (int i = 0; i < BURST; i++) weft__stack_put(&pool, s[i]);
  weft__stack_pool_drain(&pool);
  /* The next epoch trims what the burst did not need, in batches, and
   * keeps what it did: the low-water mark, past the retained ones. */
  ck_assert_uint_eq(idle_trims(&arena, 2 * E), 3 * E);
  size_t first = trimmed_count(&arena);
  /* The pool took from the arena in halves of its capacity: the burst
   * lowered the arena by BURST rounded up to one. */
  ck_assert_uint_ge(first, free0 - BURST - WEFT__STACK_POOL_MAX / 2 - WEFT__STACK_ARENA_RETAIN);
  ck_assert_uint_le(first, free0 - BURST - WEFT__STACK_ARENA_RETAIN);
  ck_assert_uint_gt(first, WEFT__STACK_TRIM_BATCH); /* more than one batch */
  /* An epoch in which nothing was taken: the rest beyond the retained. */
  ck_assert_uint_eq(idle_trims(&arena, 3 * E), 0);
  weft__stack_arena_counts(&arena, &c);
  ck_assert_uint_eq(c.arena_free, WEFT__STACK_ARENA_RETAIN);
  ck_assert_uint_eq(c.trimmed, free0 - WEFT__STACK_ARENA_RETAIN);
  ck_assert_uint_eq(idle_trims(&arena, 10 * E), 0); /* nothing beyond: no wake-up */
  ck_assert_uint_eq(trimmed_count(&arena), free0 - WEFT__STACK_ARENA_RETAIN);
  weft__stack_arena_fini(&arena);
}
END_TEST

struct burst {
  weft_event_t *go;
  _Atomic long started;
  weft_event_t *all_started;
  long n;
};

static int waiter(void *arg, void **res) {
  struct burst *b = arg;
  volatile char frame[4096]; /* a page or two of stack in use */
  memset((char *)frame, 1, sizeof frame);
  if (atomic_fetch_add(&b->started, 1) + 1 == b->n) weft_event_set(b->all_started);
  int rc = weft_event_wait(b->go, -1);
  *res = (void *)(intptr_t)frame[17];
  return rc;
}

static int burst_main(void *arg, void **res) {
  struct burst *b = arg;
  weft_task_t **ts = calloc((size_t)b->n, sizeof *ts);
  ck_assert_ptr_nonnull(ts);
  for (long i = 0; i < b->n; i++) ck_assert_int_eq(weft_spawn(waiter, b, &ts[i]), 0);
  ck_assert_int_eq(weft_event_wait(b->all_started, -1), 0);
  /* All suspended: each holds its stack, and the caller's own task too. */
  struct weft_memory_stats st;
  ck_assert_int_eq(weft_loop_memory_stats(weft_loop_current(), &st), 0);
  ck_assert_uint_ge(st.stacks_in_use, (size_t)b->n + 1);
  ck_assert_uint_eq(st.stacks_in_use + st.stacks_cached + st.stacks_trimmed, st.stacks_mapped);
  ck_assert_int_eq(weft_event_set(b->go), 0);
  for (long i = 0; i < b->n; i++) {
    void *r;
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), &r), 0);
    ck_assert_int_eq((intptr_t)r, 1);
    weft_task_release(ts[i]);
  }
  free(ts);
  return 0;
}

static void burst_then_trim(unsigned workers) {
  weft_loop_t *loop = make_loop(workers);
  struct burst b = {.n = scaled(3000)};
  ck_assert_int_eq(weft_event_create(&b.go), 0);
  ck_assert_int_eq(weft_event_create(&b.all_started), 0);
  ck_assert_int_eq(weft_loop_run_task(loop, burst_main, &b, NULL), 0);
  /* At rest (the loop is not running): nothing in use, and the counts add up. */
  struct weft_memory_stats st;
  ck_assert_int_eq(weft_loop_memory_stats(loop, &st), 0);
  ck_assert_uint_ge(st.stacks_mapped, (size_t)b.n + 1);
  ck_assert_uint_eq(st.stacks_in_use, 0);
  ck_assert_uint_eq(st.stacks_cached + st.stacks_trimmed, st.stacks_mapped);
  ck_assert_uint_eq(st.stacks_alone, 0);
  ck_assert_int_eq(weft_loop_trim(loop), 0);
  ck_assert_int_eq(weft_loop_memory_stats(loop, &st), 0);
  ck_assert_uint_le(st.stacks_cached, (size_t)WEFT__STACK_POOL_MAX * workers); /* worker caches */
  ck_assert_uint_eq(st.stacks_cached + st.stacks_trimmed, st.stacks_mapped);
  /* Trimmed stacks serve the next burst. */
  b.started = 0;
  weft_event_destroy(b.go);
  weft_event_destroy(b.all_started);
  ck_assert_int_eq(weft_event_create(&b.go), 0);
  ck_assert_int_eq(weft_event_create(&b.all_started), 0);
  size_t mapped = st.stacks_mapped;
  ck_assert_int_eq(weft_loop_run_task(loop, burst_main, &b, NULL), 0);
  ck_assert_int_eq(weft_loop_memory_stats(loop, &st), 0);
  ck_assert_uint_le(st.stacks_mapped, mapped + (size_t)WEFT__STACK_SLAB * workers * 4);
  weft_event_destroy(b.go);
  weft_event_destroy(b.all_started);
  close_clean(loop);
}

START_TEST(burst_counts_and_trim_1) { burst_then_trim(1); }
END_TEST
START_TEST(burst_counts_and_trim_4) { burst_then_trim(4); }
END_TEST

/* An idle loop gives a burst back by itself: the worker parked while the
 * main task sleeps wakes when the decay epoch ends (stack.h) and trims
 * what no task took during it. 2.5 s covers the worst case, two epochs:
 * the first may have begun during the burst. */
static int idle_gives_back_main(void *arg, void **res) {
  struct burst *b = arg;
  burst_main(b, NULL);
  ck_assert_int_eq(weft_sleep(2.5), 0);
  struct weft_memory_stats st;
  ck_assert_int_eq(weft_loop_memory_stats(weft_loop_current(), &st), 0);
  ck_assert_uint_eq(st.stacks_in_use, 1); /* ours */
  ck_assert_uint_le(st.stacks_cached, (size_t)WEFT__STACK_ARENA_RETAIN + WEFT__STACK_POOL_MAX);
  ck_assert_uint_ge(st.stacks_trimmed, (size_t)b->n - WEFT__STACK_ARENA_RETAIN - WEFT__STACK_POOL_MAX);
  return 0;
}

START_TEST(idle_loop_gives_a_burst_back) {
  weft_loop_t *loop = make_loop(1);
  struct burst b = {.n = 1000}; /* not scaled: past the retained stacks */
  ck_assert_int_eq(weft_event_create(&b.go), 0);
  ck_assert_int_eq(weft_event_create(&b.all_started), 0);
  ck_assert_int_eq(weft_loop_run_task(loop, idle_gives_back_main, &b, NULL), 0);
  weft_event_destroy(b.go);
  weft_event_destroy(b.all_started);
  close_clean(loop);
}
END_TEST

static int lone_main(void *arg, void **res) {
  struct weft_memory_stats st;
  ck_assert_int_eq(weft_loop_memory_stats(weft_loop_current(), &st), 0);
  ck_assert_uint_eq(st.stacks_alone, 1); /* this task's own stack */
  return 0;
}

START_TEST(lone_stacks_counted) {
  weft_loop_t *loop = make_loop(1);
  struct weft_task_opts o;
  weft_task_opts_init(&o);
  o.stack_size = 3 * 64 * KIB;
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn_opts(loop, lone_main, NULL, &o, &t), 0);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), NULL), 0);
  weft_task_release(t);
  struct weft_memory_stats st;
  ck_assert_int_eq(weft_loop_memory_stats(loop, &st), 0);
  ck_assert_uint_eq(st.stacks_alone, 0); /* unmapped when it ended */
  close_clean(loop);
}
END_TEST

struct deep_arg {
  size_t kib;
  weft_event_t *started, *go; /* NULL: no wait */
};

/* Touches @kib KiB of its stack (the buffer's every page), then reports
 * what it sees so far. Waiting for go first makes it start on a stack of
 * its own (an awaiter may otherwise run a task that has not started inline). */
static int deep(void *arg, void **res) {
  struct deep_arg *a = arg;
  if (a->go) {
    weft_event_set(a->started);
    weft_event_wait(a->go, -1);
  }
  size_t kib = a->kib;
  volatile char buf[kib * 1024];
  for (size_t i = 0; i < sizeof buf; i += 512) buf[i] = (char)i;
  long so_far = weft_task_stack_used(weft_task_current());
  *res = (void *)(intptr_t)so_far;
  return buf[0];
}

static int tracking_main(void *arg, void **res) {
  static const size_t kibs[] = {2, 20, 40, 10};
  long used[4];
  for (int i = 0; i < 4; i++) {
    weft_task_t *t;
    struct deep_arg a = {.kib = kibs[i]};
    ck_assert_int_eq(weft_event_create(&a.go), 0);
    ck_assert_int_eq(weft_event_create(&a.started), 0);
    ck_assert_int_eq(weft_spawn(deep, &a, &t), 0);
    ck_assert_int_eq(weft_event_wait(a.started, -1), 0);
    /* Not ended yet: no figure. */
    ck_assert_int_eq(weft_task_stack_used(t), -EBUSY);
    ck_assert_int_eq(weft_event_set(a.go), 0);
    void *so_far;
    ck_assert_int_eq(weft_await(weft_task_future(t), &so_far), 0);
    used[i] = weft_task_stack_used(t);
    /* At least the buffer, at most the buffer plus a few pages of frames
     * (check's and the runtime's); and the task's own view agrees. */
    ck_assert_int_ge(used[i], (long)kibs[i] * 1024);
    ck_assert_int_le(used[i], (long)kibs[i] * 1024 + 16 * 1024);
    ck_assert_int_ge((long)(intptr_t)so_far, (long)kibs[i] * 1024);
    ck_assert_int_le((long)(intptr_t)so_far, used[i]);
    weft_task_release(t);
    weft_event_destroy(a.go);
    weft_event_destroy(a.started);
  }
  /* A reused stack does not inherit the previous task's pages: 10 KiB
   * after 40 KiB on the same worker still reads small. */
  ck_assert_int_lt(used[3], used[2]);
  struct weft_memory_stats st;
  ck_assert_int_eq(weft_loop_memory_stats(weft_loop_current(), &st), 0);
  ck_assert_uint_ge(st.stack_high_water, (size_t)used[2]);
  /* A task cancelled before it ran never had a stack (one worker: with
   * more, an idle one might start it before the cancel). */
  if (weft_loop_workers(weft_loop_current()) > 1) return 0;
  weft_task_t *t;
  struct deep_arg four = {.kib = 4};
  ck_assert_int_eq(weft_spawn(deep, &four, &t), 0);
  ck_assert_int_eq(weft_task_cancel(t, NULL), 1);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), -ECANCELED);
  ck_assert_int_eq(weft_task_stack_used(t), -ENODATA);
  weft_task_release(t);
  return 0;
}

static void tracking(unsigned workers) {
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = workers;
  cfg.track_stack_use = 1;
  ck_assert_int_eq(weft_run_config(&cfg, tracking_main, NULL, NULL), 0);
}

START_TEST(stack_use_tracked_1) { tracking(1); }
END_TEST
START_TEST(stack_use_tracked_4) { tracking(4); }
END_TEST

static int untracked_main(void *arg, void **res) {
  weft_task_t *t;
  struct deep_arg four = {.kib = 4};
  ck_assert_int_eq(weft_spawn(deep, &four, &t), 0);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  ck_assert_int_eq(weft_task_stack_used(t), -ENODATA); /* tracking is off */
  weft_task_release(t);
  struct weft_memory_stats st;
  ck_assert_int_eq(weft_loop_memory_stats(weft_loop_current(), &st), 0);
  ck_assert_uint_eq(st.stack_high_water, 0);
  return 0;
}

START_TEST(stack_use_untracked) {
  ck_assert_int_eq(weft_run(untracked_main, NULL, NULL), 0);
  ck_assert_int_eq(weft_task_stack_used(NULL), -EINVAL);
}
END_TEST

START_TEST(bad_arguments) {
  struct weft_memory_stats st;
  ck_assert_int_eq(weft_loop_memory_stats(NULL, &st), -EINVAL);
  ck_assert_int_eq(weft_loop_trim(NULL), -EINVAL);
  weft_loop_t *loop = make_loop(1);
  ck_assert_int_eq(weft_loop_memory_stats(loop, NULL), -EINVAL);
  weft_loop_t *held = weft_loop_ref(loop);
  ck_assert_int_ge(weft_loop_close(loop), 0); /* our reference keeps its memory */
  ck_assert_int_eq(weft_loop_memory_stats(held, &st), WEFT_ECLOSED);
  ck_assert_int_eq(weft_loop_trim(held), WEFT_ECLOSED);
  weft_loop_release(held);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("memory");
  TCase *tc = tcase_create("memory");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, arena_trim_returns_whole_stacks);
  tcase_add_test(tc, idle_trimming_decays);
  tcase_add_test(tc, idle_loop_gives_a_burst_back);
  tcase_add_test(tc, burst_counts_and_trim_1);
  tcase_add_test(tc, burst_counts_and_trim_4);
  tcase_add_test(tc, lone_stacks_counted);
  tcase_add_test(tc, stack_use_tracked_1);
  tcase_add_test(tc, stack_use_tracked_4);
  tcase_add_test(tc, stack_use_untracked);
  tcase_add_test(tc, bad_arguments);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
