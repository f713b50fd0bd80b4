/*
 * shield.c - asyncio.shield: an outer future that follows an inner one but
 * whose cancellation stays its own (weft/compose.h).
 *
 * The outer future is embedded in struct shield; a notify entry (future.h)
 * on the inner future copies the inner outcome to it at completion, unless
 * the outer future was cancelled first (by a task awaiting it being
 * cancelled, say). Then the inner outcome is left on the inner future:
 * its value for whoever holds it, and an error is reported as never
 * retrieved when the inner future is freed, unless someone reads it. asyncio
 * does the same once its outer done-callback has removed the inner one;
 * in the instant before that it marks the error retrieved, which weft
 * does not do: a late error is reported rather than lost.
 *
 * One worker in FIFO order (asyncio's exact order): asyncio copies the
 * outcome in _inner_done_callback, a done callback a pass after the inner
 * future completes, and the task awaiting the outer future resumes a pass
 * after that. There the entry queues such a callback (struct weft__call,
 * handle.h), which takes over the entry's reference.
 *
 * Lifetime: the shield holds a reference on the inner future, and one on
 * itself while its entry is registered (dropped by the entry), so the entry
 * never outlives it. Lock order: the inner future's lock, then the
 * outer's (completing it); nothing takes them the other way round.
 */
#include "weft.h"
#include "weft/compose.h"
#include "alloc.h"
#include "future.h"
#include "handle.h"
#include "loop.h"

#include <errno.h>

struct shield {
  struct weft_future outer;   /* first */
  struct weft__notify note;   /* on inner */
  struct weft__call follow;   /* one worker in FIFO order: the follow as a callback (head comment) */
  struct weft_future *inner;  /* referenced; immutable */
};

static void shield_free(struct weft_future *f) {
  struct shield *s = (struct shield *)f;
  struct weft_loop *loop = f->loop;
  weft__future_fini(f);
  weft_future_release(s->inner);
  weft__free(s, sizeof *s);
  weft__loop_count(loop, -1);
}

static const struct weft__future_ops shield_ops = {.free = shield_free};

/* Copies @inner's outcome to the outer future, if it is still pending.
 * @locked: the inner lock is held (the entry), so retrieved is written
 * directly. */
static void follow(struct shield *s, struct weft_future *inner, bool locked) {
  if (weft__future_is_done(&s->outer)) return; /* cancelled: the outcome stays on inner */
  int err = inner->err;
  char *msg = inner->msg ? weft__strdup(inner->msg) : NULL;
  if (err && err != -ECANCELED) { /* it travels on the outer future now */
    if (locked)
      inner->retrieved = 1;
    else
      weft__future_mark_retrieved_if_done(inner);
  }
  weft__future_complete(&s->outer, err, err ? NULL : inner->result, msg);
}

/* asyncio's _inner_done_callback (head comment), with the entry's reference. */
static void inner_callback(struct weft__call *call) {
  struct shield *s = weft__container_of(call, struct shield, follow);
  follow(s, s->inner, false);
  weft_future_release(&s->outer);
}

/* Follows @inner now, or queues the callback that will (@locked: as
 * follow's); either way the entry's reference goes with it. */
static void inner_done(struct shield *s, struct weft_future *inner, bool locked) {
  if (weft__loop_asyncio_order(s->outer.loop) &&
      weft__call_queue(s->outer.loop, &s->follow, inner_callback))
    return;
  follow(s, inner, locked); /* inline, or the loop is closed */
  weft_future_release(&s->outer); /* inner's completer (or our caller) holds one on inner */
}

static void on_inner(struct weft__notify *n, struct weft_future *inner) {
  inner_done(weft__container_of(n, struct shield, note), inner, true);
}

int weft_shield(weft_future_t *inner, weft_future_t **out) {
  if (!inner || !out) return -EINVAL;
  if (weft__future_is_done(inner)) { /* asyncio returns inner itself */
    *out = weft_future_ref(inner);
    return 0;
  }
  struct shield *s = weft__alloc(sizeof *s);
  if (!s) return -ENOMEM;
  weft__future_init(&s->outer, inner->loop, false);
  s->outer.ops = &shield_ops;
  atomic_store_explicit(&s->outer.refs, 2, memory_order_relaxed); /* the caller's, the entry's */
  s->inner = weft_future_ref(inner);
  s->note.fn = on_inner;
  weft__chain_node_init(&s->note.e.link);
  weft__loop_count(inner->loop, +1);
  if (!weft__future_notify_add(inner, &s->note)) inner_done(s, inner, false); /* done meanwhile */
  *out = &s->outer;
  return 0;
}
