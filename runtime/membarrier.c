/*
 * membarrier.c - asking for, registering and issuing the process-wide
 * barrier (membarrier.h). Invariant: `known` goes from 0 to 1 or -1 once
 * (racing first askers get the kernel's one answer) and then never moves.
 */
#include "membarrier.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* membarrier(2)'s commands (linux/membarrier.h), spelled out for older headers. */
enum {
  MB_QUERY = 0,
  MB_PRIVATE_EXPEDITED = 1 << 3,
  MB_REGISTER_PRIVATE_EXPEDITED = 1 << 4,
};

static long membarrier(int cmd) {
#if defined(__NR_membarrier)
  return syscall(__NR_membarrier, cmd, 0, 0);
#else
  (void)cmd;
  errno = ENOSYS;
  return -1;
#endif
}

bool weft__membarrier_available(void) {
  static _Atomic int known; /* 0: not asked yet; 1: yes; -1: no */
  /* relaxed: the answer is the kernel's; racing askers get the same one. */
  int k = atomic_load_explicit(&known, memory_order_relaxed);
  if (!k) {
    /* $WEFT_MEMBARRIER=0 answers no without asking: the fallbacks' path
     * (an old kernel, a sandbox) on any machine; `make test-epoll` runs
     * the suite so. */
    const char *env = getenv("WEFT_MEMBARRIER");
    long cmds = env && strcmp(env, "0") == 0 ? -1 : membarrier(MB_QUERY);
    k = cmds >= 0 && (cmds & MB_PRIVATE_EXPEDITED) && (cmds & MB_REGISTER_PRIVATE_EXPEDITED) &&
                membarrier(MB_REGISTER_PRIVATE_EXPEDITED) == 0
            ? 1
            : -1;
    atomic_store_explicit(&known, k, memory_order_relaxed);
  }
  return k > 0;
}

int weft__membarrier(void) { return membarrier(MB_PRIVATE_EXPEDITED) == 0 ? 0 : -1; }
