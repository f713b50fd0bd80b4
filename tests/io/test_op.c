/*
 * test_op.c - io/op.c, the await layer: who may await, a cancellation
 * pending before the request is issued, timeouts and cancellations that
 * take nothing from the fd, the task's pinning undone after the request,
 * and blocking kinds on a backend without async files. Run once per
 * backend (WEFT_IO_BACKEND).
 */
#include "io_helpers.h"
#include "op.h"
#include "task.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

START_TEST(outside_a_task) {
  struct weft__io_req q = {.kind = WEFT__IO_NOP};
  ck_assert_int_eq(weft__io_await(&q, 0), -EPERM);
}
END_TEST

static int pending_cancel_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  weft_task_cancel(weft_task_current(), NULL);
  struct weft__io_req q = {.kind = WEFT__IO_NOP};
  ck_assert_int_eq(weft__io_await(&q, 0), -ECANCELED); /* delivered before issuing */
  ck_assert_int_eq(weft__io_await(&q, 0), 0);          /* and consumed */
  return 0;
}

START_TEST(pending_cancellation_first) {
  ck_assert_int_eq(run_main(1, pending_cancel_main, NULL, NULL), 0);
}
END_TEST

static int timeout_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  char buf[4];
  struct weft__io_req q = {.kind = WEFT__IO_READ, .fd = p[0], .buf = buf, .len = sizeof buf,
                           .off = (uint64_t)-1};
  ck_assert_int_eq(weft__io_await(&q, weft__deadline(10 * 1000000LL)), -ETIMEDOUT);
  ck_assert_int_eq(weft__io_await(&q, weft__deadline(0)), -ETIMEDOUT); /* would wait */
  ck_assert_int_eq(write(p[1], "z", 1), 1);
  ck_assert_int_eq(weft__io_await(&q, weft__deadline(0)), 1); /* no wait needed... */
  ck_assert_int_eq(buf[0], 'z');                                /* ...and nothing lost */
  struct weft_task *self = weft__task_self();
  ck_assert_ptr_nonnull(self);
  ck_assert_int_eq(atomic_load(&weft__task_run_of(self)->pinned), weft__task_home(self)); /* unpinned after each */
  close(p[0]);
  close(p[1]);
  return 0;
}

START_TEST(timeouts_take_nothing) {
  ck_assert_int_eq(run_main(1, timeout_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, timeout_main, NULL, NULL), 0);
}
END_TEST

struct reader {
  int fd;
  ssize_t rc;
  weft_event_t *started;
};

static int read_body(void *arg, void **res) {
  (void)res;
  struct reader *r = arg;
  char buf[4];
  struct weft__io_req q = {.kind = WEFT__IO_READ, .fd = r->fd, .buf = buf, .len = sizeof buf,
                           .off = (uint64_t)-1};
  weft_event_set(r->started);
  r->rc = weft__io_await(&q, 0);
  return 0;
}

static int cancel_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  struct reader r = {.fd = p[0], .rc = 1};
  ck_assert_int_eq(weft_event_create(&r.started), 0);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(read_body, &r, &t), 0);
  ck_assert_int_eq(weft_event_wait(r.started, -1), 0);
  weft_task_cancel(t, NULL);
  weft_await(weft_task_future(t), NULL);
  ck_assert_int_eq(r.rc, -ECANCELED);
  ck_assert_int_eq(write(p[1], "y", 1), 1); /* the cancelled read took nothing */
  char c;
  ck_assert_int_eq(read(p[0], &c, 1), 1);
  ck_assert_int_eq(c, 'y');
  weft_task_release(t);
  weft_event_destroy(r.started);
  close(p[0]);
  close(p[1]);
  return 0;
}

START_TEST(cancel_takes_nothing) {
  ck_assert_int_eq(run_main(1, cancel_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, cancel_main, NULL, NULL), 0);
}
END_TEST

static int blocking_kind_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  /* statx may wait for a disk: without async files it goes to the pool. */
  struct statx st;
  struct weft__io_req q = {.kind = WEFT__IO_STATX, .fd = AT_FDCWD, .buf = (void *)".",
                           .mask = STATX_TYPE, .aux = &st};
  ck_assert_int_eq(weft__io_await(&q, 0), 0);
  ck_assert(S_ISDIR(st.stx_mode));
  return 0;
}

/* ---- a request awaited with nothing else ready (io_uring: polled by the
 * task itself, io/op.c) ---------------------------------------------------- */

static char order[8];
static int norder;
static bool ran_on_uring;

static int note_b(void *arg, void **res) {
  (void)arg;
  (void)res;
  order[norder++] = 'b';
  return 0;
}

static int ready_work_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  ran_on_uring = strcmp(weft_loop_backend(weft_loop_current()), "io_uring") == 0;
  weft_task_t *b;
  ck_assert_int_eq(weft_spawn(note_b, NULL, &b), 0);
  struct weft__io_req q = {.kind = WEFT__IO_NOP};
  ck_assert_int_eq(weft__io_await(&q, 0), 0);
  order[norder++] = 'm';
  ck_assert_int_eq(weft_await(weft_task_future(b), NULL), 0);
  weft_task_release(b);
  /* Now nothing else is ready. io_uring: each request is submitted and
   * reaped by the task itself, and each await still counts as a slice
   * boundary, as the suspension it spared would have (the stall detector
   * sees progress). epoll finishes a NOP inside the start, as a read that
   * finds data does: no suspension was ever due, no slice boundary. */
  struct weft_task_stats before, after;
  ck_assert_int_eq(weft_task_get_stats(weft_task_current(), &before), 0);
  for (int i = 0; i < 100; i++) ck_assert_int_eq(weft__io_await(&q, 0), 0);
  ck_assert_int_eq(weft_task_get_stats(weft_task_current(), &after), 0);
  ck_assert_uint_eq(after.runs - before.runs, ran_on_uring ? 100 : 0);
  return 0;
}

START_TEST(ready_work_runs_before_the_awaiter) {
  /* io_uring: a request that goes to the kernel lets what is ready run
   * first, even if it completes at once (asyncio: an await on the loop). A
   * task polling its own request may do so only when nothing is ready;
   * here b is, so the await suspends and b runs. epoll: a NOP finishes
   * inside the start, never suspending (as asyncio's sock_recv returns
   * data already there without yielding). */
  norder = 0;
  ck_assert_int_eq(run_main(1, ready_work_main, NULL, NULL), 0);
  order[norder] = 0;
  ck_assert_str_eq(order, ran_on_uring ? "bm" : "mb");
}
END_TEST

/* A busy loop sees what its own operations made ready at its next pass
 * (asyncio polls every iteration). The epoll backend may skip a busy
 * pass's poll when no operation started since the last one (io/epoll.c),
 * never after one did: here the writer's write is one, and the reader's
 * completion must come within a few of the writer's yields, not after the
 * hundreds that the skipping interval holds. (No ck_assert in the loops:
 * under Check's fork mode each one writes to a pipe, which would make a
 * pass take microseconds.) */
static _Atomic bool got_byte;

static int byte_reader(void *arg, void **res) {
  (void)res;
  char c;
  ck_assert_int_eq(weft_read(*(int *)arg, &c, 1), 1);
  atomic_store(&got_byte, true);
  return 0;
}

static int spinner(void *arg, void **res) { /* keeps every pass busy */
  (void)arg;
  (void)res;
  while (!atomic_load(&got_byte))
    if (weft_yield()) return -1;
  return 0;
}

static int own_write_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int p[2], q[2];
  ck_assert_int_eq(pipe(p), 0);
  ck_assert_int_eq(pipe(q), 0);
  atomic_store(&got_byte, false);
  weft_task_t *r, *s;
  ck_assert_int_eq(weft_spawn(byte_reader, &p[0], &r), 0);
  ck_assert_int_eq(weft_spawn(spinner, NULL, &s), 0);
  ck_assert_int_eq(weft_yield(), 0); /* the read is in flight, the spinner spins */
  /* An op of our own, then a pass: the pass polls, so the skipping
   * interval (if any) starts afresh there, just before the write. */
  ck_assert_int_eq(weft_write(q[1], "d", 1), 1);
  ck_assert_int_eq(weft_yield(), 0);
  ck_assert(!atomic_load(&got_byte));
  ck_assert_int_eq(weft_write(p[1], "x", 1), 1);
  int yields = 0, rc = 0;
  while (!atomic_load(&got_byte) && yields < 1000000 && !(rc = weft_yield())) yields++;
  ck_assert_int_eq(rc, 0);
  ck_assert_int_le(yields, 3);
  ck_assert_int_eq(weft_await(weft_task_future(r), NULL), 0);
  ck_assert_int_eq(weft_await(weft_task_future(s), NULL), 0);
  weft_task_release(r);
  weft_task_release(s);
  for (int i = 0; i < 2; i++) {
    close(p[i]);
    close(q[i]);
  }
  return 0;
}

START_TEST(own_write_seen_at_the_next_pass) {
  ck_assert_int_eq(run_main(1, own_write_main, NULL, NULL), 0);
}
END_TEST

/* After a short receive (the epoll backend then waits for readiness before
 * the next receive on that stream socket, io/epoll.c) data that is already
 * there when the next receive starts is still taken at once, in order; a
 * datagram socket's short receives say nothing of the next datagram. The
 * timeouts only turn a lost wake-up into a failure. */
static void recv_expect(int fd, const char *want) {
  char buf[64];
  ssize_t n = weft_recv_timeout(fd, buf, sizeof buf, 0, 10LL * 1000000000);
  ck_assert_int_eq(n, (ssize_t)strlen(want));
  ck_assert(memcmp(buf, want, (size_t)n) == 0);
}

static int short_receive_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int types[2] = {SOCK_STREAM, SOCK_DGRAM};
  for (int i = 0; i < 2; i++) {
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, types[i], 0, sv), 0);
    ck_assert_int_eq(send(sv[1], "ab", 2, 0), 2);
    recv_expect(sv[0], "ab"); /* short: 2 of 64 */
    ck_assert_int_eq(send(sv[1], "cd", 2, 0), 2); /* there before the next receive */
    recv_expect(sv[0], "cd");
    ck_assert_int_eq(send(sv[1], "ef", 2, 0), 2);
    ck_assert_int_eq(send(sv[1], "gh", 2, 0), 2);
    recv_expect(sv[0], types[i] == SOCK_STREAM ? "efgh" : "ef");
    if (types[i] == SOCK_DGRAM) recv_expect(sv[0], "gh");
    close(sv[0]);
    close(sv[1]);
  }
  return 0;
}

START_TEST(short_receive_then_data_already_there) {
  ck_assert_int_eq(run_main(1, short_receive_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(2, short_receive_main, NULL, NULL), 0);
}
END_TEST

START_TEST(blocking_kinds) { ck_assert_int_eq(run_main(2, blocking_kind_main, NULL, NULL), 0); }
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("op");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, outside_a_task);
  tcase_add_test(tc, pending_cancellation_first);
  tcase_add_test(tc, timeouts_take_nothing);
  tcase_add_test(tc, cancel_takes_nothing);
  tcase_add_test(tc, blocking_kinds);
  tcase_add_test(tc, ready_work_runs_before_the_awaiter);
  tcase_add_test(tc, own_write_seen_at_the_next_pass);
  tcase_add_test(tc, short_receive_then_data_already_there);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_IO_TEST_MAIN(suite)
