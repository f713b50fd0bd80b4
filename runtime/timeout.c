/*
 * timeout.c - timeout scopes (asyncio.timeout / timeout_at) and wait_for,
 * one mechanism for both (weft/compose.h).
 *
 * A scope records its task's cancel count on entry and arms a timer on
 * the worker it is entered on. At the deadline the timer cancels the task
 * (an ordinary cancel request: every suspension point in the scope sees
 * it) and marks the scope EXPIRING. Leaving disarms the timer (waiting out
 * a firing one) and, if the scope expired, withdraws its request with
 * uncancel(); when that brings the count back to what it was on entry and
 * the body ended with -ECANCELED, the cancellation was the scope's own and
 * becomes -ETIMEDOUT (CPython 3.11+'s rule). A cancellation from outside
 * at the same moment leaves the count above it: -ECANCELED stays. Nested
 * scopes each compare against their own entry count, so each converts only
 * its own expiry.
 *
 *   CREATED --enter--> ENTERED --deadline--> EXPIRING --leave--> EXPIRED
 *                         |                                 (uncancel)
 *                         +-------------leave---------------> EXITED
 *
 * wait_for is a scope around weft__await_settled (future.h): the awaited
 * future is cancelled by the scope's cancellation and then waited for
 * until it has finished, so a result it produced as the time ran out is
 * returned, never dropped (CPython 3.12's wait_for on timeout()).
 *
 * Threads: a scope is entered, rescheduled and left by its task; the timer
 * fires on the worker that armed it, under that heap's lock, and touches
 * only `state` (atomic) and the task (weft_task_cancel, any thread). The
 * heap lock is taken before the task's lock; nothing takes them the other
 * way round.
 */
#include "weft.h"
#include "weft/compose.h"
#include "deadline.h"
#include "future.h"
#include "task.h"
#include "timer.h"
#include "worker.h"

#include <errno.h>

enum scope_state {
  SCOPE_EXITED = 0, /* also: never entered, or its enter failed */
  SCOPE_ENTERED = 0x7e170001,
  SCOPE_EXPIRING,
  SCOPE_EXPIRED,
};

struct scope {
  struct weft__timer timer;
  struct weft_task *task;
  uint64_t when;           /* 0: no deadline */
  int cancelling;          /* the task's cancel count on entry */
  bool armed;              /* the task's bookkeeping */
  _Atomic uint32_t state;  /* enum scope_state */
};

_Static_assert(sizeof(struct scope) <= sizeof(((struct weft_timeout *)0)->opaque),
               "struct weft_timeout's storage is too small");
_Static_assert(_Alignof(struct scope) <= _Alignof(uint64_t), "struct weft_timeout is misaligned");

static struct scope *scope_of(struct weft_timeout *t) { return (struct scope *)(void *)t->opaque; }

static void on_deadline(struct weft__timer *tm) {
  struct scope *s = weft__container_of(tm, struct scope, timer);
  /* release: leave's acquire load orders the cancel before its uncancel. */
  atomic_store_explicit(&s->state, SCOPE_EXPIRING, memory_order_release);
  weft_task_cancel(s->task, NULL);
}

static int arm(struct scope *s) {
  s->armed = false;
  if (!s->when) return 0;
  weft__timer_init(&s->timer, on_deadline);
  if (weft__timers_add(&weft__worker_self()->timers, &s->timer, s->when) != 0) return -ENOMEM;
  s->armed = true;
  return 0;
}

static void disarm(struct scope *s) {
  if (s->armed) weft__timers_cancel(&s->timer); /* waits out a firing on_deadline */
  s->armed = false;
}

int weft_timeout_enter_at(struct weft_timeout *t, uint64_t when_ns) {
  if (!t) return -EINVAL;
  struct scope *s = scope_of(t);
  atomic_init(&s->state, SCOPE_EXITED);
  s->armed = false;
  struct weft_task *task = weft__task_self();
  if (!task) return t->rc = -EPERM;
  s->task = task;
  s->when = when_ns;
  s->cancelling = weft_task_cancelling(task);
  atomic_store_explicit(&s->state, SCOPE_ENTERED, memory_order_relaxed);
  int rc = arm(s);
  if (rc) atomic_store_explicit(&s->state, SCOPE_EXITED, memory_order_relaxed);
  return t->rc = rc;
}

int weft_timeout_enter(struct weft_timeout *t, int64_t timeout_ns) {
  return weft_timeout_enter_at(t, weft__deadline(timeout_ns));
}

/* The scope's task leaving it; returns the (maybe converted) @rc. */
static int scope_leave(struct scope *s, int rc) {
  disarm(s);
  /* acquire: pairs with on_deadline's release store. */
  if (atomic_load_explicit(&s->state, memory_order_acquire) == SCOPE_EXPIRING) {
    atomic_store_explicit(&s->state, SCOPE_EXPIRED, memory_order_relaxed);
    if (weft_task_uncancel(s->task) <= s->cancelling && rc == -ECANCELED) rc = -ETIMEDOUT;
  } else {
    atomic_store_explicit(&s->state, SCOPE_EXITED, memory_order_relaxed);
  }
  return rc;
}

static bool entered(struct scope *s) {
  uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
  return (st == SCOPE_ENTERED || st == SCOPE_EXPIRING) && s->task == weft__task_self();
}

int weft_timeout_leave(struct weft_timeout *t, int rc) {
  if (!t || !entered(scope_of(t))) return WEFT_EINVALSTATE;
  return scope_leave(scope_of(t), rc);
}

void weft_timeout_cleanup(struct weft_timeout *t) {
  /* Only what the macro's enter set up: a scope left already, or never
   * entered, is EXITED (or EXPIRED) and needs nothing. */
  if (t && t->rc == 0 && entered(scope_of(t))) scope_leave(scope_of(t), 0);
}

int weft_timeout_reschedule(struct weft_timeout *t, uint64_t when_ns) {
  if (!t) return -EINVAL;
  struct scope *s = scope_of(t);
  if (!entered(s) || atomic_load_explicit(&s->state, memory_order_acquire) != SCOPE_ENTERED)
    return WEFT_EINVALSTATE;
  disarm(s);
  /* The old deadline may have fired while we disarmed: then it expired. */
  if (atomic_load_explicit(&s->state, memory_order_acquire) != SCOPE_ENTERED) return WEFT_EINVALSTATE;
  s->when = when_ns;
  return arm(s);
}

uint64_t weft_timeout_when(const struct weft_timeout *t) {
  return t ? scope_of((struct weft_timeout *)t)->when : 0;
}

int weft_timeout_expired(const struct weft_timeout *t) {
  if (!t) return 0;
  uint32_t st = atomic_load_explicit(&scope_of((struct weft_timeout *)t)->state, memory_order_acquire);
  return st == SCOPE_EXPIRING || st == SCOPE_EXPIRED;
}

/* ---- wait_for -------------------------------------------------------------------- */

int weft_wait_for(weft_future_t *f, int64_t timeout_ns, void **result) {
  if (!f) return -EINVAL;
  struct weft_task *t = weft__task_self();
  if (!t) return -EPERM;
  if (&t->fut == f) return -EDEADLK;
  if (timeout_ns < 0) return weft_await(f, result);
  if (timeout_ns == 0) {
    /* asyncio: a done future gives its result; otherwise it is cancelled
     * and waited for, and only a cancelled end is a timeout. */
    if (weft__future_is_done(f)) return weft__future_outcome(f, result);
    int before = weft_task_cancelling(t);
    weft__future_cancel_awaited(f, NULL); /* ours: it lands between @f's steps in asyncio */
    int rc = weft__await_settled(f, result);
    if (rc == -ECANCELED && weft_task_cancelling(t) <= before) rc = -ETIMEDOUT;
    return rc;
  }
  struct weft_timeout tmo;
  int rc = weft_timeout_enter(&tmo, timeout_ns);
  if (rc) return rc;
  rc = weft__await_settled(f, result);
  return scope_leave(scope_of(&tmo), rc);
}
