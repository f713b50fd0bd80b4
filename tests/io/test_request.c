/*
 * test_request.c - io/request.c: the table of request kinds (one named row
 * per kind, calls where a backend needs them) and the helpers that read it.
 */
#include "helpers.h"
#include "request.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

START_TEST(every_kind_has_a_named_row) {
  for (unsigned k = 0; k < WEFT__IO_KINDS; k++) {
    ck_assert_ptr_nonnull(weft__io_kinds[k].name);
    for (unsigned j = 0; j < k; j++) ck_assert_str_ne(weft__io_kinds[k].name, weft__io_kinds[j].name);
    bool backend_own = k == WEFT__IO_CONNECT || k == WEFT__IO_POLL || k == WEFT__IO_ACCEPT_MULTI ||
                       k == WEFT__IO_RECV_MULTI;
    ck_assert_int_eq(weft__io_kinds[k].call == NULL, backend_own);
    unsigned f = weft__io_kinds[k].flags;
    if (f & WEFT__KIND_RETRY) ck_assert((f & (WEFT__KIND_IN | WEFT__KIND_OUT)) != 0);
    if (f & WEFT__KIND_POSITIONED) ck_assert(f & WEFT__KIND_STORAGE);
    if (f & WEFT__KIND_VEC) ck_assert(f & WEFT__KIND_RW);
  }
  ck_assert_str_eq(weft__io_kinds[WEFT__IO_READ].name, "read");
  ck_assert_str_eq(weft__io_kinds[WEFT__IO_ACCEPT_MULTI].name, "accept_multi");
}
END_TEST

START_TEST(fixed_fds_and_storage) {
  struct weft__io_req q = {.kind = WEFT__IO_READ, .fd = -2, .off = (uint64_t)-1};
  ck_assert(weft__io_fd_is_fixed(&q));
  ck_assert(!weft__io_is_storage(&q)); /* the file position: a stream, maybe a socket */
  q.off = 0;
  ck_assert(weft__io_is_storage(&q));
  q.kind = WEFT__IO_OPENAT; /* a dirfd, never a registered file */
  ck_assert(!weft__io_fd_is_fixed(&q));
  q.kind = WEFT__IO_FSYNC;
  q.fd = 3;
  ck_assert(!weft__io_fd_is_fixed(&q));
  ck_assert(weft__io_is_storage(&q));
  q.kind = WEFT__IO_RECV;
  ck_assert(!weft__io_is_storage(&q));
}
END_TEST

START_TEST(calls_run_the_request) {
  int p[2];
  ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
  char out[4] = "abc", in[4] = {0};
  struct iovec iov = {in, 3};
  struct weft__io_req w = {.kind = WEFT__IO_WRITE, .fd = p[1], .buf = out, .len = 3, .off = (uint64_t)-1};
  struct weft__io_req r = {.kind = WEFT__IO_READV, .fd = p[0], .buf = &iov, .len = 1, .off = (uint64_t)-1};
  ck_assert_int_eq(weft__io_kind(&r)->call(&r, true), -EAGAIN); /* empty, and must not wait */
  ck_assert_int_eq(weft__io_kind(&w)->call(&w, true), 3);
  ck_assert_int_eq(weft__io_kind(&r)->call(&r, true), 3);
  ck_assert_str_eq(in, "abc");
  struct weft__io_req c = {.kind = WEFT__IO_CLOSE, .fd = p[0]};
  ck_assert_int_eq(weft__io_kind(&c)->call(&c, false), 0);
  ck_assert_int_eq(weft__io_kind(&c)->call(&c, false), -EBADF);
  close(p[1]);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("request");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, every_kind_has_a_named_row);
  tcase_add_test(tc, fixed_fds_and_storage);
  tcase_add_test(tc, calls_run_the_request);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
