/*
 * sendfile.h (private) - weft_sock_sendfile's body, shared with the stream
 * writer's sendfile (stream.c).
 */
#ifndef WEFT_IO_SENDFILE_H
#define WEFT_IO_SENDFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What weft__sock_sendfile asks of @sock first: 0 with its file status
 * flags in *@flags for a SOCK_STREAM socket; -EINVAL for another type;
 * getsockopt's or fcntl's error. Two system calls: a caller that owns the
 * socket (a stream) asks once and passes the answer on. */
int weft__sendfile_sock_flags(int sock, int *flags);

/* weft_sock_sendfile_timeout. @own_flags < 0: @sock is the caller's
 * (checked here each call). Otherwise the caller owns @sock, as a stream
 * owns its socket, and @own_flags are weft__sendfile_sock_flags' answer
 * for it: a blocking @sock is then made non-blocking around each
 * sendfile(2) call, so it takes the zero-copy path too (sendfile.c).
 * Suspends. */
ssize_t weft__sock_sendfile(int sock, int fd, off_t *offset, size_t count, int64_t timeout_ns,
                            int own_flags);

#endif
