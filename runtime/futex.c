/*
 * futex.c - futex wait/wake and the slow path of the futex mutex.
 *
 * Waits use FUTEX_WAIT_BITSET with FUTEX_CLOCK_REALTIME unset, so the deadline
 * is absolute CLOCK_MONOTONIC time: a wait never drifts when it is restarted.
 * Private futexes: weft never shares these words between processes.
 */
#include "futex.h"
#include "mutex.h"
#include "deadline.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void weft__futex_wait(_Atomic uint32_t *word, uint32_t expected, uint64_t deadline_ns) {
  struct timespec ts, *tsp = NULL;
  if (deadline_ns) {
    ts = weft__timespec(deadline_ns);
    tsp = &ts;
  }
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected, tsp,
          NULL, FUTEX_BITSET_MATCH_ANY);
}

int weft__futex_wait_nonzero(_Atomic uint32_t *word, uint64_t deadline_ns) {
  /* acquire: pairs with the setter's release store. */
  while (!atomic_load_explicit(word, memory_order_acquire)) {
    if (deadline_ns && weft__clock_ns() >= deadline_ns) return -ETIMEDOUT;
    weft__futex_wait(word, 0, deadline_ns);
  }
  return 0;
}

void weft__futex_wake(_Atomic uint32_t *word, int count) {
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, count, NULL, NULL, 0);
}

/* Justification: critical sections under these locks are a few dozen
 * nanoseconds (a list splice), far shorter than a futex sleep and wake-up
 * (microseconds). A pause costs up to ~140 cycles on recent Intel cores, so
 * 30 of them (~1.5 us) cover a holder that is running; one that was
 * preempted sends us to sleep soon after. Measured: 100 spins put a third of
 * queue_mpmc's time in this loop; 30 halved its time. glibc's adaptive
 * mutex and Go's runtime lock make the same bet. */
#define SPIN_LIMIT 30

bool weft__futex_spin_acquire(_Atomic uint32_t *word) {
  for (int i = 0; i < SPIN_LIMIT; i++) {
    weft__cpu_relax();
    uint32_t expected = 0;
    /* relaxed load first: spin on a shared cache line, not on RMWs.
     * acquire: pairs with the unlock's release. */
    if (atomic_load_explicit(word, memory_order_relaxed) == 0 &&
        atomic_compare_exchange_weak_explicit(word, &expected, 1, memory_order_acquire,
                                              memory_order_relaxed))
      return true;
  }
  return false;
}

void weft__mutex_lock_slow(struct weft__mutex *m) {
  if (weft__futex_spin_acquire(&m->word)) return;
  /* Mark the lock contended (2) and sleep until we take it as 2: we cannot
   * know whether other sleepers remain, so the unlocker must wake one.
   * acquire: pairs with the release exchange in weft__mutex_unlock. */
  while (atomic_exchange_explicit(&m->word, 2, memory_order_acquire) != 0)
    weft__futex_wait(&m->word, 2, 0);
}
