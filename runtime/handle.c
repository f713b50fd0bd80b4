/*
 * handle.c - call_soon, call_later, call_at and done-callback handles.
 *
 * A handle runs at most once: running and cancelling race through one CAS on
 * state (PENDING -> RAN or PENDING -> CANCELLED). A cancelled handle that is
 * already queued stays queued and is dropped when popped (asyncio does the
 * same); a cancelled timer is also taken out of its heap at once so that
 * cancelled far-future timers do not pile up.
 *
 * Ownership of arg: weft never frees it. If scheduling fails, the callback is
 * never called (libuv's rule).
 */
#include "context.h"
#include "handle.h"
#include "alloc.h"
#include "clock.h"
#include "loop.h"
#include "worker.h"

#include <errno.h>
#include <math.h>

static struct weft_handle *handle_new(struct weft_loop *loop, uint8_t kind, bool user_ref) {
  struct weft_handle *h = weft__alloc(sizeof *h);
  if (!h) return NULL;
  weft__runnable_init(&h->r, WEFT__R_HANDLE);
  atomic_init(&h->refs, user_ref ? 2 : 1);
  atomic_init(&h->state, WEFT__H_PENDING);
  h->kind = kind;
  h->cb = NULL;
  h->fcb = NULL;
  h->arg = NULL;
  h->fut = NULL;
  h->loop = loop;
  h->ctx_map = weft__ctx_capture(); /* the callback runs in it (asyncio) */
  weft__magic_live(h);
  weft__loop_count(loop, +1);
  return h;
}

static void handle_unref(struct weft_handle *h) {
  weft__magic_check(h, "double release", "handle");
  /* acq_rel: the last holder frees; see weft_future_release. */
  if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) != 1) return;
  struct weft_loop *loop = h->loop;
  weft__magic_dead(h);
  if (h->fut) weft_future_release(h->fut);
  weft__ctx_release(h->ctx_map);
  weft__free(h, sizeof *h);
  weft__loop_count(loop, -1);
}

void weft_handle_release(weft_handle_t *h) {
  if (h) handle_unref(h);
}

int weft_call_soon(weft_callback_fn cb, void *arg, weft_handle_t **out) {
  if (!cb) return -EINVAL;
  struct weft__worker *w = weft__worker_self();
  if (!w) return -EPERM;
  struct weft_handle *h = handle_new(w->loop, WEFT__H_SOON, out != NULL);
  if (!h) return -ENOMEM;
  h->cb = cb;
  h->arg = arg;
  if (out) *out = h;
  weft__schedule(w->loop, &h->r, WEFT__UNPINNED, WEFT__SCHED_BACK);
  return 0;
}

/* call_soon from any thread: a handle of @kind queued on @loop. */
static int soon_threadsafe(struct weft_loop *loop, uint8_t kind, weft_callback_fn cb, void *arg,
                           weft_handle_t **out) {
  if (atomic_load_explicit(&loop->closed, memory_order_acquire)) return WEFT_ECLOSED;
  struct weft_handle *h = handle_new(loop, kind, out != NULL);
  if (!h) return -ENOMEM;
  h->cb = cb;
  h->arg = arg;
  if (out) *out = h;
  weft__schedule(loop, &h->r, WEFT__UNPINNED, WEFT__SCHED_BACK);
  return 0;
}

int weft_call_soon_threadsafe(weft_loop_t *loop, weft_callback_fn cb, void *arg,
                              weft_handle_t **out) {
  if (!loop || !cb) return -EINVAL;
  return soon_threadsafe(loop, WEFT__H_SOON, cb, arg, out);
}

int weft__call_soon_internal(struct weft_loop *loop, weft_callback_fn cb, void *arg) {
  return soon_threadsafe(loop, WEFT__H_INTERNAL, cb, arg, NULL);
}

static bool call_queue(struct weft_loop *loop, struct weft__call *c, void (*fn)(struct weft__call *c),
                       bool sure) {
  /* acquire: as soon_threadsafe's look. */
  if (atomic_load_explicit(&loop->closed, memory_order_acquire)) return false;
  weft__runnable_init(&c->r, WEFT__R_CALL);
  c->fn = fn;
  c->sure = sure;
  weft__schedule(loop, &c->r, WEFT__UNPINNED, WEFT__SCHED_BACK);
  return true;
}

bool weft__call_queue(struct weft_loop *loop, struct weft__call *c, void (*fn)(struct weft__call *c)) {
  return call_queue(loop, c, fn, false);
}

bool weft__call_queue_sure(struct weft_loop *loop, struct weft__call *c, void (*fn)(struct weft__call *c)) {
  return call_queue(loop, c, fn, true);
}

static void timer_fire(struct weft__timer *t) {
  struct weft_handle *h = weft__container_of(t, struct weft_handle, timer);
  /* The heap's reference passes to the run queue. */
  weft__schedule(h->loop, &h->r, WEFT__UNPINNED, WEFT__SCHED_BACK);
}

/* Arms a timer handle on @timers, the heap of a worker of @loop. */
static int timer_on(struct weft_loop *loop, struct weft__timers *timers, uint64_t when_ns,
                    weft_callback_fn cb, void *arg, weft_handle_t **out) {
  struct weft_handle *h = handle_new(loop, WEFT__H_TIMER, out != NULL);
  if (!h) return -ENOMEM;
  h->cb = cb;
  h->arg = arg;
  h->when_ns = when_ns;
  weft__timer_init(&h->timer, timer_fire);
  if (weft__timers_add(timers, &h->timer, when_ns) != 0) {
    atomic_store_explicit(&h->refs, 1, memory_order_relaxed);
    handle_unref(h);
    return -ENOMEM;
  }
  if (out) *out = h;
  return 0;
}

static int call_at_ns(uint64_t when_ns, weft_callback_fn cb, void *arg, weft_handle_t **out) {
  struct weft__worker *w = weft__worker_self();
  if (!w) return -EPERM;
  return timer_on(w->loop, &w->timers, when_ns, cb, arg, out);
}

/* A delay or a time in the past means "now" (asyncio: the callback runs at
 * the next timer pass); NaN is refused, as asyncio 3.13 refuses it. */
static int seconds_to_ns(double s, uint64_t *ns) {
  if (isnan(s)) return -EINVAL;
  if (s < 0) s = 0;
  if (s > 1e9) s = 1e9; /* about 31 years (also +inf): effectively never */
  *ns = (uint64_t)(s * 1e9);
  return 0;
}

int weft_call_later(double delay, weft_callback_fn cb, void *arg, weft_handle_t **out) {
  uint64_t ns;
  if (!cb || seconds_to_ns(delay, &ns)) return -EINVAL;
  return call_at_ns(weft__clock_ns() + ns, cb, arg, out);
}

int weft_call_at(double when, weft_callback_fn cb, void *arg, weft_handle_t **out) {
  uint64_t ns;
  if (!cb || seconds_to_ns(when, &ns)) return -EINVAL;
  return call_at_ns(ns, cb, arg, out);
}

int weft_handle_cancel(weft_handle_t *h) {
  if (!h) return -EINVAL;
  uint32_t expected = WEFT__H_PENDING;
  /* acq_rel: decides, once, between running and cancelling. */
  if (!atomic_compare_exchange_strong_explicit(&h->state, &expected, WEFT__H_CANCELLED,
                                               memory_order_acq_rel, memory_order_acquire))
    return 0;
  if (h->kind == WEFT__H_TIMER && weft__timers_cancel(&h->timer))
    handle_unref(h); /* the heap's reference */
  return 1;
}

double weft_handle_when(const weft_handle_t *h) {
  if (!h || h->kind != WEFT__H_TIMER) return -1.0;
  return (double)h->when_ns / 1e9;
}

int weft_handle_cancelled(const weft_handle_t *h) {
  return h && atomic_load_explicit(&((weft_handle_t *)h)->state, memory_order_acquire) ==
                  WEFT__H_CANCELLED;
}

struct weft_handle *weft__handle_new_done(struct weft_future *f, weft_future_cb cb, void *arg) {
  struct weft_handle *h = handle_new(f->loop, WEFT__H_DONE, false);
  if (!h) return NULL;
  h->fcb = cb;
  h->arg = arg;
  h->fut = weft_future_ref(f);
  h->entry.kind = WEFT__ENTRY_CALLBACK;
  weft__chain_node_init(&h->entry.link);
  return h;
}

void weft__handle_schedule_done(struct weft_handle *h) {
  weft__schedule(h->loop, &h->r, WEFT__UNPINNED, WEFT__SCHED_BACK);
}

void weft__handle_discard(struct weft_handle *h) {
  atomic_store_explicit(&h->state, WEFT__H_CANCELLED, memory_order_relaxed);
  handle_unref(h);
}

void weft__handle_run(struct weft_handle *h) {
  uint32_t expected = WEFT__H_PENDING;
  /* While the loop closes, only weft's own callbacks run (handle.h). */
  bool open = h->kind == WEFT__H_INTERNAL ||
              !atomic_load_explicit(&h->loop->closing, memory_order_relaxed);
  bool run = open && atomic_compare_exchange_strong_explicit(&h->state, &expected, WEFT__H_RAN,
                                                             memory_order_acq_rel, memory_order_acquire);
  if (run) {
    struct weft__ctx_map *saved = weft__ctx_enter(h->ctx_map);
    if (h->kind == WEFT__H_DONE)
      h->fcb(h->fut, h->arg);
    else
      h->cb(h->arg);
    weft__ctx_leave(saved);
  }
  handle_unref(h);
}

void weft__handle_drop(struct weft_handle *h) { handle_unref(h); }

/* ---- the loop-taking forms (loop.call_soon before run_forever) ------------ */

/* Where a loop-taking call may schedule: 1 on a worker of @loop, 0 from
 * a thread while @loop is not running (nothing else touches it then, as
 * the loop is not thread-safe), or an error. */
static int loop_caller(struct weft_loop *loop) {
  if (atomic_load_explicit(&loop->closed, memory_order_acquire)) return WEFT_ECLOSED;
  struct weft__worker *w = weft__worker_self();
  if (w && w->loop == loop) return 1;
  if (atomic_load_explicit(&loop->running, memory_order_acquire)) return -EPERM;
  return 0;
}

int weft_loop_call_soon(weft_loop_t *loop, weft_callback_fn cb, void *arg, weft_handle_t **out) {
  if (!loop || !cb) return -EINVAL;
  int where = loop_caller(loop);
  if (where < 0) return where;
  return weft_call_soon_threadsafe(loop, cb, arg, out); /* from a worker, a plain call_soon */
}

static int loop_call_at_ns(struct weft_loop *loop, uint64_t when_ns, weft_callback_fn cb,
                           void *arg, weft_handle_t **out) {
  int where = loop_caller(loop);
  if (where < 0) return where;
  if (where == 1) return call_at_ns(when_ns, cb, arg, out);
  /* Not running: worker 0's heap, whose owner starts with the run. */
  return timer_on(loop, &loop->workers[0].timers, when_ns, cb, arg, out);
}

int weft_loop_call_later(weft_loop_t *loop, double delay, weft_callback_fn cb, void *arg,
                         weft_handle_t **out) {
  uint64_t ns;
  if (!loop || !cb || seconds_to_ns(delay, &ns)) return -EINVAL;
  return loop_call_at_ns(loop, weft__clock_ns() + ns, cb, arg, out);
}

int weft_loop_call_at(weft_loop_t *loop, double when, weft_callback_fn cb, void *arg,
                      weft_handle_t **out) {
  uint64_t ns;
  if (!loop || !cb || seconds_to_ns(when, &ns)) return -EINVAL;
  return loop_call_at_ns(loop, ns, cb, arg, out);
}
