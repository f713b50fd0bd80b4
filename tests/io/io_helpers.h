/*
 * io_helpers.h - shared by the I/O tests: which backend the run is for, a
 * skip when the forced backend cannot exist on this machine, and a
 * connected loopback TCP pair.
 *
 * ctest runs every I/O test twice, with WEFT_IO_BACKEND=io_uring and
 * =epoll (tests/CMakeLists.txt); a machine that forbids io_uring skips the
 * first (exit 77) instead of failing it.
 */
#ifndef WEFT_TEST_IO_HELPERS_H
#define WEFT_TEST_IO_HELPERS_H

#include "helpers.h"
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static inline void io_skip_if_unavailable(void) {
  weft_loop_t *loop = NULL;
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 1;
  int rc = weft_loop_new(&cfg, &loop);
  if (rc < 0) {
    fprintf(stderr, "skipped: this backend cannot be set up here (%s)\n", weft_strerror(rc));
    exit(77);
  }
  fprintf(stderr, "backend: %s %s\n", weft_loop_backend(loop), weft_loop_backend_reason(loop));
  weft_loop_close(loop);
}

/* Open fds of this process, to prove an operation leaked none. Files
 * under /proc are left out: with the adapt controller on, a loop's
 * monitor thread opens one for a few microseconds every 100 ms while
 * workers are busy (each worker's schedstat), which a count could catch.
 * (It also opens shared objects to name a stall report's frames; the
 * suites that count fds report no stalls.) */
static inline int count_fds(void) {
  int n = 0;
  for (int fd = 0; fd < 4096; fd++) {
    if (fcntl(fd, F_GETFD) < 0) continue;
    char link[64], target[16];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, target, sizeof target);
    if (k >= 6 && memcmp(target, "/proc/", 6) == 0) continue;
    n++;
  }
  return n;
}

#define WEFT_IO_TEST_MAIN(suite_fn) WEFT_TEST_MAIN_WITH(suite_fn, io_skip_if_unavailable())

/* A connected TCP pair on the loopback, both ends blocking: *@accepted
 * is the listener's end, *@connected the client's. Plain system calls (a
 * loopback connect completes at once, and the accept finds it queued). */
static inline void io_tcp_pair(int *accepted, int *connected) {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(l, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
  ck_assert_int_eq(listen(l, 1), 0);
  ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
  *connected = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(*connected, 0);
  ck_assert_int_eq(connect(*connected, (struct sockaddr *)&a, sizeof a), 0);
  *accepted = accept4(l, NULL, NULL, SOCK_CLOEXEC);
  ck_assert_int_ge(*accepted, 0);
  close(l);
}

#endif
