/*
 * registered.c - registered buffers and files (io_uring's fixed buffers and
 * fixed files), weft/io.h.
 *
 * A task may run on any worker, so a registration is made in every
 * worker's ring, while the loop is not running, each on the ring's own
 * thread (weft__loop_on_each_worker: a SINGLE_ISSUER ring accepts
 * io_uring_register from its thread only). The loop keeps copies of the tables: the epoll backend uses the
 * file table to turn WEFT_FIXED_FILE(i) back into an fd, and fixed-buffer
 * requests are plain ones there; pread_fixed checks the buffer lies inside
 * the registered one it names, on both backends.
 *
 * Invariants: loop->io.fixed_bufs/fixed_fds change only while the loop is not
 * running; every reactor has the same registration as the loop's tables.
 */
#include "weft/io.h"
#include "alloc.h"
#include "loop.h"
#include "op.h"

#include <errno.h>
#include <string.h>

static int check_owner(weft_loop_t *loop) {
  if (!loop) return -EINVAL;
  if (atomic_load_explicit(&loop->running, memory_order_acquire)) return -EBUSY;
  if (atomic_load_explicit(&loop->closed, memory_order_acquire)) return WEFT_ECLOSED;
  return 0;
}

struct reg_args {
  const struct iovec *iov;
  const int *fds;
  unsigned n;
};

/* Commands run on each worker's own thread (a SINGLE_ISSUER ring refuses
 * registration from any other). */
static int reg_buffers(struct weft__worker *w, void *arg) {
  struct reg_args *a = arg;
  return weft__reactor_register_buffers(&w->reactor, a->iov, a->n);
}

static int reg_files(struct weft__worker *w, void *arg) {
  struct reg_args *a = arg;
  return weft__reactor_register_files(&w->reactor, a->fds, a->n);
}

int weft_loop_register_buffers(weft_loop_t *loop, const struct iovec *iov, unsigned n) {
  int rc = check_owner(loop);
  if (rc) return rc;
  if (!iov || n == 0 || n > 16384) return -EINVAL;
  if (loop->io.nfixed_bufs) return -EBUSY;
  struct iovec *copy = weft__alloc(n * sizeof *copy);
  if (!copy) return -ENOMEM;
  memcpy(copy, iov, n * sizeof *copy);
  struct reg_args a = {.iov = copy, .n = n}, none = {0};
  rc = weft__loop_on_each_worker(loop, reg_buffers, &a);
  if (rc < 0) {
    weft__loop_on_each_worker(loop, reg_buffers, &none); /* undo where it worked */
    weft__free(copy, n * sizeof *copy);
    return rc;
  }
  loop->io.fixed_bufs = copy;
  loop->io.nfixed_bufs = n;
  return 0;
}

int weft_loop_unregister_buffers(weft_loop_t *loop) {
  int rc = check_owner(loop);
  if (rc) return rc;
  if (!loop->io.nfixed_bufs) return 0;
  struct reg_args none = {0};
  weft__loop_on_each_worker(loop, reg_buffers, &none);
  weft__free(loop->io.fixed_bufs, loop->io.nfixed_bufs * sizeof *loop->io.fixed_bufs);
  loop->io.fixed_bufs = NULL;
  loop->io.nfixed_bufs = 0;
  return 0;
}

int weft_loop_register_files(weft_loop_t *loop, const int *fds, unsigned n) {
  int rc = check_owner(loop);
  if (rc) return rc;
  if (!fds || n == 0 || n > 32768) return -EINVAL;
  if (loop->io.nfixed_fds) return -EBUSY;
  int *copy = weft__alloc(n * sizeof *copy);
  if (!copy) return -ENOMEM;
  memcpy(copy, fds, n * sizeof *copy);
  struct reg_args a = {.fds = copy, .n = n}, none = {0};
  rc = weft__loop_on_each_worker(loop, reg_files, &a);
  if (rc < 0) {
    weft__loop_on_each_worker(loop, reg_files, &none);
    weft__free(copy, n * sizeof *copy);
    return rc;
  }
  loop->io.fixed_fds = copy;
  loop->io.nfixed_fds = n;
  return 0;
}

int weft_loop_unregister_files(weft_loop_t *loop) {
  int rc = check_owner(loop);
  if (rc) return rc;
  if (!loop->io.nfixed_fds) return 0;
  struct reg_args none = {0};
  weft__loop_on_each_worker(loop, reg_files, &none);
  weft__free(loop->io.fixed_fds, loop->io.nfixed_fds * sizeof *loop->io.fixed_fds);
  loop->io.fixed_fds = NULL;
  loop->io.nfixed_fds = 0;
  return 0;
}

void weft__registered_fini(struct weft_loop *loop) {
  weft__free(loop->io.fixed_bufs, loop->io.nfixed_bufs * sizeof *loop->io.fixed_bufs);
  weft__free(loop->io.fixed_fds, loop->io.nfixed_fds * sizeof *loop->io.fixed_fds);
  loop->io.fixed_bufs = NULL;
  loop->io.fixed_fds = NULL;
  loop->io.nfixed_bufs = loop->io.nfixed_fds = 0;
}

static ssize_t rw_fixed(uint8_t kind, int fd, const void *buf, size_t n, off_t off,
                        unsigned index, int64_t timeout_ns) {
  weft_loop_t *loop = weft_loop_current();
  if (!loop) return -EPERM;
  if (off < 0) return -EINVAL;
  if (index >= loop->io.nfixed_bufs) return -EINVAL;
  const struct iovec *r = &loop->io.fixed_bufs[index];
  const char *b = buf, *lo = r->iov_base;
  if (!b || b < lo || n > r->iov_len || (size_t)(b - lo) > r->iov_len - n) return -EINVAL;
  struct weft__io_req q = {.kind = kind, .fd = fd, .buf = (void *)buf, .len = n,
                           .off = (uint64_t)off, .mask = index};
  return weft__io_await(&q, weft__deadline(timeout_ns));
}

ssize_t weft_pread_fixed_timeout(int fd, void *buf, size_t n, off_t off, unsigned index,
                                 int64_t timeout_ns) {
  return rw_fixed(WEFT__IO_READ_FIXED, fd, buf, n, off, index, timeout_ns);
}
ssize_t weft_pread_fixed(int fd, void *buf, size_t n, off_t off, unsigned index) {
  return rw_fixed(WEFT__IO_READ_FIXED, fd, buf, n, off, index, -1);
}
ssize_t weft_pwrite_fixed_timeout(int fd, const void *buf, size_t n, off_t off, unsigned index,
                                  int64_t timeout_ns) {
  return rw_fixed(WEFT__IO_WRITE_FIXED, fd, buf, n, off, index, timeout_ns);
}
ssize_t weft_pwrite_fixed(int fd, const void *buf, size_t n, off_t off, unsigned index) {
  return rw_fixed(WEFT__IO_WRITE_FIXED, fd, buf, n, off, index, -1);
}
