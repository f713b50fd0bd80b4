/*
 * test_home.c - sync/home.c: a Lock, Semaphore or ring Queue is bound to the one-worker
 * loop whose task first changes it (whose worker then takes and gives it
 * back in owner sections), every other thread unbinds it for good and
 * revokes that loop's sections before touching it, a primitive outlives
 * the loop it was bound to, and threads racing the sections lose no
 * increment (TSan checks the hand-over of what the sections wrote).
 */
#include "helpers.h"
#include "home.h"
#include "loop.h"
#include "membarrier.h"

#include <pthread.h>
#include <sched.h>
#include <semaphore.h>

static struct weft__owner *record_of(weft_loop_t *loop) { return ((struct weft_loop *)loop)->owner; }

static struct weft__owner *lock_rec(weft_lock_t *l) {
  return atomic_load(&weft__lock_home(l)->rec);
}

static struct weft__owner *sem_rec(weft_sem_t *s) { return atomic_load(&weft__sem_home(s)->rec); }

static struct weft__owner *queue_rec(weft_queue_t *q) {
  return atomic_load(&weft__queue_home(q)->rec);
}

/* A new loop of @workers that has run @fn(@arg) once, successfully. */
static weft_loop_t *run_new(unsigned workers, weft_task_fn fn, void *arg) {
  weft_loop_t *loop = make_loop(workers);
  ck_assert_int_eq(weft_loop_run_task(loop, fn, arg, NULL), 0);
  return loop;
}

static bool sections_on(weft_loop_t *loop) {
  return atomic_load(&record_of(loop)->on) == WEFT__OWNER_ON;
}

/* ---- binding ---------------------------------------------------------------- */

struct prims {
  weft_lock_t *lock;
  weft_sem_t *sem;
  weft_queue_t *queue; /* a ring (maxsize 4) */
};

/* Changes the primitives twice (binding at the first change) and checks
 * what they say. */
static int use_both(void *arg, void **res) {
  struct prims *p = arg;
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(weft_lock_acquire(p->lock, -1), 0);
    ck_assert_int_eq(weft_lock_locked(p->lock), 1);
    ck_assert_int_eq(weft_lock_try_acquire(p->lock), -EAGAIN);
    ck_assert_int_eq(weft_lock_release(p->lock), 0);
    ck_assert_int_eq(weft_lock_locked(p->lock), 0);
    ck_assert_int_eq(weft_lock_release(p->lock), WEFT_EINVALSTATE);
    ck_assert_int_eq(weft_sem_acquire(p->sem, -1), 0);
    ck_assert_int_eq(weft_sem_try_acquire(p->sem), 0);
    ck_assert_int_eq(weft_sem_try_acquire(p->sem), -EAGAIN);
    ck_assert_int_eq(weft_sem_value(p->sem), 0);
    ck_assert_int_eq(weft_sem_release(p->sem), 0);
    ck_assert_int_eq(weft_sem_release(p->sem), 0);
    ck_assert_int_eq(weft_sem_release(p->sem), -EOVERFLOW); /* bounded at 2 */
    ck_assert_int_eq(weft_sem_value(p->sem), 2);
    ck_assert_int_eq(weft_queue_put(p->queue, (void *)1, -1), 0);
    ck_assert_int_eq(weft_queue_put_nowait(p->queue, (void *)2), 0);
    void *v = NULL;
    ck_assert_int_eq(weft_queue_get(p->queue, &v, -1), 0);
    ck_assert_ptr_eq(v, (void *)1);
    ck_assert_int_eq(weft_queue_get_nowait(p->queue, &v), 0);
    ck_assert_ptr_eq(v, (void *)2);
    ck_assert_int_eq(weft_queue_get_nowait(p->queue, &v), -EAGAIN);
  }
  return 0;
}

static void make_prims(struct prims *p) {
  ck_assert_int_eq(weft_lock_create(&p->lock), 0);
  ck_assert_int_eq(weft_sem_create(2, 1, &p->sem), 0);
  ck_assert_int_eq(weft_queue_create(WEFT_QUEUE_FIFO, 4, NULL, &p->queue), 0);
  ck_assert_ptr_null(lock_rec(p->lock));
  ck_assert_ptr_null(sem_rec(p->sem));
  ck_assert_ptr_null(queue_rec(p->queue));
}

static void destroy_prims(struct prims *p) {
  ck_assert_int_eq(weft_lock_destroy(p->lock), 0);
  ck_assert_int_eq(weft_sem_destroy(p->sem), 0);
  ck_assert_int_eq(weft_queue_destroy(p->queue), 0);
}

START_TEST(a_primitive_binds_to_its_one_worker_loop) {
  struct prims p;
  make_prims(&p);
  weft_loop_t *loop = run_new(1, use_both, &p);
  ck_assert_ptr_eq(lock_rec(p.lock), record_of(loop));
  ck_assert_ptr_eq(sem_rec(p.sem), record_of(loop));
  ck_assert_ptr_eq(queue_rec(p.queue), record_of(loop));
  /* A second run uses the binding as it is. */
  ck_assert_int_eq(weft_loop_run_task(loop, use_both, &p, NULL), 0);
  ck_assert_ptr_eq(lock_rec(p.lock), record_of(loop));
  ck_assert_ptr_eq(sem_rec(p.sem), record_of(loop));
  close_clean(loop);
  destroy_prims(&p);
}
END_TEST

START_TEST(with_two_workers_a_primitive_is_shared) {
  struct prims p;
  make_prims(&p);
  weft_loop_t *loop = run_new(2, use_both, &p);
  ck_assert_ptr_eq(lock_rec(p.lock), WEFT__HOME_SHARED);
  ck_assert_ptr_eq(sem_rec(p.sem), WEFT__HOME_SHARED);
  ck_assert_ptr_eq(queue_rec(p.queue), WEFT__HOME_SHARED);
  close_clean(loop);
  destroy_prims(&p);
}
END_TEST

/* A thread that is no worker: the first change it makes marks the
 * semaphore shared, so that no binding can come between its look and its
 * atomic operation. */
START_TEST(a_foreign_thread_marks_an_unbound_primitive_shared) {
  weft_sem_t *s = NULL;
  ck_assert_int_eq(weft_sem_create(1, 0, &s), 0);
  ck_assert_int_eq(weft_sem_try_acquire(s), 0);
  ck_assert_ptr_eq(sem_rec(s), WEFT__HOME_SHARED);
  ck_assert_int_eq(weft_sem_release(s), 0);
  ck_assert_int_eq(weft_sem_destroy(s), 0);
  /* A look changes nothing and marks nothing. */
  ck_assert_int_eq(weft_sem_create(1, 0, &s), 0);
  ck_assert_int_eq(weft_sem_value(s), 1);
  ck_assert_ptr_null(sem_rec(s));
  ck_assert_int_eq(weft_sem_destroy(s), 0);
}
END_TEST

/* ---- another thread unbinds and revokes --------------------------------- */

struct other_loop {
  pthread_t th;
  weft_task_fn fn;
  void *arg;
  int rc;
};

static void *other_loop_main(void *arg) {
  struct other_loop *o = arg;
  weft_loop_t *loop = NULL;
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 1;
  o->rc = weft_loop_new(&cfg, &loop);
  if (o->rc == 0) o->rc = weft_loop_run_task(loop, o->fn, o->arg, NULL);
  if (loop) (void)weft_loop_close(loop);
  return NULL;
}

/* Another loop's task takes and gives back the lock and the semaphore. */
static int lock_and_sem_once(void *arg, void **res) {
  struct prims *p = arg;
  int rc = weft_lock_acquire(p->lock, -1);
  if (rc || (rc = weft_lock_release(p->lock))) return rc;
  rc = weft_sem_acquire(p->sem, -1);
  return rc ? rc : weft_sem_release(p->sem);
}

static void *release_foreign(void *arg) { return (void *)(intptr_t)weft_sem_release(arg); }

static void *put_foreign(void *arg) {
  return (void *)(intptr_t)weft_queue_put_threadsafe(arg, (void *)3, -1);
}

/* Binds them, then has another loop's task take the lock and the semaphore and a plain
 * thread put into the queue, while this run goes on (the worker blocks in
 * the joins: nothing else is ready). */
static int others_unbind(void *arg, void **res) {
  struct prims *p = arg;
  weft_loop_t *loop = weft_loop_current();
  ck_assert_int_eq(use_both(p, NULL), 0);
  ck_assert_ptr_eq(lock_rec(p->lock), record_of(loop));
  ck_assert_ptr_eq(sem_rec(p->sem), record_of(loop));
  ck_assert_ptr_eq(queue_rec(p->queue), record_of(loop));
  ck_assert(sections_on(loop) == weft__membarrier_available());

  struct other_loop o = {.fn = lock_and_sem_once, .arg = p, .rc = -1};
  ck_assert_int_eq(pthread_create(&o.th, NULL, other_loop_main, &o), 0);
  ck_assert_int_eq(pthread_join(o.th, NULL), 0);
  ck_assert_int_eq(o.rc, 0);
  ck_assert_ptr_eq(lock_rec(p->lock), WEFT__HOME_SHARED);
  ck_assert_ptr_eq(sem_rec(p->sem), WEFT__HOME_SHARED);
  ck_assert(!sections_on(loop)); /* revoked (no pass since: not armed again yet) */

  pthread_t th;
  void *rc = (void *)1;
  ck_assert_int_eq(pthread_create(&th, NULL, put_foreign, p->queue), 0);
  ck_assert_int_eq(pthread_join(th, &rc), 0);
  ck_assert_ptr_eq(rc, NULL);
  ck_assert_ptr_eq(queue_rec(p->queue), WEFT__HOME_SHARED);
  void *v = NULL;
  ck_assert_int_eq(weft_queue_get(p->queue, &v, -1), 0);
  ck_assert_ptr_eq(v, (void *)3);
  ck_assert_int_eq(weft_sem_value(p->sem), 2);
  /* Both work on, on the atomic paths. */
  return use_both(p, NULL);
}

START_TEST(another_thread_unbinds_a_primitive_for_good) {
  struct prims p;
  make_prims(&p);
  weft_loop_t *loop = run_new(1, others_unbind, &p);
  /* The next run has sections again, but not on these two. */
  ck_assert_int_eq(weft_loop_run_task(loop, use_both, &p, NULL), 0);
  ck_assert_ptr_eq(lock_rec(p.lock), WEFT__HOME_SHARED);
  ck_assert_ptr_eq(sem_rec(p.sem), WEFT__HOME_SHARED);
  ck_assert_ptr_eq(queue_rec(p.queue), WEFT__HOME_SHARED);
  close_clean(loop);
  destroy_prims(&p);
}
END_TEST

/* A section given up (a get from the empty ring: the section only takes
 * published items; a try on a held lock: it only takes free ones) ends
 * before the task goes on: a revocation right after it does not wait for
 * ever. */
static int give_up_then_revoke(void *arg, void **res) {
  struct prims *p = arg;
  weft_loop_t *loop = weft_loop_current();
  ck_assert_int_eq(use_both(p, NULL), 0);
  ck_assert_int_eq(weft_lock_acquire(p->lock, -1), 0);
  void *v = NULL;
  ck_assert_int_eq(weft_queue_get_nowait(p->queue, &v), -EAGAIN); /* given up */
  ck_assert_int_eq(weft_lock_try_acquire(p->lock), -EAGAIN);        /* given up */
  pthread_t th;
  void *rc = (void *)1;
  ck_assert_int_eq(pthread_create(&th, NULL, release_foreign, p->sem), 0);
  ck_assert_int_eq(pthread_join(th, &rc), 0); /* its revocation waits for no section */
  ck_assert_ptr_eq(rc, (void *)(intptr_t)-EOVERFLOW); /* bounded at 2, both free */
  ck_assert(!sections_on(loop));
  ck_assert_int_eq(weft_lock_release(p->lock), 0);
  return 0;
}

START_TEST(a_given_up_section_does_not_hold_up_a_revocation) {
  struct prims p;
  make_prims(&p);
  weft_loop_t *loop = run_new(1, give_up_then_revoke, &p);
  close_clean(loop);
  destroy_prims(&p);
}
END_TEST

/* ---- a primitive outlives its loop --------------------------------------- */

START_TEST(a_primitive_outlives_the_loop_it_was_bound_to) {
  struct prims p;
  make_prims(&p);
  weft_loop_t *loop = run_new(1, use_both, &p);
  struct weft__owner *first = record_of(loop);
  close_clean(loop);
  /* Its record lives on (owner.h, invariant 5): a new one-worker loop may
   * get it back (and then takes sections on them) or another one (and
   * then unbinds them); a loop of two workers unbinds them. */
  loop = run_new(1, use_both, &p);
  ck_assert_ptr_eq(lock_rec(p.lock), record_of(loop) == first ? first : WEFT__HOME_SHARED);
  ck_assert_ptr_eq(sem_rec(p.sem), record_of(loop) == first ? first : WEFT__HOME_SHARED);
  ck_assert_ptr_eq(queue_rec(p.queue), record_of(loop) == first ? first : WEFT__HOME_SHARED);
  close_clean(loop);
  loop = run_new(2, use_both, &p);
  ck_assert_ptr_eq(lock_rec(p.lock), WEFT__HOME_SHARED);
  ck_assert_ptr_eq(sem_rec(p.sem), WEFT__HOME_SHARED);
  ck_assert_ptr_eq(queue_rec(p.queue), WEFT__HOME_SHARED);
  close_clean(loop);
  destroy_prims(&p);
}
END_TEST

/* ---- racing the sections loses nothing ------------------------------------ */

enum { TASKS = 4, INCREMENTS = 1000 };

struct race {
  weft_lock_t *lock;
  weft_sem_t *sem; /* of 1: a second mutex, taken by a plain thread too */
  long by_lock, by_sem; /* plain counters, each under its primitive */
  long plain_got;       /* the plain thread's successful tries */
  sem_t started;        /* posted once this loop's first task bound them */
  sem_t other_running;  /* posted by the other loop's first task */
  unsigned jitter;
};

/* Increments both counters under their primitives, now and then holding
 * one across a yield (so others queue: the paths under the mutex). */
static int incrementer(void *arg, void **res) {
  struct race *r = arg;
  for (int i = 0; i < INCREMENTS; i++) {
    ck_assert_int_eq(weft_lock_acquire(r->lock, -1), 0);
    r->by_lock++;
    if (i % 16 == 0) ck_assert_int_eq(weft_yield(), 0);
    ck_assert_int_eq(weft_lock_release(r->lock), 0);
    ck_assert_int_eq(weft_sem_acquire(r->sem, -1), 0);
    r->by_sem++;
    if (i % 16 == 8) ck_assert_int_eq(weft_yield(), 0);
    ck_assert_int_eq(weft_sem_release(r->sem), 0);
  }
  return 0;
}

static int incrementers(void *arg, void **res) {
  struct race *r = arg;
  weft_task_t *ts[TASKS];
  for (int i = 0; i < TASKS; i++) ck_assert_int_eq(weft_spawn(incrementer, r, &ts[i]), 0);
  for (int i = 0; i < TASKS; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  return 0;
}

/* The first run's main task: binds both, lets the others start, then
 * races them. */
static int binder(void *arg, void **res) {
  struct race *r = arg;
  ck_assert_int_eq(weft_lock_acquire(r->lock, -1), 0);
  r->by_lock++;
  ck_assert_int_eq(weft_lock_release(r->lock), 0);
  ck_assert_int_eq(weft_sem_acquire(r->sem, -1), 0);
  r->by_sem++;
  ck_assert_int_eq(weft_sem_release(r->sem), 0);
  sem_post(&r->started);
  sem_post(&r->started);
  /* Blocks the worker (nothing else is ready) until the other loop runs,
   * so that the two overlap. */
  while (sem_wait(&r->other_running) != 0) {
  }
  return incrementers(r, NULL);
}

/* The other loop's first touch comes a varying while after the binder's
 * loop began incrementing in sections. */
static int other_first(void *arg, void **res) {
  struct race *r = arg;
  sem_post(&r->other_running);
  for (unsigned i = 0; i < r->jitter; i++) sched_yield();
  return incrementers(r, NULL);
}

/* On a plain thread: once @started is posted and @jitter yields later,
 * runs @fn(@arg) on a one-worker loop of its own; its error code. */
static void *other_loop_after(sem_t *started, unsigned jitter, weft_task_fn fn, void *arg) {
  while (sem_wait(started) != 0) {
  }
  for (unsigned i = 0; i < jitter; i++) sched_yield();
  struct other_loop o = {.fn = fn, .arg = arg, .rc = -1};
  other_loop_main(&o);
  return (void *)(intptr_t)o.rc;
}

static void *other_side(void *arg) {
  struct race *r = arg;
  return other_loop_after(&r->started, 0, other_first, r);
}

/* A plain thread trying the semaphore (no task: it cannot wait) a fixed
 * number of times, incrementing when it got it, and giving it back. */
static void *plain_side(void *arg) {
  struct race *r = arg;
  while (sem_wait(&r->started) != 0) {
  }
  for (unsigned i = 0; i < r->jitter % 5; i++) sched_yield();
  for (int i = 0; i < INCREMENTS; i++) {
    int rc = weft_sem_try_acquire(r->sem);
    if (rc == -EAGAIN) continue;
    if (rc) return (void *)(intptr_t)rc;
    r->by_sem++;
    r->plain_got++;
    if ((rc = weft_sem_release(r->sem))) return (void *)(intptr_t)rc;
  }
  return NULL;
}

/* One race: @a and @b on plain threads, @main on a new one-worker loop
 * (returned, for the caller to close after its checks); both threads
 * must end with NULL. */
static weft_loop_t *race_once(void *(*a)(void *), void *(*b)(void *), weft_task_fn main, void *arg) {
  pthread_t ta, tb;
  ck_assert_int_eq(pthread_create(&ta, NULL, a, arg), 0);
  ck_assert_int_eq(pthread_create(&tb, NULL, b, arg), 0);
  weft_loop_t *loop = run_new(1, main, arg);
  void *ra = (void *)1, *rb = (void *)1;
  ck_assert_int_eq(pthread_join(ta, &ra), 0);
  ck_assert_int_eq(pthread_join(tb, &rb), 0);
  ck_assert_ptr_null(ra);
  ck_assert_ptr_null(rb);
  return loop;
}

START_TEST(threads_racing_sections_lose_no_increment) {
  long runs = scaled(60);
  for (long run = 0; run < runs; run++) {
    struct race r = {.by_lock = 0, .by_sem = 0, .plain_got = 0, .jitter = (unsigned)(run * 7 % 53)};
    ck_assert_int_eq(weft_lock_create(&r.lock), 0);
    ck_assert_int_eq(weft_sem_create(1, 1, &r.sem), 0);
    ck_assert_int_eq(sem_init(&r.started, 0, 0), 0);
    ck_assert_int_eq(sem_init(&r.other_running, 0, 0), 0);
    weft_loop_t *loop = race_once(other_side, plain_side, binder, &r);
    ck_assert_int_eq(r.by_lock, 1 + 2L * TASKS * INCREMENTS);
    ck_assert_int_eq(r.by_sem, 1 + 2L * TASKS * INCREMENTS + r.plain_got);
    ck_assert_int_eq(weft_sem_value(r.sem), 1);
    close_clean(loop);
    sem_destroy(&r.started);
    sem_destroy(&r.other_running);
    ck_assert_int_eq(weft_lock_destroy(r.lock), 0);
    ck_assert_int_eq(weft_sem_destroy(r.sem), 0);
  }
}
END_TEST

/* ---- queues ------------------------------------------------------------------ */

/* Puts and gets on @arg (a queue of 4): a getter that waits is woken by a
 * put, a putter that waits by a get (both from sections on one worker). */
static int getter(void *arg, void **res) {
  long sum = 0;
  for (int i = 0; i < 100; i++) {
    void *v = NULL;
    ck_assert_int_eq(weft_queue_get(arg, &v, -1), 0);
    sum += (long)(intptr_t)v;
  }
  *res = (void *)(intptr_t)sum;
  return 0;
}

static int queue_user(void *arg, void **res) {
  weft_queue_t *q = arg;
  weft_task_t *g = NULL;
  ck_assert_int_eq(weft_spawn(getter, q, &g), 0);
  ck_assert_int_eq(weft_yield(), 0); /* the getter waits on the empty queue */
  for (int i = 1; i <= 100; i++) ck_assert_int_eq(weft_queue_put(q, (void *)(intptr_t)i, -1), 0);
  void *sum = NULL;
  ck_assert_int_eq(weft_await(weft_task_future(g), &sum), 0);
  weft_task_release(g);
  ck_assert_int_eq((long)(intptr_t)sum, 5050);
  ck_assert_int_eq(weft_queue_put_nowait(q, (void *)1), 0);
  void *v = NULL;
  ck_assert_int_eq(weft_queue_get_nowait(q, &v), 0);
  ck_assert_int_eq(weft_queue_get_nowait(q, &v), -EAGAIN);
  return 0;
}

START_TEST(a_ring_queue_binds_to_its_one_worker_loop) {
  weft_queue_t *q = NULL, *unbounded = NULL;
  ck_assert_int_eq(weft_queue_create(WEFT_QUEUE_FIFO, 4, NULL, &q), 0);
  ck_assert_int_eq(weft_queue_create(WEFT_QUEUE_FIFO, 0, NULL, &unbounded), 0);
  weft_loop_t *loop = run_new(1, queue_user, q);
  ck_assert_ptr_eq(queue_rec(q), record_of(loop));
  ck_assert_int_eq(weft_loop_run_task(loop, queue_user, unbounded, NULL), 0);
  ck_assert_ptr_null(queue_rec(unbounded)); /* no ring: everything under its mutex */
  close_clean(loop);
  loop = run_new(2, queue_user, q);
  ck_assert_ptr_eq(queue_rec(q), WEFT__HOME_SHARED);
  close_clean(loop);
  ck_assert_int_eq(weft_queue_destroy(q), 0);
  ck_assert_int_eq(weft_queue_destroy(unbounded), 0);
}
END_TEST

static void *get_foreign(void *arg) {
  void *v = NULL;
  int rc = weft_queue_get_threadsafe(arg, &v, -1);
  return rc ? (void *)(intptr_t)rc : v;
}

static void *shutdown_foreign(void *arg) { return (void *)(intptr_t)weft_queue_shutdown(arg, 0); }

/* Binds the queue, then a plain thread waits for an item (unbinding it and
 * revoking this run's sections), which a put from here wakes; then a plain
 * thread's shutdown. */
static int queue_then_foreign(void *arg, void **res) {
  weft_queue_t *q = arg;
  weft_loop_t *loop = weft_loop_current();
  ck_assert_int_eq(queue_user(q, NULL), 0);
  ck_assert_ptr_eq(queue_rec(q), record_of(loop));
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, get_foreign, q), 0);
  /* It may take the item as soon as it is there, or wait for it first. */
  ck_assert_int_eq(weft_queue_put(q, (void *)(intptr_t)77, -1), 0);
  void *v = NULL;
  ck_assert_int_eq(pthread_join(th, &v), 0);
  ck_assert_ptr_eq(v, (void *)(intptr_t)77);
  ck_assert_ptr_eq(queue_rec(q), WEFT__HOME_SHARED);
  ck_assert(!sections_on(loop));
  ck_assert_int_eq(queue_user(q, NULL), 0); /* on the atomic paths */
  ck_assert_int_eq(pthread_create(&th, NULL, shutdown_foreign, q), 0);
  ck_assert_int_eq(pthread_join(th, &v), 0);
  ck_assert_ptr_null(v);
  ck_assert_int_eq(weft_queue_put(q, NULL, -1), WEFT_ESHUTDOWN);
  return 0;
}

/* Runs @fn on a one-worker loop with a new ring queue of 4. */
static void run_with_queue(weft_task_fn fn) {
  weft_queue_t *q = NULL;
  ck_assert_int_eq(weft_queue_create(WEFT_QUEUE_FIFO, 4, NULL, &q), 0);
  weft_loop_t *loop = run_new(1, fn, q);
  close_clean(loop);
  ck_assert_int_eq(weft_queue_destroy(q), 0);
}

START_TEST(a_foreign_thread_unbinds_a_queue) { run_with_queue(queue_then_foreign); }
END_TEST

/* A shutdown from a plain thread settles first too: a queue bound to a
 * running loop is unbound by it. */
static int bind_then_foreign_shutdown(void *arg, void **res) {
  weft_queue_t *q = arg;
  ck_assert_int_eq(weft_queue_put_nowait(q, (void *)1), 0);
  ck_assert_ptr_eq(queue_rec(q), record_of(weft_loop_current()));
  pthread_t th;
  void *v = (void *)1;
  ck_assert_int_eq(pthread_create(&th, NULL, shutdown_foreign, q), 0);
  ck_assert_int_eq(pthread_join(th, &v), 0);
  ck_assert_ptr_null(v);
  ck_assert_ptr_eq(queue_rec(q), WEFT__HOME_SHARED);
  ck_assert(!sections_on(weft_loop_current()));
  ck_assert_int_eq(weft_queue_put_nowait(q, (void *)2), WEFT_ESHUTDOWN);
  ck_assert_int_eq(weft_queue_get_nowait(q, &v), 0); /* drained after a graceful shutdown */
  ck_assert_ptr_eq(v, (void *)1);
  ck_assert_int_eq(weft_queue_get_nowait(q, &v), WEFT_ESHUTDOWN);
  return 0;
}

START_TEST(a_foreign_shutdown_unbinds_a_queue) { run_with_queue(bind_then_foreign_shutdown); }
END_TEST

/* Producers on a one-worker loop (binding the queue), consumers on another
 * loop and on a plain thread, joining at varying moments: every item
 * arrives once. */
enum { QITEMS = 2000, QPRODUCERS = 2 };

struct qrace {
  weft_queue_t *q;
  sem_t started;
  unsigned jitter;
  _Atomic long sum, got;
};

static int qproducer(void *arg, void **res) {
  struct qrace *r = arg;
  for (long i = 1; i <= QITEMS; i++) ck_assert_int_eq(weft_queue_put(r->q, (void *)(intptr_t)i, -1), 0);
  return 0;
}

static int qproducers(void *arg, void **res) {
  struct qrace *r = arg;
  ck_assert_int_eq(weft_queue_put(r->q, (void *)(intptr_t)0, -1), 0); /* binds it */
  sem_post(&r->started);
  sem_post(&r->started);
  weft_task_t *ts[QPRODUCERS];
  for (int i = 0; i < QPRODUCERS; i++) ck_assert_int_eq(weft_spawn(qproducer, r, &ts[i]), 0);
  for (int i = 0; i < QPRODUCERS; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  /* One end mark per consumer (value -1). */
  ck_assert_int_eq(weft_queue_put(r->q, (void *)(intptr_t)-1, -1), 0);
  ck_assert_int_eq(weft_queue_put(r->q, (void *)(intptr_t)-1, -1), 0);
  return 0;
}

static void consume(struct qrace *r, int (*get)(weft_queue_t *, void **, int64_t)) {
  for (;;) {
    void *v = NULL;
    ck_assert_int_eq(get(r->q, &v, -1), 0);
    long x = (long)(intptr_t)v;
    if (x < 0) return;
    atomic_fetch_add(&r->sum, x);
    atomic_fetch_add(&r->got, 1);
  }
}

static int qconsumer(void *arg, void **res) {
  consume(arg, weft_queue_get);
  return 0;
}

static void *qloop_side(void *arg) {
  struct qrace *r = arg;
  return other_loop_after(&r->started, r->jitter, qconsumer, r);
}

static void *qplain_side(void *arg) {
  struct qrace *r = arg;
  while (sem_wait(&r->started) != 0) {
  }
  consume(r, weft_queue_get_threadsafe);
  return NULL;
}

START_TEST(threads_racing_a_queue_lose_no_item) {
  long runs = scaled(40);
  for (long run = 0; run < runs; run++) {
    struct qrace r = {.jitter = (unsigned)(run * 7 % 53)};
    atomic_init(&r.sum, 0);
    atomic_init(&r.got, 0);
    ck_assert_int_eq(weft_queue_create(WEFT_QUEUE_FIFO, 16, NULL, &r.q), 0);
    ck_assert_int_eq(sem_init(&r.started, 0, 0), 0);
    weft_loop_t *loop = race_once(qloop_side, qplain_side, qproducers, &r);
    ck_assert_int_eq(atomic_load(&r.got), 1 + (long)QPRODUCERS * QITEMS);
    ck_assert_int_eq(atomic_load(&r.sum), (long)QPRODUCERS * QITEMS * (QITEMS + 1) / 2);
    ck_assert_int_eq(weft_queue_qsize(r.q), 0);
    close_clean(loop);
    sem_destroy(&r.started);
    ck_assert_int_eq(weft_queue_destroy(r.q), 0);
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("home");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, a_primitive_binds_to_its_one_worker_loop);
  tcase_add_test(tc, with_two_workers_a_primitive_is_shared);
  tcase_add_test(tc, a_foreign_thread_marks_an_unbound_primitive_shared);
  tcase_add_test(tc, another_thread_unbinds_a_primitive_for_good);
  tcase_add_test(tc, a_given_up_section_does_not_hold_up_a_revocation);
  tcase_add_test(tc, a_primitive_outlives_the_loop_it_was_bound_to);
  tcase_add_test(tc, threads_racing_sections_lose_no_increment);
  tcase_add_test(tc, a_ring_queue_binds_to_its_one_worker_loop);
  tcase_add_test(tc, a_foreign_thread_unbinds_a_queue);
  tcase_add_test(tc, a_foreign_shutdown_unbinds_a_queue);
  tcase_add_test(tc, threads_racing_a_queue_lose_no_item);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
