/*
 * owner.h - owner sections: a worker's futures touched without a locked
 * instruction while no other thread touches them.
 *
 * Every await that waits and every completion takes its future's lock
 * (amutex.h): a compare-and-swap, ~5 ns on the development host, and on a
 * future whose line is not in this core's cache the swap also waits for
 * the line where a plain load would not stall what follows. With one
 * worker, the thread taking those locks is nearly always that worker:
 * futures are thread-safe, but other threads (foreign threads, executor
 * and offload threads, other loops' workers) touch a loop's futures
 * rarely, and most programs never do while it runs. So during a run of a
 * one-worker loop, while no other thread has locked one of its futures,
 * the worker takes none of their locks: what it would do under the lock
 * it does in an owner section, which costs two plain stores and two plain
 * loads. The first other thread to lock one of the loop's futures during
 * the run revokes this and waits for a section in progress to end; from
 * then on everyone locks, until the worker arms the sections again at a
 * pass that finds them revoked a hold later (weft__owner_pass, below).
 *
 * A record is a worker's: a one-worker loop's (loop->owner) covers all of
 * its futures, and its task states and primitives too (below); on a loop
 * of several workers each worker has its own (worker.h, `sections`),
 * which covers the plain futures its tasks make (future.h, futlock.h):
 * with message-passing tasks that stay on their worker (ping_pong with
 * two workers: 3 steals in 2,000,000 messages) nearly every await and
 * completion of such a future is its maker's worker's, and the lock
 * went to the other workers' rare touches, which revoke that worker's
 * sections as a foreign thread's do (another worker is another thread
 * here). Tasks' futures and states, combinators' futures and primitives
 * have no record on such a loop: they move with the tasks between
 * workers, and a record bound at their making would be another worker's
 * most of the time (measured: ping_pong with two workers 1.25x the time
 * with task states bound to their spawner's record, half its tasks being
 * stolen at the start; RESULTS.md, 2026-12-07 23:24Z).
 *
 * The hold: a revocation costs its thread a membarrier (~11 us on a
 * 2-vCPU VM with the worker running: an IPI) and one that finds a section
 * in progress a second one, so sections come back only once the loop has
 * run a while without them: weft__owner_rearm_min_ms (1 ms) after the
 * first pass that found them revoked, twice the last hold (up to
 * WEFT__OWNER_REARM_MAX_MS, 1 s) if they were revoked again within that
 * maximum of their arming. Other threads that keep touching the loop's
 * futures (run_in_executor's completions; to_thread's are made on the
 * worker, executor.c) so cost about one revocation a second (after ten
 * in the first second, as the hold doubles from 1 ms), and a lone one (a
 * stall report reading a task's name, one foreign completion, a start's
 * futures touched by the workers its tasks were stolen to) costs the
 * loop ~1 ms without sections, not the rest of its run: on the Intel VM
 * a locked instruction was ~10 ns against a section's ~2.5 (RESULTS.md,
 * 2026-12-05 23:43Z). The minimum was 10 ms until 2026-12-07: ping_pong
 * with two workers, whose start revokes the workers' sections two to
 * five times, spent much of its 65 ms run without them (1.08x the time
 * in one set of runs, level in another: RESULTS.md, 2026-12-07 23:24Z).
 *
 * The pair of orderings that makes this safe is asymmetric, as amutex.h's
 * unlock is (membarrier(2), MEMBARRIER_CMD_PRIVATE_EXPEDITED):
 *
 *   worker, entering:  store in = 1; compiler barrier; load on;
 *                      if ON and the future's lock word is 0: a section.
 *   revoker:           (holds the future's lock word) load on; unless
 *                      OFF: on = REVOKING; membarrier; wait until
 *                      in == 0; on = OFF.
 *
 * Either the worker's load of `on` sees the revocation (then it locks,
 * and meets the revoker's lock word), or the revoker, after the barrier,
 * sees the worker's `in` (then it waits for the section to end). Another
 * thread takes the lock word first and looks at `on` after, so a worker
 * entering a section while that thread holds the word sees the word set
 * (its look comes after its store of `in`, the other thread's after its
 * locked swap) and locks instead; a thread that took the word before the
 * run began saw `on` OFF and needs nothing more.
 *
 * Invariants:
 *  1. `on` is set ON only by the record's worker, while its run goes on
 *     and membarrier(2) works: at the start of the run, or from OFF at a
 *     pass (a re-arm: outside any section, as
 *     OFF allows none); and set OFF at the run's end (release: another
 *     thread that then reads OFF, acquire, sees every section's writes)
 *     or by a revocation (below). A re-arm is ordered as a run's start
 *     is (seq_cst, then a fence), so a thread that took a lock word and
 *     found OFF before it is seen by the worker's next section on that
 *     future, as one that found OFF before the run began is.
 *  2. A section is entered only with `on` ON and the future's lock word
 *     0, lasts no longer than the work done under the lock would (no
 *     fiber switch, no user code, no other future's lock inside one, and
 *     nothing that could wait for a revocation: a section on a loop of
 *     several workers wakes its loop's tasks with their states' swaps and
 *     queues them, and nobody holds a queue's or the idle set's lock while
 *     taking a future's), and stores in = 0 (release: the revoker's
 *     acquire load of it sees the section's writes) when it ends. So a
 *     revocation, which waits only for a section in progress, never waits
 *     for a thread that waits for it, even when two workers revoke each
 *     other.
 *  3. Every thread that is not the record's running worker, after taking a
 *     future's lock word, revokes unless it finds `on` OFF, before it reads
 *     or writes what the lock guards (weft__futlock, futlock.h); and
 *     whoever frees a future that is not a task's does the same first (a
 *     completer holding no reference may still be in a section on it; a
 *     section on a task's future is always taken by a holder of a
 *     reference, whose release orders it before the free).
 *  4. Revocations are serialized (`mu`), and `on` reads OFF to another
 *     thread only once no section can be in progress: a revocation sets
 *     REVOKING, and OFF (release) only after its wait; a thread that
 *     finds REVOKING revokes too (waits for `mu`). Otherwise a second
 *     thread, finding `on` clear while the first still waited, could free
 *     a future the section still touched.
 *  5. A record is never freed: weft__owner_get hands out one made before
 *     (pooled by weft__owner_put when its loop is freed) or a new one, so
 *     a pointer to a record stays valid for the life of the process. A
 *     primitive bound to a record (home.h) may outlive its loop: its
 *     record then reads OFF, or belongs to a later loop, whose worker's
 *     sections it then serves by the same rules.
 * Without membarrier(2) (old kernels, sandboxes, valgrind) `on` is never
 * ON and every future is locked, as before.
 *
 * A task's state is guarded by its future's lock word the same way
 * (taskstate.h): the worker moves it with plain operations in a section,
 * every other thread under the task's future lock. Such a thread's
 * wake-up never happens inside a section of its own (it may revoke).
 *
 * Primitives (Lock, Semaphore, ring Queue) use the same sections through
 * home.h: a primitive is bound to the record of the one-worker loop whose
 * task first changed it, and every other thread unbinds it (for good) and
 * settles before it changes it. Task states and primitives have sections
 * on one-worker loops only (above).
 */
#ifndef WEFT_RUNTIME_OWNER_H
#define WEFT_RUNTIME_OWNER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "amutex.h"
#include "mutex.h"

/* `on`: sections allowed; a revocation under way (cleared, the section
 * in progress not yet waited out: other threads must wait for it too,
 * invariant 4); neither. */
enum weft__owner_state { WEFT__OWNER_OFF = 0, WEFT__OWNER_ON = 1, WEFT__OWNER_REVOKING = 2 };

struct weft__owner {
  /* The worker's line: `in` written twice a section, `on` and `waiting`
   * read once each. Other threads write them only while revoking (and
   * read `on` when they take a lock word of the record's: then sections
   * are off, and the worker writes `in` no more until it arms them). */
  _Atomic uint32_t in;      /* 1 while the worker is in a section */
  _Atomic uint32_t waiting; /* a revoker sleeps on `in` */
  _Atomic uint8_t on;       /* enum weft__owner_state (above) */
  struct weft__mutex mu;    /* serializes revocations (invariant 4) */
  struct weft__owner *next; /* in the pool (weft__owner_put); under its lock */
  /* The re-arm's bookkeeping (weft__owner_pass), the worker's own, in
   * coarse ms: when sections were last armed, when a pass first found
   * them revoked since (off_seen), and the hold before the next arming. */
  uint32_t armed_ms, off_ms, hold_ms;
  bool off_seen;
  /* Revocations that turned sections off since the record was handed to
   * its loop (weft_loop_stats.owner_revocations); relaxed: a statistic. */
  _Atomic uint64_t revocations;
};

/* The hold's bounds (design comment); the minimum is a variable so that
 * tests can re-arm at every other pass (0). */
extern uint32_t weft__owner_rearm_min_ms;
#define WEFT__OWNER_REARM_MIN_MS 1
#define WEFT__OWNER_REARM_MAX_MS 1000

/* A record for a new loop (invariant 5): OFF, no section, no revoker
 * waiting. NULL: out of memory. Threads: any. */
struct weft__owner *weft__owner_get(void);
/* Gives @o back to the pool as its loop is freed (its runs ended: OFF). */
void weft__owner_put(struct weft__owner *o);

/* The record's worker as its run begins and ends (worker.c);
 * @now_ms: the coarse clock (the hold's start). */
void weft__owner_run_begins(struct weft__owner *o, uint32_t now_ms);
void weft__owner_run_ends(struct weft__owner *o);

/* weft__owner_pass's out-of-line part: sections found OFF at a pass. */
void weft__owner_off_at_pass(struct weft__owner *o, uint32_t now_ms);

/* The record's worker at each pass (worker.c, pass_begins;
 * @now_ms its coarse clock): arms sections again once they have been
 * revoked a hold (design comment). One relaxed load of the worker's own
 * line while they are on; REVOKING (a revocation under way) waits. */
static inline void weft__owner_pass(struct weft__owner *o, uint32_t now_ms) {
  /* relaxed: only this thread sets OFF -> ON, and a stale ON or REVOKING
   * only puts the look off to the next pass. Without membarrier (the
   * flag, relaxed as in run_begins) `on` stays OFF and nothing is done. */
  if (__builtin_expect(atomic_load_explicit(&o->on, memory_order_relaxed) == WEFT__OWNER_OFF, 0) &&
      atomic_load_explicit(&weft__amutex_asymmetric, memory_order_relaxed))
    weft__owner_off_at_pass(o, now_ms);
}

/* Revokes sections (invariant 3): for a thread that is not the running
 * worker of @o and holds a lock word of @o's (a future's), or frees one.
 * Returns once no section is in progress and none can begin before the
 * worker arms them again (weft__owner_pass). */
void weft__owner_revoke(struct weft__owner *o);

/* Wakes a revoker waiting for a section to end; out of line (rare). The
 * _ret form returns @rc, for a tail call. */
void weft__owner_wake(struct weft__owner *o);
int weft__owner_wake_ret(struct weft__owner *o, int rc);

/* Ends a section (or the entry weft__owner_try_enter gave up) and returns
 * @rc, so that a caller that returns right after makes the rare wake-up a
 * tail call (a fast path without a stack frame: sync/home.h). */
/* Ends the section on @o; true if a revoker waits for that (the caller
 * then wakes it: weft__owner_wake_ret). For a fast path whose own tail
 * call follows; others use weft__owner_leave_ret. */
static inline bool weft__owner_end(struct weft__owner *o) {
  /* release: a revoker's acquire load of `in` sees the section's writes. */
  atomic_store_explicit(&o->in, 0, memory_order_release);
  /* The light side of the wake-up's pair: the store before the look
   * (the revoker's second membarrier, owner.c). */
  atomic_signal_fence(memory_order_seq_cst);
  return __builtin_expect(atomic_load_explicit(&o->waiting, memory_order_relaxed) != 0, 0);
}

static inline int weft__owner_leave_ret(struct weft__owner *o, int rc) {
  if (weft__owner_end(o)) return weft__owner_wake_ret(o, rc);
  return rc;
}

static inline void weft__owner_leave(struct weft__owner *o) { (void)weft__owner_leave_ret(o, 0); }

/* The entry's pair (design comment) on the loop's worker, its undo left
 * to the caller: NOT_IN (sections off: nothing set), IN (in a section,
 * unless the caller's own look says otherwise: then weft__owner_leave),
 * GAVE_UP (`in` set, but a revocation came: weft__owner_leave). */
enum weft__owner_entry { WEFT__OWNER_NOT_IN, WEFT__OWNER_IN, WEFT__OWNER_GAVE_UP };

static inline enum weft__owner_entry weft__owner_try_enter(struct weft__owner *o) {
  /* relaxed: a look that avoids the store below once revoked; the Dekker
   * look is the second one. */
  if (atomic_load_explicit(&o->on, memory_order_relaxed) != WEFT__OWNER_ON) return WEFT__OWNER_NOT_IN;
  /* relaxed store, compiler barrier, relaxed load: the light side of the
   * asymmetric pair (design comment); the revoker's membarrier orders it. */
  atomic_store_explicit(&o->in, 1, memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst);
  if (__builtin_expect(atomic_load_explicit(&o->on, memory_order_relaxed) == WEFT__OWNER_ON, 1))
    return WEFT__OWNER_IN;
  return WEFT__OWNER_GAVE_UP;
}

/* weft__owner_enter without its undo, for a fast path that must make no
 * call (its undo then goes out of line): IN (entered, @word free),
 * NOT_IN, or GAVE_UP (`in` set but no section may run: weft__owner_leave,
 * then lock as usual). */
static inline enum weft__owner_entry weft__owner_try_enter_word(struct weft__owner *o,
                                                                _Atomic uint32_t *word) {
  enum weft__owner_entry e = weft__owner_try_enter(o);
  /* acquire on the word: a thread that held it before unlocked with a
   * release store, and its critical section happens before ours. */
  if (__builtin_expect(e == WEFT__OWNER_IN && atomic_load_explicit(word, memory_order_acquire) == 0, 1))
    return WEFT__OWNER_IN;
  return e == WEFT__OWNER_NOT_IN ? WEFT__OWNER_NOT_IN : WEFT__OWNER_GAVE_UP;
}

/* Enters a section for a future whose lock word is @word, on the loop's
 * worker: true if entered (leave with weft__owner_leave), false if the
 * caller must lock as usual. */
static inline bool weft__owner_enter(struct weft__owner *o, _Atomic uint32_t *word) {
  enum weft__owner_entry e = weft__owner_try_enter_word(o, word);
  if (__builtin_expect(e == WEFT__OWNER_IN, 1)) return true;
  if (e == WEFT__OWNER_GAVE_UP) weft__owner_leave(o);
  return false;
}

#endif
