/*
 * stats.c - runtime metrics and per-task accounting (weft/debug.h).
 *
 * Every counter is written by one thread (its worker, or the waker that
 * owns a task between its wake-up and its next slice) with relaxed stores
 * and read here with relaxed loads: each value is exact and never torn,
 * the set is not a snapshot (a reader may see polled from after a slice
 * and busy time from before it). No counter is written on a shared cache
 * line by the hot path: they live in each worker's owner-only line.
 */
#include "weft.h"
#include "clock.h"
#include "loop.h"
#include "monitor.h"
#include "owner.h"
#include "task.h"
#include "ticks.h"
#include "worker.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* @sum over @n timed intervals, scaled to @total intervals, in ns. */
static uint64_t estimate(uint64_t sum, uint32_t n, uint64_t total) {
  if (!n) return 0;
  if (total < n) total = n;
  return weft__ticks_to_ns((uint64_t)((unsigned __int128)sum * total / n));
}

int weft_task_get_stats(weft_task_t *t, struct weft_task_stats *out) {
  if (!t || !out) return -EINVAL;
  memset(out, 0, sizeof *out);
  out->runs = weft__task_runs(t);
  const struct weft__task_times *tm = weft__task_times_of(t); /* acquire: made before it was installed */
  if (tm) {
    uint32_t run_n = LOAD(tm->run_n);
    out->timed_slices = run_n;
    /* Each slice follows one wait for a worker; each but the last is
     * followed by one suspension (or requeue). */
    out->run_ns = estimate(LOAD(tm->run), run_n, out->runs);
    out->max_slice_ns = weft__ticks_to_ns(LOAD(tm->max_slice));
    out->ready_ns = estimate(LOAD(tm->ready), LOAD(tm->ready_n), out->runs);
    out->suspended_ns = estimate(LOAD(tm->suspended), LOAD(tm->suspended_n),
                                 out->runs ? out->runs - 1 : 0);
  }
  return 0;
}

/* A worker's idle and busy times up to now, a sleep or run in progress
 * included: the seqlock's reader (worker.h, weft__worker_times_begin), a
 * snapshot of the times with the clock read inside it. It retries only
 * while the worker is inside one of the few stores that change them. */
static void times_now(struct weft__worker_counters *c, uint64_t *idle_out, uint64_t *busy_out) {
  for (;;) {
    /* acquire: pairs with the even count's release store. */
    uint32_t s = atomic_load_explicit(&c->times_seq, memory_order_acquire);
    uint64_t idle = LOAD(c->idle_ns), park = LOAD(c->park_start_ns), busy = LOAD(c->busy_ns);
    uint64_t run = LOAD(c->run_start_ns), idle0 = LOAD(c->run_idle0_ns);
    uint64_t now = weft__clock_ns();
    weft__clock_fence(); /* the clock read before the count's second look */
    /* acquire fence: the loads above before the count's second look, which
     * then sees the odd count of any change whose stores they saw. */
    atomic_thread_fence(memory_order_acquire);
    if ((s & 1) || atomic_load_explicit(&c->times_seq, memory_order_relaxed) != s) continue;
    if (park) idle += now > park ? now - park : 0;
    if (run) { /* a run in progress: its length so far minus its idle time */
      uint64_t len = now > run ? now - run : 0, in_run = idle - idle0;
      busy += len > in_run ? len - in_run : 0;
    }
    *idle_out = idle;
    *busy_out = busy;
    return;
  }
}

static void worker_stats(struct weft__worker *w, struct weft_worker_stats *out) {
  memset(out, 0, sizeof *out);
  out->polled = LOAD(w->ctr.polled);
  out->steals = LOAD(w->ctr.steals);
  out->stolen = LOAD(w->ctr.stolen);
  out->parks = LOAD(w->ctr.parks);
  out->unparks = LOAD(w->park.kicks);
  times_now(&w->ctr, &out->idle_ns, &out->busy_ns);
  out->timers_fired = LOAD(w->ctr.timers_fired);
  out->handles_run = LOAD(w->ctr.handles_run);
  out->io_submitted = LOAD(w->reactor.started);
  out->io_completed = LOAD(w->reactor.finished);
  out->io_inflight = out->io_submitted > out->io_completed ? out->io_submitted - out->io_completed : 0;
  out->local_queue = weft__worker_queued(w);
  out->inbox_queue = LOAD(w->inbox.len);
  out->lifo = LOAD(w->lifo) != NULL;
  out->busy = weft__worker_busy(w);
  out->standby = w->index >= LOAD(w->loop->nserving);
}

int weft_loop_worker_stats(weft_loop_t *loop, unsigned index, struct weft_worker_stats *out) {
  if (!loop || !out || index >= loop->nworkers) return -EINVAL;
  bool foreign;
  if (!weft__loop_enter_any(loop, &foreign)) return WEFT_ECLOSED;
  worker_stats(&loop->workers[index], out);
  if (foreign) weft__loop_exit_foreign(loop);
  return 0;
}

int weft_loop_get_stats(weft_loop_t *loop, struct weft_loop_stats *out) {
  if (!loop || !out) return -EINVAL;
  struct weft_memory_stats ms;
  int rc = weft_loop_memory_stats(loop, &ms);
  if (rc) return rc;
  bool foreign;
  if (!weft__loop_enter_any(loop, &foreign)) return WEFT_ECLOSED;
  memset(out, 0, sizeof *out);
  out->workers = loop->nworkers;
  out->live_tasks = (uint64_t)weft__loop_count_tasks(loop);
  out->injected = LOAD(loop->inject.len);
  out->stacks_in_use = ms.stacks_in_use;
  out->stacks_cached = ms.stacks_cached;
  out->stack_bytes = (uint64_t)ms.stacks_mapped * ms.stack_size;
  weft__monitor_counts(loop, &out->stalls, &out->backlogs);
  out->stall_threshold_ns = weft_loop_get_stall_threshold(loop);
  out->debug = LOAD(loop->acct) ? 1 : 0;
  out->acct_sample = out->debug ? 1 : LOAD(loop->acct_period);
  out->io_backend = weft_loop_backend(loop);
  out->io_fallback = weft_loop_backend_reason(loop);
  out->serving = LOAD(loop->nserving);
  out->serving_changes = LOAD(loop->serving_changes);
  out->owner_revocations = 0; /* every worker's record (a one-worker loop's is its loop's) */
  for (unsigned i = 0; i < loop->nworkers; i++)
    if (loop->workers[i].sections) out->owner_revocations += LOAD(loop->workers[i].sections->revocations);
  for (unsigned i = 0; i < loop->nworkers; i++) {
    struct weft_worker_stats ws;
    worker_stats(&loop->workers[i], &ws);
    uint64_t *sum = (uint64_t *)&out->total;
    const uint64_t *add = (const uint64_t *)&ws;
    for (size_t k = 0; k < sizeof ws / sizeof(uint64_t); k++) sum[k] += add[k];
  }
  /* total.busy: how many workers are busy now. */
  if (foreign) weft__loop_exit_foreign(loop);
  return 0;
}

struct fmt {
  char *buf;
  size_t len, n;
};

__attribute__((format(printf, 2, 3))) static void emit(struct fmt *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(f->n < f->len ? f->buf + f->n : NULL, f->n < f->len ? f->len - f->n : 0, fmt, ap);
  va_end(ap);
  if (k > 0) f->n += (size_t)k;
}

/* One metric family: its HELP and TYPE lines, then a value per worker. */
static void family(struct fmt *f, const char *name, const char *type, const char *help,
                   const struct weft_worker_stats *ws, unsigned n, size_t field) {
  emit(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
  for (unsigned i = 0; i < n; i++) {
    uint64_t v;
    memcpy(&v, (const char *)&ws[i] + field, sizeof v);
    emit(f, "%s{worker=\"%u\"} %" PRIu64 "\n", name, i, v);
  }
}

/* One loop-wide metric. */
static void scalar(struct fmt *f, const char *name, const char *type, const char *help, uint64_t v) {
  emit(f, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type, name, v);
}

int weft_loop_stats_format(weft_loop_t *loop, char *buf, size_t len) {
  if (!loop || (!buf && len)) return -EINVAL;
  struct weft_loop_stats ls;
  int rc = weft_loop_get_stats(loop, &ls);
  if (rc) return rc;
  struct weft_worker_stats ws[64];
  unsigned n = ls.workers < 64 ? ls.workers : 64; /* per-worker series for the first 64 */
  for (unsigned i = 0; i < n; i++)
    if ((rc = weft_loop_worker_stats(loop, i, &ws[i])) != 0) return rc;
  struct fmt f = {buf, len, 0};
  if (len) buf[0] = '\0';
#define FAM(name, type, help, field) \
  family(&f, "weft_" name, type, help, ws, n, offsetof(struct weft_worker_stats, field))
  FAM("worker_polls_total", "counter", "Task slices and callbacks started.", polled);
  FAM("worker_steals_total", "counter", "Steal operations that found work.", steals);
  FAM("worker_stolen_total", "counter", "Runnables taken by steals.", stolen);
  FAM("worker_parks_total", "counter", "Times the worker slept in its reactor.", parks);
  FAM("worker_unparks_total", "counter", "Times another thread woke the worker.", unparks);
  FAM("worker_busy_nanoseconds_total", "counter", "Time running, not parked.", busy_ns);
  FAM("worker_idle_nanoseconds_total", "counter", "Time parked.", idle_ns);
  FAM("worker_timers_fired_total", "counter", "Timer callbacks run.", timers_fired);
  FAM("worker_callbacks_total", "counter", "call_soon/call_later callbacks run.", handles_run);
  FAM("worker_io_submitted_total", "counter", "I/O requests started.", io_submitted);
  FAM("worker_io_completed_total", "counter", "I/O requests finished.", io_completed);
  FAM("worker_io_inflight", "gauge", "I/O requests in flight.", io_inflight);
  FAM("worker_queue_depth", "gauge", "Ready work in the worker's ring.", local_queue);
  FAM("worker_inbox_depth", "gauge", "Ready work pinned to the worker by other threads.", inbox_queue);
  FAM("worker_standby", "gauge", "1 if the worker takes no shared work now (adapt_workers).", standby);
#undef FAM
  scalar(&f, "weft_tasks", "gauge", "Tasks spawned and not ended.", ls.live_tasks);
  scalar(&f, "weft_injected_depth", "gauge", "Ready work in the loop's shared queue.", ls.injected);
  scalar(&f, "weft_stacks_in_use", "gauge", "Default-size stacks held by tasks.", ls.stacks_in_use);
  scalar(&f, "weft_stacks_cached", "gauge", "Free default-size stacks kept for reuse.", ls.stacks_cached);
  scalar(&f, "weft_stack_bytes", "gauge", "Stack address space mapped.", ls.stack_bytes);
  scalar(&f, "weft_stalls_total", "counter", "Tasks reported for holding a worker too long.", ls.stalls);
  scalar(&f, "weft_backlogs_total", "counter", "Run-queue backlogs reported.", ls.backlogs);
  scalar(&f, "weft_serving_workers", "gauge", "Workers taking shared work now.", ls.serving);
  scalar(&f, "weft_serving_changes_total", "counter", "Changes of the serving count.", ls.serving_changes);
  scalar(&f, "weft_owner_revocations_total", "counter",
         "Times other threads turned a worker's lock-free paths off.", ls.owner_revocations);
  emit(&f, "# HELP weft_io_backend The I/O backend in use (value 1).\n"
           "# TYPE weft_io_backend gauge\nweft_io_backend{backend=\"%s\"} 1\n", ls.io_backend);
  return f.n > INT32_MAX ? INT32_MAX : (int)f.n;
}

int weft_loop_set_debug(weft_loop_t *loop, int enabled) {
  if (!loop) return -EINVAL;
  if (atomic_load_explicit(&loop->closed, memory_order_acquire)) return WEFT_ECLOSED;
  /* relaxed: workers pick it up at their next pass; nothing depends on when. */
  atomic_store_explicit(&loop->acct, enabled != 0, memory_order_relaxed);
  return 0;
}

int weft_loop_get_debug(weft_loop_t *loop) {
  if (!loop) return -EINVAL;
  return LOAD(loop->acct) ? 1 : 0;
}
