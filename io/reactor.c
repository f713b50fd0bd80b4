/*
 * reactor.c - choosing a backend and the parts both backends share.
 *
 * Choice: io_uring unless it cannot be set up (the reason is kept for
 * weft_loop_backend_reason()), or $WEFT_IO_BACKEND / the loop config force
 * one. A forced io_uring that fails is an error, not a fallback: users who
 * ask for it want to know.
 */
#include "reactor.h"
#include "task.h"
#include "worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(WEFT_HAVE_VALGRIND_H)
#include <valgrind/valgrind.h>
#endif

int weft__reactor_init(struct weft__reactor *r, int want, unsigned entries, bool own_thread,
                       char *why, size_t whylen) {
  memset(r, 0, sizeof *r);
  r->wake_fd = -1;
  r->epfd = -1;
  if (why && whylen) why[0] = '\0';
#if defined(WEFT__HAVE_URING)
#if defined(WEFT_HAVE_VALGRIND_H)
  /* Valgrind does not see what the kernel writes into the rings and holds
   * its big lock across io_uring_enter: a blocked worker would stall all. */
  if (want == WEFT__IO_NONE && RUNNING_ON_VALGRIND) {
    snprintf(why, whylen, "running under Valgrind, which cannot follow io_uring");
    want = WEFT__IO_EPOLL;
  }
#endif
  if (want != WEFT__IO_EPOLL) {
    char reason[160];
    int rc = weft__ring_init(r, entries, own_thread, reason, sizeof reason);
    if (rc == 0) {
      r->backend = WEFT__IO_URING;
      return 0;
    }
    if (want == WEFT__IO_URING) {
      snprintf(why, whylen, "%s", reason);
      return rc;
    }
    snprintf(why, whylen, "%s", reason);
  }
#else
  (void)entries;
  (void)own_thread;
  if (want == WEFT__IO_URING) {
    snprintf(why, whylen, "built without liburing");
    return -ENOSYS;
  }
  if (want != WEFT__IO_EPOLL) snprintf(why, whylen, "built without liburing");
#endif
  char saved[160];
  snprintf(saved, sizeof saved, "%s", why ? why : "");
  char reason[160];
  int rc = weft__epoll_init(r, reason, sizeof reason);
  if (rc < 0) {
    snprintf(why, whylen, "%s", reason);
    return rc;
  }
  r->backend = WEFT__IO_EPOLL;
  snprintf(why, whylen, "%s", saved);
  return 0;
}

void weft__reactor_bind(struct weft__reactor *r) {
#if defined(WEFT__HAVE_URING)
  if (r->backend == WEFT__IO_URING && r->unbound) weft__ring_bind(r);
#else
  (void)r;
#endif
}

void weft__reactor_fini(struct weft__reactor *r) {
#if defined(WEFT__HAVE_URING)
  if (r->backend == WEFT__IO_URING) weft__ring_fini(r);
#endif
  if (r->backend == WEFT__IO_EPOLL) weft__epoll_fini(r);
  r->backend = WEFT__IO_NONE;
}

void weft__reactor_poll(struct weft__reactor *r) {
#if defined(WEFT__HAVE_URING)
  if (r->backend == WEFT__IO_URING) {
    weft__ring_poll(r, false, 0);
    return;
  }
#endif
  weft__epoll_poll(r, false, 0);
}

void weft__reactor_wait(struct weft__reactor *r, uint64_t deadline_ns) {
#if defined(WEFT__HAVE_URING)
  if (r->backend == WEFT__IO_URING) {
    weft__ring_poll(r, true, deadline_ns);
    return;
  }
#endif
  weft__epoll_poll(r, true, deadline_ns);
}

void weft__reactor_kick(struct weft__reactor *r) {
  uint64_t one = 1;
  /* Cannot fail short of a counter overflow (2^64 - 2 kicks unread). */
  ssize_t n = write(r->wake_fd, &one, sizeof one);
  (void)n;
}

int weft__reactor_start(struct weft__reactor *r, struct weft__io_op *op, uint64_t deadline_ns) {
  op->cancelled = 0;
  op->phase = 0;
  op->deadline = deadline_ns;
  atomic_init(&op->done, 0);
#if defined(WEFT__HAVE_URING)
  if (r->backend == WEFT__IO_URING) return weft__ring_start(r, op);
#endif
  return weft__epoll_start(r, op);
}

void weft__reactor_cancel(struct weft__reactor *r, struct weft__io_op *op) {
#if defined(WEFT__HAVE_URING)
  if (r->backend == WEFT__IO_URING) {
    weft__ring_cancel(r, op);
    return;
  }
#endif
  weft__epoll_cancel(r, op);
}

void weft__io_complete(struct weft__io_op *op, int32_t res, uint32_t flags) {
  op->res = res;
  op->cqe_flags = flags;
  if (op->cb) {
    op->cb(op);
    return;
  }
  struct weft_task *t = op->task; /* read before done: the op may go once done is seen */
  /* release: the task's acquire load of done sees res. */
  atomic_store_explicit(&op->done, 1, memory_order_release);
  /* The op is over, so the task need not come back here: it is queued
   * where its own pinning says (stealable when unpinned). Its pinned field
   * still names this worker, so a canceller that wins the wake queues it
   * here, and it cannot run (and end) before we are done with it. */
  weft__task_wake_at(t, WEFT__SCHED_WAKE, t->home);
}

int weft__reactor_register_buffers(struct weft__reactor *r, const struct iovec *iov, unsigned n) {
#if defined(WEFT__HAVE_URING)
  if (r->backend == WEFT__IO_URING) {
    int rc = n ? io_uring_register_buffers(&r->ring, iov, n) : io_uring_unregister_buffers(&r->ring);
    return rc == -ENXIO && !n ? 0 : rc; /* nothing was registered */
  }
#endif
  (void)r;
  (void)iov;
  (void)n;
  return 0; /* epoll: fixed-buffer requests are plain ones */
}

int weft__reactor_register_files(struct weft__reactor *r, const int *fds, unsigned n) {
#if defined(WEFT__HAVE_URING)
  if (r->backend == WEFT__IO_URING) {
    int rc = n ? io_uring_register_files(&r->ring, fds, n) : io_uring_unregister_files(&r->ring);
    if (rc == -ENXIO && !n) rc = 0;
    if (rc < 0) return rc;
  }
#endif
  r->fixed_fds = fds;
  r->nfixed_fds = n;
  return 0;
}
