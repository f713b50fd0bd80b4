/*
 * handle.h (private) - a scheduled callback (asyncio's Handle/TimerHandle),
 * also used for future done callbacks.
 */
#ifndef WEFT_RUNTIME_HANDLE_H
#define WEFT_RUNTIME_HANDLE_H

#include <stdatomic.h>
#include "weft.h"
#include "future.h"
#include "runnable.h"
#include "timer.h"

/* INTERNAL: weft's own call_soon (weft__call_soon_internal), which runs
 * while the loop closes too; user callbacks do not (asyncio's close drops
 * them). */
enum weft__handle_kind { WEFT__H_SOON = 1, WEFT__H_TIMER = 2, WEFT__H_DONE = 3, WEFT__H_INTERNAL = 4 };
enum weft__handle_state { WEFT__H_PENDING = 0, WEFT__H_CANCELLED = 1, WEFT__H_RAN = 2 };

struct weft_handle {
  struct weft__runnable r;
  /* One reference for whoever holds it in a queue, a timer heap or a
   * future's entries ("the scheduler"), plus one if the user asked for it. */
  _Atomic uint32_t refs;
  _Atomic uint32_t state;       /* PENDING -> CANCELLED or RAN, once (CAS) */
  uint8_t kind;                 /* immutable */
  weft_callback_fn cb;          /* SOON, TIMER */
  weft_future_cb fcb;           /* DONE */
  void *arg;
  struct weft_future *fut;      /* DONE: the future, referenced */
  struct weft_loop *loop;
  struct weft__ctx_map *ctx_map; /* the context current when it was made (owned) */
  struct weft__timer timer;     /* TIMER */
  uint64_t when_ns;             /* TIMER: the deadline, immutable */
  struct weft__done_entry entry; /* DONE: in fut->entries until completion */
  WEFT__MAGIC                    /* debug builds: misuse.h */
};

struct weft_handle *weft__handle_new_done(struct weft_future *f, weft_future_cb cb, void *arg);
/* Queues a done-callback handle on its future's loop (takes the entry's reference). */
void weft__handle_schedule_done(struct weft_handle *h);
/* Drops a handle that will never be queued (removed callback). */
void weft__handle_discard(struct weft_handle *h);
/* call_soon_threadsafe for weft's own bookkeeping that must happen even
 * while the loop closes (a TaskGroup counting out a failed child): runs
 * then too. Returns 0, WEFT_ECLOSED (closed: no task is left to care) or
 * -ENOMEM. Any thread. */
int weft__call_soon_internal(struct weft_loop *loop, weft_callback_fn cb, void *arg);
/* An internal callback embedded in a runtime object that needs one callback
 * in asyncio's place (a combinator's look at a child on a one-worker loop in
 * FIFO order: gather.c, wait.c, as_completed.c, taskgroup.c, shield.c): no
 * allocation, no reference count, no cancellation, no context. Queued at
 * most once at a time (its object's rule), with weft__call_soon_internal's
 * place in the queue; it runs while the loop closes too; one still queued
 * at teardown is dropped without running (close has run the loop dry, so
 * none is), unless it was queued by weft__call_queue_sure. Its object must
 * stay alive until @fn has run. */
struct weft__call {
  struct weft__runnable r;
  void (*fn)(struct weft__call *c);
  bool sure; /* runs at teardown too, on the closing thread (below) */
};
/* Queues @c on @loop to run @fn(c) (any thread): true; false if @loop is
 * closed (nothing queued: the caller does the work itself). */
bool weft__call_queue(struct weft_loop *loop, struct weft__call *c, void (*fn)(struct weft__call *c));
/* weft__call_queue for a call whose object nothing else would free: one
 * queued by a thread that is not the loop's (an executor's, completing a
 * call on the worker) can find no task left to run the loop dry for it
 * (the task that awaited it was cancelled), so if it is still queued at
 * teardown, @fn runs there, on the closing thread, with the loop closed
 * and no worker running: it may only complete futures nobody awaits
 * any more and release references. */
bool weft__call_queue_sure(struct weft_loop *loop, struct weft__call *c, void (*fn)(struct weft__call *c));
/* weft__call_queue for @c embedded in an object counted by @refs, whose
 * callback gives that reference back once it has run: the reference is
 * taken first (the callback may run at once on another thread) and given
 * back here if @loop is closed (false: nothing queued, the caller does the
 * work itself). relaxed: the caller holds a reference meanwhile, so the
 * count cannot reach zero here. */
static inline bool weft__call_queue_counted(struct weft_loop *loop, struct weft__call *c,
                                            void (*fn)(struct weft__call *c), _Atomic uint32_t *refs) {
  atomic_fetch_add_explicit(refs, 1, memory_order_relaxed);
  if (weft__call_queue(loop, c, fn)) return true;
  atomic_fetch_sub_explicit(refs, 1, memory_order_relaxed);
  return false;
}

/* Runs a queued handle (worker) and drops the queue's reference. */
void weft__handle_run(struct weft_handle *h);
/* Drops the scheduler's reference without running (loop teardown). */
void weft__handle_drop(struct weft_handle *h);

#endif
