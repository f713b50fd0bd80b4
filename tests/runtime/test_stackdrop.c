/* test_stackdrop.c - the pages below long-suspended tasks' stack pointers
 * go back (runtime/stackdrop.c): weft_loop_trim drops them for every
 * suspended task and an idle pass for those suspended an epoch, once per
 * suspension; what a task keeps above its stack pointer survives, and a
 * task that goes deep again after a drop computes correctly on its
 * zero-filled pages; trims racing wake-ups on two workers lose nothing
 * (TSan). */
#include "helpers.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "clock.h"
#include "loop.h"
#include "stack.h"
#include "stackdrop.h"
#include "task.h"
#include "worker.h"

#define KIB 1024u
enum { DEEP = 48 * KIB, KEEP = 1024 };

/* What go_deep returns for @seed, computed without going deep. */
static unsigned expected(unsigned seed) {
  unsigned sum = 0;
  for (size_t i = 0; i < DEEP; i += 64) sum += (unsigned char)(seed + i);
  return sum;
}

/* Touches DEEP bytes of stack, a byte a line, and sums them back. */
static __attribute__((noinline)) unsigned go_deep(unsigned seed) {
  volatile unsigned char buf[DEEP];
  for (size_t i = 0; i < DEEP; i += 64) buf[i] = (unsigned char)(seed + i);
  unsigned sum = 0;
  for (size_t i = 0; i < DEEP; i += 64) sum += buf[i];
  return sum;
}

struct deep_task {
  weft_event_t *go;
  unsigned id;
};

/* Goes deep, keeps a pattern in its own frame across a wait, then checks
 * the pattern and goes deep again. */
static int deep_body(void *arg, void **res) {
  struct deep_task *d = arg;
  volatile unsigned char keep[KEEP];
  for (size_t i = 0; i < KEEP; i++) keep[i] = (unsigned char)(d->id + i);
  ck_assert_uint_eq(go_deep(d->id), expected(d->id));
  int rc = weft_event_wait(d->go, -1);
  if (rc) return rc;
  for (size_t i = 0; i < KEEP; i++) ck_assert_uint_eq(keep[i], (unsigned char)(d->id + i));
  ck_assert_uint_eq(go_deep(d->id + 7), expected(d->id + 7));
  return 0;
}

enum { N = 16 };

struct deep_set {
  weft_event_t *go;
  struct deep_task d[N];
  weft_task_t *t[N];
};

static void deep_start(struct deep_set *s) {
  ck_assert_int_eq(weft_event_create(&s->go), 0);
  for (unsigned i = 0; i < N; i++) {
    s->d[i] = (struct deep_task){.go = s->go, .id = i};
    ck_assert_int_eq(weft_spawn(deep_body, &s->d[i], &s->t[i]), 0);
  }
  /* One worker, asyncio's order: each runs until its wait before we go on. */
  ck_assert_int_eq(weft_yield(), 0);
}

static void deep_finish(struct deep_set *s) {
  ck_assert_int_eq(weft_event_set(s->go), 0);
  await_all_ok(s->t, N);
  ck_assert_int_eq(weft_event_destroy(s->go), 0);
}

/* Bytes of @t's stack from its top down to its deepest resident page. */
static size_t touched(weft_task_t *t) {
  struct weft__task_run *x = weft__task_run_of(t);
  ck_assert_ptr_nonnull(x);
  return weft__stack_touched(x->stack);
}

static size_t dropped(void) {
  struct weft_memory_stats st;
  ck_assert_int_eq(weft_loop_memory_stats(weft_loop_current(), &st), 0);
  return st.stack_dropped;
}

static int trim_main(void *arg, void **res) {
  struct deep_set s;
  deep_start(&s);
  for (unsigned i = 0; i < N; i++) ck_assert_uint_ge(touched(s.t[i]), DEEP);
  size_t before = dropped();
  ck_assert_int_eq(weft_loop_trim(weft_loop_current()), 0);
  /* What is left: the top page or two its wait needs. */
  for (unsigned i = 0; i < N; i++) ck_assert_uint_le(touched(s.t[i]), 8 * KIB);
  ck_assert_uint_ge(dropped() - before, (size_t)N * (DEEP - 8 * KIB));
  /* Once per suspension: a second trim advises nothing more. */
  size_t once = dropped();
  ck_assert_int_eq(weft_loop_trim(weft_loop_current()), 0);
  ck_assert_uint_eq(dropped(), once);
  deep_finish(&s);
  return 0;
}

START_TEST(trim_drops_below_suspended_tasks) {
  ck_assert_int_eq(run_main(1, trim_main, NULL, NULL), 0);
}
END_TEST

/* The idle path with a made-up clock: nothing before an epoch has passed
 * since the loop began, a whole pass an epoch later, nothing again until
 * tasks run and another epoch passes, and a suspension dropped once is
 * not advised again. */
static int idle_main(void *arg, void **res) {
  struct weft__worker *w = weft__worker_self();
  struct deep_set s;
  deep_start(&s);
  /* Times from the loop's making on, whatever the real clock says: the
   * tasks' stamps are real (just after it), so ten epochs on they are old
   * however slowly this test got here. */
  uint64_t made = atomic_load(&w->loop->drop.last_begin_ns), wake = 0;
  ck_assert(!weft__stackdrop_idle(w, made + 1, &wake));
  ck_assert_uint_eq(wake, made + WEFT__STACK_DECAY_NS); /* the loop is younger than an epoch */
  for (unsigned i = 0; i < N; i++) ck_assert_uint_ge(touched(s.t[i]), DEEP);
  /* A pass, in pieces until it says no more. */
  uint64_t later = made + 10 * WEFT__STACK_DECAY_NS;
  size_t before = dropped();
  while (weft__stackdrop_idle(w, later, &wake)) {
  }
  for (unsigned i = 0; i < N; i++) ck_assert_uint_le(touched(s.t[i]), 8 * KIB);
  ck_assert_uint_ge(dropped() - before, (size_t)N * (DEEP - 8 * KIB));
  /* Done until an epoch after the next activity. */
  ck_assert(!weft__stackdrop_idle(w, later + 1, &wake));
  ck_assert_uint_eq(wake, 0);
  /* This task ran (its own slices): a pass is due an epoch after the last
   * began; it finds the same suspensions and advises nothing again. */
  ck_assert_int_eq(weft_yield(), 0); /* a slice of ours begins */
  uint64_t again = later + 2 * WEFT__STACK_DECAY_NS;
  size_t once = dropped();
  while (weft__stackdrop_idle(w, again, &wake)) {
  }
  ck_assert_uint_eq(dropped(), once);
  /* That pass began when the activity it saw did: what the activity
   * suspended was too young for it, so the worker wakes for the next
   * pass an epoch on, which then leaves nothing due. */
  ck_assert_uint_eq(wake, again + WEFT__STACK_DECAY_NS);
  while (weft__stackdrop_idle(w, again + WEFT__STACK_DECAY_NS, &wake)) {
  }
  ck_assert(!weft__stackdrop_idle(w, again + WEFT__STACK_DECAY_NS + 1, &wake));
  ck_assert_uint_eq(wake, 0);
  deep_finish(&s);
  return 0;
}

START_TEST(idle_pass_an_epoch_later) {
  ck_assert_int_eq(run_main(1, idle_main, NULL, NULL), 0);
}
END_TEST

/* Tasks whose sleeps end as the first idle pass begins (an epoch after
 * the loop's first activity): the walk holds some of them when their
 * timers fire, and its release queues those on the walking worker, which
 * must run them rather than sleep on them (asyncio_hello_world with four
 * workers hung once on epoll: its one task's 1 s sleep ended as a pass
 * held it). Every sleeper ends, on one worker and on two. */
enum { SLEEPERS = 400 };

static int sleeper(void *arg, void **res) {
  return weft_sleep_ns(WEFT__STACK_DECAY_NS + (uint64_t)(uintptr_t)arg * 100000u);
}

static int sleepers_main(void *arg, void **res) {
  static weft_task_t *t[SLEEPERS];
  for (uintptr_t i = 0; i < SLEEPERS; i++) ck_assert_int_eq(weft_spawn(sleeper, (void *)(i % 200), &t[i]), 0);
  await_all_ok(t, SLEEPERS);
  return 0;
}

START_TEST(wakes_during_a_pass_are_run) {
  for (unsigned workers = 1; workers <= 2; workers++)
    ck_assert_int_eq(run_main(workers, sleepers_main, NULL, NULL), 0);
}
END_TEST

/* The same, made certain: a task woken while the walk holds it is queued
 * on the walking worker, and the walk says so (its caller, a parking
 * worker, then runs it instead of sleeping). */
static weft_future_t *held_gate;

static void wake_while_held(struct weft_task *t) {
  (void)t;
  if (held_gate) ck_assert_int_eq(weft_future_set_result(held_gate, NULL), 0);
  held_gate = NULL;
}

static int gated(void *arg, void **res) {
  ck_assert_uint_eq(go_deep(3), expected(3));
  return weft_await(arg, NULL);
}

static int woken_main(void *arg, void **res) {
  struct weft__worker *w = weft__worker_self();
  weft_future_t *gate;
  ck_assert_int_eq(weft_future_new(NULL, &gate), 0);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(gated, gate, &t), 0);
  ck_assert_int_eq(weft_yield(), 0); /* it waits on the gate */
  held_gate = gate;
  weft__stackdrop_held_hook = wake_while_held;
  uint64_t made = atomic_load(&w->loop->drop.last_begin_ns), wake;
  /* One piece covers the table: the walk is done, and still says "look
   * for work": the task it let go was queued here. */
  ck_assert(weft__stackdrop_idle(w, made + 10 * WEFT__STACK_DECAY_NS, &wake));
  weft__stackdrop_held_hook = NULL;
  ck_assert_ptr_null(held_gate);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  weft_future_release(gate);
  return 0;
}

START_TEST(a_wake_while_held_is_reported) {
  ck_assert_int_eq(run_main(1, woken_main, NULL, NULL), 0);
}
END_TEST

/* cfg.track_stack_use measures what is resident: nothing is dropped. */
static int tracked_main(void *arg, void **res) {
  struct deep_set s;
  deep_start(&s);
  ck_assert_int_eq(weft_loop_trim(weft_loop_current()), 0);
  for (unsigned i = 0; i < N; i++) ck_assert_uint_ge(touched(s.t[i]), DEEP);
  ck_assert_uint_eq(dropped(), 0);
  deep_finish(&s);
  return 0;
}

START_TEST(nothing_dropped_while_tracking) {
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 1;
  cfg.track_stack_use = 1;
  weft_loop_t *loop = NULL;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), 0);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn_opts(loop, tracked_main, NULL, NULL, &t), 0);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), NULL), 0);
  weft_task_release(t);
  close_clean(loop);
}
END_TEST

/* ---- trims racing wake-ups on two workers ------------------------------
 * The racers and their waker run on worker 1, a trimming thread beside
 * them. Even rounds: the waker has the thread trim before it sets the
 * round's futures and waits for that trim (a handshake, worker 1 blocked
 * meanwhile): the racers are suspended then (those the scheduler ran to
 * their next wait: all of them in the first round), so those trims hold
 * and drop them. Odd rounds: the trim is asked for after the futures
 * are set and races the wake-ups and the resumed racers on worker 1. */

enum { RACERS = 32 };
static _Atomic bool racing;
static sem_t trim_asked, trim_done;

struct racer {
  weft_future_t *next; /* set by the waker each round */
  unsigned id;
  long rounds;
};

static int racer_body(void *arg, void **res) {
  struct racer *r = arg;
  volatile unsigned char keep[KEEP];
  for (long k = 0; k < r->rounds; k++) {
    unsigned seed = r->id * 131u + (unsigned)k;
    for (size_t i = 0; i < KEEP; i++) keep[i] = (unsigned char)(seed + i);
    ck_assert_uint_eq(go_deep(seed), expected(seed));
    void *v;
    int rc = weft_await(r->next, &v);
    if (rc) return rc;
    weft_future_release(r->next);
    r->next = v;
    for (size_t i = 0; i < KEEP; i++) ck_assert_uint_eq(keep[i], (unsigned char)(seed + i));
  }
  weft_future_release(r->next);
  return 0;
}

/* Wakes each racer in turn, handing it its next round's future (the
 * racer holds the only reference to each: the completer needs none). */
static int waker(void *arg, void **res) {
  struct racer *r = arg;
  weft_future_t *cur[RACERS];
  for (unsigned i = 0; i < RACERS; i++) cur[i] = r[i].next; /* before any racer ran */
  for (long k = 0; k < r[0].rounds; k++) {
    /* Each racer has gone deep and waits for cur[i] (their worker is ours). */
    ck_assert_int_eq(weft_yield(), 0);
    if (k % 2 == 0) {
      sem_post(&trim_asked);
      while (sem_wait(&trim_done) != 0) {
      }
    }
    for (unsigned i = 0; i < RACERS; i++) {
      weft_future_t *next;
      ck_assert_int_eq(weft_future_new(NULL, &next), 0);
      ck_assert_int_eq(weft_future_set_result(cur[i], next), 0);
      cur[i] = next;
    }
    if (k % 2 == 1) sem_post(&trim_asked);
  }
  return 0;
}

static int race_main(void *arg, void **res) {
  static struct racer r[RACERS];
  weft_task_t *t[RACERS + 1];
  for (unsigned i = 0; i < RACERS; i++) {
    r[i] = (struct racer){.id = i, .rounds = scaled(200)};
    ck_assert_int_eq(weft_future_new(NULL, &r[i].next), 0);
    ck_assert_int_eq(spawn_pinned(1, racer_body, &r[i], &t[i]), 0);
  }
  /* Spawned after them on their worker: in asyncio's order each racer
   * runs to its first wait before the waker's first slice. */
  ck_assert_int_eq(spawn_pinned(1, waker, r, &t[RACERS]), 0);
  await_all_ok(t, RACERS + 1);
  return 0;
}

/* weft_loop_trim's part for suspended tasks, from another thread, when
 * the waker asks. */
static void *trimmer(void *arg) {
  for (long k = 0;; k++) {
    while (sem_wait(&trim_asked) != 0) {
    }
    if (!atomic_load(&racing)) return NULL;
    weft__stackdrop_all(arg);
    if (k % 2 == 0) sem_post(&trim_done);
  }
}

START_TEST(trims_race_wake_ups) {
  weft_loop_t *loop = make_loop(2);
  atomic_store(&racing, true);
  ck_assert_int_eq(sem_init(&trim_asked, 0, 0), 0);
  ck_assert_int_eq(sem_init(&trim_done, 0, 0), 0);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, trimmer, loop), 0);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn_opts(loop, race_main, NULL, NULL, &t), 0);
  int rc = weft_loop_run_until_complete(loop, weft_task_future(t), NULL);
  atomic_store(&racing, false);
  sem_post(&trim_asked);
  pthread_join(th, NULL);
  sem_destroy(&trim_asked);
  sem_destroy(&trim_done);
  ck_assert_int_eq(rc, 0);
  weft_task_release(t);
  /* The first round's trim held every racer (spawned before the waker on
   * its worker, each waits for its first future by then): each gave back
   * at least what lies below its wait, DEEP less a few pages. Later even
   * rounds hold those the scheduler has run to their next wait (all of
   * them unless a shuffled order left one queued behind the waker). */
  struct weft_memory_stats st;
  ck_assert_int_eq(weft_loop_memory_stats(loop, &st), 0);
  ck_assert_uint_ge(st.stack_dropped, (size_t)RACERS * (DEEP - 8 * KIB));
  close_clean(loop);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("stackdrop");
  TCase *tc = tcase_create("stackdrop");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, trim_drops_below_suspended_tasks);
  tcase_add_test(tc, idle_pass_an_epoch_later);
  tcase_add_test(tc, nothing_dropped_while_tracking);
  tcase_add_test(tc, wakes_during_a_pass_are_run);
  tcase_add_test(tc, a_wake_while_held_is_reported);
  tcase_add_test(tc, trims_race_wake_ups);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
