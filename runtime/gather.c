/*
 * gather.c - asyncio.gather: one future for many (weft/compose.h).
 *
 * A gathering future is a future embedded in struct gather (its ops give
 * it asyncio's _GatheringFuture.cancel and its own free). Each distinct
 * child gets one notify entry (future.h): its outcome is looked at inline,
 * under the child's lock, at the child's completion; no callback is
 * queued, so gathering n children costs n entries and one wake-up of the
 * awaiter. Children that are done at the start are looked at right away,
 * after every entry is registered, as asyncio runs their callbacks after
 * creating the outer future.
 *
 * Rules (CPython 3.13 tasks.py, gather/_GatheringFuture):
 *  1. Without return_exceptions the first child error (a cancelled child
 *     counts, as -ECANCELED) completes the outer future at once; the other
 *     children run on and nobody is cancelled.
 *  2. With it, the outer future completes when every child is done, with
 *     -ECANCELED if the gather itself was cancelled (bpo-32684), else 0.
 *  3. Once the outer future is done, later child errors are marked
 *     retrieved (they are never reported as unretrieved).
 *  4. The same future given twice is one child; both slots read it.
 *
 * One worker in FIFO order (asyncio's exact order): asyncio looks at a
 * child in its done callback, which the child's completion queues (and
 * add_done_callback on a child already done, at once), so the outer future
 * completes a pass after the child, and the awaiting task resumes a pass
 * after that, also when every child was done at the start. There the
 * entry and the start queue a callback per child (struct weft__call,
 * handle.h: embedded, no allocation) that looks at it, in the same
 * places; elsewhere children are looked at inline (one pass fewer).
 *
 * Invariants: remaining counts the children not counted out yet, plus one
 * that the starter holds until every entry is registered: each child is
 * looked at once (its entry fires once, or it was done at the start; the
 * starter counts those out with its own one, in one step), and
 * only the step that brings the count to 0 may complete the outer future
 * for "all done" and drop the gather's own reference, held while any entry
 * is registered, so the entries never outlive it. Lock order:
 * a child's lock, then the outer future's (completing it); the cancel path
 * takes no lock while it cancels the children.
 */
#include "weft.h"
#include "weft/compose.h"
#include "alloc.h"
#include "futlock.h"
#include "future.h"
#include "handle.h"
#include "loop.h"
#include "task.h"

#include <errno.h>
#include <string.h>

struct gather;

struct gather_child {
  struct weft__notify note;
  struct weft__call look;  /* the look as a callback (head comment); queued once at most */
  struct gather *g;
  struct weft_future *f; /* referenced */
  bool early;            /* done before its entry could register; set by the starter */
};

struct gather {
  /* What the entries read, on any worker: written only before the
   * children are registered and at the end (the starter counts children
   * in a local until then), so the line stays shared while they end. */
  struct weft_future fut;        /* first: the gathering future */
  size_t n;                      /* slots; immutable */
  size_t nchildren;              /* distinct children; set once registered */
  unsigned flags;                /* immutable */
  bool cancel_requested;         /* the gather itself was cancelled; under fut.lock */
  char *cancel_msg;              /* its message; under fut.lock */
  size_t *slot_child;            /* slot -> child index; immutable */
  struct gather_child *children; /* nchildren; immutable but for the entries */
  size_t bytes;                  /* the allocation's size */
  /* The count the entries bring down, alone on its line whatever the
   * allocation's alignment (a line holding it has at most 56 bytes on
   * either side). Beside the fields above, every child's end on another
   * worker took their line from the starter (gather_10k with two workers,
   * perf: 85% of on_child's samples on its first read of the header). */
  char pad_before[WEFT__CACHELINE - sizeof(size_t)];
  _Atomic size_t remaining;      /* children not counted out yet, plus the starter's 1 */
  char pad_after[WEFT__CACHELINE - sizeof(size_t)];
};

static int gather_cancel(struct weft_future *f, const char *msg);
static void gather_free(struct weft_future *f);

static const struct weft__future_ops gather_ops = {.cancel = gather_cancel, .free = gather_free};

static struct gather *gather_of(struct weft_future *f) { return (struct gather *)f; }

/* Marks a done child's error retrieved; @locked: its lock is held. */
static void retrieve(struct weft_future *f, bool locked) {
  if (!f->err || f->err == -ECANCELED) return;
  if (locked)
    f->retrieved = 1; /* under f->lock */
  else
    weft__future_mark_retrieved_if_done(f);
}

static void complete_outer(struct gather *g, int err, const char *msg) {
  char *copy = msg ? weft__strdup(msg) : NULL; /* a message that cannot be copied is dropped */
  weft__future_complete(&g->fut, err, NULL, copy);
}

/* Counts @k children as looked at. The one that brings the count to 0
 * (the last child, or the starter dropping its bias) completes the outer
 * future if rule 1 has not, and drops the gather's own reference. */
static void countdown(struct gather *g, size_t k) {
  /* acq_rel: the last one sees every other child's outcome and count. */
  if (atomic_fetch_sub_explicit(&g->remaining, k, memory_order_acq_rel) != k) return;
  if (!weft__future_is_done(&g->fut)) {
    weft__futlock(&g->fut); /* after a child's: the lock order */
    bool cancelled = g->cancel_requested;
    char *msg = cancelled && g->cancel_msg ? weft__strdup(g->cancel_msg) : NULL;
    weft__futunlock(&g->fut);
    /* The slots hold the results; a cancelled gather ends cancelled (bpo-32684). */
    weft__future_complete(&g->fut, cancelled ? -ECANCELED : 0, NULL, msg);
  }
  /* The entries' reference; a child's completer holds one on its future,
   * so freeing g cannot free the future whose lock we may hold. */
  weft_future_release(&g->fut);
}

/* Applies rules 1-3 to child @f, now done; the caller counts it. */
static void child_rules(struct gather *g, struct weft_future *f, bool locked) {
  bool keep_going = g->flags & WEFT_GATHER_RETURN_EXCEPTIONS;
  if (weft__future_is_done(&g->fut) || keep_going) {
    retrieve(f, locked);
  } else if (f->err) {
    retrieve(f, locked); /* it travels on the outer future now */
    complete_outer(g, f->err, f->msg);
  }
}

/* Looks at child @f, now done (rules 1-3), and counts it. */
static void child_done(struct gather *g, struct weft_future *f, bool locked) {
  child_rules(g, f, locked);
  countdown(g, 1);
}

/* The look at a child as asyncio's done callback (head comment). */
static void child_callback(struct weft__call *call) {
  struct gather_child *c = weft__container_of(call, struct gather_child, look);
  child_done(c->g, c->f, false);
}

/* Whether @g's children are looked at by callbacks (head comment). */
static inline bool by_callback(const struct gather *g) {
  return weft__loop_asyncio_order(g->fut.loop);
}

/* Looks at child @c now (rules 1-3), or queues the callback that will
 * look at it and count it (@locked: its lock is held). True if looked at
 * now: the caller counts it out. The gather's own reference stays while
 * the callback is queued: the count it will bring down is still up. */
static bool look_now(struct gather *g, struct gather_child *c, bool locked) {
  if (by_callback(g) && weft__call_queue(g->fut.loop, &c->look, child_callback)) return false;
  child_rules(g, c->f, locked); /* inline, or the loop is closed */
  return true;
}

static void on_child(struct weft__notify *n, struct weft_future *f) {
  struct gather_child *c = weft__container_of(n, struct gather_child, note);
  if (look_now(c->g, c, true)) countdown(c->g, 1);
}

/* asyncio's _GatheringFuture.cancel: every child not done is cancelled;
 * if any accepted, the gather ends cancelled even with return_exceptions. */
static int gather_cancel(struct weft_future *f, const char *msg) {
  struct gather *g = gather_of(f);
  if (weft__future_mark_retrieved_if_done(f)) return 0;
  weft_future_ref(f); /* children completing may drop the last other reference */
  char *copy = msg ? weft__strdup(msg) : NULL;
  /* Set before the children are cancelled: a plain future completes on the
   * spot, and the last child must see it. A second cancel keeps the first
   * message. */
  weft__futlock(f);
  if (!g->cancel_requested) {
    g->cancel_requested = true;
    g->cancel_msg = copy;
    copy = NULL;
  }
  weft__futunlock(f);
  weft__strfree(copy);
  int any = 0;
  for (size_t i = 0; i < g->nchildren; i++) {
    struct weft_future *c = g->children[i].f;
    if (weft__future_cancel_awaited(c, msg) == 1) any = 1; /* a child's return outruns it */
  }
  weft_future_release(f);
  return any;
}

static void gather_free(struct weft_future *f) {
  struct gather *g = gather_of(f);
  struct weft_loop *loop = f->loop;
  weft__future_fini(f);
  for (size_t i = 0; i < g->nchildren; i++) weft_future_release(g->children[i].f);
  weft__strfree(g->cancel_msg);
  weft__free(g, g->bytes);
  weft__loop_count(loop, -1);
}

/* ---- building ------------------------------------------------------------------- */

/* Registers slot @i's future: a new child with its entry, or the child
 * an earlier slot made for the same future, found among the future's own
 * entries (a short list, usually empty: no allocation, no hashing). A
 * future already done becomes a child marked early, looked at after every
 * entry is registered. New children are numbered from *@nchildren, the
 * starter's count (struct gather: g->nchildren is set once all are in). */
static void add_slot(struct gather *g, size_t i, struct weft_future *f, size_t *nchildren) {
  weft__futlock(f);
  bool done = atomic_load_explicit(&f->state, memory_order_relaxed) == WEFT__FUT_DONE;
  if (!done) {
    struct weft__chain_node *pos;
    for (pos = f->entries.first; pos; pos = weft__chain_next(&f->entries, pos)) {
      struct weft__done_entry *e = weft__container_of(pos, struct weft__done_entry, link);
      if (e->kind != WEFT__ENTRY_NOTIFY || ((struct weft__notify *)e)->fn != on_child) continue;
      struct gather_child *c = weft__container_of(e, struct gather_child, note.e);
      if (c->g != g) continue;
      weft__futunlock(f);
      g->slot_child[i] = (size_t)(c - g->children); /* the same future again */
      return;
    }
  }
  size_t idx = (*nchildren)++;
  struct gather_child *c = &g->children[idx];
  c->g = g;
  c->f = weft_future_ref(f);
  c->note.fn = on_child;
  c->note.e.kind = WEFT__ENTRY_NOTIFY;
  c->early = done;
  g->slot_child[i] = idx;
  if (!done) (void)weft__future_entry_add_locked(f, &c->note.e); /* pending: added */
  else weft__chain_node_init(&c->note.e.link);
  weft__futunlock(f);
}

static int check_args(weft_future_t *const *fs, size_t n, struct weft_loop **loop) {
  if (n && !fs) return -EINVAL;
  *loop = n ? NULL : weft_loop_current();
  for (size_t i = 0; i < n; i++) {
    if (!fs[i]) return -EINVAL;
    if (*loop && fs[i]->loop != *loop) return -EINVAL;
    *loop = fs[i]->loop;
  }
  return *loop ? 0 : -EPERM;
}

int weft_gather_start(weft_future_t *const *fs, size_t n, unsigned flags, weft_future_t **out) {
  if (!out || (flags & ~WEFT_GATHER_RETURN_EXCEPTIONS)) return -EINVAL;
  struct weft_loop *loop;
  int rc = check_args(fs, n, &loop);
  if (rc) return rc;
  if (n > (SIZE_MAX - sizeof(struct gather)) / (sizeof(size_t) + sizeof(struct gather_child)))
    return -ENOMEM;
  size_t bytes = sizeof(struct gather) + n * sizeof(size_t) + n * sizeof(struct gather_child);
  struct gather *g = weft__alloc(bytes);
  if (!g) return -ENOMEM;
  weft__future_init(&g->fut, loop, false);
  g->fut.ops = &gather_ops;
  g->n = n;
  g->nchildren = 0;
  g->flags = flags;
  atomic_init(&g->remaining, 0);
  g->cancel_requested = false;
  g->cancel_msg = NULL;
  g->bytes = bytes;
  g->children = (struct gather_child *)(g + 1);
  g->slot_child = (size_t *)(g->children + n);
  weft__loop_count(loop, +1);
  if (n == 0) {
    weft__future_complete(&g->fut, 0, NULL, NULL); /* an empty list, at once */
    *out = &g->fut;
    return 0;
  }
  /* The gather's own reference while children are out, dropped by
   * countdown() at 0. `remaining` starts one above the number of children
   * the loop can make, so no child can bring it to 0 during the loop. */
  weft_future_ref(&g->fut);
  atomic_store_explicit(&g->remaining, n + 1, memory_order_relaxed);
  size_t nchildren = 0;
  for (size_t i = 0; i < n; i++) add_slot(g, i, fs[i], &nchildren);
  g->nchildren = nchildren;
  /* Children done before their entry could register: looked at now, in
   * input order, after the outer future exists (asyncio's done_futs), and
   * counted in one step with the duplicate slots and the bias (one RMW of
   * the entries' line, not one per child). */
  size_t looked = 0;
  for (size_t i = 0; i < nchildren; i++)
    if (g->children[i].early) looked += look_now(g, &g->children[i], false);
  countdown(g, n + 1 - nchildren + looked);
  *out = &g->fut;
  return 0;
}

int weft_gather_slots(weft_future_t *f, struct weft_gather_slot *slots, size_t n) {
  if (!f || f->is_task || f->ops != &gather_ops || (n && !slots)) return -EINVAL;
  struct gather *g = gather_of(f);
  if (n != g->n) return -EINVAL;
  for (size_t i = 0; i < n; i++) {
    struct weft_future *c = g->children[g->slot_child[i]].f;
    if (!weft__future_is_done(c)) {
      slots[i] = (struct weft_gather_slot){.err = WEFT_EINVALSTATE};
      continue;
    }
    void *v = NULL;
    int err = weft__future_outcome(c, &v); /* marks an error retrieved */
    slots[i] = (struct weft_gather_slot){.err = err, .result = err ? NULL : v, .msg = c->msg};
  }
  return 0;
}

int weft_gather(weft_future_t *const *fs, size_t n, unsigned flags,
                struct weft_gather_slot *slots) {
  struct weft_task *t = weft__task_self();
  if (!t) return -EPERM;
  weft_future_t *g;
  int rc = weft_gather_start(fs, n, flags, &g);
  if (rc) return rc;
  /* asyncio's gathering future of n > 0 children is never done when
   * gather() returns (its looks are done callbacks, queued), so awaiting it
   * suspends and delivers a cancellation pending, a pass later (task.h),
   * even if every child was done. Where the looks are inline (several
   * workers, LOCALITY order) it may be done already: the same then. */
  if (n && weft__future_is_done(g) && weft__task_take_cancel(t))
    rc = weft__task_cancelled_after_pass(t);
  else
    rc = weft_await(g, NULL); /* cancelled: the gather, hence its children, too */
  if (slots) weft_gather_slots(g, slots, n);
  weft_future_release(g);
  return rc;
}
