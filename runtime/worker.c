/*
 * worker.c - the worker run loop: next task, else steal, else park.
 *
 * Each iteration of weft__worker_main mirrors asyncio's _run_once:
 *   0. submit the I/O requests the last batch queued and deliver the
 *      completions that are there (io/reactor.h), without blocking;
 *   1. find work or park (timeout 0 when work is ready or the loop stops,
 *      otherwise in the reactor until the next timer, an I/O completion or
 *      a notification);
 *   2. take work from the inbox (pinned tasks) and the injection queue
 *      (it was ready before the timers falling due now);
 *   3. fire due timers (their callbacks and sleepers become ready);
 *   4. run a batch: in FIFO order (the default with one worker), exactly
 *      the items ready at this point (what they schedule runs in the next
 *      iteration, as in asyncio); in LOCALITY order, up to TICK_BUDGET
 *      items, so the global queue, timers and stop() are looked at every 61
 *      items (Go's and Tokio's fairness tick);
 *   5. leave if stop() was requested.
 *
 * Switching: a task that stops running (suspends, yields, ends) switches
 * straight to the next task of the batch, when that is a task, instead of
 * to the scheduler's fiber and from there to the task (one switch instead
 * of two: the "after" half of each switch runs on the incoming fiber,
 * after_switch, because the outgoing task's stack is still in use until
 * the switch). The batch's items are taken by one function (take_next)
 * whichever fiber takes them, so order and batch bounds are the
 * scheduler's; only callbacks (they run on the scheduler's stack), the end
 * of the batch and eager children go back to the scheduler. In FIFO order
 * the end of a batch does not either when the next iteration's steps 1-3
 * have nothing to do (no remote work, no timer due, no stop): the fiber at
 * hand does step 0 and begins the next batch itself (quick_pass), so a
 * chain of one-task passes costs one switch per task, not two. A task that
 * yields with nothing queued would begin that next pass itself: it does
 * step 0 and goes on without a switch (yield_in_place).
 *
 * With one worker in FIFO order the outgoing task takes its place *before*
 * the pick (settle_first: a yield is queued again, a suspension turns
 * IDLE), because the pick can queue work itself (a task cancelled before
 * its first step ends there and wakes its awaiters; a pass begun there
 * polls the reactor), and asyncio queues the yielder's next step first.
 * The incoming side then has nothing to finish. If the pick comes back to
 * the outgoing task, it goes on in place. tests/order compares random
 * programs' order with CPython's, note for note.
 *
 * Stacks handed on: a task that ends and whose direct successor is a first
 * run gives that task its stack instead of a switch (first_run, hand_on):
 * the successor's body runs on the spot, on the same stack at the same
 * depth, from the loop in task_entry. A chain of tasks that run to their
 * end (spawn_many, chained_spawn, gather's children) then costs no fiber
 * switch, stack get/put or fiber setup per task, and keeps one stack hot
 * in the caches. Order is untouched: the successor is what direct_next
 * picked. The ended task is retired (run cleared, ends counted, DONE
 * published) before its successor's slice begins; its future was
 * completed before, so the execution part it gives on is one nobody may
 * read through it any more (task.h). Not with cfg.track_stack_use (each
 * first run measures a stack of its own) nor for a stack of another size.
 *
 * Stopping (loop.stop): with one worker in FIFO order the batch rule above
 * is asyncio's exactly (the pass finishes what was ready at its start). In
 * every other mode a batch is not a snapshot, so the stop takes one: the
 * worker that calls stop() fires the timers due now and moves everything
 * it has ready into `final` on the spot; every other worker does the same
 * at its next item boundary once it sees `stopping` (also taking what
 * foreign threads queued for it). Each then runs its `final` list and
 * leaves. From the moment a worker took the stop, what is scheduled on it
 * goes to `deferred`, a private list that thieves cannot reach, and is
 * queued at the start of the next run, in order: work scheduled after
 * stop() runs in the next run. Work another worker stole just before it
 * saw the stop was ready then, and runs.
 *
 * Local order: the LIFO slot (a task woken by the running task: the
 * receiver of a message runs next, while caches are warm), at most
 * LIFO_MAX times in a row, up to LIFO_LONG while its runs are cheap (LIFO
 * streaks, below), then tasks woken by their timers (overdue by
 * definition), then pinned tasks and the ring alternately; a start the
 * ring yields while no free stack is left may be held back behind the
 * resumptions queued after it (held starts, below). FIFO order has no LIFO
 * slot, no timer priority and no held starts; with one worker the ring
 * plus its overflow list are one exact FIFO, touched without locked
 * instructions.
 *
 * Standby (cfg.adapt_workers, adapt.h): a worker whose index is at or
 * above the loop's serving count takes no shared work. It sees its role at
 * the top of every pass (change_role): turning standby it stops searching,
 * hands its queue to the injection queue and cancels its standing
 * receives; from then on `divert` sends what it wakes that is not pinned
 * here to the injection queue, it neither steals nor takes injected work,
 * and it sleeps outside the idle protocol (idle.c), re-reading its role
 * after announcing the sleep. It still runs pinned work, its ring's
 * completions and its timers, and takes the stop like any worker. When the
 * count grows, each worker that served before cancels its standing
 * receives too (serving_changed): a stream's receive stays on the ring it
 * was started on, so without it the streams a standby handed over would
 * keep their completions on the workers that took them; cancelled, each
 * starts again on its reader's worker, and the returning worker steals
 * its share of the readers woken.
 *
 * Stealing: a thief takes half of a victim's ring at once when the ring
 * is long (more than STEAL_WATCH_MAX) or the victim is between tasks. A
 * short ring on a victim that is running a task is mostly the tasks that
 * task has just woken (wake-ups go to the waker's LIFO slot and push its
 * occupant into the ring), which the victim runs in the next few
 * microseconds with their data in its caches. The thief watches such a
 * victim first (victim_moves_on): if the victim begins another slice
 * within STEAL_WATCH_NS (3 us), it is getting on with its own work and is
 * left to it; if not (it is in a long slice), the thief steals. Go's
 * runqsteal holds back from a running victim's runnext the same way (a
 * 3 us sleep). Without it, tasks that wake each other through a shared
 * queue moved between workers with every wake-up and steal, and both
 * workers ran producers (or consumers) at once, contending on the
 * queue's ends: queue_mpmc with two workers took 2-4x as long in half of
 * the runs (benchmarks/RESULTS.md, 2026-12-07). A thief that left work
 * to a victim parks at most STEAL_RELOOK_NS before it looks again
 * (park_worker): a victim that was moving on when watched may then begin
 * a long slice with the rest of its ring behind it, and nothing else
 * would wake the thief for that work.
 *
 * Shuffle build (-DWEFT_SHUFFLE=ON, `make test-shuffle`): order the
 * scheduler does not promise is randomized so that code relying on it
 * fails in tests: steal victims are visited from a random start with a
 * random stride, and a woken task skips the LIFO slot, or its streak is
 * cut, at random. FIFO order (a promise: asyncio's) is left alone. The
 * seed is $WEFT_SHUFFLE_SEED (mixed with the worker index), else the clock.
 *
 * Threads: everything in struct weft__worker is touched only by the
 * worker's own thread, except runq (thieves), inbox (any thread), timers
 * (cancel from any thread) and park (unpark from any thread).
 */
#include "worker.h"
#include "alloc.h"
#include "clock.h"
#include "handle.h"
#include "invariant.h"
#include "loop.h"
#include "monitor.h"
#include "stack.h"
#include "task.h"
#include "taskstate.h"
#include "ticks.h"
#include "tls.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Justification: Go and Tokio both check the global queue every 61 local
 * tasks; a prime, so it does not resonate with periodic workloads. */
#define TICK_BUDGET 61
/* LIFO streaks. A task woken by the running task runs next (the LIFO
 * slot): the receiver of a message finds the sender's lines in cache. A
 * pair handing messages back and forth would keep the slot for ever, so a
 * streak is capped. Tokio (since 1.29, tokio#5712) caps it at 3 runs, its
 * MAX_LIFO_POLLS_PER_TICK, because ping-pong tasks whose polls take 5-10
 * us starved the queue under its earlier cap (the coop budget, 128, which
 * Debian's Tokio 1.24 still has). Three is short for a pair whose
 * exchanges take 50-100 ns: every fourth run goes back to the ring, which
 * cycles through every other pair before it comes back, so each pair's
 * stacks, handles and futures are fetched from L2 or L3 each time
 * (cachegrind, ping_pong on one worker in LOCALITY order: 10.4M D1 misses
 * with 3, 0.85M with 61; benchmarks/RESULTS.md 2026-12-04 21:15Z).
 *
 * So the cap depends on what the items cost, which the worker reads off
 * the clock only in streaks that get long: from a streak's second run it
 * notes the time, and when the streak reaches LIFO_MAX, and every
 * LIFO_STRIDE runs after that, it goes on only if the runs since the last
 * note averaged under weft__lifo_cheap_ns (1 us: far below the polls
 * Tokio's cap was made for), and never past LIFO_LONG (the tick's 61, so
 * a streak holds the worker for at most ~61 us of cheap items plus the
 * last judged window). A streak of costly items ends after LIFO_MAX runs,
 * as in Tokio; a streak of one run reads no clock, one of two or three
 * reads it once. */
#define LIFO_MAX 3
#define LIFO_LONG TICK_BUDGET
#define LIFO_STRIDE 4

uint32_t weft__lifo_cheap_ns = WEFT__LIFO_CHEAP_NS;
/* Consecutive hand-offs (WEFT__SCHED_HANDOFF) before the queue gets a turn:
 * a consumer and its generator exchange 64 values, then whatever else is
 * ready runs. */
#define HANDOFF_MAX 64

#if defined(WEFT__SHUFFLE)
#include <stdlib.h>
#define SHUFFLE 1
static uint32_t shuffle_seed(void) {
  const char *env = getenv("WEFT_SHUFFLE_SEED");
  if (env && *env) return (uint32_t)strtoul(env, NULL, 10);
  return (uint32_t)weft__clock_ns();
}
#else
#define SHUFFLE 0
static uint32_t shuffle_seed(void) { return 0x9E3779B9u; }
#endif

static uint32_t next_rand(struct weft__worker *w) {
  /* xorshift32: victim choice needs spread, not quality. */
  uint32_t x = w->rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return w->rng = x;
}

/* Shuffle build only: a coin toss (1 in @odds) on the worker's rng. */
static inline bool shuffle_toss(struct weft__worker *w, uint32_t odds) {
  return SHUFFLE && next_rand(w) % odds == 0;
}
/* Timer wake-ups run before queued work (the urgent list), up to
 * URGENT_MAX waiting at once; more go to the ring. The list is this
 * worker's alone, so while another worker is idle it holds at most
 * URGENT_SHARED: each pass gives the excess, oldest first, to the
 * injection queue and wakes a worker for it (share_urgent). Measured with
 * 100,000 sleepers behind freshly spawned tasks (timers workload, two
 * workers): a plain cap of 64 gave lateness p99 50-60 ms; 256, 0.5-5 ms
 * where a first run is cheap, but 121-136 ms on a host whose fresh stack
 * pages cost 5-12 us (the wake-ups past the cap wait behind thousands of
 * first runs); 1024, 76-91 ms there (0.3-26 ms on the first host: a burst
 * held by one worker that others cannot steal); 4096, 4-13 ms and 15% less
 * time in all (benchmarks/RESULTS.md, issue 13). Sharing keeps 4096's
 * priority while everyone is busy and 256's balance once someone is not. */
#define URGENT_MAX 4096
#define URGENT_SHARED 256

/* Extern for weft__worker_self_leaf (worker.h); not exported from
 * libweft.so (weft.map). */
WEFT__TLS struct weft__worker *weft__tls_worker;

#if !defined(WEFT__WORKER_SELF_INLINE)
struct weft__worker *weft__worker_self(void) { return weft__tls_worker; }
#endif

/* Whether @w is a standby by the loop's serving count (adapt.h). relaxed:
 * a worker looks at every pass, and a change wakes it (adapt.c). */
static inline bool is_standby(const struct weft__worker *w) {
  return w->index >= atomic_load_explicit(&w->loop->nserving, memory_order_relaxed);
}

/* The LIFO slot: only the owner writes it; other threads (statistics)
 * read it relaxed, so it is atomic with relaxed accesses (plain moves). */
static inline struct weft__runnable *lifo_get(struct weft__worker *w) {
  return atomic_load_explicit(&w->lifo, memory_order_relaxed);
}

static inline void lifo_set(struct weft__worker *w, struct weft__runnable *r) {
  atomic_store_explicit(&w->lifo, r, memory_order_relaxed);
}


/* Each cached kind's size and the field a cached one is linked through
 * (objcache.h); how many a worker keeps: worker.h. */
static const struct obj_kind {
  size_t size, link;
} obj_kinds[WEFT__OBJ_KINDS] = {
    [WEFT__OBJ_TASK] = {sizeof(struct weft_task), offsetof(struct weft_task, r_start.link)},
    [WEFT__OBJ_FUTURE] = {sizeof(struct weft__plain_future), offsetof(struct weft_future, result)},
    [WEFT__OBJ_STREAMBUF] = {WEFT__STREAMBUF_SIZE, 0}, /* bytes: the first word links */
};

int weft__worker_init(struct weft__worker *w, struct weft_loop *loop, unsigned index) {
  w->loop = loop;
  w->sections = loop->solo ? loop->owner : weft__owner_get();
  w->solo_owner = loop->solo ? w->sections : NULL;
  w->index = index;
  weft__runq_init(&w->runq);
  lifo_set(w, NULL);
  w->lifo_streak = 0;
  w->lifo_mark = 0;
  w->lifo_cheap_ticks = 0;
  w->handoff = NULL;
  w->handoff_streak = 0;
  weft__rlist_init(&w->overflow);
  weft__rlist_init(&w->pinned);
  weft__rlist_init(&w->urgent);
  weft__rlist_init(&w->held);
  w->held_turn = 0;
  w->hold_probe = 0;
  w->ends_mark = 0;
  atomic_store_explicit(&w->ends, 0, memory_order_relaxed);
  w->ends_at_off = UINT64_MAX;
  w->resumed = false;
  weft__rlist_init(&w->final);
  weft__rlist_init(&w->deferred);
  w->divert = 0;
  weft__inject_init(&w->inbox);
  weft__timers_init(&w->timers);
  weft__park_init(&w->park, &w->reactor);
  w->stacks.free = NULL;
  atomic_store_explicit(&w->stacks.count, 0, memory_order_relaxed);
  w->stacks.arena = &loop->stack_arena;
  weft__worker_set_current(w, NULL);
  w->eager = NULL;
  w->stack_color = 0;
  w->prev = NULL;
  w->switch_reason = WEFT__SWITCH_SUSPEND;
  w->batch_left = 0;
  w->pending = NULL;
  w->no_direct = 0;
  w->searching = false;
  w->rng = (shuffle_seed() | 1u) * (index + 1); /* xorshift needs a nonzero state */
  w->pinned_turn = false;
  for (unsigned k = 0; k < WEFT__OBJ_KINDS; k++) weft__objcache_init(&w->caches[k], obj_kinds[k].link);
  w->live = 0;
  w->stale_left = 0;
  w->id_next = w->id_end = 0;
  return 0;
}

bool weft__worker_take_start(struct weft__worker *w, struct weft__runnable *r) {
  if (!w) return false;
  if (lifo_get(w) != r) {
    w->stale_left++;
    return false;
  }
  lifo_set(w, NULL);
  return true;
}

void weft__drop_runnable(struct weft__runnable *r) {
  /* Handles and stale first-run entries (their task ran inline) can remain
   * queued at teardown: close() ran every task to its end first. */
  if (weft__runnable_kind(r) == WEFT__R_HANDLE)
    weft__handle_drop(weft__container_of(r, struct weft_handle, r));
  else if (weft__runnable_kind(r) == WEFT__R_TASK_START)
    weft_future_release(&weft__container_of(r, struct weft_task, r_start)->fut);
  else if (weft__runnable_kind(r) == WEFT__R_CALL) {
    /* Dropped (handle.h), its object not freed here; a sure one runs. */
    struct weft__call *c = weft__container_of(r, struct weft__call, r);
    if (c->sure) c->fn(c);
  }
}

static void drop_timer(struct weft__timer *t) {
  weft__handle_drop(weft__container_of(t, struct weft_handle, timer));
}

static void drop_list(struct weft__rlist *l) {
  struct weft__runnable *r;
  while ((r = weft__rlist_pop(l))) weft__drop_runnable(r);
}

void weft__drop_runnables(struct weft__runnable **batch, size_t n, void *unused) {
  (void)unused;
  for (size_t i = 0; i < n; i++) weft__drop_runnable(batch[i]);
}

void weft__worker_fini(struct weft__worker *w) {
  struct weft__runnable *r;
  if (lifo_get(w)) weft__drop_runnable(lifo_get(w));
  lifo_set(w, NULL);
  if (w->handoff) weft__drop_runnable(w->handoff);
  w->handoff = NULL;
  if (w->pending) weft__drop_runnable(w->pending);
  w->pending = NULL;
  while ((r = weft__runq_pop(&w->runq))) weft__drop_runnable(r);
  drop_list(&w->overflow);
  drop_list(&w->pinned);
  drop_list(&w->urgent);
  drop_list(&w->held);
  drop_list(&w->final);
  drop_list(&w->deferred);
  weft__inject_drain(&w->inbox, weft__drop_runnables, NULL);
  weft__inject_fini(&w->inbox);
  weft__timers_drain(&w->timers, drop_timer);
  weft__timers_fini(&w->timers);
  weft__stack_pool_drain(&w->stacks);
  for (unsigned k = 0; k < WEFT__OBJ_KINDS; k++) weft__objcache_drain(&w->caches[k], obj_kinds[k].size);
}

/* ---- scheduling ---------------------------------------------------------- */

static void notify_one(struct weft_loop *loop) {
  int k = weft__idle_worker_to_notify(&loop->idle);
  if (k >= 0) weft__park_unpark(&loop->workers[k].park);
}

static void take_injected(struct weft__worker *w);

/* If @r, which this worker holds (taken out of its ring), is a first-run
 * entry gone stale (its task was claimed by an inline host: task.c), drops
 * the reference it carries and returns true. acquire: as claim_start's
 * CAS, against the host's claim; a claim it misses leaves the entry to its
 * popper, as before. */
static bool drop_if_stale(struct weft__runnable *r) {
  if (weft__runnable_kind(r) != WEFT__R_TASK_START) return false;
  struct weft_task *t = weft__container_of(r, struct weft_task, r_start);
  if (!atomic_load_explicit(&t->fut.task_claim, memory_order_acquire)) return false;
  weft_future_release(&t->fut);
  return true;
}

/* Drops the stale entries from @items (@n runnables this worker has just
 * taken out of its ring to spill) and returns how many are left, in
 * order. They would otherwise wait in the injection queue, each holding
 * its task's handle, until some worker popped them (fork_join,
 * benchmarks/RESULTS.md, issue 13). */
static size_t drop_stale(struct weft__runnable **items, size_t n) {
  size_t kept = 0;
  for (size_t i = 0; i < n; i++)
    if (!drop_if_stale(items[i])) items[kept++] = items[i];
  return kept;
}

/* One worker (no thieves), its ring full: if inline claims left stale
 * entries since the last look, drops those in the ring, keeping the order
 * of the rest (each is popped and pushed back once), so that they do not
 * fill the overflow list instead (fork_join in LOCALITY order with one
 * worker: 219 -> 87 MiB with the LIFO slot's share taken at the claim;
 * benchmarks/RESULTS.md, issue 13). Returns whether it made room. Costs a
 * pass over the ring only after an inline claim left an entry behind. */
static bool compact_solo(struct weft__worker *w) {
  if (!w->stale_left) return false;
  w->stale_left = 0;
  bool dropped = false;
  for (uint32_t n = weft__runq_len(&w->runq); n; n--) {
    struct weft__runnable *r = weft__runq_pop_solo(&w->runq);
    if (drop_if_stale(r)) dropped = true;
    else (void)weft__runq_try_push_solo(&w->runq, r); /* the slot it left */
  }
  return dropped;
}

/* Appends @r to this worker's own queue. */
static void push_local(struct weft__worker *w, struct weft__runnable *r, bool notify) {
  struct weft_loop *loop = w->loop;
  if (weft__runnable_kind(r) == WEFT__R_TASK) w->resumed = true; /* held starts' signal */
  if (loop->solo) {
    /* The ring while nothing waits behind it (a full one after dropping
     * its stale entries), else the overflow's tail: FIFO either way. */
    bool in_ring = !weft__rlist_len(&w->overflow) &&
                   (weft__runq_try_push_solo(&w->runq, r) ||
                    (compact_solo(w) && weft__runq_try_push_solo(&w->runq, r)));
    if (!in_ring) weft__rlist_push(&w->overflow, r);
    return; /* the only worker is this one, and it is awake */
  }
  size_t n = weft__runq_push(&w->runq, r, w->spill);
  if (n) weft__inject_push_array(&loop->inject, w->spill, drop_stale(w->spill, n));
  if (notify) notify_one(loop);
}

/* Queues @r from a thread that is not its worker: a pinned task to its
 * worker's inbox, the rest to the injection queue. */
static void schedule_remote(struct weft_loop *loop, struct weft__runnable *r, int pinned) {
  if (pinned >= 0) {
    struct weft__worker *pw = &loop->workers[pinned];
    weft__inject_push(&pw->inbox, r);
    if (weft__idle_claim_worker(&loop->idle, (unsigned)pinned)) weft__park_unpark(&pw->park);
    return;
  }
  weft__inject_push(&loop->inject, r);
  notify_one(loop);
}

/* weft__schedule's general case: every rule, in order. */
static __attribute__((noinline)) void schedule_slow(struct weft_loop *loop, struct weft__runnable *r,
                                                    int pinned, enum weft__sched_hint hint) {
  if (__builtin_expect(atomic_load_explicit(&loop->closed, memory_order_relaxed), 0)) {
    weft__drop_runnable(r); /* late completion of a future of a closed loop */
    return;
  }
  struct weft__worker *w = weft__tls_worker;
  if (w && w->loop != loop) w = NULL;
  if (w && (w->divert & WEFT__DIVERT_STOP) && (pinned < 0 || (unsigned)pinned == w->index)) {
    weft__rlist_push(&w->deferred, r); /* after this worker's stop: the next run's */
    return;
  }
  if (w && (w->divert & WEFT__DIVERT_STANDBY) && pinned < 0) {
    schedule_remote(loop, r, pinned); /* a standby runs only pinned work */
    return;
  }
  if (hint == WEFT__SCHED_HANDOFF) {
    /* Only from the running task of this worker, for a task that may run
     * here, one at a time, and HANDOFF_MAX in a row: a pair handing over
     * to each other must not keep the queue waiting for ever. */
    if (w && weft__worker_current(w) && !w->handoff && (pinned < 0 || (unsigned)pinned == w->index) &&
        w->handoff_streak < HANDOFF_MAX) {
      w->handoff = r;
      return;
    }
    hint = WEFT__SCHED_WAKE;
  }
  if (pinned >= 0 && w && w->index == (unsigned)pinned) {
    weft__rlist_push(&w->pinned, r);
    return;
  }
  if (!w) {
    /* From outside the workers: close must not free the queues under us
     * (loop.c, rule b). */
    if (!weft__loop_enter_foreign(loop, false)) {
      weft__drop_runnable(r);
      return;
    }
    schedule_remote(loop, r, pinned);
    weft__loop_exit_foreign(loop);
    return;
  }
  if (pinned >= 0) {
    schedule_remote(loop, r, pinned);
    return;
  }
  /* Order across threads, one worker: what a foreign thread queued before
   * this call (happens-before, e.g. through a lock) goes ahead of it, as in
   * asyncio's single ready queue; the relaxed load sees such a push by
   * coherence. Only there: with several workers the injection queue also
   * takes this worker's own ring spills, and pulling them back on every
   * schedule re-spilled them at once (measured: fork_join 23x slower, 67%
   * of the time in runq_push); nor is there an order to keep. */
  if (loop->solo && __builtin_expect(!weft__inject_maybe_empty(&loop->inject), 0))
    take_injected(w);
  if (hint == WEFT__SCHED_URGENT && !loop->fifo && weft__rlist_len(&w->urgent) < URGENT_MAX) {
    weft__rlist_push(&w->urgent, r);
    return;
  }
  if (hint == WEFT__SCHED_WAKE && !loop->fifo && !shuffle_toss(w, 2)) {
    struct weft__runnable *prev = lifo_get(w);
    lifo_set(w, r);
    if (!prev) return; /* this worker runs it next: nobody to wake */
    r = prev;
  }
  push_local(w, r, true);
}

/* The common cases first, with no call frame of their own (the
 * general case is a tail call): from a task or callback on one of the
 * loop's workers, not pinned, before any stop, and the loop open --
 *  - one worker in FIFO order, nothing queued by foreign threads: the back
 *    of the ring, or of the overflow list while it holds anything (what
 *    schedule_slow does then too: a burst of 10,000 wake-ups paid its
 *    frame and every rule's test per push once the ring was full);
 *  - one worker in LOCALITY order, a wake-up, the LIFO slot empty and
 *    nothing queued by foreign threads (which schedule_slow would take
 *    first): into the slot;
 *  - several workers, a wake-up, the LIFO slot empty: into the slot.
 * Anything else (a full ring, an occupied slot, a hand-off, urgent
 * timers, the shuffle build's coin) takes schedule_slow, which checks
 * everything again from the start. Saves the general case's register
 * saves and restores on every wake-up (benchmarks/RESULTS.md
 * 2026-12-02 16:16Z). */
void weft__schedule(struct weft_loop *loop, struct weft__runnable *r, int pinned,
                    enum weft__sched_hint hint) {
  struct weft__worker *w = weft__tls_worker;
  if (__builtin_expect(w && w->loop == loop && pinned < 0 && !w->divert &&
                           !atomic_load_explicit(&loop->closed, memory_order_relaxed),
                       1)) {
    if (weft__loop_asyncio_order(loop)) {
      if (hint != WEFT__SCHED_HANDOFF && weft__inject_maybe_empty(&loop->inject)) {
        if (!weft__rlist_len(&w->overflow)) {
          if (weft__runq_try_push_solo(&w->runq, r)) return;
        } else {
          weft__rlist_push(&w->overflow, r); /* behind what waits there already */
          return;
        }
      }
    } else if (hint == WEFT__SCHED_WAKE && !loop->fifo && !SHUFFLE && !lifo_get(w) &&
               (!loop->solo || weft__inject_maybe_empty(&loop->inject))) {
      /* This worker runs it next: nobody to wake; with one worker, only
       * while nothing injected waits to be taken first (schedule_slow). */
      lifo_set(w, r);
      return;
    }
  }
  schedule_slow(loop, r, pinned, hint);
}

static bool has_local_work(struct weft__worker *w) {
  return lifo_get(w) || weft__rlist_len(&w->urgent) || weft__rlist_len(&w->pinned) ||
         weft__rlist_len(&w->overflow) || weft__rlist_len(&w->held) || weft__runq_len(&w->runq);
}

/* Warming what the next switches will read. A task switched to misses
 * on its execution part's first line (its runnable, fiber sp, task
 * pointer), on its handle (state, run) and on the frames its switch pops;
 * with a thousand tasks taking turns those lines are in L2 or L3, and a
 * load of the runnable that next_local hands over stalls the switch
 * (perf: 63% of weft__worker_switch_begin's samples on the instruction
 * after it, yield_many with stacks reused). So each pop prefetches ahead
 * in two steps: the runnable after the one popped gets its handle and
 * the top of its saved frames prefetched, read from its first line,
 * which the pop before prefetched as the one after that, now fetched in
 * turn. A switch then finds the lines it needs in L1 (benchmarks/
 * RESULTS.md, 2026-12-04 02:00Z: yield_many_warm 36.8 -> 23.0
 * ns, and steadier across code layouts).
 *
 * Only a one-worker loop reads through the pointers: its ring is its own,
 * so a queued runnable is alive and still (a task's execution part on its
 * stack, a handle on the heap). Elsewhere a thief may take the head and
 * run it to its end at any moment, so the head's address is only
 * prefetched, never dereferenced. */
#define WEFT__PREFETCH_FRAME_LINES 4u /* a switch's saved registers and the callers above them */

/* The second step: @r, the next to run (its first line fetched by now),
 * gets its handle and the top of its saved frames prefetched.
 * always_inline here and in the callers down to pop_ring: GCC finds a
 * function made of loads and prefetches free of side effects, and where
 * it does not inline a call to one it deletes the call, prefetches and
 * all (seen when this was split out: every prefetch of the second step
 * gone, ping_pong 1.17x the time with one worker). */
static inline __attribute__((always_inline)) void prefetch_task_lines(const struct weft__runnable *r) {
  if (!r || weft__runnable_kind(r) != WEFT__R_TASK) return;
  const struct weft__task_run *x = weft__container_of(r, struct weft__task_run, r);
  const char *t = (const char *)x->task; /* every line of the handle (it need not start one) */
  for (size_t off = 0; off < sizeof(struct weft_task); off += 64) __builtin_prefetch(t + off);
  __builtin_prefetch(t + sizeof(struct weft_task) - 1);
#if !defined(WEFT_FIBER_UCONTEXT)
  const char *sp = x->fiber.sp;
  for (unsigned i = 0; i < WEFT__PREFETCH_FRAME_LINES; i++) __builtin_prefetch(sp + 64 * i);
#endif
}

static inline __attribute__((always_inline)) void prefetch_next_solo(struct weft__worker *w) {
  struct weft__runnable *after = weft__runq_peek_solo(&w->runq, 1);
  if (after) __builtin_prefetch(after);
  prefetch_task_lines(weft__runq_peek_solo(&w->runq, 0));
}

/* A one-worker loop's overflow: the ring's FIFO tail, a list whose every
 * node's address is in the one before it. Taken a ring's worth at a time
 * when the ring ran dry, from cold nodes (100,000 tasks queued) every
 * load waited for the last (perf: 5% of timers with one worker on that
 * walk), and nodes prefetched while the ring drained were out of cache
 * again a thousand task slices later (fork_join with one worker, warm:
 * 8.5% of the time on the refill's one load). So each pop that frees a
 * slot moves the overflow's head into it at once, from a line the pop
 * before prefetched, and prefetches the next head, a whole slice ahead
 * of its move: the ring stays full while the overflow drains, the order
 * is the same (ring first, then the overflow, oldest first, and pushes go
 * behind the overflow while it holds anything), and each node is loaded
 * once, in cache. The refill remains for a ring found empty (nothing was
 * popped to make room: the overflow filled while the ring drained by
 * other ways, a pass's drain). */
static inline __attribute__((always_inline)) void trickle_overflow(struct weft__worker *w) {
  /* Into the ring first, then off the list (as the refill): the slot the
   * pop freed takes it, and were the ring full it would stay listed. */
  if (weft__runq_try_push_solo(&w->runq, w->overflow.head)) weft__rlist_pop(&w->overflow);
  if (w->overflow.head) __builtin_prefetch(w->overflow.head);
}

__attribute__((noinline)) static struct weft__runnable *refill_from_overflow(struct weft__worker *w) {
  while (w->overflow.head && weft__runq_try_push_solo(&w->runq, w->overflow.head)) weft__rlist_pop(&w->overflow);
  if (w->overflow.head) __builtin_prefetch(w->overflow.head);
  return weft__runq_pop_solo(&w->runq);
}

/* Held starts (memory-aware order; never in FIFO order, whose order is
 * asyncio's). A task's first run takes a stack; when none is free (the
 * worker's pool and the arena's resident list are empty), that stack is
 * fresh memory: a new slab, a page fault per task, kept as long as the
 * task stays suspended. A workload that queues thousands of tasks which
 * each block on their first step (10,000 through a semaphore of 100:
 * semaphore_limit) started every one of them before any of the first
 * hundred resumed, since a yield or wake-up goes behind the queued
 * starts: 10,000 stacks, 45 MiB, each first touch a page fault, where a
 * stackless runtime holds a few hundred bytes per waiting task.
 *
 * So: while the pool is dry, the arena already holds HOLD_FLOOR stacks,
 * and started tasks were queued here since the ring was last empty
 * (`resumed`), a start popped from the ring is set aside in the held
 * list, and the queue goes on: the resumptions behind it finish tasks and
 * give their stacks back, and a start then reuses one. The bet is judged
 * once as many runnables as were queued when holding began have run (held
 * pops run nothing): if no task ended in the loop meanwhile (the
 * resumptions run on, yield_many), the held
 * starts go back to the ring in order and nothing is held until a task
 * ends. Bounded: the held list's oldest runs every HOLD_TURN picks (a task
 * yielding in a loop until a held one has run waits HOLD_TURN picks for
 * it, not for ever), and all of them go back to the ring (half a ring at
 * a time, so thieves can take them; the first runs at once) whenever the
 * ring is empty. Below HOLD_FLOOR stacks nothing is held: a program's
 * first tasks start in their queue order. Held starts are this worker's;
 * a stop or a standby's hand-over takes them with the rest (next_local
 * drains them, hand_over). */
#define HOLD_FLOOR 256u
#define HOLD_TURN TICK_BUDGET

/* Whether holding is on here: off from a judging that found no task
 * ended until a task ends on this worker. */
static inline bool holding(const struct weft__worker *w) {
  return atomic_load_explicit(&w->ends, memory_order_relaxed) != w->ends_at_off;
}

/* Whether @r, just popped from the ring of a loop not in FIFO order, is a
 * start to hold (above): the cheap tests first, the runnable (prefetched
 * by the pop before) then, the arena's counts last. A start whose
 * cancellation is pending is never held: it ends without a stack
 * (first_run), and holding it would only delay that. */
static inline bool hold_start(struct weft__worker *w, struct weft__runnable *r) {
  if (!w->resumed || weft__runnable_kind(r) != WEFT__R_TASK_START || !holding(w) ||
      !weft__stack_pool_dry(&w->stacks, HOLD_FLOOR))
    return false;
  const struct weft_task *t = weft__container_of(r, struct weft_task, r_start);
  /* relaxed: a hint; a cancellation that comes while the start is held
   * waits for its turn like the rest of it. */
  return !atomic_load_explicit(&t->must_cancel, memory_order_relaxed);
}

/* The ring's next runnable (a one-worker loop's ring refilled from its
 * overflow first), or NULL; with several workers, pinned work if the ring
 * turned out empty (thieves) and @or_pinned. */
static inline __attribute__((always_inline)) struct weft__runnable *pop_ring(struct weft__worker *w, bool or_pinned) {
  if (w->loop->solo) {
    struct weft__runnable *r = weft__runq_pop_solo(&w->runq);
    if (weft__rlist_len(&w->overflow)) {
      if (r) trickle_overflow(w);
      else r = refill_from_overflow(w); /* oldest first */
    }
    if (r) prefetch_next_solo(w);
    return r;
  }
  struct weft__runnable *r = weft__runq_pop(&w->runq);
  if (r) {
    struct weft__runnable *after = weft__runq_peek_hint(&w->runq);
    if (after) __builtin_prefetch(after);
  } else if (or_pinned && weft__rlist_len(&w->pinned)) {
    r = weft__rlist_pop(&w->pinned);
  }
  return r;
}

/* What is queued here now, held starts aside: the judging's horizon (in
 * runnables run, next_holding). */
static unsigned queued_here(struct weft__worker *w) {
  return weft__runq_len(&w->runq) + (unsigned)weft__rlist_len(&w->overflow);
}

/* Tasks ended on any worker of the loop so far (relaxed: counts; a
 * judging that misses the latest ends judges a moment early). */
static uint64_t loop_ends(const struct weft_loop *loop) {
  uint64_t n = 0;
  for (unsigned i = 0; i < loop->nworkers; i++)
    n += atomic_load_explicit(&loop->workers[i].ends, memory_order_relaxed);
  return n;
}

/* The judging (above), once its horizon has run: holding goes on, with
 * a new horizon, if a task ended anywhere in the loop since it began (its
 * stack went back to some pool or the arena); else the held starts go
 * back to the ring, in order, and holding stops until a task ends here. */
static void judge_holding(struct weft__worker *w) {
  uint64_t ends = loop_ends(w->loop);
  if (ends != w->ends_mark) {
    w->ends_mark = ends;
    w->hold_probe = queued_here(w) + 1;
    return;
  }
  w->ends_at_off = atomic_load_explicit(&w->ends, memory_order_relaxed);
  struct weft__runnable *r;
  while ((r = weft__rlist_pop(&w->held))) push_local(w, r, false);
  if (!w->loop->solo) notify_one(w->loop); /* work a sleeper may take */
}

/* With the ring empty: the held starts go back to it, oldest first (half
 * a ring: thieves may take them; the rest stay held), and the first of
 * them is returned, held no more; NULL if none is held. */
static struct weft__runnable *unhold(struct weft__worker *w) {
  struct weft__runnable *r = weft__rlist_pop(&w->held);
  unsigned n = 0;
  while (n < WEFT__RUNQ_CAP / 2 && weft__rlist_len(&w->held)) {
    /* Off the list before it is in the ring: once there a thief may run
     * its task to its end, and the freed handle's link (the list's) is
     * the object cache's. Half a ring fits an empty one, and only this
     * worker pushes; push_local covers the impossible. */
    struct weft__runnable *next = weft__rlist_pop(&w->held);
    bool in = w->loop->solo ? weft__runq_try_push_solo(&w->runq, next)
                            : weft__runq_try_push(&w->runq, next);
    if (__builtin_expect(!in, 0)) push_local(w, next, false);
    n++;
  }
  if (n && !w->loop->solo) notify_one(w->loop); /* work a sleeper may take */
  return r;
}

/* next_local's ring step for a loop not in FIFO order once a start is to
 * be held (@r, popped) or starts are held: holds starts as long as the
 * rule says, counting what runs against the judging's horizon; gives the
 * held list its turn every HOLD_TURN picks; unholds when the ring is
 * empty. Out of line: a pick with nothing held pays two tests. */
__attribute__((noinline)) static struct weft__runnable *next_holding(struct weft__worker *w,
                                                                     struct weft__runnable *r) {
  if (!r && ++w->held_turn >= HOLD_TURN) {
    w->held_turn = 0;
    return weft__rlist_pop(&w->held);
  }
  for (;;) {
    if (!r) r = pop_ring(w, false);
    if (!r) break;
    if (!hold_start(w, r)) {
      /* Counted against the judging's horizon: what runs (held pops run
       * nothing, so no task could end during them). */
      if (weft__rlist_len(&w->held) && --w->hold_probe == 0) judge_holding(w);
      return r;
    }
    if (!weft__rlist_len(&w->held)) { /* holding begins: judged once what is queued now has run */
      w->hold_probe = queued_here(w) + 1;
      w->ends_mark = loop_ends(w->loop);
    }
    weft__rlist_push(&w->held, r);
    r = NULL;
  }
  w->resumed = false; /* the ring is empty: nothing started waits behind a start */
  r = unhold(w);
  if (!r && weft__rlist_len(&w->pinned)) r = weft__rlist_pop(&w->pinned);
  return r;
}

/* Whether a LIFO streak of LIFO_MAX or more runs goes on (LIFO streaks,
 * above): at LIFO_MAX and every LIFO_STRIDE runs after, only if the runs
 * since the last note averaged under lifo_cheap_ticks; never past
 * LIFO_LONG. */
static bool lifo_extends(struct weft__worker *w) {
  unsigned n = w->lifo_streak;
  if (n >= LIFO_LONG || !w->lifo_cheap_ticks) return false;
  if ((n - LIFO_MAX) % LIFO_STRIDE != 0) return true; /* inside a window judged cheap */
  /* Runs since the last note: from the second run to LIFO_MAX, then a stride. */
  unsigned runs = n == LIFO_MAX ? LIFO_MAX - 1 : LIFO_STRIDE;
  uint64_t now = weft__ticks();
  bool cheap = now - w->lifo_mark < (uint64_t)runs * w->lifo_cheap_ticks;
  w->lifo_mark = now;
  return cheap;
}

/* Pinned work and the ring take turns at this decision itself (a flag of
 * its own): keyed on the tick's parity, a cycle of an even number of
 * items (three LIFO runs and one from the ring, as a generator pair
 * capped in its hand-offs makes) met it at the same parity every time
 * and starved the pinned list. */
static inline bool pinned_turn(struct weft__worker *w) {
  return weft__rlist_len(&w->pinned) &&
         (!weft__runq_len(&w->runq) || (w->pinned_turn = !w->pinned_turn));
}

/* next_local in FIFO order, which uses neither the LIFO slot nor the
 * urgent list (fifo_batch): pinned work in its turn, else the ring.
 * Inline in take_next, the pick of every switch in that order. */
static inline __attribute__((always_inline)) struct weft__runnable *next_fifo(struct weft__worker *w) {
  if (pinned_turn(w)) return weft__rlist_pop(&w->pinned);
  return pop_ring(w, true);
}

/* next_local outside FIFO order: the LIFO slot while its streak goes on,
 * the urgent list, pinned work in its turn, then the ring (held starts
 * aside). */
static struct weft__runnable *next_not_fifo(struct weft__worker *w) {
  struct weft__runnable *slot = lifo_get(w);
  if (slot) {
    lifo_set(w, NULL);
    if ((w->lifo_streak < LIFO_MAX || lifo_extends(w)) && !shuffle_toss(w, 4)) {
      if (w->lifo_streak == 1) w->lifo_mark = weft__ticks(); /* the second run: timed from here */
      w->lifo_streak++;
      return slot;
    }
    /* Streak over: it waits its turn here. No notification: this worker is
     * awake and will run it; waking a sleeper to steal a lone chain task
     * cost chained_spawn a futex round trip every 4 tasks. */
    push_local(w, slot, false);
  }
  w->lifo_streak = 0;
  if (weft__rlist_len(&w->urgent)) return weft__rlist_pop(&w->urgent);
  if (pinned_turn(w)) return weft__rlist_pop(&w->pinned);
  if (__builtin_expect(weft__rlist_len(&w->held) != 0, 0)) return next_holding(w, NULL);
  struct weft__runnable *r = pop_ring(w, false);
  if (__builtin_expect(r && !hold_start(w, r), 1)) return r;
  return next_holding(w, r);
}

/* This worker's next runnable, in the loop's order; NULL if none. Inline:
 * FIFO order's pick is on every switch's path (take_next). */
static inline __attribute__((always_inline)) struct weft__runnable *next_local(struct weft__worker *w) {
  return w->loop->fifo ? next_fifo(w) : next_not_fifo(w);
}

/* ---- running tasks ------------------------------------------------------- */

/* cfg.track_stack_use: measured on the task's own stack before it
 * finishes, so that whoever sees the task done sees the figure. */
static void note_stack_use(struct weft_task *t) {
  _Atomic size_t *hw = &t->fut.loop->stack_high_water;
  size_t used = weft__stack_touched(weft__task_run_of(t)->stack);
  struct weft__task_cold *c = weft__task_cold_get(t); /* NULL: no memory, no figure */
  if (c) c->stack_used = (uint32_t)used; /* a stack is at most 1 GiB */
  size_t seen = atomic_load_explicit(hw, memory_order_relaxed);
  /* relaxed: a statistic; the CAS only keeps the maximum. */
  while (seen < used &&
         !atomic_compare_exchange_weak_explicit(hw, &seen, used, memory_order_relaxed, memory_order_relaxed)) {
  }
}

static bool exact_stop(const struct weft_loop *loop) { return weft__loop_asyncio_order(loop); }


static struct weft__fiber *end_begin(struct weft__worker *w, struct weft_task *t);

/* A fiber's entry: runs @arg's body, then, as long as each task that ends
 * here hands its stack on (design comment), its successors' bodies. */
static void task_entry(void *arg) {
  weft__fiber_started();
  struct weft_task *t = arg;
  weft__worker_after_switch(weft__worker_self()); /* the task we were switched to from, if any */
  struct weft__task_run *x = weft__task_run_of(t); /* the stack's: each successor's too */
  for (;;) {
    void *result = NULL;
    int rc = x->fn(x->arg, &result);
    /* The stack's descriptor (off the stack, in its slab's array: cold
     * after a long suspension) comes in during the finish; stack_put
     * reads it when the task has switched out. */
    __builtin_prefetch(x->stack);
    if (t->fut.loop->track_stack) note_stack_use(t);
    weft__task_finish(t, rc < 0 ? rc : 0, result);
    /* The worker may differ from where we started. */
    struct weft__fiber *to = end_begin(weft__worker_self(), t);
    if (to != &x->fiber) weft__fiber_exit_to(&x->fiber, to);
    t = x->task; /* the first run that took this stack */
    /* It starts as a fresh fiber would (cfg.task_fp_env), not with what
     * its predecessor left. */
    if (t->fut.loop->task_fp_env) weft__fp_ctl_set(t->fut.loop->fp_init);
  }
}

static void end_task(struct weft_task *t) {
  /* release: pairs with acquire loads of the state (nobody may run it again). */
  atomic_store_explicit(&t->state, WEFT__TASK_DONE, memory_order_release);
  /* The scheduler's reference. When it is the only one, nobody can take
   * or drop another (weft__task_finish's "alone": t has left its
   * registry), so it is freed without the decrement's locked instruction.
   * acquire: as the last decrement's. */
  if (atomic_load_explicit(&t->fut.refs, memory_order_acquire) == 1) {
    weft__task_free(t);
    return;
  }
  weft_future_release(&t->fut);
}

/* A slice's bookkeeping: who is on the CPU (the dump and the stall
 * detector read it), the slice counts (the stall detector's clock, the
 * task's own), where the task last ran and when it stopped. Per-task times
 * are sampled (struct weft__task_times): a countdown picks one slice in
 * acct_period to time, and a task whose last timed slice armed it (timed)
 * has its wait for a worker timed at its next start. Budget: a dozen plain
 * stores and loads and two predictable branches, no atomic
 * read-modify-write; the clock is read only on the sampled paths (~1 slice
 * in 32 to ~100 by default, after the clock's cost: loop.c). slice_begin returns
 * the task's execution part, which the switch to it needs next. */
__attribute__((noinline)) static void slice_begin_acct(struct weft__worker *w,
                                                       struct weft_task *t, bool sampled) {
  uint64_t now = weft__ticks();
  if (weft__task_timed(t)) {
    /* Armed: its times exist and its wait for a worker ends now. */
    struct weft__task_times *tm = weft__task_times_of(t);
    if (tm && tm->ready_at) {
      weft__count(&tm->ready, now > tm->ready_at ? now - tm->ready_at : 0);
      weft__count32(&tm->ready_n, 1);
      tm->ready_at = 0;
    }
    weft__task_disarm(t);
  }
  if (sampled) w->slice_t0 = now;
}

__attribute__((noinline)) static void slice_end_acct(struct weft__worker *w, struct weft_task *t) {
  uint64_t now = weft__ticks(), d = now > w->slice_t0 ? now - w->slice_t0 : 0;
  w->slice_t0 = 0;
  struct weft__task_times *tm = weft__task_times_get(t);
  if (!tm) return;
  weft__count(&tm->run, d);
  weft__count32(&tm->run_n, 1);
  if (d > atomic_load_explicit(&tm->max_slice, memory_order_relaxed))
    atomic_store_explicit(&tm->max_slice, d, memory_order_relaxed);
  /* Armed: the suspension (or requeue) that follows is timed, then the
   * wait for a worker. */
  tm->stopped_at = now;
  weft__task_arm(t);
}

static inline struct weft__task_run *slice_begin(struct weft__worker *w, struct weft_task *t) {
  struct weft__task_run *x = weft__task_run_of(t);
  weft__worker_set_current(w, t);
  weft__count(&w->ctr.polled, 1);
  weft__count(&t->runs, 1);
  atomic_store_explicit(&x->last_worker, (int16_t)w->index, memory_order_relaxed);
  bool sampled = weft__worker_acct_sample(w, &w->acct_left);
  if (__builtin_expect(sampled || weft__task_timed(t), 0))
    slice_begin_acct(w, t, sampled);
  return x; /* what the switch to @t needs: its fiber */
}

static inline void slice_end(struct weft__worker *w, struct weft_task *t) {
  weft__worker_set_current(w, NULL);
  /* relaxed: read by the dump only while it holds the task (its claim). */
  atomic_store_explicit(&weft__task_run_of(t)->since_ms, w->coarse_ms, memory_order_relaxed);
  if (__builtin_expect(w->slice_t0 != 0, 0)) slice_end_acct(w, t);
}

/* Puts a task this worker just ran back in the queue (it yielded, or was
 * woken while it ran): its wait for a worker timed if it is armed, then
 * weft__schedule(loop, &x->r, x->pinned, WEFT__SCHED_BACK) without the
 * generic path's questions whose answers are known here
 * (which worker we are, no hand-off, not urgent, not a wake): an unpinned
 * task of an open loop goes to the back of our own ring, as weft__schedule
 * would put it (after a one-worker loop takes what foreign threads queued
 * first). With several workers that push is outside the idle protocol
 * (idle.c: the task ran here a moment ago and adds no work), so it costs
 * no fence, and a relaxed look decides whether to wake a sleeper. Anything
 * else goes the generic way. */
static inline void requeue(struct weft__worker *w, struct weft_task *t) {
  /* Its state stays as it is: SCHEDULED (a yield), or NOTIFIED, which its
   * next slice's start turns back (task.c's design comment). */
  if (weft__task_timed(t)) weft__task_acct_requeued(t);
  struct weft_loop *loop = w->loop;
  struct weft__task_run *x = weft__task_run_of(t);
  /* relaxed: written by the task itself while it ran on this thread. */
  int pinned = atomic_load_explicit(&x->pinned, memory_order_relaxed);
  if (pinned < 0 && !w->divert && !atomic_load_explicit(&loop->closed, memory_order_relaxed)) {
    if (loop->solo) {
      if (__builtin_expect(!weft__inject_maybe_empty(&loop->inject), 0)) take_injected(w);
      /* push_local's common case here: its frame (it saves the registers
       * its multi-worker path needs) cost more than the push, 29 of a
       * yield's 284 instructions (callgrind, yield_many). */
      if (__builtin_expect(!weft__rlist_len(&w->overflow), 1) &&
          weft__runq_try_push_solo(&w->runq, &x->r)) {
        w->resumed = true; /* held starts' signal (push_local sets it for the rest) */
        return;
      }
    } else if (weft__runq_try_push_requeue(&w->runq, &x->r)) {
      w->resumed = true;
      /* A helper only if there is something to share: with this task
       * alone queued (and the LIFO slot empty), this worker runs it next,
       * and a woken sleeper found nothing or stole the task back and forth
       * (Tokio's should_notify_others asks the same). A lone task yielding
       * under a timeout scope (wait_for_overhead, two workers) paid a
       * futex wake-up and a park every few yields. */
      if (weft__runq_len(&w->runq) + (lifo_get(w) != NULL) > 1 && weft__idle_may_notify(&loop->idle))
        notify_one(loop);
      return;
    }
    push_local(w, &x->r, true);
    return;
  }
  weft__schedule(loop, &x->r, pinned, WEFT__SCHED_BACK);
}


/* Work other threads may have queued for @w (its inbox, the loop's
 * injection queue), by a cheap look that can miss a push in flight. */
static bool remote_work_maybe(struct weft__worker *w) {
  return !weft__inject_maybe_empty(&w->inbox) || !weft__inject_maybe_empty(&w->loop->inject);
}

/* Whether the main loop's next pass would take in nothing but the
 * reactor's completions: no remote work, no stop, no timer due. relaxed: a
 * stop is seen at this boundary or the next (take_next). */
static bool only_io_pending(struct weft__worker *w) {
  if (remote_work_maybe(w) || atomic_load_explicit(&w->loop->stopping, memory_order_relaxed))
    return false;
  uint64_t next = weft__timers_next(&w->timers);
  return next == UINT64_MAX || next > weft__clock_ns();
}

/* The loop's sampling period (debug mode: every slice), once per pass. */
static void acct_refresh(struct weft__worker *w) {
  struct weft_loop *loop = w->loop;
  /* relaxed: nothing depends on the pass at which a change is seen. */
  uint32_t p = atomic_load_explicit(&loop->acct, memory_order_relaxed)
                   ? 1u
                   : atomic_load_explicit(&loop->acct_period, memory_order_relaxed);
  if (p == w->acct_period) return;
  w->acct_period = p;
  w->acct_left = w->acct_spawn_left = p ? p : UINT32_MAX;
}

static bool first_run(struct weft__worker *w, struct weft_task *t);

/* The last of a task that ended, once its stack is given back or handed
 * on: it no longer runs anywhere, a task ended here (held starts' signal),
 * and DONE is published. relaxed: nobody may use the execution part past
 * the end (task.h); end_task's release store of DONE publishes the NULL. */
static inline void retire(struct weft__worker *w, struct weft_task *t) {
  atomic_store_explicit(&t->run, NULL, memory_order_relaxed);
  weft__count(&w->ends, 1);
  end_task(t);
}

/* Stacks handed on (design comment): @t's first run takes @x, the
 * execution part of the task that is ending on this stack (this code runs
 * on it), fiber included. @t is published as the stack's owner first, so
 * that the guard handler never names the ended task, which end_task may
 * free; then the ended task is retired, as at finish_switch (retire). */
static void hand_on(struct weft__worker *w, struct weft__task_run *x, struct weft_task *t) {
  struct weft_task *ended = x->task;
  weft__task_run_init(x, t, x->stack); /* the fiber stays: it is running */
  /* release: the dump and cancellers on other threads acquire-load it. */
  atomic_store_explicit(&t->run, x, memory_order_release);
  weft__worker_set_stack_owner(w, t);
  retire(w, ended);
}

/* Readies @t, just taken from a queue, for a slice; on its first run,
 * gives it a stack and a fiber. False if it ended instead (cancelled before
 * its first step, or no memory for a stack): nothing to switch to. Runs on
 * the scheduler's stack or on the stack of the task switching out. Inline:
 * every slice starts here; the first run is out of line. */
static inline bool prepare_task(struct weft__worker *w, struct weft_task *t) {
  weft__task_slice_starts(&t->state); /* a write only if it was notified */
  if (__builtin_expect(weft__task_run_of(t) != NULL, 1)) return true; /* started */
  return first_run(w, t);
}

__attribute__((noinline)) static bool first_run(struct weft__worker *w, struct weft_task *t) {
  struct weft_loop *loop = w->loop;
  /* A task cancelled before its first step never runs its body. */
  if (atomic_load_explicit(&loop->closing, memory_order_relaxed) || weft__task_take_cancel(t)) {
    weft__task_finish(t, -ECANCELED, NULL);
    end_task(t);
    return false;
  }
  size_t size = weft__task_stack_size(t);
  struct weft__task_run *donor = w->donor;
  if (donor && donor->stack->size == size) { /* both page-rounded */
    w->donor = NULL;
    hand_on(w, donor, t);
    return true;
  }
  struct weft__stack *stack = weft__stack_get(&w->stacks, size);
  if (!stack) {
    weft__task_finish(t, -ENOMEM, NULL);
    end_task(t);
    return false;
  }
  if (loop->track_stack) weft__stack_forget_pages(stack);
  /* The execution part takes the stack's top bytes, a colour below the
   * top (task.h: WEFT__STACK_COLORS); the fiber gets the rest. */
  size_t color = w->stack_color++ % WEFT__STACK_COLORS;
  size_t usable = weft__stack_usable(stack) - WEFT__TASK_RUN_RESERVE - color * WEFT__STACK_COLOR_STEP;
  struct weft__task_run *x = (struct weft__task_run *)((char *)stack->lo + usable);
  weft__task_run_init(x, t, stack);
  weft__fiber_init(&x->fiber, stack->lo, usable, task_entry, t,
                   loop->task_fp_env ? &loop->fp_init : NULL);
  /* release: the dump and cancellers on other threads acquire-load it. */
  atomic_store_explicit(&t->run, x, memory_order_release);
  return true;
}

/* A first-run entry: true if we take the first run, false if it went stale
 * (the task ran inline; the entry's reference is dropped). A FIFO loop
 * never runs a child inline (task.h), so its entries are never stale and
 * need no CAS: one locked instruction less per task. */
static bool claim_start(struct weft__worker *w, struct weft_task *t) {
  if (w->loop->fifo) return true;
  uint8_t expected = 0;
  /* acq_rel: decides against an inline host (task.c) who runs the body. */
  if (atomic_compare_exchange_strong_explicit(&t->fut.task_claim, &expected, 1, memory_order_acq_rel,
                                              memory_order_relaxed))
    return true;
  weft_future_release(&t->fut);
  return false;
}

/* A suspension's move SCHEDULED -> IDLE with the compare-and-swap, or
 * its requeue when notified (several workers, or no section). */
static void suspended_swap(struct weft__worker *w, struct weft_task *t) {
  uint8_t expected = WEFT__TASK_SCHEDULED;
  /* release: the saved context is published to the next waker (acquire CAS
   * in weft__task_wake). On failure it was notified during its slice: it
   * is queued again, NOTIFIED, and its next slice's start sees the flag. */
  if (!atomic_compare_exchange_strong_explicit(&t->state, &expected, WEFT__TASK_IDLE,
                                               memory_order_release, memory_order_acquire))
    requeue(w, t);
}

/* The same on a one-worker loop: a plain move in an owner section where
 * one may be (taskstate.h): the next waker is this thread, or one that
 * takes the task's future lock and so follows the section. */
static __attribute__((noinline)) void suspended_solo(struct weft__worker *w, struct weft_task *t) {
  struct weft__owner *o = w->solo_owner;
  enum weft__tstate_way way = weft__task_state_begin(o, t);
  if (__builtin_expect(way == WEFT__TSTATE_SWAP, 0)) {
    suspended_swap(w, t);
    return;
  }
  bool notified = atomic_load_explicit(&t->state, memory_order_relaxed) != WEFT__TASK_SCHEDULED;
  if (!notified) atomic_store_explicit(&t->state, WEFT__TASK_IDLE, memory_order_relaxed);
  weft__task_state_end(o, way);
  if (notified) requeue(w, t);
}

/* What becomes of @t, which just switched out for reason @why, once its
 * stack is no longer in use (after_switch). */
static void finish_switch(struct weft__worker *w, struct weft_task *t, enum weft__switch_reason why) {
  if (why == WEFT__SWITCH_SETTLED) return; /* settle_first did it */
  if (why == WEFT__SWITCH_DONE) {
    struct weft__task_run *x = weft__task_run_of(t);
    weft__fiber_fini(&x->fiber);
    weft__stack_put(&w->stacks, x->stack); /* and the part with it */
    retire(w, t);
    return;
  }
  if (why == WEFT__SWITCH_YIELD) {
    /* Requeued without the wake protocol (requeue); the flags a racing
     * waker set before waking are read by the task's own acquire loads
     * when it runs. */
    requeue(w, t);
    return;
  }
  if (w->solo_owner) {
    suspended_solo(w, t); /* out of line: the yields' path stays small */
    return;
  }
  suspended_swap(w, t);
}

void weft__worker_finish_prev(struct weft__worker *w) {
  struct weft_task *t = w->prev;
  w->prev = NULL;
  finish_switch(w, t, w->switch_reason);
}

/* Once per pass, after any park: the stamp tasks get as they stop
 * (since_ms), the accounting's sampling period, and on a one-worker loop
 * owner sections armed again a hold after a revocation (owner.h). */
static void pass_begins(struct weft__worker *w) {
  w->coarse_ms = atomic_load_explicit(&w->loop->now_ms, memory_order_relaxed);
  if (!w->coarse_ms) w->coarse_ms = weft__clock_coarse_ms();
  acct_refresh(w);
  if (w->sections) weft__owner_pass(w->sections, w->coarse_ms);
}

/* A FIFO pass's batch: everything queued here when it begins (the ring,
 * its overflow, and pinned work other threads sent, which only this worker
 * may run; left out, a worker holding nothing else spun without running
 * it). The LIFO slot and the urgent list are not used in FIFO order. */
static unsigned fifo_batch(struct weft__worker *w) {
  return weft__runq_len(&w->runq) + (unsigned)weft__rlist_len(&w->overflow) +
         (unsigned)weft__rlist_len(&w->pinned);
}

bool weft__worker_poll_inline(struct weft__worker *w, struct weft_task *t, _Atomic uint32_t *done) {
  if (has_local_work(w) || w->handoff || !only_io_pending(w)) return false;
  weft__worker_set_current(w, NULL);
  weft__worker_set_stack_owner(w, t); /* the poll runs on t's stack */
  weft__reactor_poll(&w->reactor);
  weft__worker_set_stack_owner(w, NULL);
  weft__worker_set_current(w, t);
  /* In FIFO order this poll is the next pass's, as yield_in_place's is:
   * when it woke tasks, the pass begins here, its batch what the poll
   * woke, which runs after t (a poll that woke none leaves t alone, as
   * before: no pass to begin). Left unbegun, the pass ended when t
   * next switched out and the scheduler's poll began another, submitting
   * alone the one request t had queued since: nop_batch made two
   * io_uring_enter calls per 64 awaits where one does (RESULTS.md,
   * 2026-12-07 20:55Z), and what t queued after the poll ran in the pass
   * of the tasks the poll woke (test_loop.c, inline_poll_begins_its_pass). */
  unsigned woke = w->loop->fifo && !w->pending && !w->divert ? fifo_batch(w) : 0;
  if (woke) {
    pass_begins(w);
    w->batch_left = woke;
  }
  /* relaxed: the caller's acquire load reads the outcome. */
  if (!atomic_load_explicit(done, memory_order_relaxed)) return false;
  slice_end(w, t);
  slice_begin(w, t);
  return true;
}

/* A FIFO loop's next pass, begun where the last one ended (on the stack of
 * the task switching out, or the scheduler's) when the main loop's pass
 * would take in nothing but what the reactor delivers: no remote work, no
 * timer due, no stop. It is that pass with its empty steps left out, in the
 * same order (the reactor's completions first, then a batch of exactly what
 * is queued), so asyncio's order holds. What it saves is the trip through
 * the scheduler's stack (two switches) and the main loop's bookkeeping,
 * which a chain of single tasks (chained_spawn) pays once per task.
 * Returns whether a batch began. */
static bool quick_pass(struct weft__worker *w) {
  /* Nothing queued (a lone task yielding: it is queued again only after
   * it switched out; yield_in_place covers that): the main loop's pass,
   * which polls anyway, takes it. */
  if (!w->loop->fifo || !fifo_batch(w) || w->divert || !only_io_pending(w)) return false;
  weft__reactor_poll(&w->reactor);
  pass_begins(w);
  w->batch_left = fifo_batch(w);
  return w->batch_left != 0;
}

/* The batch's next runnable: a hand-off first (it does not count against
 * the batch, as a callee would not), else the next local item while the
 * batch has room and no stop must be seen. NULL ends the batch, unless a
 * FIFO loop can begin its next pass here (quick_pass). With one worker a
 * task switching out has taken its place before this (settle_first), so
 * what the pass's poll wakes comes after a yielder, as in asyncio
 * (test_loop.c, yield_before_io_in_next_pass). */
static struct weft__runnable *take_next(struct weft__worker *w) {
  struct weft__runnable *r = w->handoff;
  if (r) {
    w->handoff = NULL;
    w->handoff_streak++;
    return r;
  }
  w->handoff_streak = 0;
  if (!w->batch_left && !quick_pass(w)) return NULL;
  /* relaxed: checked at each item boundary; weft_loop_stop's seq_cst store
   * and its wake-ups bound how late it is seen. */
  if (!exact_stop(w->loop) &&
      __builtin_expect(atomic_load_explicit(&w->loop->stopping, memory_order_relaxed), 0)) {
    w->batch_left = 0;
    return NULL;
  }
  r = next_local(w);
  w->batch_left = r ? w->batch_left - 1 : 0;
  return r;
}

/* The task a task switching out goes straight to (one fiber switch, not
 * two through the scheduler), or NULL: the batch is over, an eager child
 * runs, or the next item is a callback (left in w->pending: callbacks run
 * on the scheduler's stack, never on a task's). Items it takes count
 * against the batch exactly as the scheduler's own (take_next), so the
 * order is the scheduler's: this only skips the trip through it. Inline:
 * it is on every switch's path (switch_out). */
static inline __attribute__((always_inline)) struct weft_task *direct_next(struct weft__worker *w) {
  if (w->no_direct) return NULL;
  struct weft__runnable *r;
  while ((r = take_next(w))) {
    struct weft_task *t;
    if (weft__runnable_kind(r) == WEFT__R_TASK) {
      t = weft__task_of_runnable(r);
    } else if (weft__runnable_kind(r) == WEFT__R_TASK_START) {
      t = weft__container_of(r, struct weft_task, r_start);
      if (!claim_start(w, t)) continue;
    } else {
      w->pending = r;
      return NULL;
    }
    if (prepare_task(w, t)) return t;
  }
  return NULL;
}

/* The end of a yield that goes on in place (yield_in_place, yield_on):
 * @t's next slice begins on its own stack, with the bookkeeping requeue
 * and prepare_task would have done. */
static void resume_in_place(struct weft__worker *w, struct weft_task *t) {
  weft__worker_set_stack_owner(w, NULL);
  /* As requeue would: a timed task's wait for a worker starts (and ends
   * at once: slice_begin). */
  if (weft__task_timed(t)) weft__task_acct_requeued(t);
  weft__task_slice_starts(&t->state); /* prepare_task's */
  slice_begin(w, t);
}

/* A yield in a FIFO loop that found nothing to switch to, with nothing
 * queued: the next pass would begin with the yielding task, so when that
 * pass would take in nothing but the reactor's completions
 * (only_io_pending), it begins here: the reactor is polled on the task's
 * stack (no task current, as in weft__worker_poll_inline), what it wakes
 * is queued behind the task, and the task's next slice starts without a
 * switch. True if so. */
static bool yield_in_place(struct weft__worker *w, struct weft_task *t) {
  if (fifo_batch(w) || w->pending || w->no_direct || w->divert || !only_io_pending(w))
    return false;
  weft__reactor_poll(&w->reactor);
  pass_begins(w);
  w->batch_left = fifo_batch(w); /* what the poll woke runs after t, in this pass */
  resume_in_place(w, t);
  return true;
}

/* The same for a loop of several workers: a yield that found nothing to
 * switch to ended the batch (take_next), so the scheduler would requeue
 * the task and run the main loop's pass (poll, role, remote work, timers)
 * to pick it again. When that pass would take in nothing but the
 * reactor's completions and the poll brings none, the pass is made here,
 * on the task's stack, and the task goes on in place. If the poll queued
 * work, the task goes the long way, behind it. Not for a pinned task (its
 * worker's list), a standby or a worker whose role is changing, a closed
 * loop. A lone task yielding under a timeout scope (wait_for_overhead)
 * paid two switches and a requeue for each yield. True if so. */
static bool yield_on(struct weft__worker *w, struct weft_task *t) {
  struct weft_loop *loop = w->loop;
  if (w->pending || w->no_direct || w->divert || w->handoff || has_local_work(w) || !only_io_pending(w))
    return false;
  /* relaxed: as the main loop's look at each pass; the pinned flag is
   * written by the task itself while it ran on this thread. */
  if (atomic_load_explicit(&loop->nserving, memory_order_relaxed) != w->seen_serving ||
      atomic_load_explicit(&weft__task_run_of(t)->pinned, memory_order_relaxed) >= 0 ||
      atomic_load_explicit(&loop->closed, memory_order_relaxed))
    return false;
  weft__reactor_poll(&w->reactor);
  if (has_local_work(w)) return false;
  pass_begins(w);
  w->batch_left = TICK_BUDGET - 1; /* run_batch's, less take_next's pick of the task */
  w->handoff_streak = 0;           /* take_next's, with no hand-off */
  w->lifo_streak = 0;              /* next_not_fifo's, with the slot empty */
  resume_in_place(w, t);
  return true;
}

/* weft__worker_switch_begin's end when no task comes next: the scheduler,
 * or nothing for a yield that goes on in place. */
__attribute__((noinline)) static struct weft__fiber *to_scheduler(struct weft__worker *w,
                                                                  struct weft_task *t,
                                                                  enum weft__switch_reason why) {
  if (why == WEFT__SWITCH_YIELD && (w->loop->fifo ? yield_in_place(w, t) : yield_on(w, t))) return NULL;
  w->prev = t;
  w->switch_reason = why;
  return &w->sched;
}

/* A one-worker loop in FIFO order (asyncio's): the task switching out
 * takes its place before the pick, as finish_switch would after the
 * switch: a yield is queued again, a suspension turns IDLE (or is queued
 * again if it was woken during its slice). What the pick itself queues
 * then comes after it, as after a switch through the scheduler: a task
 * cancelled before its first step that the pick ends wakes its awaiters
 * (asyncio: the cancelled task's step runs, its awaiters' wake-ups follow
 * the yielder's), a pass begun here polls (quick_pass). Done after the
 * switch instead, those went ahead of the yielder (test_loop.c,
 * yield_ahead_of_a_cancelled_start_it_ends; found by tests/order). Only
 * with one worker: nobody else runs a task of the loop, so the task's
 * context is saved before anything could run it; if the pick comes back
 * to the task itself (nothing else was queued, or what was ahead of it
 * ended at once), it goes on in place. True if it settled. */
static inline bool settle_first(struct weft__worker *w, struct weft_task *t,
                                enum weft__switch_reason why) {
  if ((why != WEFT__SWITCH_SUSPEND && why != WEFT__SWITCH_YIELD) || !exact_stop(w->loop))
    return false;
  finish_switch(w, t, why);
  return true;
}

/* The outgoing half of a switch: weft__worker_switch_begin's body, and
 * end_begin's, which alone passes @offer (a constant at each call, so the
 * other switches' path carries none of it): @t has ended, and its stack
 * goes to the next task if that is a first run (Stacks handed on, design
 * comment). Then it returns @t's own fiber: @t is retired and the
 * successor's slice has begun; the caller runs its body on the spot. */
static inline __attribute__((always_inline)) struct weft__fiber *switch_out(
    struct weft__worker *w, struct weft_task *t, enum weft__switch_reason why, bool offer) {
  WEFT__INVARIANT(t == weft__worker_current(w) && !w->prev);
  /* What follows runs on t's stack after t stops being current: an
   * overflow here is still t's (stackguard.c). */
  weft__worker_set_stack_owner(w, t);
  slice_end(w, t);
  struct weft__task_run *x = offer ? weft__task_run_of(t) : NULL;
  if (offer && !w->loop->track_stack) w->donor = x;
  if (!offer && settle_first(w, t, why)) why = WEFT__SWITCH_SETTLED;
  struct weft_task *next = why == WEFT__SWITCH_EAGER ? NULL : direct_next(w);
  if (offer) w->donor = NULL;
  if (__builtin_expect(!next, 0)) return to_scheduler(w, t, why);
  if (!offer && __builtin_expect(next == t, 0)) { /* settled, and picked again: on in place */
    slice_begin(w, t);
    weft__worker_set_stack_owner(w, NULL);
    return NULL;
  }
  if (offer && weft__task_run_of(next) == x) { /* it took t's stack; t is retired (hand_on) */
    slice_begin(w, next);
    weft__worker_set_stack_owner(w, NULL);
    return &x->fiber;
  }
  /* Set after direct_next: a task it finds ended before its first step
   * finishes on this stack, and must not see these. A settled task leaves
   * nothing to finish (w->prev stays NULL). */
  if (offer || why != WEFT__SWITCH_SETTLED) {
    w->prev = t;
    w->switch_reason = why;
  }
  return &slice_begin(w, next)->fiber;
}

struct weft__fiber *weft__worker_switch_begin(struct weft__worker *w, struct weft_task *t,
                                              enum weft__switch_reason why) {
  return switch_out(w, t, why, false);
}

/* weft__worker_switch_begin for @t's end, offering its stack (switch_out). */
static struct weft__fiber *end_begin(struct weft__worker *w, struct weft_task *t) {
  return switch_out(w, t, WEFT__SWITCH_DONE, true);
}

/* Runs @t from the scheduler's stack until it (or a task it switched to
 * directly) switches back to the scheduler. */
static void run_task(struct weft__worker *w, struct weft_task *t) {
  if (!prepare_task(w, t)) return;
  for (;;) {
    weft__fiber_switch(&w->sched, &slice_begin(w, t)->fiber);
    /* Who switched to us (not necessarily t: direct switches, inline
     * children) is w->prev. */
    struct weft_task *p = w->prev;
    w->prev = NULL;
    if (w->switch_reason != WEFT__SWITCH_EAGER) {
      finish_switch(w, p, w->switch_reason);
      return;
    }
    /* An eager spawn (asyncio's eager_start): the child runs now, up to
     * its first suspension or its end, and the spawner, still SCHEDULED to
     * its wakers, goes on right after, before anything queued: so the
     * child switches out to here, not to the next task. */
    struct weft_task *child = w->eager;
    w->eager = NULL;
    w->no_direct++;
    run_task(w, child);
    w->no_direct--;
    t = p;
  }
}

static void run_one(struct weft__worker *w, struct weft__runnable *r) {
  if (weft__runnable_kind(r) == WEFT__R_TASK) {
    run_task(w, weft__task_of_runnable(r));
  } else if (weft__runnable_kind(r) == WEFT__R_TASK_START) {
    struct weft_task *t = weft__container_of(r, struct weft_task, r_start);
    if (claim_start(w, t)) run_task(w, t);
  } else if (weft__runnable_kind(r) == WEFT__R_CALL) {
    struct weft__call *c = weft__container_of(r, struct weft__call, r);
    c->fn(c); /* weft's own bookkeeping: short, no user code */
  } else {
    weft__count(&w->ctr.handles_run, 1);
    weft__count(&w->ctr.polled, 1);
    /* relaxed: a hint for the stall detector, as current. */
    atomic_store_explicit(&w->in_callback, true, memory_order_relaxed);
    weft__handle_run(weft__container_of(r, struct weft_handle, r));
    atomic_store_explicit(&w->in_callback, false, memory_order_relaxed);
  }
}

/* Runs @r, then what the batch (or a hand-off) has next, until take_next
 * says the batch is over. Tasks go from one to the next directly; this
 * loop runs what they left to the scheduler (w->pending). */
static void run_items(struct weft__worker *w, struct weft__runnable *r) {
  while (r) {
    run_one(w, r);
    r = w->pending;
    w->pending = NULL;
    if (!r) r = take_next(w);
  }
}

static void take_remote(struct weft__worker *w);

void weft__worker_take_stop(struct weft__worker *w) {
  if ((w->divert & WEFT__DIVERT_STOP) || exact_stop(w->loop)) return;
  /* A standby takes the stop as any worker: the timers due now fire into
   * its own final list (the run ends; nobody else would run them now). */
  uint8_t standby = w->divert & WEFT__DIVERT_STANDBY;
  w->divert &= (uint8_t)~WEFT__DIVERT_STANDBY;
  take_remote(w);
  if (weft__timers_next(&w->timers) != UINT64_MAX) weft__timers_run(&w->timers, weft__clock_ns());
  struct weft__runnable *r;
  while ((r = next_local(w))) weft__rlist_push(&w->final, r);
  w->divert |= (uint8_t)(WEFT__DIVERT_STOP | standby);
}

/* Runs what was ready when this worker took the stop. */
static void run_final(struct weft__worker *w) {
  struct weft__runnable *r;
  while ((r = weft__rlist_pop(&w->final))) {
    w->handoff_streak = 0;
    run_items(w, r); /* batch_left is 0: only its hand-offs follow */
  }
}

static void run_batch(struct weft__worker *w) {
  w->batch_left = w->loop->fifo ? fifo_batch(w) : TICK_BUDGET;
  run_items(w, take_next(w));
  w->batch_left = 0;
}

/* The next run starts with what was scheduled here after the last stop. */
static void requeue_deferred(struct weft__worker *w) {
  struct weft__runnable *r;
  w->divert &= (uint8_t)~WEFT__DIVERT_STOP;
  while ((r = weft__rlist_pop(&w->deferred))) push_local(w, r, false);
}

/* ---- finding work -------------------------------------------------------- */

/* Takes work from the global injection queue into our own queue. One
 * worker takes everything (asyncio's order); with several, a fair share,
 * at most half a ring. */
static void take_injected(struct weft__worker *w) {
  struct weft_loop *loop = w->loop;
  struct weft__runnable **batch = w->batch; /* push_local uses w->spill, not this */
  size_t n, max = WEFT__RUNQ_CAP / 2;
  if (loop->solo) {
    do {
      n = weft__inject_pop_batch(&loop->inject, batch, max);
      for (size_t i = 0; i < n; i++) push_local(w, batch[i], false);
    } while (n == max);
    return;
  }
  size_t len = atomic_load_explicit(&loop->inject.len, memory_order_relaxed);
  if (len / loop->nworkers + 1 < max) max = len / loop->nworkers + 1;
  /* No more than our ring has room for: what would not fit would spill
   * straight back (half the ring with it), and a busy worker's pass moved
   * half a ring out and in again each time (spawn_many's spawner, whose
   * own spills these are). The rest waits for a worker with room. Only
   * this worker adds to its ring and thieves only make room, so the batch
   * fits whole. */
  size_t room = WEFT__RUNQ_CAP - weft__runq_len(&w->runq);
  if (room < max) max = room;
  n = weft__inject_pop_batch(&loop->inject, batch, max);
  /* push_local's steps for the whole batch, with one publication of the
   * ring's tail (a fenced store) instead of one each: a fence per item
   * made every item's first read, a line another worker wrote (the
   * spawner's, for a spilled start), a miss that waited for the one
   * before (spawn_many with two workers: 16% of the time here). The
   * kinds are read first, in a loop with no fence, so the misses overlap. */
  bool resumed = false;
  for (size_t i = 0; i < n; i++) resumed |= weft__runnable_kind(batch[i]) == WEFT__R_TASK;
  if (resumed) w->resumed = true;
  size_t in = weft__runq_push_batch(&w->runq, batch, n);
  WEFT__INVARIANT(in == n);
  (void)in;
  if (!weft__inject_maybe_empty(&loop->inject)) notify_one(loop);
}

static void take_remote(struct weft__worker *w) {
  struct weft__runnable *batch[WEFT__RUNQ_CAP / 2];
  size_t n;
  while (!weft__inject_maybe_empty(&w->inbox) &&
         (n = weft__inject_pop_batch(&w->inbox, batch, WEFT__RUNQ_CAP / 2)))
    for (size_t i = 0; i < n; i++) weft__rlist_push(&w->pinned, batch[i]);
  if (!(w->divert & WEFT__DIVERT_STANDBY) && !weft__inject_maybe_empty(&w->loop->inject))
    take_injected(w);
}

static unsigned gcd(unsigned a, unsigned b) {
  while (b) {
    unsigned t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* Justification (the Zen 3 VM, benchmarks/RESULTS.md 2026-12-07): a
 * victim's short ring is what its running task woke in a burst (a Queue's
 * get wakes one putter per item while putters wait: up to 4 at once in
 * queue_mpmc), which it gets to within a few microseconds (a slice of
 * queue_mpmc is ~1-2 us). Watching rings of up to 4 helped little (the
 * bursts plus what was queued before). The watch is also how long work
 * behind a long slice waits for a thief (wake_then_hold): 10 us added
 * 10-60 us to its median, 3 us adds ~3 us and keeps queue_mpmc's gain
 * (2 and 5 us did about as well; Go's runqsteal waits 3 us too). Longer
 * rings are shared at once, as before. */
#define STEAL_WATCH_MAX 8u
#define STEAL_WATCH_NS 3000u
/* Pauses between two looks at the victim (~27 ns a pause on the Zen 3
 * VM): each look pulls the line the victim writes as a slice begins. */
#define STEAL_WATCH_PAUSES 32
/* How long a thief that left work to a running victim sleeps at most
 * before it looks again: the bound on that work's wait if the victim
 * then runs a long slice. Go's sysmon takes 10 ms to preempt such a
 * slice; 0.5 ms costs the thief a wake-up and two watches (<= 6 us) per
 * 0.5 ms while a victim keeps work in its ring, ~1% of a CPU. */
#define STEAL_RELOOK_NS 500000u

/* Steals half of @v's ring into ours (empty); true if it got any, the
 * runnable to run first then placed in our queue. */
static bool steal_from(struct weft__worker *w, struct weft__worker *v) {
  struct weft__runnable *r = weft__runq_steal(&w->runq, &v->runq);
  if (!r) return false;
  weft__count(&w->ctr.steals, 1);
  weft__count(&w->ctr.stolen, 1 + weft__runq_len(&w->runq));
  push_local(w, r, false);
  return true;
}

bool (*weft__steal_watch_hook)(void);

/* Watches @v, which runs a task with a short ring (the head comment's
 * "Stealing"), for up to STEAL_WATCH_NS: true if it began another slice
 * meanwhile, false if it stayed in the same one (a long slice: steal).
 * Its slice count is the sign, not its ring's head: a victim running
 * LIFO-slot tasks takes nothing from its ring but is moving on all the
 * same (watching the head left queue_mpmc's median 1.3x as slow). The
 * looks are relaxed: a heuristic; the steal that may follow reads the
 * ring in the idle protocol's order. A test may decide instead
 * (weft__steal_watch_hook, worker.h). */
static bool victim_moves_on(struct weft__worker *v) {
  if (__builtin_expect(weft__steal_watch_hook != NULL, 0) && weft__steal_watch_hook()) return true;
  uint64_t polled = atomic_load_explicit(&v->ctr.polled, memory_order_relaxed);
  uint64_t until = weft__clock_ns() + STEAL_WATCH_NS;
  for (;;) {
    for (int i = 0; i < STEAL_WATCH_PAUSES; i++) weft__cpu_relax();
    if (atomic_load_explicit(&v->ctr.polled, memory_order_relaxed) != polled) return true;
    if (weft__clock_ns() >= until) return false;
  }
}

/* Steals into our (empty) ring; true if it got work, the runnable to run
 * first already placed in our queue. Victims are visited from a random
 * start; the first whose ring is long, or who is between tasks, is stolen
 * from at once. Failing that, the first running victim with a short ring
 * is watched (victim_moves_on) and stolen from only if it stands still;
 * a victim left with work in its ring sets w->left_work (park_worker). */
static bool steal_some(struct weft__worker *w) {
  struct weft_loop *loop = w->loop;
  unsigned n = loop->nworkers, start = next_rand(w) % n, stride = 1;
  if (SHUFFLE && n > 2) { /* a stride coprime with n still visits everyone */
    stride = 1 + next_rand(w) % (n - 1);
    if (gcd(stride, n) != 1) stride = 1;
  }
  struct weft__worker *watch = NULL;
  for (unsigned i = 0; i < n; i++) {
    unsigned v = (start + i * stride) % n;
    if (v == w->index) continue;
    struct weft__worker *vw = &loop->workers[v];
    /* seq_cst: the re-check before a park reads the rings here, in the
     * idle protocol's total order (idle.c, rule 4), as the steal's own
     * loads (runq.c) are. */
    uint32_t len = weft__runq_len_sc(&vw->runq);
    if (!len) continue;
    if (len <= STEAL_WATCH_MAX && weft__worker_busy(vw)) {
      if (!watch) watch = vw;
      continue;
    }
    if (steal_from(w, vw)) return true;
  }
  if (!watch) return false;
  if (!victim_moves_on(watch)) return steal_from(w, watch);
  /* Left to the victim: what it still has (it may have emptied its ring
   * meanwhile: then nothing is left to look at again). */
  if (weft__runq_len(&watch->runq)) w->left_work = true;
  return false;
}

/* Called by the last searcher once it stopped (after its seq_cst RMW of
 * the idle state): is work queued that another worker could take? The
 * injection queue, another worker's ring, or more than the one runnable
 * in our own ring that we are about to run. The loads are seq_cst: a push
 * that skipped its notify because we were searching (idle.c, rule 2) is
 * either seen here or saw us stop, and then notified itself (idle.c's
 * argument with us as the parker: RMW, then read the queues). Workers'
 * LIFO slots, urgent lists and inboxes are not others' to take. */
static bool work_for_others(struct weft__worker *w) {
  struct weft_loop *loop = w->loop;
  if (!weft__inject_empty_sc(&loop->inject)) return true;
  for (unsigned i = 0; i < loop->nworkers; i++)
    if (weft__runq_len_sc(&loop->workers[i].runq) > (i == w->index ? 1u : 0u)) return true;
  return false;
}

/* Rule 3 of idle.c: the last searcher to find work wakes another, if
 * there is work left for it. Without that check it woke one every time:
 * a task awaiting an executor call, with two workers, had its worker find
 * the completion by spinning (spin_for_call, counted as searching) and
 * then wake the parked other worker for nothing on every call, ~20-40 us
 * of a sleeping vCPU's wake-up (executor_roundtrip, benchmarks/RESULTS.md,
 * issue 13). */
static void end_search(struct weft__worker *w) {
  if (!w->searching) return;
  w->searching = false;
  if (weft__idle_transition_from_searching(&w->loop->idle) && work_for_others(w))
    notify_one(w->loop);
}

static bool remote_work_visible(struct weft__worker *w) {
  struct weft_loop *loop = w->loop;
  return !weft__inject_empty_sc(&w->inbox) ||
         (!(w->divert & WEFT__DIVERT_STANDBY) && !weft__inject_empty_sc(&loop->inject)) ||
         atomic_load_explicit(&loop->stopping, memory_order_seq_cst);
}

/* Justification: on the development VM a parked worker's wake-up costs
 * 20-40 us (a sleeping vCPU's wake-up, the host's scheduling); a blocking
 * call that came back sooner than that on average is worth waiting for
 * awake. Measured: executor_roundtrip, one worker (benchmarks/RESULTS.md). */
#define EXEC_SPIN_NS 50000u

/* A worker with nothing to do, while a blocking call of this loop is in
 * flight on an executor and such calls have lately come back within the
 * spin budget, waits for it awake, up to that budget, instead of parking
 * (Go's spinning M, for the one kind of work we know is coming). One
 * worker at a time; it yields the CPU every 64 pauses (the pool thread
 * finishing the call may share it). Returns true if work arrived.
 *
 * It spins as a searcher where idle.c's rule 1 lets it (it steals every
 * 64 pauses too), as Go's spinning M counts as spinning: the completion's
 * push then wakes nobody (rule 2), and finding it ends the search by
 * end_search's rule. Spinning outside the count, it let every completion
 * wake the other, parked worker (~4 context switches a call with two
 * workers, 13-45 us a round trip against 3-5; benchmarks/RESULTS.md). */
static bool spin_for_call(struct weft__worker *w) {
  struct weft_loop *loop = w->loop;
  /* relaxed: hints; the queues are read with their own orderings. */
  if (!atomic_load_explicit(&loop->exec_inflight, memory_order_relaxed)) return false;
  uint64_t avg = atomic_load_explicit(&loop->exec_avg_ns, memory_order_relaxed);
  if (avg == 0 || avg > EXEC_SPIN_NS) return false;
  bool expected = false;
  if (!atomic_compare_exchange_strong_explicit(&loop->exec_spinner, &expected, true,
                                               memory_order_relaxed, memory_order_relaxed))
    return false;
  if (!w->searching && !loop->solo) w->searching = weft__idle_transition_to_searching(&loop->idle);
  uint64_t until = weft__clock_ns() + EXEC_SPIN_NS;
  bool found = false;
  for (unsigned i = 1;; i++) {
    if (remote_work_visible(w) || (i % 64 == 0 && w->searching && steal_some(w))) {
      found = true;
      break;
    }
    /* acquire: pairs with call_done's release (the wake-up is queued). */
    if (!atomic_load_explicit(&loop->exec_inflight, memory_order_acquire)) {
      found = remote_work_visible(w);
      break;
    }
    weft__cpu_relax();
    if (i % 64 == 0) {
      if (weft__clock_ns() >= until) break;
      sched_yield();
    }
  }
  atomic_store_explicit(&loop->exec_spinner, false, memory_order_relaxed);
  return found;
}

static void park_worker(struct weft__worker *w) {
  struct weft_loop *loop = w->loop;
  uint64_t next = weft__timers_next(&w->timers), now = weft__clock_ns();
  if (next <= now) return; /* timers are due */
  bool standby = w->divert & WEFT__DIVERT_STANDBY;
  if (!standby && spin_for_call(w)) return;
  /* Idle: a good time to give memory back, unless a timer is close. One
   * batch at a time: with more left, look for work again (the caller's
   * loop) before the next batch instead of parking, so a burst's stacks go
   * back soon after it and work arriving meanwhile waits one batch at most. */
  uint64_t trim_at = 0, drop_at = 0; /* the decay epoch's end, if stacks wait for it (stack.h) */
  if (next - now > 1000000) {
    if (weft__stack_arena_trim_idle(&loop->stack_arena, now, &trim_at)) return;
    /* Then the pages below long-suspended tasks' stack pointers
     * (stackdrop.h), a piece at a time, the same way. */
    if (weft__stackdrop_idle(w, now, &drop_at)) return;
  }
  if (trim_at && trim_at < next) next = trim_at;
  if (drop_at && drop_at < next) next = drop_at;
  w->left_work = false; /* set again by the re-check's steal_some below */
  bool was_searching = w->searching;
  w->searching = false;
  bool last = standby ? weft__idle_standby_park(&loop->idle, w->index, was_searching)
                      : weft__idle_transition_to_parked(&loop->idle, w->index, was_searching);
  if (last && standby) notify_one(loop); /* a serving worker searches in its place */
  /* Re-check after announcing (idle.c, rule 4): queues others may hand us
   * work through, then other workers' rings; and our role, which a change
   * made before we announced would not wake us for (adapt.c). */
  if (remote_work_visible(w) || standby != is_standby(w) ||
      (!loop->solo && !standby && steal_some(w))) {
    w->searching = weft__idle_transition_from_parked(&loop->idle, w->index);
    return;
  }
  /* Work left to a running victim by this search or the re-check: look
   * again within STEAL_RELOOK_NS (the head comment's "Stealing"). */
  if (w->left_work && next > now + STEAL_RELOOK_NS) next = now + STEAL_RELOOK_NS;
  weft__count(&w->ctr.parks, 1);
  uint64_t t0 = weft__worker_times_begin(&w->ctr); /* the sleep counts as idle from here */
  atomic_store_explicit(&w->ctr.park_start_ns, t0, memory_order_relaxed);
  weft__worker_times_end(&w->ctr);
  weft__monitor_worker_parks(loop);
  weft__park_wait(&w->park, next == UINT64_MAX ? 0 : next);
  weft__monitor_worker_wakes(loop);
  uint64_t t1 = weft__worker_times_begin(&w->ctr);
  weft__count(&w->ctr.idle_ns, t1 > t0 ? t1 - t0 : 0);
  atomic_store_explicit(&w->ctr.park_start_ns, 0, memory_order_relaxed);
  weft__worker_times_end(&w->ctr);
  w->searching = weft__idle_transition_from_parked(&loop->idle, w->index);
}

/* The thread's own stack bounds, for walking a worker's stack while it is
 * in the scheduler (debug.c). */
static void record_thread_stack(struct weft__worker *w) {
  pthread_attr_t a;
  void *lo;
  size_t size;
  uintptr_t self = (uintptr_t)pthread_self();
  /* relaxed: read by the dump's signal sender; any value it sees names a
   * thread that ran this worker, and the capture checks who answers. */
  if (atomic_load_explicit(&w->thread_id, memory_order_relaxed) == self && w->tstack_hi) return;
  atomic_store_explicit(&w->thread_id, self, memory_order_relaxed);
  w->tstack_lo = w->tstack_hi = 0;
  if (pthread_getattr_np(pthread_self(), &a) != 0) return;
  if (pthread_attr_getstack(&a, &lo, &size) == 0) {
    w->tstack_lo = (uintptr_t)lo;
    w->tstack_hi = (uintptr_t)lo + size;
  }
  pthread_attr_destroy(&a);
}

static void find_work(struct weft__worker *w) {
  struct weft_loop *loop = w->loop;
  if (__builtin_expect(w->divert & WEFT__DIVERT_STANDBY, 0)) { /* its inbox only: no stealing */
    if (weft__inject_maybe_empty(&w->inbox)) park_worker(w);
    return;
  }
  if (!loop->solo && !remote_work_maybe(w)) {
    if (w->searching || weft__idle_transition_to_searching(&loop->idle)) {
      w->searching = true;
      if (steal_some(w)) return;
    }
  }
  if (!remote_work_maybe(w)) park_worker(w);
}

/* A standby's hand-over: what is queued here and not pinned goes to the
 * injection queue, in order, and a serving worker is woken to take it. */
static void hand_over(struct weft__worker *w) {
  struct weft_loop *loop = w->loop;
  size_t n = 0, max = sizeof w->batch / sizeof w->batch[0];
  struct weft__runnable *r = lifo_get(w);
  lifo_set(w, NULL);
  for (;;) {
    if (!r && weft__rlist_len(&w->urgent)) r = weft__rlist_pop(&w->urgent);
    if (!r) r = weft__runq_pop(&w->runq);
    if (!r) r = weft__rlist_pop(&w->held);
    if (r) w->batch[n++] = r;
    if (n == max || (!r && n)) {
      weft__inject_push_array(&loop->inject, w->batch, n);
      n = 0;
    }
    if (!r) break;
    r = NULL;
  }
  notify_one(loop);
}

/* The loop's serving count moved past this worker (adapt.h): it becomes a
 * standby (stops searching, hands over its queue, from now on diverts
 * what it wakes) or serves again (searches like any woken worker). */
static void change_role(struct weft__worker *w) {
  if (w->divert & WEFT__DIVERT_STANDBY) {
    w->divert &= (uint8_t)~WEFT__DIVERT_STANDBY;
    return;
  }
  w->divert |= WEFT__DIVERT_STANDBY;
  end_search(w);
  hand_over(w);
  weft__reactor_release_standing(&w->reactor);
}

/* The loop's serving count is no longer the one this worker acted on: its
 * role changed, or workers came back to serve beside it, who should take
 * a share of its streams (the comment at the top). */
static void serving_changed(struct weft__worker *w, unsigned n) {
  unsigned was = w->seen_serving;
  w->seen_serving = n;
  bool standby = w->index >= n;
  if (standby != !!(w->divert & WEFT__DIVERT_STANDBY)) {
    change_role(w);
    return;
  }
  if (!standby && was && n > was) weft__reactor_release_standing(&w->reactor);
}

/* Once per pass, with several workers: timer wake-ups beyond
 * URGENT_SHARED while another worker is idle go to the injection queue,
 * oldest first, and a worker is woken to take them (URGENT_MAX's
 * comment). A relaxed look at the idle state decides, as for a requeue's
 * push (runq.h): a worker that parks just after it is seen busy is looked
 * for again at the next pass. */
static void share_urgent(struct weft__worker *w) {
  struct weft_loop *loop = w->loop;
  if (__builtin_expect(weft__rlist_len(&w->urgent) <= URGENT_SHARED, 1) || loop->solo ||
      !weft__idle_may_notify(&loop->idle))
    return;
  while (weft__rlist_len(&w->urgent) > URGENT_SHARED) {
    size_t n = 0, max = sizeof w->batch / sizeof w->batch[0];
    while (n < max && weft__rlist_len(&w->urgent) > URGENT_SHARED)
      w->batch[n++] = weft__rlist_pop(&w->urgent);
    weft__inject_push_array(&loop->inject, w->batch, n);
  }
  notify_one(loop);
}

void weft__worker_main(struct weft__worker *w) {
  struct weft_loop *loop = w->loop;
  weft__tls_worker = w;
  weft__fiber_init_thread(&w->sched, loop->task_fp_env);
  w->searching = false;
  record_thread_stack(w);
  uint64_t run_start = weft__worker_times_begin(&w->ctr),
           idle0 = atomic_load_explicit(&w->ctr.idle_ns, memory_order_relaxed);
  atomic_store_explicit(&w->ctr.run_idle0_ns, idle0, memory_order_relaxed);
  atomic_store_explicit(&w->ctr.run_start_ns, run_start, memory_order_relaxed);
  weft__worker_times_end(&w->ctr);
  weft__monitor_worker_wakes(loop);
  acct_refresh(w);
  w->coarse_ms = weft__clock_coarse_ms();
  w->lifo_cheap_ticks = weft__lifo_cheap_ns ? weft__ticks_from_ns(weft__lifo_cheap_ns) : 0;
  /* syscall: glibc 2.30's gettid() wrapper is not in every libc we build on. */
  atomic_store_explicit(&w->tid, (int)syscall(SYS_gettid), memory_order_relaxed);
  w->divert &= (uint8_t)~WEFT__DIVERT_STANDBY; /* change_role looks afresh, deferred work included */
  w->seen_serving = 0;                          /* ... at the first pass; a run's start moves nothing */
  requeue_deferred(w);
  if (w->sections) weft__owner_run_begins(w->sections, w->coarse_ms); /* owner.h */
  for (;;) {
    /* Submit what the last batch queued and collect what completed, before
     * deciding to park: an operation that completes at once (a NOP, a
     * cached read, data already there) then wakes its task without a trip
     * through the idle protocol. */
    weft__reactor_poll(&w->reactor);
    /* relaxed: a worker looks at every pass, and a change wakes the
     * workers whose role it changes (adapt.c); one that serves on sees a
     * grow at its next pass. */
    unsigned nserving = atomic_load_explicit(&loop->nserving, memory_order_relaxed);
    if (__builtin_expect(nserving != w->seen_serving, 0)) serving_changed(w, nserving);
    if (!atomic_load_explicit(&loop->stopping, memory_order_acquire) && !has_local_work(w))
      find_work(w);
    /* Remote work first: it was ready before the timers that fall due now,
     * as in asyncio, whose _ready holds it when _run_once appends them. */
    take_remote(w);
    if (weft__timers_next(&w->timers) != UINT64_MAX)
      weft__count(&w->ctr.timers_fired, weft__timers_run(&w->timers, weft__clock_ns()));
    share_urgent(w);
    if (has_local_work(w)) end_search(w);
    pass_begins(w);
    run_batch(w);
    if (atomic_load_explicit(&loop->stopping, memory_order_acquire)) {
      weft__worker_take_stop(w);
      run_final(w);
      /* What the last pass queued for the kernel (a stream's queued
       * sends) goes in now, not at the next run: its completions wait
       * for that run, or for close. */
      weft__reactor_submit(&w->reactor);
      break;
    }
  }
  end_search(w);
  if (w->sections) weft__owner_run_ends(w->sections);
  weft__monitor_worker_parks(loop);
  uint64_t end = weft__worker_times_begin(&w->ctr);
  uint64_t idle = atomic_load_explicit(&w->ctr.idle_ns, memory_order_relaxed) - idle0;
  uint64_t len = end > run_start ? end - run_start : 0;
  weft__count(&w->ctr.busy_ns, len > idle ? len - idle : 0);
  atomic_store_explicit(&w->ctr.run_start_ns, 0, memory_order_relaxed);
  weft__worker_times_end(&w->ctr);
  weft__tls_worker = NULL;
}
