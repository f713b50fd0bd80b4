/*
 * future.c - futures: completion, reading, done callbacks and awaiting.
 *
 * Invariants:
 *  1. state goes PENDING -> DONE once, under lock, with a release store; the
 *     outcome (err, result, msg) is written before it and never after.
 *  2. entries holds waiters and callbacks in registration order; completion
 *     detaches each one, in order, under lock (future.h, waker rule).
 *  3. refs counts the user's references plus, for a task, the scheduler's.
 *     The last release frees (a task through weft__task_free).
 *  4. The sole-waiter hint: a pending plain future (no ops, not a task)
 *     of a one-worker loop holds in `result` either NULL or the task whose
 *     waiter is its only entry, a task of its own loop (set by the add
 *     that made that entry the only one, cleared by any other change of
 *     the entries; the completion overwrites it with the outcome). So a
 *     completion on the loop's worker learns whom to wake from the future
 *     itself, without loading the waiter's node: a line on the waiting
 *     task's stack, cold whenever other tasks ran since it suspended
 *     (ping_pong: 1,000 pairs between a message and its answer), and the
 *     one the wake-up's load of the task's state waited on. The hint only
 *     lets the completion skip that load; NULL is always correct. Its low
 *     bit says the waiter reads leaf_fired (invariant 5).
 *  5. A waiter whose wait reads the future's leaf_fired (reads_leaf: an
 *     await without a deadline) may be left unwritten by the completion:
 *     complete_solo's leaf, on the loop's worker, detaches it (the only
 *     entry), sets leaf_fired and wakes its task, and writes nothing into
 *     the node, a line on the waiter's stack whose page is cold by then
 *     (ping_pong: 83% of the completion's tail on that store, which waits
 *     for the page's translation). The waiter runs on the same thread
 *     only after the completion returned, and takes leaf_fired as its
 *     FIRED_WOKEN. Only that leaf sets it, only for its one entry, so a
 *     linked waiter that finds it set was that entry. Every other
 *     completion writes the node as before.
 * fut_ok() checks what can be checked of 1-4 under the lock (a done
 * future has no entries; entries is a well-formed list; a future in use
 * has a reference; a hint names the only entry's task) after every
 * change. Not the last after a completion: a completer may hold no
 * reference (future.h, Freeing), so once its last entry fired, the awaiter
 * may have let go of the last one while the completer still holds the lock
 * (the free then waits for it).
 *
 * Cancellation of an awaiting task follows asyncio: the awaited future is
 * cancelled too (a task gets a cancellation request), and the await returns
 * -ECANCELED at once rather than after the awaited task finished.
 */
#include "backtrace.h"
#include "future.h"
#include "alloc.h"
#include "context.h"
#include "deadline.h"
#include "futex.h"
#include "futlock.h"
#include "handle.h"
#include "invariant.h"
#include "loop.h"
#include "task.h"
#include "worker.h"

#include <errno.h>
#include <stdio.h>

/* Whether @f can carry the sole-waiter hint (invariant 4). */
static inline bool hint_kind(const struct weft_future *f) {
  return !f->is_task && !f->ops && f->loop->solo;
}

WEFT__CHECKER bool fut_ok(const struct weft_future *f, bool referenced) {
  uint8_t st = atomic_load_explicit(&f->state, memory_order_relaxed);
  if (st != WEFT__FUT_PENDING && st != WEFT__FUT_DONE) return false;
  if (st == WEFT__FUT_DONE && !weft__chain_empty(&f->entries)) return false;
  if (referenced && atomic_load_explicit(&f->refs, memory_order_relaxed) == 0) return false;
  if (st == WEFT__FUT_PENDING && hint_kind(f) && f->result) {
    const struct weft__chain_node *n = f->entries.first;
    const struct weft__waiter *w = n ? (const struct weft__waiter *)weft__container_of(n, struct weft__done_entry, link) : NULL;
    if (!n || n->next != n || w->e.kind != WEFT__ENTRY_TASK ||
        ((uintptr_t)w->task | w->reads_leaf) != (uintptr_t)f->result || w->task->fut.loop != f->loop)
      return false;
  }
  return weft__chain_walk(&f->entries, WEFT__CHECK_WALK) != SIZE_MAX;
}

/* Under @f's lock or section, after a change of a pending future's
 * entries other than the add that sets it: no hint (invariant 4). */
static inline void hint_clear(struct weft_future *f) {
  if (hint_kind(f)) f->result = NULL;
}

WEFT__NO_FRAME void weft__future_init(struct weft_future *f, struct weft_loop *loop, bool is_task) {
  weft__amutex_init(&f->lock);
  atomic_init(&f->state, WEFT__FUT_PENDING);
  f->is_task = is_task;
  f->retrieved = 0;
  atomic_init(&f->task_claim, 0);
  f->err = 0;
  f->result = NULL;
  f->msg = NULL;
  atomic_init(&f->refs, 1);
  f->loop = loop;
  f->ops = NULL;
  weft__chain_init(&f->entries);
  weft__magic_live(f);
}

/* weft_future_new's general case: another loop's future, a thread that
 * is not a worker, an empty cache. Out of line, so that the common case
 * makes no call and has no frame (a message in ping_pong makes one). */
static __attribute__((noinline)) int future_new_slow(struct weft_loop *loop, struct weft__worker *w,
                                                     weft_future_t **out) {
  if (!loop) loop = w ? w->loop : NULL;
  if (!loop) return -EINVAL;
  if (w && w->loop != loop) w = NULL;
  if (atomic_load_explicit(&loop->closed, memory_order_acquire)) return WEFT_ECLOSED;
  struct weft__plain_future *p = weft__worker_obj_alloc_on(w, loop, WEFT__OBJ_FUTURE, sizeof *p);
  if (!p) return -ENOMEM;
  weft__future_init(&p->f, loop, false);
  p->own = w ? w->sections : NULL; /* a worker of its loop, or none */
  *out = &p->f;
  return 0;
}

WEFT__NO_FRAME int weft_future_new(weft_loop_t *loop, weft_future_t **out) {
  if (!out) return -EINVAL;
  /* One read of the calling thread's worker serves both the default loop
   * and the object cache. */
  struct weft__worker *w = weft__worker_self();
  if (__builtin_expect(w && (!loop || loop == w->loop), 1)) {
    /* A worker's own loop, from its cache: weft__worker_obj_alloc_on's
     * first case, inline. */
    struct weft_loop *own = w->loop;
    struct weft__plain_future *p;
    if (__builtin_expect(!atomic_load_explicit(&own->closed, memory_order_acquire), 1) &&
        __builtin_expect((p = weft__worker_obj_take(w, WEFT__OBJ_FUTURE, sizeof *p)) != NULL, 1)) {
      weft__future_init(&p->f, own, false);
      p->own = w->sections; /* its sections' record (future.h; unread on a one-worker loop) */
      *out = &p->f;
      return 0;
    }
  }
  return future_new_slow(loop, w, out);
}

weft_future_t *weft_future_ref(weft_future_t *f) {
  if (!f) return f;
  weft__magic_check(f, "reference taken after release", f->is_task ? "task" : "future");
  /* relaxed: taking a reference needs no ordering; the caller already holds one. */
  atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
  return f;
}

/* Whether @f ended with an error nobody read, which its free reports
 * (asyncio: "exception was never retrieved"; a cancellation is not one). */
static inline bool unreported(const struct weft_future *f) {
  return f->err && f->err != -ECANCELED && !f->retrieved;
}

WEFT__NO_FRAME void weft__future_fini(struct weft_future *f) {
  /* A completer holding no reference may still be unlocking f after its
   * awaiter saw DONE and let go (weft__future_complete): wait it out
   * (one in an owner section holds no lock word: weft_future_release
   * settled first). acquire: whoever frees saw DONE (or a fired flag)
   * stored under the lock, so this load reads that locking or a later
   * unlock: 0 means the completer is out. Rarely nonzero: a lock pass
   * then waits for it. */
  if (__builtin_expect(atomic_load_explicit(&f->lock.word, memory_order_acquire) != 0, 0)) {
    weft__futlock(f);
    weft__futunlock(f);
  }
  if (unreported(f)) {
    struct weft_exception_context ctx = {
        .message = f->is_task ? "Task exception was never retrieved"
                              : "Future exception was never retrieved",
        .error = f->err,
        .error_msg = f->msg,
        .future = f,
        .task_name = f->is_task ? weft_task_name(weft__task_of(f)) : NULL,
    };
    /* The handler runs in the failing task's context (asyncio). */
    if (f->is_task) {
      struct weft__ctx_map *saved = weft__ctx_enter(weft__task_of(f)->ctx_map);
      weft_loop_call_exception_handler(f->loop, &ctx);
      weft__ctx_leave(saved);
    } else {
      weft_loop_call_exception_handler(f->loop, &ctx);
    }
  }
  weft__strfree(f->msg);
  f->msg = NULL;
  weft__magic_dead(f);
}

/* weft_future_release's end for a plain future whose last reference went
 * (the general case): settling, an ops table's free, the unretrieved
 * error's report, the message, the allocator. */
static __attribute__((noinline)) void future_free(struct weft_future *f) {
  /* A completer holding no reference may still be in an owner section on
   * f (owner.h, invariant 3). */
  weft__futlock_settle(f);
  if (f->ops && f->ops->free) {
    f->ops->free(f);
    return;
  }
  struct weft_loop *loop = f->loop;
  weft__future_fini(f);
  weft__worker_obj_free(loop, WEFT__OBJ_FUTURE, f, sizeof(struct weft__plain_future));
}

WEFT__NO_FRAME void weft_future_release(weft_future_t *f) {
  if (!f) return;
  weft__magic_check(f, "double release", f->is_task ? "task" : "future");
  /* The only reference left is ours: then nobody can take or drop another
   * (a new one needs an old one, or a task's registry, which a task with
   * no scheduler's reference has left; a completer holding none takes its
   * own under the lock only while f is referenced: complete_locked), so f
   * is freed without the decrement's locked instruction (end_task's rule;
   * one a message in ping_pong, whose futures each end with two releases).
   * acquire: pairs with the other holders' acq_rel decrements, so their
   * writes are visible before the free, as the final decrement's would be.
   * Otherwise acq_rel: the last releaser must see every other holder's
   * writes before it frees (release on every decrement, acquire on the
   * final one). */
  if (atomic_load_explicit(&f->refs, memory_order_acquire) != 1 &&
      atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
    return;
  if (f->is_task) {
    /* No settling: an owner section on a task's future is always taken
     * by a holder of a reference (its awaiter's, or the scheduler's as it
     * ends), whose release orders the section before this free. */
    weft__task_free(weft__task_of(f));
    return;
  }
  /* The common case inline, with no call and so no frame (a message in
   * ping_pong frees one): on a worker of its loop that owns any section
   * on f (its record's, or it has none: nothing to settle), no ops,
   * nothing to report or free with it (as weft__future_fini would find:
   * its lock free, acquire as there), and room in the worker's cache. */
  struct weft__worker *w = weft__worker_self();
  if (__builtin_expect(w && w->loop == f->loop && !f->ops && !f->msg && !unreported(f), 1)) {
    const struct weft__owner *o = weft__future_owner(f);
    if (__builtin_expect((!o || o == w->sections) &&
                             atomic_load_explicit(&f->lock.word, memory_order_acquire) == 0,
                         1)) {
      weft__magic_dead(f);
      if (__builtin_expect(weft__worker_obj_keep(w, WEFT__OBJ_FUTURE, f, sizeof(struct weft__plain_future)), 1))
        return;
      weft__magic_live(f); /* the general path's fini marks it again */
    }
  }
  future_free(f);
}

static void fire_entry(struct weft_future *f, struct weft__done_entry *e) {
  switch (e->kind) {
  case WEFT__ENTRY_TASK: {
    struct weft__waiter *w = (struct weft__waiter *)e;
    struct weft_task *task = w->task;
    /* release: the waiter's acquire load then sees the outcome. */
    atomic_store_explicit(&w->fired, WEFT__FIRED, memory_order_release);
    weft__task_wake(task);
    /* release: we are done with w and its task; the waiter, seeing this,
     * leaves without taking the lock (waiter_remove). Our last touch of w. */
    atomic_store_explicit(&w->fired, WEFT__FIRED_WOKEN, memory_order_release);
    break;
  }
  case WEFT__ENTRY_NOTIFY: {
    struct weft__notify *n = (struct weft__notify *)e;
    n->fn(n, f);
    break;
  }
  case WEFT__ENTRY_THREAD: {
    struct weft__waiter *w = (struct weft__waiter *)e;
    atomic_store_explicit(&w->fired, WEFT__FIRED, memory_order_release);
    weft__futex_wake(&w->fired, 1);
    break;
  }
  default:
    weft__handle_schedule_done(weft__container_of(e, struct weft_handle, entry));
    (void)f;
    break;
  }
}

/* Under @f's lock (or its section), @f pending: its outcome, then DONE. */
static inline void set_outcome(struct weft_future *f, int err, void *result, char *msg) {
  f->err = err;
  f->result = result;
  f->msg = msg;
  /* release: publishes the outcome to lock-free readers (weft__future_is_done). */
  atomic_store_explicit(&f->state, WEFT__FUT_DONE, memory_order_release);
}

/* Completes @f under its lock; *held (if @held) is set once a reference
 * of ours was taken, before the first notify hook: a hook may drop the
 * last other reference (a gather ending frees its children) while we still
 * hold f's lock, and freeing f then would wait for that lock forever. */
static inline __attribute__((always_inline)) int complete_locked(struct weft_future *f, int err,
                                                                void *result, char *msg, bool *held) {
  if (atomic_load_explicit(&f->state, memory_order_relaxed) != WEFT__FUT_PENDING) {
    weft__strfree(msg);
    return WEFT_EINVALSTATE;
  }
  set_outcome(f, err, result, msg);
  struct weft__chain_node *pos;
  while ((pos = weft__chain_pop(&f->entries))) {
    struct weft__done_entry *e = weft__container_of(pos, struct weft__done_entry, link);
    if (held && !*held && e->kind == WEFT__ENTRY_NOTIFY) {
      /* relaxed: taking a reference needs no ordering; f is alive (its
       * completion protocol keeps it so while we hold its lock). */
      atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
      *held = true;
    }
    fire_entry(f, e);
  }
  WEFT__INVARIANT(fut_ok(f, false)); /* its last reference may be gone (above) */
  return 0;
}

/* Whether completing @f now would run no notify hook and wake no task of
 * another loop (its first entries hold neither, and there are no more):
 * an owner section may complete it. Such a wake-up takes that task's
 * future lock and may revoke its loop's sections, which a section may not
 * wait for (taskstate.h); a task of the future's own loop is woken with
 * plain moves in the section (one worker) or its state's swap (several:
 * no lock, nothing waited for). A long list locks as usual rather than
 * be walked twice. */
#define HOOK_LOOK 8

static bool runs_no_hook(const struct weft_future *f) {
  const struct weft__chain_node *n = f->entries.first;
  for (int i = 0; n && i < HOOK_LOOK; i++, n = weft__chain_next(&f->entries, n)) {
    const struct weft__done_entry *e = weft__container_of(n, struct weft__done_entry, link);
    if (e->kind == WEFT__ENTRY_NOTIFY) return false;
    if (e->kind == WEFT__ENTRY_TASK &&
        ((const struct weft__waiter *)e)->task->fut.loop != f->loop)
      return false;
  }
  return n == NULL;
}

/* weft__futlock_begin_own for a completion (@o: @f's record): a section
 * may run no hook (hooks run code, which may take other futures' locks:
 * owner.h, invariant 2), so with hooks to run the owner takes the lock. */
static inline struct weft__owner *lock_to_complete_own(struct weft_future *f, struct weft__owner *o) {
  struct weft__owner *own = weft__futlock_begin_own(f, o);
  if (own && __builtin_expect(!runs_no_hook(f), 0)) return weft__ownlock_escalate(&f->lock, own);
  return own;
}

struct weft__owner *weft__future_lock_to_complete(struct weft_future *f) {
  struct weft__owner *o = weft__future_owner(f);
  if (o) return lock_to_complete_own(f, o);
  weft__amutex_lock(&f->lock);
  return NULL;
}

/* weft__future_complete on a future with a record (@o): out of line, so
 * that the others keep the bare lock's code. complete_solo's every case
 * but its leaf's (below), and every completion of a plain future bound
 * to a worker of a loop of several (futlock.h). */
static __attribute__((noinline)) int complete_own(struct weft_future *f, struct weft__owner *o, int err,
                                                  void *result, char *msg) {
  bool held = false;
  struct weft__owner *own = lock_to_complete_own(f, o); /* a section runs no hook: never held */
  int rc = complete_locked(f, err, result, msg, &held);
  weft__futlock_end(f, own); /* our last touch of f */
  if (held) weft_future_release(f); /* may free f */
  return rc;
}

/* complete_solo's last touch of the waiter's node @wt (detached from the
 * future already): detached, and WOKEN (its task leaves without the lock).
 * release: the waiter's acquire load then sees the outcome. */
static inline void waiter_done_solo(struct weft__waiter *wt) {
  wt->e.link.next = wt->e.link.prev = NULL; /* detached (chain.h) */
  atomic_store_explicit(&wt->fired, WEFT__FIRED_WOKEN, memory_order_release);
}

/* Wakes @t, a task that awaited a future completed in a section that has
 * ended, then finishes with its node @wt; 0, the completion's result. In
 * this order because the node is a line on @t's stack, cold when other
 * tasks ran since it suspended: stores to it before the wake-up's locked
 * CAS on @t's state would make that CAS wait for the line (a locked
 * instruction drains the store buffer), while after it they drain in the
 * background. Safe only on a one-worker loop's worker: @t cannot run, and
 * so cannot look at its node, before this worker returns to its
 * scheduler. */
static __attribute__((noinline)) int wake_after_section(struct weft_task *t, struct weft__waiter *wt) {
  weft__task_wake(t);
  if (wt) waiter_done_solo(wt); /* NULL: it reads leaf_fired (invariant 5) */
  return 0;
}

/* After a section whose end found a revoker waiting (owner.h). */
static __attribute__((noinline)) int wake_after_revoked_section(struct weft__owner *o,
                                                                struct weft_task *t,
                                                                struct weft__waiter *wt) {
  (void)weft__owner_wake_ret(o, 0);
  return wake_after_section(t, wt);
}

/* complete_solo's way out of a section it entered but cannot finish in. */
static __attribute__((noinline)) int leave_then_complete_slow(struct weft__owner *o,
                                                              struct weft_future *f, int err,
                                                              void *result, char *msg) {
  weft__owner_leave(o);
  return complete_own(f, o, err, result, msg);
}

/* A one-worker loop's completion, in the common cases, as a leaf: on the
 * loop's worker, in an owner section, a pending future with no entry or
 * one task waiter of this loop, which the sole-waiter hint names
 * (invariant 4; a task awaiting it: ping_pong's every message). Anything
 * else (no section, done already, a hook, several entries, a callback, a
 * thread or another loop's task waiting) goes to complete_own, which
 * does all of it. With one worker the waiter cannot run before this
 * worker returns to its scheduler, so the section ends before the
 * wake-up, which is then a tail call (no frame here), and the waiter's
 * node is only written, detached and marked FIRED_WOKEN, after the
 * wake-up (wake_after_section; complete_locked marks it after the wake,
 * for a waiter another worker may resume at once). */
static __attribute__((noinline)) WEFT__NO_FRAME int complete_solo(struct weft_future *f, int err,
                                                                  void *result, char *msg) {
  struct weft_loop *loop = f->loop;
  struct weft__owner *o = loop->owner;
  if (__builtin_expect(!weft__futlock_is_owner(loop), 0)) return complete_own(f, o, err, result, msg);
  enum weft__owner_entry in = weft__owner_try_enter_word(o, &f->lock.word);
  if (__builtin_expect(in != WEFT__OWNER_IN, 0)) {
    if (in == WEFT__OWNER_GAVE_UP) return leave_then_complete_slow(o, f, err, result, msg);
    return complete_own(f, o, err, result, msg);
  }
  struct weft__chain_node *n = f->entries.first;
  /* The one waiter's task, from the hint (invariant 4): its node is only
   * written below, never loaded, and not even written if it reads
   * leaf_fired (the hint's low bit, invariant 5). */
  uintptr_t hint = (uintptr_t)f->result;
  struct weft_task *t = (struct weft_task *)(hint & ~(uintptr_t)1);
  if (__builtin_expect(atomic_load_explicit(&f->state, memory_order_relaxed) != WEFT__FUT_PENDING ||
                           (n && (!t || f->is_task || f->ops)),
                       0))
    return leave_then_complete_slow(o, f, err, result, msg);
  set_outcome(f, err, result, msg);
  if (!n) {
    WEFT__INVARIANT(fut_ok(f, false));
    return weft__owner_leave_ret(o, 0);
  }
  struct weft__waiter *wt = (struct weft__waiter *)weft__container_of(n, struct weft__done_entry, link);
  f->entries.first = NULL;
  WEFT__INVARIANT(fut_ok(f, false));
  if (hint & 1) {
    atomic_store_explicit(&f->leaf_fired, 1, memory_order_relaxed); /* this thread reads it */
    wt = NULL;                                                      /* left unwritten */
  }
  /* The node is detached and marked WOKEN after the wake-up
   * (wake_after_section). */
  if (weft__owner_end(o)) return wake_after_revoked_section(o, t, wt);
  return wake_after_section(t, wt);
}

/* weft__future_complete on a loop of several workers: in a section of
 * the future's record where it has one (a plain future, futlock.h), else
 * under the bare lock. Out of line, so that the dispatch below makes no
 * frame for either kind of loop. */
static __attribute__((noinline)) int complete_multi(struct weft_future *f, int err, void *result, char *msg) {
  struct weft__owner *o = weft__future_owner(f);
  if (o) return complete_own(f, o, err, result, msg);
  bool held = false;
  weft__amutex_lock(&f->lock);
  int rc = complete_locked(f, err, result, msg, &held);
  weft__amutex_unlock(&f->lock);
  if (held) weft_future_release(f); /* may free f */
  return rc;
}

WEFT__NO_FRAME int weft__future_complete(struct weft_future *f, int err, void *result, char *msg) {
  /* No reference of our own in the common case, though completers (a task
   * answering a request) often hold none and an awaiter that sees DONE may
   * release f while we still unlock it: whoever frees f waits for its lock
   * to be free first (weft__future_fini), and our unlock is our last
   * touch. Only notify hooks, which run code under the lock, need one
   * (complete_locked). */
  if (f->loop->solo) return complete_solo(f, err, result, msg);
  return complete_multi(f, err, result, msg);
}

WEFT__NO_FRAME int weft__future_complete_locked(struct weft_future *f, int err, void *result, char *msg) {
  return complete_locked(f, err, result, msg, NULL); /* the caller holds a reference */
}

WEFT__NO_FRAME int weft_future_set_result(weft_future_t *f, void *value) {
  if (!f || f->is_task) return -EINVAL;
  return weft__future_complete(f, 0, value, NULL);
}

int weft_future_set_error(weft_future_t *f, int err, const char *msg) {
  if (!f || f->is_task || err >= 0 || err == -ECANCELED) return -EINVAL;
  if (weft__future_is_done(f)) return WEFT_EINVALSTATE;
  char *copy = NULL;
  if (msg && !(copy = weft__strdup(msg))) return -ENOMEM;
  return weft__future_complete(f, err, NULL, copy);
}

int weft_future_cancel(weft_future_t *f, const char *msg) {
  if (!f) return -EINVAL;
  return weft__future_cancel(f, msg);
}

int weft__future_cancel(struct weft_future *f, const char *msg) {
  if (f->is_task) return weft_task_cancel(weft__task_of(f), msg);
  if (f->ops && f->ops->cancel) return f->ops->cancel(f, msg);
  return weft__future_cancel_plain(f, msg);
}

int weft__future_cancel_plain(struct weft_future *f, const char *msg) {
  if (weft__future_mark_retrieved_if_done(f)) return 0;
  char *copy = NULL;
  if (msg && !(copy = weft__strdup(msg))) return -ENOMEM;
  if (weft__future_complete(f, -ECANCELED, NULL, copy) == 0) return 1;
  weft__future_mark_retrieved_if_done(f); /* completed first by another thread */
  return 0;
}

int weft_future_done(const weft_future_t *f) { return f && weft__future_is_done(f); }

int weft_future_cancelled(const weft_future_t *f) {
  return f && weft__future_is_done(f) && f->err == -ECANCELED;
}

bool weft__future_mark_retrieved_if_done(struct weft_future *f) {
  if (!weft__future_is_done(f)) return false;
  weft__futlock(f);
  f->retrieved = 1;
  weft__futunlock(f);
  return true;
}

/* weft__future_outcome's error case, out of line (the lock's code). */
static __attribute__((noinline)) int outcome_error(struct weft_future *f) {
  /* retrieved is under the lock, read too: a cancel on another thread
   * may be marking it now (TSan found the unlocked look-first). */
  weft__futlock(f);
  f->retrieved = 1;
  weft__futunlock(f);
  return f->err;
}

int weft__future_outcome(struct weft_future *f, void **result) {
  if (!weft__future_is_done(f)) return WEFT_EINVALSTATE;
  if (f->err) return outcome_error(f);
  if (result) *result = f->result;
  return 0;
}

int weft_future_result(weft_future_t *f, void **out) {
  if (!f) return -EINVAL;
  return weft__future_outcome(f, out);
}

int weft_future_error(weft_future_t *f, const char **msg) {
  if (!f) return -EINVAL;
  int rc = weft__future_outcome(f, NULL);
  if (msg) *msg = rc == WEFT_EINVALSTATE ? NULL : f->msg;
  return rc;
}

/* Appends @e to @f's entries unless @f is done; true if it did. Sets or
 * clears the sole-waiter hint (invariant 4). */
static inline bool entry_add_locked(struct weft_future *f, struct weft__done_entry *e) {
  bool done = atomic_load_explicit(&f->state, memory_order_relaxed) == WEFT__FUT_DONE;
  if (!done) {
    if (hint_kind(f)) {
      uintptr_t hint = 0;
      if (weft__chain_empty(&f->entries) && e->kind == WEFT__ENTRY_TASK) {
        const struct weft__waiter *w = (const struct weft__waiter *)e;
        if (w->task->fut.loop == f->loop) hint = (uintptr_t)w->task | w->reads_leaf;
      }
      f->result = (void *)hint;
    }
    weft__chain_add_tail(&f->entries, &e->link);
  }
  WEFT__INVARIANT(fut_ok(f, true));
  return !done;
}

bool weft__future_entry_add_locked(struct weft_future *f, struct weft__done_entry *e) {
  return entry_add_locked(f, e);
}

/* entry_add_own's general case: the lock (another thread, or sections
 * revoked), or a section weft__futlock_begin_own tries again. */
static __attribute__((noinline)) int entry_add_own_slow(struct weft_future *f, struct weft__owner *o,
                                                        struct weft__done_entry *e) {
  struct weft__owner *own = weft__futlock_begin_own(f, o);
  bool added = entry_add_locked(f, e);
  weft__futlock_end(f, own);
  return added;
}

/* The same after an entry that must be undone first (a revocation came,
 * or the lock is held). */
static __attribute__((noinline)) int entry_add_own_left(struct weft__owner *o, struct weft_future *f,
                                                        struct weft__done_entry *e) {
  weft__owner_leave(o);
  return entry_add_own_slow(f, o, e);
}

/* entry_add by @o's running worker (@o: @f's record): a section (owner.h)
 * if it may take one, else the lock. The section's case makes no call but
 * the rare wake-up of a revoker (a tail call). */
static inline __attribute__((always_inline)) int entry_add_mine(struct weft_future *f, struct weft__owner *o,
                                                                struct weft__done_entry *e) {
  enum weft__owner_entry in = weft__owner_try_enter_word(o, &f->lock.word);
  if (__builtin_expect(in == WEFT__OWNER_IN, 1)) return weft__owner_leave_ret(o, entry_add_locked(f, e));
  if (in == WEFT__OWNER_GAVE_UP) return entry_add_own_left(o, f, e);
  return entry_add_own_slow(f, o, e);
}

/* entry_add on a future with a record @o (futlock.h): a section on @o's
 * worker, else the lock. Out of line, so that the others keep the bare
 * lock's code, and with no frame (every await that suspends adds its
 * waiter here). */
static __attribute__((noinline)) WEFT__NO_FRAME int entry_add_own(struct weft_future *f, struct weft__owner *o,
                                                                  struct weft__done_entry *e) {
  if (__builtin_expect(weft__ownlock_mine(o), 1)) return entry_add_mine(f, o, e);
  return entry_add_own_slow(f, o, e);
}

/* The same on a one-worker loop's future (the loop's record), asking
 * whether this is its worker as complete_solo does (futlock.h,
 * weft__futlock_is_owner: the worker's loop). Not folded into
 * entry_add_own, whose question goes through the worker's `sections`:
 * folded, one-worker ping_pong took 1.09x the time (60.6 against 65.1 ns,
 * 11 interleaved rounds; RESULTS.md, 2026-12-08). */
static __attribute__((noinline)) WEFT__NO_FRAME int entry_add_solo(struct weft_future *f,
                                                                   struct weft__done_entry *e) {
  struct weft_loop *loop = f->loop;
  if (__builtin_expect(weft__futlock_is_owner(loop), 1)) return entry_add_mine(f, loop->owner, e);
  return entry_add_own_slow(f, loop->owner, e);
}

/* entry_add on a loop of several workers (out of line, as complete_multi). */
static __attribute__((noinline)) int entry_add_multi(struct weft_future *f, struct weft__done_entry *e) {
  struct weft__owner *o = weft__future_owner(f);
  if (o) return entry_add_own(f, o, e);
  weft__amutex_lock(&f->lock);
  bool added = entry_add_locked(f, e);
  weft__amutex_unlock(&f->lock);
  return added;
}

static inline bool entry_add(struct weft_future *f, struct weft__done_entry *e) {
  if (f->loop->solo) return entry_add_solo(f, e);
  return entry_add_multi(f, e);
}

/* Takes @e off @f's entries if completion did not; true if it did. Also
 * the waiter's half of the waker rule: the lock is taken. */
static bool entry_remove(struct weft_future *f, struct weft__done_entry *e) {
  weft__futlock(f);
  bool linked = weft__chain_linked(&e->link);
  if (linked) {
    weft__chain_del(&f->entries, &e->link);
    hint_clear(f); /* linked: still pending */
  }
  WEFT__INVARIANT(fut_ok(f, true));
  weft__futunlock(f);
  return linked;
}

void weft__future_add_callback(struct weft_future *f, struct weft_handle *h) {
  if (!entry_add(f, &h->entry)) weft__handle_schedule_done(h); /* scheduled, never called inline */
}

bool weft__future_remove_callback(struct weft_future *f, struct weft_handle *h) {
  return entry_remove(f, &h->entry);
}

int weft_future_on_done(weft_future_t *f, weft_future_cb cb, void *arg) {
  if (!f || !cb) return -EINVAL;
  struct weft_handle *h = weft__handle_new_done(f, cb, arg);
  if (!h) return -ENOMEM;
  weft__future_add_callback(f, h);
  return 0;
}

int weft_future_remove_done(weft_future_t *f, weft_future_cb cb, void *arg) {
  if (!f || !cb) return -EINVAL;
  /* Every entry moves to `kept` or `removed`, in order. */
  struct weft__chain kept, removed;
  struct weft__chain_node *pos;
  weft__chain_init(&kept);
  weft__chain_init(&removed);
  int n = 0;
  weft__futlock(f);
  while ((pos = weft__chain_pop(&f->entries))) {
    struct weft__done_entry *e = weft__container_of(pos, struct weft__done_entry, link);
    struct weft_handle *h =
        e->kind == WEFT__ENTRY_CALLBACK ? weft__container_of(e, struct weft_handle, entry) : NULL;
    if (h && h->fcb == cb && h->arg == arg) {
      weft__chain_add_tail(&removed, pos);
      n++;
    } else {
      weft__chain_add_tail(&kept, pos);
    }
  }
  f->entries = kept;
  if (atomic_load_explicit(&f->state, memory_order_relaxed) == WEFT__FUT_PENDING) hint_clear(f);
  WEFT__INVARIANT(fut_ok(f, true));
  weft__futunlock(f);
  while ((pos = weft__chain_pop(&removed)))
    weft__handle_discard(weft__container_of(pos, struct weft_handle, entry.link));
  return n;
}

/* Registers @w on @f unless @f is done; returns whether it registered. */
static bool waiter_add(struct weft_future *f, struct weft__waiter *w) {
  atomic_init(&w->fired, 0);
  return entry_add(f, &w->e);
}

/* Leaves the wait: takes the lock (future.h, waker rule) and unlinks @w if
 * the completer did not; without the lock when the completer is done with
 * @w (a task waiter's WEFT__FIRED_WOKEN: unlinked, its task woken). */
static void waiter_remove(struct weft_future *f, struct weft__waiter *w) {
  /* acquire: pairs with fire_entry's last release store. */
  if (atomic_load_explicit(&w->fired, memory_order_acquire) == WEFT__FIRED_WOKEN) return;
  /* relaxed: written by this thread (invariant 5); set, it detached us. */
  if (w->reads_leaf && atomic_load_explicit(&f->leaf_fired, memory_order_relaxed)) return;
  entry_remove(f, &w->e);
}

/* An awaiter's cancellation passed on to @f (future.h). */
int weft__future_cancel_awaited(struct weft_future *f, const char *msg) {
  if (weft__future_is_done(f)) return 0;
  if (f->is_task) return weft__task_cancel_for_awaiter(weft__task_of(f), msg);
  return weft__future_cancel(f, msg);
}

static int await_until(struct weft_future *f, uint64_t deadline_ns, void **result) {
  if (!f) return -EINVAL;
  struct weft__worker *wk = weft__worker_self();
  struct weft_task *t = wk ? weft__worker_current(wk) : NULL;
  if (!t) return -EPERM;
  if (&t->fut == f) return -EDEADLK;
  if (!weft__future_is_done(f)) {
    if (weft__task_take_cancel(t)) {
      weft__future_cancel_awaited(f, NULL);
      return weft__task_cancelled_after_pass(t);
    }
    /* Fork-join: an awaited task that has not started runs here, inline;
     * never under a deadline, which the host could not keep meanwhile. */
    if (f->is_task && !deadline_ns && weft__task_run_inline(t, weft__task_of(f))) {
      if (weft__task_take_cancel(t)) return -ECANCELED;
      return weft__future_outcome(f, result);
    }
    /* Without a deadline the wait loop runs in this frame (task.h) and
     * reads leaf_fired too (invariant 5): a plain future of our own
     * one-worker loop (hint_kind) may then leave this node unwritten. */
    struct weft__waiter w = {.e.kind = WEFT__ENTRY_TASK,
                             .task = t,
                             .reads_leaf = !deadline_ns && f->loop == wk->loop && hint_kind(f)};
    if (waiter_add(f, &w)) {
      weft__task_blocked(t, WEFT__BLOCK_FUTURE, f, f->is_task ? (int64_t)weft__task_of(f)->id : 0);
      int rc = deadline_ns ? weft__task_wait(t, &w.fired, deadline_ns)
                           : weft__task_wait_loop(t, wk->loop, &w.fired, w.reads_leaf ? &f->leaf_fired : NULL,
                                                  NULL, true);
      waiter_remove(f, &w);
      weft__task_unblocked(t);
      if (rc == -ECANCELED) {
        weft__future_cancel_awaited(f, NULL);
        return rc;
      }
      if (rc) return rc;
    }
  }
  return weft__future_outcome(f, result);
}

int weft_await(weft_future_t *f, void **result) { return await_until(f, 0, result); }

int weft_await_timeout(weft_future_t *f, int64_t timeout_ns, void **result) {
  return await_until(f, weft__deadline(timeout_ns), result); /* deadline.h's rule */
}

int weft_future_wait_threadsafe(weft_future_t *f, int64_t timeout_ns, void **result) {
  if (!f) return -EINVAL;
  if (weft__worker_self()) return -EDEADLK;
  if (!weft__future_is_done(f)) {
    uint64_t deadline = weft__deadline(timeout_ns);
    struct weft__waiter w = {.e.kind = WEFT__ENTRY_THREAD, .task = NULL};
    if (waiter_add(f, &w)) {
      weft__futex_wait_nonzero(&w.fired, deadline); /* pairs with fire_entry's release */
      waiter_remove(f, &w);
      if (!atomic_load_explicit(&w.fired, memory_order_acquire)) return -ETIMEDOUT;
    }
  }
  return weft__future_outcome(f, result);
}

weft_loop_t *weft_future_loop(const weft_future_t *f) { return f ? f->loop : NULL; }

bool weft__future_notify_add(struct weft_future *f, struct weft__notify *n) {
  n->e.kind = WEFT__ENTRY_NOTIFY;
  return entry_add(f, &n->e);
}

bool weft__future_notify_remove(struct weft_future *f, struct weft__notify *n) {
  return entry_remove(f, &n->e);
}

int weft__await_settled(struct weft_future *f, void **result) {
  struct weft_task *t = weft__task_self();
  if (!weft__future_is_done(f)) {
    struct weft__waiter w = {.e.kind = WEFT__ENTRY_TASK, .task = t};
    if (waiter_add(f, &w)) {
      /* Every cancellation that reaches us goes on to f; we keep waiting
       * for f itself. While the loop closes every cancellable wait fails at
       * once, so the rest of the wait is not cancellable (close cancels f
       * too, and runs it to its end). */
      for (;;) {
        if (weft__task_wait(t, &w.fired, 0) == 0) break;
        /* acquire: pairs with fire_entry's release store. */
        if (atomic_load_explicit(&w.fired, memory_order_acquire)) break;
        weft__future_cancel_awaited(f, NULL);
        if (atomic_load_explicit(&t->fut.loop->closing, memory_order_relaxed)) {
          weft__task_wait_nocancel(t, &w.fired, 0);
          break;
        }
      }
      waiter_remove(f, &w);
    }
  }
  return weft__future_outcome(f, result);
}
