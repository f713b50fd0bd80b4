/*
 * reactor.h (private) - one I/O completion source per worker: an io_uring
 * ring (ring.c) or, where io_uring cannot be used, an epoll set (epoll.c).
 *
 * Requests are described once (struct weft__io_req) and carried out by
 * either backend: the ring turns them into SQEs; epoll tries the system call
 * without blocking and, on EAGAIN, waits for readiness and tries again.
 *
 * Invariants:
 *  - A reactor is touched only by the thread running its worker (or by the
 *    owner of a loop that is not running), except weft__reactor_kick, which
 *    any thread may call.
 *  - An op (struct weft__io_op) lives on its waiter's stack, or inside an
 *    object that outlives it, until its completion has been delivered:
 *    res is written, then done is set (release), then the task is woken or
 *    cb is called. Nothing touches the op after that.
 *  - A task waiting on an op is pinned to the op's worker (op.c), so the
 *    completion, a cancellation and the task all meet on that one thread.
 *  - Submissions are batched: preparing a request queues it; the worker
 *    submits everything queued once per scheduler tick (weft__reactor_poll)
 *    or when it parks (weft__reactor_wait), in one system call.
 */
#ifndef WEFT_IO_REACTOR_H
#define WEFT_IO_REACTOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <linux/time_types.h>
#include "request.h"

#if defined(WEFT__HAVE_URING)
#include <liburing.h>
#endif

#ifndef IORING_CQE_F_MORE
#define IORING_CQE_F_MORE (1U << 1) /* builds without liburing never see it set */
#endif

struct weft_task;

/* epoll: "this regular-file request would block the worker": op.c hands
 * it to the offload pool (offload.h). Never returned to users. */
#define WEFT__EOFFLOAD (-100000)

enum weft__io_backend { WEFT__IO_NONE = 0, WEFT__IO_URING = 1, WEFT__IO_EPOLL = 2 };

struct weft__io_op;
typedef void (*weft__io_cb)(struct weft__io_op *op);

struct weft__io_op {
  struct weft_task *task;   /* woken on completion, unless cb is set */
  weft__io_cb cb;           /* called on the owning worker instead */
  _Atomic uint32_t done;    /* 1 once res is final; release by the reactor */
  int32_t res;              /* bytes, fd, 0, or -errno */
  uint32_t cqe_flags;       /* io_uring: the CQE's flags */
  struct weft__io_req req;
  uint64_t deadline;        /* absolute monotonic ns, 0 = none */
  uint8_t phase;            /* 1 while waiting for readiness after -EAGAIN */
  uint8_t cancelled;        /* weft__reactor_cancel was called */
  struct __kernel_timespec ts; /* ring: the linked timeout, read at submission */
  /* epoll backend: the readiness waiter list of the op's fd. */
  struct weft__io_op *ep_next;
  uint32_t ep_events;
};

struct weft__ep_fd; /* epoll.c */

struct weft__reactor {
  uint8_t backend;            /* enum weft__io_backend */
  bool single_issuer;         /* ring: SINGLE_ISSUER | DEFER_TASKRUN, one thread only */
  bool unbound;               /* ring: created disabled, waiting for weft__reactor_bind */
  int wake_fd;                /* eventfd: kicks a worker sleeping in the kernel */
  unsigned inflight;          /* ops submitted or queued and not yet completed */
  uint64_t wake_buf;          /* ring: the eventfd read's target */
  struct weft__io_op wake_op; /* ring: the pending eventfd read */
#if defined(WEFT__HAVE_URING)
  struct io_uring ring;
#endif
  const int *fixed_fds;       /* registered files (the loop's table), by index */
  unsigned nfixed_fds;
  int epfd;                   /* epoll */
  struct weft__ep_fd *ep_fds; /* epoll: per-fd waiter lists, indexed by fd */
  int ep_nfds;
};

/* Which backend a new loop uses: @want is WEFT__IO_NONE for "io_uring if it
 * works, else epoll" (and $WEFT_IO_BACKEND may force one). On fallback,
 * @why receives the one-line reason. Thread: any. */
int weft__reactor_init(struct weft__reactor *r, int want, unsigned entries, bool own_thread,
                       char *why, size_t whylen);
/* Called by the thread that will drive @r, before it does: a ring created
 * for one thread (@own_thread at init: SINGLE_ISSUER, DEFER_TASKRUN) is
 * enabled and bound to the caller here, once. No-op otherwise. */
void weft__reactor_bind(struct weft__reactor *r);
void weft__reactor_fini(struct weft__reactor *r);

/* Submits queued requests and delivers completions without blocking.
 * Cheap when nothing is in flight (no system call). */
void weft__reactor_poll(struct weft__reactor *r);
/* Submits queued requests and sleeps in the kernel until a completion,
 * a kick, or the absolute monotonic @deadline_ns (0 = none); then delivers
 * completions. */
void weft__reactor_wait(struct weft__reactor *r, uint64_t deadline_ns);
/* Wakes the reactor's thread out of weft__reactor_wait. Any thread. */
void weft__reactor_kick(struct weft__reactor *r);

/* Starts @op (its req filled in). Returns 0, or a negative errno when the
 * request could not be queued (the op will never complete). The ring links
 * an absolute-deadline timeout when @deadline_ns is nonzero; epoll leaves
 * timeouts to the waiter. With epoll, a request that completes at once is
 * delivered before this returns (done is set). */
int weft__reactor_start(struct weft__reactor *r, struct weft__io_op *op, uint64_t deadline_ns);
/* Asks the kernel to stop @op early; its completion still arrives (with
 * -ECANCELED, or its result if it finished first). */
void weft__reactor_cancel(struct weft__reactor *r, struct weft__io_op *op);

/* Registers buffers/files in @r (ring: io_uring_register_*; epoll: the
 * file table only). @fds may be NULL with n = 0 to unregister. */
int weft__reactor_register_buffers(struct weft__reactor *r, const struct iovec *iov, unsigned n);
int weft__reactor_register_files(struct weft__reactor *r, const int *fds, unsigned n);

/* Delivers a completion (both backends). */
void weft__io_complete(struct weft__io_op *op, int32_t res, uint32_t flags);

/* Backend entry points, selected by r->backend. */
int weft__ring_init(struct weft__reactor *r, unsigned entries, bool own_thread, char *why,
                    size_t whylen);
void weft__ring_bind(struct weft__reactor *r);
void weft__ring_fini(struct weft__reactor *r);
void weft__ring_poll(struct weft__reactor *r, bool block, uint64_t deadline_ns);
int weft__ring_start(struct weft__reactor *r, struct weft__io_op *op);
void weft__ring_cancel(struct weft__reactor *r, struct weft__io_op *op);

int weft__epoll_init(struct weft__reactor *r, char *why, size_t whylen);
void weft__epoll_fini(struct weft__reactor *r);
void weft__epoll_poll(struct weft__reactor *r, bool block, uint64_t deadline_ns);
int weft__epoll_start(struct weft__reactor *r, struct weft__io_op *op);
void weft__epoll_cancel(struct weft__reactor *r, struct weft__io_op *op);

#endif
