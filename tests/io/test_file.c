/*
 * test_file.c - file operations (io/file.c) through the reactor: success and
 * error paths, pipes that block, cancellation (buffer safety, no lost
 * data), timeouts and O_DIRECT.
 */
#include "io_helpers.h"
#include <stdint.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <netdb.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <linux/openat2.h>

/* weft-test-@what-PID in the build directory, a disk file system (tmpfs
 * lacks O_DIRECT); one buffer per name, so two names can be in use. */
static const char *test_path(char buf[64], const char *what) {
  snprintf(buf, 64, "weft-test-%s-%d", what, (int)getpid());
  return buf;
}

static const char *tmp_path(void) {
  static char buf[64];
  return test_path(buf, "file");
}

static int roundtrip_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  const char *p = tmp_path();
  int fd = weft_open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  ck_assert_int_eq(weft_pwrite(fd, "hello world", 11, 0), 11);
  char buf[32] = {0};
  ck_assert_int_eq(weft_pread(fd, buf, sizeof buf, 6), 5);
  ck_assert_str_eq(buf, "world");
  /* The file position: write then read through it. */
  ck_assert_int_eq(weft_write(fd, "AB", 2), 2);
  ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 2);
  memset(buf, 0, sizeof buf);
  ck_assert_int_eq(weft_read(fd, buf, 3), 3);
  ck_assert_str_eq(buf, "llo");
  /* Vectors, at an offset and at the position. */
  struct iovec wv[2] = {{"12", 2}, {"345", 3}};
  ck_assert_int_eq(weft_writev(fd, wv, 2, 20), 5);
  char a[2], b[3];
  struct iovec rv[2] = {{a, 2}, {b, 3}};
  ck_assert_int_eq(weft_readv(fd, rv, 2, 20), 5);
  ck_assert(memcmp(a, "12", 2) == 0 && memcmp(b, "345", 3) == 0);
  ck_assert_int_eq(weft_readv(fd, rv, 2, -1), 5); /* position 5: " worl" */
  ck_assert(memcmp(a, " w", 2) == 0 && memcmp(b, "orl", 3) == 0);
  ck_assert_int_eq(weft_fsync(fd), 0);
  ck_assert_int_eq(weft_fdatasync(fd), 0);
  ck_assert_int_eq(weft_fallocate(fd, 0, 0, 8192), 0);
  struct statx st;
  ck_assert_int_eq(weft_statx(AT_FDCWD, p, 0, STATX_SIZE, &st), 0);
  ck_assert_uint_eq(st.stx_size, 8192);
  ck_assert_int_eq(weft_close(fd), 0);
  ck_assert_int_eq(unlink(p), 0);
  return 0;
}

START_TEST(test_roundtrip) {
  ck_assert_int_eq(run_main(1, roundtrip_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(2, roundtrip_main, NULL, NULL), 0);
}
END_TEST

static int errors_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  char buf[8];
  ck_assert_int_eq(weft_read(-1, buf, 1), -EBADF);
  ck_assert_int_eq(weft_write(9999, buf, 1), -EBADF);
  ck_assert_int_eq(weft_open("/nonexistent/weft", O_RDONLY, 0), -ENOENT);
  ck_assert_int_eq(weft_openat(AT_FDCWD, NULL, O_RDONLY, 0), -EINVAL);
  ck_assert_int_eq(weft_pread(0, buf, 1, -5), -EINVAL);
  ck_assert_int_eq(weft_readv(0, NULL, 1, 0), -EINVAL);
  ck_assert_int_eq(weft_readv(0, NULL, -1, 0), -EINVAL);
  ck_assert_int_eq(weft_fallocate(0, 0, 0, 0), -EINVAL);
  ck_assert_int_eq(weft_statx(AT_FDCWD, NULL, 0, 0, NULL), -EINVAL);
  ck_assert_int_eq(weft_close(-1), -EBADF);
  ck_assert_int_eq(weft_fsync(-1), -EBADF);
  unsigned m, o;
  ck_assert_int_eq(weft_dio_alignment(0, NULL, &o), -EINVAL);
  (void)m;
  return 0;
}

START_TEST(test_errors) {
  ck_assert_int_eq(run_main(1, errors_main, NULL, NULL), 0);
  /* Outside a task. */
  char buf[4];
  ck_assert_int_eq(weft_read(0, buf, 1), -EPERM);
  ck_assert_int_eq(weft_open("x", O_RDONLY, 0), -EPERM);
  ck_assert_int_eq(weft_io_nop(), -EPERM);
}
END_TEST

/* ---- openat2: resolution confined to a directory -------------------------- */

struct tree {
  char dir[64];
  int root; /* O_PATH fd of dir */
};

/* dir/a.txt ("alpha"), dir/sub/b ("beta"), dir/in -> sub/b,
 * dir/out -> / (escapes), dir/up -> ../ (escapes). */
static void tree_make(struct tree *t) {
  snprintf(t->dir, sizeof t->dir, "weft-test-openat2-%d", (int)getpid());
  ck_assert_int_eq(mkdir(t->dir, 0700), 0);
  t->root = open(t->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  ck_assert_int_ge(t->root, 0);
  int fd = openat(t->root, "a.txt", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ck_assert_int_eq(write(fd, "alpha", 5), 5);
  close(fd);
  ck_assert_int_eq(mkdirat(t->root, "sub", 0700), 0);
  fd = openat(t->root, "sub/b", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ck_assert_int_eq(write(fd, "beta", 4), 4);
  close(fd);
  ck_assert_int_eq(symlinkat("sub/b", t->root, "in"), 0);
  ck_assert_int_eq(symlinkat("/", t->root, "out"), 0);
  ck_assert_int_eq(symlinkat("..", t->root, "up"), 0);
}

static void tree_remove(struct tree *t) {
  static const char *const names[] = {"a.txt", "sub/b", "in", "out", "up"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    ck_assert_int_eq(unlinkat(t->root, names[i], 0), 0);
  ck_assert_int_eq(unlinkat(t->root, "sub", AT_REMOVEDIR), 0);
  close(t->root);
  ck_assert_int_eq(rmdir(t->dir), 0);
}

/* Opens @path beneath @root with @resolve; the first bytes, or the error. */
static int open_beneath(int root, const char *path, uint64_t resolve, char *got, size_t n) {
  struct open_how how = {.flags = O_RDONLY, .resolve = resolve};
  int fd = weft_openat2(root, path, &how, sizeof how);
  if (fd < 0) return fd;
  ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  memset(got, 0, n);
  ck_assert_int_ge(weft_pread(fd, got, n - 1, 0), 0);
  ck_assert_int_eq(weft_close(fd), 0);
  return 0;
}

static int openat2_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  struct tree t;
  tree_make(&t);
  char got[16];
  const uint64_t B = RESOLVE_BENEATH;
  ck_assert_int_eq(open_beneath(t.root, "a.txt", B, got, sizeof got), 0);
  ck_assert_str_eq(got, "alpha");
  ck_assert_int_eq(open_beneath(t.root, "sub/../a.txt", B, got, sizeof got), 0);
  ck_assert_str_eq(got, "alpha");
  ck_assert_int_eq(open_beneath(t.root, "in", B, got, sizeof got), 0); /* a link that stays in */
  ck_assert_str_eq(got, "beta");
  /* Every way out: "..", an absolute path, a link to /, a link to "..". */
  ck_assert_int_eq(open_beneath(t.root, "../x", B, got, sizeof got), -EXDEV);
  ck_assert_int_eq(open_beneath(t.root, "sub/../../x", B, got, sizeof got), -EXDEV);
  ck_assert_int_eq(open_beneath(t.root, "/etc/passwd", B, got, sizeof got), -EXDEV);
  ck_assert_int_eq(open_beneath(t.root, "out/etc/passwd", B, got, sizeof got), -EXDEV);
  ck_assert_int_eq(open_beneath(t.root, "up/x", B, got, sizeof got), -EXDEV);
  /* Without the rule, ".." leaves (and finds nothing there). */
  ck_assert_int_eq(open_beneath(t.root, "../weft-test-openat2-none", 0, got, sizeof got), -ENOENT);
  ck_assert_int_eq(open_beneath(t.root, "in", B | RESOLVE_NO_SYMLINKS, got, sizeof got), -ELOOP);
  ck_assert_int_eq(open_beneath(t.root, "missing", B, got, sizeof got), -ENOENT);
  ck_assert_int_eq(open_beneath(t.root, "a.txt/x", B, got, sizeof got), -ENOTDIR);
  ck_assert_int_eq(open_beneath(-1, "a.txt", B, got, sizeof got), -EBADF);
  ck_assert_int_eq(open_beneath(t.root, "a.txt", 1ull << 62, got, sizeof got), -EINVAL);

  /* The struct's size, as the kernel takes it. */
  struct {
    struct open_how how;
    uint64_t future;
  } big = {.how = {.flags = O_RDONLY, .resolve = B}};
  int fd = weft_openat2(t.root, "a.txt", &big.how, sizeof big);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(weft_close(fd), 0);
  big.future = 1;
  ck_assert_int_eq(weft_openat2(t.root, "a.txt", &big.how, sizeof big), -E2BIG);
  ck_assert_int_eq(weft_openat2(t.root, "a.txt", &big.how, 8), -EINVAL);
  ck_assert_int_eq(weft_openat2(t.root, "a.txt", NULL, sizeof big.how), -EINVAL);
  ck_assert_int_eq(weft_openat2(t.root, NULL, &big.how, sizeof big.how), -EINVAL);
  /* A mode without O_CREAT: the kernel's -EINVAL (openat ignores it). */
  struct open_how bad = {.flags = O_RDONLY, .mode = 0600};
  ck_assert_int_eq(weft_openat2(t.root, "a.txt", &bad, sizeof bad), -EINVAL);
  /* Creation beneath the root, through the timeout variant. */
  struct open_how mk = {.flags = O_WRONLY | O_CREAT | O_EXCL, .mode = 0600, .resolve = B};
  fd = weft_openat2_timeout(t.root, "sub/new", &mk, sizeof mk, 1000000000);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(weft_close(fd), 0);
  ck_assert_int_eq(weft_openat2_timeout(t.root, "sub/new", &mk, sizeof mk, -1), -EEXIST);
  ck_assert_int_eq(unlinkat(t.root, "sub/new", 0), 0);
  tree_remove(&t);
  return 0;
}

START_TEST(test_openat2) {
  ck_assert_int_eq(run_main(1, openat2_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(2, openat2_main, NULL, NULL), 0);
  struct open_how how = {.flags = O_RDONLY};
  ck_assert_int_eq(weft_openat2(AT_FDCWD, ".", &how, sizeof how), -EPERM); /* outside a task */
}
END_TEST

/* ---- pipes: a read suspends until a writer writes ------------------------- */

struct pipe_ctx {
  int fds[2];
  char got[16];
  ssize_t n;
  weft_event_t *started; /* set right before the read: a handshake, not a sleep */
};

static int pipe_reader(void *arg, void **res) {
  (void)res;
  struct pipe_ctx *c = arg;
  if (c->started) weft_event_set(c->started);
  c->n = weft_read(c->fds[0], c->got, sizeof c->got);
  return 0;
}

static int pipe_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  struct pipe_ctx c = {.n = -1};
  ck_assert_int_eq(pipe2(c.fds, O_CLOEXEC), 0);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(pipe_reader, &c, &t), 0);
  ck_assert_int_eq(weft_yield(), 0); /* one worker, FIFO: the reader is now blocked in read */
  ck_assert_int_eq(c.n, -1);
  ck_assert_int_eq(weft_write(c.fds[1], "ping", 4), 4);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  ck_assert_int_eq(c.n, 4);
  ck_assert(memcmp(c.got, "ping", 4) == 0);
  close(c.fds[0]);
  close(c.fds[1]);
  return 0;
}

START_TEST(test_pipe_blocks) { ck_assert_int_eq(run_main(1, pipe_main, NULL, NULL), 0); }
END_TEST

/* ---- FIFOs: an open waits for its partner, as open(2) does --------------- */

/* Named once by fifo_main before it spawns the ends (which run on other
 * workers too and only read it). */
static const char *fifo_name;

static int fifo_writer(void *arg, void **res) {
  (void)arg;
  (void)res;
  int fd = weft_open(fifo_name, O_WRONLY, 0);
  if (fd < 0) return fd;
  ssize_t n = weft_write(fd, "fifo", 4);
  weft_close(fd);
  return n == 4 ? 0 : n < 0 ? (int)n : -EIO;
}

static int fifo_reader(void *arg, void **res) {
  (void)res;
  char *got = arg;
  int fd = weft_open(fifo_name, O_RDONLY, 0);
  if (fd < 0) return fd;
  ssize_t n = weft_read(fd, got, 4);
  weft_close(fd);
  return n == 4 ? 0 : n < 0 ? (int)n : -EIO;
}

/* The writer's open first, while no reader has the FIFO open (io_uring's
 * inline try said -ENXIO there until 2026-12-07), then the reader's; and
 * the other way round. Both ends meet; the bytes go through. */
static int fifo_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  static char buf[64];
  fifo_name = test_path(buf, "fifo");
  for (int writer_first = 1; writer_first >= 0; writer_first--) {
    ck_assert_int_eq(mkfifo(fifo_name, 0600), 0);
    char got[5] = {0};
    weft_task_t *t[2];
    ck_assert_int_eq(weft_spawn(writer_first ? fifo_writer : fifo_reader, got, &t[0]), 0);
    ck_assert_int_eq(weft_yield(), 0); /* one worker: t[0] is in its open now */
    ck_assert_int_eq(weft_spawn(writer_first ? fifo_reader : fifo_writer, got, &t[1]), 0);
    for (int i = 0; i < 2; i++) {
      ck_assert_int_eq(weft_await(weft_task_future(t[i]), NULL), 0);
      weft_task_release(t[i]);
    }
    ck_assert_str_eq(got, "fifo");
    unlink(fifo_name);
  }
  ck_assert_int_eq(mkfifo(fifo_name, 0600), 0);
  /* O_NONBLOCK asks for open(2)'s -ENXIO, and gets it. */
  ck_assert_int_eq(weft_open(fifo_name, O_WRONLY | O_NONBLOCK, 0), -ENXIO);
  /* No reader ever: with io_uring the writer's open waits until cancelled,
   * or until its timeout. (An offload thread of the epoll backend holds
   * such an open until the partner comes: weft/io.h.) */
  if (strcmp(weft_loop_backend(weft_loop_current()), "io_uring") != 0) {
    unlink(fifo_name);
    return 0;
  }
  weft_task_t *w;
  ck_assert_int_eq(weft_spawn(fifo_writer, NULL, &w), 0);
  ck_assert_int_eq(weft_yield(), 0);
  ck_assert_int_eq(weft_task_cancel(w, NULL), 1);
  ck_assert_int_eq(weft_await(weft_task_future(w), NULL), -ECANCELED);
  weft_task_release(w);
  ck_assert_int_eq(weft_openat_timeout(AT_FDCWD, fifo_name, O_WRONLY, 0, 20 * 1000000LL), -ETIMEDOUT);
  unlink(fifo_name);
  return 0;
}

START_TEST(test_fifo_opens_wait_for_their_partner) {
  ck_assert_int_eq(run_main(1, fifo_main, NULL, NULL), 0);
  /* Four workers: the two ends' opens in either order, the cancel racing
   * the writer's start: the same outcomes. */
  ck_assert_int_eq(run_main(4, fifo_main, NULL, NULL), 0);
}
END_TEST

/* ---- cancellation --------------------------------------------------------- */

static int cancel_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  struct pipe_ctx c = {.n = 1};
  ck_assert_int_eq(pipe2(c.fds, O_CLOEXEC), 0);
  ck_assert_int_eq(weft_event_create(&c.started), 0);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(pipe_reader, &c, &t), 0);
  /* The reader is in (or about to enter) its read: either way the read
   * must end with -ECANCELED and take nothing. */
  ck_assert_int_eq(weft_event_wait(c.started, -1), 0);
  ck_assert_int_eq(weft_task_cancel(t, NULL), 1);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0); /* the body returned 0 */
  weft_task_release(t);
  ck_assert_int_eq(c.n, -ECANCELED);
  weft_event_destroy(c.started);
  /* The cancelled read took nothing: what is written now is all there. */
  ck_assert_int_eq(weft_write(c.fds[1], "data", 4), 4);
  char buf[8];
  ck_assert_int_eq(weft_read(c.fds[0], buf, sizeof buf), 4);
  ck_assert(memcmp(buf, "data", 4) == 0);
  close(c.fds[0]);
  close(c.fds[1]);
  return 0;
}

START_TEST(test_cancel_read) {
  ck_assert_int_eq(run_main(1, cancel_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(2, cancel_main, NULL, NULL), 0);
}
END_TEST

static int pending_cancel_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  /* A cancellation pending at the call: -ECANCELED before any I/O. */
  ck_assert_int_eq(weft_task_cancel(weft_task_current(), NULL), 1);
  char b;
  ck_assert_int_eq(weft_read(0, &b, 1), -ECANCELED);
  ck_assert_int_eq(weft_task_uncancel(weft_task_current()), 0);
  ck_assert_int_eq(weft_io_nop(), 0);
  return 0;
}

START_TEST(test_pending_cancel) {
  ck_assert_int_eq(run_main(1, pending_cancel_main, NULL, NULL), 0);
}
END_TEST

/* Many readers on many pipes, cancelled at random moments; writers then
 * fill every pipe. Each reader's buffer is checked after its read returns:
 * a late kernel write would change the guard pattern; every byte written
 * must be read exactly once by someone. */
#define STORM_PIPES 64

struct storm {
  int fds[STORM_PIPES][2];
  _Atomic long bytes_read;
  _Atomic long cancelled;
};

struct storm_reader {
  struct storm *s;
  int pipe;
};

static int storm_reader_fn(void *arg, void **res) {
  (void)res;
  struct storm_reader *r = arg;
  char *buf = malloc(64);
  memset(buf, 0xAB, 64);
  ssize_t n = weft_read(r->s->fds[r->pipe][0], buf, 8);
  if (n > 0) {
    atomic_fetch_add(&r->s->bytes_read, n);
  } else {
    ck_assert_int_eq(n, -ECANCELED);
    atomic_fetch_add(&r->s->cancelled, 1);
    for (int i = 0; i < 64; i++) ck_assert_uint_eq((unsigned char)buf[i], 0xAB);
  }
  free(buf);
  return 0;
}

static int storm_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  struct storm *s = calloc(1, sizeof *s);
  for (int i = 0; i < STORM_PIPES; i++) ck_assert_int_eq(pipe2(s->fds[i], O_CLOEXEC | O_NONBLOCK), 0);
  long rounds = scaled(200);
  long written = 0;
  for (long round = 0; round < rounds; round++) {
    weft_task_t *ts[STORM_PIPES];
    struct storm_reader rs[STORM_PIPES]; /* ours: a reader cancelled unstarted never runs */
    for (int i = 0; i < STORM_PIPES; i++) {
      rs[i].s = s;
      rs[i].pipe = i;
      ck_assert_int_eq(weft_spawn(storm_reader_fn, &rs[i], &ts[i]), 0);
    }
    ck_assert_int_eq(weft_yield(), 0);
    /* Half the pipes get data, then every reader is cancelled: some reads
     * complete, some are cancelled in the kernel, some race. */
    for (int i = round & 1; i < STORM_PIPES; i += 2) {
      ck_assert_int_eq(weft_write(s->fds[i][1], "12345678", 8), 8);
      written += 8;
    }
    for (int i = 0; i < STORM_PIPES; i++) weft_task_cancel(ts[i], NULL);
    for (int i = 0; i < STORM_PIPES; i++) {
      int rc = weft_await(weft_task_future(ts[i]), NULL);
      ck_assert(rc == 0 || rc == -ECANCELED); /* -ECANCELED: cancelled before it started */
      weft_task_release(ts[i]);
    }
  }
  /* Whatever no reader took is still in its pipe. */
  long left = 0;
  for (int i = 0; i < STORM_PIPES; i++) {
    char buf[4096];
    ssize_t n;
    while ((n = read(s->fds[i][0], buf, sizeof buf)) > 0) left += n;
    close(s->fds[i][0]);
    close(s->fds[i][1]);
  }
  ck_assert_int_eq(atomic_load(&s->bytes_read) + left, written);
  ck_assert_int_gt(atomic_load(&s->cancelled), 0);
  free(s);
  return 0;
}

START_TEST(test_cancel_storm) {
  ck_assert_int_eq(run_main(1, storm_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(2, storm_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, storm_main, NULL, NULL), 0);
}
END_TEST

/* ---- timeouts ------------------------------------------------------------- */

static int timeout_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int fds[2];
  ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
  char b;
  uint64_t t0 = weft_now_ns();
  ck_assert_int_eq(weft_read_timeout(fds[0], &b, 1, 50 * 1000000LL), -ETIMEDOUT);
  ck_assert_uint_ge(weft_now_ns() - t0, 50 * 1000000ULL);
  ck_assert_int_eq(weft_wait_readable_timeout(fds[0], 20 * 1000000LL), -ETIMEDOUT);
  /* Data there: the timeout does not matter. */
  ck_assert_int_eq(weft_write(fds[1], "x", 1), 1);
  ck_assert_int_gt(weft_wait_readable_timeout(fds[0], 20 * 1000000LL) & POLLIN, 0);
  ck_assert_int_eq(weft_read_timeout(fds[0], &b, 1, 50 * 1000000LL), 1);
  ck_assert_int_eq(b, 'x');
  /* A zero timeout on a read that cannot complete at once. */
  ck_assert_int_eq(weft_read_timeout(fds[0], &b, 1, 0), -ETIMEDOUT);
  close(fds[0]);
  close(fds[1]);
  return 0;
}

START_TEST(test_timeouts) {
  ck_assert_int_eq(run_main(1, timeout_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(2, timeout_main, NULL, NULL), 0);
}
END_TEST

/* ---- O_DIRECT ------------------------------------------------------------- */

static int direct_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  const char *p = tmp_path();
  int fd = weft_open(p, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
  if (fd == -EINVAL) { /* this file system has no O_DIRECT */
    fprintf(stderr, "O_DIRECT unsupported here; skipped\n");
    return 0;
  }
  ck_assert_int_ge(fd, 0);
  unsigned mem = 4096, off = 4096;
  int rc = weft_dio_alignment(fd, &mem, &off);
  ck_assert(rc == 0 || rc == -EOPNOTSUPP);
  if (rc == 0) ck_assert(mem > 0 && off > 0 && (mem & (mem - 1)) == 0);
  size_t blk = off < 4096 ? 4096 : off;
  size_t align = mem < 4096 ? 4096 : mem;
  char *wbuf = aligned_alloc(align, blk * 4), *rbuf = aligned_alloc(align, blk * 4);
  for (size_t i = 0; i < blk * 4; i++) wbuf[i] = (char)(i * 7);
  ck_assert_int_eq(weft_pwrite(fd, wbuf, blk * 4, 0), (ssize_t)(blk * 4));
  ck_assert_int_eq(weft_fdatasync(fd), 0);
  ck_assert_int_eq(weft_pread(fd, rbuf, blk, (off_t)blk * 2), (ssize_t)blk);
  ck_assert(memcmp(rbuf, wbuf + blk * 2, blk) == 0);
  /* Misaligned offset: the kernel's -EINVAL, not a crash. */
  ck_assert_int_eq(weft_pread(fd, rbuf, blk, 1), -EINVAL);
  free(wbuf);
  free(rbuf);
  ck_assert_int_eq(weft_close(fd), 0);
  unlink(p);
  return 0;
}

START_TEST(test_direct) { ck_assert_int_eq(run_main(1, direct_main, NULL, NULL), 0); }
END_TEST

/* Not under the sanitizers. TSan refuses new threads in a multi-threaded
 * process's forked child. ASan (GCC 12's libasan.so.8) has no fork
 * interceptor (`nm -D` lists vfork's only), so nothing holds its
 * allocator's locks across fork: when one of the parent's threads is
 * refilling its allocation cache at the fork, the child inherits that size
 * class's region mutex locked, with no owner to unlock it. CI's ASan stage
 * saw the child hang twice (2026-12-03); a hung child caught under the
 * ASan suite's load had its three new threads (the helper pool's) waiting
 * forever on that mutex, in ASan's own thread start (AsanThread::Init ->
 * pthread_getattr_np -> calloc -> SizeClassAllocator64::GetFromAllocator,
 * size class 14), and its worker waiting for their results. Not weft's:
 * the other four builds run the test. */
#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
/* ---- fork: the child of a process that ran loops gets a working pool --------- */

static int helpers_main(void *arg, void **res) {
  (void)res;
  struct addrinfo *ai = NULL;
  int rc = weft_getaddrinfo("localhost", "80", NULL, &ai); /* always on the helper pool */
  if (rc) return rc;
  freeaddrinfo(ai);
  int fd = weft_open(arg, O_RDWR | O_CREAT | O_TRUNC, 0600); /* the pool, on epoll */
  if (fd < 0) return fd;
  if (weft_write(fd, "fork", 4) != 4 || weft_fsync(fd) != 0) rc = -EIO;
  char b[4];
  if (!rc && weft_pread(fd, b, 4, 0) != 4) rc = -EIO;
  weft_close(fd);
  return rc;
}

/* In a child: a new loop uses the helpers; exit 0 if it all worked. */
static void child_uses_helpers(const char *path) {
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    /* A hang shows up as SIGALRM, not as a stuck test. The default action:
     * this child inherited Check's SIGALRM handler, which kills the whole
     * test's process group (CI's ASan stage, 2026-12-03: "Received signal
     * 9" 32 s in, instead of the child's exit status). */
    signal(SIGALRM, SIG_DFL);
    alarm(30);
    struct weft_loop_config cfg;
    weft_loop_config_init(&cfg);
    cfg.workers = 2;
    _exit(weft_run_config(&cfg, helpers_main, (void *)path, NULL) == 0 ? 0 : 1);
  }
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert(WIFEXITED(status));
  ck_assert_int_eq(WEXITSTATUS(status), 0);
}

START_TEST(test_fork_child_gets_a_working_pool) {
  const char *path = tmp_path();
  /* The parent starts helper threads... */
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 2;
  ck_assert_int_eq(weft_run_config(&cfg, helpers_main, (void *)path, NULL), 0);
  /* ...and keeps a loop open and idle (its worker threads exist) across fork. */
  weft_loop_t *idle = make_loop(2);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn_opts(idle, helpers_main, (void *)path, NULL, &t), 0);
  ck_assert_int_eq(weft_loop_run_until_complete(idle, weft_task_future(t), NULL), 0);
  weft_task_release(t);
  child_uses_helpers(path);
  close_clean(idle);
  child_uses_helpers(path); /* and after close */
  unlink(path);
}
END_TEST
#endif

static Suite *file_suite(void) {
  Suite *s = suite_create("io_file");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_roundtrip);
  tcase_add_test(tc, test_errors);
  tcase_add_test(tc, test_openat2);
  tcase_add_test(tc, test_pipe_blocks);
  tcase_add_test(tc, test_fifo_opens_wait_for_their_partner);
  tcase_add_test(tc, test_cancel_read);
  tcase_add_test(tc, test_pending_cancel);
  tcase_add_test(tc, test_cancel_storm);
  tcase_add_test(tc, test_timeouts);
  tcase_add_test(tc, test_direct);
#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
  tcase_add_test(tc, test_fork_child_gets_a_working_pool);
#endif
  suite_add_tcase(s, tc);
  return s;
}

WEFT_IO_TEST_MAIN(file_suite)
