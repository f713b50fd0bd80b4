/*
 * test_waitlist.c - sync/waitlist.c, the wait queue under every sync
 * primitive: FIFO grants, a waiter that leaves by timeout or cancellation
 * unqueues itself, foreign threads wait too, and who may wait at all.
 */
#include "helpers.h"
#include "mutex.h"
#include "futex.h"
#include "waitlist.h"

#include <errno.h>
#include <pthread.h>

static struct weft__mutex m;
static struct weft__waitlist wl;
static weft_event_t *queued; /* set each time a waiter is queued */

struct waiter_arg {
  int id;
  int rc;
  void *got; /* the value the waker handed over */
};

static int waiter(void *arg, void **res) {
  (void)res;
  struct waiter_arg *a = arg;
  struct weft__waiter_node w;
  weft__mutex_lock(&m);
  weft_event_set(queued); /* queued once we drop m inside wl_wait */
  a->rc = weft__wl_wait(&m, &wl, &w, WEFT__WAIT_TASK, 0);
  if (a->rc == 0) a->got = w.value;
  weft__mutex_unlock(&m);
  return 0;
}

/* Spawns waiter @a and returns once it is queued. */
static weft_task_t *queue_waiter(struct waiter_arg *a) {
  weft_task_t *t;
  ck_assert_int_eq(weft_event_clear(queued), 0);
  ck_assert_int_eq(weft_spawn(waiter, a, &t), 0);
  ck_assert_int_eq(weft_event_wait(queued, -1), 0);
  /* It set the event holding m; taking m here means it is in the list. */
  weft__mutex_lock(&m);
  weft__mutex_unlock(&m);
  return t;
}

static int fifo_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  weft__mutex_init(&m);
  weft__wl_init(&wl);
  ck_assert_int_eq(weft_event_create(&queued), 0);
  struct waiter_arg a[3];
  weft_task_t *t[3];
  for (int i = 0; i < 3; i++) {
    a[i] = (struct waiter_arg){.id = i, .rc = 1, .got = NULL};
    t[i] = queue_waiter(&a[i]);
  }
  weft__mutex_lock(&m);
  ck_assert_uint_eq(wl.count, 3);
  for (intptr_t k = 0; k < 2; k++) ck_assert(weft__wl_wake_one(&wl, (void *)(k + 100), 0));
  ck_assert_uint_eq(weft__wl_wake_all(&wl, 0), 1);
  ck_assert(!weft__wl_wake_one(&wl, NULL, 0)); /* nobody left */
  weft__mutex_unlock(&m);
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(t[i]), NULL), 0);
    ck_assert_int_eq(a[i].rc, 0);
    weft_task_release(t[i]);
  }
  /* Granted oldest first: the first two grants went to waiters 0 and 1. */
  ck_assert_ptr_eq(a[0].got, (void *)100);
  ck_assert_ptr_eq(a[1].got, (void *)101);
  ck_assert_ptr_null(a[2].got);
  weft_event_destroy(queued);
  return 0;
}

START_TEST(grants_are_fifo) {
  ck_assert_int_eq(run_main(1, fifo_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, fifo_main, NULL, NULL), 0);
}
END_TEST

static int leave_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  weft__mutex_init(&m);
  weft__wl_init(&wl);
  ck_assert_int_eq(weft_event_create(&queued), 0);
  /* Timeout: the waiter unqueues itself. */
  struct weft__waiter_node w;
  weft__mutex_lock(&m);
  ck_assert_int_eq(weft__wl_wait(&m, &wl, &w, WEFT__WAIT_TASK, weft__deadline(1000000)), -ETIMEDOUT);
  ck_assert_uint_eq(wl.count, 0);
  ck_assert(weft__list_empty(&wl.waiters));
  weft__mutex_unlock(&m);
  /* Cancellation: the same. */
  struct waiter_arg a = {.id = 9, .rc = 1};
  weft_task_t *t = queue_waiter(&a);
  ck_assert_int_eq(weft_task_cancel(t, NULL), 1);
  weft_await(weft_task_future(t), NULL);
  ck_assert_int_eq(a.rc, -ECANCELED);
  weft__mutex_lock(&m);
  ck_assert_uint_eq(wl.count, 0);
  weft__mutex_unlock(&m);
  weft_task_release(t);
  weft_event_destroy(queued);
  return 0;
}

START_TEST(leaving_unqueues) {
  ck_assert_int_eq(run_main(1, leave_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, leave_main, NULL, NULL), 0);
}
END_TEST

/* A foreign thread waits (WEFT__WAIT_ANY blocks it); a task grants it a
 * value. */
static _Atomic uint32_t thread_queued;
static void *foreign(void *arg) {
  struct weft__waiter_node w;
  weft__mutex_lock(&m);
  atomic_store(&thread_queued, 1);
  weft__futex_wake(&thread_queued, 1);
  int rc = weft__wl_wait(&m, &wl, &w, WEFT__WAIT_ANY, 0);
  weft__mutex_unlock(&m);
  *(void **)arg = rc == 0 ? w.value : NULL;
  return NULL;
}

static int grant_main(void *arg, void **res) {
  (void)res;
  weft__mutex_lock(&m);
  bool woke = weft__wl_wake_one(&wl, arg, 0);
  weft__mutex_unlock(&m);
  return woke ? 0 : -ENOENT;
}

START_TEST(foreign_threads_wait_too) {
  weft__mutex_init(&m);
  weft__wl_init(&wl);
  ck_assert_int_eq(weft__wl_can_wait(WEFT__WAIT_ANY), 0);   /* a plain thread may block */
  ck_assert_int_eq(weft__wl_can_wait(WEFT__WAIT_TASK), -EPERM);
  void *got = NULL;
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, foreign, &got), 0);
  ck_assert_int_eq(weft__futex_wait_nonzero(&thread_queued, 0), 0);
  weft__mutex_lock(&m); /* it holds m until it is queued */
  weft__mutex_unlock(&m);
  ck_assert_int_eq(run_main(2, grant_main, (void *)&got, NULL), 0);
  pthread_join(th, NULL);
  ck_assert_ptr_eq(got, (void *)&got);
}
END_TEST

static int worker_outside_task(void *arg, void **res) {
  (void)arg;
  (void)res;
  /* Inside a task every mode may wait. */
  ck_assert_int_eq(weft__wl_can_wait(WEFT__WAIT_TASK), 0);
  ck_assert_int_eq(weft__wl_can_wait(WEFT__WAIT_ANY), 0);
  return 0;
}

START_TEST(who_may_wait) { ck_assert_int_eq(run_main(1, worker_outside_task, NULL, NULL), 0); }
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("waitlist");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, grants_are_fifo);
  tcase_add_test(tc, leaving_unqueues);
  tcase_add_test(tc, foreign_threads_wait_too);
  tcase_add_test(tc, who_may_wait);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
