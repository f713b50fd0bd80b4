/*
 * dump.c - the task dump and task stacks (weft/debug.h).
 *
 * Two phases. Snapshot: each worker's running stack is captured on its
 * thread (backtrace.h), then every task is visited as a registry visitor
 * (registry.h: a listed task has not ended, so its stack is mapped) and
 * copied into a struct entry. Output: grouping, the await graph and the
 * formatting happen on the copies, with no lock held.
 *
 * Holding a suspended task still (weft__task_hold, task.h): while the dump
 * holds it, nobody resumes it, so its saved context, its stack and the
 * object it waits on (which its wait keeps alive) are stable while they
 * are read. Whether a task that is not suspended is
 * running or queued, its state does not say (task.h): a task some worker
 * has as current is running. A queued one is not held (it sits in a
 * queue): its stack is read and kept only if it was on no worker before
 * the read, and after it its slice count had not moved and it was on no
 * worker and not suspended.
 *
 * Invariants: the snapshot never runs user code, never waits for a task,
 * and takes only the registries' locks and the tasks' own locks (held by
 * weft's code for a few instructions, never across user code).
 */
#include "weft.h"
#include "alloc.h"
#include "backtrace.h"
#include "clock.h"
#include "futlock.h"
#include "loop.h"
#include "request.h"
#include "symbolize.h"
#include "task.h"
#include "registry.h"
#include "worker.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Justification: a running worker answers its capture signal in
 * microseconds; 100 ms covers a loaded machine without hanging the dump on
 * a thread that blocks the signal. */
#define CAPTURE_TIMEOUT_NS 100000000LL

enum entry_state { E_NOT_STARTED, E_SCHEDULED, E_RUNNING, E_SUSPENDED };
static const char *const state_names[] = {"not started", "scheduled", "running", "suspended"};

static const char *const block_names[WEFT__BLOCK_KINDS] = {
    [WEFT__BLOCK_NONE] = "nothing",       [WEFT__BLOCK_FUTURE] = "future",
    [WEFT__BLOCK_SLEEP] = "sleep",        [WEFT__BLOCK_LOCK] = "lock",
    [WEFT__BLOCK_EVENT] = "event",        [WEFT__BLOCK_COND] = "condition",
    [WEFT__BLOCK_SEM] = "semaphore",      [WEFT__BLOCK_BARRIER] = "barrier",
    [WEFT__BLOCK_QUEUE_GET] = "queue get", [WEFT__BLOCK_QUEUE_PUT] = "queue put",
    [WEFT__BLOCK_QUEUE_JOIN] = "queue join", [WEFT__BLOCK_IO] = "io",
    [WEFT__BLOCK_WAIT] = "wait",          [WEFT__BLOCK_AS_COMPLETED] = "as_completed",
    [WEFT__BLOCK_GEN] = "generator",      [WEFT__BLOCK_TASKGROUP] = "taskgroup",
    [WEFT__BLOCK_SERVER] = "server",      [WEFT__BLOCK_RESOLVE] = "getaddrinfo",
    [WEFT__BLOCK_OFFLOAD] = "file call on a thread",
};

struct entry {
  uint64_t id;
  char name[48];
  enum entry_state state;
  int worker;           /* running: where; else the pinning (-1: any) */
  int last_worker;      /* where it last ran (-1: never) */
  uint8_t kind;         /* enum weft__block_kind (suspended only) */
  const void *obj;
  int64_t arg;
  char obj_name[40];    /* the sync object's name, if it has one */
  uint32_t since;       /* coarse clock in ms (wraps): when it last stopped running */
  void *spawn_site;
  struct weft_task_stats stats;
  bool leaked;
  bool in_cycle;
  bool inline_host;     /* it runs an awaited child inline on its own fiber */
  unsigned n;
  void *frames[WEFT__BT_MAX];
};

struct snap {
  struct weft_loop *loop;
  struct weft__bt_capture *caps; /* one per worker */
  int *cap_rc;
  struct entry *e;
  size_t n, cap;
  bool oom;
};

static void read_stats(struct weft_task *t, struct weft_task_stats *s) {
  weft_task_get_stats(t, s);
}

/* Whether some worker of @t's loop runs @t now (compared, never
 * dereferenced). */
static bool on_a_worker(struct weft_task *t) {
  struct weft_loop *loop = t->fut.loop;
  for (unsigned i = 0; i < loop->nworkers; i++)
    if (weft__worker_current(&loop->workers[i]) == t) return true;
  return false;
}

/* Whether @t, not suspended, sits in a queue: queued or notified, and on
 * no worker. */
static bool looks_queued(struct weft_task *t) {
  uint8_t s = atomic_load_explicit(&t->state, memory_order_acquire);
  return (s == WEFT__TASK_SCHEDULED || s == WEFT__TASK_NOTIFIED) && !on_a_worker(t);
}

/* A queued task's saved stack, read without holding it: kept only if it
 * did not run meanwhile. The caller holds the registry lock of a task
 * still listed, so its execution part (and stack) stay (task.h). */
static unsigned read_queued_stack(struct weft_task *t, void **frames) {
  /* acquire: written by whoever started it (task.h), after it zeroed the
   * slice count, which is then what the union holds. */
  const struct weft__task_run *x = atomic_load_explicit(&t->run, memory_order_acquire);
  if (!x || on_a_worker(t)) return 0;
  uint64_t runs = atomic_load_explicit(&t->runs, memory_order_acquire);
  unsigned n = (unsigned)weft__bt_fiber(&x->fiber, frames, WEFT__BT_MAX);
  atomic_thread_fence(memory_order_acquire);
  bool same = atomic_load_explicit(&t->runs, memory_order_relaxed) == runs && looks_queued(t);
  return same ? n : 0;
}

/* The kinds whose object is a sync/ primitive (they note its name). */
static bool is_sync_kind(unsigned kind) {
  switch (kind) {
  case WEFT__BLOCK_LOCK: case WEFT__BLOCK_EVENT: case WEFT__BLOCK_COND: case WEFT__BLOCK_SEM:
  case WEFT__BLOCK_BARRIER: case WEFT__BLOCK_QUEUE_GET: case WEFT__BLOCK_QUEUE_PUT:
  case WEFT__BLOCK_QUEUE_JOIN:
    return true;
  default:
    return false;
  }
}

/* Reads what a held task waits on, and whether anyone else could ever
 * complete the future it awaits. */
static void read_blocked(struct weft_task *t, struct entry *e) {
  const struct weft__task_run *x = weft__task_run_of(t); /* held: started, not done */
  e->kind = atomic_load_explicit(&x->block_kind, memory_order_relaxed);
  e->obj = atomic_load_explicit(&x->blocked.obj, memory_order_relaxed);
  e->arg = atomic_load_explicit(&x->blocked.arg, memory_order_relaxed);
  if (e->kind >= WEFT__BLOCK_KINDS) e->kind = WEFT__BLOCK_NONE;
  e->obj_name[0] = '\0';
  if (is_sync_kind(e->kind)) {
    const char *name = atomic_load_explicit(&x->blocked_name, memory_order_relaxed);
    if (name) snprintf(e->obj_name, sizeof e->obj_name, "%s", name); /* static storage */
  }
  if (e->kind == WEFT__BLOCK_FUTURE && e->obj) {
    const struct weft_future *f = e->obj;
    /* The awaiting call holds the caller's reference and nothing else: a
     * plain future with one reference left has no one to complete it. */
    e->leaked = !f->is_task && !f->ops &&
                atomic_load_explicit(&f->state, memory_order_acquire) == 0 &&
                atomic_load_explicit(&f->refs, memory_order_relaxed) == 1;
  }
}

/* The id of the child @t runs inline, if any (under its lock: task.h).
 * A task whose future is not done under that lock still has its execution
 * part (its end completes the future under the lock before it gives the
 * part back), listed or not. */
static bool inline_child_id(struct weft_task *t, int64_t *id) {
  weft__futlock(&t->fut);
  /* acquire: written by whoever started it (task.h). */
  const struct weft__task_run *x =
      atomic_load_explicit(&t->fut.state, memory_order_relaxed) == WEFT__FUT_DONE
          ? NULL
          : atomic_load_explicit(&t->run, memory_order_acquire);
  struct weft_task *c = x ? x->inline_child : NULL;
  if (c) *id = (int64_t)c->id;
  weft__futunlock(&t->fut);
  return c != NULL;
}

static int snap_task(weft_task_t *t, void *arg) {
  struct snap *sn = arg;
  if (sn->n == sn->cap) {
    size_t cap = sn->cap ? sn->cap * 2 : 256;
    struct entry *e = realloc(sn->e, cap * sizeof *e);
    if (!e) {
      sn->oom = true;
      return 1;
    }
    sn->e = e;
    sn->cap = cap;
  }
  struct entry *e = &sn->e[sn->n++];
  memset(e, 0, offsetof(struct entry, frames));
  e->id = t->id;
  weft__task_copy_name(t, e->name, sizeof e->name);
  e->spawn_site = t->fut.spawn_site;
  /* Listed (we hold its registry's lock): its execution part, if it
   * started, stays (task.h). acquire: written by whoever started it. */
  const struct weft__task_run *x = atomic_load_explicit(&t->run, memory_order_acquire);
  e->worker = x ? atomic_load_explicit(&x->pinned, memory_order_relaxed) : weft__task_home(t);
  e->last_worker = x ? atomic_load_explicit(&x->last_worker, memory_order_relaxed) : -1;
  e->since = x ? atomic_load_explicit(&x->since_ms, memory_order_relaxed) : 0;
  if (weft__task_hold(t)) {
    x = weft__task_run_of(t); /* IDLE: started */
    e->state = E_SUSPENDED;
    read_blocked(t, e);
    e->since = atomic_load_explicit(&x->since_ms, memory_order_relaxed);
    e->n = (unsigned)weft__bt_fiber(&x->fiber, e->frames, WEFT__BT_MAX);
    weft__task_unhold(t);
  } else if (inline_child_id(t, &e->arg)) {
    /* Fork-join: it awaits a child it runs inline on its own fiber (task.h);
     * it stays SCHEDULED to the scheduler and is no worker's current, but
     * it waits for that child, and the child's stack, which is also its
     * own, shows both. */
    e->state = E_SUSPENDED;
    e->kind = WEFT__BLOCK_FUTURE;
    e->inline_host = true;
  } else if (looks_queued(t)) {
    /* A task not started has no saved context: the slice count says
     * whether it ran (its execution part may exist a moment before). */
    bool started = weft__task_runs(t) > 0;
    e->state = started ? E_SCHEDULED : E_NOT_STARTED;
    if (started) e->n = read_queued_stack(t, e->frames);
  } else {
    e->state = E_RUNNING;
    for (unsigned i = 0; i < sn->loop->nworkers; i++)
      if (sn->cap_rc[i] == 0 && sn->caps[i].task == t) {
        e->worker = (int)i;
        e->n = (unsigned)sn->caps[i].n;
        memcpy(e->frames, sn->caps[i].frames, e->n * sizeof *e->frames);
      }
  }
  read_stats(t, &e->stats);
  return 0;
}

/* ---- the await graph ----------------------------------------------------- */

static int by_id(const void *a, const void *b) {
  const struct entry *x = a, *y = b;
  return x->id < y->id ? -1 : x->id > y->id;
}

static struct entry *find(struct snap *sn, uint64_t id) {
  struct entry key = {.id = id};
  return id && sn->n ? bsearch(&key, sn->e, sn->n, sizeof *sn->e, by_id) : NULL;
}

/* The task @e waits for, if its wait names one. */
static struct entry *waits_for(struct snap *sn, const struct entry *e) {
  if (e->state != E_SUSPENDED) return NULL;
  if (e->kind == WEFT__BLOCK_FUTURE || e->kind == WEFT__BLOCK_LOCK) return find(sn, (uint64_t)e->arg);
  return NULL;
}

/* Each task waits for at most one other: cycles are found by walking from
 * each task with a colour per start (a functional graph). */
static void find_cycles(struct snap *sn, size_t **cycles, size_t *ncycles) {
  size_t *color = calloc(sn->n ? sn->n : 1, sizeof *color);
  *cycles = NULL;
  *ncycles = 0;
  if (!color) return;
  for (size_t i = 0; i < sn->n; i++) {
    size_t j = i;
    while (!color[j]) {
      color[j] = i + 1;
      struct entry *next = waits_for(sn, &sn->e[j]);
      if (!next) break;
      j = (size_t)(next - sn->e);
      if (color[j] == i + 1) { /* back on this walk's path: a new cycle */
        size_t *c = realloc(*cycles, (*ncycles + 1) * sizeof *c);
        if (!c) break;
        *cycles = c;
        (*cycles)[(*ncycles)++] = j;
        size_t k = j;
        do {
          sn->e[k].in_cycle = true;
          k = (size_t)(waits_for(sn, &sn->e[k]) - sn->e);
        } while (k != j);
        break;
      }
    }
  }
  free(color);
}

/* ---- output -------------------------------------------------------------- */

struct out {
  int fd;
  int err;
  size_t n;
  char buf[16384];
};

static void flush(struct out *o) {
  size_t off = 0;
  while (off < o->n && !o->err) {
    ssize_t k = write(o->fd, o->buf + off, o->n - off);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) o->err = -errno;
    else off += (size_t)k;
  }
  o->n = 0;
}

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...) {
  va_list ap;
  for (int tries = 0; tries < 2; tries++) {
    va_start(ap, fmt);
    int k = vsnprintf(o->buf + o->n, sizeof o->buf - o->n, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if ((size_t)k < sizeof o->buf - o->n) {
      o->n += (size_t)k;
      return;
    }
    flush(o); /* too long for what is left: flush and try once more */
    if ((size_t)k >= sizeof o->buf) { /* longer than the buffer: cut it */
      va_start(ap, fmt);
      vsnprintf(o->buf, sizeof o->buf, fmt, ap);
      va_end(ap);
      o->n = sizeof o->buf - 1;
      return;
    }
  }
}

static void put_json_string(struct out *o, const char *s) {
  put(o, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') put(o, "\\%c", c);
    else if (c < 0x20) put(o, "\\u%04x", c);
    else put(o, "%c", c);
  }
  put(o, "\"");
}

/* The id of the task worker @i was caught running, or 0. */
static uint64_t running_id(const struct snap *sn, unsigned i) {
  return sn->cap_rc[i] == 0 && sn->caps[i].task ? sn->caps[i].task->id : 0;
}

/* "lock \"accounts\" 0x..." (with its name) or "lock 0x...": what a
 * waited-on object is called, in waits and in the object view. */
static void object_label(const struct entry *e, char *buf, size_t len) {
  if (e->obj_name[0]) snprintf(buf, len, "%s \"%s\" %p", block_names[e->kind], e->obj_name, e->obj);
  else snprintf(buf, len, "%s %p", block_names[e->kind], e->obj);
}

static void describe_wait(const struct entry *e, char *buf, size_t len, uint64_t now_ns) {
  const char *k = block_names[e->kind];
  switch (e->kind) {
  case WEFT__BLOCK_FUTURE:
    if (e->inline_host)
      snprintf(buf, len, "awaits task %" PRId64 ", running it inline on its own stack", e->arg);
    else if (e->arg) snprintf(buf, len, "awaits task %" PRId64, e->arg);
    else snprintf(buf, len, "awaits future %p%s", e->obj, e->leaked ? " (leaked: nobody else holds it)" : "");
    break;
  case WEFT__BLOCK_LOCK: {
    char label[96];
    object_label(e, label, sizeof label);
    if (e->arg) snprintf(buf, len, "%s (held by task %" PRId64 " when it queued)", label, e->arg);
    else snprintf(buf, len, "%s", label); /* a barging lock changing hands as it queued */
    break;
  }
  case WEFT__BLOCK_SLEEP: {
    double left = ((double)e->arg - (double)now_ns) / 1e9;
    snprintf(buf, len, "sleep (%s%.3f s)", left >= 0 ? "due in " : "overdue by ", left >= 0 ? left : -left);
    break;
  }
  case WEFT__BLOCK_IO:
  case WEFT__BLOCK_OFFLOAD: {
    unsigned kind = (unsigned)(e->arg & 255);
    snprintf(buf, len, "%s %s on fd %" PRId64, k, kind < WEFT__IO_KINDS ? weft__io_kinds[kind].name : "?",
             e->arg >> 8);
    break;
  }
  case WEFT__BLOCK_NONE:
    snprintf(buf, len, "nothing noted");
    break;
  default:
    object_label(e, buf, len);
  }
}

/* A tiny cache: frames repeat across tasks, symbolizing is not free. */
#define SYM_CACHE 4096
struct sym_cache {
  const void *pc[SYM_CACHE];
  char name[SYM_CACHE][112];
};

static const char *sym(struct sym_cache *c, const void *pc, int is_return) {
  size_t h = ((uintptr_t)pc * 0x9E3779B97F4A7C15ull >> 20) % SYM_CACHE;
  if (c->pc[h] != pc) {
    weft__symbolize(pc, is_return, c->name[h], sizeof c->name[h]);
    c->pc[h] = pc;
  }
  return c->name[h];
}

/* Seconds since @e last ran, from the coarse clock in ms (modulo 2^32 ms:
 * right for ages under 49 days). */
static double age_s(const struct entry *e, uint64_t coarse_ns) {
  uint32_t now_ms = (uint32_t)(coarse_ns / 1000000u);
  return e->since ? (double)(uint32_t)(now_ms - e->since) / 1e3 : 0.0;
}

static void text_task_header(struct out *o, const struct entry *e, uint64_t now, uint64_t cnow) {
  char wait[160];
  put(o, "task %" PRIu64 " \"%s\": %s", e->id, e->name, state_names[e->state]);
  if (e->state == E_RUNNING && e->worker >= 0) put(o, " on worker %d", e->worker);
  if (e->state == E_SUSPENDED) {
    describe_wait(e, wait, sizeof wait, now);
    put(o, ", %s", wait);
    if (e->since) put(o, ", for %.3f s", age_s(e, cnow));
  } else if (e->state == E_SCHEDULED) {
    put(o, ", last ran %.3f s ago", age_s(e, cnow));
  }
  if (e->in_cycle) put(o, " [DEADLOCK]");
  if (e->state != E_RUNNING && e->last_worker >= 0) put(o, "; last ran on worker %d", e->last_worker);
  if (e->state != E_RUNNING && e->worker >= 0) put(o, ", pinned to worker %d", e->worker);
  put(o, "; ran %" PRIu64 " time%s", e->stats.runs, e->stats.runs == 1 ? "" : "s");
  if (e->stats.timed_slices)
    put(o, ", %s%.3f ms on a worker (longest timed %.3f ms), %.3f ms ready, %.3f ms suspended",
        e->stats.timed_slices < e->stats.runs ? "about " : "", (double)e->stats.run_ns / 1e6,
        (double)e->stats.max_slice_ns / 1e6, (double)e->stats.ready_ns / 1e6,
        (double)e->stats.suspended_ns / 1e6);
  put(o, "\n");
}

static bool same_group(const struct entry *a, const struct entry *b) {
  return a->state == b->state && a->kind == b->kind && a->n == b->n && !a->in_cycle && !b->in_cycle &&
         memcmp(a->frames, b->frames, a->n * sizeof *a->frames) == 0 && a->spawn_site == b->spawn_site;
}

static int by_group(const void *x, const void *y) {
  const struct entry *a = x, *b = y;
  if (a->state != b->state) return a->state < b->state ? -1 : 1;
  if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
  if (a->spawn_site != b->spawn_site) return (uintptr_t)a->spawn_site < (uintptr_t)b->spawn_site ? -1 : 1;
  if (a->n != b->n) return a->n < b->n ? -1 : 1;
  int c = memcmp(a->frames, b->frames, a->n * sizeof *a->frames);
  if (c) return c;
  return a->id < b->id ? -1 : a->id > b->id;
}

static void put_stack(struct out *o, struct sym_cache *c, const struct entry *e) {
  if (e->spawn_site) put(o, "    spawned at %s\n", sym(c, e->spawn_site, 1));
  if (!e->n) {
    put(o, "    (no stack: %s)\n",
        e->inline_host ? "its frames are on the stack of the task it runs inline"
        : e->state == E_NOT_STARTED ? "not started"
        : e->state == E_RUNNING ? "not captured" : "moved while read");
  }
  for (unsigned i = 0; i < e->n; i++) put(o, "    #%u %s\n", i, sym(c, e->frames[i], i > 0));
}

static void write_workers_text(struct out *o, struct sym_cache *c, struct weft_loop *loop,
                               struct snap *sn) {
  for (unsigned i = 0; i < loop->nworkers; i++) {
    struct weft_worker_stats ws;
    weft_loop_worker_stats(loop, i, &ws);
    put(o, "worker %u%s: ", i, ws.standby ? " (standby)" : "");
    uint64_t running = running_id(sn, i);
    if (running) put(o, "running task %" PRIu64, running);
    else if (ws.busy && !atomic_load_explicit(&loop->workers[i].in_callback, memory_order_relaxed))
      put(o, "running a task (not captured)");
    else if (atomic_load_explicit(&loop->workers[i].in_callback, memory_order_relaxed)) put(o, "running a callback");
    else put(o, "%s", atomic_load_explicit(&loop->workers[i].park.state, memory_order_relaxed) == 1 ? "parked" : "in the scheduler");
    put(o, "; queued %" PRIu64 " (+%" PRIu64 " pinned, lifo %" PRIu64 "), io in flight %" PRIu64
           "; polled %" PRIu64 ", steals %" PRIu64 ", parks %" PRIu64 "\n",
        ws.local_queue, ws.inbox_queue, ws.lifo, ws.io_inflight, ws.polled, ws.steals, ws.parks);
    if (sn->cap_rc[i] == 0 && !sn->caps[i].task && sn->caps[i].n) {
      struct entry tmp = {.state = E_RUNNING, .n = (unsigned)sn->caps[i].n};
      memcpy(tmp.frames, sn->caps[i].frames, tmp.n * sizeof *tmp.frames);
      put_stack(o, c, &tmp);
    }
  }
}

/* The I/O in flight, by worker (a task waiting on I/O is pinned to the
 * worker whose reactor holds the request). */
static void write_io_text(struct out *o, struct snap *sn, uint64_t cnow) {
  bool any = false;
  for (unsigned w = 0; w < sn->loop->nworkers; w++)
    for (size_t i = 0; i < sn->n; i++) {
      const struct entry *e = &sn->e[i];
      if (e->state != E_SUSPENDED || (e->kind != WEFT__BLOCK_IO && e->kind != WEFT__BLOCK_OFFLOAD))
        continue;
      if (e->worker != (int)w && !(e->worker < 0 && w == 0)) continue;
      char what[160];
      describe_wait(e, what, sizeof what, 0);
      if (!any) put(o, "I/O in flight:\n");
      any = true;
      put(o, "  worker %u: task %" PRIu64 " \"%s\": %s, for %.3f s\n", w, e->id, e->name, what,
          age_s(e, cnow));
    }
}

/* The sync objects tasks wait on, each with its waiters (the await
 * graph's many-to-one edges: who queues on what, with the lock holder). */
static int by_object(const void *a, const void *b, void *base) {
  const struct entry *e = base, *x = &e[*(const size_t *)a], *y = &e[*(const size_t *)b];
  if (x->obj != y->obj) return (uintptr_t)x->obj < (uintptr_t)y->obj ? -1 : 1;
  if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

static void write_objects_text(struct out *o, struct snap *sn) {
  size_t m = 0, *ix = malloc((sn->n ? sn->n : 1) * sizeof *ix);
  if (!ix) return;
  for (size_t i = 0; i < sn->n; i++)
    if (sn->e[i].state == E_SUSPENDED && is_sync_kind(sn->e[i].kind) && sn->e[i].obj) ix[m++] = i;
  qsort_r(ix, m, sizeof *ix, by_object, sn->e);
  if (m) put(o, "Waited on:\n");
  for (size_t i = 0; i < m;) {
    size_t j = i;
    const struct entry *e = &sn->e[ix[i]];
    while (j < m && sn->e[ix[j]].obj == e->obj && sn->e[ix[j]].kind == e->kind) j++;
    char label[96];
    object_label(e, label, sizeof label);
    put(o, "  %s: %zu task%s (", label, j - i, j - i == 1 ? "" : "s");
    for (size_t k = i; k < j && k < i + 8; k++) put(o, "%s%" PRIu64, k > i ? ", " : "", sn->e[ix[k]].id);
    put(o, "%s)", j - i > 8 ? ", ..." : "");
    if (e->kind == WEFT__BLOCK_LOCK && e->arg)
      put(o, "; held by task %" PRId64 " when the first queued", e->arg);
    put(o, "\n");
    i = j;
  }
  free(ix);
}

static void write_text(struct out *o, struct sym_cache *c, struct snap *sn, size_t *cycles,
                       size_t ncycles) {
  struct weft_loop *loop = sn->loop;
  uint64_t now = weft__clock_ns(), cnow = weft__clock_coarse_ns();
  put(o, "=== weft task dump: %u workers, %s backend, %zu tasks ===\n", loop->nworkers,
      weft_loop_backend(loop), sn->n);
  write_workers_text(o, c, loop, sn);
  write_io_text(o, sn, cnow);
  write_objects_text(o, sn);
  for (size_t k = 0; k < ncycles; k++) {
    put(o, "DEADLOCK: ");
    size_t j = cycles[k];
    do {
      const struct entry *e = &sn->e[j];
      put(o, "task %" PRIu64 " \"%s\" (%s) -> ", e->id, e->name, block_names[e->kind]);
      j = (size_t)(waits_for(sn, e) - sn->e);
    } while (j != cycles[k]);
    put(o, "task %" PRIu64 "\n", sn->e[j].id);
  }
  if (sn->n) qsort(sn->e, sn->n, sizeof *sn->e, by_group);
  for (size_t i = 0; i < sn->n;) {
    size_t j = i + 1;
    while (j < sn->n && same_group(&sn->e[i], &sn->e[j])) j++;
    put(o, "\n");
    if (j - i == 1) {
      text_task_header(o, &sn->e[i], now, cnow);
    } else {
      char wait[160] = "";
      if (sn->e[i].state == E_SUSPENDED) describe_wait(&sn->e[i], wait, sizeof wait, now);
      put(o, "%zu tasks: %s%s%s; ids", j - i, state_names[sn->e[i].state], *wait ? ", " : "",
          sn->e[i].state == E_SUSPENDED ? block_names[sn->e[i].kind] : "");
      for (size_t k = i; k < j && k < i + 8; k++) put(o, " %" PRIu64, sn->e[k].id);
      put(o, "%s\n", j - i > 8 ? " ..." : "");
    }
    put_stack(o, c, &sn->e[i]);
    i = j;
  }
  put(o, "=== end of dump ===\n");
}

static void write_json(struct out *o, struct sym_cache *c, struct snap *sn, size_t *cycles,
                       size_t ncycles) {
  struct weft_loop *loop = sn->loop;
  uint64_t now = weft__clock_ns(), cnow = weft__clock_coarse_ns();
  put(o, "{\"type\":\"loop\",\"workers\":%u,\"backend\":\"%s\",\"tasks\":%zu,\"cycles\":%zu}\n",
      loop->nworkers, weft_loop_backend(loop), sn->n, ncycles);
  for (unsigned i = 0; i < loop->nworkers; i++) {
    struct weft_worker_stats ws;
    weft_loop_worker_stats(loop, i, &ws);
    put(o,
        "{\"type\":\"worker\",\"index\":%u,\"running_task\":%" PRIu64 ",\"queued\":%" PRIu64
        ",\"inbox\":%" PRIu64 ",\"lifo\":%" PRIu64 ",\"io_inflight\":%" PRIu64 ",\"polled\":%" PRIu64
        ",\"steals\":%" PRIu64 ",\"parks\":%" PRIu64 ",\"standby\":%s}\n",
        i, running_id(sn, i), ws.local_queue, ws.inbox_queue, ws.lifo, ws.io_inflight, ws.polled,
        ws.steals, ws.parks, ws.standby ? "true" : "false");
  }
  for (size_t k = 0; k < ncycles; k++) {
    put(o, "{\"type\":\"cycle\",\"tasks\":[");
    size_t j = cycles[k];
    do {
      put(o, "%s%" PRIu64, j == cycles[k] ? "" : ",", sn->e[j].id);
      j = (size_t)(waits_for(sn, &sn->e[j]) - sn->e);
    } while (j != cycles[k]);
    put(o, "]}\n");
  }
  for (size_t i = 0; i < sn->n; i++) {
    const struct entry *e = &sn->e[i];
    put(o, "{\"type\":\"task\",\"id\":%" PRIu64 ",\"name\":", e->id);
    put_json_string(o, e->name);
    put(o, ",\"state\":\"%s\",\"worker\":%d,\"last_worker\":%d", state_names[e->state], e->worker,
        e->last_worker);
    if (e->state == E_SUSPENDED) {
      char wait[160];
      describe_wait(e, wait, sizeof wait, now);
      put(o, ",\"waits\":{\"kind\":\"%s\",\"object\":\"%p\",\"arg\":%" PRId64 ",\"text\":",
          block_names[e->kind], e->obj, e->arg);
      put_json_string(o, wait);
      if (e->obj_name[0]) {
        put(o, ",\"name\":");
        put_json_string(o, e->obj_name);
      }
      put(o, "}");
    }
    put(o, ",\"age_s\":%.3f,\"leaked\":%s,\"deadlock\":%s,\"runs\":%" PRIu64
           ",\"timed_slices\":%" PRIu64 ",\"run_ns\":%" PRIu64
           ",\"max_slice_ns\":%" PRIu64 ",\"ready_ns\":%" PRIu64 ",\"suspended_ns\":%" PRIu64,
        age_s(e, cnow), e->leaked ? "true" : "false", e->in_cycle ? "true" : "false", e->stats.runs,
        e->stats.timed_slices, e->stats.run_ns, e->stats.max_slice_ns, e->stats.ready_ns, e->stats.suspended_ns);
    if (e->spawn_site) {
      put(o, ",\"spawned_at\":");
      put_json_string(o, sym(c, e->spawn_site, 1));
    }
    put(o, ",\"stack\":[");
    for (unsigned k = 0; k < e->n; k++) {
      if (k) put(o, ",");
      put_json_string(o, sym(c, e->frames[k], k > 0));
    }
    put(o, "]}\n");
  }
}

/* Captures every worker's live stack (a worker in the scheduler or parked
 * too: its stack shows where it is). */
static void capture_workers(struct snap *sn) {
  struct weft_loop *loop = sn->loop;
  bool running = atomic_load_explicit(&loop->running, memory_order_acquire) != 0;
  for (unsigned i = 0; i < loop->nworkers; i++) {
    sn->caps[i].task = NULL;
    sn->caps[i].n = 0;
    /* Only a worker with something on it, of a running loop, is worth a signal. */
    bool busy = weft__worker_current(&loop->workers[i]) != NULL ||
                atomic_load_explicit(&loop->workers[i].in_callback, memory_order_relaxed);
    sn->cap_rc[i] = running && busy ? weft__bt_worker(&loop->workers[i], &sn->caps[i], CAPTURE_TIMEOUT_NS)
                                    : -ESRCH;
    if (sn->cap_rc[i] == 0) sn->caps[i].n = weft__frames_valid(sn->caps[i].frames, sn->caps[i].n);
  }
}

int weft_loop_dump(weft_loop_t *loop, int fd, int format) {
  if (!loop || fd < 0 || (format != WEFT_DUMP_TEXT && format != WEFT_DUMP_JSON)) return -EINVAL;
  bool foreign;
  if (!weft__loop_enter_any(loop, &foreign)) return WEFT_ECLOSED;
  struct snap sn = {.loop = loop};
  sn.caps = calloc(loop->nworkers, sizeof *sn.caps);
  sn.cap_rc = calloc(loop->nworkers, sizeof *sn.cap_rc);
  struct out *o = malloc(sizeof *o);
  struct sym_cache *c = calloc(1, sizeof *c);
  int rc = 0;
  if (!sn.caps || !sn.cap_rc || !o || !c) rc = -ENOMEM;
  if (!rc) {
    capture_workers(&sn);
    weft__loop_tasks_all(loop, snap_task, &sn);
    if (sn.oom) rc = -ENOMEM;
  }
  if (!rc) {
    if (sn.n) qsort(sn.e, sn.n, sizeof *sn.e, by_id);
    size_t *cycles, ncycles;
    find_cycles(&sn, &cycles, &ncycles);
    o->fd = fd;
    o->err = 0;
    o->n = 0;
    if (format == WEFT_DUMP_JSON) write_json(o, c, &sn, cycles, ncycles);
    else write_text(o, c, &sn, cycles, ncycles);
    flush(o);
    rc = o->err;
    free(cycles);
  }
  for (unsigned i = 0; sn.caps && i < loop->nworkers; i++)
    if (sn.caps[i].task) weft_task_release(sn.caps[i].task); /* the capture's reference */
  if (foreign) weft__loop_exit_foreign(loop);
  free(sn.e);
  free(sn.caps);
  free(sn.cap_rc);
  free(o);
  free(c);
  return rc;
}

/* ---- one task ------------------------------------------------------------ */

int weft_task_stack(weft_task_t *t, void **frames, size_t max) {
  if (!t || !frames) return -EINVAL;
  if (max > WEFT__BT_MAX) max = WEFT__BT_MAX;
  if (t == weft__task_self()) return (int)weft__bt_here(frames, max);
  if (weft__task_hold(t)) {
    size_t n = weft__bt_fiber(&weft__task_run_of(t)->fiber, frames, max);
    weft__task_unhold(t);
    return (int)n;
  }
  if (atomic_load_explicit(&t->state, memory_order_acquire) == WEFT__TASK_DONE) return 0;
  int64_t child_id;
  if (inline_child_id(t, &child_id)) return 0; /* its fiber runs the child */
  if (looks_queued(t)) {
    if (weft__task_runs(t) == 0) return 0;
    void *tmp[WEFT__BT_MAX];
    /* Read while it is listed, so that it cannot end and give its stack
     * back meanwhile (task.h). */
    unsigned n = 0;
    if (weft__registry_lock_listed(t)) n = read_queued_stack(t, tmp);
    weft__registry_unlock_listed(t);
    if (n > max) n = (unsigned)max;
    memcpy(frames, tmp, n * sizeof *tmp);
    return (int)n;
  }
  struct weft_loop *loop = t->fut.loop;
  for (unsigned i = 0; i < loop->nworkers; i++) {
    if (weft__worker_current(&loop->workers[i]) != t) continue; /* compared, not dereferenced */
    struct weft__bt_capture *cap = malloc(sizeof *cap);
    if (!cap) return -ENOMEM;
    int rc = weft__bt_worker(&loop->workers[i], cap, CAPTURE_TIMEOUT_NS);
    size_t n = rc == 0 && cap->task == t ? weft__frames_valid(cap->frames, cap->n) : 0;
    if (cap->task) weft_task_release(cap->task);
    if (n > max) n = max;
    memcpy(frames, cap->frames, n * sizeof *frames);
    free(cap);
    return rc ? rc : (int)n;
  }
  return 0; /* between states: it just stopped or is about to start */
}

int weft_task_print_stack(weft_task_t *t, int fd) {
  void *frames[WEFT__BT_MAX];
  int n = weft_task_stack(t, frames, WEFT__BT_MAX);
  if (n < 0) return n;
  struct out *o = malloc(sizeof *o);
  if (!o) return -ENOMEM;
  o->fd = fd;
  o->err = 0;
  o->n = 0;
  put(o, "Stack for task %" PRIu64 ":\n", t->id);
  for (int i = 0; i < n; i++) {
    char name[160];
    weft__symbolize(frames[i], i > 0, name, sizeof name);
    put(o, "  #%d %s\n", i, name);
  }
  flush(o);
  int rc = o->err;
  free(o);
  return rc;
}

int weft_symbolize(const void *addr, int is_return, char *buf, size_t len) {
  if (!buf || !len) return -EINVAL;
  weft__symbolize(addr, is_return, buf, len);
  return 0;
}
