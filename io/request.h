/*
 * request.h (private) - what an I/O request is, independent of the backend
 * that carries it out: its kind, its arguments, and one row per kind in
 * weft__io_kinds[] (request.c) saying how the kind behaves.
 *
 * Adding a kind is one enum constant and one row (the table's size is
 * checked against the enum at compile time), plus the ring's SQE
 * preparation (ring.c) when io_uring has an opcode for it. Nothing else
 * switches over kinds: backends and the offload pool read the row.
 *
 * Invariants: kind < WEFT__IO_KINDS for every request a reactor sees;
 * a row's call is NULL only for kinds a backend carries out itself
 * (connect and poll are state machines under epoll; multishot accept and
 * multishot receive are io_uring only).
 */
#ifndef WEFT_IO_REQUEST_H
#define WEFT_IO_REQUEST_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

enum weft__io_kind {
  WEFT__IO_NOP = 0,
  WEFT__IO_READ,     /* fd, buf, len, off ((uint64_t)-1: the file position) */
  WEFT__IO_WRITE,
  WEFT__IO_READV,    /* fd, buf = iovec array, len = count, off */
  WEFT__IO_WRITEV,
  WEFT__IO_RECV,     /* fd, buf, len, flags; or buf NULL and aux a struct
                        weft__recv_take (WEFT__CAP_LAZY_RECV backends) */
  WEFT__IO_SEND,
  WEFT__IO_RECVMSG,  /* fd, buf = msghdr, flags */
  WEFT__IO_SENDMSG,
  WEFT__IO_ACCEPT,   /* fd, buf = sockaddr, aux = socklen_t *, flags */
  WEFT__IO_CONNECT,  /* fd, buf = sockaddr, len */
  WEFT__IO_POLL,     /* fd, mask = POLLIN/POLLOUT... */
  WEFT__IO_OPENAT,   /* fd = dirfd, buf = path, flags, mode */
  WEFT__IO_CLOSE,    /* fd */
  WEFT__IO_FSYNC,    /* fd, flags (IORING_FSYNC_DATASYNC) */
  WEFT__IO_FALLOCATE,/* fd, flags = mode, off, len */
  WEFT__IO_STATX,    /* fd = dirfd, buf = path, flags, mask, aux = struct statx * */
  WEFT__IO_SHUTDOWN, /* fd, flags = how */
  WEFT__IO_READ_FIXED,  /* READ from registered buffer mask */
  WEFT__IO_WRITE_FIXED, /* WRITE from registered buffer mask */
  WEFT__IO_ACCEPT_MULTI, /* multishot accept on fd (backends with
                            WEFT__CAP_MULTISHOT_ACCEPT): each new fd is passed to
                            cb with IORING_CQE_F_MORE set, the final
                            completion (error, cancel) without it */
  WEFT__IO_RECV_MULTI,   /* multishot receive on fd (backends with
                            WEFT__CAP_MULTISHOT_RECV) into the reactor's
                            provided buffers: each result is passed to cb
                            (bytes in op->data), IORING_CQE_F_MORE set while
                            more follow; flags */
  WEFT__IO_OPENAT2,      /* fd = dirfd, buf = path, aux = struct open_how *,
                            len = its size */
  WEFT__IO_KINDS
};

struct weft__io_req {
  uint8_t kind; /* enum weft__io_kind */
  int fd;
  int flags;
  unsigned mask; /* POLL: the events; OPENAT/OPENAT2: WEFT__OPEN_WAIT or 0 */
  unsigned mode;
  void *buf;
  size_t len;
  uint64_t off;
  void *aux;
};

/* An open that must wait as open(2) does (a FIFO's end waiting for its
 * partner): io_uring issues it on a kernel worker (IOSQE_ASYNC) instead of
 * first trying it inline with O_NONBLOCK added, a try that fails a FIFO
 * opened for writing with no reader yet with -ENXIO (io/file.c). */
#define WEFT__OPEN_WAIT 1u

/* A receive's buffer, taken when the receive is tried rather than when it
 * starts (WEFT__IO_RECV with buf NULL and aux this, on a backend with
 * WEFT__CAP_LAZY_RECV): a receive that waits for readiness holds no buffer
 * (a stream's idle connection on the epoll backend, io/stream.c). The
 * backend calls take() on the op's worker thread just before a try, while
 * the op's task waits in it, and release() when that try found nothing
 * and the op goes back to waiting (the buffer is the taker's to give back
 * or keep; buf is taken again for the next try). */
struct weft__recv_take {
  int (*take)(struct weft__recv_take *t, void **buf, size_t *len); /* 0 or -ENOMEM */
  void (*release)(struct weft__recv_take *t);
};

/* What a kind is, as bits of its row. */
enum weft__io_kind_flag {
  WEFT__KIND_IN = 1u << 0,         /* would block waiting to read (POLLIN) */
  WEFT__KIND_OUT = 1u << 1,        /* would block waiting to write (POLLOUT) */
  WEFT__KIND_FIXED_FD = 1u << 2,   /* fd may name a registered file */
  WEFT__KIND_RW = 1u << 3,         /* preadv2/pwritev2-shaped (weft__io_req_vec) */
  WEFT__KIND_VEC = 1u << 4,        /* buf is an iovec array, len its count */
  WEFT__KIND_STORAGE = 1u << 5,    /* goes to a device, not a socket ... */
  WEFT__KIND_POSITIONED = 1u << 6, /* ... when it has an offset (off != -1) */
  WEFT__KIND_BLOCKING = 1u << 7,   /* may wait for a disk and has no readiness:
                                      without io_uring it runs on the offload pool */
  WEFT__KIND_RETRY = 1u << 8,      /* an -EAGAIN from the kernel (a non-blocking
                                      fd) means: wait for IN/OUT, issue again */
};

struct weft__io_kind_def {
  const char *name; /* for dumps and the in-flight table */
  unsigned flags;   /* enum weft__io_kind_flag */
  /* The request as one system call: non-blocking (MSG_DONTWAIT, RWF_NOWAIT)
   * when @nowait, plain otherwise. Returns >= 0 or -errno. NULL: see the
   * invariants above. */
  ssize_t (*call)(const struct weft__io_req *q, bool nowait);
};

extern const struct weft__io_kind_def weft__io_kinds[WEFT__IO_KINDS];

static inline const struct weft__io_kind_def *weft__io_kind(const struct weft__io_req *q) {
  return &weft__io_kinds[q->kind];
}

/* The request's system call (@k: its row, whose call is not NULL), taken again when a
 * signal interrupted it (-EINTR, nothing done), as Python's calls are
 * (PEP 475) and asyncio's programs therefore never see. A signal a program
 * handles without SA_RESTART can land on any thread that does not block
 * it: a worker's plain call after readiness, or an offload thread blocked
 * in an open of a FIFO, an fsync or a read of a slow file system. A close
 * is never taken again: Linux has released the fd even when close(2) says
 * -EINTR, and a second close could close a newer file that reused the
 * number (weft_close reports it as done, as Python's os.close does). */
static inline ssize_t weft__io_call(const struct weft__io_kind_def *k, const struct weft__io_req *q,
                                    bool nowait) {
  ssize_t n = k->call(q, nowait);
  while (__builtin_expect(n == -EINTR, 0) && q->kind != WEFT__IO_CLOSE) n = k->call(q, nowait);
  return n;
}

/* What a task waiting on @q notes for the dump (task.h, WEFT__BLOCK_IO):
 * the fd and the kind. */
static inline int64_t weft__io_blocked_arg(const struct weft__io_req *q) {
  return (int64_t)q->fd * 256 + q->kind;
}

/* An fd argument <= -2 names registered file -2 - fd (WEFT_FIXED_FILE) for
 * the kinds that take a plain fd. */
static inline bool weft__io_fd_is_fixed(const struct weft__io_req *q) {
  return q->fd <= -2 && (weft__io_kind(q)->flags & WEFT__KIND_FIXED_FD);
}

/* Storage requests (submitted at once by the ring; see ring.c). */
static inline bool weft__io_is_storage(const struct weft__io_req *q) {
  unsigned f = weft__io_kind(q)->flags;
  if (!(f & WEFT__KIND_STORAGE)) return false;
  return !(f & WEFT__KIND_POSITIONED) || q->off != (uint64_t)-1;
}

/* A read/write request (WEFT__KIND_RW) as preadv2/pwritev2 arguments: its
 * buffers (@one holds a single buffer), their count, and the offset in
 * *@off (-1: the file position). */
static inline int weft__io_req_vec(const struct weft__io_req *q, struct iovec *one,
                                   const struct iovec **iov, off_t *off) {
  *off = q->off == (uint64_t)-1 ? -1 : (off_t)q->off;
  if (weft__io_kind(q)->flags & WEFT__KIND_VEC) {
    *iov = q->buf;
    return (int)q->len;
  }
  one->iov_base = q->buf;
  one->iov_len = q->len;
  *iov = one;
  return 1;
}

#endif
