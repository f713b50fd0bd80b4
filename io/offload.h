/*
 * offload.h (private) - a process-wide pool of helper threads for calls
 * that block in the kernel or in libc (offload.c): file system calls for
 * the epoll backend, getaddrinfo for everyone.
 */
#ifndef WEFT_IO_OFFLOAD_H
#define WEFT_IO_OFFLOAD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "pool.h"
#include "reactor.h"

/* The pool's bound. Justification: enough to keep a disk's queue busy
 * from a few loops (fio shows random-read IOPS flattening past depth 8-16
 * on ordinary devices) while bounding the threads a fallback can create. */
#define WEFT__OFFLOAD_MAX 16

/* Queues @w (runtime/pool.h's work); a thread starts if none is idle and
 * the pool is not full.
 * Returns 0, or -EAGAIN when no thread exists and none can be started
 * (then @w is not queued). Any thread. */
int weft__offload_submit(struct weft__pool_work *w);
/* Takes @w off the queue if no thread has started it; true if it did. */
bool weft__offload_unqueue(struct weft__pool_work *w);

/* Requests the epoll backend always hands to the pool (they may wait for
 * a disk and have no readiness to wait for). */
bool weft__offload_wanted(const struct weft__io_req *q);
/* Runs @q on a pool thread while the calling task waits (op.c's rules:
 * -ECANCELED/-ETIMEDOUT before it starts; once started it is waited for,
 * and a result that completed is returned). Task context only. */
ssize_t weft__offload_await(const struct weft__io_req *q, uint64_t deadline_ns);

#endif
