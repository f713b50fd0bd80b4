/*
 * membarrier.h - the heavy side of weft's asymmetric barriers: one system
 * call (membarrier(2), MEMBARRIER_CMD_PRIVATE_EXPEDITED) that makes every
 * running thread of the process execute a full memory barrier, so that a
 * hot path can pair with it using only a compiler barrier (the man page's
 * fast path / slow path pattern). The task registry's thieves' ends
 * (registry.h) and the futures' lock (amutex.h) use it.
 *
 * Invariant: weft__membarrier() is called only after
 * weft__membarrier_available() returned true in the process (the kernel
 * refuses an unregistered process); availability, once known, never
 * changes.
 */
#ifndef WEFT_RUNTIME_MEMBARRIER_H
#define WEFT_RUNTIME_MEMBARRIER_H

#include <stdbool.h>

/* Whether this process can use the barrier: registered for expedited
 * private barriers (Linux 4.14). No on an old kernel, in a sandbox that
 * refuses the call, under valgrind, or with $WEFT_MEMBARRIER=0. Asked
 * once; callers racing on the first ask may both register, which is
 * harmless. */
bool weft__membarrier_available(void);

/* The barrier: 0, or -1 with errno (ENOMEM if the kernel could not
 * allocate its CPU mask; nothing else once registered). */
int weft__membarrier(void);

#endif
