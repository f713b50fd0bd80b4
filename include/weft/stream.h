/*
 * weft/stream.h - asyncio's streams: StreamReader, StreamWriter,
 * open_connection and start_server.
 *
 * A connection is one reader and one writer over one fd (a socket, or a
 * pipe for subprocesses). Reader calls suspend until enough data arrived.
 * On io_uring a socket stream receives ahead once its first read needs
 * bytes (one standing multishot receive, no request per read): up to
 * twice the limit is buffered before receiving pauses (asyncio's
 * transport rule), and it resumes when a read takes the buffer; a bulk
 * transfer goes back to receiving per read. Elsewhere (pipes, the epoll
 * backend) a read receives only what it needs;
 * writer calls never suspend except drain() and wait_closed(): write()
 * sends what the kernel takes at once and buffers the rest, which a helper
 * task flushes (a socket's small writes are buffered and sent together at
 * the end of the pass); drain() waits while more than the high-water mark is
 * buffered, so a peer that does not read cannot make memory grow.
 *
 * Ownership: weft_open_connection() gives the caller both objects; release
 * each with weft_reader_release()/weft_writer_release() (the writer's
 * release closes it if needed). Objects a server passes to its handler are
 * the server's: they are closed and freed when the handler returns.
 *
 * Sizes: every size_t argument (counts, capacities, limits, water marks)
 * accepts up to SSIZE_MAX; a larger value is a negative number converted
 * and is refused with -EINVAL (asyncio raises ValueError).
 *
 * Thread-safety: a reader is used by one task at a time (a second
 * concurrent read returns -EBUSY, as asyncio raises RuntimeError). A writer
 * may be used from several tasks; each call is atomic. Both may be used
 * from any worker; none of these may be called outside a task unless said.
 *
 * Errors common to all calls: -EPERM outside a task; -EINVAL for NULL
 * objects or buffers; -ECANCELED when the task is cancelled in the call
 * (data already received stays in the reader's buffer: nothing is lost;
 * a read cancelled while it waits takes nothing, also when its receive
 * completed in the same instant: those bytes are buffered for the next
 * read, as asyncio's);
 * the connection's error (-ECONNRESET, -EPIPE, ...) once it failed. On a
 * socket a failed send ends the connection for the reader too (asyncio's
 * fatal write error): a read waiting for bytes returns the send's error,
 * as does every later read once the bytes received before it are taken,
 * and weft_reader_at_eof() says 0; the peer sees the end.
 */
#ifndef WEFT_STREAM_H
#define WEFT_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include "weft/export.h"
#include "weft/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_reader weft_reader_t;
typedef struct weft_writer weft_writer_t;
typedef struct weft_server weft_server_t;

/* asyncio's default limit for readline/readuntil: 64 KiB. */
#define WEFT_STREAM_LIMIT (64 * 1024)

/**
 * weft_stream_open_fd - wrap a connected socket or a pipe fd pair
 * @rfd, @wfd: the fds to read from and write to (the same fd for a
 *             socket; -1 for a direction you do not need). Ownership passes
 *             to the stream: they are closed with it.
 * @limit:     readline/readuntil limit in bytes; 0 means WEFT_STREAM_LIMIT.
 * Returns:  0; -EINVAL (both fds -1, an out pointer NULL where its fd is
 *           given, or a socket for one direction and not the other);
 *           -EBADF (an fd that is not open); -ENOMEM. Threads: any (no
 *           suspension).
 * A pipe (FIFO) given as @wfd is made non-blocking (O_NONBLOCK, as
 * asyncio's connect_write_pipe does): write() tries it without waiting,
 * which on a blocking pipe with no room would hold the worker's thread.
 */
WEFT_EXTERN int weft_stream_open_fd(int rfd, int wfd, size_t limit, weft_reader_t **reader,
                                    weft_writer_t **writer);

/**
 * weft_open_connection - connect over TCP (asyncio.open_connection)
 * @host: a name or numeric address; resolved off the workers.
 * @port: the port.
 * Returns:  0 with both objects; the resolution errors (weft_getaddrinfo);
 *           the connect errors (-ECONNREFUSED, -ETIMEDOUT, ...) of the last
 *           address tried; -EINVAL for NULL arguments or port > 65535.
 * Suspends: yes.
 */
WEFT_EXTERN int weft_open_connection(const char *host, int port, weft_reader_t **reader,
                                     weft_writer_t **writer);
/** weft_open_unix_connection - the same over a Unix-domain socket @path. */
WEFT_EXTERN int weft_open_unix_connection(const char *path, weft_reader_t **reader,
                                          weft_writer_t **writer);

/* ---- reader --------------------------------------------------------------- */

/**
 * weft_reader_read - up to @n bytes (asyncio read(n)): what is buffered, or
 * one receive if nothing is. Returns: bytes (> 0); 0 at end of stream or
 * if @n is 0. Suspends: yes.
 */
WEFT_EXTERN ssize_t weft_reader_read(weft_reader_t *r, void *buf, size_t n);
/**
 * weft_reader_readexactly - exactly @n bytes (IncompleteReadError: if the
 * stream ends first, returns WEFT_EINCOMPLETE and *@partial receives how
 * many bytes were copied into @buf). @partial may be NULL.
 */
WEFT_EXTERN ssize_t weft_reader_readexactly(weft_reader_t *r, void *buf, size_t n,
                                            size_t *partial);
/**
 * weft_reader_readuntil - bytes up to and including @sep (asyncio
 * readuntil). Copies into @buf (size @cap) and returns the length.
 * Returns:  the length; WEFT_EINCOMPLETE when the stream ends before @sep
 *           (the partial data is consumed and copied, *@partial says how
 *           much); WEFT_ELIMIT when @sep is not within the reader's limit
 *           (LimitOverrunError: the data stays buffered, read it with
 *           weft_reader_read); -ENOSPC when the match does not fit @cap
 *           (nothing consumed); -EINVAL for an empty @sep.
 */
WEFT_EXTERN ssize_t weft_reader_readuntil(weft_reader_t *r, const void *sep, size_t seplen,
                                          void *buf, size_t cap, size_t *partial);
/**
 * weft_reader_readuntil_view - weft_reader_readuntil() without the copy
 * (Go's bufio.Reader.ReadSlice, Tokio's BufRead::fill_buf and consume):
 * *@data points at the bytes, separator included, in the reader's own
 * buffer. They are consumed, and stay there, readable and writable by the
 * caller, until its next call on this reader (any read call) or the
 * reader's release: parse them in place, or copy what must outlive that.
 * A parser needs no buffer of its own, so a connection that waits for its
 * next request holds none (the reader gives back its empty buffer).
 * Returns:  the length, *@data set; WEFT_EINCOMPLETE when the stream ends
 *           before @sep (the partial data is consumed, *@data points at it
 *           and *@partial says how much; @partial may be NULL); WEFT_ELIMIT
 *           when @sep is not within the reader's limit (the data stays
 *           buffered); -EINVAL for an empty @sep or @data NULL; the errors
 *           common to all calls. *@data is NULL whenever nothing was taken.
 * Suspends: yes.
 */
WEFT_EXTERN ssize_t weft_reader_readuntil_view(weft_reader_t *r, const void *sep, size_t seplen,
                                               void **data, size_t *partial);
/**
 * weft_reader_read_view - weft_reader_read() without the copy: up to @max
 * bytes, what is buffered or one receive if nothing is, left in the
 * reader's buffer with *@data pointing at them, as
 * weft_reader_readuntil_view() (valid until the next call on the reader
 * or its release). Skipping a request body takes no buffer this way.
 * Returns:  bytes (> 0), *@data set; 0 at end of stream or if @max is 0
 *           (*@data NULL); -EINVAL for @data NULL; the errors common to all
 *           calls. Suspends: yes.
 */
WEFT_EXTERN ssize_t weft_reader_read_view(weft_reader_t *r, size_t max, void **data);
/**
 * weft_reader_readline - readuntil("\n") with asyncio readline's rules
 *
 * At end of stream the partial line is returned as a success. Over the
 * limit it returns WEFT_ELIMIT (asyncio raises ValueError) after dropping
 * the line: the data up to and including the newline if one was seen,
 * else everything buffered; readuntil() keeps the data instead.
 */
WEFT_EXTERN ssize_t weft_reader_readline(weft_reader_t *r, void *buf, size_t cap);
/**
 * weft_reader_next_line - the line iterator (`async for line in reader`)
 * @len: receives the line's length (with its "\n", if it had one).
 *
 * weft_reader_readline() in the shape WEFT_ASYNC_FOR (weft/gen.h) takes:
 *   WEFT_ASYNC_FOR(rc, weft_reader_next_line(r, buf, sizeof buf, &n)) use(buf, n);
 * Return: 0 with a line; WEFT_ESTOP at the end of the stream; otherwise
 * weft_reader_readline()'s errors (-EINVAL also for @len NULL).
 * Suspends: yes.
 */
WEFT_EXTERN int weft_reader_next_line(weft_reader_t *r, void *buf, size_t cap, size_t *len);
/** weft_reader_at_eof - 1 when the buffer is empty and the end of stream has
 * arrived (also before a read returned 0, and once a socket stream's writer
 * was closed), else 0 (also while a read is in progress); -EINVAL if @r is
 * NULL. No suspension; the reading task's call. */
WEFT_EXTERN int weft_reader_at_eof(weft_reader_t *r);
/** weft_reader_release - give the reader back (no suspension). A pipe's
 * read end, and a socket that has no writer, is closed (the socket once
 * its receive ahead has ended, which the release brings about). */
WEFT_EXTERN void weft_reader_release(weft_reader_t *r);

/* ---- writer --------------------------------------------------------------- */

/**
 * weft_writer_write - queue @n bytes (asyncio write): sent at once as far
 * as the kernel takes them, the rest buffered and flushed in the
 * background. A socket's small writes (up to 512 bytes, or up to 4 KiB
 * after a slice's first) are buffered instead and leave together at the
 * end of the scheduler's pass (one send per stream per pass; on io_uring
 * all of a pass's sends in one system call: docs/io.md, "Queued sends");
 * until then weft_writer_buffer_size counts them. Never suspends.
 * Returns:  0; -ECONNRESET after close()/abort() (asyncio's "Connection
 *           lost"); WEFT_ECLOSED after write_eof(); the connection's error
 *           once a send failed (-EPIPE, -ECONNRESET...); -ECANCELED once
 *           buffered bytes were dropped because the loop was closing;
 *           -ENOMEM.
 */
WEFT_EXTERN int weft_writer_write(weft_writer_t *w, const void *buf, size_t n);
/** weft_writer_writelines - write() of each piece in order. */
WEFT_EXTERN int weft_writer_writelines(weft_writer_t *w, const struct iovec *iov, int iovcnt);
/**
 * weft_writer_drain - wait until the buffer is at or below the low-water
 * mark, if it went above the high-water mark (asyncio drain()).
 * Returns:  0; the reader's failure first (asyncio's reader.exception():
 *           a read of this stream that failed, or its receive ahead);
 *           the connection's error; -ECONNRESET once the writer was
 *           closed or aborted (asyncio: ConnectionResetError('Connection
 *           lost')), after one pass given up as asyncio's sleep(0) there;
 *           -ECANCELED (the caller cancelled, or buffered bytes dropped at
 *           loop close). Suspends: above the high-water mark, and once on
 *           a closing writer.
 */
WEFT_EXTERN int weft_writer_drain(weft_writer_t *w);
/**
 * weft_writer_set_write_buffer_limits - high/low water marks in bytes
 * (defaults 64 KiB and 16 KiB, asyncio's). @low > @high is -EINVAL.
 * Threads: any.
 */
WEFT_EXTERN int weft_writer_set_write_buffer_limits(weft_writer_t *w, size_t high, size_t low);
/** weft_writer_buffer_size - bytes buffered, not yet taken by the kernel (0 for NULL). Threads: any. */
WEFT_EXTERN size_t weft_writer_buffer_size(weft_writer_t *w);
/**
 * weft_writer_sendfile - send a file on the writer's socket (asyncio's
 * loop.sendfile(transport, file, offset, count))
 * @fd:     the file to read (a plain fd).
 * @offset: where to start reading; advanced by the bytes sent, also when
 *          the call fails, is cancelled or times out midway. NULL: from
 *          the file position, which advances the same way.
 * @count:  bytes to send; 0: up to the end of the file (count=None).
 *
 * What was written before goes first: bytes no send has taken yet (a
 * response's head written in this pass) the call sends at once, ahead of
 * the file and in its first segment (MSG_MORE); for any a send already
 * has, it waits until the buffer is empty. Then it sends the file
 * zero-copy (sendfile(2); the stream's socket is made non-blocking for
 * each call of it, so the worker's thread never blocks on the peer),
 * waiting whenever the socket's buffer is full;
 * weft_sock_sendfile's copy for a file sendfile(2) cannot read (a pipe).
 * While it runs, write() and writelines() return -EBUSY (asyncio's
 * RuntimeError "sendfile is in progress"), drain() returns at once, a
 * close() or write_eof() takes effect when it ends (after the file), and
 * abort() ends it. Reading goes on meanwhile (asyncio pauses it). Never
 * raises SIGPIPE. A failure of the socket is not made the writer's: the
 * next write() finds it.
 * Returns:  the bytes sent (less than @count only at the end of the file);
 *           WEFT_ECLOSED after close()/abort() (asyncio: "Transport is
 *           closing"); -EPIPE after write_eof(); -EBUSY while another
 *           sendfile on @w runs; -ENOTSOCK for a pipe's writer (asyncio
 *           has no sendfile for pipes); -EINVAL (@offset < 0, @count >
 *           SSIZE_MAX, not a SOCK_STREAM socket); -EBADF, -ESPIPE (an
 *           @offset on a pipe); the connection's error (a failed flush of
 *           what was buffered; -EPIPE, -ECONNRESET from the send);
 *           -ECONNRESET if the writer was closed while the buffer
 *           flushed; the file's read errors; -ECANCELED; -ENOMEM.
 *           Suspends: yes.
 */
WEFT_EXTERN ssize_t weft_writer_sendfile(weft_writer_t *w, int fd, off_t *offset, size_t count);
/** weft_writer_write_eof - shut down the sending side once the buffer is
 * flushed (sockets). Returns 0; -ENOTSOCK for a pipe (close it instead). */
WEFT_EXTERN int weft_writer_write_eof(weft_writer_t *w);
/**
 * weft_writer_close - flush what is buffered, then close (never suspends).
 * A socket is shut down at once; its fd is closed when no read, flush or
 * receive-ahead request may still name it (wait_closed tells when).
 */
WEFT_EXTERN int weft_writer_close(weft_writer_t *w);
/** weft_writer_abort - close now, dropping what is buffered. */
WEFT_EXTERN int weft_writer_abort(weft_writer_t *w);
/** weft_writer_is_closing - 1 after close()/abort(), or on a socket once
 * the connection failed (a failed send, the reader's error from the
 * kernel: asyncio's transport closes itself then), else 0; -EINVAL if
 * NULL. Threads: any. */
WEFT_EXTERN int weft_writer_is_closing(weft_writer_t *w);
/**
 * weft_writer_wait_closed - wait until the fd is closed. Suspends: yes.
 * Returns 0, or on a socket the connection's error, as asyncio's
 * wait_closed() raises what connection_lost(exc) carried: a failed
 * send's, else the reader's failure from the kernel (-ECONNRESET from a
 * peer's reset, ...; a reset that arrived before the close is reported
 * though no read saw it, as asyncio's always-reading transport reports
 * it); not after a close, an abort or the end of stream alone. A pipe's
 * writer returns 0. Also the common errors (-ECANCELED)
 * and, for the _timeout form, -ETIMEDOUT.
 */
WEFT_EXTERN int weft_writer_wait_closed(weft_writer_t *w);
/**
 * weft_writer_get_extra_info - asyncio's get_extra_info for "peername",
 * "sockname" (fill @addr/@len) and "socket" (returns the fd). The fd
 * stays the stream's: use it (weft_recv, setsockopt), never close it
 * (the stream closes it; the epoll backend keeps a stream's fds
 * registered until then, docs/io.md).
 * Returns:  0 (or the fd for "socket"); -ENOENT for other names; the
 *           getpeername/getsockname errors. Threads: any.
 */
WEFT_EXTERN int weft_writer_get_extra_info(weft_writer_t *w, const char *name,
                                           struct sockaddr *addr, socklen_t *len);
/** weft_writer_release - close if needed and give the writer back. */
WEFT_EXTERN void weft_writer_release(weft_writer_t *w);

/* ---- the same, bounded in time ---------------------------------------------
 * Each returns -ETIMEDOUT once @timeout_ns (< 0: none) has passed. As with
 * cancellation, a reader keeps whatever it received: a later call sees it.
 * Timeouts and cancellations end the call, never the stream. */
WEFT_EXTERN ssize_t weft_reader_read_timeout(weft_reader_t *r, void *buf, size_t n,
                                             int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_reader_readexactly_timeout(weft_reader_t *r, void *buf, size_t n,
                                                    size_t *partial, int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_reader_readuntil_timeout(weft_reader_t *r, const void *sep,
                                                  size_t seplen, void *buf, size_t cap,
                                                  size_t *partial, int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_reader_readuntil_view_timeout(weft_reader_t *r, const void *sep,
                                                       size_t seplen, void **data,
                                                       size_t *partial, int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_reader_read_view_timeout(weft_reader_t *r, size_t max,
                                                  void **data, int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_reader_readline_timeout(weft_reader_t *r, void *buf, size_t cap,
                                                 int64_t timeout_ns);
WEFT_EXTERN int weft_writer_drain_timeout(weft_writer_t *w, int64_t timeout_ns);
WEFT_EXTERN int weft_writer_wait_closed_timeout(weft_writer_t *w, int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_writer_sendfile_timeout(weft_writer_t *w, int fd, off_t *offset,
                                                 size_t count, int64_t timeout_ns);
WEFT_EXTERN int weft_open_connection_timeout(const char *host, int port, weft_reader_t **reader,
                                             weft_writer_t **writer, int64_t timeout_ns);

/* ---- servers -------------------------------------------------------------- */

/* A connection handler: runs as its own task. Returning ends the connection.
 * A negative return (other than -ECANCELED) is reported through the loop's
 * exception handler as "Unhandled exception in client_connected_cb", with
 * the task's name and any weft_fail() message (asyncio's start_server). */
typedef int (*weft_client_handler)(weft_reader_t *r, weft_writer_t *w, void *arg);

/**
 * struct weft_server_opts - optional settings (zero = defaults)
 * @backlog:        listen(2) backlog; 0 means 4096.
 * @reuse_port:     1: one listening socket per worker with SO_REUSEPORT, so
 *                  the kernel spreads connections over the workers (default
 *                  with several workers); -1: one socket, accepted by all.
 * @limit:          the readers' limit; 0 means WEFT_STREAM_LIMIT.
 * @accept_backoff_ns: pause after accept fails for lack of fds or memory
 *                  (EMFILE, ENFILE, ENOBUFS, ENOMEM); 0 means 100 ms. Each
 *                  pause is counted (weft_server_accept_backoffs).
 * @max_connections: the most connections served at once; at the limit the
 *                  acceptors stop accepting (clients wait in the listen
 *                  backlog) until one ends. 0: no limit. With a limit, the
 *                  server listens on one socket for every worker (as with
 *                  reuse_port = -1) and each connection is one accept
 *                  request (no multishot accept).
 * @read_timeout_ns: the bound on every read of a connection's reader that
 *                  gives none itself (the _timeout variants keep theirs):
 *                  one that waits longer returns -ETIMEDOUT, so a handler
 *                  that ends on errors drops idle clients. 0: none.
 */
struct weft_server_opts {
  int backlog;
  int reuse_port;
  size_t limit;
  int64_t accept_backoff_ns;
  size_t max_connections;
  int64_t read_timeout_ns;
};

/**
 * weft_start_server - listen on @host:@port and serve each connection with
 * @handler in a task of its own (asyncio.start_server).
 * @loop: the loop; NULL means the calling task's loop.
 * @host: a numeric address or name; NULL means all interfaces.
 * @port: 0 picks a free port (see weft_server_sockname).
 * Returns:  0 with *@out; -EADDRINUSE and the other socket/bind errors;
 *           resolution errors; -EINVAL; -ENOMEM. Suspends: only to resolve
 *           @host from a task. Threads: a task, or the loop's owner while
 *           the loop is not running.
 */
WEFT_EXTERN int weft_start_server(weft_loop_t *loop, const char *host, int port,
                                  weft_client_handler handler, void *arg,
                                  const struct weft_server_opts *opts, weft_server_t **out);
/** weft_start_unix_server - the same on a Unix-domain socket @path (unlinked first if a socket). */
WEFT_EXTERN int weft_start_unix_server(weft_loop_t *loop, const char *path,
                                       weft_client_handler handler, void *arg,
                                       const struct weft_server_opts *opts, weft_server_t **out);
/** weft_server_sockname - the first listening socket's address. Returns 0; -EINVAL for NULL
 * arguments; -EBADF once the server closed; getsockname's errors. Threads: any. */
WEFT_EXTERN int weft_server_sockname(weft_server_t *s, struct sockaddr *addr, socklen_t *len);
/** weft_server_close - stop listening (connections carry on); closing twice is harmless.
 * Returns 0; -EINVAL if @s is NULL. Threads: any. */
WEFT_EXTERN int weft_server_close(weft_server_t *s);
/** weft_server_wait_closed - wait until closed and every connection's handler returned.
 * Returns 0; -ECANCELED; -EPERM outside a task; -EINVAL if @s is NULL. Suspends: yes. */
WEFT_EXTERN int weft_server_wait_closed(weft_server_t *s);
/** weft_server_wait_closed_timeout - the same, bounded: -ETIMEDOUT after @timeout_ns
 * (< 0: no limit), the connections left running. For a grace period at shutdown.
 * Returns 0; -ETIMEDOUT; -ECANCELED; -EPERM outside a task; -EINVAL if @s is NULL.
 * Suspends: yes. Threads: any task. */
WEFT_EXTERN int weft_server_wait_closed_timeout(weft_server_t *s, int64_t timeout_ns);
/**
 * weft_server_close_clients - close every connection (Server.close_clients, 3.13)
 * weft_server_abort_clients - abort every connection (Server.abort_clients, 3.13)
 *
 * Each connection's writer is closed (buffered data is flushed first) or
 * aborted (dropped), now, or as soon as its handler starts for one accepted
 * but not started yet; a handler blocked in a read sees the end of stream.
 * Listening goes on: weft_server_close() stops it. The graceful shutdown:
 * close, wait_closed_timeout(grace), then abort_clients and wait_closed
 * (docs/io.md).
 * Returns:  0; -EINVAL if @s is NULL.  Suspends: no.  Threads: any worker.
 */
WEFT_EXTERN int weft_server_close_clients(weft_server_t *s);
WEFT_EXTERN int weft_server_abort_clients(weft_server_t *s);
/**
 * weft_serve_forever - serve until cancelled (Server.serve_forever)
 *
 * Cancelling the calling task closes the server; weft_server_close() from
 * elsewhere ends the serving too. Either way it returns once the server is
 * closed and every handler has returned (wait_closed; a further cancel ends
 * that wait early), with -ECANCELED, as asyncio raises CancelledError in
 * both cases (after a close() from elsewhere the task's own cancellation
 * count stays 0: weft_task_cancelling() tells the two apart).
 * Returns:  -ECANCELED; -EBUSY if another serve_forever on @s is running;
 *           WEFT_ECLOSED if @s was closed; -EPERM outside a task; -EINVAL.
 * Suspends: yes.  Threads: any task.
 */
WEFT_EXTERN int weft_serve_forever(weft_server_t *s);
/** weft_server_connections - handlers running now (0 for NULL). Threads: any. */
WEFT_EXTERN size_t weft_server_connections(weft_server_t *s);
/** weft_server_accept_backoffs - how many times accepting paused for lack of
 * fds or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM); 0 for NULL. Threads: any. */
WEFT_EXTERN uint64_t weft_server_accept_backoffs(weft_server_t *s);
/** weft_server_destroy - free a server that is closed with no connection
 * left. Returns 0; -EBUSY otherwise. */
WEFT_EXTERN int weft_server_destroy(weft_server_t *s);

#ifdef __cplusplus
}
#endif

#endif
