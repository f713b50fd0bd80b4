/*
 * stackdrop.c - the pages below long-suspended tasks' stack pointers go
 * back to the kernel (see stackdrop.h for the design and invariants).
 */
#include "stackdrop.h"
#include "clock.h"
#include "loop.h"
#include "registry.h"
#include "stack.h"
#include "task.h"
#include "worker.h"

/* Justification: a piece holds the registry (every task's end in the loop
 * waits for a visitor's shard lock) for a scan of 1,024 slots, a few
 * microseconds, and holds at most 64 tasks across as many madvise calls,
 * tens of microseconds: a worker that parks is back looking for work
 * within that. */
#define DROP_SLOTS 1024u
#define DROP_HELD 64u
/* Justification: a parking worker sums every worker's slice count (a load
 * of each one's line) at most this often: 100 times a second. */
#define DROP_LOOK_NS 10000000ull
/* Justification: how much younger than an epoch a suspension a pass
 * visits may be and still count as old enough: the coarse clocks the ages
 * are read with lag by up to a tick (4 ms at 250 Hz), and active_ns by up
 * to a millisecond (note_active), so a pass begun an epoch after the
 * last activity still finds what that activity suspended old enough. */
#define DROP_AGE_SLACK_MS 10u

void weft__stackdrop_init(struct weft__stackdrop *d, uint64_t now_ns) {
  atomic_init(&d->busy, false);
  d->cursor = 0;
  /* No pass in progress (last_begin_ns == done_begin_ns), none due until
   * a task runs (active_ns 0), and the first an epoch after the loop's
   * making at the earliest. */
  atomic_init(&d->last_begin_ns, now_ns);
  atomic_init(&d->done_begin_ns, now_ns);
  atomic_init(&d->active_ns, 0);
  atomic_init(&d->bytes, 0);
}

/* Invariant 3's tag: this suspension of @t (its slice count, read while
 * held), told apart from another task's on the same stack by its id. */
static uint32_t suspension_tag(struct weft_task *t) {
  uint64_t runs = atomic_load_explicit(&t->runs, memory_order_relaxed);
  return (uint32_t)(runs * 0x9e3779b97f4a7c15ull ^ t->id) | 1u;
}

struct piece {
  uint32_t now_ms, min_age_ms;
  unsigned n;
  unsigned woken; /* held tasks a wake came to meanwhile: queued by unhold */
  struct weft_task *held[DROP_HELD];
};

/* The registry visitor: holds the tasks whose pages below the stack
 * pointer may go back (suspended long enough, with a stack of their own,
 * not done already this suspension). Stops when the piece is full. */
static int take(struct weft_task *t, void *arg) {
  struct piece *p = arg;
  /* Listed: its execution part, if it started, stays while we visit
   * (registry.h). acquire: written by whoever started it. Relaxed looks
   * first, so that only candidates pay the hold's locked instruction. */
  const struct weft__task_run *x = atomic_load_explicit(&t->run, memory_order_acquire);
  if (!x || !x->stack || atomic_load_explicit(&t->state, memory_order_relaxed) != WEFT__TASK_IDLE)
    return 0;
  if ((uint32_t)(p->now_ms - atomic_load_explicit(&x->since_ms, memory_order_relaxed)) < p->min_age_ms)
    return 0;
  if (!weft__task_hold(t)) return 0;
  /* Held: what its last slice wrote is ours to read. */
  if ((uint32_t)(p->now_ms - atomic_load_explicit(&x->since_ms, memory_order_relaxed)) < p->min_age_ms ||
      x->stack->drop_tag == suspension_tag(t)) {
    p->woken += weft__task_unhold(t);
    return 0;
  }
  p->held[p->n++] = t;
  return p->n == DROP_HELD;
}

void (*weft__stackdrop_held_hook)(struct weft_task *t);

/* Gives back what lies below each held task's stack pointer, then lets
 * the tasks go. Outside the registry: the task cannot end while held. */
static size_t drop_held(struct weft_loop *loop, struct piece *p) {
  size_t bytes = 0;
  for (unsigned i = 0; i < p->n; i++) {
    struct weft_task *t = p->held[i];
    if (__builtin_expect(weft__stackdrop_held_hook != NULL, 0)) weft__stackdrop_held_hook(t);
    struct weft__task_run *x = weft__task_run_of(t);
    uintptr_t sp = weft__fiber_saved_sp(&x->fiber);
    if (sp) bytes += weft__stack_drop_below(x->stack, sp);
    x->stack->drop_tag = suspension_tag(t);
    p->woken += weft__task_unhold(t);
  }
  p->n = 0;
  if (bytes) atomic_fetch_add_explicit(&loop->drop.bytes, bytes, memory_order_relaxed);
  return bytes;
}

size_t weft__stackdrop_all(struct weft_loop *loop) {
  if (loop->track_stack) return 0; /* invariant 5 */
  struct piece p = {.now_ms = weft__clock_coarse_ms(), .min_age_ms = 0, .n = 0, .woken = 0};
  uint64_t cursor = 0;
  size_t bytes = 0;
  bool done;
  do {
    done = weft__registry_visit_from(loop, &cursor, DROP_SLOTS, take, &p);
    bytes += drop_held(loop, &p);
  } while (!done);
  return bytes;
}

static void note_active(struct weft__stackdrop *d, uint64_t now_ns) {
  /* relaxed: a hint (stackdrop.h). Stored at most once a millisecond, so
   * that workers parking often do not all write the line. */
  if (atomic_load_explicit(&d->active_ns, memory_order_relaxed) + 1000000u < now_ns)
    atomic_store_explicit(&d->active_ns, now_ns, memory_order_relaxed);
}

/* Whether tasks ran since @w last looked: its own slices at every park
 * (its own counter: they ran just before), every worker's at most every
 * DROP_LOOK_NS (a worker that never parks). Noted in loop->drop.active_ns,
 * as now: an upper bound on when they ran, which delays a pass, never
 * hurries one. Not after a long sleep of @w's, whose look would date
 * another worker's last slices, run before that worker parked (and noted
 * them itself), to when @w woke: a pass an epoch late. */
static void look_for_activity(struct weft__worker *w, uint64_t now_ns) {
  struct weft_loop *loop = w->loop;
  /* relaxed: statistics (worker.h); a slice counted late is seen at the
   * next look. */
  uint64_t own = atomic_load_explicit(&w->ctr.polled, memory_order_relaxed);
  if (own != w->drop.own) {
    w->drop.own = own;
    note_active(&loop->drop, now_ns);
  }
  if (now_ns - w->drop.looked_ns < DROP_LOOK_NS) return;
  bool recent = now_ns - w->drop.looked_ns < 2 * DROP_LOOK_NS;
  w->drop.looked_ns = now_ns;
  uint64_t sum = 0;
  for (unsigned i = 0; i < loop->nworkers; i++)
    sum += atomic_load_explicit(&loop->workers[i].ctr.polled, memory_order_relaxed);
  if (sum == w->drop.polled) return;
  w->drop.polled = sum;
  if (recent) note_active(&loop->drop, now_ns);
}

bool weft__stackdrop_idle(struct weft__worker *w, uint64_t now_ns, uint64_t *wake_ns) {
  struct weft_loop *loop = w->loop;
  struct weft__stackdrop *d = &loop->drop;
  *wake_ns = 0;
  if (loop->track_stack) return false; /* invariant 5 */
  look_for_activity(w, now_ns);
  /* relaxed: hints (stackdrop.h); the walker's own state is under busy. */
  uint64_t active = atomic_load_explicit(&d->active_ns, memory_order_relaxed);
  uint64_t done_begin = atomic_load_explicit(&d->done_begin_ns, memory_order_relaxed);
  uint64_t last_begin = atomic_load_explicit(&d->last_begin_ns, memory_order_relaxed);
  bool in_pass = last_begin > done_begin;
  if (!in_pass && (!active || done_begin >= active + WEFT__STACK_DECAY_NS)) return false; /* invariant 4 */
  if (!in_pass && now_ns < last_begin + WEFT__STACK_DECAY_NS) {
    *wake_ns = last_begin + WEFT__STACK_DECAY_NS;
    return false;
  }
  if (atomic_exchange_explicit(&d->busy, true, memory_order_acquire)) return false; /* another walks */
  /* Looked at again under busy, where only the walker writes them:
   * another walker may have begun or finished a pass since the relaxed
   * looks above. */
  uint64_t begin = atomic_load_explicit(&d->last_begin_ns, memory_order_relaxed);
  if (begin == atomic_load_explicit(&d->done_begin_ns, memory_order_relaxed)) { /* no pass in progress */
    if (now_ns < begin + WEFT__STACK_DECAY_NS) {
      atomic_store_explicit(&d->busy, false, memory_order_release);
      return false;
    }
    begin = now_ns;
    d->cursor = 0;
    atomic_store_explicit(&d->last_begin_ns, begin, memory_order_relaxed);
  }
  /* The suspensions' stamps are the coarse clock's, in ms (task.h:
   * since_ms): the same timeline as now_ns, which a test may move on. */
  struct piece p = {.now_ms = (uint32_t)(now_ns / 1000000u) | 1u,
                    .min_age_ms = (uint32_t)(WEFT__STACK_DECAY_NS / 1000000u) - DROP_AGE_SLACK_MS,
                    .n = 0,
                    .woken = 0};
  bool done = weft__registry_visit_from(loop, &d->cursor, DROP_SLOTS, take, &p);
  drop_held(loop, &p);
  if (done) {
    /* What this pass found too young waits for the next one, an epoch
     * after this one began, if tasks ran since an epoch before it. */
    if (begin < atomic_load_explicit(&d->active_ns, memory_order_relaxed) + WEFT__STACK_DECAY_NS)
      *wake_ns = begin + WEFT__STACK_DECAY_NS;
    atomic_store_explicit(&d->done_begin_ns, begin, memory_order_relaxed); /* no pass in progress */
  }
  atomic_store_explicit(&d->busy, false, memory_order_release);
  /* A task woken while held went to this worker's own queue, with no
   * wake-up (task.h): the worker must run it, not sleep on it. */
  return !done || p.woken;
}
