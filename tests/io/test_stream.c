/*
 * test_stream.c - streams (io/stream.c, io/connect.c): reader semantics
 * (readuntil/readline/readexactly, limits, end of stream), writer
 * backpressure against a peer that does not read, asyncio's stream edges,
 * clients cancelled mid-conversation, and bad input; on io_uring, the
 * multishot receive (receiving ahead): order through many pauses, provided
 * buffers running out, a receive still standing at loop close, and reads
 * cancelled while bytes arrive; the _view calls (bytes read in place).
 * Servers have test_server.c.
 */
#include "io_helpers.h"
#include "server_helpers.h"
#include "stream.h" /* white box: the receive-ahead and queued-send counters */
#include "task.h"   /* white box: every task, the library's own included */
#include "worker.h" /* white box: a worker's reactor */
#include "loop.h"   /* white box: a one-worker loop's owner sections */
#include "membarrier.h"
#include <semaphore.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/un.h>

/* A socketpair: the test drives one end raw, the stream wraps the other. */
static void pair(int sv[2]) { ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0); }

/* A socketpair whose sv[0] a stream (limit @limit) wraps: reader and writer. */
static void stream_pair(int sv[2], size_t limit, weft_reader_t **r, weft_writer_t **w) {
  pair(sv);
  ck_assert_int_eq(weft_stream_open_fd(sv[0], sv[0], limit, r, w), 0);
}

/* A file's identity, to tell "closed" from "closed, and the number since
 * taken by another file": a loop's monitor thread opens files while
 * workers run, each taking the lowest free number for a moment: after a
 * stall report, the shared objects it names frames from (symbolize.c:
 * here libc.so.6: a task making thousands of assertions without
 * suspending, each one a write of its place to Check's pipe, holds its
 * worker for 100 ms, as some of this suite's do), and with the adapt
 * controller on, each worker's /proc schedstat every 100 ms. fcntl(fd) == -1 on a number just closed failed
 * so once (test_close_after_queued_writes, test_stream_epoll in
 * `make test`). */
struct fd_id {
  int fd;
  dev_t dev;
  ino_t ino;
};

static struct fd_id fd_id(int fd) {
  struct stat st;
  ck_assert_int_eq(fstat(fd, &st), 0);
  return (struct fd_id){.fd = fd, .dev = st.st_dev, .ino = st.st_ino};
}

/* Whether the file @id named is no longer open under its number. */
static bool fd_closed(struct fd_id id) {
  struct stat st;
  return fstat(id.fd, &st) != 0 || st.st_dev != id.dev || st.st_ino != id.ino;
}

/* Shrinks a socketpair's buffers (sv[0] sends into 4 KiB, sv[1] receives
 * into 4 KiB): a peer that does not read stops the writer soon. */
static void shrink_buffers(int sv[2]) {
  int small = 4096;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
}

/* A stream_pair (default limit) with shrunk buffers. */
static void small_stream_pair(int sv[2], weft_reader_t **r, weft_writer_t **w) {
  pair(sv);
  shrink_buffers(sv);
  ck_assert_int_eq(weft_stream_open_fd(sv[0], sv[0], 0, r, w), 0);
}

/* Ends a stream_pair: the stream released (its fd closed), then @peer. */
static void stream_pair_end(int peer, weft_reader_t *r, weft_writer_t *w) {
  weft_writer_release(w);
  weft_reader_release(r);
  close(peer);
}

struct feeder {
  int fd;
  const char *const *pieces;
  bool close_after;
};

/* Writes each piece with a yield in between, so the reader sees them
 * arrive in separate receives. */
static int feed(void *arg, void **res) {
  (void)res;
  struct feeder *f = arg;
  for (const char *const *p = f->pieces; *p; p++) {
    ck_assert_int_eq(weft_write(f->fd, *p, strlen(*p)), (ssize_t)strlen(*p));
    weft_yield();
  }
  if (f->close_after) close(f->fd);
  return 0;
}

static int reader_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  weft_reader_t *r;
  weft_writer_t *w;
  stream_pair(sv, 16, &r, &w);
  static const char *const pieces[] = {"GET / HT", "TP/1.1\r\n", "\r\nline one\nline", " two\n",
                                       "abcdef", "0123456789ABCDEFGHIJ", "tail", NULL};
  struct feeder f = {.fd = sv[1], .pieces = pieces, .close_after = true};
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(feed, &f, &t), 0);
  char buf[64];
  ssize_t n = weft_reader_readuntil(r, "\r\n\r\n", 4, buf, sizeof buf, NULL);
  ck_assert_int_eq(n, 18);
  ck_assert(memcmp(buf, "GET / HTTP/1.1\r\n\r\n", 18) == 0);
  n = weft_reader_readline(r, buf, sizeof buf);
  ck_assert_int_eq(n, 9);
  ck_assert(memcmp(buf, "line one\n", 9) == 0);
  /* Too small a buffer: -ENOSPC and nothing consumed. */
  ck_assert_int_eq(weft_reader_readline(r, buf, 4), -ENOSPC);
  ck_assert_int_eq(weft_reader_readline(r, buf, sizeof buf), 9);
  ck_assert(memcmp(buf, "line two\n", 9) == 0);
  ck_assert_int_eq(weft_reader_readexactly(r, buf, 6, NULL), 6);
  ck_assert(memcmp(buf, "abcdef", 6) == 0);
  /* 20 bytes without the separator, limit 16: LimitOverrun, data kept. */
  ck_assert_int_eq(weft_reader_readuntil(r, "#", 1, buf, sizeof buf, NULL), WEFT_ELIMIT);
  ck_assert_int_eq(weft_reader_read(r, buf, 10), 10);
  ck_assert(memcmp(buf, "0123456789", 10) == 0);
  /* The rest, then end of stream in the middle of readexactly. */
  size_t partial = 99;
  n = weft_reader_readexactly(r, buf, 40, &partial);
  ck_assert_int_eq(n, WEFT_EINCOMPLETE);
  ck_assert_uint_eq(partial, 14);
  ck_assert(memcmp(buf, "ABCDEFGHIJtail", 14) == 0);
  ck_assert_int_eq(weft_reader_at_eof(r), 1);
  ck_assert_int_eq(weft_reader_read(r, buf, sizeof buf), 0);
  ck_assert_int_eq(weft_reader_readline(r, buf, sizeof buf), 0);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  weft_writer_release(w);
  weft_reader_release(r);
  return 0;
}

START_TEST(test_reader) {
  ck_assert_int_eq(run_main(1, reader_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(2, reader_main, NULL, NULL), 0);
}
END_TEST

/* The _view calls: the bytes where the reader holds them, valid and the
 * caller's to write until its next call. Pieces arrive in separate
 * receives (a head split across two, a head and the next request's start
 * in one), then two pipelined requests in one write; each view is checked
 * and scribbled over before the next call, which must not see the
 * scribbles. Then read_view's bounds, the limit, and the end. */
static void view_is(const void *data, ssize_t n, const char *want) {
  ck_assert_int_eq(n, (ssize_t)strlen(want));
  ck_assert_ptr_nonnull(data);
  ck_assert(memcmp(data, want, strlen(want)) == 0);
  memset((void *)data, '#', (size_t)n); /* the caller's until its next call */
}

static int views_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  weft_reader_t *r;
  weft_writer_t *w;
  stream_pair(sv, 16, &r, &w);
  static const char *const pieces[] = {"GET / HT", "TP/1.1\r\n", "\r\nGET /2\r\n\r\nbo", "dy", NULL};
  struct feeder f = {.fd = sv[1], .pieces = pieces, .close_after = false};
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(feed, &f, &t), 0);
  void *data = (void *)1;
  ssize_t n = weft_reader_readuntil_view(r, "\r\n\r\n", 4, &data, NULL);
  view_is(data, n, "GET / HTTP/1.1\r\n\r\n");
  n = weft_reader_readuntil_view(r, "\r\n\r\n", 4, &data, NULL);
  view_is(data, n, "GET /2\r\n\r\n");
  n = weft_reader_read_view(r, 2, &data); /* bounded by max */
  view_is(data, n, "bo");
  n = weft_reader_read_view(r, 100, &data); /* "dy": what the next receive brings */
  view_is(data, n, "dy");
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  /* Two pipelined heads in one receive: two views, one after the other. */
  static const char two[] = "A\r\n\r\nBB\r\n\r\nrest";
  ck_assert_int_eq(write(sv[1], two, sizeof two - 1), (ssize_t)sizeof two - 1);
  n = weft_reader_readuntil_view(r, "\r\n\r\n", 4, &data, NULL);
  view_is(data, n, "A\r\n\r\n");
  n = weft_reader_readuntil_view(r, "\r\n\r\n", 4, &data, NULL);
  view_is(data, n, "BB\r\n\r\n");
  ck_assert_int_eq(weft_reader_read_view(r, 0, &data), 0); /* max 0: nothing taken */
  ck_assert_ptr_null(data);
  /* Past the limit (16) without the separator: WEFT_ELIMIT, data kept. */
  ck_assert_int_eq(write(sv[1], "0123456789ABCDEF", 16), 16);
  n = weft_reader_readuntil_view(r, "#", 1, &data, NULL);
  ck_assert_int_eq(n, WEFT_ELIMIT);
  ck_assert_ptr_null(data);
  n = weft_reader_read_view(r, 4, &data);
  view_is(data, n, "rest");
  n = weft_reader_read_view(r, 10, &data);
  view_is(data, n, "0123456789");
  /* The end: the partial head, then nothing. */
  ck_assert_int_eq(write(sv[1], "x\r\n", 3), 3);
  shutdown(sv[1], SHUT_WR);
  size_t partial = 99;
  n = weft_reader_readuntil_view(r, "\r\n\r\n", 4, &data, &partial);
  ck_assert_int_eq(n, WEFT_EINCOMPLETE);
  ck_assert_uint_eq(partial, 9);
  view_is(data, (ssize_t)partial, "ABCDEFx\r\n");
  ck_assert_int_eq(weft_reader_readuntil_view(r, "\r\n\r\n", 4, &data, &partial), WEFT_EINCOMPLETE);
  ck_assert_uint_eq(partial, 0);
  ck_assert_ptr_null(data);
  ck_assert_int_eq(weft_reader_read_view(r, 10, &data), 0);
  ck_assert_ptr_null(data);
  ck_assert_int_eq(weft_reader_at_eof(r), 1);
  stream_pair_end(sv[1], r, w);
  return 0;
}

START_TEST(test_views) {
  ck_assert_int_eq(run_main(1, views_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(2, views_main, NULL, NULL), 0);
}
END_TEST

/* The _view calls' edges: a second reader is refused (-EBUSY), a view that
 * times out or is cancelled takes nothing and loses nothing (what arrives
 * meanwhile is the next call's). */
struct view_wait {
  weft_reader_t *r;
  ssize_t n;
};

static int view_waiter(void *arg, void **res) {
  (void)res;
  struct view_wait *vw = arg;
  void *data;
  vw->n = weft_reader_readuntil_view(vw->r, "\n", 1, &data, NULL);
  return data == NULL ? 0 : -EPROTO; /* nothing taken */
}

static int view_edges_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  weft_reader_t *r;
  weft_writer_t *w;
  stream_pair(sv, 0, &r, &w);
  void *data = (void *)1;
  ck_assert_int_eq(weft_reader_readuntil_view_timeout(r, "\n", 1, &data, NULL, 1000000), -ETIMEDOUT);
  ck_assert_ptr_null(data);
  ck_assert_int_eq(weft_reader_read_view_timeout(r, 8, &data, 1000000), -ETIMEDOUT);
  for (int round = 0; round < 10; round++) {
    struct view_wait vw = {.r = r, .n = 99};
    weft_task_t *t;
    ck_assert_int_eq(weft_spawn(view_waiter, &vw, &t), 0);
    ck_assert_int_eq(weft_yield(), 0); /* one worker: it waits for bytes now */
    ck_assert_int_eq(weft_reader_read_view(r, 1, &data), -EBUSY);
    ck_assert_int_eq(write(sv[1], "line\n", 5), 5); /* on its way while it is cancelled */
    weft_task_cancel(t, NULL);
    ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
    ck_assert_int_eq(vw.n, -ECANCELED);
    weft_task_release(t);
    ssize_t n = weft_reader_readuntil_view(r, "\n", 1, &data, NULL);
    view_is(data, n, "line\n");
  }
  stream_pair_end(sv[1], r, w);
  return 0;
}

START_TEST(test_view_edges) { ck_assert_int_eq(run_main(1, view_edges_main, NULL, NULL), 0); }
END_TEST

/* readuntil past near misses: a separator's first and last bytes with
 * the wrong middle, and its first byte with the wrong end. */
static int near_miss_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  weft_reader_t *r;
  weft_writer_t *w;
  stream_pair(sv, 0, &r, &w);
  static const char data[] = "a<x>b<-x>c<->d\r\nX\r\r\n\n\r\n\r\n";
  ck_assert_int_eq(write(sv[1], data, sizeof data - 1), (ssize_t)sizeof data - 1);
  char buf[64];
  ck_assert_int_eq(weft_reader_readuntil(r, "<->", 3, buf, sizeof buf, NULL), 13);
  ck_assert(memcmp(buf, "a<x>b<-x>c<->", 13) == 0);
  ck_assert_int_eq(weft_reader_readuntil(r, "\r\n\r\n", 4, buf, sizeof buf, NULL), 12);
  ck_assert(memcmp(buf, "d\r\nX\r\r\n\n\r\n\r\n", 12) == 0);
  stream_pair_end(sv[1], r, w);
  return 0;
}

START_TEST(test_readuntil_near_misses) { ck_assert_int_eq(run_main(1, near_miss_main, NULL, NULL), 0); }
END_TEST

static int readline_eof_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  pair(sv);
  ck_assert_int_eq(write(sv[1], "no newline", 10), 10);
  close(sv[1]);
  weft_reader_t *r;
  weft_writer_t *w;
  ck_assert_int_eq(weft_stream_open_fd(sv[0], sv[0], 0, &r, &w), 0);
  char buf[32];
  ck_assert_int_eq(weft_reader_readline(r, buf, sizeof buf), 10); /* the partial line */
  ck_assert_int_eq(weft_reader_readline(r, buf, sizeof buf), 0);
  weft_writer_release(w);
  weft_reader_release(r);
  return 0;
}

START_TEST(test_readline_eof) { ck_assert_int_eq(run_main(1, readline_eof_main, NULL, NULL), 0); }
END_TEST

/* The end of a stream that never carried a byte, as a client that
 * connects and goes away (a keep-alive server's reader waits in readuntil
 * when it happens): every read says so, and copies nothing from a buffer
 * that was never allocated (UBSan found a memcpy from NULL here). */
static int eof_before_any_byte_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  for (int call = 0; call < 5; call++) {
    int sv[2];
    pair(sv);
    close(sv[1]);
    weft_reader_t *r;
    weft_writer_t *w;
    ck_assert_int_eq(weft_stream_open_fd(sv[0], sv[0], 0, &r, &w), 0);
    char buf[32];
    size_t partial = 99;
    switch (call) {
    case 0:
      ck_assert_int_eq(weft_reader_readuntil(r, "\r\n\r\n", 4, buf, sizeof buf, &partial),
                       WEFT_EINCOMPLETE);
      ck_assert_uint_eq(partial, 0);
      break;
    case 1:
      ck_assert_int_eq(weft_reader_readexactly(r, buf, 5, &partial), WEFT_EINCOMPLETE);
      ck_assert_uint_eq(partial, 0);
      break;
    case 2:
      ck_assert_int_eq(weft_reader_readexactly(r, buf, 0, &partial), 0);
      break;
    case 3:
      ck_assert_int_eq(weft_reader_readline(r, buf, sizeof buf), 0);
      break;
    default:
      ck_assert_int_eq(weft_reader_read(r, buf, sizeof buf), 0);
      break;
    }
    ck_assert_int_eq(weft_reader_at_eof(r), 1);
    weft_writer_release(w);
    weft_reader_release(r);
  }
  return 0;
}

START_TEST(test_eof_before_any_byte) {
  ck_assert_int_eq(run_main(1, eof_before_any_byte_main, NULL, NULL), 0);
}
END_TEST

/* `async for line in reader`: every line, the last one without its "\n",
 * then WEFT_ESTOP. */
static int line_iter_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  pair(sv);
  ck_assert_int_eq(write(sv[1], "one\ntwo\nthree", 13), 13);
  close(sv[1]);
  weft_reader_t *r;
  weft_writer_t *w;
  ck_assert_int_eq(weft_stream_open_fd(sv[0], sv[0], 0, &r, &w), 0);
  char buf[32], joined[64] = "";
  size_t n;
  int rc, lines = 0;
  WEFT_ASYNC_FOR(rc, weft_reader_next_line(r, buf, sizeof buf, &n)) {
    strncat(joined, buf, n);
    lines++;
  }
  ck_assert_int_eq(rc, WEFT_ESTOP);
  ck_assert_int_eq(lines, 3);
  ck_assert_str_eq(joined, "one\ntwo\nthree");
  ck_assert_int_eq(weft_reader_next_line(r, buf, sizeof buf, NULL), -EINVAL);
  weft_writer_release(w);
  weft_reader_release(r);
  return 0;
}

START_TEST(test_line_iterator) { ck_assert_int_eq(run_main(1, line_iter_main, NULL, NULL), 0); }
END_TEST

struct busy {
  weft_reader_t *r;
  weft_event_t *started;
  ssize_t n;
};

static int busy_reader(void *arg, void **res) {
  (void)res;
  struct busy *b = arg;
  char c;
  weft_event_set(b->started);
  b->n = weft_reader_read(b->r, &c, 1);
  return 0;
}

static int busy_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  weft_reader_t *r;
  weft_writer_t *w;
  stream_pair(sv, 0, &r, &w);
  struct fd_id sock = fd_id(sv[0]);
  struct busy b = {.r = r};
  ck_assert_int_eq(weft_event_create(&b.started), 0);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(busy_reader, &b, &t), 0);
  ck_assert_int_eq(weft_event_wait(b.started, -1), 0);
  ck_assert_int_eq(weft_yield(), 0); /* one worker: the reader is now in its receive */
  char c;
  ck_assert_int_eq(weft_reader_read(r, &c, 1), -EBUSY);
  /* Cancelling the reader leaves the stream usable, and nothing lost. */
  weft_task_cancel(t, NULL);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  ck_assert_int_eq(b.n, -ECANCELED);
  weft_task_release(t);
  weft_event_destroy(b.started);
  ck_assert_int_eq(write(sv[1], "k", 1), 1);
  ck_assert_int_eq(weft_reader_read(r, &c, 1), 1);
  ck_assert_int_eq(c, 'k');
  /* Writer: data out, write_eof, then writes fail; the peer sees the end. */
  ck_assert_int_eq(weft_writer_write(w, "xyz", 3), 0);
  ck_assert_int_eq(weft_writer_drain(w), 0);
  ck_assert_int_eq(weft_writer_write_eof(w), 0);
  ck_assert_int_eq(weft_writer_write(w, "late", 4), WEFT_ECLOSED);
  char buf[8]; /* weft_read: a queued send leaves when this task waits */
  ck_assert_int_eq(weft_read(sv[1], buf, sizeof buf), 3);
  ck_assert_int_eq(weft_read(sv[1], buf, sizeof buf), 0);
  ck_assert_int_eq(weft_writer_get_extra_info(w, "socket", NULL, NULL), sv[0]);
  ck_assert_int_eq(weft_writer_get_extra_info(w, "bogus", NULL, NULL), -ENOENT);
  ck_assert_int_eq(weft_writer_close(w), 0);
  ck_assert_int_eq(weft_writer_is_closing(w), 1);
  ck_assert_int_eq(weft_writer_wait_closed(w), 0);
  ck_assert(fd_closed(sock));
  stream_pair_end(sv[1], r, w);
  return 0;
}

START_TEST(test_busy_and_writer) { ck_assert_int_eq(run_main(1, busy_main, NULL, NULL), 0); }
END_TEST

/* ---- backpressure: a peer that does not read ------------------------------ */

struct bp {
  weft_writer_t *w;
  weft_event_t *blocked; /* set when the writer is about to drain above the mark */
  size_t written;
  size_t max_buffered;
  int rc;
};

#define CHUNK 16384

static int bp_writer(void *arg, void **res) {
  (void)res;
  struct bp *b = arg;
  static char chunk[CHUNK];
  memset(chunk, 'q', sizeof chunk);
  for (int i = 0; i < 400; i++) { /* 6.4 MiB: far beyond the socket buffers */
    int rc = weft_writer_write(b->w, chunk, sizeof chunk);
    if (rc) {
      b->rc = rc;
      return 0;
    }
    b->written += CHUNK;
    size_t n = weft_writer_buffer_size(b->w);
    if (n > b->max_buffered) b->max_buffered = n;
    if (n > 64 * 1024) weft_event_set(b->blocked);
    if ((rc = weft_writer_drain(b->w)) != 0) {
      b->rc = rc;
      return 0;
    }
  }
  return 0;
}

static int backpressure_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  weft_reader_t *r;
  weft_writer_t *w;
  small_stream_pair(sv, &r, &w);
  struct bp b = {.w = w};
  ck_assert_int_eq(weft_event_create(&b.blocked), 0);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(bp_writer, &b, &t), 0);
  /* The writer is stuck in drain: memory stays at the high-water mark plus
   * one write, however long the peer does not read. */
  ck_assert_int_eq(weft_event_wait(b.blocked, -1), 0);
  ck_assert_int_eq(weft_sleep(0.05), 0);
  ck_assert_uint_le(weft_writer_buffer_size(w), 64 * 1024 + CHUNK);
  ck_assert(!weft_future_done(weft_task_future(t)));
  /* Now read everything: every byte arrives, in order, and the writer ends. */
  size_t got = 0, bad = 0;
  static char buf[65536]; /* not on the 64 KiB fiber stack */
  while (got < 400 * (size_t)CHUNK) {
    ssize_t n = weft_read(sv[1], buf, sizeof buf);
    ck_assert_int_gt(n, 0);
    for (ssize_t i = 0; i < n; i++) bad += buf[i] != 'q'; /* no ck_assert per byte: slow */
    got += (size_t)n;
  }
  ck_assert_uint_eq(bad, 0);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  ck_assert_int_eq(b.rc, 0);
  ck_assert_uint_eq(b.written, 400 * (size_t)CHUNK);
  ck_assert_uint_le(b.max_buffered, 64 * 1024 + CHUNK);
  weft_event_destroy(b.blocked);
  stream_pair_end(sv[1], r, w);
  return 0;
}

START_TEST(test_backpressure) {
  ck_assert_int_eq(run_main(1, backpressure_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(2, backpressure_main, NULL, NULL), 0);
}
END_TEST



static int bad_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  weft_reader_t *r;
  weft_writer_t *w;
  weft_server_t *s;
  char b[4];
  ck_assert_int_eq(weft_reader_read(NULL, b, 1), -EINVAL);
  ck_assert_int_eq(weft_writer_write(NULL, b, 1), -EINVAL);
  ck_assert_int_eq(weft_stream_open_fd(-1, -1, 0, &r, &w), -EINVAL);
  ck_assert_int_eq(weft_stream_open_fd(3, 3, 0, NULL, &w), -EINVAL);
  ck_assert_int_eq(weft_open_connection(NULL, 80, &r, &w), -EINVAL);
  ck_assert_int_eq(weft_open_connection("127.0.0.1", 70000, &r, &w), -EINVAL);
  ck_assert_int_eq(weft_start_server(NULL, "127.0.0.1", 0, NULL, NULL, NULL, &s), -EINVAL);
  ck_assert_int_eq(weft_start_server(NULL, "127.0.0.1", -1, echo_lines, NULL, NULL, &s), -EINVAL);
  ck_assert_int_eq(weft_server_close(NULL), -EINVAL);
  ck_assert_int_eq(weft_writer_set_write_buffer_limits(NULL, 1, 0), -EINVAL);
  /* Negative counts converted to size_t are refused, not taken as huge
   * (readexactly would otherwise buffer without end). */
  {
    int sv[2];
    pair(sv);
    weft_reader_t *nr;
    weft_writer_t *nw;
    char nb[4];
    ck_assert_int_eq(weft_stream_open_fd(sv[0], sv[0], (size_t)-1, &nr, &nw), -EINVAL);
    ck_assert_int_eq(weft_stream_open_fd(sv[0], sv[0], 0, &nr, &nw), 0);
    ck_assert_int_eq(weft_reader_readexactly(nr, nb, (size_t)-1, NULL), -EINVAL);
    ck_assert_int_eq(weft_reader_read(nr, nb, (size_t)-4), -EINVAL);
    ck_assert_int_eq(weft_reader_readline(nr, nb, (size_t)-1), -EINVAL);
    ck_assert_int_eq(weft_reader_readuntil(nr, "x", 1, nb, (size_t)-1, NULL), -EINVAL);
    void *view;
    ck_assert_int_eq(weft_reader_read_view(nr, (size_t)-1, &view), -EINVAL);
    ck_assert_int_eq(weft_reader_read_view(nr, 1, NULL), -EINVAL);
    ck_assert_int_eq(weft_reader_readuntil_view(nr, "x", 1, NULL, NULL), -EINVAL);
    ck_assert_int_eq(weft_reader_readuntil_view(nr, "", 0, &view, NULL), -EINVAL);
    ck_assert_int_eq(weft_reader_readuntil_view(nr, NULL, 1, &view, NULL), -EINVAL);
    ck_assert_int_eq(weft_reader_readuntil_view(NULL, "x", 1, &view, NULL), -EINVAL);
    ck_assert_int_eq(weft_writer_write(nw, nb, (size_t)-1), -EINVAL);
    ck_assert_int_eq(weft_writer_set_write_buffer_limits(nw, (size_t)-1, 0), -EINVAL);
    stream_pair_end(sv[1], nr, nw);
    struct weft_server_opts big = {.limit = (size_t)-1};
    ck_assert_int_eq(weft_start_server(NULL, "127.0.0.1", 0, echo_lines, NULL, &big, &s), -EINVAL);
  }
  /* A port in use. */
  int port = serve(echo_lines, NULL, &s);
  weft_server_t *s2;
  struct weft_server_opts solo = {.reuse_port = -1};
  ck_assert_int_eq(weft_start_server(NULL, "127.0.0.1", port, echo_lines, NULL, &solo, &s2),
                   -EADDRINUSE);
  shut_server(s);
  return 0;
}

START_TEST(test_bad_input) {
  ck_assert_int_eq(run_main(1, bad_main, NULL, NULL), 0);
  weft_reader_t *r;
  weft_writer_t *w;
  ck_assert_int_eq(weft_open_connection("127.0.0.1", 80, &r, &w), -EPERM);
  char b;
  int sv[2];
  pair(sv);
  ck_assert_int_eq(weft_stream_open_fd(sv[0], sv[0], 0, &r, &w), 0); /* any thread */
  ck_assert_int_eq(weft_reader_read(r, &b, 1), -EPERM);
  void *view;
  ck_assert_int_eq(weft_reader_read_view(r, 1, &view), -EPERM);
  ck_assert_int_eq(weft_reader_readuntil_view(r, "\n", 1, &view, NULL), -EPERM);
  ck_assert_int_eq(weft_writer_write(w, &b, 1), -EPERM);
  stream_pair_end(sv[1], r, w);
  /* A socket one way and a pipe the other (a pipe's write() on a socket
   * could raise SIGPIPE); an fd that is not open. Nothing is taken. */
  int p[2];
  ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
  pair(sv);
  ck_assert_int_eq(weft_stream_open_fd(p[0], sv[0], 0, &r, &w), -EINVAL);
  ck_assert_int_eq(weft_stream_open_fd(sv[0], p[1], 0, &r, &w), -EINVAL);
  ck_assert_int_eq(weft_stream_open_fd(p[0], -1, 0, &r, NULL), 0);
  weft_reader_release(r);
  ck_assert_int_eq(fcntl(p[0], F_GETFD), -1); /* the stream's, closed with it */
  int closed = p[0];
  ck_assert_int_eq(weft_stream_open_fd(closed, -1, 0, &r, NULL), -EBADF);
  ck_assert_int_ne(fcntl(sv[0], F_GETFD), -1);
  close(p[1]);
  close(sv[0]);
  close(sv[1]);
}
END_TEST

static int timeouts_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  weft_reader_t *r;
  weft_writer_t *w;
  stream_pair(sv, 0, &r, &w);
  char buf[32];
  uint64_t t0 = weft_now_ns();
  ck_assert_int_eq(weft_reader_readline_timeout(r, buf, sizeof buf, 20000000), -ETIMEDOUT);
  ck_assert_uint_ge(weft_now_ns() - t0, 20000000);
  /* Part of a line, then a timeout: the part is kept for the next call. */
  ck_assert_int_eq(write(sv[1], "abc", 3), 3);
  ck_assert_int_eq(weft_reader_readline_timeout(r, buf, sizeof buf, 20000000), -ETIMEDOUT);
  ck_assert_int_eq(write(sv[1], "def\n", 4), 4);
  ck_assert_int_eq(weft_reader_readline_timeout(r, buf, sizeof buf, 1000000000), 7);
  ck_assert(memcmp(buf, "abcdef\n", 7) == 0);
  ck_assert_int_eq(weft_reader_readexactly_timeout(r, buf, 4, NULL, 10000000), -ETIMEDOUT);
  ck_assert_int_eq(weft_reader_read_timeout(r, buf, 4, 10000000), -ETIMEDOUT);
  ck_assert_int_eq(weft_reader_at_eof(r), 0); /* a timeout does not end the stream */
  /* drain against a peer that does not read. */
  int small = 4096;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  static char big[256 * 1024];
  ck_assert_int_eq(weft_writer_write(w, big, sizeof big), 0);
  ck_assert_int_eq(weft_writer_drain_timeout(w, 20000000), -ETIMEDOUT);
  ck_assert_int_eq(weft_writer_wait_closed_timeout(w, 1000000), -ETIMEDOUT);
  weft_writer_abort(w);
  ck_assert_int_eq(weft_writer_wait_closed_timeout(w, 1000000000), 0);
  stream_pair_end(sv[1], r, w);
  /* A port nobody listens on: refused well before the timeout. */
  weft_server_t *s;
  int port = serve(echo_lines, NULL, &s);
  shut_server(s);
  ck_assert_int_eq(weft_open_connection_timeout("127.0.0.1", port, &r, &w, 1000000000),
                   -ECONNREFUSED);
  return 0;
}

START_TEST(test_timeouts) { ck_assert_int_eq(run_main(1, timeouts_main, NULL, NULL), 0); }
END_TEST

static int lines_handler(weft_reader_t *r, weft_writer_t *w, void *arg) {
  (void)r;
  (void)arg;
  struct iovec iov[3] = {{"one ", 4}, {"two ", 4}, {"three\n", 6}};
  ck_assert_int_eq(weft_writer_writelines(w, iov, 3), 0);
  ck_assert_int_eq(weft_writer_writelines(w, NULL, 1), -EINVAL);
  ck_assert_int_eq(weft_writer_drain(w), 0);
  return 0; /* the server closes the connection */
}

static int extras_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  weft_server_t *s;
  int port = serve(lines_handler, NULL, &s);
  weft_reader_t *r;
  weft_writer_t *w;
  ck_assert_int_eq(weft_open_connection("localhost", port, &r, &w), 0);
  struct sockaddr_in peer, me;
  socklen_t plen = sizeof peer, mlen = sizeof me;
  ck_assert_int_eq(weft_writer_get_extra_info(w, "peername", (struct sockaddr *)&peer, &plen), 0);
  ck_assert_int_eq(weft_writer_get_extra_info(w, "sockname", (struct sockaddr *)&me, &mlen), 0);
  ck_assert_int_eq(ntohs(peer.sin_port), port);
  ck_assert_int_ne(ntohs(me.sin_port), port);
  ck_assert_int_eq(weft_writer_get_extra_info(w, "peername", NULL, NULL), -EINVAL);
  char buf[64];
  ck_assert_int_eq(weft_reader_readline(r, buf, sizeof buf), 14);
  ck_assert(memcmp(buf, "one two three\n", 14) == 0);
  ck_assert_int_eq(weft_reader_read(r, buf, sizeof buf), 0); /* closed by the server */
  ck_assert_int_eq(weft_reader_at_eof(r), 1);
  /* abort: pending data is dropped and the writer is closed at once. */
  ck_assert_int_eq(weft_writer_abort(w), 0);
  ck_assert_int_eq(weft_writer_is_closing(w), 1);
  ck_assert_int_eq(weft_writer_write(w, "x", 1), -ECONNRESET); /* "Connection lost" */
  ck_assert_int_eq(weft_writer_drain(w), -ECONNRESET);
  ck_assert_int_eq(weft_writer_wait_closed(w), 0);
  weft_writer_release(w);
  weft_reader_release(r);
  shut_server(s);
  return 0;
}

START_TEST(test_writelines_extra_info_abort) {
  ck_assert_int_eq(run_main(1, extras_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(2, extras_main, NULL, NULL), 0);
}
END_TEST


START_TEST(test_pipe_write_eof) {
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  weft_writer_t *w;
  ck_assert_int_eq(weft_stream_open_fd(-1, p[1], 0, NULL, &w), 0);
  ck_assert_int_eq(weft_writer_write_eof(w), -ENOTSOCK); /* close a pipe instead */
  weft_writer_release(w); /* closes p[1] */
  char c;
  ck_assert_int_eq(read(p[0], &c, 1), 0);
  close(p[0]);
}
END_TEST

/* Clients cancelled at arbitrary points of their conversations, on several
 * workers: every connection ends, the server drains to zero handlers, and
 * the loop closes with nothing left (ASan/TSan watch the rest). */
static int chatty_client(void *arg, void **res) {
  (void)res;
  int port = (int)(intptr_t)arg;
  weft_reader_t *r;
  weft_writer_t *w;
  int rc = weft_open_connection("127.0.0.1", port, &r, &w);
  if (rc < 0) return rc; /* cancelled while connecting */
  char line[64];
  for (int i = 0; i < 50; i++) {
    int n = snprintf(line, sizeof line, "message %d\n", i);
    if ((rc = weft_writer_write(w, line, (size_t)n)) < 0) break;
    if ((rc = weft_writer_drain(w)) < 0) break;
    ssize_t got = weft_reader_readline(r, line, sizeof line);
    if (got < 0) {
      rc = (int)got;
      break;
    }
    ck_assert_int_eq(got, n);
  }
  weft_writer_release(w);
  weft_reader_release(r);
  return rc == -ECANCELED || rc >= 0 ? 0 : rc;
}

static int cancel_storm_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  weft_server_t *s;
  int port = serve(echo_lines, NULL, &s);
  int n = (int)scaled(200);
  weft_task_t **t = malloc(sizeof *t * (size_t)n);
  for (int i = 0; i < n; i++) ck_assert_int_eq(weft_spawn(chatty_client, (void *)(intptr_t)port, &t[i]), 0);
  for (int round = 0; round < 5; round++) {
    ck_assert_int_eq(weft_yield(), 0);
    for (int i = round; i < n; i += 5) weft_task_cancel(t[i], NULL); /* a fifth per round */
  }
  for (int i = 0; i < n; i++) {
    int rc = weft_await(weft_task_future(t[i]), NULL);
    ck_assert(rc == 0 || rc == -ECANCELED);
    weft_task_release(t[i]);
  }
  free(t);
  shut_server(s);
  return 0;
}

START_TEST(test_cancel_storm) {
  ck_assert_int_eq(run_main(1, cancel_storm_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, cancel_storm_main, NULL, NULL), 0);
}
END_TEST


/* ---- asyncio's stream edges: at_eof, writes after close, readline's limit ------ */

static int stream_edges_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  pair(sv);
  weft_reader_t *r;
  weft_writer_t *w;
  char buf[64];
  ck_assert_int_eq(weft_stream_open_fd(sv[0], sv[0], 16, &r, &w), 0);
  /* at_eof: true once the end has arrived and nothing is buffered, before
   * any read returned 0. */
  ck_assert_int_eq(write(sv[1], "abc", 3), 3);
  ck_assert_int_eq(weft_reader_at_eof(r), 0);
  ck_assert_int_eq(weft_reader_readexactly(r, buf, 2, NULL), 2);
  shutdown(sv[1], SHUT_WR);
  ck_assert_int_eq(weft_reader_at_eof(r), 0); /* "c" is still buffered */
  ck_assert_int_eq(weft_reader_readexactly(r, buf, 1, NULL), 1);
  ck_assert_int_eq(weft_reader_at_eof(r), 1);
  /* Writes after close: asyncio's ConnectionResetError('Connection lost'). */
  ck_assert_int_eq(weft_writer_close(w), 0);
  ck_assert_int_eq(weft_writer_write(w, "x", 1), -ECONNRESET);
  ck_assert_int_eq(weft_writer_drain(w), -ECONNRESET);
  ck_assert_int_eq(weft_reader_at_eof(r), 1);
  stream_pair_end(sv[1], r, w);
  /* A closed writer ends a socket stream for at_eof, data or not in flight. */
  stream_pair(sv, 16, &r, &w);
  ck_assert_int_eq(weft_reader_at_eof(r), 0);
  ck_assert_int_eq(weft_writer_close(w), 0);
  ck_assert_int_eq(weft_reader_at_eof(r), 1);
  stream_pair_end(sv[1], r, w);
  /* The same on a pipe: the end has arrived once its writer closed. */
  int pp[2];
  ck_assert_int_eq(pipe(pp), 0);
  ck_assert_int_eq(weft_stream_open_fd(pp[0], -1, 0, &r, NULL), 0);
  ck_assert_int_eq(write(pp[1], "a", 1), 1);
  ck_assert_int_eq(weft_reader_readexactly(r, buf, 1, NULL), 1);
  ck_assert_int_eq(weft_reader_at_eof(r), 0);
  close(pp[1]);
  ck_assert_int_eq(weft_reader_at_eof(r), 1);
  weft_reader_release(r);
  /* readline over the limit drops the line (asyncio), readuntil keeps it. */
  stream_pair(sv, 16, &r, &w);
  const char *long_line = "0123456789ABCDEFGHIJ\nnext\n";
  ck_assert_int_eq(write(sv[1], long_line, strlen(long_line)), (ssize_t)strlen(long_line));
  ck_assert_int_eq(weft_reader_readline(r, buf, sizeof buf), WEFT_ELIMIT);
  ck_assert_int_eq(weft_reader_readline(r, buf, sizeof buf), 5);
  ck_assert(memcmp(buf, "next\n", 5) == 0);
  ck_assert_int_eq(write(sv[1], "0123456789ABCDEFGHIJ", 20), 20); /* no newline yet */
  ck_assert_int_eq(weft_reader_readline(r, buf, sizeof buf), WEFT_ELIMIT);
  ck_assert_int_eq(write(sv[1], "tail\nok\n", 8), 8);
  ck_assert_int_eq(weft_reader_readline(r, buf, sizeof buf), 5); /* the buffer was cleared */
  ck_assert(memcmp(buf, "tail\n", 5) == 0);
  ck_assert_int_eq(write(sv[1], "0123456789ABCDEFGHIJ\n", 21), 21);
  ck_assert_int_eq(weft_reader_readline(r, buf, sizeof buf), 3);
  ck_assert_int_eq(weft_reader_readuntil(r, "\n", 1, buf, sizeof buf, NULL), WEFT_ELIMIT);
  ck_assert_int_eq(weft_reader_read(r, buf, sizeof buf), 21); /* kept by readuntil */
  stream_pair_end(sv[1], r, w);
  return 0;
}

/* asyncio's drain() (streams.py): the reader's exception first; on a
 * closing writer a pass given up (sleep(0)) before ConnectionResetError,
 * so a task queued before runs first and a pending cancellation is
 * taken there. */
static char drain_trace[8];

static int note_b(void *arg, void **res) {
  (void)arg;
  (void)res;
  strcat(drain_trace, "b");
  return 0;
}

static int drain_rules_main(void *arg, void **res) {
  (void)res;
  bool ordered = arg != NULL; /* one worker: asyncio's order is weft's */
  int sv[2];
  weft_reader_t *r;
  weft_writer_t *w;
  /* Closed: a pass, then -ECONNRESET. */
  stream_pair(sv, 0, &r, &w);
  ck_assert_int_eq(weft_writer_close(w), 0);
  drain_trace[0] = 0;
  weft_task_t *b = NULL;
  ck_assert_int_eq(weft_spawn(note_b, NULL, &b), 0);
  ck_assert_int_eq(weft_writer_drain(w), -ECONNRESET);
  strcat(drain_trace, "d");
  if (ordered) ck_assert_str_eq(drain_trace, "bd");
  ck_assert_int_eq(weft_await(weft_task_future(b), NULL), 0);
  weft_task_release(b);
  stream_pair_end(sv[1], r, w);
  /* Closed with a cancellation pending: taken in that pass. */
  stream_pair(sv, 0, &r, &w);
  ck_assert_int_eq(weft_writer_abort(w), 0);
  ck_assert_int_eq(weft_task_cancel(weft_task_current(), NULL), 1);
  ck_assert_int_eq(weft_writer_drain(w), -ECANCELED);
  ck_assert_int_eq(weft_task_uncancel(weft_task_current()), 0);
  ck_assert_int_eq(weft_writer_drain(w), -ECONNRESET);
  stream_pair_end(sv[1], r, w);
  /* The reader's failure first, though the writer is open and drained:
   * the peer closed with our bytes unread (a reset, for AF_UNIX too). */
  stream_pair(sv, 0, &r, &w);
  ck_assert_int_eq(weft_writer_drain(w), 0);
  ck_assert_int_eq(write(sv[0], "unread", 6), 6);
  close(sv[1]);
  char buf[8];
  ck_assert_int_eq(weft_reader_read(r, buf, sizeof buf), -ECONNRESET);
  ck_assert_int_eq(weft_writer_drain(w), -ECONNRESET);
  ck_assert_int_eq(weft_writer_is_closing(w), 1); /* asyncio: a fatal read error closes */
  /* Closing after the reset (no shutdown then: the socket has ended)
   * still closes the fd; wait_closed returns the connection's error, as
   * asyncio's raises what connection_lost(exc) carried. */
  ck_assert_int_eq(weft_writer_close(w), 0);
  ck_assert_int_eq(weft_writer_wait_closed(w), -ECONNRESET);
  weft_writer_release(w);
  weft_reader_release(r);
  return 0;
}

/* A peer's reset that arrived while nobody read. CPython 3.11 prints
 * "wait_closed: ConnectionResetError(104, ...)" and "read:
 * ConnectionResetError(104, ...)" for: the server's connection (r, w)
 * accepted, the client closing with SO_LINGER 0, two `sleep(0)`s, then
 * `w.close(); await w.wait_closed()` and `await r.read(4)`: its transport
 * is always reading, so the reset reached connection_lost(exc) before the
 * close. weft's reader receives only when asked, so close's shutdown
 * found the connection gone and wait_closed said 0; now the close takes
 * the socket's pending error for the reader's (io/stream.c,
 * take_unread_error_locked). Here poll(2) stands for those passes: it
 * returns once the reset is in (it reads no error). (With a single
 * sleep(0) asyncio's close comes first and says None: its reader had not
 * run yet; weft, taking what the kernel has at the close, says the error.) */
static int reset_unread_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sfd, c;
  io_tcp_pair(&sfd, &c);
  weft_reader_t *r;
  weft_writer_t *w;
  ck_assert_int_eq(weft_stream_open_fd(sfd, sfd, 0, &r, &w), 0);
  struct linger lg = {1, 0};
  ck_assert_int_eq(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  ck_assert_int_eq(close(c), 0);
  struct pollfd p = {.fd = sfd, .events = POLLIN};
  ck_assert_int_eq(poll(&p, 1, -1), 1);
  ck_assert_int_eq(weft_writer_close(w), 0);
  ck_assert_int_eq(weft_writer_wait_closed(w), -ECONNRESET);
  char buf[4];
  ck_assert_int_eq(weft_reader_read(r, buf, sizeof buf), -ECONNRESET);
  weft_writer_release(w);
  weft_reader_release(r);
  return 0;
}

START_TEST(test_reset_nobody_read) {
  ck_assert_int_eq(run_main(1, reset_unread_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, reset_unread_main, NULL, NULL), 0);
}
END_TEST

START_TEST(test_drain_as_asyncio) {
  ck_assert_int_eq(run_main(1, drain_rules_main, (void *)1, NULL), 0);
  ck_assert_int_eq(run_main(4, drain_rules_main, NULL, NULL), 0);
}
END_TEST

START_TEST(test_asyncio_stream_edges) {
  ck_assert_int_eq(run_main(1, stream_edges_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, stream_edges_main, NULL, NULL), 0);
}
END_TEST


/* ---- receiving ahead (io_uring's multishot receive; plain reads on epoll) -------- */

static bool on_uring(void) { return strcmp(weft_loop_backend(weft_loop_current()), "io_uring") == 0; }

static uint32_t stream_counter(weft_reader_t *r, bool pauses) {
  struct weft__stream *st = r->s;
  weft__amutex_lock(&st->lock);
  uint32_t n = pauses ? st->rx_pauses : st->rx_restarts;
  weft__amutex_unlock(&st->lock);
  return n;
}

#define PATTERN_BYTES (256u * 1024u)
static char pattern_at(size_t i) { return (char)('a' + (i * 7 + i / 251) % 26); }

/* Sends PATTERN_BYTES of the pattern in pieces of @piece bytes, yielding
 * after each when @piece is small (so the receiver sees them apart). */
struct pattern_feeder {
  int fd;
  size_t piece;
};

static int pattern_feed(void *arg, void **res) {
  (void)res;
  struct pattern_feeder *f = arg;
  static char chunk[16384];
  for (size_t off = 0; off < PATTERN_BYTES;) {
    size_t n = f->piece < PATTERN_BYTES - off ? f->piece : PATTERN_BYTES - off;
    for (size_t i = 0; i < n; i++) chunk[i] = pattern_at(off + i);
    for (size_t done = 0; done < n;) {
      ssize_t k = weft_send(f->fd, chunk + done, n - done, 0);
      ck_assert_int_gt(k, 0);
      done += (size_t)k;
    }
    off += n;
    if (f->piece < 4096) ck_assert_int_eq(weft_yield(), 0);
  }
  shutdown(f->fd, SHUT_WR);
  return 0;
}

/* Reads the whole pattern from @r in @step-byte pieces, checking each. */
static void read_pattern(weft_reader_t *r, size_t step) {
  char buf[512];
  ck_assert_uint_le(step, sizeof buf);
  size_t total = 0;
  for (;;) {
    size_t partial = 0;
    ssize_t n = weft_reader_readexactly(r, buf, step, &partial);
    size_t got = n == WEFT_EINCOMPLETE ? partial : (size_t)n;
    ck_assert(n == WEFT_EINCOMPLETE || n == (ssize_t)step);
    for (size_t i = 0; i < got; i++) ck_assert_int_eq(buf[i], pattern_at(total + i));
    total += got;
    if (n == WEFT_EINCOMPLETE) break;
  }
  ck_assert_uint_eq(total, PATTERN_BYTES);
}

/* The same through the _view calls: readuntil_view up to the next 'z'
 * (within every 52 bytes of the pattern, under the limit of 64) and
 * read_view of 37 bytes in turn, each view checked and scribbled over. */
static void read_pattern_views(weft_reader_t *r) {
  size_t total = 0;
  for (int k = 0;; k++) {
    void *data;
    size_t partial = 0;
    ssize_t n = k % 2 ? weft_reader_read_view(r, 37, &data)
                      : weft_reader_readuntil_view(r, "z", 1, &data, &partial);
    size_t got = n == WEFT_EINCOMPLETE ? partial : (size_t)n;
    ck_assert_msg(n >= 0 || n == WEFT_EINCOMPLETE, "n %zd at %zu", n, total);
    const char *p = data;
    for (size_t i = 0; i < got; i++) ck_assert_int_eq(p[i], pattern_at(total + i));
    if (got) memset(data, '#', got);
    total += got;
    if (n == WEFT_EINCOMPLETE || (n == 0 && k % 2)) break;
  }
  ck_assert_uint_eq(total, PATTERN_BYTES);
}

/* Small messages (300-byte sends), a small limit (64: paused past 128
 * buffered bytes) and a reader taking 100 bytes at a time: the receive
 * pauses and resumes many times, and every byte arrives once, in order.
 * Then a bulk transfer (16 KiB sends: completions fill whole provided
 * buffers) makes a stream go back to pulling, again losing nothing. */
static int pauses_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  for (int round = 0; round < 4; round++) {
    int bulk = round % 2, views = round / 2;
    int sv[2];
    weft_reader_t *r;
    weft_writer_t *w;
    stream_pair(sv, 64, &r, &w);
    struct pattern_feeder f = {.fd = sv[1], .piece = bulk ? 16384 : 300};
    weft_task_t *t;
    ck_assert_int_eq(weft_spawn(pattern_feed, &f, &t), 0);
    if (views) read_pattern_views(r);
    else read_pattern(r, bulk ? 500 : 100);
    /* With one worker the feeder and the reader take turns, so the small
     * messages arrive apart; with several the feeder may run ahead, and a
     * backlog that fills whole buffers is a bulk transfer too. */
    /* Pulling a bulk transfer (epoll, or io_uring once it turned bulk),
     * the receives grew from the first buffer's size to RECV_CHUNK. */
    if (bulk && weft_loop_workers(weft_loop_current()) == 1)
      ck_assert_uint_eq(((struct weft__stream *)r->s)->rchunk, 64u * 1024u);
    if (on_uring()) {
      struct weft__stream *st = r->s;
      weft__amutex_lock(&st->lock);
      if (bulk) ck_assert(st->rx_bulk);
      else if (weft_loop_workers(weft_loop_current()) == 1 && !views)
        ck_assert_msg(!st->rx_bulk && st->rx_pauses > 100, "bulk %d pauses %u", st->rx_bulk,
                      st->rx_pauses);
      weft__amutex_unlock(&st->lock);
    }
    ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
    weft_task_release(t);
    stream_pair_end(sv[1], r, w);
  }
  return 0;
}

START_TEST(test_receive_pauses_keep_order) {
  ck_assert_int_eq(run_main(1, pauses_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, pauses_main, NULL, NULL), 0);
}
END_TEST

/* More arrives between two reaps than the provided buffers hold (256 of
 * 4 KiB per ring: 300 messages of 4,000 bytes; whether each completion
 * takes a whole buffer or, consumed incrementally, only its bytes): the
 * receives that find no room end with -ENOBUFS and are started again;
 * every reader still gets its bytes. */
#define EXHAUST_PAIRS 300
#define EXHAUST_BYTES 4000

struct one_byte {
  weft_reader_t *r;
  char want;
};

static int read_one(void *arg, void **res) {
  (void)res;
  struct one_byte *o = arg;
  char got[EXHAUST_BYTES];
  ck_assert_int_eq(weft_reader_readexactly(o->r, got, EXHAUST_BYTES, NULL), EXHAUST_BYTES);
  size_t bad = 0;
  for (size_t i = 0; i < EXHAUST_BYTES; i++) bad += got[i] != o->want;
  ck_assert_uint_eq(bad, 0);
  return 0;
}

static int exhaust_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  static int peer[EXHAUST_PAIRS];
  static weft_writer_t *ws[EXHAUST_PAIRS];
  static struct one_byte ob[EXHAUST_PAIRS];
  static weft_task_t *ts[EXHAUST_PAIRS];
  for (int i = 0; i < EXHAUST_PAIRS; i++) {
    int sv[2];
    pair(sv);
    peer[i] = sv[1];
    ob[i].want = (char)('A' + i % 26);
    ck_assert_int_eq(weft_stream_open_fd(sv[0], sv[0], 0, &ob[i].r, &ws[i]), 0);
    ck_assert_int_eq(weft_spawn(read_one, &ob[i], &ts[i]), 0);
  }
  ck_assert_int_eq(weft_yield(), 0); /* one worker, FIFO: every reader is waiting now */
  static char msg[EXHAUST_BYTES];
  for (int i = 0; i < EXHAUST_PAIRS; i++) {
    memset(msg, ob[i].want, sizeof msg);
    ck_assert_int_eq(write(peer[i], msg, sizeof msg), (ssize_t)sizeof msg);
  }
  uint32_t restarts = 0;
  for (int i = 0; i < EXHAUST_PAIRS; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
    restarts += stream_counter(ob[i].r, false);
    weft_writer_release(ws[i]);
    weft_reader_release(ob[i].r);
    close(peer[i]);
  }
  if (on_uring()) ck_assert_uint_gt(restarts, 0);
  return 0;
}

/* cfg.recv_buffers: -1 turns receiving ahead off (reads pull, as on
 * epoll); a small count runs out sooner, and every byte still arrives. */
static int recv_cfg_main(void *arg, void **res) {
  (void)res;
  int sv[2];
  weft_reader_t *r;
  weft_writer_t *w;
  stream_pair(sv, 0, &r, &w);
  ck_assert_int_eq(write(sv[1], "ping\n", 5), 5);
  char buf[8];
  ck_assert_int_eq(weft_reader_readline(r, buf, sizeof buf), 5);
  struct weft__stream *st = r->s;
  bool off = *(int *)arg < 0;
  if (on_uring()) ck_assert_int_eq(st->rx_mode == WEFT__RX_PULL, off);
  stream_pair_end(sv[1], r, w);
  return 0;
}

static int run_with_recv_buffers(int n, weft_task_fn fn, void *arg) {
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 1;
  cfg.recv_buffers = n;
  weft_loop_t *loop;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), 0);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn_opts(loop, fn, arg, NULL, &t), 0);
  int rc = weft_loop_run_until_complete(loop, weft_task_future(t), NULL);
  weft_task_release(t);
  close_clean(loop);
  return rc;
}

/* The fds 300 socket pairs need; false (and a note) if the limit cannot
 * be raised that far. */
static bool enough_fds(void) {
  struct rlimit rl;
  ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur < 2 * EXHAUST_PAIRS + 64) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur >= 2 * EXHAUST_PAIRS + 64) return true;
  fprintf(stderr, "skipped: RLIMIT_NOFILE %lu is too low\n", (unsigned long)rl.rlim_cur);
  return false;
}

/* A socket stream's close waits for its multishot receive: until the ring
 * hands a request to the kernel it names the fd by number, and a number
 * closed meanwhile could name another file by then (a receive was seen
 * taking the reply meant for glibc's netlink socket inside getaddrinfo:
 * cancel_storm hung about 1 run in 50). So while the receive stands, the
 * fd stays open (a new socket cannot get its number), and it closes once
 * the receive has ended (wait_closed). */
static int close_waits_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  weft_reader_t *r;
  weft_writer_t *w;
  stream_pair(sv, 0, &r, &w);
  ck_assert_int_eq(write(sv[1], "abc", 3), 3);
  char buf[4];
  ck_assert_int_eq(weft_reader_readexactly(r, buf, 3, NULL), 3);
  struct weft__stream *st = r->s;
  weft__amutex_lock(&st->lock);
  bool standing = st->rx_inflight; /* receiving ahead (io_uring), still armed */
  weft__amutex_unlock(&st->lock);
  if (on_uring()) ck_assert(standing);
  int fd = sv[0];
  struct fd_id sock = fd_id(fd);
  ck_assert_int_eq(weft_writer_close(w), 0);
  if (standing) {
    ck_assert(!fd_closed(sock)); /* still ours */
    int other = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(other, 0);
    ck_assert_int_ne(other, fd);
    close(other);
  }
  ck_assert_int_eq(weft_writer_wait_closed(w), 0);
  ck_assert(fd_closed(sock)); /* closed once the receive ended */
  ck_assert_int_eq(weft_reader_read(r, buf, sizeof buf), 0); /* and reads see the end */
  stream_pair_end(sv[1], r, w);
  return 0;
}

START_TEST(test_close_waits_for_the_receive) {
  ck_assert_int_eq(run_main(1, close_waits_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(2, close_waits_main, NULL, NULL), 0);
}
END_TEST

/* A stream over one non-socket fd for both directions (/dev/null here; a
 * tty or a pty master in life): closing the writer closes the reader's fd
 * too, so nothing may use that number afterwards. Before, the writer's
 * close left the reader holding the closed number, and releasing the
 * stream closed it again: a file opened meanwhile lost its fd. */
START_TEST(test_shared_fd_closes_once) {
  int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  ck_assert_int_ge(fd, 0);
  weft_reader_t *r;
  weft_writer_t *w;
  ck_assert_int_eq(weft_stream_open_fd(fd, fd, 0, &r, &w), 0);
  ck_assert_int_eq(weft_writer_close(w), 0);
  ck_assert_int_eq(fcntl(fd, F_GETFD), -1); /* closed at once: no reader */
  int p[2];
  ck_assert_int_eq(pipe(p), 0); /* takes the freed number */
  weft_reader_release(r);
  weft_writer_release(w);
  ck_assert_int_ne(fcntl(p[0], F_GETFD), -1); /* still ours */
  ck_assert_int_ne(fcntl(p[1], F_GETFD), -1);
  close(p[0]);
  close(p[1]);
}
END_TEST

/* A write-only stream over a socket (no reader): closing the writer
 * closes the socket and sets wait_closed. Before, the deferred close
 * (sockets wait for their reader) looked at the reader's fd only, found
 * none, and never closed: wait_closed waited forever. */
static int write_only_socket_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  weft_writer_t *w;
  struct fd_id sock = fd_id(sv[0]);
  ck_assert_int_eq(weft_stream_open_fd(-1, sv[0], 0, NULL, &w), 0);
  ck_assert_int_eq(weft_writer_write(w, "bye", 3), 0);
  ck_assert_int_eq(weft_writer_close(w), 0);
  ck_assert_int_eq(weft_writer_wait_closed(w), 0);
  ck_assert(fd_closed(sock));
  char buf[8];
  ck_assert_int_eq(weft_recv(sv[1], buf, sizeof buf, 0), 3);
  ck_assert_int_eq(weft_recv(sv[1], buf, sizeof buf, 0), 0);
  weft_writer_release(w);
  close(sv[1]);
  return 0;
}

/* A read-only stream over a socket (no writer): releasing the reader
 * closes the socket, also with a receive ahead standing (io_uring), which
 * held the stream until the peer ended: the peer sees the end only once
 * the socket is closed. */
static int read_only_socket_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  weft_reader_t *r;
  ck_assert_int_eq(weft_stream_open_fd(sv[0], -1, 0, &r, NULL), 0);
  char buf[8];
  ck_assert_int_eq(weft_send(sv[1], "hello", 5, 0), 5);
  ck_assert_int_eq(weft_reader_read(r, buf, sizeof buf), 5); /* starts receiving ahead */
  weft_reader_release(r);
  ck_assert_int_eq(weft_recv(sv[1], buf, sizeof buf, 0), 0); /* closed */
  close(sv[1]);
  return 0;
}

START_TEST(test_read_only_socket_closes) {
  ck_assert_int_eq(run_main(1, read_only_socket_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, read_only_socket_main, NULL, NULL), 0);
}
END_TEST

/* One socket under two numbers for reading and writing (inetd's fds 0
 * and 1): closing the writer closes both. Before, the deferred close
 * closed the reader's number only and the writer's stayed open. */
static int two_numbers_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  int wfd = fcntl(sv[0], F_DUPFD_CLOEXEC, 0);
  ck_assert_int_ge(wfd, 0);
  struct fd_id rid = fd_id(sv[0]), wid = fd_id(wfd);
  weft_reader_t *r;
  weft_writer_t *w;
  ck_assert_int_eq(weft_stream_open_fd(sv[0], wfd, 0, &r, &w), 0);
  char buf[8];
  ck_assert_int_eq(weft_send(sv[1], "ping", 4, 0), 4);
  ck_assert_int_eq(weft_reader_read(r, buf, sizeof buf), 4);
  ck_assert_int_eq(weft_writer_write(w, "pong", 4), 0);
  ck_assert_int_eq(weft_writer_close(w), 0);
  ck_assert_int_eq(weft_writer_wait_closed(w), 0);
  ck_assert(fd_closed(rid));
  ck_assert(fd_closed(wid));
  ck_assert_int_eq(weft_recv(sv[1], buf, sizeof buf, 0), 4);
  ck_assert_int_eq(weft_recv(sv[1], buf, sizeof buf, 0), 0);
  weft_reader_release(r);
  weft_writer_release(w);
  close(sv[1]);
  return 0;
}

START_TEST(test_two_numbers_both_close) {
  ck_assert_int_eq(run_main(1, two_numbers_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, two_numbers_main, NULL, NULL), 0);
}
END_TEST

START_TEST(test_write_only_socket_closes) {
  ck_assert_int_eq(run_main(1, write_only_socket_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, write_only_socket_main, NULL, NULL), 0);
}
END_TEST

START_TEST(test_recv_buffers_config) {
  int off = -1, few = 4;
  if (!enough_fds()) return;
  ck_assert_int_eq(run_with_recv_buffers(off, recv_cfg_main, &off), 0);
  ck_assert_int_eq(run_with_recv_buffers(few, recv_cfg_main, &few), 0);
  ck_assert_int_eq(run_with_recv_buffers(few, exhaust_main, NULL), 0); /* 300 readers, 4 buffers */
}
END_TEST

START_TEST(test_provided_buffers_run_out) {
  if (!enough_fds()) return;
  ck_assert_int_eq(run_main(1, exhaust_main, NULL, NULL), 0);
}
END_TEST

/* A receive still standing when the loop closes: close ends it (its
 * reference goes), and the stream, released after the loop is gone, is
 * freed and its fd closed (ASan's leak check watches the first part). */
struct kept {
  int peer;
  weft_reader_t *r;
  weft_writer_t *w;
};

static int keep_main(void *arg, void **res) {
  (void)res;
  struct kept *k = arg;
  int sv[2];
  pair(sv);
  k->peer = sv[1];
  ck_assert_int_eq(weft_stream_open_fd(sv[0], sv[0], 0, &k->r, &k->w), 0);
  ck_assert_int_eq(write(sv[1], "hi", 2), 2);
  char c;
  ck_assert_int_eq(weft_reader_readexactly(k->r, &c, 1, NULL), 1); /* the receive stands now */
  ck_assert_int_eq(c, 'h');
  /* A second stream released inside the loop: its end of stream may
   * still be on its way when the loop closes. */
  weft_reader_t *r2;
  weft_writer_t *w2;
  stream_pair(sv, 0, &r2, &w2);
  ck_assert_int_eq(write(sv[1], "x", 1), 1);
  ck_assert_int_eq(weft_reader_read(r2, &c, 1), 1);
  stream_pair_end(sv[1], r2, w2);
  return 0;
}

START_TEST(test_receive_standing_at_close) {
  for (unsigned workers = 1; workers <= 4; workers += 3) {
    struct kept k = {0};
    ck_assert_int_eq(run_main(workers, keep_main, &k, NULL), 0);
    char buf[4];
    weft_writer_release(k.w);
    weft_reader_release(k.r);
    ck_assert_int_eq(read(k.peer, buf, sizeof buf), 0); /* closed: end of stream */
    close(k.peer);
  }
}
END_TEST

/* A read cancelled, or timed out, while bytes are on their way loses none
 * of them, and takes none: it reports the cancellation and the bytes stay
 * buffered for the next read, as asyncio's (its waiter is cancelled while
 * the transport buffers what arrived). With a standing receive (io_uring)
 * they were never the read's; a plain one (epoll) may have completed into
 * the read's buffer in the same tick, and the read puts them back. */
struct cancelled_read {
  weft_reader_t *r;
  ssize_t n;
  char c;
};

static int blocked_read(void *arg, void **res) {
  (void)res;
  struct cancelled_read *cr = arg;
  cr->n = weft_reader_read(cr->r, &cr->c, 1);
  return 0;
}

static int cancelled_read_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  weft_reader_t *r;
  weft_writer_t *w;
  stream_pair(sv, 0, &r, &w);
  char buf[16];
  for (int round = 0; round < 20; round++) {
    struct cancelled_read cr = {.r = r, .n = 99};
    weft_task_t *t;
    ck_assert_int_eq(weft_spawn(blocked_read, &cr, &t), 0);
    ck_assert_int_eq(weft_yield(), 0); /* it waits for bytes now (one worker) */
    ck_assert_int_eq(write(sv[1], "abc", 3), 3); /* on their way while the read is cancelled */
    weft_task_cancel(t, NULL);
    weft_await(weft_task_future(t), NULL);
    weft_task_release(t);
    /* 99: with several workers it may be cancelled before it started; a
     * read there may also have finished before the cancellation came. */
    bool solo = weft_loop_workers(weft_loop_current()) == 1;
    if (solo) ck_assert_int_eq(cr.n, -ECANCELED);
    else ck_assert(cr.n == -ECANCELED || cr.n == 1 || cr.n == 99);
    if (cr.n == 1) ck_assert_int_eq(cr.c, 'a');
    const char *left = cr.n == 1 ? "bc" : "abc";
    ck_assert_int_eq(weft_reader_readexactly(r, buf, strlen(left), NULL), (ssize_t)strlen(left));
    ck_assert(memcmp(buf, left, strlen(left)) == 0);
    /* The same with a read that times out first. */
    ck_assert_int_eq(weft_reader_read_timeout(r, buf, 1, 1000000), -ETIMEDOUT);
    ck_assert_int_eq(write(sv[1], "de", 2), 2);
    ck_assert_int_eq(weft_reader_readexactly(r, buf, 2, NULL), 2);
    ck_assert(memcmp(buf, "de", 2) == 0);
  }
  stream_pair_end(sv[1], r, w);
  return 0;
}

START_TEST(test_cancelled_reads_lose_nothing) {
  ck_assert_int_eq(run_main(1, cancelled_read_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, cancelled_read_main, NULL, NULL), 0);
}
END_TEST

/* ---- queued sends (writes leave with the pass's submission) --------------- */

struct tx_counts {
  uint32_t sends, handoffs;
  size_t buffered;
  bool queued, inflight;
};

static struct tx_counts tx_counts(weft_writer_t *w) {
  struct weft__stream *st = w->s;
  weft__amutex_lock(&st->lock);
  struct tx_counts c = {st->tx_sends, st->tx_handoffs, st->wsize, st->tx_queued, st->tx_inflight};
  weft__amutex_unlock(&st->lock);
  return c;
}

/* Reads exactly @n bytes of the pattern (from @off) from the raw fd @fd,
 * suspending (weft_read) so the writer's sends can leave. */
static void read_pattern_raw(int fd, size_t off, size_t n) {
  static char buf[65536]; /* not on the fiber stack */
  size_t got = 0, bad = 0;
  while (got < n) {
    size_t want = n - got < sizeof buf ? n - got : sizeof buf;
    ssize_t k = weft_read(fd, buf, want);
    ck_assert_int_gt(k, 0);
    for (ssize_t i = 0; i < k; i++) bad += buf[i] != pattern_at(off + got + (size_t)i);
    got += (size_t)k;
  }
  ck_assert_uint_eq(bad, 0); /* every byte once, in order */
}

/* Writes the pattern's bytes [@off, @off + @n) in @piece-byte writes. */
static void write_pattern(weft_writer_t *w, size_t off, size_t n, size_t piece) {
  static char chunk[65536];
  ck_assert_uint_le(piece, sizeof chunk);
  for (size_t done = 0; done < n;) {
    size_t k = piece < n - done ? piece : n - done;
    for (size_t i = 0; i < k; i++) chunk[i] = pattern_at(off + done + i);
    ck_assert_int_eq(weft_writer_write(w, chunk, k), 0);
    done += k;
  }
}

struct piece_writer {
  weft_writer_t *w;
  size_t off, n;
};

static int piece_write(void *arg, void **res) {
  (void)res;
  struct piece_writer *pw = arg;
  write_pattern(pw->w, pw->off, pw->n, pw->n);
  return 0;
}

/* One worker: what a pass writes to a stream, from one task or several,
 * leaves as one send when the pass ends; nothing leaves before (io_uring:
 * one request in the pass's submission; epoll: one send then). */
static int pass_writes_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  weft_reader_t *r;
  weft_writer_t *w;
  stream_pair(sv, 0, &r, &w);
  write_pattern(w, 0, 1600, 100); /* 16 pipelined responses */
  struct tx_counts c = tx_counts(w);
  ck_assert_uint_eq(c.buffered, 1600);
  ck_assert_uint_eq(weft_writer_buffer_size(w), 1600);
  ck_assert(c.queued && !c.inflight && c.sends == 0);
  ck_assert_int_eq(weft_writer_drain(w), 0); /* below the high-water mark: no wait */
  char probe;
  ck_assert_int_eq(recv(sv[1], &probe, 1, MSG_DONTWAIT | MSG_PEEK), -1);
  read_pattern_raw(sv[1], 0, 1600);
  ck_assert_uint_eq(tx_counts(w).sends, 1);
  /* Three tasks writing in one pass: their writes leave in one send, in
   * the order they ran. */
  struct piece_writer pw[3] = {{w, 1600, 300}, {w, 1900, 50}, {w, 1950, 1000}};
  weft_task_t *t[3];
  for (int i = 0; i < 3; i++) ck_assert_int_eq(weft_spawn(piece_write, &pw[i], &t[i]), 0);
  read_pattern_raw(sv[1], 1600, 1350);
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(t[i]), NULL), 0);
    weft_task_release(t[i]);
  }
  c = tx_counts(w);
  ck_assert_uint_eq(c.sends, 2);
  ck_assert(!c.queued && !c.inflight && c.buffered == 0 && c.handoffs == 0);
  /* A write larger than a queued one is sent at once, the copy saved. */
  write_pattern(w, 2950, 20000, 20000);
  ck_assert_uint_eq(weft_writer_buffer_size(w), 0);
  read_pattern_raw(sv[1], 2950, 20000);
  stream_pair_end(sv[1], r, w);
  return 0;
}

START_TEST(test_pass_writes_leave_as_one_send) {
  ck_assert_int_eq(run_main(1, pass_writes_main, NULL, NULL), 0);
}
END_TEST

/* Which writes go out at once (stream.c, queue_write): a small one always
 * queues; a medium one (up to 4 KiB) goes directly when it is the first of
 * its task's slice to do so, and the medium writes after it in the same
 * slice queue behind it (pipelined answers: one send); a large one always
 * goes directly. Nothing queued ahead, each time. weft_writer_buffer_size
 * counts what is queued; the peer's socket holds what went directly. */
static size_t peer_has(int fd) {
  int n = 0;
  ck_assert_int_eq(ioctl(fd, FIONREAD, &n), 0);
  return (size_t)n;
}

static int slice_writes_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  weft_reader_t *r;
  weft_writer_t *w;
  stream_pair(sv, 0, &r, &w);
  write_pattern(w, 0, 1000, 1000); /* the slice's first medium write: at once */
  ck_assert_uint_eq(weft_writer_buffer_size(w), 0);
  ck_assert_uint_eq(peer_has(sv[1]), 1000);
  write_pattern(w, 1000, 3000, 1500); /* the same slice: queued behind it */
  ck_assert_uint_eq(weft_writer_buffer_size(w), 3000);
  ck_assert_uint_eq(peer_has(sv[1]), 1000);
  read_pattern_raw(sv[1], 0, 4000); /* a new slice after this */
  ck_assert_uint_eq(tx_counts(w).sends, 1);
  write_pattern(w, 4000, 2000, 2000); /* a new slice's first: at once again */
  ck_assert_uint_eq(weft_writer_buffer_size(w), 0);
  write_pattern(w, 6000, 100, 100); /* small: queued */
  ck_assert_uint_eq(weft_writer_buffer_size(w), 100);
  read_pattern_raw(sv[1], 4000, 2100);
  write_pattern(w, 6100, 300, 300); /* a small first write of a slice: queued */
  ck_assert_uint_eq(weft_writer_buffer_size(w), 300);
  read_pattern_raw(sv[1], 6100, 300);
  write_pattern(w, 6400, 1000, 1000); /* at once */
  write_pattern(w, 7400, 5000, 5000); /* large, the same slice: at once too */
  ck_assert_uint_eq(weft_writer_buffer_size(w), 0);
  ck_assert_uint_eq(peer_has(sv[1]), 6000);
  read_pattern_raw(sv[1], 6400, 6000);
  ck_assert_uint_eq(tx_counts(w).sends, 3);
  stream_pair_end(sv[1], r, w);
  return 0;
}

START_TEST(test_medium_writes_go_at_once_once_a_slice) {
  ck_assert_int_eq(run_main(1, slice_writes_main, NULL, NULL), 0);
}
END_TEST

/* One worker, a pass writing to many streams: every WEFT__PRESUBMIT_BATCH
 * streams written are submitted together at once, so the first writes do
 * not wait for the whole pass; the rest leave when the pass ends. */
#define BATCH_STREAMS ((int)WEFT__PRESUBMIT_BATCH + 4)

static int batch_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[BATCH_STREAMS][2];
  weft_reader_t *r[BATCH_STREAMS];
  weft_writer_t *w[BATCH_STREAMS];
  for (int i = 0; i < BATCH_STREAMS; i++) stream_pair(sv[i], 0, &r[i], &w[i]);
  for (int i = 0; i < BATCH_STREAMS; i++) write_pattern(w[i], 0, 100, 100);
  /* No pass has ended: the first batch is in the kernel (a socketpair's
   * send completes as it is submitted), the last streams' writes not. */
  char buf[100];
  for (int i = 0; i < BATCH_STREAMS; i++) {
    bool sent = i < (int)WEFT__PRESUBMIT_BATCH;
    ck_assert_int_eq(recv(sv[i][1], buf, sizeof buf, MSG_DONTWAIT), sent ? 100 : -1);
  }
  for (int i = (int)WEFT__PRESUBMIT_BATCH; i < BATCH_STREAMS; i++) read_pattern_raw(sv[i][1], 0, 100);
  for (int i = 0; i < BATCH_STREAMS; i++) stream_pair_end(sv[i][1], r[i], w[i]);
  return 0;
}

START_TEST(test_pass_submits_each_full_batch) {
  ck_assert_int_eq(run_main(1, batch_main, NULL, NULL), 0);
}
END_TEST

/* A stream written in the last pass before the loop stops: the bytes
 * leave when the run ends, not at the next run (the peer, outside the
 * loop, has them while the loop is stopped); close then ends the send. */
static int last_pass_fd = -1;

static int last_pass_main(void *arg, void **res) {
  (void)res;
  weft_writer_t **w = arg;
  int sv[2];
  weft_reader_t *r;
  stream_pair(sv, 0, &r, w);
  weft_reader_release(r);
  last_pass_fd = sv[1];
  write_pattern(*w, 0, 500, 100);
  return 0; /* the loop stops after this pass */
}

START_TEST(test_last_pass_writes_leave_at_stop) {
  for (unsigned workers = 1; workers <= 2; workers++) {
    weft_loop_t *loop = make_loop(workers);
    weft_writer_t *w = NULL;
    weft_task_t *t;
    ck_assert_int_eq(weft_spawn_opts(loop, last_pass_main, &w, NULL, &t), 0);
    ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), NULL), 0);
    weft_task_release(t);
    char buf[500];
    ck_assert_int_eq(recv(last_pass_fd, buf, sizeof buf, MSG_DONTWAIT | MSG_WAITALL), 500);
    for (int i = 0; i < 500; i++) ck_assert_int_eq(buf[i], pattern_at((size_t)i));
    weft_writer_release(w); /* outside a task: closes (the fd when the send ends) */
    close_clean(loop);
    close(last_pass_fd);
  }
}
END_TEST

/* A peer that reads slowly behind a small socket buffer: queued sends
 * end short, start again with what was written meanwhile, and wait in the
 * kernel for room; writes of every size (small ones queued, large ones
 * sent at once with the rest queued) arrive whole and in order. */
struct slow_peer {
  int fd;
  size_t n;
};

static int slow_read(void *arg, void **res) {
  (void)res;
  struct slow_peer *p = arg;
  for (size_t off = 0; off < p->n;) {
    size_t k = 3000 < p->n - off ? 3000 : p->n - off;
    read_pattern_raw(p->fd, off, k);
    off += k;
    ck_assert_int_eq(weft_yield(), 0);
  }
  return 0;
}

static int slow_peer_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  static const size_t pieces[] = {1, 100, 700, 4096, 16384, 16385, 50000};
  for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
    int sv[2];
    weft_reader_t *r;
    weft_writer_t *w;
    small_stream_pair(sv, &r, &w);
    size_t total = pieces[i] < 100 ? 20000 : 1u << 20;
    struct slow_peer p = {sv[1], total};
    weft_task_t *t;
    ck_assert_int_eq(weft_spawn(slow_read, &p, &t), 0);
    for (size_t off = 0; off < total; off += pieces[i]) {
      size_t k = pieces[i] < total - off ? pieces[i] : total - off;
      write_pattern(w, off, k, k);
      ck_assert_uint_le(weft_writer_buffer_size(w), 64 * 1024 + pieces[i]);
      ck_assert_int_eq(weft_writer_drain(w), 0);
    }
    ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
    weft_task_release(t);
    /* The peer has every byte; the send that carried the last ones may
     * not have been accounted yet (its completion, or its flusher, runs
     * later): closed, nothing is left. */
    ck_assert_int_eq(weft_writer_close(w), 0);
    ck_assert_int_eq(weft_writer_wait_closed(w), 0);
    ck_assert_uint_eq(weft_writer_buffer_size(w), 0);
    stream_pair_end(sv[1], r, w);
  }
  return 0;
}

START_TEST(test_queued_sends_to_a_slow_peer) {
  ck_assert_int_eq(run_main(1, slow_peer_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, slow_peer_main, NULL, NULL), 0);
}
END_TEST

/* close() and write_eof() right after writes, with no pass in between:
 * what was written leaves first, then the end (the peer reads it all,
 * then end of stream); abort() drops it and the peer sees the end. */
static int close_after_writes_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  for (int how = 0; how < 3; how++) {
    int sv[2];
    weft_reader_t *r;
    weft_writer_t *w;
    stream_pair(sv, 0, &r, &w);
    struct fd_id sock = fd_id(sv[0]);
    if (how == 2) shrink_buffers(sv); /* abort: a peer that reads nothing, a send waiting for room */
    size_t n = how == 2 ? 200000 : 5000;
    write_pattern(w, 0, n, 500);
    if (how == 2) {
      ck_assert_int_eq(weft_yield(), 0); /* the send is in the kernel, waiting */
      ck_assert_int_eq(weft_writer_abort(w), 0);
      ck_assert_int_eq(weft_writer_write(w, "x", 1), -ECONNRESET);
      ck_assert_int_eq(weft_writer_wait_closed(w), 0);
      static char buf[65536];
      ssize_t k;
      while ((k = weft_read(sv[1], buf, sizeof buf)) > 0) {
      }
      ck_assert(k == 0 || k == -ECONNRESET); /* the end, whatever had arrived */
      ck_assert_uint_eq(weft_writer_buffer_size(w), 0);
    } else {
      ck_assert_int_eq(how ? weft_writer_write_eof(w) : weft_writer_close(w), 0);
      read_pattern_raw(sv[1], 0, n);
      char c;
      ck_assert_int_eq(weft_read(sv[1], &c, 1), 0); /* then the end */
      if (how == 0) {
        ck_assert_int_eq(weft_writer_wait_closed(w), 0);
        ck_assert(fd_closed(sock));
      } else {
        ck_assert_int_eq(weft_writer_write(w, "x", 1), WEFT_ECLOSED);
      }
    }
    stream_pair_end(sv[1], r, w);
  }
  return 0;
}

START_TEST(test_close_after_queued_writes) {
  ck_assert_int_eq(run_main(1, close_after_writes_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, close_after_writes_main, NULL, NULL), 0);
}
END_TEST

/* A send cancelled under the stream (what a worker turning standby does
 * to its standing requests, white box): a flusher task takes what is
 * left, and the peer still gets every byte in order. On epoll, where the
 * pass's send is a system call that ends short on a full socket, the
 * rest goes to a flusher at once. */
static int handover_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  weft_reader_t *r;
  weft_writer_t *w;
  small_stream_pair(sv, &r, &w);
  write_pattern(w, 0, 60000, 1000);
  if (!on_uring()) {
    ck_assert_int_eq(weft_yield(), 0); /* the pass's send ends short */
    struct tx_counts c = tx_counts(w);
    ck_assert(c.handoffs == 1 && c.sends == 1 && !c.inflight && !c.queued);
    write_pattern(w, 60000, 10000, 1000); /* behind the flusher's bytes */
    read_pattern_raw(sv[1], 0, 70000);
    ck_assert_int_eq(weft_writer_drain(w), 0);
    stream_pair_end(sv[1], r, w);
    return 0;
  }
  /* One worker: the first pass's send takes what fits and ends short; the
   * second pass's waits in the kernel for room. */
  ck_assert_int_eq(weft_yield(), 0);
  ck_assert_int_eq(weft_yield(), 0);
  ck_assert(tx_counts(w).inflight);
  weft__reactor_release_standing(&weft__worker_self()->reactor);
  ck_assert_int_eq(weft_yield(), 0); /* its cancellation completes; a flusher starts */
  struct tx_counts c = tx_counts(w);
  ck_assert_uint_eq(c.handoffs, 1);
  ck_assert(!c.inflight && !c.queued);
  write_pattern(w, 60000, 10000, 1000); /* behind the flusher's bytes */
  read_pattern_raw(sv[1], 0, 70000);
  ck_assert_int_eq(weft_writer_drain(w), 0);
  stream_pair_end(sv[1], r, w);
  return 0;
}

START_TEST(test_cancelled_send_handed_to_flusher) {
  ck_assert_int_eq(run_main(1, handover_main, NULL, NULL), 0);
}
END_TEST

/* The loop closes with a send waiting for a peer that never reads, and
 * with the writer released: the quiesce cancels the send, the stream
 * closes its fd and is freed (ASan's leak check), nothing hangs. */
static int stuck_fd = -1, stuck_peer = -1;

static int stuck_send_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  weft_reader_t *r;
  weft_writer_t *w;
  small_stream_pair(sv, &r, &w);
  write_pattern(w, 0, 100000, 1000);
  ck_assert_int_eq(weft_yield(), 0);
  stuck_fd = sv[0];
  stuck_peer = sv[1];
  weft_writer_release(w); /* closes once the send ends */
  weft_reader_release(r);
  return 0;
}

START_TEST(test_send_stuck_at_loop_close) {
  for (unsigned workers = 1; workers <= 4; workers += 3) {
    ck_assert_int_eq(run_main(workers, stuck_send_main, NULL, NULL), 0);
    ck_assert_int_eq(fcntl(stuck_fd, F_GETFD), -1); /* closed by the loop's close */
    static char buf[65536];
    ssize_t k;
    while ((k = read(stuck_peer, buf, sizeof buf)) > 0) {
    }
    ck_assert(k == 0 || (k < 0 && errno == ECONNRESET));
    close(stuck_peer);
  }
}
END_TEST

/* The flusher (what a pipe does not take at once) under two things a
 * program may do to its tasks. An eager task factory: the flusher is the
 * stream's own task, never made by the factory (an eager one ran its body
 * inside write(), which holds the stream's lock the body takes: the
 * worker deadlocked). Cancelling every other task, as asyncio programs do
 * at shutdown: weft_loop_tasks does not list the flusher (asyncio's
 * transport is no task), and one cancelled all the same (the loop's
 * close cancels every task: here through the full listing), before its
 * first step or in its write, is replaced, and every byte still arrives
 * in order. */
static int cancel_other(weft_task_t *t, void *arg) {
  if (t != (weft_task_t *)arg) weft_task_cancel(t, NULL);
  return 0;
}

static int count_listed(weft_task_t *t, void *arg) {
  (void)t;
  ++*(int *)arg;
  return 0;
}

static int flusher_main(void *arg, void **res) {
  (void)res;
  bool eager = arg != NULL;
  if (eager)
    ck_assert_int_eq(weft_loop_set_task_factory(weft_loop_current(), weft_eager_task_factory, NULL), 0);
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  weft_writer_t *w;
  ck_assert_int_eq(weft_stream_open_fd(-1, p[1], 0, NULL, &w), 0);
  ck_assert(fcntl(p[1], F_GETFL) & O_NONBLOCK); /* as asyncio's write pipe */
  size_t n = 300000; /* beyond the pipe's 64 KiB: a flusher takes the rest */
  write_pattern(w, 0, n, 60000);
  ck_assert_uint_gt(weft_writer_buffer_size(w), 0);
  int listed = 0;
  ck_assert_int_eq(weft_loop_tasks(weft_loop_current(), count_listed, &listed), 1); /* main alone */
  ck_assert_int_eq(listed, 1);
  if (!eager) {
    struct weft_loop *loop = (struct weft_loop *)weft_loop_current();
    ck_assert_int_ge(weft__loop_tasks_all(loop, cancel_other, weft_task_current()), 2);
    ck_assert_int_eq(weft_yield(), 0);
  }
  read_pattern_raw(p[0], 0, n);
  ck_assert_int_eq(weft_writer_drain(w), 0);
  if (!eager) {
    struct weft__stream *st = w->s;
    weft__amutex_lock(&st->lock);
    ck_assert_uint_ge(st->flusher_restarts, 1);
    weft__amutex_unlock(&st->lock);
  }
  ck_assert_int_eq(weft_writer_close(w), 0);
  ck_assert_int_eq(weft_writer_wait_closed(w), 0);
  char c;
  ck_assert_int_eq(weft_read(p[0], &c, 1), 0); /* closed after the last byte */
  weft_writer_release(w);
  close(p[0]);
  return 0;
}

START_TEST(test_flusher_under_eager_factory_and_cancel_all) {
  for (unsigned workers = 1; workers <= 2; workers++) {
    ck_assert_int_eq(run_main(workers, flusher_main, (void *)1, NULL), 0);
    ck_assert_int_eq(run_main(workers, flusher_main, NULL, NULL), 0);
  }
}
END_TEST

/* Four writers on four workers, one stream: each write is whole and in
 * its writer's order, whichever worker runs it and wherever the send in
 * flight was queued (TSan covers the hand-offs between workers). */
#define MW_WRITERS 4
#define MW_MESSAGES 3000

struct mw {
  weft_writer_t *w;
  int id;
  int messages;
};

/* Writes @m->messages messages "<id:seq>", a drain after each, a yield now
 * and then (every seventh, offset by the id). */
static int mw_write(void *arg, void **res) {
  (void)res;
  struct mw *m = arg;
  for (int i = 0; i < m->messages; i++) {
    char msg[32];
    int n = snprintf(msg, sizeof msg, "<%d:%d>", m->id, i);
    ck_assert_int_eq(weft_writer_write(m->w, msg, (size_t)n), 0);
    ck_assert_int_eq(weft_writer_drain(m->w), 0);
    if (i % 7 == m->id) ck_assert_int_eq(weft_yield(), 0);
  }
  return 0;
}

static int many_writers_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  weft_reader_t *r, *pr;
  weft_writer_t *w, *pw;
  stream_pair(sv, 0, &r, &w);
  ck_assert_int_eq(weft_stream_open_fd(sv[1], sv[1], 0, &pr, &pw), 0);
  struct mw m[MW_WRITERS];
  weft_task_t *t[MW_WRITERS];
  for (int i = 0; i < MW_WRITERS; i++) {
    m[i] = (struct mw){w, i, MW_MESSAGES};
    ck_assert_int_eq(weft_spawn(mw_write, &m[i], &t[i]), 0);
  }
  int next[MW_WRITERS] = {0};
  for (int got = 0; got < MW_WRITERS * MW_MESSAGES; got++) {
    char msg[32];
    ssize_t n = weft_reader_readuntil(pr, ">", 1, msg, sizeof msg - 1, NULL);
    ck_assert_int_gt(n, 0);
    msg[n] = '\0';
    int id, seq;
    ck_assert_int_eq(sscanf(msg, "<%d:%d>", &id, &seq), 2);
    ck_assert(id >= 0 && id < MW_WRITERS);
    ck_assert_int_eq(seq, next[id]);
    next[id]++;
  }
  for (int i = 0; i < MW_WRITERS; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(t[i]), NULL), 0);
    weft_task_release(t[i]);
  }
  weft_writer_release(pw);
  weft_reader_release(pr);
  weft_writer_release(w);
  weft_reader_release(r);
  /* With one worker the reads and writes took owner sections (stream.c)
   * and, every lock on the way being the worker's own, none revoked them. */
  struct weft_loop *loop = (struct weft_loop *)weft_loop_current();
  if (loop->solo)
    ck_assert(atomic_load(&loop->owner->on) == (weft__membarrier_available() ? WEFT__OWNER_ON : WEFT__OWNER_OFF));
  return 0;
}

START_TEST(test_many_writers_many_workers) {
  ck_assert_int_eq(run_main(4, many_writers_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(1, many_writers_main, NULL, NULL), 0);
}
END_TEST

/* Idle buffers (stream.c): a reader waiting for bytes holds no buffer
 * (receiving ahead: `in` and `rx` go back before the wait; pulling on
 * epoll: the receive takes `in` only once bytes are there), and once what
 * was written has left, the writer holds none either; buffers come back
 * when bytes do. One worker: FIFO makes the reader's wait come before
 * the checks. */
struct buffers_held {
  bool in, rx, out, pending;
};

static struct buffers_held buffers_held(struct weft__stream *st) {
  weft__amutex_lock(&st->lock);
  struct buffers_held b = {st->in.p != NULL, st->rx.p != NULL, st->out.p != NULL, st->pending.p != NULL};
  weft__amutex_unlock(&st->lock);
  return b;
}

static int idle_reader(void *arg, void **res) {
  static char line[32];
  ssize_t n = weft_reader_readline(arg, line, sizeof line);
  *res = (void *)(intptr_t)n;
  return n == 4 && memcmp(line, "two\n", 4) == 0 ? 0 : -EPROTO;
}

static int idle_view_reader(void *arg, void **res) {
  (void)res;
  void *data;
  ssize_t n = weft_reader_readuntil_view(arg, "\n", 1, &data, NULL);
  return n == 5 && memcmp(data, "view\n", 5) == 0 ? 0 : -EPROTO;
}

static int idle_buffers_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int sv[2];
  weft_reader_t *r;
  weft_writer_t *w;
  stream_pair(sv, 0, &r, &w);
  struct weft__stream *st = r->s;
  char line[32];
  ck_assert_int_eq(write(sv[1], "one\n", 4), 4);
  ck_assert_int_eq(weft_reader_readline(r, line, sizeof line), 4);
  ck_assert(buffers_held(st).in); /* not waiting: kept for the next read */
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(idle_reader, r, &t), 0);
  ck_assert_int_eq(weft_yield(), 0); /* the reader runs, finds nothing, waits */
  struct buffers_held b = buffers_held(st);
  ck_assert(!b.in && !b.rx); /* epoll: the pull receive takes `in` when bytes are there */
  ck_assert_int_eq(write(sv[1], "two\n", 4), 4);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  /* A reader of views holds none while it waits either. */
  ck_assert_int_eq(weft_spawn(idle_view_reader, r, &t), 0);
  ck_assert_int_eq(weft_yield(), 0);
  b = buffers_held(st);
  ck_assert(!b.in && !b.rx); /* epoll: the pull receive takes `in` when bytes are there */
  ck_assert_int_eq(write(sv[1], "view\n", 5), 5);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  /* The writer: buffered while a queued send waits (io_uring) or the
   * socket is full, nothing held once it all left. */
  write_pattern(w, 0, 1600, 100);
  ck_assert(buffers_held(st).pending);
  read_pattern_raw(sv[1], 0, 1600);
  b = buffers_held(st);
  ck_assert(!b.out && !b.pending);
  ck_assert_uint_eq(weft_writer_buffer_size(w), 0);
  /* And again: buffers come back for the next bytes. */
  write_pattern(w, 1600, 300, 100);
  read_pattern_raw(sv[1], 1600, 300);
  ck_assert_int_eq(write(sv[1], "three\n", 6), 6);
  ck_assert_int_eq(weft_reader_readline(r, line, sizeof line), 6);
  ck_assert(memcmp(line, "three\n", 6) == 0);
  stream_pair_end(sv[1], r, w);
  return 0;
}

/* A send the kernel refuses on a live socket (here a shutdown(SHUT_WR)
 * behind the stream's back; in the field an injected fault or a firewall's
 * refusal) ends the connection for the reader too, as asyncio's fatal
 * write error does (_force_close: connection_lost(exc), which sets the
 * reader's exception): a read waiting for bytes, and every later one,
 * returns the writer's error instead of waiting for bytes the peer will
 * never be asked for; the peer sees the end. @arg: whether the reader
 * waits when the send fails (else it comes after). */
static int read_expecting(void *arg, void **res) {
  (void)res;
  char buf[16];
  return (int)weft_reader_read_timeout(arg, buf, sizeof buf, 2000000000LL);
}

static int failed_send_main(void *arg, void **res) {
  (void)res;
  bool waiting = arg != NULL;
  int sv[2];
  weft_reader_t *r;
  weft_writer_t *w;
  stream_pair(sv, 0, &r, &w);
  weft_task_t *t = NULL;
  if (waiting) {
    ck_assert_int_eq(weft_spawn(read_expecting, r, &t), 0);
    ck_assert_int_eq(weft_sleep(0.01), 0); /* it waits for bytes */
  }
  ck_assert_int_eq(shutdown(sv[0], SHUT_WR), 0);
  /* The send runs in the call, or queued at the pass's end: its failure
   * shows in the call, or in a drain after it ran. */
  int rc = weft_writer_write(w, "ping", 4);
  if (rc == 0) {
    ck_assert_int_eq(weft_sleep(0.01), 0);
    rc = weft_writer_drain(w);
  }
  ck_assert_int_eq(rc, -EPIPE);
  if (waiting) {
    void *v = NULL;
    ck_assert_int_eq(weft_await(weft_task_future(t), &v), -EPIPE);
    weft_task_release(t);
  }
  char buf[16];
  ck_assert_int_eq(weft_reader_read(r, buf, sizeof buf), -EPIPE); /* sticky */
  ck_assert_int_eq(weft_reader_readline(r, buf, sizeof buf), -EPIPE);
  ck_assert_int_eq(weft_reader_at_eof(r), 0); /* asyncio: an exception, not the end */
  ck_assert_int_eq(weft_writer_drain(w), -EPIPE);
  ck_assert_int_eq(weft_writer_is_closing(w), 1); /* asyncio: _force_close */
  ck_assert_int_eq(recv(sv[1], buf, sizeof buf, 0), 0); /* the peer sees the end */
  /* asyncio's wait_closed() raises what connection_lost(exc) carried. */
  ck_assert_int_eq(weft_writer_close(w), 0);
  ck_assert_int_eq(weft_writer_wait_closed(w), -EPIPE);
  stream_pair_end(sv[1], r, w);
  return 0;
}

START_TEST(test_failed_send_fails_the_reader) {
  for (int workers = 1; workers <= 2; workers++) {
    ck_assert_int_eq(run_main(workers, failed_send_main, (void *)1, NULL), 0);
    ck_assert_int_eq(run_main(workers, failed_send_main, NULL, NULL), 0);
  }
}
END_TEST

START_TEST(test_idle_streams_hold_no_buffers) {
  ck_assert_int_eq(run_main(1, idle_buffers_main, NULL, NULL), 0);
}
END_TEST

/* A one-worker loop's stream shared with a task of another loop: the
 * loop's worker begins and ends its read calls and appends its writes in
 * owner sections (stream.c), the other loop's task takes the lock, and its
 * first touch revokes the sections (until the worker arms them again a
 * hold later: runtime/owner.h). Both write
 * messages into one stream at once (mw_write), then each reads half of
 * them from the peer's stream in turn: every message whole, each
 * writer's in order. Eight
 * runs, so the revocation meets the worker's sections eight times (TSan
 * checks the hand-over of what they wrote). */
enum { SHARE_LINES = 600, SHARE_RUNS = 8 };

struct share {
  weft_writer_t *w;       /* both write here */
  weft_reader_t *pr;      /* the peer's end: B reads, then A */
  weft_future_t *b_done;  /* A's loop's: B's task read its half */
  sem_t b_go;             /* the streams are open */
  int next[2];            /* the next line expected from writer 0 (A's) and 1 (B's) */
  bool revoked;           /* A's sections had been revoked once B's half was read */
};

/* Reads @lines messages from the peer's stream: each whole, each writer's
 * next one. */
static void share_read(struct share *sh, int lines) {
  for (int k = 0; k < lines; k++) {
    char line[32];
    ssize_t n = weft_reader_readuntil(sh->pr, ">", 1, line, sizeof line - 1, NULL);
    ck_assert_int_gt(n, 0);
    line[n] = '\0';
    int id, seq;
    ck_assert_int_eq(sscanf(line, "<%d:%d>", &id, &seq), 2);
    ck_assert(id == 0 || id == 1);
    ck_assert_int_eq(seq, sh->next[id]);
    sh->next[id]++;
  }
}

static int share_b_main(void *arg, void **res) {
  (void)res;
  struct share *sh = arg;
  struct mw sw = {sh->w, 1, SHARE_LINES};
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(mw_write, &sw, &t), 0);
  share_read(sh, SHARE_LINES);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  return weft_future_set_result(sh->b_done, NULL);
}

static void *share_b_thread(void *arg) {
  struct share *sh = arg;
  while (sem_wait(&sh->b_go) != 0) {
  }
  weft_loop_t *b = make_loop(1);
  ck_assert_int_eq(weft_loop_run_task(b, share_b_main, sh, NULL), 0);
  close_clean(b);
  return NULL;
}

static int share_a_main(void *arg, void **res) {
  (void)res;
  struct share *sh = arg;
  int sv[2];
  weft_reader_t *r;
  weft_writer_t *pw;
  stream_pair(sv, 0, &r, &sh->w);
  ck_assert_int_eq(weft_stream_open_fd(sv[1], sv[1], 0, &sh->pr, &pw), 0);
  ck_assert_int_eq(weft_future_new(NULL, &sh->b_done), 0);
  sh->next[0] = sh->next[1] = 0;
  struct mw sw = {sh->w, 0, SHARE_LINES};
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(mw_write, &sw, &t), 0);
  sem_post(&sh->b_go);
  ck_assert_int_eq(weft_await(sh->b_done, NULL), 0);
  /* Counted, not looked at: the worker may have armed them again since. */
  struct weft_loop_stats ls;
  ck_assert_int_eq(weft_loop_get_stats(weft_loop_current(), &ls), 0);
  sh->revoked = ls.owner_revocations > 0 || !weft__membarrier_available();
  share_read(sh, SHARE_LINES);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  ck_assert_int_eq(sh->next[0] + sh->next[1], 2 * SHARE_LINES);
  weft_future_release(sh->b_done);
  weft_writer_release(pw);
  weft_reader_release(sh->pr);
  weft_writer_release(sh->w);
  weft_reader_release(r);
  return 0;
}

START_TEST(test_solo_stream_shared_with_another_loop) {
  for (int run = 0; run < SHARE_RUNS; run++) {
    struct share sh = {0};
    ck_assert_int_eq(sem_init(&sh.b_go, 0, 0), 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, share_b_thread, &sh), 0);
    ck_assert_int_eq(run_main(1, share_a_main, &sh, NULL), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    sem_destroy(&sh.b_go);
    ck_assert(sh.revoked); /* B's first touch, if they were on at all */
  }
}
END_TEST

static Suite *stream_suite(void) {
  Suite *s = suite_create("io_stream");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_reader);
  tcase_add_test(tc, test_readline_eof);
  tcase_add_test(tc, test_readuntil_near_misses);
  tcase_add_test(tc, test_views);
  tcase_add_test(tc, test_view_edges);
  tcase_add_test(tc, test_eof_before_any_byte);
  tcase_add_test(tc, test_line_iterator);
  tcase_add_test(tc, test_busy_and_writer);
  tcase_add_test(tc, test_backpressure);
  tcase_add_test(tc, test_bad_input);
  tcase_add_test(tc, test_timeouts);
  tcase_add_test(tc, test_writelines_extra_info_abort);
  tcase_add_test(tc, test_pipe_write_eof);
  tcase_add_test(tc, test_cancel_storm);
  tcase_add_test(tc, test_asyncio_stream_edges);
  tcase_add_test(tc, test_drain_as_asyncio);
  tcase_add_test(tc, test_reset_nobody_read);
  tcase_add_test(tc, test_receive_pauses_keep_order);
  tcase_add_test(tc, test_provided_buffers_run_out);
  tcase_add_test(tc, test_recv_buffers_config);
  tcase_add_test(tc, test_receive_standing_at_close);
  tcase_add_test(tc, test_cancelled_reads_lose_nothing);
  tcase_add_test(tc, test_close_waits_for_the_receive);
  tcase_add_test(tc, test_shared_fd_closes_once);
  tcase_add_test(tc, test_write_only_socket_closes);
  tcase_add_test(tc, test_two_numbers_both_close);
  tcase_add_test(tc, test_read_only_socket_closes);
  tcase_add_test(tc, test_pass_writes_leave_as_one_send);
  tcase_add_test(tc, test_medium_writes_go_at_once_once_a_slice);
  tcase_add_test(tc, test_pass_submits_each_full_batch);
  tcase_add_test(tc, test_last_pass_writes_leave_at_stop);
  tcase_add_test(tc, test_queued_sends_to_a_slow_peer);
  tcase_add_test(tc, test_close_after_queued_writes);
  tcase_add_test(tc, test_cancelled_send_handed_to_flusher);
  tcase_add_test(tc, test_send_stuck_at_loop_close);
  tcase_add_test(tc, test_flusher_under_eager_factory_and_cancel_all);
  tcase_add_test(tc, test_many_writers_many_workers);
  tcase_add_test(tc, test_solo_stream_shared_with_another_loop);
  tcase_add_test(tc, test_idle_streams_hold_no_buffers);
  tcase_add_test(tc, test_failed_send_fails_the_reader);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_IO_TEST_MAIN(stream_suite)
