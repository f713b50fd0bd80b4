/*
 * order_script.c - runs an order script (tests/order/README.md) on weft and
 * prints what it traced: one line, the notes in the order they were made.
 * order_script.py runs the same script on CPython's asyncio; order_fuzz.py
 * generates scripts and compares the two (exactly with one worker, as
 * multisets with several).
 *
 *   order_script WORKERS SCRIPT
 *
 * SCRIPT is the script's text (tasks separated by ';'). Exits 0 after
 * printing the trace, 2 on a malformed script, 1 if a weft call failed
 * (with a message on stderr).
 *
 * Invariants: task i's ops run in order on its own fiber; the notes go
 * into one buffer through an atomic index, so with several workers every
 * note is kept (their order is then the workers' interleaving).
 */
#include <weft.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_TASKS = 32, MAX_OPS = 64, MAX_OBJS = 8, MAX_TRACE = 4096 };
/* Passes the main task lets go by before its epilogue unblocks everyone, so
 * that the other tasks meet at the objects first (as order_script.py). */
enum { EPILOGUE_PASSES = 8 };

struct op {
  char code;
  int arg;  /* an object or task index; a note's character */
};

static struct op ops[MAX_TASKS][MAX_OPS];
static int nops[MAX_TASKS], ntasks;
static weft_task_t *tasks[MAX_TASKS];
static weft_future_t *futs[MAX_OBJS];
static weft_event_t *events[MAX_OBJS];
static weft_queue_t *queues[MAX_OBJS];
static weft_lock_t *locks[MAX_OBJS];
static weft_sem_t *sems[MAX_OBJS];
static weft_cond_t *conds[MAX_OBJS];
static weft_barrier_t *barriers[MAX_OBJS];
static int released[MAX_OBJS]; /* a condition's predicate; under its lock */
static int queue_gets[MAX_OBJS];
/* Puts made so far: the next put's item (next_item). Atomic: with several
 * workers puts run on several threads (their items then differ from
 * asyncio's, and gets note no items there). */
static _Atomic int queue_puts;

/* Each put's item: the next letter, in the order the puts are made (as
 * order_script.py's next_item). */
static void *next_item(void) {
  static const char items[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  return (void *)(intptr_t)items[atomic_fetch_add(&queue_puts, 1) % (int)(sizeof items - 1)];
}

/* A priority queue's order: the letters' (asyncio's heapq compares them). */
static int cmp_item(const void *a, const void *b) {
  intptr_t x = (intptr_t)a, y = (intptr_t)b;
  return x < y ? -1 : x > y;
}
/* Queues 5-7 (1-3 items) take blocking puts and no blocking gets: the
 * epilogue starts a drainer for each one the script uses, which gets until
 * it is cancelled (as order_script.py's PUT_QUEUES). */
enum { FIRST_PUT_QUEUE = 5 };
/* Queue 4 (unbounded) is the join queue: its items are taken by `d`
 * (get_nowait and task_done) and by the epilogue's drainer, which marks
 * each done too, so that its unfinished count is always its size and every
 * join ends once the drainer has emptied it (as order_script.py's). */
enum { JOIN_QUEUE = 4 };
static int queue_drained[MAX_OBJS];
static char trace[MAX_TRACE];
static _Atomic int ntrace;

static void note(char c) {
  int i = atomic_fetch_add(&ntrace, 1);
  if (i < MAX_TRACE - 1) trace[i] = c;
}

static void cb_note(void *arg) { note((char)(intptr_t)arg); }

static void set_future(int k);
static void cb_set_future(void *arg) { set_future((int)(intptr_t)arg); }

#define CHECK(call)                                                       \
  do {                                                                    \
    int rc_ = (call);                                                     \
    if (rc_ < 0) {                                                        \
      fprintf(stderr, "order_script: %s: %s\n", #call, weft_strerror(rc_)); \
      exit(1);                                                            \
    }                                                                     \
  } while (0)

static int run_task(void *arg, void **res);

/* Sets future @k's result unless it is done; with several workers another
 * task may set it between the look and the set (WEFT_EINVALSTATE then). */
static void set_future(int k) {
  if (weft_future_done(futs[k])) return;
  int rc = weft_future_set_result(futs[k], NULL);
  if (rc != WEFT_EINVALSTATE) CHECK(rc);
}

static int is_released(void *arg) { return *(int *)arg; }

static int suspended(int rc, const char *what);

/* K and J: `async with cond:` around a wait for the epilogue's release, or
 * a notify (J) or the release itself (the epilogue). -ECANCELED if the task
 * was cancelled in it (the lock is given back first, if it was taken, as
 * `async with` would). */
static int cond_wait_released(int k) {
  int rc = weft_lock_acquire(weft_cond_lock(conds[k]), -1);
  if (suspended(rc, "cond lock")) return rc;
  rc = weft_cond_wait_for(conds[k], is_released, &released[k], -1);
  CHECK(weft_lock_release(weft_cond_lock(conds[k])));
  return suspended(rc, "cond_wait_for");
}

/* k: `async with cond: if not released: await cond.wait()`: one wait, which
 * any notify ends. */
static int cond_wait_once(int k) {
  int rc = weft_lock_acquire(weft_cond_lock(conds[k]), -1);
  if (suspended(rc, "cond lock")) return rc;
  rc = released[k] ? 0 : weft_cond_wait(conds[k], -1);
  CHECK(weft_lock_release(weft_cond_lock(conds[k])));
  return suspended(rc, "cond_wait");
}

static int cond_notify(int k, int all) {
  int rc = weft_lock_acquire(weft_cond_lock(conds[k]), -1);
  if (suspended(rc, "cond lock")) return rc;
  if (all) {
    released[k] = 1;
    CHECK(weft_cond_notify_all(conds[k]));
  } else {
    CHECK(weft_cond_notify(conds[k], 1));
  }
  CHECK(weft_lock_release(weft_cond_lock(conds[k])));
  return 0;
}

/* A suspending call's result: -ECANCELED (the task was cancelled: it ends)
 * or 0; anything else is a failure. */
static int suspended(int rc, const char *what) {
  if (rc == -ECANCELED) return rc;
  if (rc < 0) {
    fprintf(stderr, "order_script: %s: %s\n", what, weft_strerror(rc));
    exit(1);
  }
  return 0;
}

/* What a task holds (locks, semaphore permits), in the order it took them:
 * a cancelled task gives them back, the last first, as `async with` would. */
struct held {
  char kind[MAX_OPS]; /* 'L' or 'M' */
  int obj[MAX_OPS];
  int n;
};

static void hold(struct held *h, char kind, int obj) {
  h->kind[h->n] = kind;
  h->obj[h->n++] = obj;
}

static void unhold(struct held *h, char kind, int obj) {
  for (int i = h->n - 1; i >= 0; i--)
    if (h->kind[i] == kind && h->obj[i] == obj) {
      memmove(&h->kind[i], &h->kind[i + 1], (size_t)(h->n - i - 1));
      memmove(&h->obj[i], &h->obj[i + 1], sizeof h->obj[0] * (size_t)(h->n - i - 1));
      h->n--;
      return;
    }
}

static void give_back(struct held *h) {
  while (h->n--) {
    if (h->kind[h->n] == 'L') CHECK(weft_lock_release(locks[h->obj[h->n]]));
    else CHECK(weft_sem_release(sems[h->obj[h->n]]));
  }
}

/* Runs one op of task @self; -ECANCELED if the task was cancelled in it. */
static int run_op(int self, const struct op *o, struct held *h) {
  void *item;
  int rc;
  switch (o->code) {
  case 'N': note((char)o->arg); return 0;
  case 'Y': return suspended(weft_yield(), "yield");
  case 'S': CHECK(weft_spawn(run_task, (void *)(intptr_t)o->arg, &tasks[o->arg])); return 0;
  case 't': {
    /* `async with TaskGroup() as tg: tg.create_task(task k)`: a child that
     * cancels itself does not fail the group. */
    weft_taskgroup_t *g;
    CHECK(weft_taskgroup_enter(&g));
    CHECK(weft_taskgroup_spawn(g, run_task, (void *)(intptr_t)o->arg, NULL, &tasks[o->arg]));
    rc = weft_taskgroup_leave(g, 0);
    CHECK(weft_taskgroup_destroy(g));
    return suspended(rc, "taskgroup_leave");
  }
  case 'A':
    /* Only leaves are cancelled (order_fuzz.py): -ECANCELED is the child's. */
    rc = weft_await(weft_task_future(tasks[o->arg]), NULL);
    if (rc == -ECANCELED) note('%');
    else CHECK(rc);
    return 0;
  case 'X': CHECK(weft_task_cancel(tasks[o->arg], NULL)); return 0;
  case 'F': set_future(o->arg); return 0;
  case 'W': return suspended(weft_await(futs[o->arg], NULL), "await");
  case 'C': CHECK(weft_call_soon(cb_note, (void *)(intptr_t)o->arg, NULL)); return 0;
  case 'E': CHECK(weft_event_set(events[o->arg])); return 0;
  case 'V': return suspended(weft_event_wait(events[o->arg], -1), "event_wait");
  case 'P':
    rc = weft_queue_put_nowait(queues[o->arg], next_item());
    if (rc == -EAGAIN) note('!'); /* full: asyncio's QueueFull */
    else CHECK(rc);
    return 0;
  case 'Q': return suspended(weft_queue_get(queues[o->arg], &item, -1), "queue_get");
  case 'q':
    rc = weft_queue_get(queues[o->arg], &item, -1);
    if (!rc) note((char)(intptr_t)item);
    return suspended(rc, "queue_get");
  case 'L':
    if (suspended(weft_lock_acquire(locks[o->arg], -1), "lock_acquire")) return -ECANCELED;
    hold(h, 'L', o->arg);
    return 0;
  case 'U':
    unhold(h, 'L', o->arg);
    CHECK(weft_lock_release(locks[o->arg]));
    return 0;
  case 'M':
    if (suspended(weft_sem_acquire(sems[o->arg], -1), "sem_acquire")) return -ECANCELED;
    hold(h, 'M', o->arg);
    return 0;
  case 'R':
    unhold(h, 'M', o->arg);
    CHECK(weft_sem_release(sems[o->arg]));
    return 0;
  case 'G': {
    weft_future_t *fs[2] = {futs[o->arg], futs[(o->arg + 1) % MAX_OBJS]};
    struct weft_gather_slot slots[2];
    return suspended(weft_gather(fs, 2, 0, slots), "gather");
  }
  case 'h': {
    weft_future_t *outer;
    CHECK(weft_shield(futs[o->arg], &outer));
    rc = weft_await(outer, NULL);
    weft_future_release(outer);
    return suspended(rc, "await shield");
  }
  case 'w': {
    weft_future_t *fs[2] = {futs[o->arg], futs[(o->arg + 1) % MAX_OBJS]};
    rc = weft_wait(fs, 2, -1, WEFT_ALL_COMPLETED, NULL);
    return suspended(rc < 0 ? rc : 0, "wait");
  }
  case 'T': CHECK(weft_call_later(0, cb_note, (void *)(intptr_t)o->arg, NULL)); return 0;
  case 'B': CHECK(weft_call_soon(cb_set_future, (void *)(intptr_t)o->arg, NULL)); return 0;
  case 'Z': CHECK(weft_task_cancel(weft_task_current(), NULL)); return 0;
  case 'K': return cond_wait_released(o->arg);
  case 'k': return cond_wait_once(o->arg);
  case 'J': return cond_notify(o->arg, 0);
  case 'O':
    rc = weft_barrier_wait(barriers[o->arg], -1);
    if (rc == -ECANCELED) return rc;
    if (rc == WEFT_EBROKEN) note('~');
    else if (rc >= 0 && rc <= 9) note((char)('0' + rc));
    else CHECK(rc < 0 ? rc : -ERANGE);
    return 0;
  case 'D': CHECK(weft_barrier_reset(barriers[o->arg])); return 0;
  case 'H': CHECK(weft_event_clear(events[o->arg])); return 0;
  case 'I': return suspended(weft_queue_put(queues[o->arg], next_item(), -1), "queue_put");
  case 'g':
  case 'd':
    rc = weft_queue_get_nowait(queues[o->arg], &item);
    if (rc == -EAGAIN) note('!'); /* empty: asyncio's QueueEmpty */
    else CHECK(rc);
    if (!rc && o->code == 'd') CHECK(weft_queue_task_done(queues[o->arg]));
    return 0;
  case 'j': return suspended(weft_queue_join(queues[o->arg], -1), "queue_join");
  default: fprintf(stderr, "order_script: task %d: unknown op %c\n", self, o->code); exit(2);
  }
}

/* One item for each get the script makes on queue @arg (blocking or not),
 * put as room frees up; cancelled once every task has ended (items may be
 * left over). */
static int feed(void *arg, void **res) {
  int k = (int)(intptr_t)arg;
  for (int g = 0; g < queue_gets[k]; g++) {
    int rc = weft_queue_put(queues[k], next_item(), -1);
    if (rc == -ECANCELED) return rc;
    CHECK(rc);
  }
  return 0;
}

/* A put queue's or the join queue's reader: gets until cancelled, marking
 * each item done on the join queue. */
static int drain(void *arg, void **res) {
  int k = (int)(intptr_t)arg;
  void *item;
  for (;;) {
    int rc = weft_queue_get(queues[k], &item, -1);
    if (rc == -ECANCELED) return rc;
    CHECK(rc);
    if (k == JOIN_QUEUE) CHECK(weft_queue_task_done(queues[k]));
  }
}

/* Main (task 0) after its ops and EPILOGUE_PASSES yields: unblocks everyone
 * (every future and event set, every condition released, every barrier
 * broken, a feeder task for each queue that is read, a drainer for each put
 * queue used), awaits every task, then cancels the feeders and drainers.
 * As order_script.py's. */
static void epilogue(void) {
  weft_task_t *feeders[2 * MAX_OBJS];
  int nfeeders = 0;
  for (int i = 0; i < EPILOGUE_PASSES; i++) CHECK(weft_yield());
  for (int k = 0; k < MAX_OBJS; k++) {
    set_future(k);
    CHECK(weft_event_set(events[k]));
  }
  for (int k = 0; k < MAX_OBJS; k++) CHECK(cond_notify(k, 1)); /* main is never cancelled */
  for (int k = 0; k < MAX_OBJS; k++) CHECK(weft_barrier_abort(barriers[k]));
  for (int k = 0; k < MAX_OBJS; k++)
    if (queue_gets[k]) CHECK(weft_spawn(feed, (void *)(intptr_t)k, &feeders[nfeeders++]));
  for (int k = 0; k < MAX_OBJS; k++)
    if (queue_drained[k]) CHECK(weft_spawn(drain, (void *)(intptr_t)k, &feeders[nfeeders++]));
  for (int k = 1; k < ntasks; k++) {
    if (!tasks[k]) continue; /* its spawner ended first (cancelled, say) */
    int rc = weft_await(weft_task_future(tasks[k]), NULL);
    if (rc != -ECANCELED) CHECK(rc);
    weft_task_release(tasks[k]);
  }
  for (int i = 0; i < nfeeders; i++) {
    weft_task_cancel(feeders[i], NULL);
    int rc = weft_await(weft_task_future(feeders[i]), NULL);
    if (rc != -ECANCELED) CHECK(rc);
    weft_task_release(feeders[i]);
  }
}

/* A task cancelled in one of its ops notes '#' and ends cancelled, as
 * CancelledError ends asyncio's. */
static int run_task(void *arg, void **res) {
  int self = (int)(intptr_t)arg;
  struct held h = {.n = 0};
  for (int i = 0; i < nops[self]; i++)
    if (run_op(self, &ops[self][i], &h) == -ECANCELED) {
      note('#');
      give_back(&h);
      return -ECANCELED;
    }
  if (self == 0) epilogue();
  return 0;
}

/* "N a Y S 1;N b" - tasks separated by ';', ops by spaces; each op a code
 * and, but for Y and Z, one argument (a character for N, C and T, an index
 * else). */
static int parse(const char *s) {
  ntasks = 1;
  int t = 0;
  while (*s) {
    if (*s == ' ') { s++; continue; }
    if (*s == ';') {
      if (++t >= MAX_TASKS) return -1;
      ntasks = t + 1;
      s++;
      continue;
    }
    if (nops[t] >= MAX_OPS) return -1;
    struct op *o = &ops[t][nops[t]++];
    o->code = *s++;
    if (o->code == 'Y' || o->code == 'Z') continue;
    while (*s == ' ') s++;
    if (!*s) return -1;
    if (o->code == 'N' || o->code == 'C' || o->code == 'T') {
      o->arg = *s++;
    } else {
      char *end;
      long v = strtol(s, &end, 10);
      if (end == s || v < 0) return -1;
      if (o->code == 'S' || o->code == 'A' || o->code == 't' ? v >= MAX_TASKS : v >= MAX_OBJS) return -1;
      int put_queue = v >= FIRST_PUT_QUEUE;
      if ((o->code == 'Q' || o->code == 'q' || o->code == 'g') && !put_queue) queue_gets[v]++;
      else if ((o->code == 'P' || o->code == 'I' || o->code == 'g') && put_queue) queue_drained[v] = 1;
      else if (strchr("Pdj", o->code) && v == JOIN_QUEUE) queue_drained[v] = 1;
      o->arg = (int)v;
      s = end;
    }
  }
  return 0;
}

/* Queue k holds at most k % 4 items (0: unbounded), as order_script.py's. */
static void make_objects(void) {
  for (int k = 0; k < MAX_OBJS; k++) {
    CHECK(weft_future_new(NULL, &futs[k]));
    CHECK(weft_event_create(&events[k]));
    /* Queue 2 is LIFO, queue 3 a priority queue (as order_script.py's). */
    enum weft_queue_kind kind = k == 2 ? WEFT_QUEUE_LIFO : k == 3 ? WEFT_QUEUE_PRIORITY : WEFT_QUEUE_FIFO;
    CHECK(weft_queue_create(kind, (size_t)(k % 4), kind == WEFT_QUEUE_PRIORITY ? cmp_item : NULL, &queues[k]));
    CHECK(weft_lock_create(&locks[k]));
    CHECK(weft_sem_create(k + 1, 0, &sems[k]));
    CHECK(weft_cond_create(NULL, &conds[k]));
    CHECK(weft_barrier_create((unsigned)(k % 3 + 2), &barriers[k]));
  }
}

/* The futures stay: a callback a task left (B) may still run after the main
 * task returns, as the loop closes (asyncio drops it; weft runs it), and
 * sets one. They are reachable from futs[] until the process exits. */
static void destroy_objects(void) {
  for (int k = 0; k < MAX_OBJS; k++) {
    CHECK(weft_event_destroy(events[k]));
    CHECK(weft_queue_destroy(queues[k]));
    CHECK(weft_lock_destroy(locks[k]));
    CHECK(weft_sem_destroy(sems[k]));
    CHECK(weft_cond_destroy(conds[k]));
    CHECK(weft_barrier_destroy(barriers[k]));
  }
}

static int main_task(void *arg, void **res) {
  make_objects();
  run_task((void *)0, res);
  destroy_objects();
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3 || parse(argv[2])) {
    fprintf(stderr, "usage: order_script WORKERS SCRIPT\n");
    return 2;
  }
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = atoi(argv[1]);
  CHECK(weft_run_config(&cfg, main_task, NULL, NULL));
  int n = atomic_load(&ntrace);
  printf("%.*s\n", n < MAX_TRACE ? n : MAX_TRACE - 1, trace);
  return 0;
}
