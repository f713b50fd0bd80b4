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

/* weft_sock_sendfile_timeout; with @sock_is_ours (the caller owns @sock,
 * as a stream owns its socket), a blocking @sock is made non-blocking
 * around each sendfile(2) call, so it takes the zero-copy path too
 * (sendfile.c). Suspends. */
ssize_t weft__sock_sendfile(int sock, int fd, off_t *offset, size_t count, int64_t timeout_ns,
                            bool sock_is_ours);

#endif
