/*
 * op.c - awaiting one I/O request: the part every operation shares.
 *
 * Steps, on the calling task's fiber:
 *  1. Refuse outside a task (-EPERM); deliver a pending cancellation (or a
 *     closing loop) as -ECANCELED before issuing anything.
 *  2. Start the request on this worker's reactor and pin the task to this
 *     worker while it is in flight (with several workers): its completion
 *     arrives here, and a cancellation must be issued to this same ring.
 *     If nothing else is ready to run here, submit it now (io_uring): one
 *     that completes at once is not waited for.
 *  3. Wait (weft__task_wait: cancellable; with epoll the deadline is a
 *     timer, with io_uring a linked timeout in the kernel).
 *  4. On cancellation or timeout, cancel in the kernel and wait, not
 *     cancellable, for the request's own completion: only then is the
 *     buffer the caller's again.
 *  5. Outcome: a request that completed (res >= 0) is reported even if a
 *     cancellation or timeout raced with it, and a taken cancellation is
 *     put back for the next suspension point; otherwise -ECANCELED or
 *     -ETIMEDOUT.
 *
 * The waker rule (runtime/future.h) holds trivially: the completion is
 * delivered on the worker the task is pinned to, so the reactor and the
 * task never run at the same time, and the op on the task's stack outlives
 * every access to it.
 */
#include "op.h"
#include "offload.h"
#include "clock.h"
#include "loop.h"
#include "task.h"
#include "worker.h"

#include <errno.h>

static int32_t finish(struct weft_task *t, int rc, const struct weft__io_op *op) {
  int32_t res = op->res;
  if (rc == -ECANCELED) {
    if (res >= 0) {
      weft__task_recancel(t);
      return res;
    }
    return -ECANCELED;
  }
  if (rc == -ETIMEDOUT) return res >= 0 ? res : -ETIMEDOUT;
  /* A linked timeout ends the request with -ECANCELED (or -EINTR for one a
   * kernel thread was running); we did not cancel it, so it timed out. */
  if ((res == -ECANCELED || res == -EINTR) && op->deadline && !op->cancelled) return -ETIMEDOUT;
  return res;
}

/* An op a task polls for itself (weft__io_await): its completion only
 * marks it done, since the task is running and is here to see it. */
static void mark_done(struct weft__io_op *op) {
  /* release: the task's acquire load of done sees res. */
  atomic_store_explicit(&op->done, 1, memory_order_release);
}

/* An op a task waits for: the reactor calls back wake_task. */
struct task_op {
  struct weft__io_op op; /* first */
  struct weft_task *task;
};

/* The completion callback, on the op's worker (the task is pinned there). */
static void wake_task(struct weft__io_op *op) {
  struct weft_task *t = ((struct task_op *)op)->task; /* read before done: the op may go once done is seen */
  /* release: the task's acquire load of done sees res. */
  atomic_store_explicit(&op->done, 1, memory_order_release);
  /* The op is over, so the task need not come back here: it is queued
   * where its own pinning says (stealable when unpinned). Its pinned field
   * still names this worker, so a canceller that wins the wake queues it
   * here, and it cannot run (and end) before we are done with it. */
  weft__task_wake_at(t, WEFT__SCHED_WAKE, weft__task_home(t));
}

ssize_t weft__io_await(const struct weft__io_req *req, uint64_t deadline_ns) {
  struct weft_task *t = weft__task_self();
  if (!t) return -EPERM;
  struct weft_loop *loop = t->fut.loop;
  if (atomic_load_explicit(&loop->closing, memory_order_relaxed) || weft__task_take_cancel(t))
    return -ECANCELED;
  struct weft__worker *w = weft__worker_self();
  struct weft__reactor *r = &w->reactor;
  if (!weft__reactor_can(r, WEFT__CAP_ASYNC_FILES) && weft__offload_wanted(req)) {
    struct weft__io_req q = *req;
    if (weft__io_fd_is_fixed(&q)) q.fd = weft__reactor_plain_fd(r, q.fd);
    return weft__offload_await(&q, deadline_ns);
  }
  /* Field by field, not an initializer: zeroing the whole op (rep stos)
   * doubled an epoll no-op's cost (15 -> 29 ns, perf). weft__reactor_start
   * sets the backend's fields. */
  struct task_op top;
  struct weft__io_op *op = &top.op;
  top.task = t;
  op->cb = wake_task;
  op->res = 0;
  op->cqe_flags = 0;
  op->req = *req;
  /* An open that waits on a kernel worker (WEFT__OPEN_WAIT) gets no linked
   * timeout: on Linux 6.18 one never fires for an openat blocked there (a
   * FIFO's end waiting for its partner), while an explicit cancel does
   * interrupt it. Its deadline is the task's timer, whose expiry cancels. */
  uint64_t kernel_deadline = deadline_ns;
  if (deadline_ns && (req->kind == WEFT__IO_OPENAT || req->kind == WEFT__IO_OPENAT2) &&
      (req->mask & WEFT__OPEN_WAIT))
    kernel_deadline = 0;
  int rc = weft__reactor_start(r, op, kernel_deadline);
  if (rc < 0) return rc;
  /* Nothing else would run before the scheduler submits this request and
   * reaps: do it here, and a request that completes at once (a NOP, a
   * cached read, data already in the socket) costs no suspension. The
   * completion comes back on this thread, inside the poll. */
  if (!atomic_load_explicit(&op->done, memory_order_relaxed) &&
      weft__reactor_can(r, WEFT__CAP_SUBMIT_INLINE)) {
    op->cb = mark_done;
    weft__worker_poll_inline(w, t, &op->done);
    op->cb = wake_task;
  }
  /* acquire: pairs with the reactor's release store (same thread here, but
   * the rule costs nothing). */
  if (atomic_load_explicit(&op->done, memory_order_acquire)) {
    if (op->res == WEFT__EOFFLOAD) return weft__offload_await(&op->req, deadline_ns);
    return finish(t, 0, op);
  }
  /* relaxed: only this task writes it while it runs; wakers read it after
   * the release CAS that suspends us (task.c). */
  if (!loop->solo) atomic_store_explicit(&weft__task_run_of(t)->pinned, (int)w->index, memory_order_relaxed);
  /* The deadline the kernel does not keep is the task's timer. */
  uint64_t timer = weft__reactor_can(r, WEFT__CAP_KERNEL_TIMEOUTS) ? deadline_ns - kernel_deadline : deadline_ns;
  weft__task_blocked(t, WEFT__BLOCK_IO, NULL, weft__io_blocked_arg(req));
  rc = weft__task_wait(t, &op->done, timer);
  if (rc != 0 && !atomic_load_explicit(&op->done, memory_order_acquire)) {
    /* Pinned: we resumed on w, the worker whose reactor holds the op. */
    weft__reactor_cancel(&weft__worker_self()->reactor, op);
    weft__task_wait_nocancel(t, &op->done, 0);
  }
  atomic_store_explicit(&weft__task_run_of(t)->pinned, weft__task_home(t), memory_order_relaxed);
  return finish(t, rc, op);
}
