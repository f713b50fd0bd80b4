/*
 * stream.c - StreamReader and StreamWriter over one fd (weft/stream.h).
 *
 * Reading, on a socket with io_uring ("push"): the first read that needs
 * bytes starts a standing multishot receive on its worker; the kernel
 * fills provided buffers as data arrives and the completion (on that
 * worker's thread) copies them into rx and wakes the reader, which takes
 * rx into in (the buffers swap when in is empty). No request is issued
 * per read, and a read that finds rx non-empty does not wait. As asyncio
 * pauses its transport, the receive is cancelled once rx holds more than
 * twice the limit, and started again (on the reader's worker then) when
 * the reader takes rx. It ends by itself at end of stream or an error,
 * and at loop close (weft__reactor_quiesce). A cancelled or timed-out
 * read loses nothing: the bytes stay in rx. A bulk transfer (completions
 * that keep filling whole provided buffers) ends it for good: once rx is
 * drained such a stream pulls, straight into large reads' buffers.
 *
 * Elsewhere (pipes, epoll, a kernel without multishot receive or buffer
 * rings) reading is pull-based: the reader receives only when a read call
 * needs more than its buffer holds, so memory is bounded by the largest
 * request (readuntil: the limit plus one receive).
 *
 * Writing follows asyncio's transports: write() sends at once what the
 * kernel takes without blocking (a direct non-blocking send: no flusher,
 * no copy in the common case) and appends the rest to `pending`. A flusher
 * task, spawned when something is pending and none runs, moves `pending`
 * to `out` under the lock and sends `out` with weft_send outside it, so
 * write() never touches memory the kernel is reading. Its end
 * (flusher_ended, a notify entry on its task) runs at the task's
 * completion whether or not the body ran, and hands what is left to a
 * new flusher unless the loop is closing. drained is cleared when wsize
 * passes the high-water mark and set again at the low one.
 *
 * Queued sends (a socket): a small write, or a write of up to QUEUED_SEND_MAX bytes
 * after a direct one in the same slice of the same task (queue_write),
 * is appended to `pending` instead, and, if nothing is being sent, the
 * stream queues presubmit work (tx_pre) on the writer's worker's reactor.
 * Just before that reactor's next submission (the end of the scheduler's
 * pass) it moves `pending` to `out` and starts one send of it, a standing
 * op: so a pass's writes to a stream (pipelined responses) are one
 * request, and the sends of all streams written in the pass enter the
 * kernel in one system call, the one the pass makes anyway. The send's
 * completion, on that worker's thread, accounts what the kernel took and,
 * if bytes remain (a short send, or writes made meanwhile), queues the
 * presubmit work again there. A socket the peer does not drain keeps the send
 * waiting in the kernel, not a task. A cancelled send (the worker turned
 * standby, the loop's quiesce) hands what is left to a flusher task.
 * On a reactor without WEFT__CAP_QUEUED_SEND (epoll: a request is its
 * own system call) the presubmit work sends `out` itself, outside the
 * lock as a running send (tx_send_direct_locked), and hands what a full
 * socket leaves to a flusher task: one send per stream per pass still.
 * Other writes send directly as above (their copy and request would cost
 * more than the system call), and what the kernel does not take then
 * goes the queued way. The price: a queued response leaves at the end of
 * the pass rather than at the write.
 *
 * A sendfile (weft_writer_sendfile, asyncio's loop.sendfile(transport))
 * marks the writer (sendfile_active) under the lock, which refuses
 * write() (-EBUSY, asyncio's "sendfile is in progress") and makes drained
 * wait for an empty buffer (the low-water mark reads 0); once what was
 * written before it has left, it sends the file on the socket outside the
 * lock (sendfile.c, zero-copy: the socket is the stream's). It counts as
 * a running send: a close or a write_eof meanwhile happens when it ends,
 * and abort() shuts the socket down under it, which ends it. Bytes that
 * wait for a queued send not yet started (a response's head, written in
 * this pass) do not wait for the pass: the sendfile sends them first
 * itself, with MSG_MORE (send_ahead_locked), and pushes what that held
 * back if the file then sent nothing or ended short (push_held_back).
 *
 * Closing: the fd is closed once no send runs and no read is in
 * progress. A socket is shut down first (SHUT_RDWR), which ends a read
 * blocked in another task (it sees end of stream) and a running send.
 * A socket's failed send is asyncio's fatal write error: it shuts the
 * socket down the same way and leaves its error in wfatal, which the
 * reader returns where the end arrives (send_failed_locked, ended). A
 * close whose shutdown finds the connection already reset, the reset
 * unread, leaves that error there too (take_unread_error_locked).
 *
 * Invariants: refs counts the reader, the writer, a running flusher, and
 * the multishot receive and the queued send while in flight; the last
 * release frees, and a sendfile holds one while it runs. At most one of
 * flushing, tx_queued and tx_inflight is set; with sendfile_active, "a
 * send runs"; `out` and `pending` are empty while none is, and
 * only the running send changes `out` while one is (the bytes a request
 * or weft_send is sending are read outside the lock).
 * rx_inflight is set exactly while rx_op is in flight (a pause is rx_op
 * cancelled and not yet ended); a pull receive happens only while it is
 * clear (bytes stay in order).
 * wsize == pending bytes + out bytes. Everything of the writer, the fd
 * state and rx is under lock; the reader's buffer (in) belongs to the one
 * task in a read call, and between calls nothing touches it: the _view
 * calls hand out the bytes they consume in place (consume_view), valid
 * until the reader's next call, which may move, reuse or give back `in`.
 *
 * drain() in the common case (below the high-water mark, nothing failed,
 * not closing) takes no lock: drain_ready mirrors that answer, refreshed
 * under the lock wherever one of its parts changes (drain_ready_locked).
 *
 * The lock is the futures' amutex (runtime/amutex.h): its unlock is a
 * plain store, one locked instruction less per section than mutex.h's
 * exchange. A pipelined request takes the lock about four times (read
 * begin and end, write, drain): 0.91x the server's CPU per request on the
 * Intel VM, where a locked instruction costs ~10 ns (benchmarks/
 * RESULTS.md, 2026-12-05 23:49Z).
 *
 * Owner sections (runtime/owner.h): on a stream opened by a task of a
 * one-worker loop (solo_owner: that loop's record), the worker does the
 * three per-request sections (a read call's begin and end, a write that
 * only appends behind a send already under way or queues one) without
 * the lock's locked instruction: in a section, which owner.h's rules
 * make exclusive with every locked one. Those three (stream_enter) do
 * nothing but loads and stores of the stream, a memcpy, an allocation
 * and the reactor's presubmit list: no event, no future, no other lock,
 * no system call; a case that needs one leaves the section and takes
 * the lock. Every other thread (another loop's worker, a foreign thread)
 * settles after taking the word (stream_lock: revokes the worker's
 * sections, waiting out one in progress): the lock is an ownlock.h word,
 * as a future's is.
 * The record outlives the loop (owner.h, invariant 5), so a stream used
 * after its loop ended settles against a record that reads OFF.
 *
 * Idle buffers: a connection that waits holds no buffer. A reader about
 * to wait for bytes (fill_push) gives back `in` and `rx` if they are
 * empty, and once nothing is being sent and nothing waits to be
 * (send_ended_locked) `out` and `pending` go back too. Buffers of the
 * first size (WEFT__STREAMBUF_SIZE, what a request or a response takes)
 * go to the calling worker's cache (objcache.h) and the next buffer any
 * stream there needs comes from it, so a busy worker passes a few warm
 * buffers from connection to connection instead of one set per
 * connection; larger ones go to the allocator. 10,000 idle keep-alive
 * connections held two of them each before (benchmarks/RESULTS.md,
 * 2026-12-06). A pull receive on a socket of the epoll backend takes
 * `in` only once the socket is ready (in_take, WEFT__CAP_LAZY_RECV:
 * the reactor calls back just before it tries, and in_release gives an
 * empty buffer back when the try found nothing); pipes still wait inside
 * their read with `in` reserved. A pull receive asks for a first-size
 * buffer's worth and doubles (rchunk) each time one fills what it asked
 * for, up to RECV_CHUNK.
 */
#include "stream.h"
#include "sendfile.h"
#include "fdlife.h"
#include "alloc.h"
#include "deadline.h"
#include "loop.h"
#include "op.h"
#include "ownlock.h"
#include "task.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_HIGH (64u * 1024u)
#define DEFAULT_LOW (16u * 1024u)
/* A pull receive asks for up to this much: asyncio's max_size for a
 * read. It starts at the first buffer size (WEFT__STREAMBUF_SIZE, from the
 * worker's cache: what a request takes) and doubles each time a receive
 * fills what it asked for (rchunk), so a connection of small requests
 * never holds a large buffer, and a bulk one reaches this in four. */
#define RECV_CHUNK (64u * 1024u)
/* Which writes are copied and queued rather than sent directly (queued
 * sends, above), when nothing is being sent. Measured with an echo over
 * 64 connections (benchmarks/RESULTS.md, 2026-12-06 08:26Z): a direct
 * send cost the same as a queued one at 64 bytes and less from 256 bytes
 * up (0.94x the CPU per request at 1 KiB, 0.89x at 4 KiB, 0.80x at 16
 * KiB): the queued path's copy, request and completion cost more than
 * the system call they save when a slice writes a stream once. What the
 * queue wins is several writes in one slice (pipelined answers: one send
 * for all of them). So: up to QUEUED_SEND_SMALL bytes always queue (a
 * response head, which a sendfile that follows sends in the file's first
 * segment; short answers); up to QUEUED_SEND_MAX, the first direct send
 * of a slice goes out at once and later writes of the same slice to the
 * stream queue behind it; beyond QUEUED_SEND_MAX, whose copy costs more
 * than a system call, every write goes directly. */
#define QUEUED_SEND_SMALL 512u
#define QUEUED_SEND_MAX (4u * 1024u)

static size_t bytes_len(const struct weft__bytes *b) { return b->tail - b->head; }

/* Storage for a buffer of @cap bytes: the first size from the calling
 * worker's cache (idle buffers, design comment), the rest (and on other
 * threads) from the allocator. */
static char *buf_get(size_t cap) {
  struct weft__worker *w;
  if (cap == WEFT__STREAMBUF_SIZE && (w = weft__worker_self())) {
    char *p = weft__objcache_pop(&w->caches[WEFT__OBJ_STREAMBUF], cap);
    if (p) return p;
  }
  return weft__alloc(cap);
}

static void buf_put(char *p, size_t cap) {
  struct weft__worker *w;
  if (p && cap == WEFT__STREAMBUF_SIZE && (w = weft__worker_self()) &&
      weft__objcache_push(&w->caches[WEFT__OBJ_STREAMBUF], p, cap, weft__obj_cache_max[WEFT__OBJ_STREAMBUF]))
    return;
  weft__free(p, cap);
}

static void bytes_free(struct weft__bytes *b) {
  buf_put(b->p, b->cap);
  b->p = NULL;
  b->head = b->tail = b->cap = 0;
}

/* Gives @b's storage back if it holds nothing (idle buffers). */
static void bytes_idle(struct weft__bytes *b) {
  if (b->p && b->head == b->tail) bytes_free(b);
}

/* Makes room for @need more bytes after tail. */
static int bytes_reserve(struct weft__bytes *b, size_t need) {
  if (b->cap - b->tail >= need) return 0;
  size_t len = bytes_len(b);
  if (b->head && b->cap - len >= need) {
    memmove(b->p, b->p + b->head, len);
    b->head = 0;
    b->tail = len;
    return 0;
  }
  size_t cap = b->cap ? b->cap : WEFT__STREAMBUF_SIZE;
  while (cap - len < need) cap *= 2;
  char *p = buf_get(cap);
  if (!p) return -ENOMEM;
  if (len) memcpy(p, b->p + b->head, len);
  buf_put(b->p, b->cap);
  b->p = p;
  b->cap = cap;
  b->head = 0;
  b->tail = len;
  return 0;
}

/* Closes a fd the stream owns: its life ends first (fdlife.h). */
static void close_owned(int fd) {
  weft__fd_release(fd);
  close(fd);
}

static void stream_put(struct weft__stream *s) {
  /* acq_rel: the last one out sees every other user's writes. */
  if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
  if (s->rfd >= 0) close_owned(s->rfd);
  if (s->wfd >= 0 && s->wfd != s->rfd) close_owned(s->wfd);
  bytes_free(&s->in);
  bytes_free(&s->rx);
  bytes_free(&s->pending);
  bytes_free(&s->out);
  weft_event_destroy(s->drained);
  weft_event_destroy(s->closed);
  weft__free(s, sizeof *s);
}

/* ---- the lock ------------------------------------------------------------ */

/* The lock is an ownlock.h word of solo_owner (owner sections, design
 * comment): taken and settled, or passed by in a section on the per-request
 * paths (stream_enter, which returns the record to give stream_leave, or
 * NULL with the lock held). */
static inline void stream_lock(struct weft__stream *s) { weft__ownlock_lock(&s->lock, s->solo_owner); }
static inline void stream_unlock(struct weft__stream *s) { weft__amutex_unlock(&s->lock); }
static inline struct weft__owner *stream_enter(struct weft__stream *s) {
  return weft__ownlock_begin(&s->lock, s->solo_owner);
}
static inline void stream_leave(struct weft__stream *s, struct weft__owner *own) {
  weft__ownlock_end(&s->lock, own);
}

static void tx_presubmit(struct weft__io_presubmit *p, struct weft__reactor *r);
static ssize_t send_now(struct weft__stream *s, const void *buf, size_t n);
static void drain_ready_locked(struct weft__stream *s);
static void flusher_ended(struct weft__notify *n, struct weft_future *f);
static int in_take(struct weft__recv_take *t, void **buf, size_t *len);
static void in_release(struct weft__recv_take *t);

/* A stream over @rfd and @wfd, checked by the caller: @is_socket for both,
 * @w_fifo if @wfd is a pipe. */
static int stream_open(int rfd, int wfd, size_t limit, bool is_socket, bool w_fifo,
                       weft_reader_t **reader, weft_writer_t **writer);

int weft_stream_open_fd(int rfd, int wfd, size_t limit, weft_reader_t **reader,
                        weft_writer_t **writer) {
  if ((rfd < 0 && wfd < 0) || (rfd >= 0 && !reader) || (wfd >= 0 && !writer) || limit > SSIZE_MAX)
    return -EINVAL;
  /* One kind for both directions: a socket's writes are send()s with
   * MSG_NOSIGNAL; a pipe's are write()s, which on a socket could raise
   * SIGPIPE. */
  struct stat rst, wst;
  if ((rfd >= 0 && fstat(rfd, &rst) != 0) || (wfd >= 0 && wfd != rfd && fstat(wfd, &wst) != 0))
    return -EBADF;
  if (wfd == rfd) wst = rst; /* one fd: looked at once */
  if (rfd >= 0 && wfd >= 0 && S_ISSOCK(rst.st_mode) != S_ISSOCK(wst.st_mode)) return -EINVAL;
  return stream_open(rfd, wfd, limit, S_ISSOCK(rfd >= 0 ? rst.st_mode : wst.st_mode),
                     wfd >= 0 && S_ISFIFO(wst.st_mode), reader, writer);
}

int weft__stream_open_socket(int fd, size_t limit, weft_reader_t **reader,
                             weft_writer_t **writer) {
  if (fd < 0 || !reader || !writer || limit > SSIZE_MAX) return -EINVAL;
  return stream_open(fd, fd, limit, true, false, reader, writer);
}

static int stream_open(int rfd, int wfd, size_t limit, bool is_socket, bool w_fifo,
                       weft_reader_t **reader, weft_writer_t **writer) {
  struct weft__stream *s = weft__calloc(sizeof *s);
  if (!s) return -ENOMEM;
  if (weft_event_create(&s->drained) != 0 || weft_event_create(&s->closed) != 0) {
    weft_event_destroy(s->drained);
    weft__free(s, sizeof *s);
    return -ENOMEM;
  }
  weft_event_set(s->drained);
  s->drained_is_set = true;
  weft__amutex_init(&s->lock);
  s->rfd = rfd;
  s->wfd = wfd;
  s->is_socket = is_socket;
  /* write()'s direct try must not wait: a socket's send says so itself
   * (MSG_DONTWAIT); a pipe is made non-blocking, as asyncio's write pipe
   * transport makes it. */
  if (w_fifo) {
    int fl = fcntl(wfd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK)) fcntl(wfd, F_SETFL, fl | O_NONBLOCK);
  }
  s->sendfile_sock = WEFT__SENDFILE_SOCK_UNKNOWN;
  s->limit = limit ? limit : WEFT_STREAM_LIMIT;
  s->high = DEFAULT_HIGH;
  s->low = DEFAULT_LOW;
  s->reader.s = s;
  s->writer.s = s;
  s->tx_pre.fn = tx_presubmit;
  s->flusher_note.fn = flusher_ended;
  s->in_take.take = in_take;
  s->in_take.release = in_release;
  s->rchunk = WEFT__STREAMBUF_SIZE;
  weft__magic_live(&s->reader);
  weft__magic_live(&s->writer);
  s->loop = weft_loop_current();
  s->solo_owner = s->loop && s->loop->solo ? s->loop->owner : NULL;
  uint32_t refs = 0;
  if (reader) {
    *reader = rfd >= 0 ? &s->reader : NULL;
    refs += rfd >= 0;
  }
  if (writer) {
    *writer = wfd >= 0 ? &s->writer : NULL;
    refs += wfd >= 0;
  }
  if (rfd < 0) s->eof = true;
  if (wfd < 0) s->closing = true;
  drain_ready_locked(s); /* not yet shared: no lock needed */
  atomic_init(&s->refs, refs);
  /* Ours until closed: the epoll backend registers them once (fdlife.h). */
  if (rfd >= 0) weft__fd_adopt(rfd);
  if (wfd >= 0 && wfd != rfd) weft__fd_adopt(wfd);
  return 0;
}

/* ---- closing the fds ----------------------------------------------------- */

/* A deferred close (a socket, or an fd the reader and writer share), once
 * nothing may still name the fd: no read in progress and no multishot
 * receive in flight. Both fds when they differ (one socket under two
 * numbers, as inetd hands a server fds 0 and 1). Locked. */
static void close_deferred_locked(struct weft__stream *s) {
  int fd = s->rfd >= 0 ? s->rfd : s->wfd; /* a write-only socket stream has no rfd */
  if (!s->close_deferred || s->reading || s->rx_inflight || fd < 0) return;
  close_owned(fd);
  if (s->wfd >= 0 && s->wfd != fd) close_owned(s->wfd);
  s->rfd = s->wfd = -1;
  s->close_deferred = false;
  weft_event_set(s->closed);
}

/* Closes what can be closed now; the rest when its user leaves. Locked.
 * It waits for a running send (which may name the fd, and flushes first);
 * a socket's close also waits for a read in progress and for the multishot
 * receive: an io_uring request names its fd by number until the ring
 * hands it to the kernel (at the worker's next submission), so a close in
 * between let the number name another file first: a receive armed just
 * before the close was seen taking the reply of glibc's netlink socket
 * (getaddrinfo, on another thread, had been given the number), which then
 * waited forever (tests/io/test_stream.c, cancel_storm, about 1 run in 50
 * under load). Shut down, the socket ends both at once. */
static bool sending(const struct weft__stream *s) {
  return s->flushing || s->tx_queued || s->tx_inflight || s->sendfile_active;
}

/* The connection ended before our close, and nobody read how: a reset
 * (or a retransmission timeout) that arrived while no read was asked for,
 * which the kernel keeps as the socket's pending error until something
 * reads it. asyncio's transport, always reading, would have seen it and
 * passed it to connection_lost, whose exception wait_closed raises and
 * the reader's next read too: so it is kept as a failed send's is
 * (wfatal: wait_closed returns it, the reader gets it where the end
 * arrives, `ended`). Only on connections whose shutdown failed: one call
 * more there, none on the rest. Locked. */
static void take_unread_error_locked(struct weft__stream *s) {
  if (s->wfatal || s->rerr || s->rx_err) return; /* an error is known: it is the one reported */
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(s->wfd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err > 0) s->wfatal = -err;
}

static void close_fds_locked(struct weft__stream *s) {
  if (sending(s) || s->wfd < 0) return;
  /* One fd for both directions (a socket; or a tty, a pty master, any
   * fd opened for reading and writing): the reader's fd closes with it,
   * so the close waits for the reader as a socket's does (and reads
   * after it see the end, never a number another file took since). */
  if (s->is_socket || s->rfd == s->wfd) {
    /* FIN after the data; ends reads blocked elsewhere. Not after the
     * peer's reset, which the reader saw: the socket has ended already,
     * and the call would fail (ENOTCONN) on every reset connection. */
    if (s->is_socket && s->rerr != -ECONNRESET && s->rx_err != -ECONNRESET &&
        shutdown(s->wfd, SHUT_RDWR) < 0 && errno == ENOTCONN)
      take_unread_error_locked(s);
    s->close_deferred = true;
    close_deferred_locked(s);
    return;
  }
  close_owned(s->wfd); /* a pipe's write end: the reader's fd is another */
  s->wfd = -1;
  weft_event_set(s->closed);
}

/* ---- reader ---------------------------------------------------------------- */

static int begin_read(weft_reader_t *r, int64_t timeout_ns) {
  if (!r) return -EINVAL;
  if (!weft__task_self()) return -EPERM;
  struct weft__stream *s = r->s;
  struct weft__owner *own = stream_enter(s);
  int rc = s->reading ? -EBUSY : 0;
  s->reading = true;
  stream_leave(s, own);
  if (timeout_ns < 0 && s->read_timeout_ns > 0) timeout_ns = s->read_timeout_ns; /* a server's */
  if (rc == 0) s->rdeadline = weft__deadline(timeout_ns); /* ours while reading */
  return rc;
}

static void end_read(struct weft__stream *s) {
  struct weft__owner *own = stream_enter(s);
  if (own && s->close_deferred) own = weft__ownlock_escalate(&s->lock, own); /* the close sets an event */
  s->reading = false;
  close_deferred_locked(s);
  stream_leave(s, own);
}

/* Reads the fd into @buf once, within the call's deadline: > 0 bytes, 0
 * at end, or an error (-ETIMEDOUT, -ECANCELED: nothing taken). */
static ssize_t recv_once(struct weft__stream *s, void *buf, size_t n) {
  if (s->rfd < 0) return 0; /* closed under us: end of stream */
  int64_t left = weft__deadline_left(s->rdeadline);
  if (left == 0) return -ETIMEDOUT; /* the call's time is up: no new read */
  return s->is_socket ? weft_recv_timeout(s->rfd, buf, n, 0, left)
                      : weft_read_timeout(s->rfd, buf, n, left);
}

/* What a pull receive asks for: the rest of a chunk-sized buffer where
 * bytes wait (a message's start), a whole chunk otherwise. Unchanged from
 * the receive's start to its end (only a read call changes `in`). */
static size_t in_want(const struct weft__stream *s) {
  size_t len = bytes_len(&s->in);
  return len < s->rchunk ? s->rchunk - len : s->rchunk;
}

/* Room in `in` for one pull receive: its size, or -ENOMEM. */
static ssize_t in_room(struct weft__stream *s) {
  size_t need = in_want(s);
  if (bytes_reserve(&s->in, need) != 0) return -ENOMEM;
  return (ssize_t)need;
}

/* After a pull receive of @n bytes at `in`'s tail: one that filled what
 * it asked for doubles the next one's chunk (up to RECV_CHUNK). */
static void in_received(struct weft__stream *s, ssize_t n) {
  if (n <= 0) return;
  if ((size_t)n == in_want(s) && s->rchunk < RECV_CHUNK) s->rchunk *= 2;
  s->in.tail += (size_t)n;
}

static struct weft__stream *stream_of_take(struct weft__recv_take *t) {
  return (struct weft__stream *)((char *)t - offsetof(struct weft__stream, in_take));
}

/* A pull receive's buffer on a backend that takes it when the fd is ready
 * (WEFT__CAP_LAZY_RECV: epoll): room in `in` for one receive, and, when
 * the try found nothing and the receive goes back to waiting, `in` given
 * back if it holds nothing (idle buffers). Called on the worker where the
 * receive waits while the reading task waits in it: `in` is that call's
 * (io/op.c pins a task waiting for I/O to its op's worker). */
static int in_take(struct weft__recv_take *t, void **buf, size_t *len) {
  struct weft__stream *s = stream_of_take(t);
  ssize_t room = in_room(s);
  if (room < 0) return (int)room;
  *buf = s->in.p + s->in.tail;
  *len = (size_t)room;
  return 0;
}

static void in_release(struct weft__recv_take *t) { bytes_idle(&stream_of_take(t)->in); }

/* One pull receive into `in` (bytes at its tail): as recv_once, with the
 * buffer taken only once there is something to receive where the backend
 * can (a socket on epoll), so a reader waiting for its next request holds
 * no buffer there either. */
static ssize_t recv_into_in(struct weft__stream *s) {
  ssize_t n;
  if (s->is_socket && s->rfd >= 0 &&
      weft__reactor_can(&weft__worker_self()->reactor, WEFT__CAP_LAZY_RECV)) {
    if (weft__deadline_left(s->rdeadline) == 0) return -ETIMEDOUT;
    bytes_idle(&s->in); /* taken again when bytes are there */
    struct weft__io_req q = {.kind = WEFT__IO_RECV, .fd = s->rfd, .aux = &s->in_take};
    n = weft__io_await(&q, s->rdeadline);
  } else {
    ssize_t room = in_room(s);
    if (room < 0) return room;
    n = recv_once(s, s->in.p + s->in.tail, (size_t)room);
  }
  in_received(s, n);
  return n;
}

/* Errors that end the stream, as opposed to the call (cancel, timeout). */
static bool sticky(ssize_t err) { return err != -ECANCELED && err != -ETIMEDOUT; }

/* The reader's call that got @err (< 0): a sticky one fails the reader for
 * good. Under the lock, for the writer's drain (rare: a failing stream). */
static void reader_failed(struct weft__stream *s, ssize_t err) {
  if (!sticky(err)) return;
  stream_lock(s);
  s->rerr = (int)err;
  drain_ready_locked(s);
  stream_unlock(s);
}

/* A receive's end of stream (0): the end, unless a failed send ended a
 * socket's connection (send_failed_locked shut it down, wfatal): then the
 * reader fails with that send's error for good, as asyncio's reader gets
 * connection_lost's exception in place of the end. The lock: wfatal is
 * the writer's (rare: once a stream at most). */
static ssize_t ended(struct weft__stream *s) {
  stream_lock(s);
  int err = s->wfatal;
  stream_unlock(s);
  if (!err) {
    s->eof = true;
    return 0;
  }
  reader_failed(s, err);
  return err;
}

/* Whether the calling task was cancelled while a plain receive completed
 * anyway (io/op.c reports the bytes and keeps the cancellation for the
 * next suspension point): the read call is that point. It takes the
 * cancellation; the caller keeps the bytes buffered and returns
 * -ECANCELED, as asyncio's reader, whose waiter is cancelled while the
 * transport buffers what arrived. */
static bool cancelled_meanwhile(void) {
  struct weft_task *t = weft__task_self();
  return t && weft__task_take_cancel(t);
}

/* ---- receiving ahead (push) ---------------------------------------------- */


/* fill_push: "receive the pull way this time" (never a user's result). */
#define PULL_INSTEAD (-200000)

/* This many completions in a row that each reached the end of their
 * provided buffer (op->data_to_end: a whole buffer filled, or the rest of
 * one the kernel consumes incrementally) make the stream a bulk transfer:
 * receiving ahead in 4 KiB pieces, copied twice, runs at half the speed of
 * a pull receive straight into a large read's buffer (RESULTS.md,
 * 2026-12-02), so such a stream pulls from then on. Small messages
 * (requests and replies) end at a buffer's end once in many buffers' worth
 * of them, never four times in a row. */
#define BULK_RUN 4

/* asyncio pauses its transport when the buffer passes twice the limit. */
static size_t rx_bound(const struct weft__stream *s) {
  return s->limit > SIZE_MAX / 2 ? SIZE_MAX : 2 * s->limit;
}

/* Wakes the reader waiting for rx, if any (the waker rule: fired and the
 * wake under the lock the waiter takes before it leaves). Locked. */
static void rx_wake_locked(struct weft__stream *s) {
  struct weft_task *t = s->rx_waiter;
  if (!t) return;
  s->rx_waiter = NULL;
  /* release: the reader's wait sees it; the lock orders the rest. */
  atomic_store_explicit(&s->rx_fired, 1, memory_order_release);
  weft__task_wake(t);
}

static void rx_done(struct weft__io_op *op);

/* Whether receiving ahead may go on (be started again): the stream has not
 * ended or failed, is not a bulk transfer, and its fd is open and not
 * closing (a closed fd's number may name another file now; a closing one
 * waits for the receive to end). Locked. */
static bool rx_may_go_on(const struct weft__stream *s) {
  return !s->rx_err && !s->rx_eof && !s->rx_bulk && s->rfd >= 0 && !s->close_deferred;
}

/* Starts the multishot receive on the calling task's worker. Locked. */
static int rx_arm_locked(struct weft__stream *s) {
  struct weft__reactor *r = &weft__worker_self()->reactor;
  struct weft__io_op *op = &s->rx_op;
  op->cb = rx_done;
  op->res = 0;
  op->cqe_flags = 0;
  op->req = (struct weft__io_req){.kind = WEFT__IO_RECV_MULTI, .fd = s->rfd};
  int rc = weft__reactor_start_standing(r, op);
  if (rc < 0) return rc;
  s->rx_reactor = r;
  s->rx_inflight = true;
  /* relaxed: the reader holds a reference while it runs this. */
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed); /* the receive's */
  return 0;
}

/* A completion of the multishot receive, on the thread of the worker it
 * was started on. */
static void rx_done(struct weft__io_op *op) {
  struct weft__stream *s = (struct weft__stream *)((char *)op - offsetof(struct weft__stream, rx_op));
  int32_t res = op->res;
  bool more = (op->cqe_flags & IORING_CQE_F_MORE) != 0, keep = more;
  stream_lock(s);
  if (res > 0 && !s->rx_err) {
    if (bytes_reserve(&s->rx, (size_t)res) == 0) {
      memcpy(s->rx.p + s->rx.tail, op->data, (size_t)res);
      s->rx.tail += (size_t)res;
      s->rx_got = true;
    } else {
      s->rx_err = -ENOMEM; /* bytes it cannot keep: the stream fails, it never skips them */
      drain_ready_locked(s);
    }
    s->rx_full_run = op->data_to_end ? (uint8_t)(s->rx_full_run + 1) : 0;
    if (s->rx_full_run >= BULK_RUN) s->rx_bulk = true;
  }
  if (more) {
    bool full = bytes_len(&s->rx) > rx_bound(s);
    if ((s->rx_err || full || s->rx_bulk) && !op->cancelled) {
      weft__reactor_cancel(s->rx_reactor, op); /* paused: the reader starts it again */
      s->rx_pauses += full;
    }
  } else {
    s->rx_inflight = false;
    if (res == 0) s->rx_eof = true;
    else if (res == -EINVAL && !s->rx_got) s->rx_unsupported = true; /* the kernel lacks it */
    else if (res < 0 && res != -ENOBUFS && res != -ECANCELED && !s->rx_err) s->rx_err = res;
    drain_ready_locked(s);
    /* Ended by the kernel with nothing wrong with the stream (out of
     * provided buffers, a full completion queue): again, unless someone
     * cancelled it (a pause, the loop's quiesce). */
    if ((res > 0 || res == -ENOBUFS) && !op->cancelled && rx_may_go_on(s) &&
        bytes_len(&s->rx) <= rx_bound(s))
      keep = weft__reactor_start_standing(s->rx_reactor, op) == 0;
    if (keep) {
      s->rx_inflight = true;
      s->rx_restarts++;
    }
  }
  if (bytes_len(&s->rx) || !keep) rx_wake_locked(s);
  if (!keep) close_deferred_locked(s); /* the fd no longer named by a request */
  stream_unlock(s);
  if (!keep) stream_put(s); /* the receive's reference */
}

/* Moves rx into in: the buffers swap when in is empty (no copy). Bytes
 * moved, or -ENOMEM. Locked. */
static ssize_t rx_take_locked(struct weft__stream *s) {
  size_t n = bytes_len(&s->rx);
  if (!bytes_len(&s->in)) {
    struct weft__bytes t = s->in;
    s->in = s->rx;
    s->rx = t;
  } else {
    if (bytes_reserve(&s->in, n) != 0) return -ENOMEM;
    memcpy(s->in.p + s->in.tail, s->rx.p + s->rx.head, n);
    s->in.tail += n;
  }
  s->rx.head = s->rx.tail = 0;
  return (ssize_t)n;
}

/* fill() with a multishot receive: bytes moved into in (> 0), 0 at end
 * of stream, an error, or PULL_INSTEAD where push cannot be had (this
 * time, or for good: rx_mode). Waits, within the read's deadline, while
 * nothing has arrived. */
static ssize_t fill_push(struct weft__stream *s) {
  struct weft_task *t = weft__task_self();
  ssize_t out;
  stream_lock(s);
  for (;;) {
    if (bytes_len(&s->rx)) {
      out = rx_take_locked(s);
      /* Resume a paused receive (a failure is retried by the next fill). */
      if (out > 0 && !s->rx_inflight && rx_may_go_on(s)) (void)rx_arm_locked(s);
      break;
    }
    if (s->rx_err) {
      out = s->rx_err;
      break;
    }
    if (s->rx_eof || s->rfd < 0 || s->close_deferred) {
      out = 0;
      break;
    }
    if (!s->rx_inflight) {
      if (s->rx_unsupported || s->rx_bulk) s->rx_mode = WEFT__RX_PULL; /* rx is empty: in order */
      int rc = s->rx_mode == WEFT__RX_PULL ? -ENOTSUP : rx_arm_locked(s);
      if (rc < 0) {
        if (rc != -ENOMEM && rc != -EBUSY) s->rx_mode = WEFT__RX_PULL; /* no buffer rings */
        out = PULL_INSTEAD;
        break;
      }
    }
    int64_t left = weft__deadline_left(s->rdeadline);
    if (left == 0) {
      out = -ETIMEDOUT; /* the call's time is up */
      break;
    }
    /* About to wait: empty buffers go back (idle buffers). `in` is ours. */
    bytes_idle(&s->in);
    bytes_idle(&s->rx);
    s->rx_waiter = t;
    atomic_store_explicit(&s->rx_fired, 0, memory_order_relaxed); /* ours until we unlock */
    struct weft__io_req what = {.kind = WEFT__IO_RECV_MULTI, .fd = s->rfd}; /* for the dump */
    stream_unlock(s);
    weft__task_blocked(t, WEFT__BLOCK_IO, NULL, weft__io_blocked_arg(&what));
    int rc = weft__task_wait(t, &s->rx_fired, s->rdeadline);
    stream_lock(s);
    s->rx_waiter = NULL; /* already, if the receive woke us */
    if (rc) { /* cancelled or timed out: what arrives stays in rx */
      out = rc;
      break;
    }
  }
  stream_unlock(s);
  return out;
}

/* Whether reads of @s go through rx (decided by its first fill). */
static bool pushing(struct weft__stream *s) {
  if (s->rx_mode == WEFT__RX_UNDECIDED)
    s->rx_mode = s->is_socket && weft__reactor_recv_ahead(&weft__worker_self()->reactor)
                     ? WEFT__RX_PUSH
                     : WEFT__RX_PULL;
  return s->rx_mode == WEFT__RX_PUSH;
}

/* One receive into the buffer: > 0, 0 at end of stream, or an error. */
static ssize_t fill(struct weft__stream *s) {
  if (s->rerr) return s->rerr;
  if (s->eof) return 0;
  ssize_t n = pushing(s) ? fill_push(s) : PULL_INSTEAD;
  if (n == PULL_INSTEAD) {
    n = recv_into_in(s);
    if (n > 0 && cancelled_meanwhile()) return -ECANCELED; /* the bytes stay in in */
  }
  if (n == 0) n = ended(s);
  else if (n < 0) reader_failed(s, n); /* a cancellation or timeout is not the stream's fault */
  return n;
}

/* Takes @n buffered bytes (into @buf unless NULL). @n may be 0 with no
 * buffer allocated yet (in.p NULL: a stream that ended before its first
 * byte), and memcpy must not be handed that pointer even for 0 bytes. */
static void consume(struct weft__stream *s, void *buf, size_t n) {
  if (buf && n) memcpy(buf, s->in.p + s->in.head, n);
  s->in.head += n;
  s->scan = s->scan > n ? s->scan - n : 0;
  if (s->in.head == s->in.tail) s->in.head = s->in.tail = 0;
}

/* Takes @n buffered bytes in place: *@view points at them in `in`, which
 * nothing touches until the reader's next call (only a read call changes
 * `in`; the receive ahead fills rx), so they stay there until then. */
static void consume_view(struct weft__stream *s, void **view, size_t n) {
  *view = n ? s->in.p + s->in.head : NULL;
  consume(s, NULL, n);
}

/* Sizes above SSIZE_MAX are refused everywhere: they are negative values
 * converted (a count that cannot be returned), never a real request. */
ssize_t weft_reader_read_timeout(weft_reader_t *r, void *buf, size_t n, int64_t timeout_ns) {
  if ((!buf && n) || n > SSIZE_MAX) return -EINVAL;
  int rc = begin_read(r, timeout_ns);
  if (rc) return rc;
  struct weft__stream *s = r->s;
  ssize_t out = 0;
  if (n == 0) {
    out = 0;
  } else if (bytes_len(&s->in)) {
    out = (ssize_t)(n < bytes_len(&s->in) ? n : bytes_len(&s->in));
    consume(s, buf, (size_t)out);
  } else if (s->rerr) {
    out = s->rerr;
  } else if (s->eof) {
    out = 0;
  } else if (pushing(s)) {
    out = fill(s);
    if (out > 0) {
      out = (ssize_t)(n < bytes_len(&s->in) ? n : bytes_len(&s->in));
      consume(s, buf, (size_t)out);
    }
  } else {
    /* Nothing buffered: receive straight into the caller's memory. */
    out = recv_once(s, buf, n);
    if (out == 0) out = ended(s);
    else if (out < 0) reader_failed(s, out);
    else if (out > 0 && cancelled_meanwhile()) {
      if (bytes_reserve(&s->in, (size_t)out) == 0) { /* kept for the next read */
        memcpy(s->in.p + s->in.tail, buf, (size_t)out);
        s->in.tail += (size_t)out;
        out = -ECANCELED;
      } else {
        weft__task_recancel(weft__task_self()); /* no room: the caller has them */
      }
    }
  }
  end_read(s);
  return out;
}

ssize_t weft_reader_read(weft_reader_t *r, void *buf, size_t n) {
  return weft_reader_read_timeout(r, buf, n, -1);
}

/* read() without a copy: what is buffered, or one receive into the
 * reader's buffer (never into the caller's memory: there is none). */
ssize_t weft_reader_read_view_timeout(weft_reader_t *r, size_t max, void **data,
                                      int64_t timeout_ns) {
  if (!data) return -EINVAL;
  *data = NULL;
  if (max > SSIZE_MAX) return -EINVAL;
  int rc = begin_read(r, timeout_ns);
  if (rc) return rc;
  struct weft__stream *s = r->s;
  ssize_t out = 0;
  if (max && !bytes_len(&s->in)) out = fill(s);
  if (max && out >= 0 && bytes_len(&s->in)) {
    out = (ssize_t)(max < bytes_len(&s->in) ? max : bytes_len(&s->in));
    consume_view(s, data, (size_t)out);
  }
  end_read(s);
  return out;
}

ssize_t weft_reader_read_view(weft_reader_t *r, size_t max, void **data) {
  return weft_reader_read_view_timeout(r, max, data, -1);
}

ssize_t weft_reader_readexactly_timeout(weft_reader_t *r, void *buf, size_t n, size_t *partial,
                                        int64_t timeout_ns) {
  if ((!buf && n) || n > SSIZE_MAX) return -EINVAL;
  int rc = begin_read(r, timeout_ns);
  if (rc) return rc;
  struct weft__stream *s = r->s;
  ssize_t out = (ssize_t)n;
  while (bytes_len(&s->in) < n) {
    ssize_t got = fill(s);
    if (got > 0) continue;
    if (got == 0) {
      size_t have = bytes_len(&s->in);
      consume(s, buf, have);
      if (partial) *partial = have;
      out = WEFT_EINCOMPLETE;
    } else {
      out = got;
    }
    break;
  }
  if (out == (ssize_t)n) consume(s, buf, n);
  end_read(s);
  return out;
}

/* Whether @p holds @sep, whose first byte it matches: the last byte
 * first (a request head's line ends, "\r\n" and a header, fail there
 * when looking for "\r\n\r\n"), then the middle in place: the short
 * separators readuntil takes cost no memcmp call. */
static bool sep_at(const char *p, const char *sep, size_t seplen) {
  if (p[seplen - 1] != sep[seplen - 1]) return false;
  for (size_t k = 1; k + 1 < seplen; k++)
    if (p[k] != sep[k]) return false;
  return true;
}

static ssize_t find(const struct weft__stream *s, const char *sep, size_t seplen, size_t from) {
  size_t len = bytes_len(&s->in);
  if (len < seplen) return -1;
  const char *base = s->in.p + s->in.head;
  for (size_t i = from; i + seplen <= len; i++) {
    const char *hit = memchr(base + i, sep[0], len - seplen + 1 - i);
    if (!hit) return -1;
    i = (size_t)(hit - base);
    if (sep_at(hit, sep, seplen)) return (ssize_t)i;
  }
  return -1;
}

ssize_t weft_reader_readexactly(weft_reader_t *r, void *buf, size_t n, size_t *partial) {
  return weft_reader_readexactly_timeout(r, buf, n, partial, -1);
}

/* readuntil; @drop_line: readline's rule on LimitOverrun (asyncio): the
 * data up to and including the separator is dropped, or everything
 * buffered when no separator was seen, before the error is returned.
 * With @view (the _view calls) the bytes are not copied: *@view points at
 * them in the reader's buffer, and only the limit bounds the match. */
static ssize_t read_until(weft_reader_t *r, const void *sep, size_t seplen, void *buf, size_t cap,
                          void **view, size_t *partial, int64_t timeout_ns,
                          bool drop_line) {
  if (view) *view = NULL;
  if (!sep || !seplen || (!buf && cap) || cap > SSIZE_MAX || seplen > SSIZE_MAX) return -EINVAL;
  if (view) cap = SSIZE_MAX; /* the limit decides */
  int rc = begin_read(r, timeout_ns);
  if (rc) return rc;
  struct weft__stream *s = r->s;
  ssize_t out;
  for (;;) {
    ssize_t at = find(s, sep, seplen, s->scan);
    if (at >= 0) {
      size_t len = (size_t)at + seplen;
      if ((size_t)at > s->limit) {
        out = WEFT_ELIMIT;
        if (drop_line) consume(s, NULL, len);
      } else if (len > cap) out = -ENOSPC;
      else {
        if (view) consume_view(s, view, len);
        else consume(s, buf, len);
        s->scan = 0;
        out = (ssize_t)len;
      }
      break;
    }
    size_t len = bytes_len(&s->in);
    /* Resume the search where a separator could still start. */
    s->scan = len >= seplen ? len - seplen + 1 : 0;
    if (len > s->limit) {
      out = WEFT_ELIMIT; /* readuntil: the data stays buffered */
      if (drop_line) {
        consume(s, NULL, len);
        s->scan = 0;
      }
      break;
    }
    ssize_t got = fill(s);
    if (got > 0) continue;
    if (got == 0) {
      size_t take = len < cap ? len : cap;
      if (view) consume_view(s, view, take);
      else consume(s, buf, take);
      if (partial) *partial = take;
      out = WEFT_EINCOMPLETE;
    } else {
      out = got;
    }
    break;
  }
  end_read(s);
  return out;
}

ssize_t weft_reader_readuntil_timeout(weft_reader_t *r, const void *sep, size_t seplen, void *buf,
                                      size_t cap, size_t *partial, int64_t timeout_ns) {
  return read_until(r, sep, seplen, buf, cap, NULL, partial, timeout_ns, false);
}

ssize_t weft_reader_readuntil(weft_reader_t *r, const void *sep, size_t seplen, void *buf,
                              size_t cap, size_t *partial) {
  return read_until(r, sep, seplen, buf, cap, NULL, partial, -1, false);
}

ssize_t weft_reader_readuntil_view_timeout(weft_reader_t *r, const void *sep, size_t seplen,
                                           void **data, size_t *partial,
                                           int64_t timeout_ns) {
  if (!data) return -EINVAL;
  return read_until(r, sep, seplen, NULL, 0, data, partial, timeout_ns, false);
}

ssize_t weft_reader_readuntil_view(weft_reader_t *r, const void *sep, size_t seplen,
                                   void **data, size_t *partial) {
  return weft_reader_readuntil_view_timeout(r, sep, seplen, data, partial, -1);
}

ssize_t weft_reader_readline_timeout(weft_reader_t *r, void *buf, size_t cap, int64_t timeout_ns) {
  size_t partial = 0;
  ssize_t n = read_until(r, "\n", 1, buf, cap, NULL, &partial, timeout_ns, true);
  return n == WEFT_EINCOMPLETE ? (ssize_t)partial : n;
}

ssize_t weft_reader_readline(weft_reader_t *r, void *buf, size_t cap) {
  return weft_reader_readline_timeout(r, buf, cap, -1);
}

int weft_reader_next_line(weft_reader_t *r, void *buf, size_t cap, size_t *len) {
  if (!len) return -EINVAL;
  ssize_t n = weft_reader_readline(r, buf, cap);
  if (n < 0) return (int)n;
  *len = (size_t)n;
  return n == 0 ? WEFT_ESTOP : 0; /* asyncio: b'' ends `async for` */
}

/* Whether the end of stream has already arrived on @fd, without taking
 * anything: asyncio's transport would have fed it to the reader by now. */
static bool eof_arrived(const struct weft__stream *s, int fd) {
  if (s->is_socket) {
    char c;
    return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  }
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLHUP) && !(p.revents & POLLIN);
}

/* asyncio's at_eof(): nothing buffered and the end received, which a
 * pull-based reader learns by looking (under the lock, so the fd cannot be
 * closed and reused meanwhile); a socket stream whose writer was closed
 * has ended too (asyncio's connection_lost feeds EOF). */
void weft__stream_set_read_timeout(weft_reader_t *r, int64_t timeout_ns) {
  r->s->read_timeout_ns = timeout_ns;
}

int weft_reader_at_eof(weft_reader_t *r) {
  if (!r) return -EINVAL;
  struct weft__stream *s = r->s;
  stream_lock(s);
  /* The buffer and eof belong to the task in a read call; with none in
   * progress, the caller is the reader's user. */
  int at = 0;
  if (!s->reading && bytes_len(&s->in) == 0 && bytes_len(&s->rx) == 0) {
    /* After a failed send the reader has an error coming, not the end
     * (asyncio: an exception, and at_eof false). */
    if (s->rx_eof && !s->wfatal) s->eof = true;
    if (!s->eof && !s->rerr && !s->wfatal && s->rfd >= 0 && eof_arrived(s, s->rfd)) s->eof = true;
    at = s->eof || (s->is_socket && s->closing);
  }
  stream_unlock(s);
  return at;
}

void weft_reader_release(weft_reader_t *r) {
  if (!r) return;
  weft__magic_check(r, "double release", "stream reader");
  weft__magic_dead(r);
  struct weft__stream *s = r->s;
  stream_lock(s);
  if (!s->is_socket && s->rfd >= 0 && s->rfd != s->wfd) {
    close_owned(s->rfd); /* a pipe's read end is the reader's alone */
    s->rfd = -1;
  } else if (s->is_socket && s->wfd < 0 && s->rfd >= 0 && s->rx_inflight) {
    /* A socket with no writer: nobody will read what the receive ahead
     * takes, and it holds the stream (and the socket) until the peer
     * ends. Shut for reading, it ends now (end of stream), and the last
     * reference closes the socket. */
    shutdown(s->rfd, SHUT_RD);
  }
  stream_unlock(s);
  stream_put(s);
}

/* ---- writer ---------------------------------------------------------------- */

/* drain()'s fast answer (drain_ready): drained set, no writer error, not
 * closing, no reader exception (what drain would report first, or yield
 * for). Refreshed under the lock wherever one of those changes: by
 * drained_set_locked, which every change of the writer's side goes
 * through (an error, a close), and at the reader's errors. relaxed: a
 * flag read alone, ordering nothing else; a refresh that a task's own
 * earlier call made happens before its drain (a task that moved between
 * workers was handed over with release and acquire), and one made by another
 * thread (a send's completion failing) races with the drain as it would
 * under the lock, either answer being one asyncio could give. Locked. */
static void drain_ready_locked(struct weft__stream *s) {
  atomic_store_explicit(&s->drain_ready,
                        s->drained_is_set && !s->werr && !s->closing && !s->rerr && !s->rx_err,
                        memory_order_relaxed);
}

/* Sets or clears the drained event, calling into it only when that
 * changes it (a queued send's completion asks for every response).
 * Locked: the event changes only here. */
static void drained_set_locked(struct weft__stream *s, bool set) {
  bool changed = set != s->drained_is_set;
  s->drained_is_set = set;
  drain_ready_locked(s); /* also when drained stays: werr or closing may have changed */
  if (!changed) return;
  if (set) weft_event_set(s->drained);
  else weft_event_clear(s->drained);
}

static void set_werr_locked(struct weft__stream *s, int err) {
  if (!s->werr) s->werr = err;
  drained_set_locked(s, true); /* drain() returns the error */
}

/* A send's error: the writer fails for good, and on a socket the
 * connection ends for the reader too, as asyncio's fatal write error
 * closes the transport (_force_close: the protocol's connection_lost(exc)
 * sets the reader's exception). Shut down both ways, so that a read
 * waiting for bytes the peer will never be asked for ends, and the reader
 * returns @err where the end arrives (ended); the peer sees the end, as
 * the transport's close gives it. A cancellation fails nothing but the
 * writer (the send never ran), nor does a send that an abort ended (its
 * shutdown fails the send: asyncio's abort() is connection_lost(None)),
 * or any after the writer's first failure. Locked. */
static void send_failed_locked(struct weft__stream *s, int err) {
  bool first = !s->werr;
  set_werr_locked(s, err);
  if (!first || err == -ECANCELED || !s->is_socket) return;
  s->wfatal = err;
  if (s->wfd >= 0) shutdown(s->wfd, SHUT_RDWR); /* after a reset: ENOTCONN, nothing to do */
}

/* Nothing is being sent any more: a failed writer drops what it holds,
 * and a shutdown or close that waited for the send happens. Locked. */
static void send_ended_locked(struct weft__stream *s) {
  if (s->werr) { /* nothing more will be sent */
    s->wsize = 0;
    s->out.head = s->out.tail = s->pending.head = s->pending.tail = 0;
  }
  if (!s->wsize) { /* all sent: the buffers go back (idle buffers) */
    bytes_free(&s->out);
    bytes_free(&s->pending);
  }
  if (s->eof_wanted && !s->eof_done && s->wfd >= 0) {
    shutdown(s->wfd, SHUT_WR);
    s->eof_done = true;
  }
  if (s->closing) close_fds_locked(s);
}

/* Moves `pending` to `out` if `out` is empty (the buffers swap: write()
 * appends to the other one). Whether `out` holds bytes. Locked. */
static bool out_refill_locked(struct weft__stream *s) {
  if (!bytes_len(&s->out)) {
    struct weft__bytes t = s->out;
    s->out = s->pending;
    s->pending = t;
    s->pending.head = s->pending.tail = 0;
  }
  return bytes_len(&s->out) != 0;
}

/* The low-water mark drained is set at: 0 while a sendfile waits for
 * the buffer to empty. Locked. */
static size_t low_mark(const struct weft__stream *s) { return s->sendfile_active ? 0 : s->low; }

/* Accounts @w bytes of `out` as sent. Locked. */
static void out_sent_locked(struct weft__stream *s, size_t w) {
  s->out.head += w;
  s->wsize -= w;
  if (s->out.head == s->out.tail) s->out.head = s->out.tail = 0;
  if (s->wsize <= low_mark(s)) drained_set_locked(s, true);
}

/* Sends from the buffer outside the lock; one send runs per stream at a
 * time. Its end is flusher_ended's, which runs whether or not this body
 * ever ran. */
static int flusher(void *arg, void **res) {
  (void)res;
  struct weft__stream *s = arg;
  stream_lock(s);
  while (!s->werr && out_refill_locked(s)) {
    int fd = s->wfd;
    char *p = s->out.p + s->out.head;
    size_t n = bytes_len(&s->out);
    stream_unlock(s);
    ssize_t w = s->is_socket ? weft_send(fd, p, n, 0) : weft_write(fd, p, n);
    stream_lock(s);
    if (w == -ECANCELED) break; /* nothing sent; flusher_ended decides */
    if (w < 0) send_failed_locked(s, (int)w);
    else out_sent_locked(s, (size_t)w);
  }
  stream_unlock(s);
  return 0;
}

/* Spawns the flusher for what is buffered on @loop: *@t receives its task,
 * which the caller passes to flusher_watch once unlocked. 0, or the
 * spawn's error. The library's own task (weft__task_create_internal),
 * not the loop's task factory's: the factory's code would run under this
 * lock (an eager factory would run the flusher's body here, which takes
 * it again), and the flusher is the stream's, as asyncio's transport is
 * not a task (weft_loop_tasks does not list it). Locked. */
static int flusher_start_locked(struct weft__stream *s, weft_loop_t *loop, weft_task_t **t) {
  /* relaxed: the caller holds a reference (a writer, the queued send
   * handing over, or the flusher ending). */
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed); /* the flusher's */
  s->flushing = true;
  s->flusher_loop = loop;
  int rc = weft__task_create_internal(loop, flusher, s, NULL, t);
  if (rc < 0) {
    s->flushing = false;
    atomic_fetch_sub_explicit(&s->refs, 1, memory_order_relaxed);
  }
  return rc;
}

/* What is buffered, with no send running, goes to a new flusher on
 * @loop (*@t: the caller watches it once unlocked): true. A closing loop
 * would never run that task: then what is left is lost (werr
 * -ECANCELED), as asyncio's transport loses its buffer when its loop
 * closes; also when the spawn fails: false. Locked. */
static bool flusher_take_over_locked(struct weft__stream *s, weft_loop_t *loop, weft_task_t **t) {
  /* relaxed: close raises it before it cancels the tasks and quiesces
   * the reactors whose callbacks bring us here. */
  if (!atomic_load_explicit(&loop->closing, memory_order_relaxed) && flusher_start_locked(s, loop, t) == 0)
    return true;
  set_werr_locked(s, -ECANCELED);
  return false;
}

static void flusher_watch(struct weft__stream *s, weft_task_t *t);

/* The flusher's end, at its task's completion (a notify entry, under the
 * task future's lock), whether its body ran or not: a task cancelled
 * before its first step never runs it (the loop closing, or a program
 * cancelling every task, as asyncio programs do at shutdown), and one
 * cancelled in its send stops. What is left goes to a new flusher, so a
 * cancellation the program meant for its own tasks loses no bytes; when
 * the loop closes it is lost instead, as asyncio's transport loses its
 * buffer. Then a shutdown or close waiting for the send happens. */
static void flusher_ended(struct weft__notify *n, struct weft_future *f) {
  (void)f;
  struct weft__stream *s = weft__container_of(n, struct weft__stream, flusher_note);
  weft_task_t *next = NULL;
  stream_lock(s);
  s->flushing = false;
  if (!s->werr && s->wsize && flusher_take_over_locked(s, s->flusher_loop, &next))
    s->flusher_restarts++;
  if (!sending(s)) send_ended_locked(s);
  stream_unlock(s);
  /* The entry is off the ended task's list (it is popped before it
   * runs), so the next flusher may take it. */
  if (next) flusher_watch(s, next);
  stream_put(s); /* the ended flusher's reference */
}

/* Hangs flusher_ended on the flusher task @t (or runs it, if @t ended
 * already) and drops the spawn's task reference. Not under the stream's
 * lock: the entry takes the future's lock, and flusher_ended takes the
 * stream's under it. */
static void flusher_watch(struct weft__stream *s, weft_task_t *t) {
  struct weft_future *f = weft_task_future(t);
  weft__chain_node_init(&s->flusher_note.e.link);
  if (!weft__future_notify_add(f, &s->flusher_note)) flusher_ended(&s->flusher_note, f);
  weft_task_release(t);
}

/* The reactor queued sends go through, for a write from the calling task:
 * its worker's, when the stream is a socket (the presubmit work runs on
 * every backend: a request in io_uring's next submission, a send of its
 * own on epoll); else NULL (a pipe: direct writes and the flusher). */
static struct weft__reactor *queued_send_reactor(const struct weft__stream *s) {
  return s->is_socket ? &weft__worker_self()->reactor : NULL;
}

/* Queues the send of what is buffered for @r's next submission (tx_pre).
 * The caller gives the queued send its reference. Returns whether the
 * caller should submit now, once unlocked (weft__reactor_presubmit).
 * Locked. */
static bool tx_queue_locked(struct weft__stream *s, struct weft__reactor *r, weft_loop_t *loop) {
  s->tx_queued = true;
  s->tx_reactor = r;
  s->tx_loop = loop;
  return weft__reactor_presubmit(r, &s->tx_pre);
}

/* What a queued send could not take (cancelled: the worker turned
 * standby, or the loop quiesces; or the ring refused it) goes to a
 * flusher task (flusher_take_over_locked). On the send's reactor's
 * thread. Locked. */
static void tx_hand_over_locked(struct weft__stream *s, weft_task_t **flusher) {
  if (flusher_take_over_locked(s, s->tx_loop, flusher)) s->tx_handoffs++;
}

static void tx_done(struct weft__io_op *op);

/* The queued send where starting a request is its system call (epoll:
 * no WEFT__CAP_QUEUED_SEND): `out` sent now, outside the lock, as a
 * running send (tx_inflight: writers append to `pending` meanwhile, a
 * close waits), and what was written meanwhile right after it. Never
 * queued again: this runs as the reactor's last work before it may
 * sleep (weft__reactor_wait), so work queued now would wait for a
 * wake-up that nothing sends (a sendfile waiting for those bytes hung).
 * What a full socket leaves goes to a flusher task, which waits for
 * room. Locked, on the reactor's thread. */
static void tx_send_direct_locked(struct weft__stream *s, weft_task_t **flusher) {
  do {
    const char *p = s->out.p + s->out.head;
    size_t len = bytes_len(&s->out);
    s->tx_inflight = true;
    s->tx_sends++;
    stream_unlock(s);
    ssize_t w = send_now(s, p, len);
    stream_lock(s);
    s->tx_inflight = false;
    if (w >= 0) out_sent_locked(s, (size_t)w);
    else send_failed_locked(s, (int)w);
    if (s->werr || !s->wsize) return;
    if ((size_t)w < len) { /* the socket is full: a task waits for room */
      tx_hand_over_locked(s, flusher);
      return;
    }
  } while (out_refill_locked(s)); /* written meanwhile */
}

/* The queued send, just before its reactor submits: one send of `out`
 * (everything written since it was queued, when `out` was empty). */
static void tx_presubmit(struct weft__io_presubmit *p, struct weft__reactor *r) {
  struct weft__stream *s = (struct weft__stream *)((char *)p - offsetof(struct weft__stream, tx_pre));
  bool keep = false;
  weft_task_t *flusher = NULL;
  stream_lock(s);
  s->tx_queued = false;
  if (!s->werr && out_refill_locked(s)) {
    if (!weft__reactor_can(r, WEFT__CAP_QUEUED_SEND)) {
      tx_send_direct_locked(s, &flusher); /* epoll: the send is the system call */
    } else {
      struct weft__io_op *op = &s->tx_op;
      op->cb = tx_done;
      op->res = 0;
      op->cqe_flags = 0;
      op->req = (struct weft__io_req){
          .kind = WEFT__IO_SEND, .fd = s->wfd, .buf = s->out.p + s->out.head, .len = bytes_len(&s->out)};
      keep = weft__reactor_start_standing(r, op) == 0;
      if (keep) {
        s->tx_inflight = true;
        s->tx_sends++;
      } else {
        tx_hand_over_locked(s, &flusher);
      }
    }
  }
  if (!sending(s)) send_ended_locked(s);
  stream_unlock(s);
  if (flusher) flusher_watch(s, flusher);
  if (!keep) stream_put(s); /* the queued send's reference */
}

/* The queued send's completion, on its reactor's thread: what is left (a
 * short send, or what was written meanwhile) is queued again there, or
 * handed to a flusher when the send was cancelled. */
static void tx_done(struct weft__io_op *op) {
  struct weft__stream *s = (struct weft__stream *)((char *)op - offsetof(struct weft__stream, tx_op));
  int32_t res = op->res;
  bool keep = false;
  weft_task_t *flusher = NULL;
  stream_lock(s);
  s->tx_inflight = false;
  if (res >= 0) out_sent_locked(s, (size_t)res);
  else if (res != -ECANCELED || !op->cancelled) send_failed_locked(s, res);
  if (!s->werr && s->wsize) { /* wsize: what pending and out hold */
    if (op->cancelled) {
      tx_hand_over_locked(s, &flusher);
    } else {
      /* Keeps the reference. The next poll submits it (a completion runs
       * inside one), so a full batch needs no submission of its own. */
      (void)tx_queue_locked(s, s->tx_reactor, s->tx_loop);
      keep = true;
    }
  }
  if (!sending(s)) send_ended_locked(s);
  stream_unlock(s);
  if (flusher) flusher_watch(s, flusher);
  if (!keep) stream_put(s); /* the queued send's reference */
}

/* Sends without blocking: bytes taken (>= 0) or an error other than EAGAIN.
 * An interrupted call is made again (weft/io.h: never -EINTR). */
static ssize_t send_now(struct weft__stream *s, const void *buf, size_t n) {
  for (;;) {
    ssize_t w = s->is_socket ? send(s->wfd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL)
                             : write(s->wfd, buf, n);
    if (w >= 0) return w;
    if (errno != EINTR) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
  }
}

/* The error a write or drain reports: the connection's own, or asyncio's
 * ConnectionResetError('Connection lost') once the writer was closed or
 * aborted. */
static int writer_error_locked(const struct weft__stream *s) {
  if (s->werr) return s->werr;
  return s->closing ? -ECONNRESET : 0;
}

/* Whether a write of @n bytes by @t, with nothing being sent, queues
 * rather than going out directly (QUEUED_SEND_SMALL, above); a write that
 * goes directly marks the slice. Locked. */
static bool queue_write(struct weft__stream *s, struct weft_task *t, size_t n) {
  if (n <= QUEUED_SEND_SMALL) return true;
  if (n <= QUEUED_SEND_MAX) {
    /* relaxed: the task's own slice count, read on its own thread. */
    uint64_t slice = atomic_load_explicit(&t->runs, memory_order_relaxed);
    if (s->direct_task == t && s->direct_slice == slice) return true;
    s->direct_task = t;
    s->direct_slice = slice;
  }
  return false;
}

/* Appends @n bytes to what waits to be sent. Locked (or in the owner
 * section). */
static int pending_append_locked(struct weft__stream *s, const void *buf, size_t n) {
  if (bytes_reserve(&s->pending, n) != 0) return -ENOMEM;
  memcpy(s->pending.p + s->pending.tail, buf, n);
  s->pending.tail += n;
  s->wsize += n;
  return 0;
}

/* Queues the send of what is pending on @r, the writer's worker's reactor
 * (nothing being sent); *@submit set as write_locked says. Locked (or in
 * the owner section). */
static void tx_start_locked(struct weft__stream *s, struct weft__reactor *r, struct weft__reactor **submit) {
  /* relaxed: the writer holds a reference while it runs this. */
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed); /* the queued send's */
  if (tx_queue_locked(s, r, weft__worker_self()->loop)) *submit = r;
}

/* write()'s per-request cases in an owner section (design comment):
 * bytes appended behind a send already under way, or a small write that
 * queues the stream's send, the buffer staying at or below the high-water
 * mark (drained unchanged: no event). False, with nothing done, for every
 * other case (an error to report, a direct send, a medium write, whose
 * queue_write marks the slice), which write_locked does under the lock. */
static bool write_in_section(struct weft__stream *s, const void *buf, size_t n,
                             struct weft__reactor **submit) {
  if (writer_error_locked(s) || s->eof_wanted || s->sendfile_active || !n) return false;
  if (s->wsize > s->high || n > s->high - s->wsize) return false;
  struct weft__reactor *r = NULL;
  if (!sending(s)) {
    r = queued_send_reactor(s);
    if (!r || n > QUEUED_SEND_SMALL) return false;
  }
  if (pending_append_locked(s, buf, n) != 0) return false;
  if (r) tx_start_locked(s, r, submit);
  return true;
}

/* write() under the lock, by the running task @t. Once unlocked, the
 * caller submits on *@submit (set when this write filled its reactor's
 * batch of presubmit work) and watches *@flusher (set when it spawned
 * one). */
static int write_locked(struct weft__stream *s, struct weft_task *t, const void *buf, size_t n,
                        struct weft__reactor **submit, weft_task_t **flusher) {
  int err = writer_error_locked(s);
  if (err) return err;
  if (s->eof_wanted) return WEFT_ECLOSED; /* asyncio: write() after write_eof() */
  if (s->sendfile_active) return -EBUSY;   /* asyncio: "sendfile is in progress" */
  if (!n) return 0;
  struct weft__reactor *r = queued_send_reactor(s);
  if (!sending(s) && !(r && queue_write(s, t, n))) {
    ssize_t w = send_now(s, buf, n);
    if (w < 0) {
      send_failed_locked(s, (int)w);
      return (int)w;
    }
    if ((size_t)w == n) return 0;
    buf = (const char *)buf + w;
    n -= (size_t)w;
  }
  if (pending_append_locked(s, buf, n) != 0) return -ENOMEM;
  if (s->wsize > s->high) drained_set_locked(s, false);
  if (!sending(s)) {
    int rc = 0;
    if (r) {
      tx_start_locked(s, r, submit);
    } else {
      rc = flusher_start_locked(s, s->loop ? s->loop : weft_loop_current(), flusher);
    }
    if (rc < 0) { /* not taken: as if never written (nothing else was buffered) */
      s->wsize = 0;
      s->out.head = s->out.tail = s->pending.head = s->pending.tail = 0;
      drained_set_locked(s, true);
      return rc;
    }
  }
  return 0;
}

static int writer_check(weft_writer_t *w) {
  if (!w) return -EINVAL;
  if (!weft__task_self()) return -EPERM;
  return 0;
}

int weft_writer_write(weft_writer_t *w, const void *buf, size_t n) {
  int rc = writer_check(w);
  if (rc) return rc;
  if ((!buf && n) || n > SSIZE_MAX) return -EINVAL;
  struct weft__stream *s = w->s;
  struct weft__reactor *submit = NULL;
  weft_task_t *flusher = NULL;
  struct weft__owner *own = stream_enter(s);
  if (own && !write_in_section(s, buf, n, &submit)) own = weft__ownlock_escalate(&s->lock, own);
  if (!own) rc = write_locked(s, weft__task_self(), buf, n, &submit, &flusher);
  stream_leave(s, own);
  if (flusher) flusher_watch(s, flusher);
  if (submit) weft__reactor_submit(submit);
  return rc;
}

int weft_writer_writelines(weft_writer_t *w, const struct iovec *iov, int iovcnt) {
  int rc = writer_check(w);
  if (rc) return rc;
  if (iovcnt < 0 || (iovcnt && !iov)) return -EINVAL;
  struct weft__stream *s = w->s;
  struct weft__reactor *submit = NULL;
  weft_task_t *flusher = NULL;
  stream_lock(s);
  struct weft_task *t = weft__task_self();
  for (int i = 0; i < iovcnt && rc == 0; i++)
    rc = write_locked(s, t, iov[i].iov_base, iov[i].iov_len, &submit, &flusher);
  stream_unlock(s);
  if (flusher) flusher_watch(s, flusher);
  if (submit) weft__reactor_submit(submit);
  return rc;
}

/* The reader's failure, as asyncio's drain() sees it first
 * (reader.exception()): a receive ahead's error, or a read's. Locked. */
static int reader_exception_locked(const struct weft__stream *s) {
  return s->rerr ? s->rerr : s->rx_err;
}

int weft_writer_drain_timeout(weft_writer_t *w, int64_t timeout_ns) {
  int rc = writer_check(w);
  if (rc) return rc;
  struct weft__stream *s = w->s;
  /* The common case (a write, then drain(), below the high-water mark, the
   * stream healthy) without the lock: drain_ready says what the locked
   * path below would answer. */
  if (atomic_load_explicit(&s->drain_ready, memory_order_relaxed)) return 0;
  /* asyncio's order: the reader's exception first; then, on a closing
   * writer, a pass given up (sleep(0): a pending cancellation is taken
   * there, and connection_lost runs) before ConnectionResetError; then
   * the wait while above the high-water mark. Below it (the common case:
   * a write, then drain()) the event is set and waiting on it would
   * return at once: its state is mirrored under this lock, so one lock
   * answers (asyncio's _drain_helper returns without awaiting too). */
  stream_lock(s);
  int failed = reader_exception_locked(s);
  bool closing = s->closing, set = s->drained_is_set;
  if (set) rc = writer_error_locked(s);
  stream_unlock(s);
  if (failed) return failed;
  if (closing) {
    rc = weft_yield();
    if (rc) return rc;
    stream_lock(s);
    rc = writer_error_locked(s);
    stream_unlock(s);
    return rc;
  }
  if (set) return rc;
  rc = weft_event_wait(s->drained, timeout_ns);
  if (rc) return rc;
  stream_lock(s);
  rc = writer_error_locked(s);
  stream_unlock(s);
  return rc;
}

int weft_writer_drain(weft_writer_t *w) { return weft_writer_drain_timeout(w, -1); }

/* A sendfile's head start (stream.c's design comment): what was written
 * and no send has taken yet (a queued send, waiting for the pass's end:
 * tx_queued) leaves now, with MSG_MORE since the file follows at once. So
 * a response's head and a small file share their segments, and the call
 * does not wait for the pass to end to send the head. What the socket
 * does not take stays queued (the sendfile then waits for it, as ever).
 * Sets *@rc to a failed send's error. Whether bytes went with MSG_MORE.
 * Locked; `out` is the buffer's to change (a queued send reads it only
 * once it starts, under this lock). */
static bool send_ahead_locked(struct weft__stream *s, int *rc) {
  bool held = false;
  while (!s->werr && out_refill_locked(s)) {
    ssize_t w = send(s->wfd, s->out.p + s->out.head, bytes_len(&s->out),
                     MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE);
    if (w < 0) {
      if (errno == EINTR) continue; /* made again (weft/io.h) */
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        send_failed_locked(s, -errno);
        *rc = s->werr;
      }
      break;
    }
    held |= w > 0;
    out_sent_locked(s, (size_t)w);
    if (bytes_len(&s->out)) break; /* the socket is full */
  }
  return held;
}

/* Sends what MSG_MORE held back on a TCP socket (a part segment), as the
 * socket's own Nagle setting says: clearing TCP_CORK pushes the pending
 * frames. A socket its owner corked stays corked; other kinds (AF_UNIX)
 * hold nothing back and fail the getsockopt. */
static void push_held_back(int sock) {
  int on = 0;
  socklen_t len = sizeof on;
  if (getsockopt(sock, IPPROTO_TCP, TCP_CORK, &on, &len) == 0 && !on)
    (void)setsockopt(sock, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
}

ssize_t weft_writer_sendfile_timeout(weft_writer_t *w, int fd, off_t *offset, size_t count,
                                     int64_t timeout_ns) {
  int rc = writer_check(w);
  if (rc) return rc;
  if ((offset && *offset < 0) || count > SSIZE_MAX) return -EINVAL;
  struct weft__stream *s = w->s;
  if (!s->is_socket) return -ENOTSOCK; /* asyncio: pipe transports have no sendfile */
  uint64_t deadline = weft__deadline(timeout_ns);
  stream_lock(s);
  if (s->closing) rc = WEFT_ECLOSED;            /* asyncio: "Transport is closing" */
  else if (s->werr) rc = s->werr;
  else if (s->eof_wanted) rc = -EPIPE;          /* asyncio: the socket is shut down */
  else if (s->sendfile_active) rc = -EBUSY;     /* asyncio: "Empty waiter is already set" */
  if (rc) {
    stream_unlock(s);
    return rc;
  }
  s->sendfile_active = true;
  /* relaxed: the caller's writer reference keeps the stream alive here;
   * this one keeps it past a release by another task meanwhile. */
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  /* asyncio's _make_empty_waiter: what was written before goes first. */
  bool was_drained = s->drained_is_set;
  bool corked = s->tx_queued && send_ahead_locked(s, &rc);
  while (!rc && s->wsize) {
    drained_set_locked(s, false); /* set again at 0 (low_mark), an error or a close */
    stream_unlock(s);
    rc = weft_event_wait(s->drained, weft__deadline_left(deadline));
    stream_lock(s);
    if (!rc) rc = writer_error_locked(s);
  }
  int sock = s->wfd;
  stream_unlock(s);
  if (!rc && s->sendfile_sock == WEFT__SENDFILE_SOCK_UNKNOWN) { /* once per stream */
    int flags = 0, err = weft__sendfile_sock_flags(sock, &flags);
    /* Non-blocking from now on, for sendfile(2)'s sake (sendfile.c says
     * why nothing else of the stream minds). */
    if (!err && !(flags & O_NONBLOCK)) {
      flags |= O_NONBLOCK;
      if (fcntl(sock, F_SETFL, flags) != 0) err = -errno;
    }
    s->sendfile_sock = err ? err : flags;
  }
  if (!rc && s->sendfile_sock < 0) rc = s->sendfile_sock;
  ssize_t sent =
      rc ? rc
         : weft__sock_sendfile(sock, fd, offset, count, weft__deadline_left(deadline),
                               s->sendfile_sock);
  /* The file's last sendfile(2) pushed what send_ahead held back, unless
   * none ran or the file ended short of @count (its last piece said more
   * was coming). Left: a whole-file call (@count 0) on a file that shrinks
   * while it is sent can leave its tail for the TCP timer. */
  if (corked && (sent <= 0 || (count && (size_t)sent < count))) push_held_back(sock);
  stream_lock(s);
  s->sendfile_active = false;
  /* The event back to what the marks say; between them (a flush wait that
   * timed out or was cancelled) to what it was before the call. */
  drained_set_locked(s, s->werr || s->closing || s->wsize <= s->low ||
                            (was_drained && s->wsize <= s->high));
  if (!sending(s)) send_ended_locked(s); /* a close or write_eof that waited for it */
  stream_unlock(s);
  stream_put(s);
  return sent;
}

ssize_t weft_writer_sendfile(weft_writer_t *w, int fd, off_t *offset, size_t count) {
  return weft_writer_sendfile_timeout(w, fd, offset, count, -1);
}

int weft_writer_set_write_buffer_limits(weft_writer_t *w, size_t high, size_t low) {
  if (!w || low > high || high > SSIZE_MAX) return -EINVAL;
  struct weft__stream *s = w->s;
  stream_lock(s);
  s->high = high;
  s->low = low;
  if (s->wsize <= low_mark(s)) drained_set_locked(s, true);
  else if (s->wsize > high) drained_set_locked(s, false);
  stream_unlock(s);
  return 0;
}

size_t weft_writer_buffer_size(weft_writer_t *w) {
  if (!w) return 0;
  stream_lock(w->s);
  size_t n = w->s->wsize;
  stream_unlock(w->s);
  return n;
}

int weft_writer_write_eof(weft_writer_t *w) {
  if (!w) return -EINVAL;
  struct weft__stream *s = w->s;
  if (!s->is_socket) return -ENOTSOCK;
  stream_lock(s);
  int rc = s->closing ? WEFT_ECLOSED : 0;
  if (!rc && !s->eof_wanted) {
    s->eof_wanted = true;
    if (!sending(s) && s->wfd >= 0) {
      shutdown(s->wfd, SHUT_WR);
      s->eof_done = true;
    }
  }
  stream_unlock(s);
  return rc;
}

int weft_writer_close(weft_writer_t *w) {
  if (!w) return -EINVAL;
  struct weft__stream *s = w->s;
  stream_lock(s);
  if (!s->closing) {
    s->closing = true;
    drained_set_locked(s, true);
    close_fds_locked(s); /* now, or when the running send ends */
  }
  stream_unlock(s);
  return 0;
}

int weft_writer_abort(weft_writer_t *w) {
  if (!w) return -EINVAL;
  struct weft__stream *s = w->s;
  stream_lock(s);
  s->closing = true;
  set_werr_locked(s, -ECONNRESET); /* asyncio: abort() loses the connection */
  /* Drop what no send holds; the running send ends with the shutdown. */
  s->pending.head = s->pending.tail = 0;
  s->wsize = bytes_len(&s->out);
  if (sending(s) && s->wfd >= 0) shutdown(s->wfd, s->is_socket ? SHUT_RDWR : SHUT_WR);
  close_fds_locked(s);
  stream_unlock(s);
  return 0;
}

/* What asyncio's connection_lost(exc) carries on a socket, which its
 * wait_closed() raises: a failed send's error (wfatal), else the reader's
 * failure from the kernel (a read's, or a receive ahead's); 0 after a
 * close, an abort or the end of stream (connection_lost(None)). A pipe's
 * writer (subprocesses) has no such error here. Locked. */
static int connection_error_locked(const struct weft__stream *s) {
  if (!s->is_socket) return 0;
  return s->wfatal ? s->wfatal : reader_exception_locked(s);
}

/* asyncio: a transport that lost its connection to an error is closing
 * (_force_close). */
int weft_writer_is_closing(weft_writer_t *w) {
  if (!w) return -EINVAL;
  stream_lock(w->s);
  int c = w->s->closing || connection_error_locked(w->s) != 0;
  stream_unlock(w->s);
  return c;
}

int weft_writer_wait_closed_timeout(weft_writer_t *w, int64_t timeout_ns) {
  int rc = writer_check(w);
  if (rc) return rc;
  struct weft__stream *s = w->s;
  rc = weft_event_wait(s->closed, timeout_ns);
  if (rc) return rc;
  stream_lock(s);
  rc = connection_error_locked(s);
  stream_unlock(s);
  return rc;
}

int weft_writer_wait_closed(weft_writer_t *w) { return weft_writer_wait_closed_timeout(w, -1); }

int weft_writer_get_extra_info(weft_writer_t *w, const char *name, struct sockaddr *addr,
                               socklen_t *len) {
  if (!w || !name) return -EINVAL;
  struct weft__stream *s = w->s;
  bool sock = strcmp(name, "socket") == 0, peer = strcmp(name, "peername") == 0;
  if (!sock && !peer && strcmp(name, "sockname") != 0) return -ENOENT;
  if (!sock && (!addr || !len)) return -EINVAL;
  /* Under the lock: the fd cannot be closed (and its number reused) meanwhile. */
  stream_lock(s);
  int fd = s->wfd, rc;
  if (sock) rc = s->is_socket && fd >= 0 ? fd : -ENOENT;
  else if (fd < 0) rc = -EBADF;
  else rc = (peer ? getpeername(fd, addr, len) : getsockname(fd, addr, len)) < 0 ? -errno : 0;
  stream_unlock(s);
  return rc;
}

void weft_writer_release(weft_writer_t *w) {
  if (!w) return;
  weft__magic_check(w, "double release", "stream writer");
  weft__magic_dead(w);
  weft_writer_close(w);
  stream_put(w->s);
}
