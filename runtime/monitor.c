/*
 * monitor.c - the stall detector and the dump signal (monitor.h).
 *
 * Stall detection costs the workers nothing new: each already counts the
 * slices it starts (ctr.polled) and publishes the task on it (current). The
 * monitor samples both a few times per threshold (Go's sysmon does the same
 * with schedtick): a worker whose count has not moved since a sample at
 * least a threshold ago, with a task or a callback on it, is stalled. The
 * report is made once per stall, while it lasts, with the live stack
 * captured on that worker (backtrace.h). A backlog is the same idea on a
 * worker's run queue: everything that was queued at one sample still not
 * taken a threshold later.
 *
 * Sleeping: the thread waits on a futex word (`*word`). It samples only
 * while some worker is busy (active > 0); otherwise it announces `deep`
 * and sleeps until a worker that becomes busy sees `deep` and wakes it.
 * No lost wake-up: the worker does (a) active += 1, (b) read deep; the
 * monitor (c) deep = true, (d) read active; all seq_cst, so either (b)
 * sees (c) or (d) sees (a).
 *
 * The monitor also keeps loop->now_ms (the coarse clock, in ms) while it
 * samples, which the workers stamp tasks with as they stop running
 * (since_ms, the dump's "for how long"): one shared load per worker pass
 * instead of a clock read. While it sleeps it stores 0 and the workers
 * read the clock.
 *
 * The dump signal: the handler may only do async-signal-safe things, so it
 * sets a flag and wakes the word, both in a static slot that outlives
 * every loop (a handler racing with a close never touches freed memory);
 * a monitor with a dump signal sleeps on its slot's word. The monitor
 * thread writes the dump.
 */
#include "monitor.h"
#include "weft.h"
#include "adapt.h"
#include "alloc.h"
#include "backtrace.h"
#include "clock.h"
#include "futex.h"
#include "loop.h"
#include "mutex.h"
#include "symbolize.h"
#include "task.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Justification: asyncio's slow_callback_duration is 0.1 s. */
#define DEFAULT_STALL_MS 100
/* Sampling period: a quarter of the threshold (the report comes at most a
 * quarter late), within [1 ms, 250 ms]. */
#define MIN_PERIOD_NS 1000000LL
#define MAX_PERIOD_NS 250000000LL
/* How long the monitor waits for a worker to answer the capture signal. */
#define CAPTURE_TIMEOUT_NS 100000000LL
/* Rate limit: a burst of 10 reports, then one per second. */
#define BURST 10
#define REFILL_NS 1000000000ULL

struct sample {
  uint64_t polled;     /* the worker's slice count at first_ns */
  uint64_t first_ns;
  bool reported;
  uint32_t mark;       /* its ring's tail when mark_ns was taken */
  uint64_t mark_ns;
  bool backlog_reported;
};

struct weft__monitor {
  struct weft_loop *loop;
  _Atomic uint32_t own_word;
  _Atomic uint32_t *word;      /* own_word, or the dump signal's slot word */
  _Atomic int active;          /* workers busy (in a run, not parked) */
  _Atomic bool deep;           /* asleep until a worker becomes busy */
  _Atomic bool exit;
  _Atomic int64_t stall_ns;
  _Atomic uint64_t stalls, backlogs;
  struct weft__mutex m;        /* fn, arg */
  weft_stall_handler fn;
  void *arg;
  bool started;                /* under m */
  bool stopped;                /* under m: the loop closed */
  pthread_t thread;
  int slot;                    /* dump signal slot, or -1 */
  bool dump_on_stall;          /* immutable */
  char *dump_path;
  struct sample *s;            /* monitor thread only */
  unsigned tokens;             /* monitor thread only */
  uint64_t refill_ns;
  uint64_t suppressed;
};

/* ---- the dump signal ---------------------------------------------------- */

/* Justification: a handful of loops with a dump signal at once is plenty. */
#define SLOTS 8
static struct {
  _Atomic int sig;             /* 0: free */
  _Atomic uint32_t word;       /* the monitor's futex word */
  _Atomic uint32_t pending;    /* a dump was asked for */
  struct sigaction old;        /* restored when the slot is given back */
} slots[SLOTS];
static struct weft__mutex slots_lock = WEFT__MUTEX_INIT;

static void on_dump_signal(int sig) {
  int saved = errno;
  for (int i = 0; i < SLOTS; i++)
    /* relaxed: the slot's sig is set before the handler is installed. */
    if (atomic_load_explicit(&slots[i].sig, memory_order_relaxed) == sig) {
      atomic_store_explicit(&slots[i].pending, 1, memory_order_release);
      atomic_fetch_add_explicit(&slots[i].word, 1, memory_order_release);
      weft__futex_wake(&slots[i].word, 1);
    }
  errno = saved;
}

static int take_slot(int sig) {
  if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP || sig == SIGURG) return -EINVAL;
  weft__mutex_lock(&slots_lock);
  int free_slot = -1, rc = 0;
  for (int i = 0; i < SLOTS; i++) {
    int s = atomic_load_explicit(&slots[i].sig, memory_order_relaxed);
    if (s == sig) rc = -EBUSY;
    if (!s && free_slot < 0) free_slot = i;
  }
  struct sigaction old;
  if (!rc && free_slot < 0) rc = -EBUSY;
  if (!rc && sigaction(sig, NULL, &old) != 0) rc = -EINVAL;
  if (!rc && ((old.sa_flags & SA_SIGINFO) || (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN)))
    rc = -EBUSY; /* the program's own */
  if (!rc) {
    slots[free_slot].old = old;
    atomic_store_explicit(&slots[free_slot].pending, 0, memory_order_relaxed);
    atomic_store_explicit(&slots[free_slot].sig, sig, memory_order_relaxed);
    struct sigaction sa = {0};
    sa.sa_handler = on_dump_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0) {
      atomic_store_explicit(&slots[free_slot].sig, 0, memory_order_relaxed);
      rc = -EINVAL;
    }
  }
  weft__mutex_unlock(&slots_lock);
  return rc ? rc : free_slot;
}

static void give_slot(int i) {
  weft__mutex_lock(&slots_lock);
  sigaction(atomic_load_explicit(&slots[i].sig, memory_order_relaxed), &slots[i].old, NULL);
  atomic_store_explicit(&slots[i].sig, 0, memory_order_relaxed);
  weft__mutex_unlock(&slots_lock);
}

/* ---- set-up ------------------------------------------------------------- */

static int64_t default_stall_ns(int cfg_ms) {
  if (cfg_ms >= 0) return (int64_t)cfg_ms * 1000000;
  const char *env = getenv("WEFT_STALL_MS");
  if (env && *env) {
    char *end;
    long v = strtol(env, &end, 10);
    if (*end == '\0' && v >= 0 && v <= 3600L * 1000) return (int64_t)v * 1000000;
  }
  return (int64_t)DEFAULT_STALL_MS * 1000000;
}

int weft__monitor_init(struct weft_loop *loop, const struct weft_loop_config *cfg) {
  if (cfg->stall_ms < -1) return -EINVAL;
  struct weft__monitor *mon = weft__calloc(sizeof *mon);
  if (!mon) return -ENOMEM;
  mon->s = weft__calloc(loop->nworkers * sizeof *mon->s);
  if (!mon->s || (cfg->dump_path && !(mon->dump_path = weft__strdup(cfg->dump_path)))) {
    weft__free(mon->s, loop->nworkers * sizeof *mon->s);
    weft__free(mon, sizeof *mon);
    return -ENOMEM;
  }
  mon->loop = loop;
  mon->slot = -1;
  mon->dump_on_stall = cfg->dump_on_stall != 0;
  mon->word = &mon->own_word;
  if (cfg->dump_signal) {
    int slot = take_slot(cfg->dump_signal);
    if (slot < 0) {
      weft__strfree(mon->dump_path);
      weft__free(mon->s, loop->nworkers * sizeof *mon->s);
      weft__free(mon, sizeof *mon);
      return slot;
    }
    mon->slot = slot;
    mon->word = &slots[slot].word;
  }
  atomic_init(&mon->stall_ns, default_stall_ns(cfg->stall_ms));
  weft__mutex_init(&mon->m);
  mon->tokens = BURST;
  loop->mon = mon;
  return 0;
}

static void bump(struct weft__monitor *mon) {
  /* seq_cst: the Dekker pair in the design comment. */
  atomic_fetch_add(mon->word, 1);
  weft__futex_wake(mon->word, 1);
}

void weft__monitor_worker_wakes(struct weft_loop *loop) {
  struct weft__monitor *mon = loop->mon;
  /* seq_cst, both: (a) and (b) of the design comment. */
  if (atomic_fetch_add(&mon->active, 1) == 0 && atomic_load(&mon->deep)) bump(mon);
}

void weft__monitor_worker_parks(struct weft_loop *loop) {
  atomic_fetch_sub(&loop->mon->active, 1); /* seq_cst: as above */
}

void weft__monitor_counts(struct weft_loop *loop, uint64_t *stalls, uint64_t *backlogs) {
  *stalls = atomic_load_explicit(&loop->mon->stalls, memory_order_relaxed);
  *backlogs = atomic_load_explicit(&loop->mon->backlogs, memory_order_relaxed);
}

/* ---- reports ------------------------------------------------------------ */

static void default_handler(weft_loop_t *loop, const struct weft_stall_report *r, void *arg) {
  (void)loop;
  (void)arg;
  char buf[8192];
  size_t n = 0;
#define PUT(...) \
  n += (size_t)snprintf(buf + n, n < sizeof buf ? sizeof buf - n : 0, __VA_ARGS__)
  if (r->kind == WEFT_STALL_TASK)
    PUT("weft: stall: task %llu \"%s\" has held worker %u for %.1f ms\n",
        (unsigned long long)r->task_id, r->task_name, r->worker, (double)r->duration_ns / 1e6);
  else
    PUT("weft: backlog: %llu ready tasks have waited %.1f ms on worker %u (running task %llu "
        "\"%s\")\n",
        (unsigned long long)r->queued, (double)r->duration_ns / 1e6, r->worker,
        (unsigned long long)r->task_id, r->task_name);
  if (r->suppressed) PUT("  (%llu earlier reports suppressed)\n", (unsigned long long)r->suppressed);
  for (size_t i = 0; i < r->nframes && n < sizeof buf; i++) {
    char name[256];
    weft__symbolize(r->frames[i], i > 0, name, sizeof name);
    PUT("  #%zu %s\n", i, name);
  }
#undef PUT
  if (n > sizeof buf - 1) n = sizeof buf - 1;
  for (size_t off = 0; off < n;) {
    ssize_t k = write(2, buf + off, n - off);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    off += (size_t)k;
  }
}

static void dump_now(struct weft__monitor *mon);

/* Captures worker @i and reports, unless what was seen is over. */
static void report(struct weft__monitor *mon, unsigned i, int kind, uint64_t duration,
                   uint64_t queued, uint64_t now) {
  struct weft_loop *loop = mon->loop;
  struct weft__worker *w = &loop->workers[i];
  struct weft__bt_capture *cap = weft__alloc(sizeof *cap);
  if (!cap) return;
  int rc = weft__bt_worker(w, cap, CAPTURE_TIMEOUT_NS);
  if (kind == WEFT_STALL_TASK && rc == 0 && cap->polled != mon->s[i].polled) {
    /* It moved on between the sample and the capture: no stall any more. */
    if (cap->task) weft_task_release(cap->task);
    weft__free(cap, sizeof *cap);
    mon->s[i].reported = false;
    return;
  }
  atomic_fetch_add_explicit(kind == WEFT_STALL_TASK ? &mon->stalls : &mon->backlogs, 1,
                            memory_order_relaxed); /* relaxed: a statistic */
  if (now - mon->refill_ns >= REFILL_NS) {
    uint64_t add = (now - mon->refill_ns) / REFILL_NS;
    mon->tokens = mon->tokens + add > BURST ? BURST : mon->tokens + (unsigned)add;
    mon->refill_ns = now;
  }
  if (mon->tokens == 0) {
    mon->suppressed++;
  } else {
    mon->tokens--;
    struct weft_stall_report r = {.kind = kind, .worker = i, .duration_ns = duration,
                                  .queued = queued, .suppressed = mon->suppressed};
    if (cap->task) {
      r.task_id = cap->task->id;
      weft__task_copy_name(cap->task, r.task_name, sizeof r.task_name);
    }
    r.frames = cap->frames;
    r.nframes = rc == 0 ? weft__frames_valid(cap->frames, cap->n) : 0;
    mon->suppressed = 0;
    weft__mutex_lock(&mon->m);
    weft_stall_handler fn = mon->fn ? mon->fn : default_handler;
    void *arg = mon->arg;
    weft__mutex_unlock(&mon->m);
    fn(loop, &r, arg);
    if (mon->dump_on_stall) dump_now(mon);
  }
  if (cap->task) weft_task_release(cap->task);
  weft__free(cap, sizeof *cap);
}

static void sample(struct weft__monitor *mon, uint64_t stall) {
  struct weft_loop *loop = mon->loop;
  uint64_t now = weft__clock_ns();
  for (unsigned i = 0; i < loop->nworkers; i++) {
    struct weft__worker *w = &loop->workers[i];
    struct sample *s = &mon->s[i];
    /* relaxed: samples; a capture confirms before anything is reported. */
    uint64_t polled = atomic_load_explicit(&w->ctr.polled, memory_order_relaxed);
    bool busy = weft__worker_busy(w);
    if (polled != s->polled || !busy) {
      s->polled = polled;
      s->first_ns = now;
      s->reported = false;
    } else if (!s->reported && now - s->first_ns >= stall) {
      s->reported = true;
      report(mon, i, WEFT_STALL_TASK, now - s->first_ns, weft__worker_queued(w), now);
    }
    uint32_t head = atomic_load_explicit(&w->runq.head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(&w->runq.tail, memory_order_relaxed);
    if ((int32_t)(head - s->mark) >= 0) { /* everything queued at the mark was taken */
      s->mark = tail;
      s->mark_ns = now;
      s->backlog_reported = false;
    } else if (!s->backlog_reported && !s->reported && now - s->mark_ns >= stall) {
      s->backlog_reported = true;
      report(mon, i, WEFT_STALL_BACKLOG, now - s->mark_ns, tail - head, now);
    }
  }
}

static void dump_now(struct weft__monitor *mon) {
  int fd = 2;
  if (mon->dump_path) {
    fd = open(mon->dump_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) fd = 2;
  }
  weft_loop_dump(mon->loop, fd, WEFT_DUMP_TEXT);
  if (fd != 2) close(fd);
}

static int start_locked(struct weft__monitor *mon);

/* Keeps loop->now_ms for the workers (never 0 while kept: 0 means "read
 * the clock yourself"). */
static void publish_now(struct weft_loop *loop) {
  atomic_store_explicit(&loop->now_ms, weft__clock_coarse_ms(), memory_order_relaxed);
}

static void *monitor_thread(void *arg) {
  struct weft__monitor *mon = arg;
  pthread_setname_np(pthread_self(), "weft-monitor");
  /* The loop's stop and close leave now_ms as it was: stale by up to the
   * period, which only ages the dump's timestamps by that much. */
  mon->refill_ns = weft__clock_ns();
  for (;;) {
    uint32_t seen = atomic_load(mon->word); /* seq_cst: before every check below */
    /* A dump asked for is written even when we are told to leave (close
     * joins us after it, so the dump is complete when close returns). */
    if (mon->slot >= 0 && atomic_exchange_explicit(&slots[mon->slot].pending, 0, memory_order_acquire)) {
      dump_now(mon);
      continue;
    }
    if (atomic_load(&mon->exit)) break;
    int64_t stall = atomic_load_explicit(&mon->stall_ns, memory_order_relaxed);
    bool adapt = mon->loop->adapt != NULL, sampling = stall > 0 || adapt;
    if (sampling && atomic_load(&mon->active) > 0) {
      publish_now(mon->loop);
      int64_t period = stall > 0 ? stall / 4 : MAX_PERIOD_NS;
      period = period < MIN_PERIOD_NS ? MIN_PERIOD_NS : period > MAX_PERIOD_NS ? MAX_PERIOD_NS : period;
      if (adapt && period > WEFT__ADAPT_PERIOD_NS) period = WEFT__ADAPT_PERIOD_NS;
      weft__futex_wait(mon->word, seen, weft__clock_ns() + (uint64_t)period);
      if (atomic_load(&mon->exit)) continue;
      if (stall > 0) sample(mon, (uint64_t)stall);
      if (adapt) weft__adapt_sample(mon->loop, weft__clock_ns());
      continue;
    }
    /* relaxed: workers read the clock themselves while nobody keeps it. */
    atomic_store_explicit(&mon->loop->now_ms, 0, memory_order_relaxed);
    atomic_store(&mon->deep, true); /* seq_cst: (c) */
    if (sampling && atomic_load(&mon->active) > 0) { /* (d) */
      atomic_store(&mon->deep, false);
      continue;
    }
    weft__futex_wait(mon->word, seen, 0);
    atomic_store(&mon->deep, false);
    /* Samples from before the sleep describe nothing now. */
    for (unsigned i = 0; i < mon->loop->nworkers; i++) mon->s[i].first_ns = weft__clock_ns();
  }
  return NULL;
}

int weft__monitor_start(struct weft_loop *loop) {
  struct weft__monitor *mon = loop->mon;
  weft__mutex_lock(&mon->m);
  int rc = start_locked(mon);
  weft__mutex_unlock(&mon->m);
  return rc;
}

static int start_locked(struct weft__monitor *mon) {
  if (mon->started || mon->stopped) return 0;
  if (atomic_load_explicit(&mon->stall_ns, memory_order_relaxed) == 0 && mon->slot < 0 &&
      !mon->loop->adapt)
    return 0;
  if (weft__alloc_thread_ready() != 0) return -ENOMEM;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* signals go to the program's threads */
  int rc = pthread_create(&mon->thread, NULL, monitor_thread, mon);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc) return -rc;
  mon->started = true;
  return 0;
}

void weft__monitor_stop(struct weft_loop *loop) {
  struct weft__monitor *mon = loop->mon;
  weft__mutex_lock(&mon->m);
  mon->stopped = true; /* start_locked refuses from now on */
  bool join = mon->started;
  weft__mutex_unlock(&mon->m);
  if (join) {
    atomic_store(&mon->exit, true);
    bump(mon);
    pthread_join(mon->thread, NULL);
  }
  if (mon->slot >= 0) {
    give_slot(mon->slot);
    mon->slot = -1;
    mon->word = &mon->own_word;
  }
}

void weft__monitor_free(struct weft_loop *loop) {
  struct weft__monitor *mon = loop->mon;
  if (!mon) return;
  weft__strfree(mon->dump_path);
  weft__free(mon->s, loop->nworkers * sizeof *mon->s);
  weft__free(mon, sizeof *mon);
  loop->mon = NULL;
}

/* ---- the API ------------------------------------------------------------ */

int weft_loop_set_stall_handler(weft_loop_t *loop, weft_stall_handler fn, void *arg) {
  if (!loop) return -EINVAL;
  if (atomic_load_explicit(&loop->closed, memory_order_acquire)) return WEFT_ECLOSED;
  weft__mutex_lock(&loop->mon->m);
  loop->mon->fn = fn;
  loop->mon->arg = arg;
  weft__mutex_unlock(&loop->mon->m);
  return 0;
}

int weft_loop_set_stall_threshold(weft_loop_t *loop, int64_t ns) {
  if (!loop || ns < 0) return -EINVAL;
  if (atomic_load_explicit(&loop->closed, memory_order_acquire)) return WEFT_ECLOSED;
  atomic_store_explicit(&loop->mon->stall_ns, ns, memory_order_relaxed);
  bump(loop->mon); /* a sleeping monitor looks at the new value */
  /* A running loop whose monitor had nothing to do at its start needs it now. */
  return atomic_load_explicit(&loop->running, memory_order_acquire) ? weft__monitor_start(loop) : 0;
}

int64_t weft_loop_get_stall_threshold(weft_loop_t *loop) {
  if (!loop) return -EINVAL;
  return atomic_load_explicit(&loop->mon->stall_ns, memory_order_relaxed);
}
