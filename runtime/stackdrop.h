/*
 * stackdrop.h (private) - the pages below long-suspended tasks' stack
 * pointers go back to the kernel.
 *
 * A stack keeps every page its task ever touched. A handler that once went
 * 40 KiB deep (a parse, a handshake, a query plan) and then waits for its
 * connection's next request holds ten pages where its suspension needs one
 * or two, for as long as it waits: 10,000 such idle connections hold
 * 400 MiB. Go shrinks a goroutine's stack at a collection; a Tokio future
 * holds only what lives across its awaits. Here idle workers walk the
 * task registry, a piece at a time, and give back the pages wholly below
 * the saved stack pointer of each task suspended for at least
 * WEFT__STACK_DECAY_NS (the epoch free stacks decay over: stack.h), once
 * per suspension. A task that goes deep again gets zero-filled pages back
 * on touch (a fault each), as a task on a trimmed free stack does.
 *
 * Invariants:
 *  1. Pages are given back only below the saved stack pointer of a task
 *     this thread holds (task.h: IDLE -> SCHEDULED), so the task cannot
 *     run, end or give its stack back meanwhile, and nothing it needs lies
 *     there (fiber.h). A task running an inline child is never IDLE, and an
 *     inline child has no stack of its own: neither is touched.
 *  2. At most one idle walk is in progress per loop (busy); its cursor
 *     and the two begin times are written by the walker only, while it
 *     holds busy. A pass is in progress exactly while last_begin_ns >
 *     done_begin_ns.
 *  3. A stack's drop_tag names the suspension whose pages went back (the
 *     task's slice count and id, stackdrop.c), so a walk skips what an
 *     earlier one already gave back; a collision only skips a drop.
 *  4. A pass (one walk over the whole registry) begins at most once an
 *     epoch, and only while some worker ran a task since an epoch before
 *     the last completed pass began: a loop with nothing suspended since
 *     walks nothing.
 *  5. Nothing here runs with cfg.track_stack_use, whose measurement reads
 *     which pages are resident.
 *
 * Cost: a piece takes the registry as a visitor (registry.h: a membarrier
 * where the asymmetric fence is on) for at most DROP_SLOTS slots, holds up
 * to DROP_HELD tasks, and makes one madvise per held task outside the
 * registry's locks; a task suspended across it waits that long for its
 * wake-up to run. The syscall finds nothing to free for a task that never
 * went deep (no TLB shootdown then).
 */
#ifndef WEFT_RUNTIME_STACKDROP_H
#define WEFT_RUNTIME_STACKDROP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct weft_loop;
struct weft_task;
struct weft__worker;

struct weft__stackdrop {
  /* Invariant 2. acquire/release order the walker's fields between
   * walkers. */
  _Atomic bool busy;
  uint64_t cursor;        /* where the pass in progress goes on (registry.h) */
  /* When the latest pass began, and when the latest completed one did
   * (invariant 2; relaxed: also hints a parking worker reads to decide
   * whether to wake for a pass). */
  _Atomic uint64_t last_begin_ns;
  _Atomic uint64_t done_begin_ns;
  /* When a worker last saw tasks run since its previous look, to the
   * millisecond (relaxed: a maximum kept by plain stores; a lost update
   * only delays a pass). */
  _Atomic uint64_t active_ns;
  _Atomic uint64_t bytes; /* given back since the loop was made (relaxed: a statistic) */
};

/* A worker's own view (struct weft__worker.drop). */
struct weft__stackdrop_seen {
  uint64_t own;        /* its own slice count at its last park */
  uint64_t polled;     /* the sum of the workers' slice counts at its last look */
  uint64_t looked_ns;  /* when it last looked (looks are at most every DROP_LOOK_NS) */
};

void weft__stackdrop_init(struct weft__stackdrop *d, uint64_t now_ns);

/* Tests only (test_stackdrop.c): called with each task the walk holds,
 * before its pages go, e.g. to wake it while it is held. NULL otherwise. */
extern void (*weft__stackdrop_held_hook)(struct weft_task *t);

/* From a worker about to park (worker.c's park_worker, where a timer is
 * not close): takes note of tasks that ran since its last look and, if a
 * pass is due, walks a piece of it. True when it walked a piece and more
 * remains, or a task it held was woken meanwhile (queued on this worker
 * with no wake-up: task.h): the caller looks for work before it parks, as
 * after a trim batch. *@wake_ns: 0, or when a pass falls due that this
 * worker should wake for. */
bool weft__stackdrop_idle(struct weft__worker *w, uint64_t now_ns, uint64_t *wake_ns);

/* weft_loop_trim's part: a whole walk at once, every suspended task
 * whatever its age. Any thread. Returns the bytes given back. */
size_t weft__stackdrop_all(struct weft_loop *loop);

#endif
