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
 *    res is written, then op->cb is called. The reactor touches the op no
 *    more after that (the cb may end its life).
 *  - The reactor calls down (backends, through struct weft__backend_ops)
 *    and back (op->cb), never up: it includes no scheduler header. The
 *    await layer (op.c) installs the cb that wakes a task.
 *  - A task waiting on an op is pinned to the op's worker (op.c), so the
 *    completion, a cancellation and the task all meet on that one thread.
 *  - Submissions are batched: preparing a request queues it; the worker
 *    submits everything queued once per scheduler tick (weft__reactor_poll)
 *    or when it parks (weft__reactor_wait), in one system call. Work that
 *    should see the whole tick before it becomes a request (a stream's
 *    writes) is queued as presubmit work and prepared just before.
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

/* epoll: "this regular-file request would block the worker": the await
 * layer hands it to the offload pool (offload.h). Never returned to users. */
#define WEFT__EOFFLOAD (-100000)

/* Which backend a loop asks for (config, $WEFT_IO_BACKEND). */
enum weft__io_backend { WEFT__IO_NONE = 0, WEFT__IO_URING = 1, WEFT__IO_EPOLL = 2 };

/* Where a backend is with an op (op->phase). */
enum weft__op_phase {
  WEFT__PHASE_ISSUE = 0,   /* the request itself (epoll: non-blocking) */
  WEFT__PHASE_READY = 1,   /* waiting for readiness, then issue again (epoll:
                              plainly, for fds without RWF_NOWAIT; connect:
                              read SO_ERROR) */
  WEFT__PHASE_NONBLOCK = 2, /* epoll accept: the listener was made non-blocking */
};

struct weft__io_op;
/* Called with the op's result in res (and cqe_flags), on the thread that
 * drives the op's reactor. A multishot request's cb runs once per result
 * with IORING_CQE_F_MORE set in cqe_flags, then once without. */
typedef void (*weft__io_cb)(struct weft__io_op *op);

struct weft__io_op {
  weft__io_cb cb;           /* the completion; set by whoever starts the op */
  _Atomic uint32_t done;    /* set (relaxed) when a backend finished the op
                               inside weft__reactor_start, without calling cb */
  int32_t res;              /* bytes, fd, 0, or -errno */
  uint32_t cqe_flags;       /* io_uring: the CQE's flags */
  struct weft__io_req req;
  uint64_t deadline;        /* absolute monotonic ns, 0 = none */
  uint8_t phase;            /* enum weft__op_phase: the backend's step */
  uint8_t cancelled;        /* weft__reactor_cancel was called */
  struct __kernel_timespec ts; /* ring: the linked timeout, read at submission */
  /* epoll backend: the readiness waiter list of the op's fd. */
  struct weft__io_op *ep_next;
  uint32_t ep_events;
  /* A standing op (weft__reactor_start_standing): a request no task
   * waits for, kept by an object (a stream's multishot receive, its
   * queued send). The reactor lists it while it is in flight and ends it
   * at weft__reactor_quiesce. */
  uint8_t standing;
  struct weft__io_op *st_prev, *st_next;
  /* WEFT__IO_RECV_MULTI: the received bytes (res of them) in a provided
   * buffer, valid only while cb runs: the buffer goes back to the kernel
   * when cb returns, so cb copies what it keeps. data_to_end: they reached
   * the buffer's end (a whole buffer filled, or the rest of one consumed
   * incrementally): more was probably waiting. */
  const void *data;
  bool data_to_end;
};

/* The size of a provided buffer: a multishot receive's result is at most
 * this. */
#define WEFT__RECV_BUF_SIZE 4096u

/* What a backend can do; the layers above test these, never which
 * backend runs. */
enum weft__io_cap {
  /* Deadlines travel with the request (linked timeouts): the waiter needs
   * no timer of its own. */
  WEFT__CAP_KERNEL_TIMEOUTS = 1u << 0,
  /* File requests never block the worker (kernel workers wait for the
   * disk): no offload pool needed. */
  WEFT__CAP_ASYNC_FILES = 1u << 1,
  /* WEFT__IO_ACCEPT_MULTI works (the kernel may still refuse: -EINVAL). */
  WEFT__CAP_MULTISHOT_ACCEPT = 1u << 2,
  /* A non-blocking poll is the submission the scheduler's next pass would
   * make first anyway (queued requests go in at poll time), so a task about
   * to wait with nothing else ready may make it itself and, if its request
   * completed at once, not wait at all (io/op.c). Not epoll's: its poll is
   * an extra system call that submits nothing. */
  WEFT__CAP_SUBMIT_INLINE = 1u << 3,
  /* WEFT__IO_RECV_MULTI works: a multishot receive into the reactor's
   * provided buffers (it may still end at once with -EINVAL on a kernel
   * without it, or fail to start where buffer rings are missing). */
  WEFT__CAP_MULTISHOT_RECV = 1u << 4,
  /* A request started now costs no system call of its own: it goes into
   * the kernel with the worker's next submission, which every scheduler
   * pass makes anyway (a stream's queued send, io/stream.c). Not epoll's:
   * its first try is the system call itself. */
  WEFT__CAP_QUEUED_SEND = 1u << 5,
  /* A WEFT__IO_RECV may take its buffer when it tries (struct
   * weft__recv_take, request.h): a receive that waits for readiness holds
   * none. Epoll's, whose receive is a try after readiness; io_uring's
   * request needs its buffer when it is submitted. */
  WEFT__CAP_LAZY_RECV = 1u << 6,
};

struct weft__reactor;

/* Work the reactor runs on its thread just before its next submission
 * (weft__reactor_presubmit): what a pass queued for the kernel is
 * prepared then, all of it at once (a stream's queued send takes every
 * write the pass made). Work must not queue presubmit work from inside
 * its fn: that waits for the next submission, and a wait runs the work
 * just before it sleeps, so the reactor may sleep on it with nothing
 * left to wake it (completions, which run inside a poll, may). */
struct weft__io_presubmit {
  void (*fn)(struct weft__io_presubmit *p, struct weft__reactor *r);
  struct weft__io_presubmit *next;
};

/* A backend: one static table each (ring.c, epoll.c). The reactor calls
 * through it; nothing else does. */
struct weft__backend_ops {
  const char *name;   /* "io_uring", "epoll": weft_loop_backend() */
  uint8_t id;         /* enum weft__io_backend */
  unsigned caps;      /* enum weft__io_cap */
  /* Sets up the backend's part of @r (wake_fd included); on failure
   * leaves nothing open and writes the reason into @why. */
  int (*init)(struct weft__reactor *r, unsigned entries, bool own_thread, char *why,
              size_t whylen);
  void (*bind)(struct weft__reactor *r); /* may be NULL */
  void (*fini)(struct weft__reactor *r);
  /* Submits what is queued; delivers completions; @block: sleeps until
   * one, a kick, or @deadline_ns (0: none). */
  void (*poll)(struct weft__reactor *r, bool block, uint64_t deadline_ns);
  /* Submits what is queued, delivering nothing. NULL: nothing is ever
   * queued (a backend without WEFT__CAP_QUEUED_SEND). */
  void (*submit)(struct weft__reactor *r);
  int (*start)(struct weft__reactor *r, struct weft__io_op *op);
  void (*cancel)(struct weft__reactor *r, struct weft__io_op *op);
  /* Registered buffers (n = 0: unregister). NULL: nothing to register,
   * fixed-buffer requests are plain ones. */
  int (*register_buffers)(struct weft__reactor *r, const struct iovec *iov, unsigned n);
  /* Registered files in the kernel, before the table is kept (n = 0:
   * unregister). NULL: the table alone is enough. */
  int (*register_files)(struct weft__reactor *r, const int *fds, unsigned n);
  /* Ends the standing ops (cancels them, delivers their last completions).
   * NULL: the backend has none. */
  void (*quiesce)(struct weft__reactor *r);
  /* Cancels the standing ops without waiting for their last completions.
   * NULL: the backend has none. */
  void (*release_standing)(struct weft__reactor *r);
};

extern const struct weft__backend_ops weft__epoll_ops;
#if defined(WEFT__HAVE_URING)
extern const struct weft__backend_ops weft__ring_ops;
#endif

struct weft__ep_fd; /* epoll.c */

struct weft__reactor {
  const struct weft__backend_ops *ops; /* NULL until init succeeded */
  int wake_fd;                /* eventfd: kicks a worker sleeping in the kernel */
  unsigned inflight;          /* ops submitted or queued and not yet completed */
  /* Statistics (weft_loop_worker_stats): ops started (every
   * weft__reactor_start) and finished (completed, cancelled or refused,
   * whether queued or done at once). Only the owner writes them (relaxed
   * load + store); other threads read them relaxed. */
  _Atomic uint64_t started, finished;
  const int *fixed_fds;       /* registered files (the loop's table), by index */
  unsigned nfixed_fds;
  /* Provided buffers for multishot receives (a power of two; 0: none, so
   * WEFT__IO_RECV_MULTI is refused with -ENOTSUP). Set once after init. */
  unsigned recv_bufs;
  /* Presubmit work (weft__reactor_presubmit), oldest first, and how
   * many items; the owner's. */
  struct weft__io_presubmit *presubmit, **presubmit_tail;
  unsigned presubmit_n;
  union {                     /* the backend's own state */
#if defined(WEFT__HAVE_URING)
    struct {
      struct io_uring ring;
      bool single_issuer;         /* SINGLE_ISSUER | DEFER_TASKRUN, one thread only */
      bool unbound;               /* created disabled, waiting for weft__reactor_bind */
      uint64_t wake_buf;          /* the eventfd read's target */
      struct weft__io_op wake_op; /* the pending eventfd read */
      /* Provided buffers of multishot receives (ring.c): set up on first
       * use; pbuf_err keeps a refusal so it is not retried. */
      struct io_uring_buf_ring *pbr;
      char *pbufs;
      int pbuf_err;
      /* Incremental consumption (ring.c, Linux 6.12): per buffer, the
       * bytes the kernel has filled so far; NULL when each completion
       * takes a whole buffer. pbuf_whole, set before first use, keeps
       * whole buffers (tests). */
      uint16_t *pbuf_off;
      bool pbuf_whole;
      struct weft__io_op *standing; /* in-flight standing ops (st_next) */
    } ur;
#endif
    struct {
      int epfd;
      struct weft__ep_fd *fds;    /* per-fd waiter lists, indexed by fd */
      int nfds;
      /* A busy loop's polls (epoll.c, busy_poll_skippable): `started` as
       * the last epoll_wait began, the ticks (ticks.h) before which the
       * next non-blocking poll may be skipped if it has not moved, and the
       * skipping interval in ticks. */
      uint64_t started_seen;
      uint64_t poll_by;
      uint64_t poll_gap;
    } ep;
  };
};

static inline void weft__reactor_note(_Atomic uint64_t *c) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

/* Sets up @r with the backend @want names: WEFT__IO_NONE for "io_uring if
 * it works, else epoll". On fallback, @why receives the one-line reason
 * the first choice was not taken ("" otherwise). Thread: any. */
int weft__reactor_init(struct weft__reactor *r, int want, unsigned entries, bool own_thread,
                       char *why, size_t whylen);
/* Called by the thread that will drive @r, before it does: a ring created
 * for one thread (@own_thread at init: SINGLE_ISSUER, DEFER_TASKRUN) is
 * enabled and bound to the caller here, once. No-op otherwise. */
void weft__reactor_bind(struct weft__reactor *r);
void weft__reactor_fini(struct weft__reactor *r);

static inline bool weft__reactor_can(const struct weft__reactor *r, unsigned cap) {
  return (r->ops->caps & cap) != 0;
}

/* Whether streams on @r receive ahead: the backend can, and the loop
 * gave it buffers. */
static inline bool weft__reactor_recv_ahead(const struct weft__reactor *r) {
  return weft__reactor_can(r, WEFT__CAP_MULTISHOT_RECV) && r->recv_bufs > 0;
}

/* How much presubmit work a pass gathers before it is submitted at once
 * (weft__reactor_presubmit): the system call is shared this many ways,
 * and the first item does not wait for the whole of a long pass. */
#define WEFT__PRESUBMIT_BATCH 16u

/* Runs @p->fn once, on @r's thread, just before @r next submits: at its
 * next poll, wait, quiesce or weft__reactor_submit, after what the
 * current pass does. @p must not be queued already. Owner thread.
 * Returns whether WEFT__PRESUBMIT_BATCH items are queued: the caller
 * then calls weft__reactor_submit once it holds no lock that the items'
 * work takes. */
bool weft__reactor_presubmit(struct weft__reactor *r, struct weft__io_presubmit *p);
/* Runs the presubmit work and submits what is queued, without waiting or
 * delivering completions (the next poll delivers them). Owner thread. */
void weft__reactor_submit(struct weft__reactor *r);

/* Submits queued requests and delivers completions without blocking.
 * Cheap when nothing is in flight (no system call). Presubmit work runs
 * first. */
void weft__reactor_poll(struct weft__reactor *r);
/* Submits queued requests and sleeps in the kernel until a completion,
 * a kick, or the absolute monotonic @deadline_ns (0 = none); then delivers
 * completions. */
void weft__reactor_wait(struct weft__reactor *r, uint64_t deadline_ns);
/* Wakes the reactor's thread out of weft__reactor_wait. Any thread. */
void weft__reactor_kick(struct weft__reactor *r);

/* Starts @op (its req and cb filled in). Returns 0, or a negative errno
 * when the request could not be queued (the op will never complete).
 * With WEFT__CAP_KERNEL_TIMEOUTS the request ends by itself at
 * @deadline_ns (nonzero); otherwise timeouts are the waiter's. A backend
 * may finish the request before this returns: then done is set and cb is
 * not called. */
int weft__reactor_start(struct weft__reactor *r, struct weft__io_op *op, uint64_t deadline_ns);
/* Starts a standing op (see struct weft__io_op): a request an object
 * keeps, that no task waits for. Same results as weft__reactor_start,
 * without a deadline. */
int weft__reactor_start_standing(struct weft__reactor *r, struct weft__io_op *op);
/* Asks the kernel to stop @op early; its completion still arrives (with
 * -ECANCELED, or its result if it finished first). */
void weft__reactor_cancel(struct weft__reactor *r, struct weft__io_op *op);

/* Ends @r's standing ops: presubmit work runs, then each standing op is
 * cancelled and its last completion delivered (its cb must not start it
 * again once op->cancelled is set, nor queue presubmit work). Owner
 * thread; the loop calls it at close, after the last task. */
void weft__reactor_quiesce(struct weft__reactor *r);

/* Cancels @r's standing ops and returns: their owners start them again
 * where they next need them (a stream's reader, on its worker then). A
 * worker turning standby calls it, so that the streams it received for
 * move with their readers (runtime/adapt.h). Owner thread. */
void weft__reactor_release_standing(struct weft__reactor *r);

/* Registers buffers/files in @r (ring: io_uring_register_*; epoll: the
 * file table only). @fds may be NULL with n = 0 to unregister. */
int weft__reactor_register_buffers(struct weft__reactor *r, const struct iovec *iov, unsigned n);
int weft__reactor_register_files(struct weft__reactor *r, const int *fds, unsigned n);

/* A registered file index (fd <= -2) as the plain fd in @r's table, -1 if
 * out of range; other fds unchanged. */
static inline int weft__reactor_plain_fd(const struct weft__reactor *r, int fd) {
  if (fd > -2) return fd;
  unsigned i = (unsigned)(-2 - fd);
  return i < r->nfixed_fds ? r->fixed_fds[i] : -1;
}

/* Delivers a completion (backends): records the result, calls cb. */
static inline void weft__io_complete(struct weft__io_op *op, int32_t res, uint32_t flags) {
  op->res = res;
  op->cqe_flags = flags;
  op->cb(op);
}

#endif
