/*
 * test_epoll.c - io/epoll.c: the cases every backend passes
 * (backend_cases.h), and epoll's own: requests that can finish at once do
 * so inside start, connect is a two-step state machine, a peer's close
 * wakes a waiting read with its end of file, and O_DIRECT file reads are
 * handed to the offload pool.
 */
#define BACKEND WEFT__IO_EPOLL
#include "backend_cases.h"

#include <netinet/in.h>
#include <sys/socket.h>

START_TEST(ready_requests_finish_inside_start) {
  backend_up();
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  struct done_op w = {.op.req = {.kind = WEFT__IO_WRITE, .fd = p[1], .buf = "abc", .len = 3,
                                 .off = (uint64_t)-1}};
  ck_assert(start(&w, 0)); /* room in the pipe: done, no callback */
  ck_assert_int_eq(w.op.res, 3);
  ck_assert_uint_eq(R.inflight, 0);
  close(p[0]);
  close(p[1]);
  weft__reactor_fini(&R);
}
END_TEST

START_TEST(connect_in_two_steps) {
  backend_up();
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
  ck_assert_int_eq(listen(l, 4), 0);
  ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  struct done_op d = {.op.req = {.kind = WEFT__IO_CONNECT, .fd = c, .buf = &a, .len = sizeof a}};
  ck_assert_int_eq(run_op(&d), 0); /* at once (loopback) or after EPOLLOUT and SO_ERROR */
  ck_assert_int_ne(fcntl(c, F_GETFL) & O_NONBLOCK, 0); /* made non-blocking for the attempt */
  close(c);
  close(l);
  weft__reactor_fini(&R);
}
END_TEST

START_TEST(peer_close_ends_a_waiting_read) {
  backend_up();
  int p[2];
  ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
  char buf[4];
  struct done_op d = {.op.req = {.kind = WEFT__IO_READ, .fd = p[0], .buf = buf, .len = sizeof buf,
                                 .off = (uint64_t)-1}};
  ck_assert(!start(&d, 0));
  close(p[1]); /* the read end becomes readable: EOF */
  drive(&d);
  ck_assert_int_eq(d.op.res, 0);
  close(p[0]);
  weft__reactor_fini(&R);
}
END_TEST

START_TEST(direct_reads_are_offloaded) {
  backend_up();
  int fd = scratch_file();
  ck_assert_int_ge(fd, 0);
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  int dfd = open(proc, O_RDONLY | O_DIRECT);
  if (dfd < 0) { /* tmpfs has no O_DIRECT: nothing to show here */
    fprintf(stderr, "no O_DIRECT here; case not shown\n");
    close(fd);
    weft__reactor_fini(&R);
    return;
  }
  static char buf[4096] __attribute__((aligned(4096)));
  struct done_op d = {.op.req = {.kind = WEFT__IO_READ, .fd = dfd, .buf = buf, .len = sizeof buf,
                                 .off = 0}};
  ck_assert(start(&d, 0));
  ck_assert_int_eq(d.op.res, WEFT__EOFFLOAD); /* the await layer's cue for the pool */
  close(dfd);
  close(fd);
  weft__reactor_fini(&R);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("epoll");
  TCase *tc = tcase_create("core");
  add_backend_cases(tc);
  tcase_add_test(tc, ready_requests_finish_inside_start);
  tcase_add_test(tc, connect_in_two_steps);
  tcase_add_test(tc, peer_close_ends_a_waiting_read);
  tcase_add_test(tc, direct_reads_are_offloaded);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
