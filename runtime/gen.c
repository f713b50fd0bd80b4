/*
 * gen.c - generators (weft/gen.h): a body run as a task of its own, and a
 * rendezvous between it and its consumer.
 *
 * One step: the consumer posts a request (send a value, throw an error,
 * close) and waits for the answer; the body, resumed at its yield (or
 * started, for the first step), runs until it yields a value or returns,
 * and answers. Both sides wait with weft__task_wait on a flag the other
 * sets under g->m while waking them (the waker rule, future.h), so each
 * side's wait node lives on its own stack and no wake is lost.
 *
 * m is the futures' lock (amutex.h), whose unlock is a plain store: a
 * step takes it four times, one on each side to post, one on each to
 * leave its wait (the waker rule), and mutex.h's exchange on each unlock
 * was a tenth of gen_pingpong (benchmarks/RESULTS.md, 2026-12-06).
 *
 * Invariants (under m):
 *  - state is CREATED until the first step spawns the body, SUSPENDED
 *    exactly while the body waits at a yield (body_waiter set), CLOSED once
 *    the body has returned (or was never started and was closed);
 *  - busy is set from a consumer's request until it took the answer; at
 *    most one consumer call runs (-EBUSY for another);
 *  - refs = the users' references + 1 while the body's task exists.
 */
#include "weft.h"
#include "weft/gen.h"
#include "alloc.h"
#include "amutex.h"
#include "task.h"
#include "worker.h"

#include <errno.h>

enum req { REQ_SEND, REQ_THROW, REQ_CLOSE };

struct weft_gen {
  struct weft__amutex m;     /* unlock: a plain store (amutex.h) */
  _Atomic unsigned refs;
  weft_gen_fn fn;
  void *arg;
  int state;                 /* enum weft_gen_state; under m (read racily by weft_gen_state) */
  struct weft_task *task;    /* the body's task while it exists (referenced); under m */
  bool busy;                 /* a consumer call is in progress; under m */
  bool closing;              /* a close was asked for; under m */
  /* consumer -> body */
  int req;
  void *req_value;
  int req_err;
  _Atomic uint32_t req_fired;
  struct weft_task *body_waiter; /* the body, waiting at a yield; under m */
  /* body -> consumer */
  int resp_rc;
  void *resp_value;
  _Atomic uint32_t resp_fired;
  struct weft_task *consumer;    /* waiting for the answer; under m */
  /* The consumer's cancellation, passed on to the body during this step
   * (forwarded), and whether it was passed on and the body had taken it
   * by the time it answered (fwd_taken); else the answer took it back.
   * Under m. */
  bool forwarded;
  bool fwd_taken;
  /* The body's task has begun body() (started). A consumer cancelled
   * before that leaves the request with the body (cancel_at_start), which
   * makes it itself as it begins: a task cancelled before its first step
   * never runs, and would never answer. Under m. */
  bool started;
  bool cancel_at_start;
};

int weft_gen_new(weft_gen_fn fn, void *arg, weft_gen_t **out) {
  if (!fn || !out) return -EINVAL;
  struct weft_gen *g = weft__calloc(sizeof *g);
  if (!g) return -ENOMEM;
  weft__amutex_init(&g->m);
  atomic_init(&g->refs, 1);
  atomic_init(&g->req_fired, 0);
  atomic_init(&g->resp_fired, 0);
  g->fn = fn;
  g->arg = arg;
  g->state = WEFT_GEN_CREATED;
  *out = g;
  return 0;
}

static void put(struct weft_gen *g) {
  /* acq_rel: the last releaser sees every holder's writes before freeing. */
  if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1) weft__free(g, sizeof *g);
}

int weft_gen_state(const weft_gen_t *g) {
  if (!g) return -EINVAL;
  struct weft_gen *mg = (struct weft_gen *)g;
  weft__amutex_lock(&mg->m);
  int s = mg->state;
  weft__amutex_unlock(&mg->m);
  return s;
}

/* Under m: hands the answer of @body (the body's task, answering) to the
 * waiting consumer, if any. A cancellation the consumer passed on that
 * @body has not taken yet is the consumer's again (fwd_taken false): the
 * body answered before it arrived, so it must not reach the body's next
 * suspension point (a yield's wait would read it as the generator being
 * dropped, and close it). */
static void answer_locked(struct weft_gen *g, struct weft_task *body, int rc, void *value) {
  g->fwd_taken = g->forwarded && !weft__task_withdraw_cancel(body);
  g->resp_rc = rc;
  g->resp_value = value;
  /* release: the consumer's acquire load of resp_fired sees the answer. */
  atomic_store_explicit(&g->resp_fired, 1, memory_order_release);
  /* Hand-off: the consumer runs as soon as we switch out (asyncio runs a
   * generator's step inside its consumer's), not after the queue. */
  if (g->consumer) weft__task_wake_hint(g->consumer, WEFT__SCHED_HANDOFF);
}

/* Under m: posts a request to the body waiting at its yield. */
static void request_locked(struct weft_gen *g, int req, void *value, int err) {
  g->req = req;
  g->req_value = value;
  g->req_err = err;
  g->state = WEFT_GEN_RUNNING;
  /* release: the body's acquire load of req_fired sees the request. */
  atomic_store_explicit(&g->req_fired, 1, memory_order_release);
  weft__task_wake_hint(g->body_waiter, WEFT__SCHED_HANDOFF); /* as answer_locked */
}

static int body(void *arg, void **res) {
  (void)res;
  struct weft_gen *g = arg;
  weft__amutex_lock(&g->m);
  g->started = true;
  bool cancelled = g->cancel_at_start;
  weft__amutex_unlock(&g->m);
  /* The consumer's cancellation, passed on before we began: delivered at
   * our first suspension point, as asyncio throws it into the generator's
   * first await (a generator that yields first hands its value over, and
   * the consumer keeps the cancellation: answer_locked). */
  if (cancelled) weft_task_cancel(weft__task_self(), NULL);
  int rc = g->fn(g, g->arg);
  weft__amutex_lock(&g->m);
  g->state = WEFT_GEN_CLOSED;
  struct weft_task *t = g->task;
  g->task = NULL;
  if (g->closing) /* returning is what a close wants; GeneratorExit passing through too */
    rc = rc == WEFT_EGENEXIT || rc == 0 ? 0 : rc;
  else
    rc = rc < 0 ? rc : WEFT_ESTOP;
  answer_locked(g, t, rc, NULL);
  weft__amutex_unlock(&g->m);
  weft_task_release(t);
  put(g); /* the body's reference */
  return 0;
}

/* A consumer call: posts @req and waits for the answer. */
static int step(struct weft_gen *g, int req, void *value, int err, void **out) {
  if (!g) return -EINVAL;
  struct weft_task *self = weft__task_self();
  if (!self) return -EPERM;
  weft__amutex_lock(&g->m);
  int rc = 0;
  bool wait = false; /* whether a step was started that we must wait for */
  if (g->busy) {
    rc = -EBUSY;
  } else if (g->state == WEFT_GEN_CLOSED) {
    /* CPython: aclose() and athrow() of a finished generator return
     * normally (the error is not raised); anext() is StopAsyncIteration. */
    rc = req == REQ_SEND ? WEFT_ESTOP : 0;
    if (rc == 0 && out) *out = NULL;
  } else if (g->state == WEFT_GEN_CREATED && req != REQ_SEND) {
    g->state = WEFT_GEN_CLOSED; /* never started: closed; a throw comes straight back */
    rc = req == REQ_CLOSE ? 0 : err;
  } else if (g->state == WEFT_GEN_CREATED && value) {
    rc = -EINVAL; /* nothing is waiting for a sent value yet */
  } else {
    /* Set up to receive the answer before anything can send it. */
    g->busy = true;
    g->consumer = self;
    g->forwarded = false;
    atomic_store_explicit(&g->resp_fired, 0, memory_order_relaxed);
    if (g->state == WEFT_GEN_CREATED) {
      weft_task_t *t;
      atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed); /* the body's */
      rc = weft__task_create_internal(NULL, body, g, NULL, &t); /* the library's own: no factory, not listed */
      if (rc) {
        atomic_fetch_sub_explicit(&g->refs, 1, memory_order_relaxed);
        g->busy = false;
        g->consumer = NULL;
      } else {
        g->task = t;
        g->state = WEFT_GEN_RUNNING;
      }
    } else { /* SUSPENDED: RUNNING is never seen here without busy */
      if (req == REQ_CLOSE) g->closing = true;
      request_locked(g, req, value, err);
    }
    wait = rc == 0;
  }
  if (!wait) {
    weft__amutex_unlock(&g->m);
    return rc;
  }
  weft__amutex_unlock(&g->m);
  weft__task_blocked(self, WEFT__BLOCK_GEN, g, 0);
  rc = weft__task_wait(self, &g->resp_fired, 0);
  if (rc == -ECANCELED) {
    /* The body works for us: the cancellation goes to it, and we keep
     * waiting for its answer (asyncio runs it inside our task). */
    weft__amutex_lock(&g->m);
    if (g->task && !atomic_load_explicit(&g->resp_fired, memory_order_acquire)) {
      if (!g->started) {
        g->cancel_at_start = true; /* the body makes the request as it begins */
        g->forwarded = true;
      } else if (weft_task_cancel(g->task, NULL) == 1) {
        g->forwarded = true;
      }
    }
    weft__amutex_unlock(&g->m);
    weft__task_wait_nocancel(self, &g->resp_fired, 0);
  }
  weft__amutex_lock(&g->m); /* the waker rule: the body is done with us */
  g->busy = false;
  g->consumer = NULL;
  int answer = g->resp_rc;
  void *v = g->resp_value;
  bool reached = g->fwd_taken;
  weft__amutex_unlock(&g->m);
  /* An answer that came back despite our cancellation is ours. If the
   * cancellation reached the body, which answered anyway, it is spent:
   * asyncio throws it once, into the generator's frame inside our task,
   * and a generator that catches it and yields leaves its consumer
   * uncancelled. If it never did (the answer came first, or it was taken
   * back), it waits for our next suspension point, as if it had come
   * after the step. */
  if (rc == -ECANCELED && answer != -ECANCELED && !reached) weft__task_recancel(self);
  if (out) *out = answer == 0 ? v : NULL;
  return answer;
}

int weft_gen_next(weft_gen_t *g, void **value) { return step(g, REQ_SEND, NULL, 0, value); }

int weft_gen_send(weft_gen_t *g, void *sent, void **value) {
  return step(g, REQ_SEND, sent, 0, value);
}

int weft_gen_throw(weft_gen_t *g, int err, void **value) {
  if (err >= 0) return -EINVAL;
  return step(g, REQ_THROW, NULL, err, value);
}

int weft_gen_close(weft_gen_t *g) { return step(g, REQ_CLOSE, NULL, 0, NULL); }

int weft_gen_yield(weft_gen_t *g, void *value, void **sent) {
  if (!g) return -EINVAL;
  struct weft_task *self = weft__task_self();
  weft__amutex_lock(&g->m);
  if (!self || self != g->task) {
    weft__amutex_unlock(&g->m);
    return -EPERM;
  }
  /* Yielding while being closed: the close fails (Python's RuntimeError,
   * "ignored GeneratorExit") and the body stays suspended here. */
  answer_locked(g, self, g->closing ? WEFT_EINVALSTATE : 0, g->closing ? NULL : value);
  g->closing = false;
  g->state = WEFT_GEN_SUSPENDED;
  g->body_waiter = self;
  atomic_store_explicit(&g->req_fired, 0, memory_order_relaxed);
  weft__amutex_unlock(&g->m);
  weft__task_blocked(self, WEFT__BLOCK_GEN, g, 1);
  int rc = weft__task_wait(self, &g->req_fired, 0);
  weft__amutex_lock(&g->m); /* the waker rule */
  g->body_waiter = NULL;
  if (!atomic_load_explicit(&g->req_fired, memory_order_acquire)) {
    /* Cancelled with no consumer asking: the loop is shutting down or the
     * generator was dropped. Either way: closing. */
    (void)rc;
    g->state = WEFT_GEN_RUNNING;
    g->closing = true;
    weft__amutex_unlock(&g->m);
    if (sent) *sent = NULL;
    return WEFT_EGENEXIT;
  }
  int req = g->req;
  void *v = g->req_value;
  int err = g->req_err;
  weft__amutex_unlock(&g->m);
  if (rc == -ECANCELED) weft__task_recancel(self); /* a request won the race: keep both */
  if (sent) *sent = req == REQ_SEND ? v : NULL;
  return req == REQ_SEND ? 0 : req == REQ_THROW ? err : WEFT_EGENEXIT;
}

void weft_gen_release(weft_gen_t *g) {
  if (!g) return;
  weft__amutex_lock(&g->m);
  /* The last user reference (the body's is the other one): a generator
   * left at a yield is closed, without waiting; its body finishes alone. */
  bool last_user = atomic_load_explicit(&g->refs, memory_order_relaxed) == (g->task ? 2u : 1u);
  if (last_user && g->state == WEFT_GEN_SUSPENDED && !g->busy) {
    g->closing = true;
    request_locked(g, REQ_CLOSE, NULL, 0);
  }
  weft__amutex_unlock(&g->m);
  put(g);
}
