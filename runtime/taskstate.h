/*
 * taskstate.h - a one-worker loop's task states changed without a locked
 * instruction (owner sections, owner.h).
 *
 * Each suspension and each wake-up changes the task's state word with a
 * compare-and-swap (task.c's design comment), because a waker may be
 * another thread. With one worker the thread that does both is nearly
 * always that worker, and a locked instruction there costs more than the
 * change: it waits for the stores before it to drain; on the Intel VM
 * plain moves in their place (a probe that let other threads race) took
 * 0.11x off ping_pong's time with one worker (RESULTS.md, 2026-12-07
 * 18:45Z). So on a one-worker loop a
 * task's state is guarded the way its future is (futlock.h), by the
 * future's lock word:
 *
 *   - the loop's running worker changes it with a plain load and store in
 *     an owner section entered with that word free (its own, or the
 *     section it is already in: a completion in a section wakes the
 *     waiters of its loop there), else with the compare-and-swap;
 *   - every other thread (another loop's worker, a foreign, executor or
 *     offload thread, the dump) takes the task's future lock first
 *     (weft__futlock: the word, then it revokes sections unless they are
 *     off), makes its compare-and-swap, and unlocks.
 *
 * That is owner.h's pairing for a future, applied to one more field under
 * the same word: a thread that holds the word either saw sections OFF
 * before the worker could have armed them again (then the worker's later
 * look at the word sees it held, and swaps) or revoked them (then no
 * section is in progress and none begins before the worker arms them
 * again, which its look at the word then orders as before). What a
 * section wrote is seen by the next holder through the revocation's
 * acquire of `in` = 0, or the release that stored OFF.
 *
 * A wake-up by another thread never happens in a section (owner.h,
 * invariant 2: a section waits for nothing, and that wake-up may revoke
 * another loop's sections, waiting for them): a completion whose waiter is
 * a task of another loop takes its future's lock instead (future.c,
 * runs_no_hook), and sync/'s and the streams' sections wake nobody.
 *
 * Invariant: only the loop's running worker writes a task's state with a
 * plain store, and only inside a section entered (or already in progress)
 * with the state's future lock word free. Without membarrier(2), or with
 * several workers, sections are never on and every change swaps.
 */
#ifndef WEFT_RUNTIME_TASKSTATE_H
#define WEFT_RUNTIME_TASKSTATE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "owner.h"
#include "task.h"

/* How the worker may change a task's state now: with the swap, with plain
 * operations in the section it is already in, or in one it has entered
 * for this (weft__task_state_end leaves it). */
enum weft__tstate_way { WEFT__TSTATE_SWAP, WEFT__TSTATE_NESTED, WEFT__TSTATE_ENTERED };

/* On @o's running worker (@o: its one-worker loop's record, @t one of the
 * loop's tasks): how @t's state may be changed now. */
static inline enum weft__tstate_way weft__task_state_begin(struct weft__owner *o, struct weft_task *t) {
  _Atomic uint32_t *word = &t->fut.lock.word;
  /* relaxed: `in` is this thread's own store (revokers only read it). A
   * section already in progress was entered with `on` ON: the word is the
   * only look left (design comment). acquire: as try_enter_word's. */
  if (atomic_load_explicit(&o->in, memory_order_relaxed))
    return atomic_load_explicit(word, memory_order_acquire) == 0 ? WEFT__TSTATE_NESTED : WEFT__TSTATE_SWAP;
  return weft__owner_enter(o, word) ? WEFT__TSTATE_ENTERED : WEFT__TSTATE_SWAP;
}

static inline void weft__task_state_end(struct weft__owner *o, enum weft__tstate_way way) {
  if (way == WEFT__TSTATE_ENTERED) weft__owner_leave(o);
}

#endif
