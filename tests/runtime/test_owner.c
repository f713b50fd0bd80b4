/*
 * test_owner.c - runtime/owner.c: owner sections (a one-worker loop's
 * futures awaited and completed without their lock while no other thread
 * touches them) are on exactly while such a loop runs, a foreign thread's
 * first lock (or free) of one of its futures revokes them until the worker
 * arms them again a hold later (the hold doubling while revocations keep
 * coming), and foreign threads racing the worker's sections, and its
 * re-arms, lose no completion and no wake-up (TSan checks the hand-over of
 * what the sections wrote). Task states (runtime/taskstate.h): wake-ups
 * from other threads revoke, two loops waking each other's tasks from
 * their sections do not wait for each other, and the dump's holds from
 * another thread race the worker's plain moves safely. weft_to_thread's
 * completions, made on the worker, leave the sections on. Loops of
 * several workers: each worker arms a record of its own, binding the
 * plain futures its tasks make; another worker's completion,
 * cancellation or free of one revokes it, and four workers trading
 * messages across workers (sections coming and going with a hold of 0)
 * beside a foreign completer lose nothing. With $WEFT_MEMBARRIER=0 (`make test-epoll`)
 * sections are never on, and the same programs run on the locks alone.
 */
#include "helpers.h"
#include "amutex.h"
#include "future.h"
#include "loop.h"
#include "membarrier.h"
#include "owner.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <unistd.h>

static bool sections_on(weft_loop_t *loop) {
  return atomic_load(&((struct weft_loop *)loop)->owner->on) == WEFT__OWNER_ON;
}

static uint64_t revocations(weft_loop_t *loop) {
  struct weft_loop_stats ls;
  ck_assert_int_eq(weft_loop_get_stats(loop, &ls), 0);
  return ls.owner_revocations;
}

/* What a run of a one-worker loop starts with: sections on, where the
 * process has membarrier(2). */
static bool expected_on(void) { return weft__membarrier_available(); }

/* ---- a foreign thread that does one thing to a future when told ---------- */

enum act { ACT_SET, ACT_RELEASE, ACT_CANCEL };

struct foreigner {
  pthread_t th;
  sem_t go;
  weft_future_t *f;
  enum act act;
  int rc;
  unsigned jitter; /* sched_yield()s before acting: varies the interleaving */
};

static void *foreigner_main(void *arg) {
  struct foreigner *fo = arg;
  while (sem_wait(&fo->go) != 0) {
  }
  for (unsigned i = 0; i < fo->jitter; i++) sched_yield();
  switch (fo->act) {
  case ACT_SET: fo->rc = weft_future_set_result(fo->f, (void *)(uintptr_t)42); break;
  case ACT_RELEASE: weft_future_release(fo->f); fo->rc = 0; break;
  case ACT_CANCEL: fo->rc = weft_future_cancel(fo->f, NULL); break;
  }
  return NULL;
}

static void foreigner_start(struct foreigner *fo, weft_future_t *f, enum act act, unsigned jitter) {
  fo->f = f;
  fo->act = act;
  fo->jitter = jitter;
  fo->rc = -1;
  ck_assert_int_eq(sem_init(&fo->go, 0, 0), 0);
  ck_assert_int_eq(pthread_create(&fo->th, NULL, foreigner_main, fo), 0);
}

static void foreigner_join(struct foreigner *fo) {
  ck_assert_int_eq(pthread_join(fo->th, NULL), 0);
  sem_destroy(&fo->go);
}

/* ---- sections on while a one-worker loop runs, off after ---------------- */

static int settle(void *arg, void **res) {
  return weft_future_set_result(arg, (void *)(uintptr_t)7);
}

/* Awaits a future another task completes (an entry added and completed
 * in sections) and reports whether sections were on throughout. */
static int await_local(void *arg, void **res) {
  weft_loop_t *loop = weft_loop_current();
  bool on_before = sections_on(loop);
  weft_future_t *f = NULL;
  ck_assert_int_eq(weft_future_new(NULL, &f), 0);
  ck_assert_int_eq(weft_spawn(settle, f, NULL), 0);
  void *v = NULL;
  ck_assert_int_eq(weft_await(f, &v), 0);
  ck_assert_ptr_eq(v, (void *)(uintptr_t)7);
  weft_future_release(f);
  *res = (void *)(uintptr_t)(on_before && sections_on(loop) ? 1 : 2);
  return 0;
}

START_TEST(sections_are_on_while_one_worker_runs) {
  weft_loop_t *loop = make_loop(1);
  ck_assert(!sections_on(loop)); /* not running */
  for (int run = 0; run < 2; run++) {
    void *res = NULL;
    ck_assert_int_eq(weft_loop_run_task(loop, await_local, NULL, &res), 0);
    ck_assert_ptr_eq(res, (void *)(uintptr_t)(expected_on() ? 1 : 2));
    ck_assert(!sections_on(loop)); /* the run ended */
  }
  close_clean(loop);
}
END_TEST

/* ---- a loop of several workers: each worker's own sections ----------------
 * Each worker arms its own record while it runs (worker.h, `sections`),
 * and the plain futures its tasks make are bound to it (future.h): their
 * awaits and completions on that worker take sections, and any other
 * thread, another worker included, locks and revokes. Tasks' futures and
 * task states have no record there (futlock.h). */

static struct weft__owner *my_record(void) { return weft__worker_self()->sections; }

static struct weft__owner *record_of(weft_future_t *f) {
  return ((struct weft__plain_future *)f)->own;
}

static weft_task_t *spawn_on(int worker, weft_task_fn fn, void *arg) {
  struct weft_task_opts o;
  weft_task_opts_init(&o);
  o.worker = worker;
  weft_task_t *t = NULL;
  ck_assert_int_eq(weft_spawn_opts(NULL, fn, arg, &o, &t), 0);
  return t;
}

/* Awaits a future a task on the same worker completes: 1 if the worker's
 * record was its own, bound to the future, and on throughout. */
static int await_on_my_worker(void *arg, void **res) {
  weft_loop_t *loop = weft_loop_current();
  struct weft__owner *mine = my_record();
  bool on_before = atomic_load(&mine->on) == WEFT__OWNER_ON;
  weft_future_t *f = NULL;
  ck_assert_int_eq(weft_future_new(NULL, &f), 0);
  ck_assert_ptr_eq(record_of(f), mine);
  ck_assert_ptr_ne(mine, ((struct weft_loop *)loop)->owner);
  weft_task_t *t = spawn_on((int)weft__worker_self()->index, settle, f);
  void *v = NULL;
  ck_assert_int_eq(weft_await(f, &v), 0);
  ck_assert_ptr_eq(v, (void *)(uintptr_t)7);
  weft_future_release(f);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  *res = (void *)(uintptr_t)(on_before && atomic_load(&mine->on) == WEFT__OWNER_ON ? 1 : 2);
  return 0;
}

START_TEST(each_worker_arms_its_own_sections) {
  weft_loop_t *loop = make_loop(2);
  struct weft_loop *l = (struct weft_loop *)loop;
  ck_assert_ptr_ne(l->workers[0].sections, l->workers[1].sections);
  for (int run = 0; run < 2; run++) {
    void *res = NULL;
    ck_assert_int_eq(weft_loop_run_task(loop, await_on_my_worker, NULL, &res), 0);
    ck_assert_ptr_eq(res, (void *)(uintptr_t)(expected_on() ? 1 : 2));
    for (int i = 0; i < 2; i++) ck_assert(atomic_load(&l->workers[i].sections->on) == WEFT__OWNER_OFF);
  }
  ck_assert(!sections_on(loop)); /* the loop's own record: one worker's only */
  ck_assert_uint_eq(revocations(loop), 0);
  close_clean(loop);
}
END_TEST

/* Another worker completing, cancelling or freeing a future worker 0's
 * task made each revoke worker 0's sections (counted: the first other
 * thread to lock it, or free it, during the run), and lose nothing. */
static int complete_it(void *arg, void **res) {
  return weft_future_set_result(arg, (void *)(uintptr_t)11);
}

static int cancel_it(void *arg, void **res) { return weft_future_cancel(arg, NULL) == 1 ? 0 : -EINVAL; }

static int release_it(void *arg, void **res) {
  weft_future_release(arg); /* the last reference: freed here */
  return 0;
}

static int made_on_zero(void *arg, void **res) {
  const int *how = arg;
  weft_future_t *f = NULL;
  ck_assert_int_eq(weft_future_new(NULL, &f), 0);
  ck_assert_ptr_eq(record_of(f), my_record());
  weft_task_fn fns[] = {complete_it, cancel_it, release_it};
  if (*how == 2) ck_assert_int_eq(weft_future_set_result(f, NULL), 0); /* in a section */
  weft_task_t *t = spawn_on(1, fns[*how], f);
  if (*how < 2) {
    void *v = NULL;
    int rc = weft_await(f, &v);
    ck_assert_int_eq(rc, *how == 0 ? 0 : -ECANCELED);
    if (*how == 0) ck_assert_ptr_eq(v, (void *)(uintptr_t)11);
    weft_future_release(f);
  }
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  return 0;
}

static int across_workers(void *arg, void **res) {
  weft_task_t *t = spawn_on(0, made_on_zero, arg);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  return 0;
}

START_TEST(another_worker_revokes_a_futures_sections) {
  for (int how = 0; how < 3; how++) {
    weft_loop_t *loop = make_loop(2);
    ck_assert_int_eq(weft_loop_run_task(loop, across_workers, &how, NULL), 0);
    uint64_t n = revocations(loop);
    ck_assert(expected_on() ? n >= 1 : n == 0);
    close_clean(loop);
  }
}
END_TEST

/* ---- weft_to_thread's completion made on the worker ----------------------
 * Its future is awaited by its caller alone, a task of the loop, so the
 * pool thread hands the completion to the worker (executor.c,
 * complete_on_worker) instead of locking the future: a loop calling it
 * over and over keeps its sections. run_in_executor's future, which any
 * thread may await, is still completed by the pool thread, which revokes
 * them. Before, every to_thread completion revoked (a revocation, then
 * one a hold later, for as long as the calls kept coming). */

static int plus_one(void *arg, void **res) {
  *res = (void *)((uintptr_t)arg + 1);
  return 0;
}

static int to_thread_many(void *arg, void **res) {
  weft_loop_t *loop = weft_loop_current();
  for (uintptr_t i = 0; i < 200; i++) {
    void *r = NULL;
    ck_assert_int_eq(weft_to_thread(plus_one, (void *)i, &r), 0);
    ck_assert_ptr_eq(r, (void *)(i + 1));
  }
  *res = (void *)(uintptr_t)(sections_on(loop) ? 1 : 2);
  return 0;
}

static int in_executor_once(void *arg, void **res) {
  weft_future_t *f = NULL;
  ck_assert_int_eq(weft_run_in_executor(NULL, plus_one, (void *)1, &f), 0);
  void *r = NULL;
  ck_assert_int_eq(weft_await(f, &r), 0);
  ck_assert_ptr_eq(r, (void *)2);
  weft_future_release(f);
  return 0;
}

START_TEST(to_thread_completes_on_the_worker) {
  weft_loop_t *loop = make_loop(1);
  void *res = NULL;
  ck_assert_int_eq(weft_loop_run_task(loop, to_thread_many, NULL, &res), 0);
  ck_assert_ptr_eq(res, (void *)(uintptr_t)(expected_on() ? 1 : 2));
  ck_assert_uint_eq(revocations(loop), 0);
  ck_assert_int_eq(weft_loop_run_task(loop, in_executor_once, NULL, NULL), 0);
  ck_assert_uint_eq(revocations(loop), expected_on() ? 1 : 0);
  close_clean(loop);
}
END_TEST

/* ---- a waiter on another loop -------------------------------------------- */

/* A task of loop M waits on a future of loop L; L's task completes it in
 * a section. The section's own completion wakes only a task of its loop
 * (the waiter cannot run before that worker's scheduler does); a task of
 * another loop is woken by the general path, from L's worker onto M's. */
struct cross {
  weft_future_t *f; /* L's */
  sem_t waiting;    /* posted once M's task waits on f */
  void *got;
  int rc;
  bool on_while_completing;
};

/* Starts after the awaiter suspended (one worker: FIFO), so it waits. */
static int post_waiting(void *arg, void **res) {
  sem_post(&((struct cross *)arg)->waiting);
  return 0;
}

static int await_other_loops_future(void *arg, void **res) {
  struct cross *c = arg;
  ck_assert_int_eq(weft_spawn(post_waiting, c, NULL), 0);
  c->rc = weft_await(c->f, &c->got);
  return 0;
}

static void *run_other_loop(void *arg) {
  weft_loop_t *m = make_loop(1);
  ck_assert_int_eq(weft_loop_run_task(m, await_other_loops_future, arg, NULL), 0);
  close_clean(m);
  return NULL;
}

static int complete_in_section(void *arg, void **res) {
  struct cross *c = arg;
  c->on_while_completing = sections_on(weft_loop_current());
  return weft_future_set_result(c->f, (void *)(uintptr_t)42);
}

START_TEST(a_section_completion_wakes_a_task_of_another_loop) {
  weft_loop_t *l = make_loop(1);
  struct cross c = {.got = NULL, .rc = -1};
  ck_assert_int_eq(weft_future_new(l, &c.f), 0);
  ck_assert_int_eq(sem_init(&c.waiting, 0, 0), 0);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, run_other_loop, &c), 0);
  while (sem_wait(&c.waiting) != 0) {
  }
  ck_assert_int_eq(weft_loop_run_task(l, complete_in_section, &c, NULL), 0);
  ck_assert_int_eq(pthread_join(th, NULL), 0);
  ck_assert_int_eq(c.rc, 0);
  ck_assert_ptr_eq(c.got, (void *)(uintptr_t)42);
  ck_assert(c.on_while_completing == expected_on()); /* M's waiter took the lock before L ran */
  sem_destroy(&c.waiting);
  weft_future_release(c.f);
  close_clean(l);
}
END_TEST

/* ---- a foreign thread revokes them until the worker arms them again ----- */

/* @arg: enum act. A foreign thread acts on a future of ours while we
 * await it (set, cancel) or after we hold no reference to it but its
 * (release); sections are off after, and the await sees its outcome.
 * With a hold of 0 (the test sets it) the second pass that finds them
 * off arms them again: two yields, each a pass. */
static int foreign_acts(void *arg, void **res) {
  enum act act = (enum act)(uintptr_t)arg;
  weft_loop_t *loop = weft_loop_current();
  ck_assert(sections_on(loop) == expected_on());
  weft_future_t *f = NULL;
  ck_assert_int_eq(weft_future_new(NULL, &f), 0);
  struct foreigner fo;
  if (act == ACT_RELEASE) {
    foreigner_start(&fo, weft_future_ref(f), act, 0);
    ck_assert_int_eq(weft_future_set_result(f, NULL), 0); /* a section, if on */
    weft_future_release(f);                               /* the foreigner's is the last */
    sem_post(&fo.go);
    foreigner_join(&fo); /* blocks the worker: nothing else to run */
  } else {
    foreigner_start(&fo, f, act, 0);
    sem_post(&fo.go);
    void *v = NULL;
    int rc = weft_await(f, &v);
    if (act == ACT_SET) {
      ck_assert_int_eq(rc, 0);
      ck_assert_ptr_eq(v, (void *)(uintptr_t)42);
    } else {
      ck_assert_int_eq(rc, -ECANCELED);
    }
    foreigner_join(&fo);
    ck_assert_int_eq(fo.rc, act == ACT_SET ? 0 : 1);
    weft_future_release(f);
  }
  ck_assert(!sections_on(loop)); /* revoked */
  /* The locks work on: a local await after the revocation. */
  void *v = NULL;
  ck_assert_int_eq(await_local(NULL, &v), 0);
  ck_assert_ptr_eq(v, (void *)(uintptr_t)2);
  ck_assert_int_eq(weft_yield(), 0);
  ck_assert_int_eq(weft_yield(), 0);
  ck_assert(sections_on(loop) == expected_on()); /* armed again */
  ck_assert_int_eq(await_local(NULL, &v), 0);
  ck_assert_ptr_eq(v, (void *)(uintptr_t)(expected_on() ? 1 : 2));
  return 0;
}

START_TEST(a_foreign_completion_revokes_sections_for_a_hold) {
  weft__owner_rearm_min_ms = 0;
  weft_loop_t *loop = make_loop(1);
  ck_assert_uint_eq(revocations(loop), 0);
  for (int act = ACT_SET; act <= ACT_CANCEL; act++) {
    ck_assert_int_eq(weft_loop_run_task(loop, foreign_acts, (void *)(uintptr_t)act, NULL), 0);
    ck_assert(!sections_on(loop)); /* the run ended */
    /* One each (the re-arm and the local awaits revoke nothing). */
    ck_assert_uint_eq(revocations(loop), expected_on() ? (uint64_t)act + 1 : 0);
  }
  close_clean(loop);
  weft__owner_rearm_min_ms = WEFT__OWNER_REARM_MIN_MS;
}
END_TEST

/* The hold's rule on a record of its own, with the coarse clock given: a
 * revocation within WEFT__OWNER_REARM_MAX_MS of the arming doubles the
 * hold (the first one after a run's start: the minimum), up to that
 * maximum; one that comes later starts again from the minimum. A pass
 * arms only once the hold has gone by since the first pass that found the
 * sections off, and never while they are on. */
static uint32_t revoke_then_count_hold(struct weft__owner *o, uint32_t now) {
  weft__owner_revoke(o); /* this thread holds no lock word: a revoker as any */
  ck_assert_int_eq(atomic_load(&o->on), WEFT__OWNER_OFF);
  weft__owner_pass(o, now); /* the first pass that finds them off */
  uint32_t t = now;
  while (atomic_load(&o->on) == WEFT__OWNER_OFF) {
    ck_assert_uint_le(t - now, WEFT__OWNER_REARM_MAX_MS);
    weft__owner_pass(o, ++t);
  }
  return t - now;
}

START_TEST(the_hold_doubles_while_revocations_keep_coming) {
  weft__amutex_setup();
  if (!expected_on()) return; /* no membarrier: `on` is never ON */
  struct weft__owner *o = weft__owner_get();
  ck_assert_ptr_nonnull(o);
  uint32_t t = 5000;
  weft__owner_run_begins(o, t);
  ck_assert_int_eq(atomic_load(&o->on), WEFT__OWNER_ON);
  weft__owner_pass(o, t + 100000); /* on: a pass changes nothing */
  ck_assert_int_eq(atomic_load(&o->on), WEFT__OWNER_ON);
  uint32_t want = WEFT__OWNER_REARM_MIN_MS;
  for (int i = 0; i < 10; i++) {
    t += 3; /* revoked soon after each arming */
    uint32_t hold = revoke_then_count_hold(o, t);
    ck_assert_uint_eq(hold, want);
    t += hold;
    want = want * 2 > WEFT__OWNER_REARM_MAX_MS ? WEFT__OWNER_REARM_MAX_MS : want * 2;
  }
  ck_assert_uint_eq(want, WEFT__OWNER_REARM_MAX_MS);
  /* Sections that lasted the maximum: the next hold is the minimum. */
  t += WEFT__OWNER_REARM_MAX_MS;
  ck_assert_uint_eq(revoke_then_count_hold(o, t), WEFT__OWNER_REARM_MIN_MS);
  /* Across the coarse clock's wrap. */
  t = UINT32_MAX - 2;
  weft__owner_run_ends(o);
  weft__owner_run_begins(o, t);
  ck_assert_uint_eq(revoke_then_count_hold(o, t + 1), WEFT__OWNER_REARM_MIN_MS);
  weft__owner_run_ends(o);
  weft__owner_put(o);
}
END_TEST

/* ---- foreign threads racing the sections lose nothing ------------------- */

enum { PAIRS = 4 };

struct pp {
  weft_future_t *inbox; /* pong's; each message brings the next */
  long rounds;
};

static int pong(void *arg, void **res) {
  struct pp *p = arg;
  weft_future_t *in = p->inbox;
  for (long r = 0; r < p->rounds; r++) {
    void *v = NULL;
    ck_assert_int_eq(weft_await(in, &v), 0);
    weft_future_t **msg = v;
    weft_future_release(in);
    in = msg[1];
    ck_assert_int_eq(weft_future_set_result(msg[0], (void *)(uintptr_t)r), 0);
  }
  weft_future_release(in);
  return 0;
}

static int ping(void *arg, void **res) {
  struct pp *p = arg;
  weft_future_t *out = p->inbox;
  for (long r = 0; r < p->rounds; r++) {
    weft_future_t *reply = NULL, *next = NULL;
    ck_assert_int_eq(weft_future_new(NULL, &reply), 0);
    ck_assert_int_eq(weft_future_new(NULL, &next), 0);
    weft_future_t *msg[2] = {reply, next};
    ck_assert_int_eq(weft_future_set_result(out, msg), 0);
    void *v = NULL;
    ck_assert_int_eq(weft_await(reply, &v), 0);
    ck_assert_ptr_eq(v, (void *)(uintptr_t)r);
    weft_future_release(reply);
    out = next;
  }
  return 0;
}

/* Spawns PAIRS ping/pong pairs of @rounds messages each into @ts. */
static void spawn_pairs(struct pp *pairs, weft_task_t **ts, long rounds) {
  for (int i = 0; i < PAIRS; i++) {
    pairs[i].rounds = rounds;
    ck_assert_int_eq(weft_future_new(NULL, &pairs[i].inbox), 0);
    ck_assert_int_eq(weft_spawn(pong, &pairs[i], &ts[2 * i]), 0);
    ck_assert_int_eq(weft_spawn(ping, &pairs[i], &ts[2 * i + 1]), 0);
  }
}

/* Awaits and releases @n tasks, each of which must end with 0. */
static void await_all(weft_task_t **ts, int n) {
  for (int i = 0; i < n; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
}

/* One run: message pairs trade in sections while a foreign thread acts on
 * futures of the loop at a varying moment (its first touch revokes). */
static int racing_run(void *arg, void **res) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  struct pp pairs[PAIRS];
  weft_task_t *ts[2 * PAIRS];
  spawn_pairs(pairs, ts, 50);
  /* The foreign thread's future: completed by it (set) or by us (when it
   * only drops a reference, we complete it first). */
  weft_future_t *f = NULL;
  ck_assert_int_eq(weft_future_new(NULL, &f), 0);
  enum act act = seed % 3 == 0 ? ACT_RELEASE : seed % 3 == 1 ? ACT_SET : ACT_CANCEL;
  struct foreigner fo;
  foreigner_start(&fo, act == ACT_RELEASE ? weft_future_ref(f) : f, act, seed % 7);
  if (act == ACT_RELEASE) ck_assert_int_eq(weft_future_set_result(f, (void *)(uintptr_t)42), 0);
  sem_post(&fo.go);
  await_all(ts, 2 * PAIRS);
  void *v = NULL;
  int rc = weft_await(f, &v);
  if (act == ACT_CANCEL) {
    ck_assert_int_eq(rc, -ECANCELED);
  } else {
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_eq(v, (void *)(uintptr_t)42);
  }
  weft_future_release(f);
  foreigner_join(&fo);
  return 0;
}

START_TEST(foreign_threads_racing_sections_lose_nothing) {
  weft_loop_t *loop = make_loop(1);
  long runs = scaled(300);
  for (long r = 0; r < runs; r++)
    ck_assert_int_eq(weft_loop_run_task(loop, racing_run, (void *)(uintptr_t)r, NULL), 0);
  close_clean(loop);
}
END_TEST

/* ---- ... and racing the worker's re-arms, over and over ----------------- */

/* A foreign thread completes a future of the loop each time it is handed
 * one, while message pairs trade and two tasks take turns at a Lock, all
 * in sections: with a hold of 0 every completion revokes and the worker
 * arms again at its second pass after, so sections come and go hundreds
 * of times in one run (the Lock's home stays bound throughout). */
struct relay {
  pthread_t th;
  sem_t go;
  weft_future_t *_Atomic f; /* handed over through `go` */
  long n;
  weft_loop_t *away; /* the futures' loop: NULL, the relay's own */
};

static void *relay_main(void *arg) {
  struct relay *r = arg;
  for (long i = 0; i < r->n; i++) {
    while (sem_wait(&r->go) != 0) {
    }
    for (long k = 0; k < i % 5; k++) sched_yield();
    ck_assert_int_eq(weft_future_set_result(atomic_load(&r->f), (void *)(uintptr_t)(i + 1)), 0);
  }
  return NULL;
}

struct turns {
  weft_lock_t *lock;
  long rounds, count;
};

static int take_turns(void *arg, void **res) {
  struct turns *t = arg;
  for (long i = 0; i < t->rounds; i++) {
    ck_assert_int_eq(weft_lock_acquire(t->lock, -1), 0);
    long seen = t->count;
    if (i % 3 == 0) ck_assert_int_eq(weft_yield(), 0); /* the other one queues */
    t->count = seen + 1;
    ck_assert_int_eq(weft_lock_release(t->lock), 0);
    ck_assert_int_eq(weft_yield(), 0);
  }
  return 0;
}

static int relay_run(void *arg, void **res) {
  struct relay *r = arg;
  struct turns turns = {.rounds = 20 * r->n};
  ck_assert_int_eq(weft_lock_create(&turns.lock), 0);
  weft_task_t *takers[2];
  for (int i = 0; i < 2; i++) ck_assert_int_eq(weft_spawn(take_turns, &turns, &takers[i]), 0);
  struct pp pairs[PAIRS];
  weft_task_t *ts[2 * PAIRS];
  spawn_pairs(pairs, ts, 20 * r->n);
  for (long i = 0; i < r->n; i++) {
    weft_future_t *f = NULL;
    ck_assert_int_eq(weft_future_new(r->away, &f), 0);
    atomic_store(&r->f, f);
    sem_post(&r->go);
    void *v = NULL;
    ck_assert_int_eq(weft_await(f, &v), 0);
    ck_assert_ptr_eq(v, (void *)(uintptr_t)(i + 1));
    weft_future_release(f);
  }
  await_all(ts, 2 * PAIRS);
  await_all(takers, 2);
  ck_assert_int_eq(turns.count, 2 * turns.rounds);
  ck_assert_int_eq(weft_lock_destroy(turns.lock), 0);
  return 0;
}

/* Runs the relay on @loop with futures of @away (NULL: @loop's) and a hold
 * of 0: each completion revoked at most once, and sections were on for
 * some. */
static void relay_through(weft_loop_t *loop, weft_loop_t *away) {
  weft__owner_rearm_min_ms = 0;
  struct relay r = {.n = scaled(500), .away = away};
  ck_assert_int_eq(sem_init(&r.go, 0, 0), 0);
  ck_assert_int_eq(pthread_create(&r.th, NULL, relay_main, &r), 0);
  ck_assert_int_eq(weft_loop_run_task(loop, relay_run, &r, NULL), 0);
  ck_assert_int_eq(pthread_join(r.th, NULL), 0);
  uint64_t n = revocations(loop);
  ck_assert_uint_le(n, (uint64_t)r.n);
  ck_assert(expected_on() ? n >= 1 : n == 0);
  sem_destroy(&r.go);
  weft__owner_rearm_min_ms = WEFT__OWNER_REARM_MIN_MS;
}

START_TEST(foreign_threads_racing_rearms_lose_nothing) {
  weft_loop_t *loop = make_loop(1);
  relay_through(loop, NULL);
  close_clean(loop);
}
END_TEST

/* ---- workers racing each other's sections, and re-arms -------------------
 * Four workers; message pairs whose ping (which makes every future) and
 * pong are pinned to different workers, or float, so each message is
 * awaited or completed, and freed, on a worker whose record is not the
 * future's, while pairs on one worker trade in sections; with a hold of 0
 * the revoked workers arm again at their second pass after, so sections
 * come and go all run long. A foreign thread completes futures of the
 * loop too (relay_run's). TSan checks the hand-overs. */
struct spread {
  struct relay *r;
  struct pp pairs[2 * PAIRS];
};

static int spread_run(void *arg, void **res) {
  struct spread *sp = arg;
  weft_task_t *ts[4 * PAIRS];
  for (int i = 0; i < 2 * PAIRS; i++) {
    sp->pairs[i].rounds = 20 * sp->r->n;
    ck_assert_int_eq(weft_future_new(NULL, &sp->pairs[i].inbox), 0);
    ts[2 * i] = spawn_on(i % 3 == 2 ? -1 : (i + 1) % 4, pong, &sp->pairs[i]);
    ts[2 * i + 1] = spawn_on(i % 3 == 1 ? -1 : i % 4, ping, &sp->pairs[i]);
  }
  ck_assert_int_eq(relay_run(sp->r, NULL), 0);
  await_all(ts, 4 * PAIRS);
  return 0;
}

START_TEST(workers_racing_each_others_sections_lose_nothing) {
  weft__owner_rearm_min_ms = 0;
  weft_loop_t *loop = make_loop(4);
  struct relay r = {.n = scaled(200)};
  struct spread sp = {.r = &r};
  ck_assert_int_eq(sem_init(&r.go, 0, 0), 0);
  ck_assert_int_eq(pthread_create(&r.th, NULL, relay_main, &r), 0);
  ck_assert_int_eq(weft_loop_run_task(loop, spread_run, &sp, NULL), 0);
  ck_assert_int_eq(pthread_join(r.th, NULL), 0);
  uint64_t n = revocations(loop);
  ck_assert(expected_on() ? n >= 1 : n == 0);
  sem_destroy(&r.go);
  close_clean(loop);
  weft__owner_rearm_min_ms = WEFT__OWNER_REARM_MIN_MS;
}
END_TEST

/* ---- wake-ups from other threads (runtime/taskstate.h) ------------------ */

/* The relay again, with futures of another loop (never run), so that the
 * foreign thread touches none of ours: its completions reach our task
 * only as wake-ups from another thread, which take the task's future lock
 * and revoke the sections the worker moves task states in (without that,
 * nothing revokes: relay_through's count fails). */
START_TEST(foreign_wakes_racing_rearms_lose_nothing) {
  weft_loop_t *loop = make_loop(1), *away = make_loop(1);
  relay_through(loop, away);
  ck_assert_uint_eq(revocations(away), 0);
  close_clean(loop);
  close_clean(away);
}
END_TEST

/* Two one-worker loops, each completing in a section (hold 0: armed again
 * by the time) a future that a task of the other one awaits, both at
 * once, round after round. A completion wakes the other loop's task from
 * outside, which may revoke that loop's sections and wait for one in
 * progress: were it done inside the completer's own section, each loop
 * could wait for the other's section to end (taskstate.h). */
struct crossing {
  sem_t published[2], waiting[2];
  weft_future_t *_Atomic slot[2];
  weft_loop_t *loop[2];
  long rounds;
};

struct side {
  struct crossing *c;
  int me;
  weft_future_t *mine;
};

/* Runs once our side's task waits on the other's future (FIFO). */
static int post_our_wait(void *arg, void **res) {
  struct side *sd = arg;
  sem_post(&sd->c->waiting[sd->me]);
  return 0;
}

/* Completes our future once the other side's task waits on it and our
 * sections are armed again (the other's wait revoked them). */
static int complete_when_awaited(void *arg, void **res) {
  struct side *sd = arg;
  while (sem_wait(&sd->c->waiting[1 - sd->me]) != 0) {
  }
  for (int i = 0; i < 3; i++) ck_assert_int_eq(weft_yield(), 0); /* passes: armed again */
  return weft_future_set_result(sd->mine, (void *)(uintptr_t)7);
}

static int cross_side(void *arg, void **res) {
  struct side *sd = arg;
  struct crossing *c = sd->c;
  for (long i = 0; i < c->rounds; i++) {
    ck_assert_int_eq(weft_future_new(NULL, &sd->mine), 0);
    atomic_store(&c->slot[sd->me], weft_future_ref(sd->mine)); /* the other side's */
    sem_post(&c->published[sd->me]);
    while (sem_wait(&c->published[1 - sd->me]) != 0) {
    }
    weft_future_t *theirs = atomic_exchange(&c->slot[1 - sd->me], NULL);
    weft_task_t *h[2];
    ck_assert_int_eq(weft_spawn(post_our_wait, sd, &h[0]), 0);
    ck_assert_int_eq(weft_spawn(complete_when_awaited, sd, &h[1]), 0);
    void *v = NULL;
    ck_assert_int_eq(weft_await(theirs, &v), 0);
    ck_assert_ptr_eq(v, (void *)(uintptr_t)7);
    weft_future_release(theirs);
    for (int k = 0; k < 2; k++) {
      ck_assert_int_eq(weft_await(weft_task_future(h[k]), NULL), 0);
      weft_task_release(h[k]);
    }
    weft_future_release(sd->mine);
  }
  return 0;
}

static void *cross_loop_main(void *arg) {
  struct side *sd = arg;
  ck_assert_int_eq(weft_loop_run_task(sd->c->loop[sd->me], cross_side, sd, NULL), 0);
  return NULL;
}

START_TEST(two_loops_waking_each_other_from_sections) {
  weft__owner_rearm_min_ms = 0;
  struct crossing c = {.rounds = scaled(1000)};
  struct side sides[2];
  pthread_t th[2];
  for (int k = 0; k < 2; k++) {
    c.loop[k] = make_loop(1);
    ck_assert_int_eq(sem_init(&c.published[k], 0, 0), 0);
    ck_assert_int_eq(sem_init(&c.waiting[k], 0, 0), 0);
    sides[k] = (struct side){.c = &c, .me = k};
  }
  for (int k = 0; k < 2; k++) ck_assert_int_eq(pthread_create(&th[k], NULL, cross_loop_main, &sides[k]), 0);
  for (int k = 0; k < 2; k++) ck_assert_int_eq(pthread_join(th[k], NULL), 0);
  for (int k = 0; k < 2; k++) {
    sem_destroy(&c.published[k]);
    sem_destroy(&c.waiting[k]);
    close_clean(c.loop[k]);
  }
  weft__owner_rearm_min_ms = WEFT__OWNER_REARM_MIN_MS;
}
END_TEST

/* The dump, from another thread, holds suspended tasks still (task.h) by
 * moving their state, which that thread does under each task's future
 * lock while the worker moves states in sections (taskstate.h). */
struct dumper {
  pthread_t th;
  weft_loop_t *loop;
  sem_t first;
  atomic_bool stop;
  long dumps;
};

static void *dumper_main(void *arg) {
  struct dumper *d = arg;
  int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  ck_assert_int_ge(fd, 0);
  do {
    ck_assert_int_eq(weft_loop_dump(d->loop, fd, d->dumps % 2 ? WEFT_DUMP_JSON : WEFT_DUMP_TEXT), 0);
    if (d->dumps++ == 0) sem_post(&d->first);
  } while (!atomic_load(&d->stop));
  close(fd);
  return NULL;
}

static int dumped_run(void *arg, void **res) {
  struct dumper *d = arg;
  struct pp pairs[PAIRS];
  weft_task_t *ts[2 * PAIRS];
  spawn_pairs(pairs, ts, scaled(20000));
  ck_assert_int_eq(pthread_create(&d->th, NULL, dumper_main, d), 0);
  ck_assert_int_eq(weft_yield(), 0); /* the pairs suspended: the dump finds them so */
  while (sem_wait(&d->first) != 0) {
  }
  await_all(ts, 2 * PAIRS);
  return 0;
}

START_TEST(a_foreign_dump_racing_sections_loses_nothing) {
  weft__owner_rearm_min_ms = 0;
  struct dumper d = {.loop = make_loop(1)};
  ck_assert_int_eq(sem_init(&d.first, 0, 0), 0);
  ck_assert_int_eq(weft_loop_run_task(d.loop, dumped_run, &d, NULL), 0);
  atomic_store(&d.stop, true);
  ck_assert_int_eq(pthread_join(d.th, NULL), 0);
  ck_assert_int_ge(d.dumps, 1);
  sem_destroy(&d.first);
  close_clean(d.loop);
  weft__owner_rearm_min_ms = WEFT__OWNER_REARM_MIN_MS;
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("owner");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, sections_are_on_while_one_worker_runs);
  tcase_add_test(tc, each_worker_arms_its_own_sections);
  tcase_add_test(tc, another_worker_revokes_a_futures_sections);
  tcase_add_test(tc, workers_racing_each_others_sections_lose_nothing);
  tcase_add_test(tc, to_thread_completes_on_the_worker);
  tcase_add_test(tc, a_section_completion_wakes_a_task_of_another_loop);
  tcase_add_test(tc, a_foreign_completion_revokes_sections_for_a_hold);
  tcase_add_test(tc, the_hold_doubles_while_revocations_keep_coming);
  tcase_add_test(tc, foreign_threads_racing_sections_lose_nothing);
  tcase_add_test(tc, foreign_threads_racing_rearms_lose_nothing);
  tcase_add_test(tc, foreign_wakes_racing_rearms_lose_nothing);
  tcase_add_test(tc, two_loops_waking_each_other_from_sections);
  tcase_add_test(tc, a_foreign_dump_racing_sections_loses_nothing);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
