/*
 * op.h (private) - awaiting one I/O request (op.c) for the operation files.
 */
#ifndef WEFT_IO_OP_H
#define WEFT_IO_OP_H

#include <stdint.h>
#include <sys/types.h>
#include "reactor.h"
#include "deadline.h" /* timeouts become deadlines by its rule */

/* Issues @req on the calling task's worker and waits for it (op.c has the
 * rules). @deadline_ns is absolute monotonic, 0 = none. */
ssize_t weft__io_await(const struct weft__io_req *req, uint64_t deadline_ns);

#endif
