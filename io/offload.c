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
 * Pool: threads start on demand, up to OFFLOAD_MAX, and stay (blocked on a
 * condition variable when there is nothing to do). Jobs live on the waiting
 * task's stack.
 *
 * Invariants (the waker rule, runtime/future.h): state changes under
 * pool.lock; a thread completing a job sets fired and wakes the task under
 * the lock; the task takes the lock before it leaves, and a job that has
 * started is always waited for (its buffer is in use), so a job is never
 * touched after its task has moved on.
 */
#include "offload.h"
#include "mutex.h"
#include "task.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* Justification: enough to keep a disk's queue busy from a few loops (fio
 * shows random-read IOPS flattening past depth 8-16 on ordinary devices)
 * while bounding the threads a fallback can create. */
#define OFFLOAD_MAX 16

enum { JOB_QUEUED = 0, JOB_RUNNING = 1, JOB_DONE = 2 };

struct weft__offload_job {
  struct weft__io_req req;
  struct weft_task *task;
  _Atomic uint32_t fired; /* 1 once res is final (release, under the lock) */
  int state;              /* under pool.lock */
  ssize_t res;
  struct weft__offload_job *next;
};

static struct {
  pthread_mutex_t lock;
  pthread_cond_t work;
  struct weft__offload_job *head, *tail; /* queued jobs */
  unsigned threads, idle;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0};

static ssize_t run_job(const struct weft__io_req *q) {
  ssize_t n;
  struct iovec one = {q->buf, q->len};
  const struct iovec *iov = &one;
  int cnt = 1;
  if (q->kind == WEFT__IO_READV || q->kind == WEFT__IO_WRITEV) {
    iov = q->buf;
    cnt = (int)q->len;
  }
  off_t off = q->off == (uint64_t)-1 ? -1 : (off_t)q->off;
  switch (q->kind) {
  case WEFT__IO_READ:
  case WEFT__IO_READV:
  case WEFT__IO_READ_FIXED: n = preadv2(q->fd, iov, cnt, off, 0); break;
  case WEFT__IO_WRITE:
  case WEFT__IO_WRITEV:
  case WEFT__IO_WRITE_FIXED: n = pwritev2(q->fd, iov, cnt, off, 0); break;
  case WEFT__IO_OPENAT: n = openat(q->fd, q->buf, q->flags, (mode_t)q->mode); break;
  case WEFT__IO_FSYNC: n = q->flags ? fdatasync(q->fd) : fsync(q->fd); break;
  case WEFT__IO_FALLOCATE: n = fallocate(q->fd, q->flags, (off_t)q->off, (off_t)q->len); break;
  case WEFT__IO_STATX: n = statx(q->fd, q->buf, q->flags, q->mask, q->aux); break;
  default: return -EINVAL;
  }
  return n < 0 ? -errno : n;
}

static void *offload_thread(void *arg) {
  (void)arg;
  pthread_mutex_lock(&pool.lock);
  for (;;) {
    while (!pool.head) {
      pool.idle++;
      pthread_cond_wait(&pool.work, &pool.lock);
      pool.idle--;
    }
    struct weft__offload_job *j = pool.head;
    pool.head = j->next;
    if (!pool.head) pool.tail = NULL;
    j->state = JOB_RUNNING;
    pthread_mutex_unlock(&pool.lock);
    ssize_t res = run_job(&j->req);
    pthread_mutex_lock(&pool.lock);
    j->res = res;
    j->state = JOB_DONE;
    /* release: the task's acquire load of fired sees res. */
    atomic_store_explicit(&j->fired, 1, memory_order_release);
    weft__task_wake(j->task);
  }
  return NULL;
}

bool weft__offload_wanted(const struct weft__io_req *q) {
  switch (q->kind) {
  case WEFT__IO_OPENAT:
  case WEFT__IO_FSYNC:
  case WEFT__IO_FALLOCATE:
  case WEFT__IO_STATX:
    return true;
  default:
    return false;
  }
}

ssize_t weft__offload_await(const struct weft__io_req *q, uint64_t deadline_ns) {
  struct weft_task *t = weft__task_self();
  struct weft__offload_job j = {.req = *q, .task = t, .state = JOB_QUEUED};
  atomic_init(&j.fired, 0);
  pthread_mutex_lock(&pool.lock);
  if (pool.tail) pool.tail->next = &j;
  else pool.head = &j;
  pool.tail = &j;
  if (pool.idle) {
    pthread_cond_signal(&pool.work);
  } else if (pool.threads < OFFLOAD_MAX) {
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &attr, offload_thread, NULL) == 0) pool.threads++;
    pthread_attr_destroy(&attr);
    if (!pool.threads) { /* no thread at all: run it here rather than never */
      pool.head = pool.tail = NULL;
      pthread_mutex_unlock(&pool.lock);
      return run_job(q);
    }
  }
  pthread_mutex_unlock(&pool.lock);

  int rc = weft__task_wait(t, &j.fired, deadline_ns);
  pthread_mutex_lock(&pool.lock);
  if (j.state == JOB_QUEUED) { /* cancelled or timed out before it started */
    struct weft__offload_job **pp = &pool.head, *prev = NULL;
    while (*pp != &j) {
      prev = *pp;
      pp = &(*pp)->next;
    }
    *pp = j.next;
    if (pool.tail == &j) pool.tail = prev;
    pthread_mutex_unlock(&pool.lock);
    return rc;
  }
  pthread_mutex_unlock(&pool.lock);
  if (rc != 0) {
    /* Started: the kernel has our buffer; wait for the end, then report
     * a result that completed rather than lose it. */
    weft__task_wait_nocancel(t, &j.fired, 0);
    pthread_mutex_lock(&pool.lock); /* the waker rule: after the waker */
    pthread_mutex_unlock(&pool.lock);
    if (j.res >= 0) {
      if (rc == -ECANCELED) weft__task_recancel(t);
      return j.res;
    }
    return rc;
  }
  return j.res;
}
