/*
 * future.h (private) - the future object and the entries that wait on it.
 *
 * A future's entries list holds, in registration order, everything that
 * must hear of its completion: tasks awaiting it and foreign threads waiting
 * on it (struct weft__waiter, living on the waiter's stack) and done
 * callbacks (struct weft_handle, heap-allocated). Completion walks the list
 * once, in order, under the future's lock: that is what makes callback and
 * wake-up order exactly asyncio's with one worker.
 *
 * Waker rule (all of weft's waits follow it): a waker sets the waiter's
 * fired flag and wakes its task while holding the lock that protects the
 * waiter node; the waiter takes that same lock before it leaves the wait.
 * So a waker never touches a waiter node, or a task, that is gone. A
 * future's task waiter may skip the lock: its completer marks the node
 * WEFT__FIRED_WOKEN, under the lock, once the node is unlinked and the
 * task woken, and touches neither after that store.
 *
 * Freeing: a completer need not hold a reference (weft__future_complete):
 * its unlock is its last touch, and weft__future_fini, on every free path,
 * waits for the lock to be free before the memory goes.
 */
#ifndef WEFT_RUNTIME_FUTURE_PRIV_H
#define WEFT_RUNTIME_FUTURE_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "weft.h"
#include "chain.h"
#include "misuse.h"
#include "amutex.h"

enum weft__entry_kind {
  WEFT__ENTRY_TASK = 1,
  WEFT__ENTRY_THREAD = 2,
  WEFT__ENTRY_CALLBACK = 3,
  WEFT__ENTRY_NOTIFY = 4,
};

struct weft__done_entry {
  struct weft__chain_node link; /* in weft_future.entries; under the future's lock */
  uint8_t kind;
};

/* A waiter's fired flag: 0, then FIRED once completed (the futex word for
 * ENTRY_THREAD); a task waiter's becomes FIRED_WOKEN when its completer is
 * done with it (the waker rule above). */
enum { WEFT__FIRED = 1, WEFT__FIRED_WOKEN = 2 };

struct weft__waiter {
  struct weft__done_entry e;
  struct weft_task *task;  /* ENTRY_TASK */
  _Atomic uint32_t fired;  /* 0, WEFT__FIRED, WEFT__FIRED_WOKEN */
  /* ENTRY_TASK: its wait also reads the future's leaf_fired, so that a
   * completion may leave this node unwritten (future.c, invariant 5). */
  bool reads_leaf;
};

/* A combinator's hook (compose): @fn runs at completion, in registration
 * order with the other entries, with the future's lock held. It must be
 * short, must not take that future's lock, and may take only locks that
 * nobody holds while taking a future's lock (a combinator's own lock, a
 * future it completes). It is the cheap form of a done callback: no
 * allocation, no trip through the run queue. */
struct weft__notify {
  struct weft__done_entry e;
  void (*fn)(struct weft__notify *n, struct weft_future *f);
};

/* Futures with behaviour of their own (a gathering future, a shield):
 * cancel replaces Future.cancel, free frees the object the future is
 * embedded in (after weft__future_fini). NULL members mean the default. */
struct weft_future;
struct weft__future_ops {
  int (*cancel)(struct weft_future *f, const char *msg);
  void (*free)(struct weft_future *f);
};

enum { WEFT__FUT_PENDING = 0, WEFT__FUT_DONE = 1 };

struct weft_future {
  struct weft__amutex lock; /* amutex.h: the unlock is a plain store */
  _Atomic uint8_t state;  /* PENDING -> DONE once, under lock, store-release */
  uint8_t is_task;        /* immutable */
  uint8_t retrieved;      /* under lock: the error was read */
  union {
    /* A task's first-run claim (task.h: 0 until a worker or an inline
     * host takes the first run), in what would be padding. */
    _Atomic uint8_t task_claim;
    /* A plain future of a one-worker loop: 1 once complete_solo's leaf
     * woke its one waiter without writing the waiter's node (future.c,
     * invariant 5). Written and read by that loop's worker only. */
    _Atomic uint8_t leaf_fired;
  };
  int err;                /* written before state becomes DONE, then immutable */
  _Atomic uint32_t refs;  /* beside err: the future is one 64-byte line (a task's line 0) */
  void *result;
  /* The outcome's message once DONE. A pending task keeps the message of
   * the cancellation asked of it here (task.c, under lock), which its end
   * adopts or frees; a pending plain future holds NULL. */
  char *msg;
  struct weft_loop *loop; /* immutable */
  /* Immutable. A task (is_task) has no ops: the slot holds its spawn site
   * there (task.h), so test is_task before ops. */
  union {
    const struct weft__future_ops *ops; /* NULL for plain futures */
    void *spawn_site;                   /* tasks: the spawner's return address */
  };
  struct weft__chain entries; /* under lock; 8 bytes (chain.h) */
  WEFT__MAGIC                /* debug builds: misuse.h */
};

/* A plain future: weft_future_new's (not a task's, no ops; every other
 * future is embedded in its own object and has ops or is a task), in one
 * 64-byte line with @own, the owner record whose sections may be taken
 * on it (owner.h) on a loop of several workers: the record of the worker
 * whose task made it, or NULL (made elsewhere, or no record). Immutable.
 * On a one-worker loop every future's record is the loop's, so @own is
 * not read there (futlock.h, weft__future_owner). */
struct weft__owner;
struct weft__plain_future {
  struct weft_future f;
  struct weft__owner *own;
};

void weft__future_init(struct weft_future *f, struct weft_loop *loop, bool is_task);
/* With @f's lock held (gather.c, which looks through the entries first):
 * appends @e unless @f is done; true if it did. Keeps future.c's
 * invariants, the sole-waiter hint among them. */
bool weft__future_entry_add_locked(struct weft_future *f, struct weft__done_entry *e);
/* Completes @f; @msg is adopted (freed with the future). Returns 0 or
 * WEFT_EINVALSTATE (then @msg is freed). */
int weft__future_complete(struct weft_future *f, int err, void *result, char *msg);
/* The same with f->lock held by the caller (or in the owner section
 * weft__future_lock_to_complete entered), who also holds a reference that
 * outlives the call (a task ending on its own fiber: the scheduler's). */
int weft__future_complete_locked(struct weft_future *f, int err, void *result, char *msg);
/* For completing @f: on a one-worker loop's future, an owner section
 * (futlock.h, weft__futlock_begin_solo) if completing it runs no notify
 * hook; else its lock. End with weft__futlock_end. */
struct weft__owner *weft__future_lock_to_complete(struct weft_future *f);
/* cancel() on a done future: asyncio clears __log_traceback before it
 * checks the state, so an error already there counts as retrieved. Returns
 * whether @f was done. */
bool weft__future_mark_retrieved_if_done(struct weft_future *f);
/* Reads a done future's outcome and marks it retrieved. */
int weft__future_outcome(struct weft_future *f, void **result);
/* Registers a done-callback handle (its entry reference passes to @f), or
 * schedules it at once if @f is already done. */
struct weft_handle;
void weft__future_add_callback(struct weft_future *f, struct weft_handle *h);
/* Unregisters @h if it is still waiting on @f; returns true if it was (the
 * entry reference is then the caller's to drop). */
bool weft__future_remove_callback(struct weft_future *f, struct weft_handle *h);
/* Registers @n on @f; false (and @fn is never called) if @f is done. */
bool weft__future_notify_add(struct weft_future *f, struct weft__notify *n);
/* Unregisters @n; true if it was still registered (then @fn will never
 * run), false if it ran or is running, and has returned once this returns
 * (the lock is taken). */
bool weft__future_notify_remove(struct weft_future *f, struct weft__notify *n);
/* Future.cancel for @f: its ops, a task's cancel, or completion with -ECANCELED. */
int weft__future_cancel(struct weft_future *f, const char *msg);
/* The cancellation an awaiter passes on to @f (asyncio's Task.cancel()
 * cancelling the future it waits on; gather's and TaskGroup's cancelling
 * their children): for a task, the awaiter's form of the request, which
 * its body's return outruns (task.h, WEFT__CANCEL_AT_END); anything else
 * as weft__future_cancel. Returns as weft__future_cancel; 0 if @f is done
 * (which it leaves as it is). */
int weft__future_cancel_awaited(struct weft_future *f, const char *msg);
/* Future.cancel itself, without a task's or an ops table's own rule: for
 * ops->cancel implementations that add to it. */
int weft__future_cancel_plain(struct weft_future *f, const char *msg);
/* Waits, in the current task, until @f is done, passing every cancellation
 * of the task on to @f (asyncio's `await task` keeps waiting for the task
 * after cancelling it), and returns @f's outcome: a value @f produced
 * anyway wins over the cancellation, whose request stays counted
 * (cancelling()). For wait_for. */
int weft__await_settled(struct weft_future *f, void **result);
/* Reports an unretrieved error and frees the message (called at free time). */
void weft__future_fini(struct weft_future *f);

static inline bool weft__future_is_done(const struct weft_future *f) {
  /* acquire: pairs with the release store in weft__future_complete, so the
   * outcome fields are visible once DONE is seen. */
  return atomic_load_explicit(&((struct weft_future *)f)->state, memory_order_acquire) ==
         WEFT__FUT_DONE;
}

#endif
