/*
 * sendfile.c - a file's bytes to a stream socket: weft_sock_sendfile
 * (asyncio's loop.sock_sendfile), weft/io.h.
 *
 * Zero-copy where the kernel can: on a non-blocking socket sendfile(2)
 * sends what the socket's buffer takes and returns, so it never holds the
 * worker's thread; when the buffer is full (-EAGAIN) the task waits for
 * the socket to be writable (weft_wait_writable, the reactor's poll) and
 * goes on. Otherwise it copies, as asyncio's fallback does: a blocking
 * socket (sendfile(2) would block the thread until the peer read; weft's
 * own sockets are blocking, their I/O going through the reactor), or a
 * file sendfile(2) cannot read from (a pipe, a socket: it says -EINVAL or
 * -ENOSYS on the first call). The copy reads a piece (weft_pread; a pipe,
 * which has no offsets, weft_read) and sends it whole (weft_send), both
 * through the reactor.
 *
 * sendfile(2) has no MSG_NOSIGNAL: on a socket the peer closed it raises
 * SIGPIPE, which weft never lets through (weft/io.h). Every task runs on a
 * worker thread that has SIGPIPE blocked (runtime/writesig.h), so the
 * call fails with -EPIPE; the signal it left pending is taken back. (Up to
 * 2026-12-07 each call asked for SIGPIPE's disposition and, unless it was
 * ignored, blocked and restored it around the call: one to three system
 * calls a file.)
 *
 * The kernel reads a file's pages inside sendfile(2), on the worker's
 * thread: pages not in the page cache would hold the worker for a disk
 * read (as they hold asyncio's loop). So a regular file goes in windows of
 * WINDOW bytes, each checked first (all_cached): one-byte RWF_NOWAIT
 * probes of its first and last pages (read in?) and, for the pages
 * between, beyond the default readahead's 128 KiB, cachestat(2) (Linux
 * 6.5; one call, ~3 us a MiB; an older kernel goes by the probes alone).
 * A window that passes goes by sendfile(2); one that does not by the
 * copy, whose reads the ring does off the worker's thread (and which
 * leaves those pages cached). A small file costs one or two probes. A
 * file opened O_DIRECT always goes by the copy, reading whole aligned
 * blocks into an aligned buffer: sendfile(2) would read the device on the
 * worker's thread, and O_DIRECT refuses unaligned reads.
 *
 * A stream writer's sendfile (stream.c) sends on a socket the stream owns,
 * which the stream makes non-blocking at its first sendfile and leaves so
 * (as asyncio's transports keep theirs), so it takes the zero-copy path.
 * Nothing of the stream depends on the flag: its ring requests are
 * IORING_OP_SEND and RECV, which call sock_sendmsg/sock_recvmsg and never
 * look at the file's flags; its direct sends say MSG_DONTWAIT; with the
 * epoll backend its sockets are non-blocking anyway. An IORING_OP_SENDMSG
 * or RECVMSG on it (through the fd get_extra_info gives) would look:
 * ____sys_sendmsg adds MSG_DONTWAIT for an O_NONBLOCK file, so one a
 * kernel worker retries can fail with -EAGAIN (scylladb/seastar#3479),
 * which the ring turns into a poll and a new try like any other -EAGAIN
 * (io/ring.c). Until 2026-12-07 the socket was made non-blocking around
 * each sendfile(2) call instead: two fcntl calls a file, which with the
 * SIGPIPE look were 3 of a 16 KiB file's 11 system calls a request and
 * 7% of its CPU (benchmarks/RESULTS.md).
 *
 * Invariants: `sent` counts bytes the socket took, and the caller's offset
 * (or, with none, the file position) has advanced by exactly `sent`
 * whenever the call returns, also after an error, a cancellation or a
 * timeout midway: the caller resumes where it stopped (asyncio seeks the
 * file to offset + total_sent). A file with offsets is read at explicit
 * ones (start + sent) by both paths, and the file position, when the
 * caller gave no offset, is set once at the end: so what the copy read and
 * the socket did not take needs no undoing. A pipe is read at its
 * position: those bytes are gone (weft/io.h says so).
 */
#include "sendfile.h"
#include "weft/io.h"
#include "alloc.h"
#include "deadline.h"
#include "loop.h"
#include "writesig.h"
#include "task.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* The copy's piece: asyncio's fallback reads 256 KiB at most; 64 KiB is a
 * socket buffer's default size, and one allocation per call. */
#define COPY_PIECE (64 * 1024)
/* An O_DIRECT file's piece: each read goes to the device, so a larger one
 * (fewer, bigger requests: 1.35x the throughput of 64 KiB pieces on the
 * development VM's disk, benchmarks/RESULTS.md). */
#define DIRECT_PIECE (1024 * 1024)
/* What one sendfile(2) may move (the kernel's own cap, MAX_RW_COUNT). */
#define NATIVE_MAX 0x7ffff000u
/* The part of a regular file checked for the page cache at a time: big
 * enough that the check is ~1% of sending it, small enough that a cold
 * window's copy is short. */
#define WINDOW (1024 * 1024)

#ifndef __NR_cachestat
#define __NR_cachestat 451 /* Linux 6.5; the same number on every architecture */
#endif
struct cachestat_range {
  uint64_t off, len;
};
struct cachestat_counts {
  uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

/* Set once cachestat(2) said ENOSYS, so it is not asked again. relaxed:
 * a hint; a race asks once more. */
static _Atomic bool no_cachestat;

/* Whether @fd's page holding @at can be read without waiting: a one-byte
 * preadv2(RWF_NOWAIT) says -EAGAIN for a page absent or still being read
 * in (a page the readahead has in flight counts as cached for
 * cachestat, and sendfile(2) would wait for it). A filesystem without
 * RWF_NOWAIT answers yes. */
static bool page_ready(int fd, off_t at) {
  char c;
  struct iovec v = {&c, 1};
  return preadv2(fd, &v, 1, at, RWF_NOWAIT) >= 0 || errno != EAGAIN;
}

/* Whether [@at, @at + @n) of @fd is all in the page cache and read in.
 * Read in: its first and last pages are (the readahead reads in order,
 * and a window is read ahead in a few requests at most). In the cache:
 * cachestat(2) counts the pages between, for a window longer than the
 * kernel's default readahead (128 KiB: a shorter one comes into the cache
 * in one request, so its ends speak for it; one whose middle alone was
 * evicted since slips through, and sendfile(2) reads that part); without
 * cachestat (an older kernel) the two probes alone decide. A small file
 * costs one or two probes. */
#define READAHEAD_PAGES 32
static bool all_cached(int fd, off_t at, size_t n) {
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  uint64_t first = (uint64_t)at / page, last = ((uint64_t)at + n - 1) / page;
  if (last - first >= READAHEAD_PAGES && !atomic_load_explicit(&no_cachestat, memory_order_relaxed)) {
    struct cachestat_range r = {(uint64_t)at, n};
    struct cachestat_counts cs;
    if (syscall(__NR_cachestat, fd, &r, &cs, 0) == 0) {
      if (cs.nr_cache < last - first + 1) return false;
    } else if (errno == ENOSYS) {
      atomic_store_explicit(&no_cachestat, true, memory_order_relaxed);
    }
  }
  return page_ready(fd, at) && (last == first || page_ready(fd, at + (off_t)n - 1));
}

/* The file being sent: where the call started in it (the offset, or the
 * file position) if it has offsets; a regular one's size, for the cache
 * check; what the copy's reads must be aligned to (O_DIRECT's block, else
 * 1). */
struct source {
  int fd;
  bool seekable, regular, direct;
  unsigned align; /* a power of two: buffer address, offset and length */
  off_t start, size;
};

/* What is still to send after @sent of @count (0: up to the end). */
static size_t still(size_t count, size_t sent) {
  return count ? count - sent : SIZE_MAX;
}

/* One sendfile(2). It raises no SIGPIPE that could end the process: a
 * task runs on a worker, which has SIGPIPE blocked (runtime/writesig.h);
 * one the call raised is taken back, so none is left pending. */
static ssize_t sendfile_quiet(int sock, int fd, off_t *at, size_t n) {
  ssize_t r = sendfile(sock, fd, at, n);
  if (r < 0 && errno == EPIPE) weft__writesig_take_back(SIGPIPE); /* keeps errno */
  return r;
}

static ssize_t send_copy(int sock, const struct source *src, size_t count, uint64_t deadline,
                         size_t *sent);

/* sendfile(2) on the non-blocking @sock until @count is sent, the file
 * ends or an error: the bytes sent, or an error with *@sent telling how
 * far it got. *@unsupported: the first call said the file cannot be sent
 * this way (nothing sent). A regular file's windows not in the page cache
 * go by the copy instead (design comment). */
static ssize_t send_native(int sock, const struct source *src, size_t count, uint64_t deadline,
                           size_t *sent, bool *unsupported) {
  int fd = src->fd;
  for (;;) {
    size_t want = still(count, *sent);
    if (want == 0) return 0;
    if (want > NATIVE_MAX) want = NATIVE_MAX;
    off_t from = src->start + (off_t)*sent;
    if (src->regular && from < src->size) {
      size_t window = want < WINDOW ? want : WINDOW;
      if ((off_t)window > src->size - from) window = (size_t)(src->size - from);
      if (!all_cached(fd, from, window)) {
        size_t before = *sent;
        ssize_t rc = send_copy(sock, src, *sent + window, deadline, sent);
        if (rc < 0) return rc;
        if (*sent < before + window) return 0; /* the end: the file shrank meanwhile */
        continue;
      }
      want = window;
    }
    off_t at = src->start + (off_t)*sent;
    ssize_t n = sendfile_quiet(sock, fd, src->seekable ? &at : NULL, want);
    if (n > 0) {
      *sent += (size_t)n;
      continue;
    }
    if (n == 0) return 0; /* the end of the file */
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN) {
      int rc = weft_wait_writable_timeout(sock, weft__deadline_left(deadline));
      if (rc < 0) return rc;
      continue;
    }
    if (*sent == 0 && (err == EINVAL || err == ENOSYS || err == EOPNOTSUPP)) {
      *unsupported = true;
      return 0;
    }
    return -err;
  }
}

/* Sends @n bytes of @buf whole (weft_send may send less). */
static ssize_t send_all(int sock, const char *buf, size_t n, uint64_t deadline, size_t *done) {
  *done = 0;
  while (*done < n) {
    ssize_t k = weft_send_timeout(sock, buf + *done, n - *done, 0, weft__deadline_left(deadline));
    if (k < 0) return k;
    *done += (size_t)k;
  }
  return 0;
}

/* The copy: pieces read through the reactor and sent whole until @count
 * or the end. A file with offsets is read at start + sent, in whole
 * aligned blocks for O_DIRECT (into an aligned buffer; the part asked for
 * is sent); a pipe at its position. */
static ssize_t send_copy(int sock, const struct source *src, size_t count, uint64_t deadline,
                         size_t *sent) {
  size_t a = src->align, piece = src->direct ? DIRECT_PIECE : COPY_PIECE;
  if (still(count, *sent) < piece) piece = still(count, *sent);
  if (piece == 0) return 0;
  /* room for a block's worth of head and a rounded-up tail */
  size_t cap = a > 1 ? ((piece + a - 1) & ~(size_t)(a - 1)) + a : piece;
  char *buf = a > 1 ? weft__calloc_aligned(cap, a) : weft__alloc(cap);
  if (!buf) return -ENOMEM;
  ssize_t rc = 0;
  for (;;) {
    size_t want = still(count, *sent) < piece ? still(count, *sent) : piece, head = 0;
    if (want == 0) break;
    int64_t left = weft__deadline_left(deadline);
    ssize_t got;
    if (src->seekable) {
      off_t pos = src->start + (off_t)*sent, from = pos & ~(off_t)(a - 1);
      head = (size_t)(pos - from);
      got = weft_pread_timeout(src->fd, buf, (head + want + a - 1) & ~(size_t)(a - 1), from, left);
    } else {
      got = weft_read_timeout(src->fd, buf, want, left);
    }
    if (got <= (ssize_t)head) {
      rc = got < 0 ? got : 0; /* nothing past the start: the end of the file */
      break;
    }
    size_t n = (size_t)got - head < want ? (size_t)got - head : want, done;
    rc = send_all(sock, buf + head, n, deadline, &done);
    *sent += done;
    if (rc < 0) break;
  }
  if (a > 1) weft__free_aligned(buf, cap, a);
  else weft__free(buf, cap);
  return rc;
}

int weft__sendfile_sock_flags(int sock, int *flags) {
  int type = 0;
  socklen_t len = sizeof type;
  if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return -errno;
  if (type != SOCK_STREAM) return -EINVAL; /* asyncio: SOCK_STREAM sockets only */
  *flags = fcntl(sock, F_GETFL);
  return *flags < 0 ? -errno : 0;
}

ssize_t weft__sock_sendfile(int sock, int fd, off_t *offset, size_t count, int64_t timeout_ns,
                            int sock_flags) {
  struct weft_task *t = weft__task_self();
  if (!t) return -EPERM;
  if ((offset && *offset < 0) || count > SSIZE_MAX) return -EINVAL;
  int flags = sock_flags; /* asked here unless the caller knows them */
  if (sock_flags < 0) {
    int rc = weft__sendfile_sock_flags(sock, &flags);
    if (rc) return rc;
  }
  int file_flags = fcntl(fd, F_GETFL);
  if (file_flags < 0) return -errno;
  struct stat st;
  struct source src = {.fd = fd, .align = 1};
  src.regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  src.size = src.regular ? st.st_size : 0;
  /* An offset needs a file that has one: pread(2)'s -ESPIPE (a ring's
   * read at an offset of a pipe would read it as a stream instead). A
   * regular file has offsets; its position is asked for only when no
   * offset was given. */
  off_t pos = offset && src.regular ? 0 : lseek(fd, 0, SEEK_CUR);
  if (offset && pos < 0) return -errno;
  src.seekable = pos >= 0;
  src.start = offset ? *offset : pos;
  /* O_DIRECT: sendfile(2) would read the device on the worker's thread,
   * and the plain copy's reads are not aligned: the aligned copy. */
  src.direct = src.regular && (file_flags & O_DIRECT);
  /* weft/io.h's rule: a cancellation pending as the call starts, or a
   * closing loop, ends it before any I/O (the native path's first step
   * is no suspension point). */
  if (atomic_load_explicit(&t->fut.loop->closing, memory_order_relaxed) || weft__task_take_cancel(t))
    return -ECANCELED;
  uint64_t deadline = weft__deadline(timeout_ns);
  if (src.direct) {
    unsigned mem, off;
    int rc = weft_dio_alignment(fd, &mem, &off); /* suspends: a statx through the reactor */
    if (rc == -ECANCELED) return rc;
    src.align = rc == 0 ? (mem > off ? mem : off) : 4096;
  }
  size_t sent = 0;
  /* A blocking socket goes by the copy (sendfile(2) would block the
   * thread); a stream makes its own non-blocking first (stream.c). */
  bool unsupported = !(flags & O_NONBLOCK) || src.direct;
  ssize_t rc = 0;
  if (!unsupported) rc = send_native(sock, &src, count, deadline, &sent, &unsupported);
  if (rc == 0 && unsupported) rc = send_copy(sock, &src, count, deadline, &sent);
  if (offset) *offset += (off_t)sent;
  else if (src.seekable) (void)lseek(fd, src.start + (off_t)sent, SEEK_SET);
  return rc < 0 ? rc : (ssize_t)sent;
}

ssize_t weft_sock_sendfile_timeout(int sock, int fd, off_t *offset, size_t count,
                                   int64_t timeout_ns) {
  return weft__sock_sendfile(sock, fd, offset, count, timeout_ns, -1);
}

ssize_t weft_sock_sendfile(int sock, int fd, off_t *offset, size_t count) {
  return weft_sock_sendfile_timeout(sock, fd, offset, count, -1);
}
