/*
 * idle.h - which workers are searching for work and which are asleep.
 * The protocol and its proof sketch are in idle.c.
 */
#ifndef WEFT_RUNTIME_IDLE_H
#define WEFT_RUNTIME_IDLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "mutex.h"

struct weft__worker;

enum {
  WEFT__IDLE_AWAKE = 0,
  WEFT__IDLE_ASLEEP = 1,
  WEFT__IDLE_WOKEN_SEARCHING = 2,
  /* A standby worker (adapt.h) asleep: not a sleeper, counted unparked, so
   * that notifiers neither pick it nor take the lock because of it. */
  WEFT__IDLE_STANDBY = 3,
};

struct weft__idle {
  /* (unparked << 16) | searching. Read without the lock on hot paths. */
  _Atomic uint32_t state;
  unsigned nworkers;
  struct weft__mutex lock;
  unsigned *sleepers;  /* stack of parked worker indices; protected by lock */
  unsigned nsleepers;  /* protected by lock */
  /* wstate[i]: WEFT__IDLE_AWAKE, _ASLEEP (in sleepers), _WOKEN_SEARCHING
   * (a notifier took it out and counted it as searching) or _STANDBY (a
   * standby worker asleep, not in sleepers); protected by lock. */
  uint8_t *wstate;
};

/* The state word's two halves. */
#define WEFT__IDLE_SEARCH_MASK 0xFFFFu
#define WEFT__IDLE_UNPARK_ONE (1u << 16)
static inline unsigned weft__idle_n_searching(uint32_t s) { return s & WEFT__IDLE_SEARCH_MASK; }
static inline unsigned weft__idle_n_unparked(uint32_t s) { return s >> 16; }

/* Whether, by state word @s, notifying could wake anybody: a worker
 * sleeps and none searches (rule 2, idle.c). */
static inline bool weft__idle_would_wake(const struct weft__idle *idle, uint32_t s) {
  return weft__idle_n_searching(s) == 0 && weft__idle_n_unparked(s) < idle->nworkers;
}

/* The same by a look without ordering (relaxed), for pushes outside the
 * protocol's total order (runq.h, weft__runq_try_push_requeue), which
 * then call weft__idle_worker_to_notify. */
static inline bool weft__idle_may_notify(struct weft__idle *idle) {
  return weft__idle_would_wake(idle, atomic_load_explicit(&idle->state, memory_order_relaxed));
}

int weft__idle_init(struct weft__idle *idle, unsigned nworkers);
void weft__idle_fini(struct weft__idle *idle);
void weft__idle_reset(struct weft__idle *idle); /* every worker awake, none searching */

bool weft__idle_transition_to_searching(struct weft__idle *idle);
/* Returns true if the caller was the last searcher (it must then notify). */
bool weft__idle_transition_from_searching(struct weft__idle *idle);
/* Announces that worker @w will sleep. Returns true if it was the last searcher. */
bool weft__idle_transition_to_parked(struct weft__idle *idle, unsigned w, bool searching);
/* Announces that standby worker @w will sleep: claimable (claim_worker,
 * claim_all) but never picked by a notifier. Returns true if it was the
 * last searcher (the caller must then notify). */
bool weft__idle_standby_park(struct weft__idle *idle, unsigned w, bool searching);
/* After waking: true if a notifier woke @w as a searcher, false otherwise. */
bool weft__idle_transition_from_parked(struct weft__idle *idle, unsigned w);

/* Picks a sleeping worker to wake when work was queued and nobody searches;
 * returns its index or -1. The caller unparks it. */
int weft__idle_worker_to_notify(struct weft__idle *idle);
/* Takes worker @w out of the sleepers (if there, or asleep as a standby)
 * so it can be unparked for work only it may run, or to look at its role;
 * returns true if it was asleep. */
bool weft__idle_claim_worker(struct weft__idle *idle, unsigned w);
/* Takes every sleeper and sleeping standby out; returns how many indices
 * were written to @out (at most nworkers). */
unsigned weft__idle_claim_all(struct weft__idle *idle, unsigned *out);

#endif
