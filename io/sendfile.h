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

/* weft_sock_sendfile_timeout. @sock_flags < 0: asked here
 * (weft__sendfile_sock_flags, each call). Otherwise the caller knows
 * @sock's flags, as a stream knows its own socket's (it makes it
 * non-blocking at its first sendfile, so it takes the zero-copy path:
 * sendfile.c). A blocking @sock goes by the copy. Suspends. */
ssize_t weft__sock_sendfile(int sock, int fd, off_t *offset, size_t count, int64_t timeout_ns,
                            int sock_flags);

#endif
