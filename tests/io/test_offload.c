/*
 * test_offload.c - io/offload.c, the helper-thread pool: work runs on
 * another thread, work not started yet can be taken back, the pool grows
 * to its bound and no further, and a task awaiting a pool job gets its
 * result (and -ECANCELED/-ETIMEDOUT only for a job that never started).
 */
#include "helpers.h"
#include "gate.h"
#include "offload.h"
#include "task.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

/* Jobs that block on a gate until the test opens it (gate.h). */
struct job {
  struct weft__pool_work w; /* first */
  pthread_t ran_on;
};

static void gated(struct weft__pool_work *w) {
  ((struct job *)w)->ran_on = pthread_self();
  pass_gate();
}

START_TEST(runs_elsewhere_and_unqueues) {
  static struct job jobs[WEFT__OFFLOAD_MAX + 1];
  for (int i = 0; i < WEFT__OFFLOAD_MAX; i++) {
    jobs[i].w.run = gated;
    ck_assert_int_eq(weft__offload_submit(&jobs[i].w), 0);
  }
  wait_count(&started, WEFT__OFFLOAD_MAX); /* every thread busy, at the bound */
  for (int i = 0; i < WEFT__OFFLOAD_MAX; i++) ck_assert(!pthread_equal(jobs[i].ran_on, pthread_self()));
  jobs[WEFT__OFFLOAD_MAX].w.run = gated;
  ck_assert_int_eq(weft__offload_submit(&jobs[WEFT__OFFLOAD_MAX].w), 0); /* queued: no thread free */
  ck_assert(weft__offload_unqueue(&jobs[WEFT__OFFLOAD_MAX].w));          /* taken back, never run */
  ck_assert(!weft__offload_unqueue(&jobs[0].w));                /* started: cannot be */
  open_gate();
  wait_count(&finished, WEFT__OFFLOAD_MAX);
  ck_assert_uint_eq(atomic_load(&started), WEFT__OFFLOAD_MAX); /* the unqueued one never ran */
}
END_TEST

static int await_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int fd = scratch_file();
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, "pool", 4), 4);
  char buf[8] = {0};
  struct weft__io_req q = {.kind = WEFT__IO_READ, .fd = fd, .buf = buf, .len = 4, .off = 0};
  ck_assert_int_eq(weft__offload_await(&q, 0), 4);
  ck_assert_str_eq(buf, "pool");
  struct weft__io_req bad = {.kind = WEFT__IO_RECV, .fd = fd}; /* not a pool kind */
  ck_assert_int_eq(weft__offload_await(&bad, 0), -EINVAL);
  close(fd);
  return 0;
}

START_TEST(a_task_awaits_a_job) { ck_assert_int_eq(run_main(2, await_main, NULL, NULL), 0); }
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("offload");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, runs_elsewhere_and_unqueues);
  tcase_add_test(tc, a_task_awaits_a_job);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
