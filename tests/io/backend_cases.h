/*
 * backend_cases.h - what every reactor backend must do, driven through
 * io/reactor.h directly (no loop, no tasks). Included by test_ring.c and
 * test_epoll.c, each adding the cases only its backend has; BACKEND names
 * the one under test.
 */
#ifndef WEFT_TEST_BACKEND_CASES_H
#define WEFT_TEST_BACKEND_CASES_H

#include "helpers.h"
#include "deadline.h"
#include "reactor.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static struct weft__reactor R;

/* Sets up R with BACKEND, or exits 77 (skipped) if this machine lacks it. */
static void backend_up(void) {
  char why[160];
  int rc = weft__reactor_init(&R, BACKEND, 16, false, why, sizeof why);
  if (rc < 0) {
    fprintf(stderr, "skipped: backend unavailable here: %s\n", why);
    exit(77);
  }
  ck_assert_int_eq(R.ops->id, BACKEND);
}

struct done_op {
  struct weft__io_op op; /* first */
  int calls;
};

static void count_call(struct weft__io_op *op) { ((struct done_op *)op)->calls++; }

/* Starts @d; true if it finished inside start (no callback then). */
static bool start(struct done_op *d, uint64_t deadline) {
  d->op.cb = count_call;
  d->calls = 0;
  ck_assert_int_eq(weft__reactor_start(&R, &d->op, deadline), 0);
  bool at_once = atomic_load_explicit(&d->op.done, memory_order_relaxed);
  if (at_once) ck_assert_int_eq(d->calls, 0);
  return at_once;
}

/* Waits in the reactor until @d's callback ran. */
static void drive(struct done_op *d) {
  while (!d->calls) weft__reactor_wait(&R, 0);
  ck_assert_int_eq(d->calls, 1);
}

static int32_t run_op(struct done_op *d) {
  if (!start(d, 0)) drive(d);
  return d->op.res;
}

START_TEST(case_nop) {
  backend_up();
  struct done_op d = {.op.req = {.kind = WEFT__IO_NOP}};
  ck_assert_int_eq(run_op(&d), 0);
  ck_assert_uint_eq(R.inflight, 0);
  weft__reactor_fini(&R);
}
END_TEST

START_TEST(case_read_waits_for_data) {
  backend_up();
  int p[2];
  ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
  char buf[8] = {0};
  struct done_op d = {.op.req = {.kind = WEFT__IO_READ, .fd = p[0], .buf = buf, .len = sizeof buf,
                                 .off = (uint64_t)-1}};
  ck_assert(!start(&d, 0)); /* empty pipe: pending */
  weft__reactor_poll(&R);
  ck_assert_int_eq(d.calls, 0);
  ck_assert_uint_eq(R.inflight, 1);
  ck_assert_int_eq(write(p[1], "hi", 2), 2);
  drive(&d);
  ck_assert_int_eq(d.op.res, 2);
  ck_assert_str_eq(buf, "hi");
  ck_assert_uint_eq(R.inflight, 0);
  close(p[0]);
  close(p[1]);
  weft__reactor_fini(&R);
}
END_TEST

START_TEST(case_cancel_ends_a_pending_op) {
  backend_up();
  int p[2];
  ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
  char buf[8];
  struct done_op d = {.op.req = {.kind = WEFT__IO_READ, .fd = p[0], .buf = buf, .len = sizeof buf,
                                 .off = (uint64_t)-1}};
  ck_assert(!start(&d, 0));
  weft__reactor_poll(&R); /* submitted (ring) */
  weft__reactor_cancel(&R, &d.op);
  drive(&d);
  ck_assert_int_eq(d.op.res, -ECANCELED);
  ck_assert_uint_eq(R.inflight, 0);
  /* The data written afterwards is still there: the read took nothing. */
  ck_assert_int_eq(write(p[1], "x", 1), 1);
  ck_assert_int_eq(read(p[0], buf, sizeof buf), 1);
  close(p[0]);
  close(p[1]);
  weft__reactor_fini(&R);
}
END_TEST

START_TEST(case_kick_ends_a_wait) {
  backend_up();
  weft__reactor_kick(&R); /* before the wait: kept in the eventfd */
  weft__reactor_wait(&R, weft__deadline(60 * 1000000000LL)); /* returns at once */
  weft__reactor_fini(&R);
}
END_TEST

START_TEST(case_deadline_ends_a_wait) {
  backend_up();
  uint64_t t0 = weft__clock_ns();
  weft__reactor_wait(&R, weft__deadline(20 * 1000000LL));
  ck_assert_uint_ge(weft__clock_ns() - t0, 19 * 1000000ULL); /* timer slack, not early */
  weft__reactor_fini(&R);
}
END_TEST

START_TEST(case_registered_file) {
  backend_up();
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  int table[2] = {p[0], p[1]};
  ck_assert_int_eq(weft__reactor_register_files(&R, table, 2), 0);
  struct done_op w = {.op.req = {.kind = WEFT__IO_WRITE, .fd = -2 - 1, .buf = "ok", .len = 2,
                                 .off = (uint64_t)-1}};
  ck_assert_int_eq(run_op(&w), 2);
  char buf[4] = {0};
  struct done_op r = {.op.req = {.kind = WEFT__IO_READ, .fd = -2 - 0, .buf = buf, .len = 2,
                                 .off = (uint64_t)-1}};
  ck_assert_int_eq(run_op(&r), 2);
  ck_assert_str_eq(buf, "ok");
  ck_assert_int_eq(weft__reactor_register_files(&R, NULL, 0), 0);
  close(p[0]);
  close(p[1]);
  weft__reactor_fini(&R);
}
END_TEST

static void add_backend_cases(TCase *tc) {
  tcase_add_test(tc, case_nop);
  tcase_add_test(tc, case_read_waits_for_data);
  tcase_add_test(tc, case_cancel_ends_a_pending_op);
  tcase_add_test(tc, case_kick_ends_a_wait);
  tcase_add_test(tc, case_deadline_ends_a_wait);
  tcase_add_test(tc, case_registered_file);
}

#endif
