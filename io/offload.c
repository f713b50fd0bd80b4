/*
 * offload.c - blocking file system calls on helper threads, for the epoll
 * backend (io_uring needs none: its kernel workers do this).
 *
 * epoll cannot wait for a disk: a regular file is always "ready". Without
 * io_uring, a read that misses the page cache, an fsync, an fallocate, an
 * open or a statx would block the worker thread and every task queued on
 * it. Such requests go to a process-wide pool of threads instead (libuv's
 * approach), and the task waits for the result like for any completion.
 *
 * Pool: one process-wide instance of runtime/pool.c: threads start on
 * demand, up to WEFT__OFFLOAD_MAX, and leave after OFFLOAD_IDLE_NS without
 * work. Jobs live on the waiting task's stack.
 *
 * The pool runs generic work (struct weft__pool_work): file system
 * calls here, getaddrinfo for net.c, each doing its own completion.
 *
 * fork: the pool is process-wide, and a forked child has none of its
 * threads. pthread_atfork handlers (registered on first use) hold the
 * pool's lock across fork() so the child never inherits it mid-change, and
 * reset the pool in the child: no threads, nothing queued (queued work
 * belonged to the parent's loops, which the child cannot run anyway), so
 * the child's first job starts a thread again.
 *
 * Invariants: the queue and each work's state are the pool's (pool.c); a
 * file job follows the waker rule (runtime/future.h) with its own lock:
 * the pool thread sets fired and wakes the task under it, the task takes
 * it before leaving, and a job that has started is always waited for (its
 * buffer is in use), so a job is never touched after its task moved on.
 */
#include "offload.h"
#include "alloc.h"
#include "mutex.h"
#include "task.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>


/* Justification: an idle helper thread costs a stack and a kernel task;
 * ten seconds without work means the burst is over (Tokio's blocking pool
 * keeps threads as long). */
#define OFFLOAD_IDLE_NS (10 * 1000000000LL)

static struct weft__pool *pool; /* process-wide; made once, never freed */
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void) { weft__pool_fork_prepare(pool); }
static void fork_parent(void) { weft__pool_fork_parent(pool); }
static void fork_child(void) { weft__pool_fork_child(pool); }

static void make_pool(void) {
  struct weft__pool_config cfg = {
      .max_threads = WEFT__OFFLOAD_MAX, .idle_ns = OFFLOAD_IDLE_NS, .name = "weft-offload"};
  if (weft__pool_new(&cfg, &pool) == 0) pthread_atfork(fork_prepare, fork_parent, fork_child);
}

int weft__offload_submit(struct weft__pool_work *w) {
  pthread_once(&pool_once, make_pool);
  return pool ? weft__pool_submit(pool, w) : -EAGAIN;
}

bool weft__offload_unqueue(struct weft__pool_work *w) {
  return pool && weft__pool_unqueue(pool, w);
}

/* ---- file system calls (epoll backend) ------------------------------------ */

struct file_job {
  struct weft__pool_work work; /* first */
  struct weft__io_req req;
  struct weft_task *task;
  struct weft__mutex lock;        /* the waker rule's */
  _Atomic uint32_t fired;         /* 1 once res is final */
  ssize_t res;
};

/* A request the pool can run: a read or write or one of the blocking kinds. */
static ssize_t run_call(const struct weft__io_req *q) {
  const struct weft__io_kind_def *k = weft__io_kind(q);
  if (!(k->flags & (WEFT__KIND_RW | WEFT__KIND_BLOCKING))) return -EINVAL;
  return weft__io_call(k, q, false);
}

static void file_job_run(struct weft__pool_work *w) {
  struct file_job *j = (struct file_job *)w;
  ssize_t res = run_call(&j->req);
  weft__mutex_lock(&j->lock);
  j->res = res;
  /* release: the task's acquire load of fired sees res. */
  atomic_store_explicit(&j->fired, 1, memory_order_release);
  weft__task_wake(j->task);
  weft__mutex_unlock(&j->lock);
}

bool weft__offload_wanted(const struct weft__io_req *q) {
  return (weft__io_kind(q)->flags & WEFT__KIND_BLOCKING) != 0;
}

ssize_t weft__offload_await(const struct weft__io_req *q, uint64_t deadline_ns) {
  struct weft_task *t = weft__task_self();
  struct file_job j = {.work.run = file_job_run, .req = *q, .task = t};
  weft__mutex_init(&j.lock);
  atomic_init(&j.fired, 0);
  if (weft__offload_submit(&j.work) != 0) return run_call(q); /* no thread: here, not never */
  weft__task_blocked(t, WEFT__BLOCK_OFFLOAD, NULL, weft__io_blocked_arg(q));
  int rc = weft__task_wait(t, &j.fired, deadline_ns);
  if (rc != 0 && weft__offload_unqueue(&j.work)) return rc; /* never started */
  if (rc != 0) {
    /* Started: the kernel has our buffer; wait for the end, then report a
     * result that completed rather than lose it. */
    weft__task_wait_nocancel(t, &j.fired, 0);
  }
  weft__mutex_lock(&j.lock); /* the waker rule: after the waker is done with j */
  weft__mutex_unlock(&j.lock);
  if (rc == 0) return j.res;
  if (j.res >= 0) {
    if (rc == -ECANCELED) weft__task_recancel(t);
    return j.res;
  }
  return rc;
}
