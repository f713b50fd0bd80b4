/*
 * offload.h (private) - blocking file system calls on helper threads for
 * the epoll backend (offload.c).
 */
#ifndef WEFT_IO_OFFLOAD_H
#define WEFT_IO_OFFLOAD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "reactor.h"

/* Requests the epoll backend always hands to the pool (they may wait for
 * a disk and have no readiness to wait for). */
bool weft__offload_wanted(const struct weft__io_req *q);
/* Runs @q on a pool thread while the calling task waits (op.c's rules:
 * -ECANCELED/-ETIMEDOUT before it starts; once started it is waited for,
 * and a result that completed is returned). Task context only. */
ssize_t weft__offload_await(const struct weft__io_req *q, uint64_t deadline_ns);

#endif
