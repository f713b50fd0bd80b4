/*
 * test_ring.c - io/ring.c: the cases every backend passes
 * (backend_cases.h), and the ring's own: a deadline travels with the
 * request as a linked timeout, a multishot accept calls back once per
 * connection with more to come, a standing multishot receive delivers
 * through provided buffers until quiesce ends it (and stays standing
 * through a burst of completions before a reap), and the wake eventfd
 * stays armed across many kicks.
 */
#define BACKEND WEFT__IO_URING
#include "backend_cases.h"

#include <netinet/in.h>
#include <sys/socket.h>

START_TEST(linked_timeout_ends_the_request) {
  backend_up();
  ck_assert(weft__reactor_can(&R, WEFT__CAP_KERNEL_TIMEOUTS));
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  char buf[4];
  struct done_op d = {.op.req = {.kind = WEFT__IO_READ, .fd = p[0], .buf = buf, .len = sizeof buf,
                                 .off = (uint64_t)-1}};
  uint64_t t0 = weft__clock_ns();
  ck_assert(!start(&d, weft__deadline(20 * 1000000LL)));
  drive(&d); /* nobody writes: only the kernel's timeout ends it */
  ck_assert(d.op.res == -ECANCELED || d.op.res == -EINTR);
  ck_assert_uint_ge(weft__clock_ns() - t0, 19 * 1000000ULL);
  close(p[0]);
  close(p[1]);
  weft__reactor_fini(&R);
}
END_TEST

START_TEST(multishot_accept_calls_back_per_connection) {
  backend_up();
  ck_assert(weft__reactor_can(&R, WEFT__CAP_MULTISHOT_ACCEPT));
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
  ck_assert_int_eq(listen(l, 8), 0);
  ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
  struct done_op d = {.op.req = {.kind = WEFT__IO_ACCEPT_MULTI, .fd = l, .flags = SOCK_CLOEXEC}};
  ck_assert(!start(&d, 0));
  int clients[3];
  for (int i = 0; i < 3; i++) {
    clients[i] = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(clients[i], (struct sockaddr *)&a, sizeof a), 0);
  }
  int got = 0;
  while (d.calls < 3) weft__reactor_wait(&R, 0);
  got = d.calls;
  ck_assert_int_eq(got, 3);
  ck_assert_uint_ne(d.op.cqe_flags & IORING_CQE_F_MORE, 0); /* still armed */
  ck_assert_int_ge(d.op.res, 0);
  close(d.op.res);
  weft__reactor_cancel(&R, &d.op); /* ends it: one last call, without MORE */
  while (d.calls == got) weft__reactor_wait(&R, 0);
  ck_assert_uint_eq(d.op.cqe_flags & IORING_CQE_F_MORE, 0);
  ck_assert_int_eq(d.op.res, -ECANCELED);
  for (int i = 0; i < 3; i++) close(clients[i]);
  close(l);
  weft__reactor_fini(&R);
}
END_TEST

/* A standing multishot receive: each arrival calls back with its bytes in
 * a provided buffer (op->data), more to come; quiesce cancels it and
 * delivers the last call, and the reactor lists no standing op after. A
 * non-blocking socket works the same (its -EAGAIN becomes a poll). Both
 * ways of consuming the buffers (ring.c): incremental where the kernel has
 * it (Linux 6.12), and whole buffers (pbuf_whole); then 200,000 bytes in
 * pieces that end inside buffers and span them, each byte where the
 * completion says, 16 buffers going round several times. */
struct recv_op {
  struct weft__io_op op; /* first */
  int calls;
  char got[210000];
  size_t len;
};

static void copy_call(struct weft__io_op *op) {
  struct recv_op *d = (struct recv_op *)op;
  d->calls++;
  if (op->res > 0) {
    ck_assert_ptr_nonnull(op->data);
    ck_assert_uint_le(d->len + (size_t)op->res, sizeof d->got);
    memcpy(d->got + d->len, op->data, (size_t)op->res);
    d->len += (size_t)op->res;
  }
}

START_TEST(multishot_receive_into_provided_buffers) {
  for (int mode = 0; mode < 4; mode++) {
    int nonblock = mode & 1, whole = mode >> 1;
    backend_up();
    R.ur.pbuf_whole = whole;
    ck_assert(weft__reactor_can(&R, WEFT__CAP_MULTISHOT_RECV));
    struct recv_op none = {.op.req = {.kind = WEFT__IO_RECV_MULTI, .fd = 0}, .op.cb = copy_call};
    ck_assert_int_eq(weft__reactor_start_standing(&R, &none.op), -ENOTSUP); /* no buffers given */
    R.recv_bufs = 16; /* what the loop sets after init */
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0, sv), 0);
    struct recv_op d = {.op.req = {.kind = WEFT__IO_RECV_MULTI, .fd = sv[0]}, .op.cb = copy_call};
    ck_assert_int_eq(weft__reactor_start_standing(&R, &d.op), 0);
    weft__reactor_poll(&R);
    ck_assert_int_eq(d.calls, 0); /* nothing has arrived */
    const char *words[] = {"hello", "multishot", "world"};
    for (int i = 0; i < 3; i++) {
      int before = d.calls;
      ck_assert_int_eq(write(sv[1], words[i], strlen(words[i])), (ssize_t)strlen(words[i]));
      while (d.calls == before) weft__reactor_wait(&R, 0);
      ck_assert_uint_ne(d.op.cqe_flags & IORING_CQE_F_MORE, 0); /* still standing */
    }
    ck_assert_uint_eq(d.len, strlen("hellomultishotworld"));
    ck_assert(memcmp(d.got, "hellomultishotworld", d.len) == 0);
    if (whole) ck_assert_ptr_null(R.ur.pbuf_off);
    if (mode == 0) fprintf(stderr, "provided buffers: %s\n", R.ur.pbuf_off ? "incremental" : "whole");
    static char big[200000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + (i * 7 + i / 13) % 26);
    size_t sent = 0, start = d.len;
    for (size_t piece = 1; sent < sizeof big; piece = piece * 3 % 5000 + 1) {
      size_t k = piece < sizeof big - sent ? piece : sizeof big - sent;
      ck_assert_int_eq(write(sv[1], big + sent, k), (ssize_t)k);
      sent += k;
      while (d.len < start + sent) weft__reactor_wait(&R, 0);
    }
    ck_assert_uint_eq(d.len, start + sizeof big);
    ck_assert(memcmp(d.got + start, big, sizeof big) == 0);
    int before = d.calls;
    weft__reactor_quiesce(&R);
    ck_assert_int_eq(d.calls, before + 1);
    ck_assert_uint_eq(d.op.cqe_flags & IORING_CQE_F_MORE, 0);
    ck_assert_int_eq(d.op.res, -ECANCELED);
    ck_assert_ptr_null(R.ur.standing);
    ck_assert_uint_eq(R.inflight, 0);
    close(sv[0]);
    close(sv[1]);
    weft__reactor_fini(&R);
  }
}
END_TEST

/* A pass's completions fit the completion queue (ring.c, cq_size): 3,000
 * requests finish before the first reap, then bytes arrive for a standing
 * multishot receive, and it posts its completion still standing (MORE).
 * With a queue too small for the burst the kernel keeps the rest on its
 * overflow list and ends the multishot receive instead (the old 4x the
 * 16 entries failed here). */
static int nops_done;
static void nop_call(struct weft__io_op *op) {
  (void)op;
  nops_done++;
}

START_TEST(a_burst_of_completions_leaves_receives_standing) {
  enum { NOPS = 3000 };
  backend_up();
  R.recv_bufs = 16;
  int sv[2];
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  struct recv_op d = {.op.req = {.kind = WEFT__IO_RECV_MULTI, .fd = sv[0]}, .op.cb = copy_call};
  ck_assert_int_eq(weft__reactor_start_standing(&R, &d.op), 0);
  weft__reactor_poll(&R);
  static struct weft__io_op nops[NOPS];
  nops_done = 0;
  for (int i = 0; i < NOPS; i++) {
    nops[i] = (struct weft__io_op){.req = {.kind = WEFT__IO_NOP}, .cb = nop_call};
    ck_assert_int_eq(weft__reactor_start(&R, &nops[i], 0), 0);
  }
  ck_assert_int_eq(write(sv[1], "burst", 5), 5);
  while (nops_done < NOPS || d.len < 5) weft__reactor_wait(&R, 0);
  ck_assert_int_eq(d.calls, 1);
  ck_assert_int_eq(d.op.res, 5);
  ck_assert_uint_ne(d.op.cqe_flags & IORING_CQE_F_MORE, 0); /* still standing */
  ck_assert(memcmp(d.got, "burst", 5) == 0);
  weft__reactor_quiesce(&R);
  ck_assert_int_eq(d.calls, 2);
  ck_assert_int_eq(d.op.res, -ECANCELED);
  close(sv[0]);
  close(sv[1]);
  weft__reactor_fini(&R);
}
END_TEST

START_TEST(wake_stays_armed) {
  backend_up();
  for (int i = 0; i < 100; i++) {
    weft__reactor_kick(&R);
    weft__reactor_wait(&R, weft__deadline(60 * 1000000000LL)); /* each returns: re-armed */
  }
  weft__reactor_fini(&R);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("ring");
  TCase *tc = tcase_create("core");
  add_backend_cases(tc);
  tcase_add_test(tc, linked_timeout_ends_the_request);
  tcase_add_test(tc, multishot_receive_into_provided_buffers);
  tcase_add_test(tc, a_burst_of_completions_leaves_receives_standing);
  tcase_add_test(tc, multishot_accept_calls_back_per_connection);
  tcase_add_test(tc, wake_stays_armed);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
