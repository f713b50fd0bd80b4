/*
 * ring.c - the io_uring backend of the reactor (see reactor.h).
 *
 * One ring per worker. Workers 1..N-1 are threads of their own for the
 * loop's life (runtime/loop.c), so their rings are SINGLE_ISSUER +
 * DEFER_TASKRUN (task work runs only when the owner asks for completions),
 * created disabled and bound to the thread when it starts
 * (weft__ring_bind). Worker 0 is whichever thread calls weft_loop_run_*()
 * (and close may come from yet another), so its ring takes submissions
 * from any thread: COOP_TASKRUN + TASKRUN_FLAG (no interrupt per
 * completion; pending work is flagged and collected on the next entry) --
 * unless the loop comes from weft_run, whose thread alone drives it: then
 * it is made and bound like the others (runtime/loop.c).
 * SUBMIT_ALL everywhere; each flag set falls back to the next when the
 * kernel rejects it (SINGLE_ISSUER/DEFER_TASKRUN: 6.1).
 *
 * Invariants:
 *  - user_data is the op's address, or 0 for requests whose completion we
 *    drop (linked timeouts, cancel requests); liburing's own timeout entry
 *    (LIBURING_UDATA_TIMEOUT) is dropped too.
 *  - A request that fails with -EAGAIN (a non-blocking fd on kernels that
 *    honour O_NONBLOCK in io_uring) is turned into a poll for readiness and
 *    then issued again (op->phase), keeping its deadline; a cancelled op is
 *    never re-issued, so a cancel cannot miss it between the two phases.
 *  - The wake eventfd always has a read pending, re-armed by its own
 *    completion: a write to it ends any wait in the kernel.
 *  - Provided buffers (multishot receives): one group per ring, set up by
 *    the owner thread on first use. The kernel owns every buffer except
 *    the one whose completion is being dispatched: it goes back to the
 *    ring as soon as the op's cb returns (the cb copies what it keeps), so
 *    a burst can exhaust them only between two reaps (-ENOBUFS ends the
 *    request; its owner starts it again).
 *  - Standing ops (op->standing) are on ur.standing exactly while in
 *    flight; quiesce cancels each and reaps until the list is empty.
 */
#include "reactor.h"
#include "deadline.h"
#include "alloc.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#define IGNORE_UD 0

/* Provided buffers: r->recv_bufs (256 by default) x 4 KiB in one mapping
 * (1 MiB of address space per ring that ever receives this way; pages are
 * touched as the kernel fills them). Where the kernel consumes them
 * incrementally (IOU_PBUF_RING_INC, Linux 6.12) a completion takes only
 * the bytes it received from the buffer at the ring's head, the next one
 * goes on in the same buffer (IORING_CQE_F_BUF_MORE: the kernel keeps
 * it), and a buffer goes back to the ring when a completion without that
 * flag says the kernel is done with it: small messages share a buffer, so
 * 256 buffers hold thousands of requests. The reactor keeps each buffer's
 * filled length (pbuf_off), since a completion's bytes start there.
 * Otherwise one buffer per completion, so the count bounds how many
 * completions may land between two reaps before -ENOBUFS, which a worker
 * with more busy connections than buffers meets (the receive then ends
 * and its owner starts it again: benchmarks/RESULTS.md, 2026-12-06
 * 08:45Z). */
#define PBUF_GROUP 0
#define PBUF_SIZE WEFT__RECV_BUF_SIZE
_Static_assert(PBUF_SIZE <= UINT16_MAX + 1u, "pbuf_off holds a buffer's filled length");
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1U << 4)
#endif
#define PBUF_RING_INC 2u /* IOU_PBUF_RING_INC: io_uring_buf_reg's flags */

/* io_uring_buf_reg as the kernel reads it (liburing 2.3 names the flags
 * field pad). */
struct pbuf_reg {
  uint64_t ring_addr;
  uint32_t ring_entries;
  uint16_t bgid;
  uint16_t flags;
  uint64_t resv[3];
};
_Static_assert(sizeof(struct pbuf_reg) == sizeof(struct io_uring_buf_reg), "the kernel's layout");

static const uint8_t required_ops[] = {
    IORING_OP_READ,     IORING_OP_WRITE,   IORING_OP_READV,        IORING_OP_WRITEV,
    IORING_OP_RECV,     IORING_OP_SEND,    IORING_OP_RECVMSG,      IORING_OP_SENDMSG,
    IORING_OP_ACCEPT,   IORING_OP_CONNECT, IORING_OP_POLL_ADD,     IORING_OP_OPENAT,
    IORING_OP_CLOSE,    IORING_OP_FSYNC,   IORING_OP_FALLOCATE,    IORING_OP_STATX,
    IORING_OP_SHUTDOWN, IORING_OP_NOP,     IORING_OP_LINK_TIMEOUT, IORING_OP_ASYNC_CANCEL,
    IORING_OP_OPENAT2,
};

static void arm_wake(struct weft__reactor *r);

static void wake_done(struct weft__io_op *op) {
  arm_wake((struct weft__reactor *)((char *)op - offsetof(struct weft__reactor, ur.wake_op)));
}

static struct io_uring_sqe *get_sqe(struct weft__reactor *r, unsigned need) {
  if (io_uring_sq_space_left(&r->ur.ring) < need) io_uring_submit(&r->ur.ring);
  if (io_uring_sq_space_left(&r->ur.ring) < need) return NULL;
  return io_uring_get_sqe(&r->ur.ring);
}

static void arm_wake(struct weft__reactor *r) {
  struct io_uring_sqe *sqe = get_sqe(r, 1);
  if (!sqe) return; /* the ring is wedged; the next wait times out instead */
  io_uring_prep_read(sqe, r->wake_fd, &r->ur.wake_buf, sizeof r->ur.wake_buf, 0);
  io_uring_sqe_set_data(sqe, &r->ur.wake_op);
}

/* Completion queue entries: a pass's completions must fit between two
 * reaps. A busy stream makes two a pass (its standing receive's and its
 * queued send's), so 1,000 connections on a worker made ~2,000 where a
 * queue of 4x 256 entries held 1,024: the rest went to the kernel's
 * overflow list (an allocation each), and a multishot receive that cannot
 * post its completion ends and is armed again (a poll each). That cost the
 * stream echo over 1,000 connections 1.15x the CPU per request
 * (benchmarks/RESULTS.md, 2026-12-06 10:04Z). 8,192 entries (128 KiB) hold
 * 4,000 busy streams a worker; IORING_MAX_CQ_ENTRIES caps it. NODROP
 * keeps what does not fit. */
#define CQ_MIN 8192u
#define CQ_MAX 65536u
#define CQ_SMALL_FACTOR 4u

static unsigned cq_size_small(unsigned entries) {
  unsigned cq = entries * CQ_SMALL_FACTOR; /* entries <= 32768: no wrap */
  return cq > CQ_MAX ? CQ_MAX : cq;
}

static unsigned cq_size(unsigned entries) {
  unsigned cq = cq_size_small(entries);
  return cq < CQ_MIN ? CQ_MIN : cq;
}

static int ring_init(struct weft__reactor *r, unsigned entries, bool own_thread, char *why,
                    size_t whylen) {
  static const unsigned optional[] = {
      /* One thread drives the ring: task work runs only when it asks for
       * completions (DEFER_TASKRUN), never as an interruption. Created
       * disabled, bound to its thread by weft__ring_bind. */
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED |
          IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL,
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL,
      IORING_SETUP_SUBMIT_ALL, 0};
  int rc = -EINVAL;
  unsigned flags = 0;
  unsigned cq = cq_size(entries), cq_small = cq_size_small(entries);
  for (size_t i = own_thread ? 0 : 1; i < sizeof optional / sizeof optional[0]; i++) {
    for (;;) {
      struct io_uring_params p;
      memset(&p, 0, sizeof p);
      p.flags = optional[i] | IORING_SETUP_CQSIZE;
      p.cq_entries = cq;
      rc = io_uring_queue_init_params(entries, &r->ur.ring, &p);
      /* Before 5.12 a ring's memory counts against RLIMIT_MEMLOCK (64 KiB
       * on some systems): the small queue still works, with overflows. */
      if (rc != -ENOMEM || cq == cq_small) break;
      cq = cq_small;
    }
    flags = optional[i];
    if (rc != -EINVAL) break;
  }
  if (rc < 0) {
    const char *hint = rc == -EPERM    ? " (kernel.io_uring_disabled or a seccomp filter)"
                       : rc == -ENOSYS ? " (kernel built without io_uring)"
                       : rc == -ENOMEM ? " (RLIMIT_MEMLOCK too low for the ring?)"
                                       : "";
    snprintf(why, whylen, "io_uring_setup failed: %s%s", strerror(-rc), hint);
    return rc;
  }
  if (!(r->ur.ring.features & IORING_FEAT_NODROP) || !(r->ur.ring.features & IORING_FEAT_EXT_ARG)) {
    snprintf(why, whylen, "io_uring lacks NODROP/EXT_ARG (kernel older than 5.11)");
    io_uring_queue_exit(&r->ur.ring);
    return -ENOSYS;
  }
  struct io_uring_probe *probe = io_uring_get_probe_ring(&r->ur.ring);
  if (!probe) {
    snprintf(why, whylen, "io_uring probe failed (kernel older than 5.6)");
    io_uring_queue_exit(&r->ur.ring);
    return -ENOSYS;
  }
  for (size_t i = 0; i < sizeof required_ops; i++) {
    if (!io_uring_opcode_supported(probe, required_ops[i])) {
      snprintf(why, whylen, "io_uring lacks opcode %u (kernel older than 5.11)",
               required_ops[i]);
      io_uring_free_probe(probe);
      io_uring_queue_exit(&r->ur.ring);
      return -ENOSYS;
    }
  }
  io_uring_free_probe(probe);
  r->wake_fd = eventfd(0, EFD_CLOEXEC);
  if (r->wake_fd < 0) {
    rc = -errno;
    snprintf(why, whylen, "eventfd failed: %s", strerror(errno));
    io_uring_queue_exit(&r->ur.ring);
    return rc;
  }
  memset(&r->ur.wake_op, 0, sizeof r->ur.wake_op);
  r->ur.wake_op.cb = wake_done;
  r->ur.single_issuer = (flags & IORING_SETUP_SINGLE_ISSUER) != 0;
  r->ur.unbound = (flags & IORING_SETUP_R_DISABLED) != 0;
  if (!r->ur.unbound) arm_wake(r);
  return 0;
}

static void ring_bind(struct weft__reactor *r) {
  /* The ring belongs to the calling thread from now on (SINGLE_ISSUER). */
  /* liburing 2.3 declares io_uring_enable_rings but does not export it. */
  syscall(__NR_io_uring_register, r->ur.ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
  r->ur.unbound = false;
  arm_wake(r);
}

static size_t pbuf_map_len(const struct weft__reactor *r) {
  return r->recv_bufs * sizeof(struct io_uring_buf) + (size_t)r->recv_bufs * PBUF_SIZE;
}

/* IORING_REGISTER_PBUF_RING with @flags: 0 or -errno. */
static int register_pbuf_ring(struct weft__reactor *r, struct pbuf_reg *reg, uint16_t flags) {
  reg->flags = flags;
  return syscall(__NR_io_uring_register, r->ur.ring.ring_fd, IORING_REGISTER_PBUF_RING, reg, 1) < 0
             ? -errno
             : 0;
}

/* Sets up the provided buffers on first use: 0, or why not (kept, so a
 * kernel without buffer rings is asked once). */
static int pbuf_setup(struct weft__reactor *r) {
  if (r->ur.pbr) return 0;
  if (r->ur.pbuf_err) return r->ur.pbuf_err;
  if (!r->recv_bufs) return -ENOTSUP; /* the loop turned receiving ahead off */
  void *m = mmap(NULL, pbuf_map_len(r), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return -ENOMEM; /* not kept: memory may come back */
  struct pbuf_reg reg;
  memset(&reg, 0, sizeof reg);
  reg.ring_addr = (uint64_t)(uintptr_t)m;
  reg.ring_entries = r->recv_bufs;
  reg.bgid = PBUF_GROUP;
  /* Incremental where the kernel has it (6.12; EINVAL before), else
   * whole buffers. */
  uint16_t *off = r->ur.pbuf_whole ? NULL : weft__calloc(r->recv_bufs * sizeof *off);
  if (off && register_pbuf_ring(r, &reg, PBUF_RING_INC) != 0) {
    weft__free(off, r->recv_bufs * sizeof *off);
    off = NULL;
  }
  int rc = off ? 0 : register_pbuf_ring(r, &reg, 0);
  if (rc < 0) {
    munmap(m, pbuf_map_len(r));
    r->ur.pbuf_err = rc;
    return rc;
  }
  r->ur.pbuf_off = off;
  r->ur.pbr = m;
  r->ur.pbufs = (char *)m + r->recv_bufs * sizeof(struct io_uring_buf);
  io_uring_buf_ring_init(r->ur.pbr);
  int mask = io_uring_buf_ring_mask(r->recv_bufs);
  for (unsigned i = 0; i < r->recv_bufs; i++)
    io_uring_buf_ring_add(r->ur.pbr, r->ur.pbufs + (size_t)i * PBUF_SIZE, PBUF_SIZE, (unsigned short)i,
                          mask, (int)i);
  io_uring_buf_ring_advance(r->ur.pbr, (int)r->recv_bufs); /* a release store of the tail */
  return 0;
}

static char *pbuf_base(struct weft__reactor *r, unsigned bid) {
  return r->ur.pbufs + (size_t)bid * PBUF_SIZE;
}

/* Where a completion's bytes are: its buffer, after what earlier
 * completions filled of it (incremental consumption). */
static char *pbuf_of(struct weft__reactor *r, uint32_t cqe_flags) {
  unsigned bid = cqe_flags >> IORING_CQE_BUFFER_SHIFT;
  return pbuf_base(r, bid) + (r->ur.pbuf_off ? r->ur.pbuf_off[bid] : 0);
}

/* After a completion of @res bytes into a buffer: the kernel keeps it (a
 * partly filled incremental one: its filled length grows), or it goes back
 * to the ring whole. */
static void pbuf_consumed(struct weft__reactor *r, uint32_t cqe_flags, int32_t res) {
  unsigned short bid = (unsigned short)(cqe_flags >> IORING_CQE_BUFFER_SHIFT);
  if (r->ur.pbuf_off) {
    if (cqe_flags & IORING_CQE_F_BUF_MORE) {
      if (res > 0) r->ur.pbuf_off[bid] = (uint16_t)(r->ur.pbuf_off[bid] + (uint32_t)res);
      return;
    }
    r->ur.pbuf_off[bid] = 0;
  }
  io_uring_buf_ring_add(r->ur.pbr, pbuf_base(r, bid), PBUF_SIZE, bid,
                        io_uring_buf_ring_mask(r->recv_bufs), 0);
  io_uring_buf_ring_advance(r->ur.pbr, 1);
}

static void ring_fini(struct weft__reactor *r) {
  io_uring_queue_exit(&r->ur.ring); /* cancels the wake read; drops the buffer ring */
  if (r->ur.pbr) munmap(r->ur.pbr, pbuf_map_len(r));
  r->ur.pbr = NULL;
  if (r->ur.pbuf_off) weft__free(r->ur.pbuf_off, r->recv_bufs * sizeof *r->ur.pbuf_off);
  r->ur.pbuf_off = NULL;
  close(r->wake_fd);
}

/* The readiness a request waits for after -EAGAIN (0: it never does). */
static unsigned poll_mask(const struct weft__io_req *q) {
  unsigned f = weft__io_kind(q)->flags;
  if (!(f & WEFT__KIND_RETRY)) return 0;
  return f & WEFT__KIND_IN ? POLLIN : POLLOUT;
}

/* Each kind as an SQE: one row per kind (request.h), in enum order. */
typedef void (*prep_fn)(struct io_uring_sqe *sqe, const struct weft__io_req *q);

static void prep_nop(struct io_uring_sqe *s, const struct weft__io_req *q) {
  (void)q;
  io_uring_prep_nop(s);
}
static void prep_read(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_read(s, q->fd, q->buf, (unsigned)q->len, q->off);
}
static void prep_write(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_write(s, q->fd, q->buf, (unsigned)q->len, q->off);
}
static void prep_readv(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_readv(s, q->fd, q->buf, (unsigned)q->len, q->off);
}
static void prep_writev(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_writev(s, q->fd, q->buf, (unsigned)q->len, q->off);
}
static void prep_recv(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_recv(s, q->fd, q->buf, q->len, q->flags);
}
static void prep_send(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_send(s, q->fd, q->buf, q->len, q->flags | MSG_NOSIGNAL);
}
static void prep_recvmsg(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_recvmsg(s, q->fd, q->buf, (unsigned)q->flags);
}
static void prep_sendmsg(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_sendmsg(s, q->fd, q->buf, (unsigned)q->flags | MSG_NOSIGNAL);
}
static void prep_accept(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_accept(s, q->fd, q->buf, q->aux, q->flags);
}
static void prep_connect(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_connect(s, q->fd, q->buf, (socklen_t)q->len);
}
static void prep_poll(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_poll_add(s, q->fd, q->mask);
}
static void prep_openat(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_openat(s, q->fd, q->buf, q->flags, q->mode);
  if (q->mask & WEFT__OPEN_WAIT) s->flags |= IOSQE_ASYNC;
}
static void prep_openat2(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_openat2(s, q->fd, q->buf, q->aux);
  if (q->mask & WEFT__OPEN_WAIT) s->flags |= IOSQE_ASYNC;
}
static void prep_close(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_close(s, q->fd);
}
static void prep_fsync(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_fsync(s, q->fd, (unsigned)q->flags);
}
static void prep_fallocate(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_fallocate(s, q->fd, q->flags, (off_t)q->off, (off_t)q->len);
}
static void prep_statx(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_statx(s, q->fd, q->buf, q->flags, q->mask, q->aux);
}
static void prep_shutdown(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_shutdown(s, q->fd, q->flags);
}
static void prep_read_fixed(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_read_fixed(s, q->fd, q->buf, (unsigned)q->len, q->off, (int)q->mask);
}
static void prep_write_fixed(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_write_fixed(s, q->fd, q->buf, (unsigned)q->len, q->off, (int)q->mask);
}
static void prep_accept_multi(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_multishot_accept(s, q->fd, NULL, NULL, q->flags);
}
static void prep_recv_multi(struct io_uring_sqe *s, const struct weft__io_req *q) {
  io_uring_prep_recv_multishot(s, q->fd, NULL, 0, q->flags);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = PBUF_GROUP;
}

static const prep_fn preps[] = {
    [WEFT__IO_NOP] = prep_nop,
    [WEFT__IO_READ] = prep_read,
    [WEFT__IO_WRITE] = prep_write,
    [WEFT__IO_READV] = prep_readv,
    [WEFT__IO_WRITEV] = prep_writev,
    [WEFT__IO_RECV] = prep_recv,
    [WEFT__IO_SEND] = prep_send,
    [WEFT__IO_RECVMSG] = prep_recvmsg,
    [WEFT__IO_SENDMSG] = prep_sendmsg,
    [WEFT__IO_ACCEPT] = prep_accept,
    [WEFT__IO_CONNECT] = prep_connect,
    [WEFT__IO_POLL] = prep_poll,
    [WEFT__IO_OPENAT] = prep_openat,
    [WEFT__IO_CLOSE] = prep_close,
    [WEFT__IO_FSYNC] = prep_fsync,
    [WEFT__IO_FALLOCATE] = prep_fallocate,
    [WEFT__IO_STATX] = prep_statx,
    [WEFT__IO_SHUTDOWN] = prep_shutdown,
    [WEFT__IO_READ_FIXED] = prep_read_fixed,
    [WEFT__IO_WRITE_FIXED] = prep_write_fixed,
    [WEFT__IO_ACCEPT_MULTI] = prep_accept_multi,
    [WEFT__IO_RECV_MULTI] = prep_recv_multi,
    [WEFT__IO_OPENAT2] = prep_openat2,
};
_Static_assert(sizeof preps / sizeof preps[0] == WEFT__IO_KINDS, "one SQE preparation per kind");

static void prep(struct io_uring_sqe *sqe, struct weft__io_op *op) {
  if (op->phase == WEFT__PHASE_READY) io_uring_prep_poll_add(sqe, op->req.fd, poll_mask(&op->req));
  else preps[op->req.kind](sqe, &op->req);
}

static struct __kernel_timespec kernel_ts(uint64_t ns) {
  struct timespec ts = weft__timespec(ns);
  return (struct __kernel_timespec){.tv_sec = ts.tv_sec, .tv_nsec = ts.tv_nsec};
}

/* Queues @op (its current phase) with its linked timeout. */
static int issue(struct weft__reactor *r, struct weft__io_op *op) {
  unsigned need = op->deadline ? 2 : 1;
  struct io_uring_sqe *sqe = get_sqe(r, need);
  if (!sqe) return -EBUSY;
  prep(sqe, op);
  if (weft__io_fd_is_fixed(&op->req)) {
    sqe->fd = -2 - op->req.fd;
    sqe->flags |= IOSQE_FIXED_FILE;
  }
  io_uring_sqe_set_data(sqe, op);
  if (op->deadline) {
    sqe->flags |= IOSQE_IO_LINK;
    struct io_uring_sqe *t = io_uring_get_sqe(&r->ur.ring); /* space checked above */
    op->ts = kernel_ts(op->deadline);
    io_uring_prep_link_timeout(t, &op->ts, IORING_TIMEOUT_ABS);
    io_uring_sqe_set_data64(t, IGNORE_UD);
  }
  return 0;
}

static void standing_link(struct weft__reactor *r, struct weft__io_op *op) {
  op->st_prev = NULL;
  op->st_next = r->ur.standing;
  if (op->st_next) op->st_next->st_prev = op;
  r->ur.standing = op;
}

static void standing_unlink(struct weft__reactor *r, struct weft__io_op *op) {
  if (op->st_prev) op->st_prev->st_next = op->st_next;
  else r->ur.standing = op->st_next;
  if (op->st_next) op->st_next->st_prev = op->st_prev;
}

static int ring_start(struct weft__reactor *r, struct weft__io_op *op) {
  if (op->req.kind == WEFT__IO_RECV_MULTI) {
    int rc = pbuf_setup(r);
    if (rc) return rc;
  }
  int rc = issue(r, op);
  if (rc) return rc;
  r->inflight++;
  if (op->standing) standing_link(r, op);
  /* Storage requests go to the device at once rather than with the tick's
   * batch. Measured on virtio-blk, 4 KiB O_DIRECT random reads at depth 32:
   * one submission per tick (~32 requests, dispatched together under the
   * block layer's plug) made 68k IOPS; one submission per request 81k, as
   * fio's 86k. Sockets keep the batching, which is where it pays. */
  if (weft__io_is_storage(&op->req)) io_uring_submit(&r->ur.ring);
  return 0;
}

static void ring_cancel(struct weft__reactor *r, struct weft__io_op *op) {
  op->cancelled = 1;
  struct io_uring_sqe *sqe = get_sqe(r, 1);
  if (!sqe) return; /* cannot happen after a submit freed the queue; the op ends on its own */
  io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
  io_uring_sqe_set_data64(sqe, IGNORE_UD);
}

static void dispatch(struct weft__reactor *r, uint64_t ud, int32_t res, uint32_t flags) {
  if (ud == IGNORE_UD || ud == LIBURING_UDATA_TIMEOUT) return;
  struct weft__io_op *op = (struct weft__io_op *)(uintptr_t)ud;
  if (op == &r->ur.wake_op) {
    wake_done(op);
    return;
  }
  /* A provided buffer is the op's while cb runs, the kernel's after. */
  bool buffer = (flags & IORING_CQE_F_BUFFER) && r->ur.pbr;
  op->data = buffer ? pbuf_of(r, flags) : NULL;
  op->data_to_end = buffer && res > 0 &&
                    (const char *)op->data + res == pbuf_base(r, flags >> IORING_CQE_BUFFER_SHIFT) + PBUF_SIZE;
  if (flags & IORING_CQE_F_MORE) { /* one result of a multishot request: more follow */
    weft__io_complete(op, res, flags);
    if (buffer) pbuf_consumed(r, flags, res);
    return;
  }
  if (res == -EAGAIN && op->phase == WEFT__PHASE_ISSUE && poll_mask(&op->req) && !op->cancelled) {
    op->phase = WEFT__PHASE_READY; /* wait for readiness, then issue it again */
    if (issue(r, op) == 0) return;
  } else if (op->phase == WEFT__PHASE_READY && res >= 0 && !op->cancelled) {
    op->phase = WEFT__PHASE_ISSUE;
    if (issue(r, op) == 0) return;
  } else if (op->phase == WEFT__PHASE_READY && res >= 0) {
    res = -ECANCELED;
  }
  r->inflight--;
  weft__reactor_note(&r->finished);
  if (op->standing) standing_unlink(r, op);
  weft__io_complete(op, res, flags); /* may free op, or start it again */
  if (buffer) pbuf_consumed(r, flags, res);
}

/* Dispatches the entries that were in the completion queue when it began,
 * and no more: those posted meanwhile wait for the next poll. A reap that
 * drained the queue until it found it empty never ended while completions
 * kept coming, as they do when each one it dispatches wakes a task on
 * another worker whose next request completes here, and the worker's pass
 * (its tasks, timers, role changes) waited behind it: test_adapt's
 * a_grow_hands_standing_receives_back caught a worker that reaped 25
 * completions in one poll, preempted at each wake-up it sent. */
static unsigned reap(struct weft__reactor *r) {
  unsigned total = 0, avail = io_uring_cq_ready(&r->ur.ring);
  while (total < avail) {
    struct io_uring_cqe *cqe;
    unsigned head, n = 0, want = avail - total < 64 ? avail - total : 64;
    /* Copy each entry out before dispatching: dispatch may submit, and the
     * entries are the kernel's once we advance. */
    struct { uint64_t ud; int32_t res; uint32_t flags; } batch[64];
    io_uring_for_each_cqe(&r->ur.ring, head, cqe) {
      batch[n].ud = cqe->user_data;
      batch[n].res = cqe->res;
      batch[n].flags = cqe->flags;
      if (++n == want) break;
    }
    if (!n) break;
    io_uring_cq_advance(&r->ur.ring, n);
    for (unsigned i = 0; i < n; i++) dispatch(r, batch[i].ud, batch[i].res, batch[i].flags);
    total += n;
  }
  return total;
}

static void ring_poll(struct weft__reactor *r, bool block, uint64_t deadline_ns) {
  struct io_uring *ring = &r->ur.ring;
  if (!block) {
    bool pending = IO_URING_READ_ONCE(*ring->sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW);
    if (io_uring_sq_ready(ring)) {
      /* With DEFER_TASKRUN, completions appear only when we ask for them. */
      if (r->ur.single_issuer) io_uring_submit_and_get_events(ring);
      else io_uring_submit(ring);
    } else if (pending) {
      io_uring_get_events(ring);
    }
    /* reap's frame holds a 1 KiB batch: an empty ring (the common case of
     * a poll between passes) skips it, and the stack lines it would touch
     * (perf: most of a poll's samples, on the task's stack). */
    if (io_uring_cq_ready(ring)) reap(r);
    return;
  }
  if (io_uring_cq_ready(ring) == 0) {
    struct io_uring_cqe *cqe;
    if (deadline_ns) {
      struct __kernel_timespec ts = kernel_ts((uint64_t)weft__deadline_left(deadline_ns));
      io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, NULL);
    } else {
      io_uring_submit_and_wait(ring, 1);
    }
  }
  reap(r);
}

static void ring_submit(struct weft__reactor *r) {
  if (io_uring_sq_ready(&r->ur.ring)) io_uring_submit(&r->ur.ring);
}

static int ring_register_buffers(struct weft__reactor *r, const struct iovec *iov, unsigned n) {
  int rc = n ? io_uring_register_buffers(&r->ur.ring, iov, n) : io_uring_unregister_buffers(&r->ur.ring);
  return rc == -ENXIO && !n ? 0 : rc; /* nothing was registered */
}

static int ring_register_files(struct weft__reactor *r, const int *fds, unsigned n) {
  int rc = n ? io_uring_register_files(&r->ur.ring, fds, n) : io_uring_unregister_files(&r->ur.ring);
  return rc == -ENXIO && !n ? 0 : rc; /* nothing was registered */
}

static void ring_release_standing(struct weft__reactor *r) {
  for (struct weft__io_op *op = r->ur.standing; op; op = op->st_next)
    if (!op->cancelled) ring_cancel(r, op);
}

static void ring_quiesce(struct weft__reactor *r) {
  /* A cancelled op's cb does not start it again (reactor.h), so the list
   * only shrinks once each op on it has been cancelled. */
  ring_release_standing(r);
  while (r->ur.standing) ring_poll(r, true, 0);
}

const struct weft__backend_ops weft__ring_ops = {
    .name = "io_uring",
    .id = WEFT__IO_URING,
    .caps = WEFT__CAP_KERNEL_TIMEOUTS | WEFT__CAP_ASYNC_FILES | WEFT__CAP_MULTISHOT_ACCEPT |
            WEFT__CAP_SUBMIT_INLINE | WEFT__CAP_MULTISHOT_RECV | WEFT__CAP_QUEUED_SEND,
    .init = ring_init,
    .bind = ring_bind,
    .fini = ring_fini,
    .poll = ring_poll,
    .submit = ring_submit,
    .start = ring_start,
    .cancel = ring_cancel,
    .register_buffers = ring_register_buffers,
    .register_files = ring_register_files,
    .quiesce = ring_quiesce,
    .release_standing = ring_release_standing,
};
