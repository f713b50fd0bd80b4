/*
 * weft/io.h - fiber-blocking file and socket operations (asyncio's
 * loop.sock_* and the file I/O asyncio leaves to threads), completed by the
 * worker's io_uring ring or, where io_uring cannot be used, its epoll set.
 *
 * Model: each call looks like its POSIX namesake and returns what it
 * returns (bytes, an fd, 0), or a negative errno instead of -1/errno. The
 * calling task suspends until the kernel is done; the worker runs other
 * tasks meanwhile. Requests made during one scheduler tick are submitted
 * together in one system call.
 *
 * Common to every function below (documented once here):
 *  - Suspends: yes.  Threads: tasks only. Outside a task: -EPERM.
 *  - Cancellation: if the task is cancelled while the operation is in the
 *    kernel, the operation is cancelled there (IORING_OP_ASYNC_CANCEL) and
 *    the call returns only once the kernel has let go of the caller's
 *    buffers. It returns -ECANCELED, unless the operation completed anyway
 *    (bytes were transferred, an fd was accepted or opened): then it
 *    returns that result, so nothing is lost or leaked, and the
 *    cancellation stays pending for the task's next suspension point.
 *    A cancellation pending when the call starts returns -ECANCELED before
 *    any I/O is issued; so does any call while the loop is closing.
 *  - Timeouts: every call that can wait on a peer or a device has a
 *    *_timeout variant taking @timeout_ns (< 0: none; weft_open is
 *    weft_openat_timeout with AT_FDCWD; close, nop and dio_alignment have
 *    none). Past it the operation is cancelled in the kernel (a
 *    linked timeout with io_uring) and -ETIMEDOUT is returned, with the
 *    same rule as cancellation for operations that completed anyway.
 *  - Errors: the kernel's own (-EBADF, -EINVAL, -EFAULT, -ECONNRESET,
 *    -EPIPE, -ECONNREFUSED, -ENOENT, -EMFILE, ...), plus -EPERM outside a
 *    task, -ECANCELED and, for *_timeout, -ETIMEDOUT. No signal ends the
 *    process: sends use MSG_NOSIGNAL, and a write to a pipe whose reader
 *    is gone (or sendfile to a closed peer) fails with -EPIPE, one past
 *    the file size limit with -EFBIG, because workers run with SIGPIPE
 *    and SIGXFSZ blocked (weft/runtime.h). Never -EINTR: a system call a
 *    signal interrupted is made again, as Python's are (PEP 475), except
 *    close, which Linux has done even then (weft_close returns 0).
 *  - Buffers are the caller's; they must stay valid until the call returns
 *    (they do, since the task is suspended in the call).
 *  - fds are plain kernel fds, usable with any other API. With the epoll
 *    backend, weft_accept and weft_connect set O_NONBLOCK on the socket
 *    they are given, and file operations that would block run on helper
 *    threads while the task waits (docs/io.md).
 *  - Closing an fd while another task has an operation in flight on it
 *    does not end that operation: cancel the task first.
 */
#ifndef WEFT_IO_H
#define WEFT_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "weft/export.h"
#include "weft/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

struct statx;
struct addrinfo;
struct open_how; /* <linux/openat2.h> */

/**
 * weft_loop_backend - which backend completes @loop's I/O
 * Returns:  "io_uring" or "epoll"; NULL if @loop is NULL.  Threads: any.
 */
WEFT_EXTERN const char *weft_loop_backend(const weft_loop_t *loop);
/**
 * weft_loop_backend_reason - why io_uring is not in use, in one line
 * Returns:  "" when @loop uses io_uring or epoll was asked for; otherwise
 *           the reason (e.g. "io_uring_setup failed: Operation not
 *           permitted (kernel.io_uring_disabled or a seccomp filter)");
 *           NULL if @loop is NULL.  Threads: any.
 */
WEFT_EXTERN const char *weft_loop_backend_reason(const weft_loop_t *loop);

/* ---- files ------------------------------------------------------------- */

/**
 * weft_open - open(2) relative to the current directory; O_CLOEXEC is added.
 * Waits as open(2) does: an end of a FIFO opened without O_NONBLOCK waits
 * for the other end (io_uring's inline try, which adds O_NONBLOCK, would
 * fail a writer with -ENXIO; weft then opens on a kernel worker, where a
 * cancellation or timeout interrupts the wait). With the epoll backend the
 * open runs on an offload thread, which holds it until the partner comes:
 * cancelling the task (or its timeout) takes effect only then. The same
 * for weft_openat and weft_openat2.
 */
WEFT_EXTERN int weft_open(const char *path, int flags, mode_t mode);
/** weft_openat - openat(2); O_CLOEXEC is added. -EINVAL if @path is NULL. */
WEFT_EXTERN int weft_openat(int dirfd, const char *path, int flags, mode_t mode);
/**
 * weft_openat2 - openat2(2): openat with @how's resolution rules, e.g.
 * RESOLVE_BENEATH (a path that would leave @dirfd, by "..", an absolute
 * path or a symlink, fails with -EXDEV: what a file server needs to keep
 * requests inside its root), RESOLVE_NO_SYMLINKS, RESOLVE_IN_ROOT.
 * O_CLOEXEC is added to @how->flags (on a copy).
 * @size: sizeof *how as the caller knows it; more than this build's struct
 *        is accepted when the extra bytes are zero, as the kernel does.
 * Returns:  the fd; -EINVAL (@path or @how NULL, @size smaller than the
 *           first version of struct open_how); -E2BIG (nonzero bytes past
 *           the struct this build knows); the kernel's: -EXDEV (escapes
 *           @dirfd under RESOLVE_BENEATH), -ELOOP (a symlink under
 *           RESOLVE_NO_SYMLINKS), -EAGAIN (RESOLVE_CACHED would block),
 *           -EINVAL (unknown flags, mode without O_CREAT), -ENOENT, ...
 */
WEFT_EXTERN int weft_openat2(int dirfd, const char *path, const struct open_how *how, size_t size);
/**
 * weft_close - close(2). Returns 0 or the kernel's error (-EBADF, -EIO);
 * an -EINTR is 0: Linux has released @fd anyway, and trying again could
 * close a file opened since under the same number (Python's os.close
 * ignores EINTR too, PEP 475).
 */
WEFT_EXTERN int weft_close(int fd);
/** weft_read - read(2) at the file position (any fd: file, pipe, socket). */
WEFT_EXTERN ssize_t weft_read(int fd, void *buf, size_t n);
/** weft_write - write(2) at the file position; may write less than @n. */
WEFT_EXTERN ssize_t weft_write(int fd, const void *buf, size_t n);
/** weft_pread - pread(2). O_DIRECT fds need buffers, offsets and sizes
 * aligned as weft_dio_alignment() says (else -EINVAL). */
WEFT_EXTERN ssize_t weft_pread(int fd, void *buf, size_t n, off_t off);
/** weft_pwrite - pwrite(2); see weft_pread on O_DIRECT. */
WEFT_EXTERN ssize_t weft_pwrite(int fd, const void *buf, size_t n, off_t off);
/** weft_readv - preadv(2); @off = -1 uses and advances the file position. */
WEFT_EXTERN ssize_t weft_readv(int fd, const struct iovec *iov, int iovcnt, off_t off);
/** weft_writev - pwritev(2); @off = -1 uses and advances the file position. */
WEFT_EXTERN ssize_t weft_writev(int fd, const struct iovec *iov, int iovcnt, off_t off);
/** weft_fsync - fsync(2). */
WEFT_EXTERN int weft_fsync(int fd);
/** weft_fdatasync - fdatasync(2). */
WEFT_EXTERN int weft_fdatasync(int fd);
/** weft_fallocate - fallocate(2). */
WEFT_EXTERN int weft_fallocate(int fd, int mode, off_t off, off_t len);
/** weft_statx - statx(2). -EINVAL if @path or @out is NULL. */
WEFT_EXTERN int weft_statx(int dirfd, const char *path, int flags, unsigned mask,
                           struct statx *out);
/**
 * weft_dio_alignment - what O_DIRECT needs for @fd (statx STATX_DIOALIGN)
 * @mem: receives the buffer address alignment in bytes.
 * @off: receives the file offset and length alignment in bytes.
 * Returns:  0; -EOPNOTSUPP if the file system does not say (or does not
 *           support O_DIRECT); the statx errors. Suspends: yes.
 */
WEFT_EXTERN int weft_dio_alignment(int fd, unsigned *mem, unsigned *off);

/* ---- sockets ----------------------------------------------------------- */

/** weft_socket - socket(2) with SOCK_CLOEXEC added. Suspends: no; any thread. */
WEFT_EXTERN int weft_socket(int domain, int type, int protocol);
/** weft_accept - accept4(2); SOCK_CLOEXEC is added to @flags. @addr/@len
 * may be NULL. */
WEFT_EXTERN int weft_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags);
/** weft_connect - connect(2), to completion. -EINVAL if @addr is NULL. */
WEFT_EXTERN int weft_connect(int fd, const struct sockaddr *addr, socklen_t len);
/** weft_recv - recv(2): at least 1 byte, or 0 at end of stream. */
WEFT_EXTERN ssize_t weft_recv(int fd, void *buf, size_t n, int flags);
/** weft_send - send(2); may send less than @n. */
WEFT_EXTERN ssize_t weft_send(int fd, const void *buf, size_t n, int flags);
/** weft_recvmsg - recvmsg(2). -EINVAL if @msg is NULL. */
WEFT_EXTERN ssize_t weft_recvmsg(int fd, struct msghdr *msg, int flags);
/** weft_sendmsg - sendmsg(2). -EINVAL if @msg is NULL. */
WEFT_EXTERN ssize_t weft_sendmsg(int fd, const struct msghdr *msg, int flags);
/** weft_recvfrom - recvfrom(2) (UDP); @addr/@len may be NULL. */
WEFT_EXTERN ssize_t weft_recvfrom(int fd, void *buf, size_t n, int flags,
                                  struct sockaddr *addr, socklen_t *len);
/** weft_sendto - sendto(2) (UDP); @addr may be NULL on a connected socket. */
WEFT_EXTERN ssize_t weft_sendto(int fd, const void *buf, size_t n, int flags,
                                const struct sockaddr *addr, socklen_t len);
/** weft_shutdown - shutdown(2). */
WEFT_EXTERN int weft_shutdown(int fd, int how);
/**
 * weft_sock_sendfile - send a file over a connected stream socket
 * (asyncio's loop.sock_sendfile)
 * @sock:   a SOCK_STREAM socket (a plain fd: not WEFT_FIXED_FILE).
 * @fd:     the file to read (a plain fd).
 * @offset: where to start reading; advanced by the bytes sent, also when
 *          the call fails, is cancelled or times out midway (resume from
 *          it). NULL: from the file position, which advances the same way
 *          (asyncio's file.seek(offset + total_sent)).
 * @count:  bytes to send; 0: up to the end of the file (count=None).
 *
 * On a non-blocking socket, zero-copy with sendfile(2), waiting for the
 * socket to be writable whenever its buffer is full. On a blocking socket
 * (weft_socket's: sendfile(2) would block the worker's thread), or from a
 * file sendfile(2) cannot read (a pipe), a copy through the reactor in
 * 64 KiB pieces (asyncio's fallback=True). A regular file goes a MiB at
 * a time, each first checked for the page cache (RWF_NOWAIT probes, and
 * cachestat(2) where the kernel has it): a part not read in yet goes by
 * the copy, whose reads the reactor does off the worker's thread, so a
 * cold file does not hold the worker (it holds asyncio's loop). A file
 * opened O_DIRECT always goes by the copy,
 * reading whole aligned blocks through the reactor (any offset works).
 * Never raises SIGPIPE. A pipe as the file with no offset: what the copy read from it
 * and the socket had not taken when an error, cancellation or timeout
 * stopped the call is gone from the pipe (it cannot be sought back, as
 * in asyncio's fallback); the count and offsets stay exact.
 * Returns:  the bytes sent (less than @count only at the end of the file);
 *           -EINVAL (not a SOCK_STREAM socket, @offset < 0, @count >
 *           SSIZE_MAX); -ENOTSOCK; -EBADF; -ESPIPE (an @offset on a pipe);
 *           -EPIPE, -ECONNRESET and the other sendfile/send/read errors;
 *           -ECANCELED; -ENOMEM (the copy's buffer).
 */
WEFT_EXTERN ssize_t weft_sock_sendfile(int sock, int fd, off_t *offset, size_t count);
/**
 * weft_wait_readable / weft_wait_writable - wait until @fd is readable or
 * writable (for third-party non-blocking libraries: asyncio's add_reader).
 * Returns:  the poll(2) revents seen (> 0, may include POLLHUP/POLLERR).
 */
WEFT_EXTERN int weft_wait_readable(int fd);
WEFT_EXTERN int weft_wait_writable(int fd);

/**
 * weft_getaddrinfo - getaddrinfo(3) on weft's helper-thread pool, awaited
 * @res: receives the list; free it with freeaddrinfo().
 * Returns:  0; getaddrinfo's EAI_* errors mapped to -ENOENT (EAI_NONAME, EAI_NODATA), -EAGAIN
 *           (EAI_AGAIN), -ENOMEM (EAI_MEMORY), -EINVAL (bad flags, family
 *           or both @host and @service NULL), -EIO otherwise; -ECANCELED
 *           (the lookup finishes on its thread and its result is freed);
 *           -EPERM outside a task. The *_timeout variant returns -ETIMEDOUT.
 */
WEFT_EXTERN int weft_getaddrinfo(const char *host, const char *service,
                                 const struct addrinfo *hints, struct addrinfo **res);

/* ---- the same, bounded in time (see "Timeouts" above) ------------------ */

WEFT_EXTERN int weft_openat_timeout(int dirfd, const char *path, int flags, mode_t mode,
                                    int64_t timeout_ns);
WEFT_EXTERN int weft_openat2_timeout(int dirfd, const char *path, const struct open_how *how,
                                     size_t size, int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_read_timeout(int fd, void *buf, size_t n, int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_write_timeout(int fd, const void *buf, size_t n, int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_pread_timeout(int fd, void *buf, size_t n, off_t off,
                                       int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_pwrite_timeout(int fd, const void *buf, size_t n, off_t off,
                                        int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_readv_timeout(int fd, const struct iovec *iov, int iovcnt, off_t off,
                                       int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_writev_timeout(int fd, const struct iovec *iov, int iovcnt, off_t off,
                                        int64_t timeout_ns);
WEFT_EXTERN int weft_fsync_timeout(int fd, int64_t timeout_ns);
WEFT_EXTERN int weft_fdatasync_timeout(int fd, int64_t timeout_ns);
WEFT_EXTERN int weft_fallocate_timeout(int fd, int mode, off_t off, off_t len,
                                       int64_t timeout_ns);
WEFT_EXTERN int weft_statx_timeout(int dirfd, const char *path, int flags, unsigned mask,
                                   struct statx *out, int64_t timeout_ns);
WEFT_EXTERN int weft_accept_timeout(int fd, struct sockaddr *addr, socklen_t *len, int flags,
                                    int64_t timeout_ns);
WEFT_EXTERN int weft_connect_timeout(int fd, const struct sockaddr *addr, socklen_t len,
                                     int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_recv_timeout(int fd, void *buf, size_t n, int flags,
                                      int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_send_timeout(int fd, const void *buf, size_t n, int flags,
                                      int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_recvmsg_timeout(int fd, struct msghdr *msg, int flags,
                                         int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_sendmsg_timeout(int fd, const struct msghdr *msg, int flags,
                                         int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_recvfrom_timeout(int fd, void *buf, size_t n, int flags,
                                          struct sockaddr *addr, socklen_t *len,
                                          int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_sendto_timeout(int fd, const void *buf, size_t n, int flags,
                                        const struct sockaddr *addr, socklen_t len,
                                        int64_t timeout_ns);
WEFT_EXTERN int weft_shutdown_timeout(int fd, int how, int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_sock_sendfile_timeout(int sock, int fd, off_t *offset, size_t count,
                                               int64_t timeout_ns);
WEFT_EXTERN int weft_wait_readable_timeout(int fd, int64_t timeout_ns);
WEFT_EXTERN int weft_wait_writable_timeout(int fd, int64_t timeout_ns);
WEFT_EXTERN int weft_getaddrinfo_timeout(const char *host, const char *service,
                                         const struct addrinfo *hints, struct addrinfo **res,
                                         int64_t timeout_ns);

/* ---- registered buffers and files --------------------------------------- */

/**
 * weft_loop_register_buffers - register @n buffers (io_uring fixed buffers)
 * in every worker's ring, for weft_pread_fixed/weft_pwrite_fixed: the kernel
 * pins and maps them once instead of per request. @iov is copied; the
 * memory stays the caller's and must outlive the registration.
 * Returns:  0; -EBUSY if buffers are registered already or the loop runs;
 *           -EINVAL (NULL, n = 0 or > 16384, or the kernel's checks);
 *           -ENOMEM (RLIMIT_MEMLOCK on older kernels); WEFT_ECLOSED.
 * Threads: the loop's owner, while it is not running. With epoll the
 * registration is bookkeeping only.
 */
WEFT_EXTERN int weft_loop_register_buffers(weft_loop_t *loop, const struct iovec *iov, unsigned n);
/** weft_loop_unregister_buffers - drop them (0 if none). Same threads rule. */
WEFT_EXTERN int weft_loop_unregister_buffers(weft_loop_t *loop);
/**
 * weft_loop_register_files - register @n fds (io_uring fixed files) in every
 * worker's ring; pass WEFT_FIXED_FILE(i) instead of an fd to any operation
 * that takes a plain fd (not openat/statx/close) to skip the per-request
 * fd lookup. The fds stay the caller's (close them after unregistering).
 * Returns and threads: as weft_loop_register_buffers (n up to 32768).
 */
WEFT_EXTERN int weft_loop_register_files(weft_loop_t *loop, const int *fds, unsigned n);
/** weft_loop_unregister_files - drop them (0 if none). */
WEFT_EXTERN int weft_loop_unregister_files(weft_loop_t *loop);
/* The fd argument naming registered file @i. */
#define WEFT_FIXED_FILE(i) (-2 - (int)(i))
/**
 * weft_pread_fixed / weft_pwrite_fixed - pread/pwrite through registered
 * buffer @index: [@buf, @buf + @n) must lie inside it (else -EINVAL).
 * @fd may be a plain fd or WEFT_FIXED_FILE(i).
 */
WEFT_EXTERN ssize_t weft_pread_fixed(int fd, void *buf, size_t n, off_t off, unsigned index);
WEFT_EXTERN ssize_t weft_pwrite_fixed(int fd, const void *buf, size_t n, off_t off,
                                      unsigned index);
WEFT_EXTERN ssize_t weft_pread_fixed_timeout(int fd, void *buf, size_t n, off_t off,
                                             unsigned index, int64_t timeout_ns);
WEFT_EXTERN ssize_t weft_pwrite_fixed_timeout(int fd, const void *buf, size_t n, off_t off,
                                              unsigned index, int64_t timeout_ns);

/**
 * weft_io_nop - one no-op round trip through the reactor (IORING_OP_NOP):
 * what an awaited operation costs by itself. Returns 0.
 */
WEFT_EXTERN int weft_io_nop(void);

#ifdef __cplusplus
}
#endif

#endif
