/*
 * file.c - file operations (weft/io.h): each builds one request and awaits
 * it (op.c). The plain function is its *_timeout variant without a limit.
 */
#include "weft/io.h"
#include "op.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>

#ifndef STATX_DIOALIGN
#define STATX_DIOALIGN 0x00002000U
#endif
_Static_assert(sizeof(struct statx) >= 0xa0, "struct statx covers the dio fields");

#define NO_TIMEOUT (-1)

static ssize_t await(struct weft__io_req q, int64_t timeout_ns) {
  return weft__io_await(&q, weft__deadline(timeout_ns));
}

/* An open, as open(2) behaves. io_uring first tries an open inline with
 * O_NONBLOCK added (the kernel's io_openat2; it clears the flag on the
 * file it opens), and a try that fails is not retried unless it said
 * -EAGAIN: a FIFO opened for writing while no reader has it open fails
 * that try with -ENXIO, where open(2) waits for a reader. Such an open
 * (write-only, without O_NONBLOCK) is made again with WEFT__OPEN_WAIT, on
 * a kernel worker that may wait; cancelling it interrupts the wait. (A
 * FIFO opened for reading that way returns before a writer has it open;
 * its reads still wait for the writer's bytes, as open(2)'s would.) The
 * epoll backend's opens are plain open(2) calls on offload threads: a
 * device's real -ENXIO is asked twice, with the same answer. */
static int open_await(struct weft__io_req q, uint64_t acc_flags, int64_t timeout_ns) {
  uint64_t deadline = weft__deadline(timeout_ns);
  ssize_t fd = weft__io_await(&q, deadline);
  if (fd == -ENXIO && (acc_flags & O_ACCMODE) == O_WRONLY && !(acc_flags & O_NONBLOCK)) {
    q.mask |= WEFT__OPEN_WAIT;
    fd = weft__io_await(&q, deadline);
  }
  return (int)fd;
}

int weft_openat_timeout(int dirfd, const char *path, int flags, mode_t mode, int64_t timeout_ns) {
  if (!path) return -EINVAL;
  return open_await((struct weft__io_req){.kind = WEFT__IO_OPENAT, .fd = dirfd, .buf = (void *)path,
                                          .flags = flags | O_CLOEXEC, .mode = mode},
                    (unsigned)flags, timeout_ns);
}
int weft_openat(int dirfd, const char *path, int flags, mode_t mode) {
  return weft_openat_timeout(dirfd, path, flags, mode, NO_TIMEOUT);
}
int weft_open(const char *path, int flags, mode_t mode) {
  return weft_openat(AT_FDCWD, path, flags, mode);
}

/* openat2's struct is extensible (copy_struct_from_user): a caller built
 * against a newer one may pass more bytes, accepted when they are zero.
 * The copy (with O_CLOEXEC added) lives in this frame, which outlasts the
 * request: the call returns only once the kernel let go of it. */
int weft_openat2_timeout(int dirfd, const char *path, const struct open_how *how, size_t size,
                         int64_t timeout_ns) {
  if (!path || !how || size < sizeof(struct open_how)) return -EINVAL;
  for (size_t i = sizeof(struct open_how); i < size; i++)
    if (((const unsigned char *)how)[i]) return -E2BIG;
  struct open_how h = *how;
  h.flags |= O_CLOEXEC;
  return open_await((struct weft__io_req){.kind = WEFT__IO_OPENAT2, .fd = dirfd, .buf = (void *)path,
                                          .aux = &h, .len = sizeof h},
                    h.flags, timeout_ns);
}
int weft_openat2(int dirfd, const char *path, const struct open_how *how, size_t size) {
  return weft_openat2_timeout(dirfd, path, how, size, NO_TIMEOUT);
}

int weft_close(int fd) {
  int rc = (int)await((struct weft__io_req){.kind = WEFT__IO_CLOSE, .fd = fd}, NO_TIMEOUT);
  return rc == -EINTR ? 0 : rc; /* the fd is gone all the same (weft/io.h) */
}

/* Sizes the kernel takes in one request (it returns a short count beyond). */
static size_t clamp(size_t n) { return n > 0x7ffff000u ? 0x7ffff000u : n; }

static ssize_t rw(uint8_t kind, int fd, const void *buf, size_t n, uint64_t off, int64_t tmo) {
  return await((struct weft__io_req){.kind = kind, .fd = fd, .buf = (void *)buf, .len = clamp(n),
                                     .off = off},
               tmo);
}

ssize_t weft_read_timeout(int fd, void *buf, size_t n, int64_t timeout_ns) {
  return rw(WEFT__IO_READ, fd, buf, n, (uint64_t)-1, timeout_ns);
}
ssize_t weft_read(int fd, void *buf, size_t n) { return weft_read_timeout(fd, buf, n, NO_TIMEOUT); }

ssize_t weft_write_timeout(int fd, const void *buf, size_t n, int64_t timeout_ns) {
  return rw(WEFT__IO_WRITE, fd, buf, n, (uint64_t)-1, timeout_ns);
}
ssize_t weft_write(int fd, const void *buf, size_t n) {
  return weft_write_timeout(fd, buf, n, NO_TIMEOUT);
}

ssize_t weft_pread_timeout(int fd, void *buf, size_t n, off_t off, int64_t timeout_ns) {
  if (off < 0) return -EINVAL;
  return rw(WEFT__IO_READ, fd, buf, n, (uint64_t)off, timeout_ns);
}
ssize_t weft_pread(int fd, void *buf, size_t n, off_t off) {
  return weft_pread_timeout(fd, buf, n, off, NO_TIMEOUT);
}

ssize_t weft_pwrite_timeout(int fd, const void *buf, size_t n, off_t off, int64_t timeout_ns) {
  if (off < 0) return -EINVAL;
  return rw(WEFT__IO_WRITE, fd, buf, n, (uint64_t)off, timeout_ns);
}
ssize_t weft_pwrite(int fd, const void *buf, size_t n, off_t off) {
  return weft_pwrite_timeout(fd, buf, n, off, NO_TIMEOUT);
}

static ssize_t rwv(uint8_t kind, int fd, const struct iovec *iov, int cnt, off_t off,
                   int64_t tmo) {
  if (cnt < 0 || cnt > IOV_MAX || (cnt && !iov) || off < -1) return -EINVAL;
  return await((struct weft__io_req){.kind = kind, .fd = fd, .buf = (void *)iov,
                                     .len = (size_t)cnt, .off = (uint64_t)off},
               tmo);
}

ssize_t weft_readv_timeout(int fd, const struct iovec *iov, int iovcnt, off_t off,
                           int64_t timeout_ns) {
  return rwv(WEFT__IO_READV, fd, iov, iovcnt, off, timeout_ns);
}
ssize_t weft_readv(int fd, const struct iovec *iov, int iovcnt, off_t off) {
  return weft_readv_timeout(fd, iov, iovcnt, off, NO_TIMEOUT);
}
ssize_t weft_writev_timeout(int fd, const struct iovec *iov, int iovcnt, off_t off,
                            int64_t timeout_ns) {
  return rwv(WEFT__IO_WRITEV, fd, iov, iovcnt, off, timeout_ns);
}
ssize_t weft_writev(int fd, const struct iovec *iov, int iovcnt, off_t off) {
  return weft_writev_timeout(fd, iov, iovcnt, off, NO_TIMEOUT);
}

/* IORING_FSYNC_DATASYNC is 1; the epoll backend reads nonzero as datasync. */
int weft_fsync_timeout(int fd, int64_t timeout_ns) {
  return (int)await((struct weft__io_req){.kind = WEFT__IO_FSYNC, .fd = fd}, timeout_ns);
}
int weft_fsync(int fd) { return weft_fsync_timeout(fd, NO_TIMEOUT); }
int weft_fdatasync_timeout(int fd, int64_t timeout_ns) {
  return (int)await((struct weft__io_req){.kind = WEFT__IO_FSYNC, .fd = fd, .flags = 1},
                    timeout_ns);
}
int weft_fdatasync(int fd) { return weft_fdatasync_timeout(fd, NO_TIMEOUT); }

int weft_fallocate_timeout(int fd, int mode, off_t off, off_t len, int64_t timeout_ns) {
  if (off < 0 || len <= 0) return -EINVAL;
  return (int)await((struct weft__io_req){.kind = WEFT__IO_FALLOCATE, .fd = fd, .flags = mode,
                                          .off = (uint64_t)off, .len = (size_t)len},
                    timeout_ns);
}
int weft_fallocate(int fd, int mode, off_t off, off_t len) {
  return weft_fallocate_timeout(fd, mode, off, len, NO_TIMEOUT);
}

int weft_statx_timeout(int dirfd, const char *path, int flags, unsigned mask, struct statx *out,
                       int64_t timeout_ns) {
  if (!path || !out) return -EINVAL;
  return (int)await((struct weft__io_req){.kind = WEFT__IO_STATX, .fd = dirfd, .buf = (void *)path,
                                          .flags = flags, .mask = mask, .aux = out},
                    timeout_ns);
}
int weft_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *out) {
  return weft_statx_timeout(dirfd, path, flags, mask, out, NO_TIMEOUT);
}

int weft_dio_alignment(int fd, unsigned *mem, unsigned *off) {
  if (!mem || !off) return -EINVAL;
  struct statx st;
  int rc = weft_statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &st);
  if (rc < 0) return rc;
  /* glibc 2.36's struct statx predates these fields: read them where the
   * kernel's layout puts them (stx_dio_mem_align at 0x98, then
   * stx_dio_offset_align), inside glibc's padding. */
  uint32_t dio[2];
  memcpy(dio, (const char *)&st + 0x98, sizeof dio);
  if (!(st.stx_mask & STATX_DIOALIGN) || !dio[0]) return -EOPNOTSUPP;
  *mem = dio[0];
  *off = dio[1];
  return 0;
}

int weft_io_nop(void) {
  return (int)await((struct weft__io_req){.kind = WEFT__IO_NOP}, NO_TIMEOUT);
}
