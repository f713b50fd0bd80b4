/*
 * test_sendfile.c - weft_sock_sendfile (io/sendfile.c), asyncio's
 * loop.sock_sendfile: a file's bytes arrive whole and in order over a
 * socket whose buffer is far smaller than the file, on the zero-copy path
 * (a non-blocking socket) and the copy (a blocking socket, a pipe as the
 * file); the offset or the file position ends where the sending stopped,
 * also after a cancellation or a timeout midway; a closed peer is -EPIPE
 * without SIGPIPE; bad input is refused. A stream writer's sendfile
 * (asyncio's loop.sendfile(transport)): after what was written before it
 * and before what is written after, zero-copy on the stream's socket
 * (made non-blocking by the first); writes refused while it runs; write_eof and close after it,
 * abort ending it; a timeout or a cancellation while the buffer empties
 * sends nothing. One and four workers; ctest runs it once per backend.
 */
#include "io_helpers.h"
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

enum { FILE_SIZE = 120000 };

static char pattern_at(size_t i) { return (char)('a' + (i * 7 + i / 253) % 26); }

/* A scratch file (helpers.h) holding @size bytes of the pattern. */
static int pattern_file_of(size_t size) {
  int fd = scratch_file();
  ck_assert_int_ge(fd, 0);
  static char buf[FILE_SIZE];
  for (size_t done = 0; done < size;) {
    size_t n = size - done < FILE_SIZE ? size - done : FILE_SIZE;
    for (size_t i = 0; i < n; i++) buf[i] = pattern_at(done + i);
    ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
    done += n;
  }
  ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
  return fd;
}

static int pattern_file(void) { return pattern_file_of(FILE_SIZE); }

/* A socketpair with small buffers: sv[0] sends, sv[1] receives. */
static void small_pair(int sv[2], bool nonblocking) {
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  int small = 4096;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  if (nonblocking) ck_assert_int_eq(fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK), 0);
}

/* Closes a pair and the file sent over it. */
static void close_all(int sv[2], int f) {
  close(sv[0]);
  close(sv[1]);
  close(f);
}

struct drain {
  int fd;
  size_t from, n; /* expect the pattern's bytes [from, from + n), then the end */
};

/* Checks @n received bytes against what @expected_at says byte by byte,
 * with one assertion for the piece (Check records every assertion that
 * passes: one a byte made the 3 MiB case take seconds). */
static void check_piece(const char *buf, size_t n, size_t at, char (*expected_at)(const void *, size_t),
                        const void *ctx) {
  static char want[8192];
  ck_assert_uint_le(n, sizeof want);
  for (size_t i = 0; i < n; i++) want[i] = expected_at(ctx, at + i);
  if (memcmp(buf, want, n) == 0) return;
  size_t i = 0;
  while (buf[i] == want[i]) i++;
  ck_assert_msg(0, "byte %zu: got %d, expected %d", at + i, buf[i], want[i]);
}

/* Reads @fd to its end, checking every byte against @expected_at (with
 * @ctx); how many arrived. The buffer is the call's own (a peer task may
 * check while another does, on another worker). */
static size_t recv_checked(int fd, char (*expected_at)(const void *, size_t), const void *ctx) {
  char *buf = malloc(8192);
  ck_assert_ptr_nonnull(buf);
  size_t got = 0;
  ssize_t k;
  while ((k = weft_recv(fd, buf, 8192, 0)) > 0) {
    check_piece(buf, (size_t)k, got, expected_at, ctx);
    got += (size_t)k;
  }
  ck_assert_int_eq(k, 0);
  free(buf);
  return got;
}

static char drained_at(const void *ctx, size_t i) {
  return pattern_at(((const struct drain *)ctx)->from + i);
}

/* Reads the receiving end to its end and checks every byte. */
static int drain_check(void *arg, void **res) {
  (void)res;
  struct drain *d = arg;
  ck_assert_uint_eq(recv_checked(d->fd, drained_at, d), d->n);
  return 0;
}

/* Starts the task that reads @d's end of the pair and checks it. */
static weft_task_t *start_drain(struct drain *d) {
  weft_task_t *reader;
  ck_assert_int_eq(weft_spawn(drain_check, d, &reader), 0);
  return reader;
}

/* Ends the sending side @sock and waits for @reader's check. */
static void end_task(weft_task_t *t);

static void end_drain(int sock, weft_task_t *reader) {
  shutdown(sock, SHUT_WR);
  end_task(reader);
}

/* Sends [from, from + count) of the pattern file (@count 0: to the end)
 * through a small pair and checks what arrives; @by_position: no offset,
 * the file position instead. */
static void send_range(bool nonblocking, bool by_position, off_t from, size_t count) {
  int f = pattern_file();
  int sv[2];
  small_pair(sv, nonblocking);
  size_t left = (size_t)(FILE_SIZE - from), expect = count && count < left ? count : left;
  struct drain d = {.fd = sv[1], .from = (size_t)from, .n = expect};
  weft_task_t *reader = start_drain(&d);
  off_t off = from;
  if (by_position) ck_assert_int_eq(lseek(f, from, SEEK_SET), from);
  ck_assert_int_eq(weft_sock_sendfile(sv[0], f, by_position ? NULL : &off, count), (ssize_t)expect);
  if (by_position) ck_assert_int_eq(lseek(f, 0, SEEK_CUR), from + (off_t)expect);
  else ck_assert_int_eq(off, from + (off_t)expect);
  end_drain(sv[0], reader);
  close_all(sv, f);
}

static int ranges_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  for (int nb = 0; nb < 2; nb++) {
    send_range(nb, false, 1000, 70000); /* a range */
    send_range(nb, false, 0, 0);         /* the whole file */
    send_range(nb, false, 119000, 5000); /* past the end: what there is */
    send_range(nb, true, 500, 0);        /* from the file position */
  }
  return 0;
}

START_TEST(test_file_arrives_whole) {
  ck_assert_int_eq(run_main(1, ranges_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, ranges_main, NULL, NULL), 0);
}
END_TEST

/* A pipe as the file: sendfile(2) cannot read it, so the copy does, from
 * the pipe's position (an offset there is -ESPIPE). */
static int feed_pipe(void *arg, void **res) {
  (void)res;
  int fd = (int)(intptr_t)arg;
  static char buf[FILE_SIZE];
  for (size_t i = 0; i < FILE_SIZE; i++) buf[i] = pattern_at(i);
  size_t off = 0;
  while (off < FILE_SIZE) {
    ssize_t k = weft_write(fd, buf + off, FILE_SIZE - off);
    ck_assert_int_gt(k, 0);
    off += (size_t)k;
  }
  close(fd);
  return 0;
}

static int pipe_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  for (int nb = 0; nb < 2; nb++) {
    int p[2], sv[2];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    small_pair(sv, nb);
    off_t off = 0;
    ck_assert_int_eq(weft_sock_sendfile(sv[0], p[0], &off, 10), -ESPIPE);
    ck_assert_int_eq(off, 0);
    weft_task_t *feeder;
    struct drain d = {.fd = sv[1], .from = 0, .n = FILE_SIZE};
    ck_assert_int_eq(weft_spawn(feed_pipe, (void *)(intptr_t)p[1], &feeder), 0);
    weft_task_t *reader = start_drain(&d);
    ck_assert_int_eq(weft_sock_sendfile(sv[0], p[0], NULL, 0), FILE_SIZE);
    end_drain(sv[0], reader);
    end_task(feeder);
    close(p[0]);
    close(sv[0]);
    close(sv[1]);
  }
  return 0;
}

START_TEST(test_pipe_as_the_file) {
  ck_assert_int_eq(run_main(1, pipe_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, pipe_main, NULL, NULL), 0);
}
END_TEST

/* Stopped midway (a peer that does not read): cancelled, or past a
 * timeout, the offset says how much the socket took, and sending again
 * from it completes the file exactly. */
struct stuck {
  int sock, file;
  off_t off;
  ssize_t rc;
};

static int send_stuck(void *arg, void **res) {
  (void)res;
  struct stuck *s = arg;
  s->rc = weft_sock_sendfile(s->sock, s->file, &s->off, 0);
  return 0;
}

/* Spawns @fn(@arg), a sender, and returns its task once bytes reached
 * @peer: the send has begun, and a peer that does not read keeps it from
 * ending. */
static weft_task_t *start_sending(weft_task_fn fn, void *arg, int peer) {
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(fn, arg, &t), 0);
  ck_assert_int_gt(weft_wait_readable(peer), 0);
  return t;
}

/* Waits for @t's body to return 0, and releases it. */
static void end_task(weft_task_t *t) {
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
}

static void resume_and_check(int sock, int peer, int file, off_t off) {
  struct drain d = {.fd = peer, .from = (size_t)off, .n = (size_t)(FILE_SIZE - off)};
  weft_task_t *reader = start_drain(&d);
  ck_assert_int_eq(weft_sock_sendfile(sock, file, &off, 0), FILE_SIZE - d.from);
  ck_assert_int_eq(off, FILE_SIZE);
  end_drain(sock, reader);
}

/* Skips what the peer holds already: the bytes [0, @n). */
static void skip_received(int peer, size_t n) {
  static char buf[8192];
  size_t got = 0;
  while (got < n) {
    ssize_t k = weft_recv(peer, buf, n - got < sizeof buf ? n - got : sizeof buf, 0);
    ck_assert_int_gt(k, 0);
    struct drain from_start = {.from = 0};
    check_piece(buf, (size_t)k, got, drained_at, &from_start);
    got += (size_t)k;
  }
}

static int midway_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  for (int nb = 0; nb < 2; nb++) {
    /* Cancelled while waiting for the socket. */
    int f = pattern_file(), sv[2];
    small_pair(sv, nb);
    struct stuck s = {.sock = sv[0], .file = f, .off = 0, .rc = 1};
    /* Once bytes arrive, the sender has sent some (it may still be
     * sending, or already waiting for the full socket: either way the
     * cancellation ends it midway, at its next wait). */
    weft_task_t *t = start_sending(send_stuck, &s, sv[1]);
    weft_task_cancel(t, NULL);
    end_task(t);
    ck_assert_int_eq(s.rc, -ECANCELED);
    ck_assert_int_gt(s.off, 0);
    ck_assert_int_lt(s.off, FILE_SIZE);
    skip_received(sv[1], (size_t)s.off);
    resume_and_check(sv[0], sv[1], f, s.off);
    close_all(sv, f);
    /* Past a timeout. The first 2,000 bytes go untimed (they fit in the
     * socket's buffer): how soon the timed call's first step runs is the
     * machine's business, and what it must show is an offset kept across
     * a timeout after progress. */
    f = pattern_file();
    small_pair(sv, nb);
    off_t off = 0;
    ck_assert_int_eq(weft_sock_sendfile(sv[0], f, &off, 2000), 2000);
    ck_assert_int_eq(weft_sock_sendfile_timeout(sv[0], f, &off, 0, 20 * 1000 * 1000), -ETIMEDOUT);
    ck_assert_int_ge(off, 2000);
    ck_assert_int_lt(off, FILE_SIZE);
    skip_received(sv[1], (size_t)off);
    resume_and_check(sv[0], sv[1], f, off);
    close_all(sv, f);
    /* A cancellation pending at the call: nothing sent. */
    f = pattern_file();
    small_pair(sv, nb);
    off = 0;
    ck_assert_int_eq(weft_task_cancel(weft_task_current(), NULL), 1);
    ck_assert_int_eq(weft_sock_sendfile(sv[0], f, &off, 0), -ECANCELED);
    ck_assert_int_eq(weft_task_uncancel(weft_task_current()), 0);
    ck_assert_int_eq(off, 0);
    close_all(sv, f);
  }
  return 0;
}

START_TEST(test_stopped_midway_resumes) {
  ck_assert_int_eq(run_main(1, midway_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, midway_main, NULL, NULL), 0);
}
END_TEST

/* A peer gone: -EPIPE, and no SIGPIPE (its default action would end the
 * test process); bad input refused before anything is sent. */
static int errors_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  for (int nb = 0; nb < 2; nb++) {
    int f = pattern_file(), sv[2];
    small_pair(sv, nb);
    close(sv[1]);
    off_t off = 0;
    ck_assert_int_eq(weft_sock_sendfile(sv[0], f, &off, 0), -EPIPE);
    ck_assert_int_eq(off, 0);
    sigset_t pending;
    sigemptyset(&pending);
    ck_assert_int_eq(sigpending(&pending), 0);
    ck_assert(!sigismember(&pending, SIGPIPE));
    close(sv[0]);
    close(f);
  }
  int f = pattern_file(), sv[2];
  small_pair(sv, true);
  off_t off = -1;
  ck_assert_int_eq(weft_sock_sendfile(sv[0], f, &off, 0), -EINVAL);
  off = 0;
  ck_assert_int_eq(weft_sock_sendfile(sv[0], f, &off, (size_t)SSIZE_MAX + 1), -EINVAL);
  ck_assert_int_eq(weft_sock_sendfile(f, f, &off, 0), -ENOTSOCK);
  ck_assert_int_eq(weft_sock_sendfile(-1, f, &off, 0), -EBADF);
  ck_assert_int_eq(weft_sock_sendfile(sv[0], -1, &off, 0), -EBADF);
  int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(udp, 0);
  ck_assert_int_eq(weft_sock_sendfile(udp, f, &off, 0), -EINVAL); /* SOCK_STREAM only */
  ck_assert_int_eq(off, 0);
  close(udp);
  close_all(sv, f);
  return 0;
}

START_TEST(test_errors) {
  ck_assert_int_eq(run_main(1, errors_main, NULL, NULL), 0);
  off_t off = 0;
  ck_assert_int_eq(weft_sock_sendfile(0, 0, &off, 0), -EPERM); /* not a task */
}
END_TEST

/* A file mostly out of the page cache (written, synced, dropped; its
 * second MiB read back in): a window not cached goes by the copy, whose
 * reads the ring does off the worker's thread (the first one here; the
 * kernel's readahead brings the later ones in meanwhile), a cached one by
 * sendfile(2); what arrives and where the offset ends are the same. (On a
 * filesystem that keeps no separate cache, tmpfs, every window is cached
 * and only the second half of that is exercised.) */
enum { BIG = 3 * 1024 * 1024 + 1000 };

static int cold_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  for (int i = 0; i < 4; i++) {
    bool nb = i & 1, by_position = i & 2;
    int f = pattern_file_of(BIG), sv[2];
    ck_assert_int_eq(fsync(f), 0);
    ck_assert_int_eq(posix_fadvise(f, 0, 0, POSIX_FADV_DONTNEED), 0);
    static char warm[1024 * 1024];
    ck_assert_int_eq(pread(f, warm, sizeof warm, 1024 * 1024), (ssize_t)sizeof warm);
    small_pair(sv, nb);
    struct drain d = {.fd = sv[1], .from = 100, .n = BIG - 100};
    weft_task_t *reader = start_drain(&d);
    off_t off = 100;
    if (by_position) ck_assert_int_eq(lseek(f, off, SEEK_SET), off);
    ck_assert_int_eq(weft_sock_sendfile(sv[0], f, by_position ? NULL : &off, 0), BIG - 100);
    ck_assert_int_eq(by_position ? lseek(f, 0, SEEK_CUR) : off, BIG);
    end_drain(sv[0], reader);
    close_all(sv, f);
  }
  return 0;
}

START_TEST(test_file_out_of_the_cache) {
  ck_assert_int_eq(run_main(1, cold_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, cold_main, NULL, NULL), 0);
}
END_TEST

#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
/* cachestat(2) failing with ENOSYS in this process, as on a kernel older
 * than 6.5 (Debian 12's 6.1): a seccomp filter, inherited by the threads
 * made after it. */
static void deny_cachestat(void) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 451, 0, 1), /* cachestat, on every architecture */
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof f / sizeof f[0], f};
  ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
  ck_assert_int_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
  errno = 0;
  ck_assert_int_eq(syscall(451, -1, NULL, NULL, 0), -1);
  ck_assert_int_eq(errno, ENOSYS);
}

/* The same cold file where the kernel has no cachestat: the windows are
 * judged by their probes alone (sendfile.c) and the file arrives the same.
 * In a child of the test's process (the filter cannot be taken back). */
START_TEST(test_file_out_of_the_cache_without_cachestat) {
  const char *nofork = getenv("CK_FORK");
  if (nofork && strcmp(nofork, "no") == 0) return; /* check_waitpid_and_exit would end the run */
  pid_t pid = check_fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    deny_cachestat();
    ck_assert_int_eq(run_main(1, cold_main, NULL, NULL), 0);
    ck_assert_int_eq(run_main(4, cold_main, NULL, NULL), 0);
  }
  check_waitpid_and_exit(pid);
}
END_TEST
#endif

/* A file cut short while it is being sent: the call ends at the new end
 * (the windows past it are no longer cached and their copy finds the
 * end). Before, that copy made no progress and the call went round for
 * ever. */
static int truncated_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  enum { CUT = 2 * 1024 * 1024 + 500 };
  int f = pattern_file_of(BIG), sv[2];
  small_pair(sv, true);
  struct stuck st = {.sock = sv[0], .file = f, .off = 0, .rc = 1};
  weft_task_t *t = start_sending(send_stuck, &st, sv[1]);
  ck_assert_int_eq(ftruncate(f, CUT), 0);
  struct drain d = {.fd = sv[1], .from = 0, .n = CUT};
  weft_task_t *reader = start_drain(&d);
  end_task(t);
  ck_assert_int_eq(st.rc, CUT);
  ck_assert_int_eq(st.off, CUT);
  end_drain(sv[0], reader);
  close_all(sv, f);
  return 0;
}

START_TEST(test_file_cut_short) {
  ck_assert_int_eq(run_main(1, truncated_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, truncated_main, NULL, NULL), 0);
}
END_TEST

/* A file opened O_DIRECT goes by an aligned copy (sendfile(2) would read
 * the device on the worker's thread, the plain copy's reads are not
 * aligned: both were -EINVAL or worse): any offset, the file position,
 * a last block only partly in the file. Skipped where the filesystem has
 * no O_DIRECT. */
static int direct_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  for (int i = 0; i < 6; i++) {
    bool nb = i & 1;
    int shape = i / 2; /* 0: a range at an unaligned offset, 1: all, 2: by position */
    int f = pattern_file(), sv[2];
    if (fcntl(f, F_SETFL, fcntl(f, F_GETFL) | O_DIRECT) != 0) {
      close(f);
      return 0; /* no O_DIRECT here */
    }
    small_pair(sv, nb);
    off_t from = shape == 1 ? 0 : shape == 0 ? 100 : 5000;
    size_t count = shape == 0 ? 70000 : 0, expect = count ? count : (size_t)(FILE_SIZE - from);
    struct drain d = {.fd = sv[1], .from = (size_t)from, .n = expect};
    weft_task_t *reader = start_drain(&d);
    off_t off = from;
    if (shape == 2) ck_assert_int_eq(lseek(f, from, SEEK_SET), from);
    ck_assert_int_eq(weft_sock_sendfile(sv[0], f, shape == 2 ? NULL : &off, count), (ssize_t)expect);
    ck_assert_int_eq(shape == 2 ? lseek(f, 0, SEEK_CUR) : off, from + (off_t)expect);
    end_drain(sv[0], reader);
    close_all(sv, f);
  }
  return 0;
}

START_TEST(test_direct_file) {
  ck_assert_int_eq(run_main(1, direct_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, direct_main, NULL, NULL), 0);
}
END_TEST

/* ---- a stream writer's sendfile (asyncio's loop.sendfile(transport)) ---- */

enum { PREFIX = 30000, SUFFIX = 100 };

/* What the peer must read: @prefix bytes 'P', the pattern's [from,
 * from + n), @suffix bytes 'S', then the end. */
struct expect {
  int fd;
  size_t prefix, from, n, suffix;
};

static char expected_at(const void *ctx, size_t i) {
  const struct expect *e = ctx;
  if (i < e->prefix) return 'P';
  if (i < e->prefix + e->n) return pattern_at(e->from + i - e->prefix);
  return 'S';
}

static int expect_check(void *arg, void **res) {
  (void)res;
  struct expect *e = arg;
  ck_assert_uint_eq(recv_checked(e->fd, expected_at, e), e->prefix + e->n + e->suffix);
  return 0;
}

static weft_task_t *start_expect(struct expect *e) {
  weft_task_t *peer;
  ck_assert_int_eq(weft_spawn(expect_check, e, &peer), 0);
  return peer;
}

/* Closes @w (what it holds is sent first) and waits for @peer's check. */
static void end_expect(weft_writer_t *w, weft_task_t *peer) {
  ck_assert_int_eq(weft_writer_close(w), 0);
  end_task(peer);
}

/* A stream over the sending end of a small blocking pair (the stream owns
 * sv[0]; sv[1] is the peer). */
static weft_writer_t *pair_stream(int sv[2], weft_reader_t **r) {
  small_pair(sv, false);
  weft_writer_t *w;
  ck_assert_int_eq(weft_stream_open_fd(sv[0], sv[0], 0, r, &w), 0);
  return w;
}

static void write_fill(weft_writer_t *w, char c, size_t n) {
  static char buf[PREFIX * 2];
  ck_assert_uint_le(n, sizeof buf);
  memset(buf, c, n);
  ck_assert_int_eq(weft_writer_write(w, buf, n), 0);
}

static void stream_done(weft_reader_t *r, weft_writer_t *w, int peer, int f) {
  weft_reader_release(r);
  weft_writer_release(w);
  close(peer);
  close(f);
}

/* Written bytes before and after, in order, the file between them sent
 * zero-copy on the stream's blocking socket, which stays blocking. The
 * short prefix waits in the buffer for the end of the pass (a queued
 * send, on io_uring) while the socket has room; the long one fills the
 * socket and waits in the buffer for the peer. */
static int writer_order_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  for (int i = 0; i < 4; i++) {
    bool by_position = i & 1;
    size_t prefix = i & 2 ? PREFIX : 1000;
    int f = pattern_file(), sv[2];
    weft_reader_t *r;
    weft_writer_t *w = pair_stream(sv, &r);
    struct expect e = {.fd = sv[1], .prefix = prefix, .from = 1000, .n = 70000, .suffix = SUFFIX};
    weft_task_t *peer = start_expect(&e);
    write_fill(w, 'P', prefix);
    off_t off = 1000;
    if (by_position) ck_assert_int_eq(lseek(f, off, SEEK_SET), off);
    ck_assert_int_eq(weft_writer_sendfile(w, f, by_position ? NULL : &off, 70000), 70000);
    ck_assert_int_eq(by_position ? lseek(f, 0, SEEK_CUR) : off, 71000);
    /* Left non-blocking by the first sendfile, as asyncio's transports
     * keep their sockets; the stream's writes and reads go on as before. */
    ck_assert(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
    write_fill(w, 'S', SUFFIX);
    end_expect(w, peer);
    ck_assert_int_eq(weft_writer_wait_closed(w), 0);
    stream_done(r, w, sv[1], f);
  }
  return 0;
}

START_TEST(test_writer_sends_in_order) {
  ck_assert_int_eq(run_main(1, writer_order_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, writer_order_main, NULL, NULL), 0);
}
END_TEST

struct writer_send {
  weft_writer_t *w;
  int file;
  off_t off;
  ssize_t rc;
};

static int writer_send(void *arg, void **res) {
  (void)res;
  struct writer_send *s = arg;
  s->rc = weft_writer_sendfile(s->w, s->file, &s->off, 0);
  return 0;
}

enum during { DURING_EOF, DURING_CLOSE, DURING_ABORT };

/* A sendfile stuck on a peer that does not read yet (the file is far
 * larger than the pair's buffers): writes and a second sendfile are
 * refused, drain returns, and write_eof/close take effect after the
 * file; abort ends it. */
static void while_sending(enum during what) {
  int f = pattern_file(), sv[2];
  weft_reader_t *r;
  weft_writer_t *w = pair_stream(sv, &r);
  struct writer_send s = {.w = w, .file = f, .off = 0, .rc = 1};
  weft_task_t *t = start_sending(writer_send, &s, sv[1]);
  ck_assert_int_eq(weft_writer_write(w, "x", 1), -EBUSY);
  off_t off2 = 0;
  ck_assert_int_eq(weft_writer_sendfile(w, f, &off2, 0), -EBUSY);
  ck_assert_int_eq(off2, 0);
  ck_assert_int_eq(weft_writer_drain(w), 0);
  ck_assert_uint_eq(weft_writer_buffer_size(w), 0);
  struct expect e = {.fd = sv[1], .n = FILE_SIZE};
  if (what == DURING_ABORT) {
    ck_assert_int_eq(weft_writer_abort(w), 0);
    end_task(t);
    ck_assert_int_eq(s.rc, -EPIPE);
    ck_assert_int_gt(s.off, 0);
    ck_assert_int_lt(s.off, FILE_SIZE);
  } else {
    ck_assert_int_eq(what == DURING_EOF ? weft_writer_write_eof(w) : weft_writer_close(w), 0);
    ck_assert_int_eq(expect_check(&e, NULL), 0); /* the whole file, then the end */
    end_task(t);
    ck_assert_int_eq(s.rc, FILE_SIZE);
    ck_assert_int_eq(s.off, FILE_SIZE);
  }
  off_t off = 0;
  if (what == DURING_EOF) {
    ck_assert_int_eq(weft_writer_write(w, "x", 1), WEFT_ECLOSED);
    ck_assert_int_eq(weft_writer_sendfile(w, f, &off, 0), -EPIPE);
  } else {
    ck_assert_int_eq(weft_writer_wait_closed(w), 0);
    ck_assert_int_eq(weft_writer_sendfile(w, f, &off, 0), WEFT_ECLOSED);
  }
  ck_assert_int_eq(off, 0);
  stream_done(r, w, sv[1], f);
}

static int while_sending_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  while_sending(DURING_EOF);
  while_sending(DURING_CLOSE);
  while_sending(DURING_ABORT);
  return 0;
}

START_TEST(test_writer_while_sending) {
  ck_assert_int_eq(run_main(1, while_sending_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, while_sending_main, NULL, NULL), 0);
}
END_TEST

/* Waiting for the buffer to empty, a timeout or a cancellation ends the
 * call with nothing of the file sent and the writer usable again. */
static int flush_wait_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int f = pattern_file(), sv[2];
  weft_reader_t *r;
  weft_writer_t *w = pair_stream(sv, &r);
  write_fill(w, 'P', 2 * PREFIX);
  ck_assert_uint_gt(weft_writer_buffer_size(w), 0); /* nobody reads yet */
  off_t off = 0;
  ck_assert_int_eq(weft_writer_sendfile_timeout(w, f, &off, 0, 20 * 1000 * 1000), -ETIMEDOUT);
  ck_assert_int_eq(off, 0);
  ck_assert_int_eq(weft_task_cancel(weft_task_current(), NULL), 1);
  ck_assert_int_eq(weft_writer_sendfile(w, f, &off, 0), -ECANCELED);
  ck_assert_int_eq(weft_task_uncancel(weft_task_current()), 0);
  ck_assert_int_eq(off, 0);
  ck_assert_int_eq(lseek(f, 0, SEEK_CUR), 0);
  write_fill(w, 'S', SUFFIX); /* no sendfile runs any more */
  struct expect e = {.fd = sv[1], .prefix = 2 * PREFIX, .suffix = SUFFIX};
  weft_task_t *peer = start_expect(&e);
  end_expect(w, peer);
  stream_done(r, w, sv[1], f);
  return 0;
}

START_TEST(test_writer_flush_wait_ends) {
  ck_assert_int_eq(run_main(1, flush_wait_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, flush_wait_main, NULL, NULL), 0);
}
END_TEST

static int writer_outside_task(void *arg, void **res) {
  (void)res;
  off_t off = 0;
  return (int)weft_writer_sendfile(arg, 0, &off, 0);
}

static int writer_errors_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int f = pattern_file(), sv[2];
  weft_reader_t *r;
  weft_writer_t *w = pair_stream(sv, &r);
  off_t off = -1;
  ck_assert_int_eq(weft_writer_sendfile(NULL, f, &off, 0), -EINVAL);
  ck_assert_int_eq(weft_writer_sendfile(w, f, &off, 0), -EINVAL);
  off = 0;
  ck_assert_int_eq(weft_writer_sendfile(w, f, &off, (size_t)SSIZE_MAX + 1), -EINVAL);
  ck_assert_int_eq(weft_writer_sendfile(w, -1, &off, 0), -EBADF);
  /* outside a task (an executor's thread) */
  void *out = NULL;
  ck_assert_int_eq(weft_to_thread(writer_outside_task, w, &out), -EPERM);
  /* a pipe's writer: asyncio has no sendfile for pipes */
  int p[2];
  ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
  weft_writer_t *pw;
  ck_assert_int_eq(weft_stream_open_fd(-1, p[1], 0, NULL, &pw), 0);
  ck_assert_int_eq(weft_writer_sendfile(pw, f, &off, 0), -ENOTSOCK);
  weft_writer_release(pw);
  close(p[0]);
  /* the writer still works: nothing above marked it */
  struct expect e = {.fd = sv[1], .n = 5000, .suffix = SUFFIX};
  weft_task_t *peer = start_expect(&e);
  ck_assert_int_eq(weft_writer_sendfile(w, f, &off, 5000), 5000);
  write_fill(w, 'S', SUFFIX);
  end_expect(w, peer);
  stream_done(r, w, sv[1], f);
  return 0;
}

START_TEST(test_writer_errors) {
  ck_assert_int_eq(run_main(1, writer_errors_main, NULL, NULL), 0);
}
END_TEST

/* A connected TCP pair on the loopback: sv[0] sends (TCP_NODELAY, as
 * servers set it), sv[1] receives. */
static void tcp_pair(int sv[2]) {
  io_tcp_pair(&sv[0], &sv[1]);
  int one = 1;
  ck_assert_int_eq(setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
}

/* Bytes the socket holds and has not sent (SIOCOUTQNSD). */
static int unsent(int sock) {
  int n = -1;
  ck_assert_int_eq(ioctl(sock, SIOCOUTQNSD, &n), 0);
  return n;
}

/* A response's head written, then the file: with io_uring the head goes
 * ahead of the pass's end with MSG_MORE, in the file's segment. Whatever
 * the file turns out to be (the whole range, empty, past its end, shorter
 * than asked), nothing may stay held back in the socket once the call
 * returns: the peer, waiting for the response, would wait for a TCP
 * timer. */
static int head_start_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  enum { HEAD = 200, BODY = 5000 };
  for (int shape = 0; shape < 4; shape++) {
    /* 0: the range; 1: an empty file; 2: an offset past the end; 3: a
     * count past the end */
    int f = shape == 1 ? pattern_file_of(0) : pattern_file_of(BODY), sv[2];
    tcp_pair(sv);
    weft_reader_t *r;
    weft_writer_t *w;
    ck_assert_int_eq(weft_stream_open_fd(sv[0], sv[0], 0, &r, &w), 0);
    size_t body = shape == 0 || shape == 3 ? BODY : 0;
    struct expect e = {.fd = sv[1], .prefix = HEAD, .from = 0, .n = body};
    weft_task_t *peer = start_expect(&e);
    write_fill(w, 'P', HEAD);
    off_t off = shape == 2 ? BODY + 10 : 0;
    size_t count = shape == 0 ? BODY : shape == 3 ? BODY + 1000 : 10;
    ck_assert_int_eq(weft_writer_sendfile(w, f, &off, count), (ssize_t)body);
    ck_assert_int_eq(unsent(sv[0]), 0);
    end_expect(w, peer);
    stream_done(r, w, sv[1], f);
  }
  return 0;
}

START_TEST(test_writer_head_start) {
  ck_assert_int_eq(run_main(1, head_start_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, head_start_main, NULL, NULL), 0);
}
END_TEST

/* A keep-alive server's responses, round after round on two workers: a
 * short answer, a wait that moves the task between workers (an fsync: the
 * offload pool on epoll, the ring on io_uring), then a head and a file.
 * The short answer's queued send runs at its worker's pass end while the
 * head is written on the other worker; the sendfile waits for both. On
 * epoll that send is a system call made outside the lock, and what was
 * written meanwhile once waited for a pass the worker, about to sleep,
 * never made: the sendfile hung (file_server's pipelined test caught it
 * once in tens of runs). Every byte must arrive, in order. */
enum { RR_ANSWER = 60, RR_HEAD = 100, RR_BODY = 64 };

static char round_at(const void *ctx, size_t i) {
  (void)ctx;
  size_t k = i % (RR_ANSWER + RR_HEAD + RR_BODY);
  if (k < RR_ANSWER) return 'A';
  if (k < RR_ANSWER + RR_HEAD) return 'H';
  return pattern_at(k - RR_ANSWER - RR_HEAD);
}

struct rounds_peer {
  int fd;
  size_t n;
};

static int rounds_check(void *arg, void **res) {
  (void)res;
  struct rounds_peer *p = arg;
  ck_assert_uint_eq(recv_checked(p->fd, round_at, NULL), p->n);
  return 0;
}

static int response_rounds_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  long rounds = scaled(4000);
  int f = pattern_file_of(RR_BODY), sv[2];
  tcp_pair(sv);
  weft_reader_t *r;
  weft_writer_t *w;
  ck_assert_int_eq(weft_stream_open_fd(sv[0], sv[0], 0, &r, &w), 0);
  struct rounds_peer p = {.fd = sv[1], .n = (size_t)rounds * (RR_ANSWER + RR_HEAD + RR_BODY)};
  weft_task_t *peer;
  ck_assert_int_eq(weft_spawn(rounds_check, &p, &peer), 0);
  for (long i = 0; i < rounds; i++) {
    write_fill(w, 'A', RR_ANSWER);
    ck_assert_int_eq(weft_fsync(f), 0);
    write_fill(w, 'H', RR_HEAD);
    off_t off = 0;
    ck_assert_int_eq(weft_writer_sendfile(w, f, &off, RR_BODY), RR_BODY);
  }
  end_expect(w, peer);
  stream_done(r, w, sv[1], f);
  return 0;
}

START_TEST(test_writer_responses_across_workers) {
  ck_assert_int_eq(run_main(2, response_rounds_main, NULL, NULL), 0);
}
END_TEST

static Suite *sendfile_suite(void) {
  Suite *s = suite_create("io_sendfile");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_file_arrives_whole);
  tcase_add_test(tc, test_pipe_as_the_file);
  tcase_add_test(tc, test_stopped_midway_resumes);
  tcase_add_test(tc, test_errors);
  tcase_add_test(tc, test_file_out_of_the_cache);
#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
  tcase_add_test(tc, test_file_out_of_the_cache_without_cachestat);
#endif
  tcase_add_test(tc, test_file_cut_short);
  tcase_add_test(tc, test_direct_file);
  tcase_add_test(tc, test_writer_sends_in_order);
  tcase_add_test(tc, test_writer_while_sending);
  tcase_add_test(tc, test_writer_flush_wait_ends);
  tcase_add_test(tc, test_writer_errors);
  tcase_add_test(tc, test_writer_head_start);
  tcase_add_test(tc, test_writer_responses_across_workers);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_IO_TEST_MAIN(sendfile_suite)
