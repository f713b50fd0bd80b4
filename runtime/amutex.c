/*
 * amutex.c - the sleeping side of the asymmetric futex mutex (amutex.h):
 * spinning, counting itself a sleeper, the process-wide barrier, and the
 * one-time membarrier(2) registration that lets unlocks skip their fence.
 *
 * Invariants: weft__amutex_asymmetric becomes true only after this
 * process registered for MEMBARRIER_CMD_PRIVATE_EXPEDITED, and every
 * sleeper, between counting itself and its first look at the lock word
 * that may lead to a futex wait, has registered (or found registration
 * impossible) through the same once: so an unlock that skips its fence
 * never meets a sleeper that did not run membarrier. (The spin phase
 * before it only takes a free lock; it never waits.)
 */
#include "amutex.h"
#include "clock.h"
#include "membarrier.h"

#include <pthread.h>

_Atomic uint32_t weft__amutex_sleepers[WEFT__AMUTEX_BUCKETS];
_Atomic bool weft__amutex_asymmetric;

static pthread_once_t registered = PTHREAD_ONCE_INIT;

static void register_membarrier(void) {
  /* relaxed: pthread_once orders this for every sleeper (they all pass
   * through the once first); unlocks read it relaxed and a stale false
   * only makes them fence. */
  if (weft__membarrier_available())
    atomic_store_explicit(&weft__amutex_asymmetric, true, memory_order_relaxed);
}

void weft__amutex_setup(void) { pthread_once(&registered, register_membarrier); }

/* The heavy side of the barrier pair (amutex.h). False if the pair may
 * not hold: registered, but the barrier itself failed (the kernel could
 * not allocate its CPU mask: -ENOMEM), when unlocks may already skip
 * their fence. */
static bool heavy_barrier(void) {
  weft__amutex_setup();
  /* Without membarrier, the seq_cst increment and look at the word are
   * the barrier (the symmetric Dekker pattern, amutex.h). */
  if (!atomic_load_explicit(&weft__amutex_asymmetric, memory_order_relaxed)) return true;
  return weft__membarrier() == 0;
}

/* Justification: only where membarrier failed after registration, a wake-up
 * may be lost; the sleeper then looks again every millisecond rather than
 * waiting for a wake that may not come. */
#define UNSURE_WAIT_NS 1000000ull

void weft__amutex_lock_slow(struct weft__amutex *m) {
  if (weft__futex_spin_acquire(&m->word)) return;
  _Atomic uint32_t *sleepers = weft__amutex_bucket(m);
  /* seq_cst: with membarrier, the heavy barrier right after orders it
   * before our look at the word; without, seq_cst itself does (amutex.h). */
  atomic_fetch_add_explicit(sleepers, 1, memory_order_seq_cst);
  bool sure = heavy_barrier();
  for (;;) {
    uint32_t expected = 0;
    /* seq_cst: the look at the word of the fallback's pattern (and
     * acquire, which pairs with the unlock's release store). */
    if (atomic_compare_exchange_strong_explicit(&m->word, &expected, 1, memory_order_seq_cst,
                                                memory_order_seq_cst))
      break;
    /* Returns at once if the word is no longer 1. */
    weft__futex_wait(&m->word, 1, sure ? 0 : weft__clock_ns() + UNSURE_WAIT_NS);
  }
  /* relaxed: leaving early only costs an unlocker a needless wake;
   * nobody relies on seeing it. */
  atomic_fetch_sub_explicit(sleepers, 1, memory_order_relaxed);
}
