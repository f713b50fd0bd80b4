/*
 * weft_bench.c - the runtime benchmark workloads (see benchmarks/README.md).
 *
 *   weft-bench [--workers N] [--order fifo|locality] [workload ...]
 *
 * Each workload prints one line:
 *   RESULT impl=weft name=<workload> workers=<N> ops=<n> ns_per_op=<x> ops_per_s=<y> [extra=...]
 * benchmarks/run.sh runs the same workloads in the Go and Tokio peers and
 * prints the side-by-side table. Build line: make build (Release).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <weft.h>

#include "bench.h"
#include "fiber.h"
#include "stack.h"

unsigned workers = 2;
static int order = WEFT_ORDER_DEFAULT;

double now_s(void) { return (double)weft_now_ns() / 1e9; }

void report(const char *name, long ops, double secs, const char *extra) {
  printf("RESULT impl=weft name=%s workers=%u ops=%ld ns_per_op=%.2f ops_per_s=%.0f%s%s\n", name,
         workers, ops, secs * 1e9 / (double)ops, (double)ops / secs, extra ? " " : "",
         extra ? extra : "");
  /* WEFT_BENCH_STATS=1: the loop's scheduler counters so far, one line
   * (to see where a multi-worker figure goes: steals, parks, wake-ups). */
  const char *env = getenv("WEFT_BENCH_STATS");
  struct weft_loop_stats st;
  if (env && *env == '1' && weft_loop_current() && weft_loop_get_stats(weft_loop_current(), &st) == 0) {
    printf("STATS name=%s workers=%u polled=%llu steals=%llu stolen=%llu parks=%llu unparks=%llu "
           "busy_ms=%.1f idle_ms=%.1f owner_revocations=%llu\n",
           name, workers, (unsigned long long)st.total.polled, (unsigned long long)st.total.steals,
           (unsigned long long)st.total.stolen, (unsigned long long)st.total.parks,
           (unsigned long long)st.total.unparks, (double)st.total.busy_ns / 1e6,
           (double)st.total.idle_ns / 1e6, (unsigned long long)st.owner_revocations);
    struct weft_worker_stats ws; /* the worker the workload's task ends on */
    int wi = weft_worker_index();
    if (wi >= 0 && weft_loop_worker_stats(weft_loop_current(), (unsigned)wi, &ws) == 0)
      printf("STATS0 name=%s worker=%d polled=%llu steals=%llu parks=%llu unparks=%llu\n", name, wi,
             (unsigned long long)ws.polled, (unsigned long long)ws.steals,
             (unsigned long long)ws.parks, (unsigned long long)ws.unparks);
  }
  fflush(stdout);
}

/* WEFT_BENCH_EXECUTOR_FIRST=1 (weft only, a diagnosis; benchmarks/README.md):
 * the main task first has the default executor run a no-op
 * (weft_to_thread: its thread completes a future of the loop, as a
 * program's first blocking call does) and sleeps 50 ms, then runs the
 * workload: what a one-worker loop's owner sections (runtime/owner.h)
 * come back to after a foreign thread revoked them. */
struct first_then {
  weft_task_fn fn;
  void *arg;
};

static int noop(void *arg, void **res) { return 0; }

static int executor_first(void *arg, void **res) {
  struct first_then *ft = arg;
  int rc = weft_to_thread(noop, NULL, NULL);
  if (!rc) rc = weft_sleep(0.05);
  return rc ? rc : ft->fn(ft->arg, res);
}

static int run(weft_task_fn fn, void *arg) {
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = workers;
  cfg.order = order;
  void *res;
  const char *env = getenv("WEFT_BENCH_EXECUTOR_FIRST");
  struct first_then ft = {fn, arg};
  if (env && *env == '1') {
    fn = executor_first;
    arg = &ft;
  }
  int rc = weft_run_config(&cfg, fn, arg, &res);
  if (rc) fprintf(stderr, "weft-bench: %s\n", weft_strerror(rc));
  return rc;
}

/* ---- spawn_many: one task spawns 1M tasks that bump a counter; await all -- */

static _Atomic long counter;

static int bump(void *arg, void **res) {
  atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
  return 0;
}

static int spawn_many(void *arg, void **res) {
  long n = 1000000;
  weft_task_t **ts = malloc(sizeof *ts * (size_t)n);
  double t0 = now_s();
  for (long i = 0; i < n; i++)
    if (weft_spawn(bump, NULL, &ts[i])) return -ENOMEM;
  double spawned = now_s();
  await_all(ts, n);
  double dt = now_s() - t0;
  free(ts);
  if (atomic_load(&counter) != n) return -EFAULT;
  char extra[48]; /* the spawning loop's share: the spawner's own cost with several workers */
  snprintf(extra, sizeof extra, "spawn_ms=%.1f", (spawned - t0) * 1e3);
  report("spawn_many", n, dt, extra);
  return 0;
}

/* ---- the _warm variants ------------------------------------------------------
 * yield_many_warm, ping_pong_warm and semaphore_limit_warm (bench_sync.c)
 * first run as many tasks as they will
 * time, untimed, in the same loop, all suspended at once, then ended: the
 * timed tasks take stacks and handles that those used and gave back, in
 * the order the pools hand them out, a long-running program's state. The
 * plain workloads (a fresh process) pay each stack's first touch (a fresh
 * page: 5-15 us on the development VM, `weft-page-touch`) and find the
 * stacks and handles in address order (benchmarks/RESULTS.md,
 * 2026-12-04 02:00Z). The peers run the same warm-up. */

static int warm_yielder(void *arg, void **res) { return weft_yield(); }

void await_all(weft_task_t **ts, long n) {
  for (long i = 0; i < n; i++) {
    weft_await(weft_task_future(ts[i]), NULL);
    weft_task_release(ts[i]);
  }
}

void warm_up(int n) {
  weft_task_t **ts = malloc(sizeof *ts * (size_t)n);
  int spawned = 0;
  while (ts && spawned < n && weft_spawn(warm_yielder, NULL, &ts[spawned]) == 0) spawned++;
  await_all(ts, spawned);
  free(ts);
}

/* ---- yield_many: 1000 tasks each yield 1000 times ------------------------ */

static int yielder(void *arg, void **res) {
  for (int i = 0; i < 1000; i++) weft_yield();
  return 0;
}

/* @arg non-NULL: yield_many_warm. */
static int yield_many(void *arg, void **res) {
  enum { N = 1000 };
  weft_task_t *ts[N];
  if (arg) warm_up(N);
  double t0 = now_s();
  for (int i = 0; i < N; i++) weft_spawn(yielder, NULL, &ts[i]);
  await_all(ts, N);
  report(arg ? "yield_many_warm" : "yield_many", (long)N * 1000, now_s() - t0, NULL);
  return 0;
}

/* ---- ping_pong: 1000 pairs pass a message back and forth 1000 times -------
 * A message is a one-shot future (Tokio's peer uses a oneshot channel per
 * message, Go an unbuffered channel). Each future has one reference, its
 * awaiter's: the completer holds none, which weft_future_set_result's
 * contract allows (a reference held by anyone, e.g. the awaiting task, is
 * enough), so a message costs no reference-count traffic. Until
 * 2026-12-04 both sides held one (RESULTS.md, 2026-12-04 06:25Z: two
 * locked instructions a message, 0.87x the time without them). */

enum { PAIRS = 1000, ROUNDS = 1000 };

/* WEFT_BENCH_PAIRS=n (weft only; benchmarks/README.md): n pairs, each
 * playing 1,000,000 / n round trips, so the messages stay 2M and only the
 * working set changes (how many tasks asyncio's FIFO order cycles
 * through between a pair's turns). Unset or out of range: the workload. */
static int pairs_wanted(int *rounds) {
  const char *env = getenv("WEFT_BENCH_PAIRS");
  long n = env ? strtol(env, NULL, 10) : 0;
  if (n < 1 || n > PAIRS) {
    *rounds = ROUNDS;
    return PAIRS;
  }
  *rounds = (int)(PAIRS * ROUNDS / n);
  return (int)n;
}

static int rounds; /* each pair's round trips (pairs_wanted) */

struct pair {
  weft_future_t *first; /* pong's first inbox; pong's reference */
};

static int pong(void *arg, void **res) {
  struct pair *p = arg;
  weft_future_t *in = p->first;
  for (int r = 0; r < rounds; r++) {
    void *v;
    weft_await(in, &v); /* v: the future to answer on, and the next inbox */
    weft_future_t **msg = v;
    weft_future_release(in);
    in = msg[1];
    weft_future_set_result(msg[0], NULL); /* ping's reference keeps it alive */
  }
  weft_future_release(in); /* the inbox ping made for a round it did not play */
  return 0;
}

static int ping(void *arg, void **res) {
  struct pair *p = arg;
  weft_future_t *out = p->first; /* pong's until its await returns */
  for (int r = 0; r < rounds; r++) {
    weft_future_t *reply, *next;
    weft_future_new(NULL, &reply);
    weft_future_new(NULL, &next);
    weft_future_t *msg[2] = {reply, next}; /* pong owns next from here */
    weft_future_set_result(out, msg);
    weft_await(reply, NULL);
    weft_future_release(reply);
    out = next;
  }
  return 0;
}

/* @arg non-NULL: ping_pong_warm. */
static int ping_pong(void *arg, void **res) {
  static struct pair pairs[PAIRS];
  weft_task_t *ts[2 * PAIRS];
  int n = pairs_wanted(&rounds);
  if (arg) warm_up(2 * n);
  double t0 = now_s();
  for (int i = 0; i < n; i++) {
    weft_future_new(NULL, &pairs[i].first);
    weft_spawn(pong, &pairs[i], &ts[2 * i]);
    weft_spawn(ping, &pairs[i], &ts[2 * i + 1]);
  }
  await_all(ts, 2 * n);
  /* a round trip is two messages */
  report(arg ? "ping_pong_warm" : "ping_pong", (long)n * rounds * 2, now_s() - t0, NULL);
  return 0;
}

/* ---- chained_spawn: each of 1M tasks spawns the next ------------------------ */

static weft_future_t *chain_done;

static int link_fn(void *arg, void **res) {
  long left = (long)arg;
  if (left == 0) return weft_future_set_result(chain_done, NULL);
  return weft_spawn(link_fn, (void *)(left - 1), NULL);
}

static int chained_spawn(void *arg, void **res) {
  long n = 1000000;
  weft_future_new(NULL, &chain_done);
  double t0 = now_s();
  weft_spawn(link_fn, (void *)(n - 1), NULL);
  weft_await(chain_done, NULL);
  report("chained_spawn", n, now_s() - t0, NULL);
  weft_future_release(chain_done);
  return 0;
}

/* ---- timers: 100k tasks sleep a random 0-10 ms; lateness p50/p99 ----------- */

static double *lateness;

static int timed_sleeper(void *arg, void **res) {
  long i = (long)arg;
  int64_t ns = (int64_t)((i * 2654435761u) % 10000) * 1000; /* 0..10 ms, spread */
  uint64_t t0 = weft_now_ns();
  weft_sleep_ns(ns);
  lateness[i] = (double)(weft_now_ns() - t0 - (uint64_t)ns) / 1e6;
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int timers(void *arg, void **res) {
  long n = 100000;
  lateness = calloc((size_t)n, sizeof *lateness);
  weft_task_t **ts = malloc(sizeof *ts * (size_t)n);
  double t0 = now_s();
  for (long i = 0; i < n; i++) weft_spawn(timed_sleeper, (void *)i, &ts[i]);
  await_all(ts, n);
  double dt = now_s() - t0;
  qsort(lateness, (size_t)n, sizeof *lateness, cmp_double);
  char extra[128];
  snprintf(extra, sizeof extra, "total_ms=%.1f late_p50_ms=%.3f late_p99_ms=%.3f", dt * 1e3,
           lateness[n / 2], lateness[n * 99 / 100]);
  report("timers", n, dt, extra);
  free(lateness);
  free(ts);
  return 0;
}

/* ---- timers_steady: 100k tasks re-arm 0-10 ms sleeps, 10 each --------------
 * By name only (weft; diagnosis of the timer heap, benchmarks/README.md).
 * The sleeps are due faster than one or two workers wake their tasks, so
 * the loop never idles: the heap holds ~100k timers throughout, and each
 * op is one pop of the earliest, one wake-up, one re-arm. Stacks are warm
 * (warm_up), so first touches do not drown the heap's share. */

static int steady_sleeper(void *arg, void **res) {
  long i = (long)arg;
  for (long k = 0; k < 10; k++)
    weft_sleep_ns((int64_t)(((unsigned long)i * 2654435761u + (unsigned long)k * 40503u) % 10000) * 1000);
  return 0;
}

static int timers_steady(void *arg, void **res) {
  long n = 100000;
  weft_task_t **ts = malloc(sizeof *ts * (size_t)n);
  if (!ts) return -ENOMEM;
  warm_up((int)n);
  double t0 = now_s();
  for (long i = 0; i < n; i++) weft_spawn(steady_sleeper, (void *)i, &ts[i]);
  await_all(ts, n);
  report("timers_steady", n * 10, now_s() - t0, NULL);
  free(ts);
  return 0;
}

/* ---- timer_accuracy: one task sleeps 1 ms 1000 times on an idle loop ------ */

static int timer_accuracy(void *arg, void **res) {
  enum { N = 1000 };
  static double late[N];
  double t0 = now_s();
  for (int i = 0; i < N; i++) {
    uint64_t s = weft_now_ns();
    weft_sleep_ns(1000000);
    late[i] = (double)(weft_now_ns() - s - 1000000) / 1e6;
  }
  double dt = now_s() - t0;
  qsort(late, N, sizeof *late, cmp_double);
  char extra[96];
  snprintf(extra, sizeof extra, "late_p50_ms=%.3f late_p99_ms=%.3f", late[N / 2], late[N * 99 / 100]);
  report("timer_accuracy", N, dt, extra);
  return 0;
}

/* ---- wake_then_hold: what a busy worker's freshly woken tasks wait ----------
 * A task wakes three waiting tasks (an Event: one takes its worker's LIFO
 * slot, two go to its ring) and then holds its worker for 2 ms of CPU; the
 * delay until the first of them starts, on another worker. The cost side
 * of the steal watch (runtime/worker.c, "Stealing": a thief watches a
 * running victim's short ring before stealing it). Several workers; by
 * name only. */

static weft_event_t *hold_event;
static _Atomic uint64_t hold_woke_at, hold_first_at;

static int hold_waiter(void *arg, void **res) {
  if (weft_event_wait(hold_event, -1) != 0) return -1;
  uint64_t t = weft_now_ns(), none = 0;
  atomic_compare_exchange_strong(&hold_first_at, &none, t);
  return 0;
}

static int hold_waker(void *arg, void **res) {
  atomic_store(&hold_woke_at, weft_now_ns());
  weft_event_set(hold_event);
  uint64_t end = weft_now_ns() + 2000000; /* the long slice under test */
  while (weft_now_ns() < end) {
  }
  return 0;
}

static int wake_then_hold(void *arg, void **res) {
  enum { N = 300, WAITERS = 3 };
  static double delay_us[N];
  double t0 = now_s();
  for (int i = 0; i < N; i++) {
    if (weft_event_create(&hold_event) != 0) return -1;
    atomic_store(&hold_first_at, 0);
    weft_task_t *w[WAITERS], *h;
    for (int k = 0; k < WAITERS; k++) weft_spawn(hold_waiter, NULL, &w[k]);
    weft_sleep(0.001); /* every waiter waiting, every worker idle */
    weft_spawn(hold_waker, NULL, &h);
    await_all(w, WAITERS);
    await_all(&h, 1);
    delay_us[i] = (double)(atomic_load(&hold_first_at) - atomic_load(&hold_woke_at)) / 1e3;
    weft_event_destroy(hold_event);
  }
  double dt = now_s() - t0;
  qsort(delay_us, N, sizeof *delay_us, cmp_double);
  char extra[128];
  snprintf(extra, sizeof extra, "first_start_p10_us=%.1f p50_us=%.1f p90_us=%.1f p99_us=%.1f",
           delay_us[N / 10], delay_us[N / 2], delay_us[N * 9 / 10], delay_us[N * 99 / 100]);
  report("wake_then_hold", N, dt, extra);
  return 0;
}

/* ---- fork_join: fib(n) with one spawn per call ------------------------------
 * n = 30 (1,346,268 spawns); WEFT_BENCH_FIB=N (20..40) sets it, for scaling
 * runs on many cores where fib(30) ends in a few milliseconds. The peers
 * read the same variable. */

static int fib_task(void *arg, void **res);

static long fib(long n) {
  if (n < 2) return n;
  weft_task_t *t;
  if (weft_spawn(fib_task, (void *)(n - 1), &t)) return -1;
  long b = fib(n - 2);
  void *a;
  weft_await(weft_task_future(t), &a);
  weft_task_release(t);
  return (long)a + b;
}

static int fib_task(void *arg, void **res) {
  *res = (void *)fib((long)arg);
  return 0;
}

static int fork_join(void *arg, void **res) {
  const char *env = getenv("WEFT_BENCH_FIB");
  long n = env ? atol(env) : 30;
  if (n < 20 || n > 40) return -EINVAL;
  /* calls with n >= 2 spawn once: fib(n + 1) - 1 of them */
  long a = 0, b = 1; /* a = fib(i) after i steps */
  for (long i = 0; i < n; i++) {
    long c = a + b;
    a = b;
    b = c;
  }
  long expect = a, spawns = b - 1;
  /* WEFT_BENCH_REPEAT=k (weft only, for diagnosis): fib(n) k times in the
   * same loop, the last one timed: stacks and handles warm, first touches
   * paid by the earlier runs. */
  const char *rep_env = getenv("WEFT_BENCH_REPEAT");
  long reps = rep_env ? atol(rep_env) : 1;
  if (reps < 1 || reps > 100) return -EINVAL;
  double t0 = 0, dt = 0;
  for (long r = 0; r < reps; r++) {
    t0 = now_s();
    long v = fib(n);
    dt = now_s() - t0;
    if (v != expect) return -EFAULT;
  }
  char extra[64];
  snprintf(extra, sizeof extra, "total_ms=%.1f fib=%ld repeat=%ld", dt * 1e3, n, reps);
  report("fork_join", spawns, dt, extra);
  return 0;
}

/* ---- switch, switch_fp: the raw fiber switch --------------------------------
 * switch: the default kind (callee-saved registers; the floating-point
 * control state stays the thread's); switch_fp: the kind that also saves
 * and loads it (cfg.task_fp_env). */

static struct weft__fiber sw_main, sw_other;
static long sw_n;

static void sw_entry(void *arg) {
  weft__fiber_started();
  for (;;) weft__fiber_switch(&sw_other, &sw_main);
}

/* @arg non-NULL: switch_fp. */
static int fiber_switch(void *arg, void **res) {
  struct weft__stack_arena arena;
  weft__stack_arena_init(&arena, 64 * 1024);
  struct weft__stack_pool pool = {.arena = &arena};
  struct weft__stack *s = weft__stack_get(&pool, 64 * 1024);
  weft__fp_ctl fp = weft__fp_ctl_get();
  weft__fiber_init_thread(&sw_main, arg != NULL);
  weft__fiber_init(&sw_other, s->lo, weft__stack_usable(s), sw_entry, NULL, arg ? &fp : NULL);
  sw_n = 20000000;
  double t0 = now_s();
  for (long i = 0; i < sw_n; i++) weft__fiber_switch(&sw_main, &sw_other);
  double dt = now_s() - t0;
  /* each iteration is two switches (there and back) */
  report(arg ? "switch_fp" : "switch", 2 * sw_n, dt, NULL);
  weft__fiber_fini(&sw_other);
  weft__stack_put(&pool, s);
  weft__stack_pool_drain(&pool);
  weft__stack_arena_fini(&arena);
  return 0;
}

static int fiber_switch_fp(void *arg, void **res) { return fiber_switch((void *)1, res); }

/* ---- sched_switch: two tasks on one worker yield to each other ------------
 * A scheduler round trip (task -> worker -> task), on a 1-worker loop
 * whatever --workers says, as the peers do (GOMAXPROCS=1, current_thread). */

static int yield_n(void *arg, void **res) {
  for (long i = 0; i < (long)arg; i++) weft_yield();
  return 0;
}

/* Two tasks, @a and @b spawned in that order, on a one-worker loop of their
 * own whatever --workers says; reports @name, @ops ops (switches). */
struct pair_run {
  const char *name;
  weft_task_fn a, b;
  void *arg;
  long ops;
};

static int pair_main(void *arg, void **res) {
  const struct pair_run *p = arg;
  weft_task_t *a, *b;
  double t0 = now_s();
  weft_spawn(p->a, p->arg, &a);
  weft_spawn(p->b, p->arg, &b);
  weft_await(weft_task_future(a), NULL);
  weft_await(weft_task_future(b), NULL);
  double dt = now_s() - t0;
  weft_task_release(a);
  weft_task_release(b);
  unsigned saved = workers;
  workers = 1;
  report(p->name, p->ops, dt, NULL);
  workers = saved;
  return 0;
}

static int one_worker_pair(const struct pair_run *p) {
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 1;
  return weft_run_config(&cfg, pair_main, (void *)p, NULL);
}

static int sched_switch(void *arg, void **res) {
  enum { N = 2000000 };
  const struct pair_run p = {"sched_switch", yield_n, yield_n, (void *)(long)N, 2L * N};
  return one_worker_pair(&p);
}

/* ---- sched_switch_deep, sched_switch_apart: sched_switch from nested code --
 * By name only (weft; benchmarks/README.md). The same two tasks yielding,
 * each yield three calls deep: through the same functions in both tasks
 * (deep), or through different ones (apart). A fiber switch leaves the
 * CPU's return-address predictor holding the other task's return
 * addresses, so each frame where the two tasks' code differs costs a
 * mispredicted return on the way back out (RESULTS.md, 2026-12-06
 * 23:55Z); a stackless runtime's poll returns to its executor loop, which
 * is the same code for every task. sched_switch_mixed: one task sets an
 * event and yields, the other waits on the event: every switch goes
 * between a yield and a wait, two different ways out of a task (their
 * frames differ down to the fiber switch's caller). */

enum { SWITCH_DEPTH_N = 2000000 };

__attribute__((noinline)) static void deep_a2(void) { weft_yield(); __asm__ volatile(""); }
__attribute__((noinline)) static void deep_a1(void) { deep_a2(); __asm__ volatile(""); }
__attribute__((noinline)) static void deep_b2(void) { weft_yield(); __asm__ volatile("nop"); }
__attribute__((noinline)) static void deep_b1(void) { deep_b2(); __asm__ volatile("nop"); }
__attribute__((noinline)) static int yield_deep_a(void *arg, void **res) {
  for (long i = 0; i < SWITCH_DEPTH_N; i++) deep_a1();
  return 0;
}
__attribute__((noinline)) static int yield_deep_b(void *arg, void **res) {
  for (long i = 0; i < SWITCH_DEPTH_N; i++) deep_b1();
  return 0;
}

static int sched_switch_deep(void *arg, void **res) {
  const struct pair_run p = {"sched_switch_deep", yield_deep_a, yield_deep_a, NULL, 2L * SWITCH_DEPTH_N};
  return one_worker_pair(&p);
}

static int sched_switch_apart(void *arg, void **res) {
  const struct pair_run p = {"sched_switch_apart", yield_deep_a, yield_deep_b, NULL, 2L * SWITCH_DEPTH_N};
  return one_worker_pair(&p);
}

/* @arg: the event. The waiter is spawned first, so it waits when the
 * setter first sets. */
static int mixed_waiter(void *arg, void **res) {
  for (long i = 0; i < SWITCH_DEPTH_N; i++) {
    weft_event_wait(arg, -1);
    weft_event_clear(arg);
  }
  return 0;
}

static int mixed_setter(void *arg, void **res) {
  for (long i = 0; i < SWITCH_DEPTH_N; i++) {
    weft_event_set(arg);
    weft_yield();
  }
  return 0;
}

static int sched_switch_mixed(void *arg, void **res) {
  weft_event_t *e;
  if (weft_event_create(&e)) return -ENOMEM;
  const struct pair_run p = {"sched_switch_mixed", mixed_waiter, mixed_setter, e, 2L * SWITCH_DEPTH_N};
  int rc = one_worker_pair(&p);
  weft_event_destroy(e);
  return rc;
}

/* ---- idle: CPU used by a loop with nothing to do ----------------------------- */

static int idle(void *arg, void **res) {
  struct rusage a, b;
  getrusage(RUSAGE_SELF, &a);
  double t0 = now_s();
  weft_sleep(1.0);
  double dt = now_s() - t0;
  getrusage(RUSAGE_SELF, &b);
  double cpu = (double)(b.ru_utime.tv_sec - a.ru_utime.tv_sec + b.ru_stime.tv_sec -
                        a.ru_stime.tv_sec) +
               (double)(b.ru_utime.tv_usec - a.ru_utime.tv_usec + b.ru_stime.tv_usec -
                        a.ru_stime.tv_usec) / 1e6;
  char extra[64];
  snprintf(extra, sizeof extra, "cpu_percent=%.3f", 100.0 * cpu / dt);
  report("idle", 1, dt, extra);
  return 0;
}

/* ---- rss: memory per suspended task (100k sleeping tasks) --------------------- */

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  return resident * 4;
}

static _Atomic long asleep;
static long rss_n;
static weft_future_t *all_asleep;
static int long_sleeper(void *arg, void **res) {
  /* The last one to start tells the driver; its own sleep follows at once. */
  if (atomic_fetch_add(&asleep, 1) + 1 == rss_n) weft_future_set_result(all_asleep, NULL);
  return weft_sleep(60);
}

static int rss(void *arg, void **res) {
  long n = rss_n = 100000;
  weft_task_t **ts = malloc(sizeof *ts * (size_t)n);
  weft_future_new(NULL, &all_asleep);
  long before = rss_kib();
  double t0 = now_s();
  for (long i = 0; i < n; i++) weft_spawn(long_sleeper, NULL, &ts[i]);
  weft_await(all_asleep, NULL);
  weft_yield(); /* the last sleeper reaches its sleep */
  long after = rss_kib();
  weft_future_release(all_asleep);
  double dt = now_s() - t0;
  for (long i = 0; i < n; i++) weft_task_cancel(ts[i], NULL);
  await_all(ts, n);
  char extra[64];
  snprintf(extra, sizeof extra, "kib_per_task=%.2f", (double)(after - before) / (double)n);
  report("rss", n, dt, extra);
  free(ts);
  return 0;
}

/* ---- rss_burst: memory given back after a burst of suspended tasks ------------
 * N tasks (WEFT_BENCH_BURST, default 1,000,000) suspend on one event at
 * once, then all end. RSS is read before, at the peak, right after they
 * ended, after 1 s and 5 s of idleness (workers trim the stacks by
 * themselves; jemalloc purges on its decay timer), and after weft_loop_trim. */

static _Atomic long burst_started;
static long burst_n;
static weft_event_t *burst_go, *burst_all;
static int burst_waiter(void *arg, void **res) {
  if (atomic_fetch_add(&burst_started, 1) + 1 == burst_n) weft_event_set(burst_all);
  return weft_event_wait(burst_go, -1);
}

static int rss_burst(void *arg, void **res) {
  const char *env = getenv("WEFT_BENCH_BURST");
  long n = burst_n = env ? atol(env) : 1000000;
  weft_task_t **ts = malloc(sizeof *ts * (size_t)n);
  weft_event_create(&burst_go);
  weft_event_create(&burst_all);
  long before = rss_kib();
  double t0 = now_s();
  for (long i = 0; i < n; i++) weft_spawn(burst_waiter, NULL, &ts[i]);
  weft_event_wait(burst_all, -1);
  long peak = rss_kib();
  weft_event_set(burst_go);
  await_all(ts, n);
  free(ts);
  long ended = rss_kib();
  double dt = now_s() - t0;
  weft_sleep(1.0);
  long after1 = rss_kib();
  weft_sleep(4.0);
  long after5 = rss_kib();
  struct weft_memory_stats st;
  weft_loop_memory_stats(weft_loop_current(), &st);
  weft_loop_trim(weft_loop_current());
  long trimmed = rss_kib();
  weft_event_destroy(burst_go);
  weft_event_destroy(burst_all);
  char extra[320];
  snprintf(extra, sizeof extra,
           "rss_mib_before=%.1f peak=%.1f ended=%.1f after_1s=%.1f after_5s=%.1f after_trim=%.1f "
           "stacks_mapped=%zu cached=%zu trimmed=%zu",
           before / 1024.0, peak / 1024.0, ended / 1024.0, after1 / 1024.0, after5 / 1024.0,
           trimmed / 1024.0, st.stacks_mapped, st.stacks_cached, st.stacks_trimmed);
  report("rss_burst", n, dt, extra);
  return 0;
}

/* ---- rss_deep: what a task that once went deep holds while it waits -----------
 * 10,000 tasks each call a function that uses 32 KiB of stack (a parse, a
 * handshake: any deep call between two waits), then wait on one event.
 * RSS per task is read when all wait, after 2.5 s of idleness (weft's idle
 * workers give back the pages below a task suspended for a whole second:
 * runtime/stackdrop.h), and after weft_loop_trim. The peers (peers/go,
 * peers/tokio) run the same shape: Go's stacks grow to hold the call and
 * shrink only at a collection (its trim: runtime.GC and
 * debug.FreeOSMemory); a Tokio task runs the call on its worker thread's
 * stack and keeps only what lives across the await. */

enum { DEEP_TASKS = 10000, DEEP_BYTES = 32 * 1024 };

static _Atomic long deep_started;
static weft_event_t *deep_go, *deep_all;

static __attribute__((noinline)) unsigned deep_call(unsigned seed) {
  volatile unsigned char buf[DEEP_BYTES];
  for (size_t i = 0; i < sizeof buf; i += 64) buf[i] = (unsigned char)(seed + i);
  unsigned sum = 0;
  for (size_t i = 0; i < sizeof buf; i += 64) sum += buf[i];
  return sum;
}

static _Atomic unsigned deep_sink;

static int deep_waiter(void *arg, void **res) {
  atomic_fetch_add_explicit(&deep_sink, deep_call((unsigned)(uintptr_t)arg), memory_order_relaxed);
  if (atomic_fetch_add(&deep_started, 1) + 1 == DEEP_TASKS) weft_event_set(deep_all);
  return weft_event_wait(deep_go, -1);
}

static int rss_deep(void *arg, void **res) {
  long n = DEEP_TASKS;
  weft_task_t **ts = malloc(sizeof *ts * (size_t)n);
  weft_event_create(&deep_go);
  weft_event_create(&deep_all);
  long before = rss_kib();
  double t0 = now_s();
  for (long i = 0; i < n; i++) weft_spawn(deep_waiter, (void *)(uintptr_t)i, &ts[i]);
  weft_event_wait(deep_all, -1);
  weft_yield(); /* the last one reaches its wait */
  double dt = now_s() - t0;
  long waiting = rss_kib();
  weft_sleep(2.5);
  long idle = rss_kib();
  weft_loop_trim(weft_loop_current());
  long trimmed = rss_kib();
  weft_event_set(deep_go);
  await_all(ts, n);
  free(ts);
  weft_event_destroy(deep_go);
  weft_event_destroy(deep_all);
  char extra[160];
  snprintf(extra, sizeof extra, "kib_per_task_waiting=%.2f after_2_5s=%.2f after_trim=%.2f",
           (double)(waiting - before) / (double)n, (double)(idle - before) / (double)n,
           (double)(trimmed - before) / (double)n);
  report("rss_deep", n, dt, extra);
  return 0;
}

static int yield_many_warm(void *arg, void **res) { return yield_many((void *)1, res); }
static int ping_pong_warm(void *arg, void **res) { return ping_pong((void *)1, res); }

/* How main runs a workload: BY_NAME ones only when named (rss_burst:
 * GiBs; rss_deep: 2.5 s asleep; timers_steady, wake_then_hold and the
 * sched_switch variants: diagnoses); OWN_LOOP ones make their own one-worker loop,
 * whatever --workers says (the entry is called directly). */
enum { BY_NAME = 1, OWN_LOOP = 2 };

static const struct {
  const char *name;
  weft_task_fn fn;
  unsigned flags;
} workloads[] = {
    {"spawn_many", spawn_many, 0}, {"yield_many", yield_many, 0}, {"ping_pong", ping_pong, 0},
    {"yield_many_warm", yield_many_warm, 0}, {"ping_pong_warm", ping_pong_warm, 0},
    {"chained_spawn", chained_spawn, 0}, {"timers", timers, 0}, {"timer_accuracy", timer_accuracy, 0}, {"switch", fiber_switch, 0},
    {"switch_fp", fiber_switch_fp, 0},
    {"sched_switch", sched_switch, OWN_LOOP}, {"sched_switch_deep", sched_switch_deep, BY_NAME | OWN_LOOP},
    {"sched_switch_apart", sched_switch_apart, BY_NAME | OWN_LOOP},
    {"sched_switch_mixed", sched_switch_mixed, BY_NAME | OWN_LOOP}, {"fork_join", fork_join, 0}, {"idle", idle, 0},
    {"rss", rss, 0}, {"rss_deep", rss_deep, BY_NAME},
    {"rss_burst", rss_burst, BY_NAME}, {"timers_steady", timers_steady, BY_NAME},
    {"wake_then_hold", wake_then_hold, BY_NAME},
    {"lock_contended", bench_lock_contended, 0}, {"lock_contended_fifo", bench_lock_contended_fifo, 0},
    {"lock_contended_barging", bench_lock_contended_barging, 0},
    {"queue_mpmc", bench_queue_mpmc, 0},
    {"semaphore_limit", bench_semaphore_limit, 0}, {"semaphore_limit_warm", bench_semaphore_limit_warm, 0},
    {"ping_pong_queue", bench_ping_pong_queue, 0},
    {"lock_handoff", bench_lock_handoff, 0}, {"event_broadcast", bench_event_broadcast, 0},
    {"semaphore_uncontended", bench_semaphore_uncontended, 0},
    {"gather_10k", bench_gather_10k, 0}, {"taskgroup_10k", bench_taskgroup_10k, 0},
    {"wait_for_overhead", bench_wait_for_overhead, 0},
    {"executor_roundtrip", bench_executor_roundtrip, 0}, {"gen_pingpong", bench_gen_pingpong, 0},
    {"contextvar_spawn", bench_contextvar_spawn, 0},
    {"nop", bench_nop, 0}, {"nop_batch", bench_nop_batch, 0}, {"file_randread", bench_file_randread, 0},
};
/* Bare-liburing baselines, run outside any loop, asked for by name only. */
static const struct {
  const char *name;
  int batch;
} raw_workloads[] = {{"nop_raw", 1}, {"nop_raw_batch", 64}};

int main(int argc, char **argv) {
  const char *only[32];
  int nonly = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--workers") && i + 1 < argc)
      workers = (unsigned)atoi(argv[++i]);
    else if (!strcmp(argv[i], "--order") && i + 1 < argc)
      order = !strcmp(argv[++i], "fifo") ? WEFT_ORDER_FIFO
              : !strcmp(argv[i], "locality") ? WEFT_ORDER_LOCALITY : WEFT_ORDER_DEFAULT;
    else if (nonly < 32)
      only[nonly++] = argv[i];
  }
  int rc = 0;
  for (size_t w = 0; w < sizeof raw_workloads / sizeof *raw_workloads; w++)
    for (int i = 0; i < nonly; i++)
      if (!strcmp(only[i], raw_workloads[w].name)) rc |= bench_nop_raw(raw_workloads[w].batch);
  for (size_t w = 0; w < sizeof workloads / sizeof *workloads; w++) {
    int want = nonly == 0 && !(workloads[w].flags & BY_NAME);
    for (int i = 0; i < nonly; i++) want |= !strcmp(only[i], workloads[w].name);
    if (!want) continue;
    rc |= workloads[w].flags & OWN_LOOP ? workloads[w].fn(NULL, NULL) : run(workloads[w].fn, NULL);
  }
  return rc ? 1 : 0;
}
