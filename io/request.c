/*
 * request.c - the table of I/O request kinds (request.h): one row per
 * kind, with the system call that carries the kind out synchronously (the
 * epoll backend's attempt, the offload pool's call).
 *
 * Invariant: one row per enum constant, in enum order (designated
 * initializers; the size is checked below).
 */
#include "request.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A system call's return as >= 0 or -errno (read errno right after). */
static ssize_t result(ssize_t n) { return n < 0 ? -errno : n; }

static ssize_t call_nop(const struct weft__io_req *q, bool nowait) {
  (void)q;
  (void)nowait;
  return 0;
}

static ssize_t call_read(const struct weft__io_req *q, bool nowait) {
  struct iovec one;
  const struct iovec *iov;
  off_t off;
  int n = weft__io_req_vec(q, &one, &iov, &off);
  return result(preadv2(q->fd, iov, n, off, nowait ? RWF_NOWAIT : 0));
}

static ssize_t call_write(const struct weft__io_req *q, bool nowait) {
  struct iovec one;
  const struct iovec *iov;
  off_t off;
  int n = weft__io_req_vec(q, &one, &iov, &off);
  return result(pwritev2(q->fd, iov, n, off, nowait ? RWF_NOWAIT : 0));
}

static ssize_t call_recv(const struct weft__io_req *q, bool nowait) {
  return result(recv(q->fd, q->buf, q->len, q->flags | (nowait ? MSG_DONTWAIT : 0)));
}

static ssize_t call_send(const struct weft__io_req *q, bool nowait) {
  return result(send(q->fd, q->buf, q->len, q->flags | MSG_NOSIGNAL | (nowait ? MSG_DONTWAIT : 0)));
}

static ssize_t call_recvmsg(const struct weft__io_req *q, bool nowait) {
  return result(recvmsg(q->fd, q->buf, q->flags | (nowait ? MSG_DONTWAIT : 0)));
}

static ssize_t call_sendmsg(const struct weft__io_req *q, bool nowait) {
  return result(sendmsg(q->fd, q->buf, q->flags | MSG_NOSIGNAL | (nowait ? MSG_DONTWAIT : 0)));
}

/* accept4 has no per-call non-blocking flag: a caller that must not block
 * makes the listening fd non-blocking first (epoll.c). */
static ssize_t call_accept(const struct weft__io_req *q, bool nowait) {
  (void)nowait;
  return result(accept4(q->fd, q->buf, q->aux, q->flags));
}

static ssize_t call_openat(const struct weft__io_req *q, bool nowait) {
  (void)nowait;
  return result(openat(q->fd, q->buf, q->flags, (mode_t)q->mode));
}

static ssize_t call_openat2(const struct weft__io_req *q, bool nowait) {
  (void)nowait;
  return result(syscall(SYS_openat2, q->fd, q->buf, q->aux, q->len));
}

static ssize_t call_close(const struct weft__io_req *q, bool nowait) {
  (void)nowait;
  return result(close(q->fd));
}

/* IORING_FSYNC_DATASYNC is 1: nonzero flags mean datasync on every path. */
static ssize_t call_fsync(const struct weft__io_req *q, bool nowait) {
  (void)nowait;
  return result(q->flags ? fdatasync(q->fd) : fsync(q->fd));
}

static ssize_t call_fallocate(const struct weft__io_req *q, bool nowait) {
  (void)nowait;
  return result(fallocate(q->fd, q->flags, (off_t)q->off, (off_t)q->len));
}

static ssize_t call_statx(const struct weft__io_req *q, bool nowait) {
  (void)nowait;
  return result(statx(q->fd, q->buf, q->flags, q->mask, q->aux));
}

static ssize_t call_shutdown(const struct weft__io_req *q, bool nowait) {
  (void)nowait;
  return result(shutdown(q->fd, q->flags));
}

enum {
  IN = WEFT__KIND_IN,
  OUT = WEFT__KIND_OUT,
  FIXED = WEFT__KIND_FIXED_FD,
  RW = WEFT__KIND_RW,
  VEC = WEFT__KIND_VEC,
  DISK = WEFT__KIND_STORAGE,
  POS = WEFT__KIND_POSITIONED,
  BLOCKS = WEFT__KIND_BLOCKING,
  RETRY = WEFT__KIND_RETRY,
};

const struct weft__io_kind_def weft__io_kinds[] = {
    [WEFT__IO_NOP] = {"nop", 0, call_nop},
    [WEFT__IO_READ] = {"read", RETRY | IN | FIXED | RW | DISK | POS, call_read},
    [WEFT__IO_WRITE] = {"write", RETRY | OUT | FIXED | RW | DISK | POS, call_write},
    [WEFT__IO_READV] = {"readv", RETRY | IN | FIXED | RW | VEC | DISK | POS, call_read},
    [WEFT__IO_WRITEV] = {"writev", RETRY | OUT | FIXED | RW | VEC | DISK | POS, call_write},
    [WEFT__IO_RECV] = {"recv", RETRY | IN | FIXED, call_recv},
    [WEFT__IO_SEND] = {"send", RETRY | OUT | FIXED, call_send},
    [WEFT__IO_RECVMSG] = {"recvmsg", RETRY | IN | FIXED, call_recvmsg},
    [WEFT__IO_SENDMSG] = {"sendmsg", RETRY | OUT | FIXED, call_sendmsg},
    [WEFT__IO_ACCEPT] = {"accept", RETRY | IN | FIXED, call_accept},
    [WEFT__IO_CONNECT] = {"connect", OUT | FIXED, NULL},
    [WEFT__IO_POLL] = {"poll", FIXED, NULL},
    [WEFT__IO_OPENAT] = {"openat", BLOCKS, call_openat},
    [WEFT__IO_CLOSE] = {"close", 0, call_close},
    [WEFT__IO_FSYNC] = {"fsync", FIXED | DISK | BLOCKS, call_fsync},
    [WEFT__IO_FALLOCATE] = {"fallocate", FIXED | DISK | BLOCKS, call_fallocate},
    [WEFT__IO_STATX] = {"statx", BLOCKS, call_statx},
    [WEFT__IO_SHUTDOWN] = {"shutdown", FIXED, call_shutdown},
    [WEFT__IO_READ_FIXED] = {"read_fixed", IN | FIXED | RW | DISK, call_read},
    [WEFT__IO_WRITE_FIXED] = {"write_fixed", OUT | FIXED | RW | DISK, call_write},
    [WEFT__IO_ACCEPT_MULTI] = {"accept_multi", IN | FIXED, NULL},
    [WEFT__IO_RECV_MULTI] = {"recv_multi", RETRY | IN, NULL},
    [WEFT__IO_OPENAT2] = {"openat2", BLOCKS, call_openat2},
};
_Static_assert(sizeof weft__io_kinds / sizeof weft__io_kinds[0] == WEFT__IO_KINDS,
               "one row of weft__io_kinds per enum weft__io_kind");
