/*
 * adapt.c - the serving count's controller (adapt.h has the design).
 *
 * Invariants: loop->nserving is in [1, nworkers], and nworkers unless the
 * controller runs (or a test sets it); only weft__adapt_set_serving stores
 * it. The controller's state is the monitor thread's alone.
 *
 * No worker sleeps through a change of its role: set_serving does (a)
 * store nserving, (b) claim each worker whose role changed under the idle
 * lock and unpark it if it was asleep; a worker going to sleep does (c)
 * announce it under the same lock, (d) look at its role again. If (b)'s
 * critical section comes first, (a) happens before (d) through the lock,
 * and (d) sees the change; otherwise (b) finds the worker announced and
 * wakes it. A worker awake looks at its role at every pass (worker.c).
 */
#include "adapt.h"
#include "alloc.h"
#include "loop.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Justification: long enough that a window holds several of the kernel's
 * scheduling periods (a few ms each) and many of a server's requests,
 * short enough that a server beside a new busy process sheds its extra
 * workers within a fraction of a second. */
#define WINDOW_NS 100000000ull
/* Shrink: the serving workers waited for a CPU at least this share of the
 * time they wanted one (wait / (run + wait))... */
#define SHRINK_WAIT_PCT 25
/* ...and all workers together got at most (serving - 1) CPUs plus this
 * share of one: the last worker added waiting, not CPU. */
#define SHRINK_MARGIN_PCT 25
/* ...and they wanted at least this share of one CPU (run + wait): fewer
 * is too little activity to say anything (a server's first requests). */
#define SHRINK_ACTIVE_PCT 20
/* Grow: the serving workers waited at most this share... */
#define GROW_WAIT_PCT 10
/* ...and were asleep at most this share of their time: saturated. */
#define GROW_IDLE_PCT 5
/* A window this long (the monitor slept through it) is dropped. */
#define STALE_NS (10 * WINDOW_NS)
/* A shrink this soon after a grow doubles the next grow's hold. */
#define FLAP_NS 1000000000ull
/* Windows a grow's condition must hold before it is made, at most. */
#define HOLD_MAX 64u
/* A hold relaxes back to one window after this long without a change. */
#define CALM_NS 30000000000ull

struct adapt_worker {
  int tid;            /* whose figures run and wait are */
  uint64_t run, wait; /* at the window's start */
  uint64_t polled;    /* the worker's slice count then */
  bool ok;            /* run, wait and polled were read at the start */
};

struct weft__adapt {
  unsigned n;
  struct adapt_worker *w;
  uint64_t t0;        /* the window's start; 0: none open */
  unsigned serving0;  /* nserving at the window's start */
  unsigned hold;      /* windows a grow must wait */
  unsigned streak;    /* consecutive windows that argued for a grow */
  uint64_t last_grow, last_change;
};

unsigned weft__adapt_decide(const struct weft__adapt_window *win) {
  unsigned s = win->serving;
  if (!win->len_ns || !s || s > win->nworkers) return s;
  uint64_t wanted = win->run_ns + win->wait_ns;
  if (win->held && s < win->nworkers) return s + 1;
  if (s > 1 && wanted * 100 >= win->len_ns * SHRINK_ACTIVE_PCT &&
      win->wait_ns * 100 >= wanted * SHRINK_WAIT_PCT &&
      win->all_run_ns * 100 <= win->len_ns * ((uint64_t)(s - 1) * 100 + SHRINK_MARGIN_PCT))
    return s - 1;
  uint64_t asleep = (uint64_t)s * win->len_ns > wanted ? (uint64_t)s * win->len_ns - wanted : 0;
  if (s < win->nworkers && win->wait_ns * 100 <= wanted * GROW_WAIT_PCT &&
      asleep * 100 <= (uint64_t)s * win->len_ns * GROW_IDLE_PCT)
    return s + 1;
  return s;
}

/* cfg.adapt_workers == WEFT_ADAPT_DEFAULT: $WEFT_ADAPT_WORKERS=1 or 0 says,
 * else on unless the loop pins its workers. Why on: a loop of several
 * workers on a machine it shares (a server beside its clients, the way
 * most people try one) otherwise pays for each worker preempted holding
 * its ring's completions (benchmarks/RESULTS.md, 2026-12-06 12:41Z), and
 * with CPUs free the controller changes nothing. Why not when pinned: the
 * program placed one worker on each CPU it chose for it. */
static bool default_on(const struct weft_loop_config *cfg) {
  const char *e = getenv("WEFT_ADAPT_WORKERS");
  if (e && strcmp(e, "1") == 0) return true;
  if (e && strcmp(e, "0") == 0) return false;
  return cfg->pin_workers == 0;
}

int weft__adapt_init(struct weft_loop *loop, const struct weft_loop_config *cfg) {
  atomic_init(&loop->nserving, loop->nworkers);
  atomic_init(&loop->serving_changes, 0);
  loop->adapt = NULL;
  if (cfg->adapt_workers < -1 || cfg->adapt_workers > 1) return -EINVAL;
  bool on = cfg->adapt_workers == 1 || (cfg->adapt_workers == WEFT_ADAPT_DEFAULT && default_on(cfg));
  if (!on || loop->nworkers < 2) return 0;
  struct weft__adapt *a = weft__calloc(sizeof *a);
  if (!a) return -ENOMEM;
  a->w = weft__calloc(loop->nworkers * sizeof *a->w);
  if (!a->w) {
    weft__free(a, sizeof *a);
    return -ENOMEM;
  }
  a->n = loop->nworkers;
  a->hold = 1;
  loop->adapt = a;
  return 0;
}

void weft__adapt_free(struct weft_loop *loop) {
  struct weft__adapt *a = loop->adapt;
  if (!a) return;
  weft__free(a->w, a->n * sizeof *a->w);
  weft__free(a, sizeof *a);
  loop->adapt = NULL;
}

void weft__adapt_set_serving(struct weft_loop *loop, unsigned n) {
  if (n < 1) n = 1;
  if (n > loop->nworkers) n = loop->nworkers;
  /* seq_cst: (a) of the design comment (the lock in claim_worker orders
   * it; seq_cst costs nothing at this rate). */
  unsigned old = atomic_exchange_explicit(&loop->nserving, n, memory_order_seq_cst);
  if (old != n) atomic_fetch_add_explicit(&loop->serving_changes, 1, memory_order_relaxed);
  unsigned lo = old < n ? old : n, hi = old < n ? n : old;
  for (unsigned i = lo; i < hi; i++)
    if (weft__idle_claim_worker(&loop->idle, i)) weft__park_unpark(&loop->workers[i].park);
}

/* Reads the time worker @i's thread has spent on a CPU and waiting for
 * one (ns), and which thread that is (@tid). The file is opened for each
 * read (a few per worker a second) rather than kept: a loop holds no
 * descriptors its program did not ask for (servers count theirs). */
static bool read_schedstat(struct weft_loop *loop, unsigned i, int *tid, uint64_t *run, uint64_t *wait) {
  /* relaxed: the worker stores its own id at each run's start; a stale
   * one names a thread that ran it (or none), and the window is dropped. */
  *tid = atomic_load_explicit(&loop->workers[i].tid, memory_order_relaxed);
  if (!*tid) return false;
  char path[64], buf[96];
  snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", *tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t k = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (k <= 0) return false;
  buf[k] = '\0';
  return sscanf(buf, "%" SCNu64 " %" SCNu64, run, wait) == 2;
}

/* Starts a window at @now: every worker's figures as they are. */
static void open_window(struct weft__adapt *a, struct weft_loop *loop, uint64_t now) {
  for (unsigned i = 0; i < a->n; i++) {
    struct adapt_worker *aw = &a->w[i];
    aw->ok = read_schedstat(loop, i, &aw->tid, &aw->run, &aw->wait);
    /* relaxed: a statistic (worker.h). */
    aw->polled = atomic_load_explicit(&loop->workers[i].ctr.polled, memory_order_relaxed);
  }
  a->serving0 = atomic_load_explicit(&loop->nserving, memory_order_relaxed);
  a->t0 = now;
}

void weft__adapt_sample(struct weft_loop *loop, uint64_t now) {
  struct weft__adapt *a = loop->adapt;
  if (!a) return;
  if (!a->t0) {
    open_window(a, loop, now);
    return;
  }
  if (now - a->t0 < WINDOW_NS) return;
  /* The monitor sleeps while no worker is busy, so a window may span idle
   * time, which it counts as such (asleep: no reason to grow or shrink);
   * one that spans much more than a window says little about now. */
  if (now - a->t0 > STALE_NS) {
    open_window(a, loop, now);
    return;
  }
  unsigned serving = atomic_load_explicit(&loop->nserving, memory_order_relaxed);
  struct weft__adapt_window win = {.len_ns = now - a->t0, .nworkers = a->n, .serving = serving};
  bool complete = serving == a->serving0;
  for (unsigned i = 0; i < a->n && complete; i++) {
    struct adapt_worker *aw = &a->w[i];
    uint64_t run, wait;
    int tid;
    if (!aw->ok || !read_schedstat(loop, i, &tid, &run, &wait) || tid != aw->tid || run < aw->run ||
        wait < aw->wait) {
      complete = false;
      break;
    }
    win.all_run_ns += run - aw->run;
    if (i >= serving) continue;
    win.run_ns += run - aw->run;
    win.wait_ns += wait - aw->wait;
    struct weft__worker *w = &loop->workers[i];
    /* relaxed: samples; a wrong guess costs one window's decision. */
    if (atomic_load_explicit(&w->ctr.polled, memory_order_relaxed) == aw->polled &&
        weft__worker_busy(w))
      win.held = true;
  }
  if (complete) {
    unsigned want = weft__adapt_decide(&win), next = want;
    if (want > serving && !win.held && ++a->streak < a->hold) next = serving; /* not yet */
    else a->streak = 0;
    if (next == serving && now - a->last_change >= CALM_NS) a->hold = 1;
    if (next != serving) {
      if (next < serving && now - a->last_grow < FLAP_NS && a->hold < HOLD_MAX) a->hold *= 2;
      if (next > serving) a->last_grow = now;
      a->last_change = now;
      weft__adapt_set_serving(loop, next);
    }
  }
  open_window(a, loop, now);
}
