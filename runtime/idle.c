/*
 * idle.c - the searching/sleeping protocol of the workers (Tokio's idle.rs,
 * Go's "spinning M" rules in proc.go).
 *
 * Rules:
 *  1. At most half the workers search (steal) at once: more only burns CPU
 *     and contends on victims' rings.
 *  2. When work is queued somewhere others could take it, a sleeper is woken
 *     only if nobody is searching (a searcher will find it) and somebody
 *     sleeps. The woken worker starts as a searcher, so a burst of pushes
 *     wakes one worker, not all of them (no thundering herd).
 *  3. A searcher that finds work stops searching; if it was the last
 *     searcher and work is left that another worker could take, it wakes
 *     another, so work keeps spreading while it lasts (worker.c,
 *     end_search: its look at the queues comes after its RMW, both seq_cst,
 *     so a push that skipped its notify because of it is seen or saw it
 *     stop).
 *  4. A worker going to sleep first announces it (transition_to_parked),
 *     then re-checks every queue, and only then sleeps.
 *
 * No lost wake-ups: the pusher does (a) store the work, (b) read state; the
 * parker does (c) RMW state, (d) read every queue. All four are seq_cst (the
 * queue stores in runq.c/inject.c, the state load in notify, the RMW here,
 * and the re-check's loads: inject.c's len and runq.c's steal path, which
 * the re-check goes through), so in the single total order
 * either (b) follows (c), and the pusher sees the parker asleep and wakes
 * somebody, or (d) follows (a), and the parker sees the work. Acquire/release
 * is not enough: both sides are store-then-load (Dekker), which needs
 * StoreLoad ordering.
 *
 * One push is outside that order on purpose: a task requeued on its own
 * worker after a yield (or a wake during its slice), through
 * weft__runq_try_push_requeue and a relaxed look (weft__idle_may_notify).
 * A worker going to sleep may miss that push while the pusher misses the
 * sleeper. Nothing is stranded: the task ran on the pusher a moment ago,
 * and the pusher, awake, runs its ring before it sleeps; the task count
 * did not grow. What the race can cost is parallelism, until the pusher's
 * next push: its next requeue looks again, any other push goes through
 * the protocol. The full fence it saves was 19% of a yield with two
 * workers (benchmarks/RESULTS.md, 2026-12-02 18:57Z). And a requeue looks
 * only when there is something to share: more than the task itself queued
 * on its worker (ring and LIFO slot), as Tokio's should_notify_others
 * asks; a lone task yielding woke a sleeper every few yields, which found
 * nothing to take or stole the task back and forth (2026-12-05). The peers never
 * notify for a yield at all: Tokio 1.24 defers a yielded task's wake-up
 * until its worker parks, Go 1.19's Gosched puts the goroutine on the
 * global queue without waking anybody.
 *
 * And one look leaves work it sees on purpose: a parker's re-check that
 * finds only a short ring on a worker running a task, which begins other
 * slices while it is watched, leaves that ring to it (worker.c,
 * "Stealing"). That worker is awake and runs it; should it stay in one
 * long slice instead, the parker looks again within 0.5 ms (its park has
 * that deadline), so the work waits at most that long for a thief.
 *
 * The state word is only a summary for the lock-free fast path; the sleeper
 * set and every change to it happen under the lock.
 *
 * Standby workers (adapt.h: the loop runs on fewer workers while its
 * threads wait for CPUs) sleep outside this protocol: wstate STANDBY, not
 * in sleepers, counted unparked. A notifier never wakes one for shared
 * work (it may not take any), and its sleep does not make notifiers take
 * the lock; claim_worker and claim_all wake it like a sleeper (pinned
 * work, a change of role, the stop).
 *
 * Invariants (under the lock; idle_ok() checks them after every change):
 * the unparked count plus the sleepers is nworkers (the unparked half of
 * the word changes only under the lock); sleepers holds distinct workers,
 * exactly those whose wstate is ASLEEP.
 */
#include "idle.h"
#include "alloc.h"
#include "invariant.h"

#include <string.h>

WEFT__CHECKER bool idle_ok(const struct weft__idle *idle) {
  uint32_t s = atomic_load_explicit(&idle->state, memory_order_relaxed);
  if (idle->nsleepers > idle->nworkers ||
      weft__idle_n_unparked(s) + idle->nsleepers != idle->nworkers)
    return false;
  unsigned asleep = 0;
  for (unsigned w = 0; w < idle->nworkers; w++) asleep += idle->wstate[w] == WEFT__IDLE_ASLEEP;
  if (asleep != idle->nsleepers) return false;
  for (unsigned i = 0; i < idle->nsleepers; i++) /* all ASLEEP and as many: distinct */
    if (idle->sleepers[i] >= idle->nworkers || idle->wstate[idle->sleepers[i]] != WEFT__IDLE_ASLEEP)
      return false;
  return true;
}

int weft__idle_init(struct weft__idle *idle, unsigned nworkers) {
  idle->nworkers = nworkers;
  weft__mutex_init(&idle->lock);
  idle->sleepers = weft__calloc(nworkers * sizeof(unsigned));
  idle->wstate = weft__calloc(nworkers);
  if (!idle->sleepers || !idle->wstate) {
    weft__idle_fini(idle);
    return -1;
  }
  weft__idle_reset(idle);
  return 0;
}

void weft__idle_fini(struct weft__idle *idle) {
  weft__free(idle->sleepers, idle->nworkers * sizeof(unsigned));
  weft__free(idle->wstate, idle->nworkers);
  idle->sleepers = NULL;
  idle->wstate = NULL;
}

void weft__idle_reset(struct weft__idle *idle) {
  weft__mutex_lock(&idle->lock);
  idle->nsleepers = 0;
  memset(idle->wstate, WEFT__IDLE_AWAKE, idle->nworkers);
  atomic_store_explicit(&idle->state, idle->nworkers << 16, memory_order_seq_cst);
  WEFT__INVARIANT(idle_ok(idle));
  weft__mutex_unlock(&idle->lock);
}

bool weft__idle_transition_to_searching(struct weft__idle *idle) {
  uint32_t s = atomic_load_explicit(&idle->state, memory_order_seq_cst);
  if (2 * weft__idle_n_searching(s) >= idle->nworkers) return false;
  /* The check and the increment race; at worst one extra searcher, as in
   * Tokio. seq_cst: part of the state's total order (design comment). */
  atomic_fetch_add_explicit(&idle->state, 1, memory_order_seq_cst);
  return true;
}

bool weft__idle_transition_from_searching(struct weft__idle *idle) {
  uint32_t prev = atomic_fetch_sub_explicit(&idle->state, 1, memory_order_seq_cst);
  return weft__idle_n_searching(prev) == 1;
}

bool weft__idle_transition_to_parked(struct weft__idle *idle, unsigned w, bool searching) {
  weft__mutex_lock(&idle->lock);
  uint32_t dec = WEFT__IDLE_UNPARK_ONE + (searching ? 1u : 0u);
  /* seq_cst: step (c) of the no-lost-wake-up argument. */
  uint32_t prev = atomic_fetch_sub_explicit(&idle->state, dec, memory_order_seq_cst);
  idle->sleepers[idle->nsleepers++] = w;
  idle->wstate[w] = WEFT__IDLE_ASLEEP;
  WEFT__INVARIANT(idle_ok(idle));
  weft__mutex_unlock(&idle->lock);
  return searching && weft__idle_n_searching(prev) == 1;
}

bool weft__idle_standby_park(struct weft__idle *idle, unsigned w, bool searching) {
  weft__mutex_lock(&idle->lock);
  uint32_t prev = searching ? atomic_fetch_sub_explicit(&idle->state, 1, memory_order_seq_cst) : 0;
  idle->wstate[w] = WEFT__IDLE_STANDBY;
  WEFT__INVARIANT(idle_ok(idle));
  weft__mutex_unlock(&idle->lock);
  return searching && weft__idle_n_searching(prev) == 1;
}

static void remove_sleeper_locked(struct weft__idle *idle, unsigned w) {
  for (unsigned i = 0; i < idle->nsleepers; i++) {
    if (idle->sleepers[i] == w) {
      idle->sleepers[i] = idle->sleepers[--idle->nsleepers];
      break;
    }
  }
  idle->wstate[w] = WEFT__IDLE_AWAKE;
}

bool weft__idle_transition_from_parked(struct weft__idle *idle, unsigned w) {
  weft__mutex_lock(&idle->lock);
  uint8_t st = idle->wstate[w];
  if (st == WEFT__IDLE_ASLEEP) {
    /* Woken by its deadline or a spurious return, not by a notifier. */
    remove_sleeper_locked(idle, w);
    atomic_fetch_add_explicit(&idle->state, WEFT__IDLE_UNPARK_ONE, memory_order_seq_cst);
  }
  idle->wstate[w] = WEFT__IDLE_AWAKE;
  WEFT__INVARIANT(idle_ok(idle));
  weft__mutex_unlock(&idle->lock);
  return st == WEFT__IDLE_WOKEN_SEARCHING;
}

int weft__idle_worker_to_notify(struct weft__idle *idle) {
  uint32_t s = atomic_load_explicit(&idle->state, memory_order_seq_cst); /* step (b) */
  if (!weft__idle_would_wake(idle, s)) return -1;
  weft__mutex_lock(&idle->lock);
  s = atomic_load_explicit(&idle->state, memory_order_relaxed); /* stable under the lock */
  int w = -1;
  if (weft__idle_n_searching(s) == 0 && idle->nsleepers > 0) {
    w = (int)idle->sleepers[--idle->nsleepers];
    idle->wstate[w] = WEFT__IDLE_WOKEN_SEARCHING;
    /* The woken worker counts as unparked and searching from now on. */
    atomic_fetch_add_explicit(&idle->state, WEFT__IDLE_UNPARK_ONE + 1, memory_order_seq_cst);
  }
  WEFT__INVARIANT(idle_ok(idle));
  weft__mutex_unlock(&idle->lock);
  return w;
}

bool weft__idle_claim_worker(struct weft__idle *idle, unsigned w) {
  weft__mutex_lock(&idle->lock);
  bool was = idle->wstate[w] == WEFT__IDLE_ASLEEP;
  if (was) {
    remove_sleeper_locked(idle, w);
    atomic_fetch_add_explicit(&idle->state, WEFT__IDLE_UNPARK_ONE, memory_order_seq_cst);
  } else if (idle->wstate[w] == WEFT__IDLE_STANDBY) {
    idle->wstate[w] = WEFT__IDLE_AWAKE; /* counted unparked all along */
    was = true;
  }
  WEFT__INVARIANT(idle_ok(idle));
  weft__mutex_unlock(&idle->lock);
  return was;
}

unsigned weft__idle_claim_all(struct weft__idle *idle, unsigned *out) {
  weft__mutex_lock(&idle->lock);
  unsigned n = idle->nsleepers;
  for (unsigned i = 0; i < n; i++) {
    out[i] = idle->sleepers[i];
    idle->wstate[out[i]] = WEFT__IDLE_AWAKE;
  }
  idle->nsleepers = 0;
  atomic_fetch_add_explicit(&idle->state, n * WEFT__IDLE_UNPARK_ONE, memory_order_seq_cst);
  unsigned total = n;
  for (unsigned w = 0; w < idle->nworkers; w++)
    if (idle->wstate[w] == WEFT__IDLE_STANDBY) {
      idle->wstate[w] = WEFT__IDLE_AWAKE;
      out[total++] = w;
    }
  WEFT__INVARIANT(idle_ok(idle));
  weft__mutex_unlock(&idle->lock);
  return total;
}
