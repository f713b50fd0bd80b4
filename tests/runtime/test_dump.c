/*
 * test_dump.c - the task dump, task stacks and the dump signal
 * (runtime/dump.c, backtrace.c, symbolize.c; weft/debug.h).
 *
 * The scene: thousands of sleepers, an event waiter, two tasks deadlocked
 * through a lock and an await, a task awaiting a future nobody else holds,
 * and (with several workers) a task spinning on another worker. Every
 * blocked task is pinned to the main task's worker, so when the main task
 * runs again after the last of them signalled, all of them have suspended
 * (one worker runs one thing at a time): the dump sees a settled scene
 * without any waiting on our part.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <unistd.h>
#include <sys/stat.h>

#include "helpers.h"

/* A body that ends in a call would tail-call it (no frame of its own on
 * the stack); the barrier keeps its frame, as real bodies with work after
 * the call have one. */
#define KEEP_FRAME(x)            \
  do {                           \
    int rc_ = (x);               \
    __asm__ volatile("" ::: "memory"); \
    return rc_;                  \
  } while (0)

static _Atomic bool stop_spin;
static _Atomic int spinning;

__attribute__((noinline)) static int sleeper_body(void *arg, void **res) {
  (void)arg;
  (void)res;
  KEEP_FRAME(weft_sleep(3600));
}

__attribute__((noinline)) static int event_body(void *arg, void **res) {
  (void)res;
  KEEP_FRAME(weft_event_wait(arg, -1));
}

__attribute__((noinline)) static int spin_body(void *arg, void **res) {
  (void)arg;
  (void)res;
  atomic_store(&spinning, 1);
  while (!atomic_load_explicit(&stop_spin, memory_order_relaxed)) {
  }
  return 0;
}

/* Awaits I/O that never comes (until the test writes). */
__attribute__((noinline)) static int reader_body(void *arg, void **res) {
  (void)res;
  char c;
  KEEP_FRAME((int)weft_read(*(int *)arg, &c, 1) == 1 ? 0 : -EIO);
}

/* Blocks its worker in a plain read(2): the wrong thing to do in a task,
 * and exactly what the dump must still show. */
static _Atomic int blocking;
__attribute__((noinline)) static int blocker_body(void *arg, void **res) {
  (void)res;
  char c;
  atomic_store(&blocking, 1);
  KEEP_FRAME(read(*(int *)arg, &c, 1) == 1 ? 0 : -EIO);
}

__attribute__((noinline)) static int leaky_body(void *arg, void **res) {
  (void)arg;
  weft_future_t *f;
  ck_assert_int_eq(weft_future_new(NULL, &f), 0);
  int rc = weft_await(f, res); /* nobody else can complete it: leaked */
  weft_future_release(f);
  return rc;
}

struct deadlock {
  weft_lock_t *lock;
  weft_event_t *a_holds;
  weft_task_t *b;
};

__attribute__((noinline)) static int dl_b_body(void *arg, void **res) {
  (void)res;
  struct deadlock *d = arg;
  int rc = weft_event_wait(d->a_holds, -1);
  if (rc) return rc;
  rc = weft_lock_acquire(d->lock, -1); /* A holds it and awaits us */
  if (rc == 0) weft_lock_release(d->lock);
  return rc;
}

__attribute__((noinline)) static int dl_a_body(void *arg, void **res) {
  struct deadlock *d = arg;
  int rc = weft_lock_acquire(d->lock, -1);
  if (rc) return rc;
  weft_event_set(d->a_holds);
  rc = weft_await(weft_task_future(d->b), res);
  weft_lock_release(d->lock);
  return rc;
}

/* The last blocked task to start sets this (pinned like the rest). */
__attribute__((noinline)) static int last_body(void *arg, void **res) {
  (void)res;
  weft_event_set(arg);
  return 0;
}

struct scene {
  unsigned workers;
  long nsleepers;
  int json_fd, text_fd;
  uint64_t sleeper0, event_id, a_id, b_id, leaky_id, spin_id, main_id, reader_id, blocker_id;
  int spin_seen, blocker_seen;
  const void *lock; /* the deadlock's lock (its address, for the object view) */
  int read_pipe[2], block_pipe[2];
};

__attribute__((noinline)) static weft_task_t *spawn_on(int worker, weft_task_fn fn, void *arg, const char *name) {
  struct weft_task_opts o;
  weft_task_opts_init(&o);
  o.worker = worker;
  o.name = name;
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn_opts(NULL, fn, arg, &o, &t), 0);
  return t;
}

static int scene_main(void *arg, void **res) {
  (void)res;
  struct scene *sc = arg;
  int here = weft_worker_index();
  sc->main_id = weft_task_id(weft_task_current());
  long n = sc->nsleepers;
  weft_task_t **sleepers = malloc((size_t)n * sizeof *sleepers);
  ck_assert_ptr_nonnull(sleepers);
  for (long i = 0; i < n; i++) sleepers[i] = spawn_on(here, sleeper_body, NULL, NULL);
  sc->sleeper0 = weft_task_id(sleepers[0]);
  weft_event_t *ev, *a_holds, *ready;
  ck_assert_int_eq(weft_event_create(&ev), 0);
  ck_assert_int_eq(weft_event_create(&a_holds), 0);
  ck_assert_int_eq(weft_event_create(&ready), 0);
  ck_assert_int_eq(weft_event_set_name(ev, "config-ready"), 0);
  weft_task_t *evt = spawn_on(here, event_body, ev, "event-waiter");
  struct deadlock d = {.a_holds = a_holds};
  ck_assert_int_eq(weft_lock_create(&d.lock), 0);
  ck_assert_int_eq(weft_lock_set_name(d.lock, "accounts"), 0);
  sc->lock = d.lock;
  d.b = spawn_on(here, dl_b_body, &d, "deadlock-b");
  weft_task_t *a = spawn_on(here, dl_a_body, &d, "deadlock-a");
  weft_task_t *leaky = spawn_on(here, leaky_body, NULL, "leaky");
  weft_task_t *spin = NULL;
  weft_task_t *reader = spawn_on(here, reader_body, &sc->read_pipe[0], "reader");
  weft_task_t *blocker = NULL;
  if (sc->workers > 1) spin = spawn_on((here + 1) % (int)sc->workers, spin_body, NULL, "spinner");
  if (sc->workers > 2) blocker = spawn_on((here + 2) % (int)sc->workers, blocker_body, &sc->block_pipe[0], "blocker");
  weft_task_t *last = spawn_on(here, last_body, ready, "last");
  ck_assert_int_eq(weft_event_wait(ready, -1), 0);
  /* B runs after A set a_holds: it was queued behind last, so give it the
   * same treatment: wait on a second signal through a yield-free path. */
  weft_task_t *last2 = spawn_on(here, last_body, ready, "last2");
  ck_assert_int_eq(weft_await(weft_task_future(last2), NULL), 0);
  sc->event_id = weft_task_id(evt);
  sc->a_id = weft_task_id(a);
  sc->b_id = weft_task_id(d.b);
  sc->leaky_id = weft_task_id(leaky);
  if (spin) sc->spin_id = weft_task_id(spin);
  if (blocker) sc->blocker_id = weft_task_id(blocker);
  sc->reader_id = weft_task_id(reader);
  sc->blocker_seen = atomic_load(&blocking);
  /* The spinner starts on its own worker, whenever that wakes: if it had
   * started before the dump, the dump finds it running there. */
  sc->spin_seen = atomic_load(&spinning);
  ck_assert_int_eq(weft_loop_dump(weft_loop_current(), sc->json_fd, WEFT_DUMP_JSON), 0);
  ck_assert_int_eq(weft_loop_dump(weft_loop_current(), sc->text_fd, WEFT_DUMP_TEXT), 0);
  /* weft_task_stack on a suspended task: exact, held still. */
  void *frames[64];
  int k = weft_task_stack(evt, frames, 64);
  ck_assert_int_gt(k, 2);
  bool found = false;
  for (int i = 0; i < k; i++) {
    char name[128];
    weft_symbolize(frames[i], i > 0, name, sizeof name);
    if (strstr(name, "event_body")) found = true;
    if (getenv("DUMP_DEBUG")) fprintf(stderr, "frame %d %s\n", i, name);
  }
  ck_assert(found);
  int pfd = scratch_file();
  ck_assert_int_ge(pfd, 0);
  ck_assert_int_eq(weft_task_print_stack(evt, pfd), 0);
  char pbuf[8192] = {0};
  ck_assert_int_gt(pread(pfd, pbuf, sizeof pbuf - 1, 0), 0);
  ck_assert_ptr_nonnull(strstr(pbuf, "event_body"));
  close(pfd);
  /* Undo the scene. */
  atomic_store(&stop_spin, true);
  ck_assert_int_eq(write(sc->read_pipe[1], "x", 1), 1);
  ck_assert_int_eq(write(sc->block_pipe[1], "x", 1), 1);
  ck_assert_int_eq(weft_await(weft_task_future(reader), NULL), 0);
  weft_task_release(reader);
  if (blocker) {
    ck_assert_int_eq(weft_await(weft_task_future(blocker), NULL), 0);
    weft_task_release(blocker);
  }
  for (long i = 0; i < n; i++) {
    weft_task_cancel(sleepers[i], NULL);
    weft_task_release(sleepers[i]);
  }
  free(sleepers);
  weft_event_set(ev);
  weft_task_cancel(a, NULL);
  weft_task_cancel(leaky, NULL);
  ck_assert_int_eq(weft_await(weft_task_future(evt), NULL), 0);
  weft_await(weft_task_future(a), NULL);
  weft_await(weft_task_future(d.b), NULL);
  weft_await(weft_task_future(leaky), NULL);
  if (spin) {
    ck_assert_int_eq(weft_await(weft_task_future(spin), NULL), 0);
    weft_task_release(spin);
  }
  weft_await(weft_task_future(last), NULL);
  weft_task_release(last);
  weft_task_release(last2);
  weft_task_release(evt);
  weft_task_release(a);
  weft_task_release(d.b);
  weft_task_release(leaky);
  weft_lock_destroy(d.lock);
  weft_event_destroy(ev);
  weft_event_destroy(a_holds);
  weft_event_destroy(ready);
  return 0;
}

static char *slurp(int fd) {
  struct stat st;
  ck_assert_int_eq(fstat(fd, &st), 0);
  char *buf = malloc((size_t)st.st_size + 1);
  ck_assert_ptr_nonnull(buf);
  ck_assert_int_eq(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
  buf[st.st_size] = '\0';
  return buf;
}

/* The JSON line of task @id, copied into @line. */
static bool task_line(const char *all, uint64_t id, char *line, size_t len) {
  char key[64];
  snprintf(key, sizeof key, "{\"type\":\"task\",\"id\":%llu,", (unsigned long long)id);
  const char *p = strstr(all, key);
  if (!p) return false;
  const char *e = strchr(p, '\n');
  size_t n = e ? (size_t)(e - p) : strlen(p);
  if (n >= len) n = len - 1;
  memcpy(line, p, n);
  line[n] = '\0';
  return true;
}

/* Task @id's JSON line contains every one of @needles (NULL-ended). */
static void expect_task(const char *json, uint64_t id, const char *const *needles) {
  static char line[16384];
  ck_assert_msg(task_line(json, id, line, sizeof line), "task %llu missing", (unsigned long long)id);
  for (; *needles; needles++) ck_assert_msg(strstr(line, *needles), "no '%s' in %s", *needles, line);
}

static int by_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void check_scene(unsigned workers) {
  atomic_store(&stop_spin, false);
  atomic_store(&spinning, 0);
  atomic_store(&blocking, 0);
  /* The size everywhere but under TSan, where every fiber is a
   * thread of its own (bounded by its limit of 8128, and slow to create and
   * to walk: 5,000 took two minutes of CI's TSan stage). 1,500 still spill
   * into the registry's second chunk (1,024 slots first: registry.h). */
#if defined(__SANITIZE_THREAD__)
  struct scene sc = {.workers = workers, .nsleepers = 1500};
#else
  struct scene sc = {.workers = workers, .nsleepers = 10000};
#endif
  ck_assert_int_eq(pipe(sc.read_pipe), 0);
  ck_assert_int_eq(pipe(sc.block_pipe), 0);
  sc.json_fd = scratch_file();
  sc.text_fd = scratch_file();
  ck_assert_int_ge(sc.json_fd, 0);
  ck_assert_int_ge(sc.text_fd, 0);
  struct weft_task_opts o;
  weft_task_opts_init(&o);
  o.worker = 0;
  weft_loop_t *loop = make_loop(workers);
  /* The dump runs on the main task's worker: with 10,000 tasks it may hold
   * it longer than the stall threshold, which is not what this tests. */
  ck_assert_int_eq(weft_loop_set_stall_threshold(loop, 0), 0);
  weft_task_t *m;
  ck_assert_int_eq(weft_spawn_opts(loop, scene_main, &sc, &o, &m), 0);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(m), NULL), 0);
  weft_task_release(m);
  close_clean(loop);

  char *json = slurp(sc.json_fd), *text = slurp(sc.text_fd);
  /* Every task once: the sleepers, the scene's tasks (main, event, a, b,
   * leaky, reader, the spinner, the blocker; last and last2 have ended). */
  long extra = 6 + (workers > 1) + (workers > 2);
  uint64_t *ids = malloc((size_t)(sc.nsleepers + extra + 16) * sizeof *ids);
  size_t nids = 0;
  for (const char *p = json; (p = strstr(p, "{\"type\":\"task\",\"id\":")); p++) {
    ck_assert_uint_lt(nids, (size_t)(sc.nsleepers + extra + 16));
    ids[nids++] = strtoull(p + strlen("{\"type\":\"task\",\"id\":"), NULL, 10);
  }
  qsort(ids, nids, sizeof *ids, by_u64);
  for (size_t i = 1; i < nids; i++) ck_assert_uint_ne(ids[i], ids[i - 1]);
  ck_assert_int_eq((long)nids, sc.nsleepers + extra);
  free(ids);

  char line[16384];
  expect_task(json, sc.sleeper0, (const char *[]){"\"state\":\"suspended\"", "\"kind\":\"sleep\"",
                                                "sleeper_body", "\"spawned_at\":\"spawn_on", NULL});
  expect_task(json, sc.event_id,
              (const char *[]){"\"kind\":\"event\"", "\"name\":\"config-ready\"", "event_body", NULL});
  expect_task(json, sc.leaky_id, (const char *[]){"\"leaked\":true", "leaky_body", NULL});
  expect_task(json, sc.a_id,
              (const char *[]){"\"kind\":\"future\"", "\"deadlock\":true", "dl_a_body", NULL});
  expect_task(json, sc.b_id, (const char *[]){"\"kind\":\"lock\"", "\"name\":\"accounts\"",
                                              "\"deadlock\":true", "dl_b_body", NULL});
  ck_assert_ptr_nonnull(strstr(json, "{\"type\":\"cycle\",\"tasks\":["));
  expect_task(json, sc.main_id, (const char *[]){"\"state\":\"running\"", "scene_main", NULL});
  if (workers > 1 && sc.spin_seen) {
    ck_assert(task_line(json, sc.spin_id, line, sizeof line));
    ck_assert_ptr_nonnull(strstr(line, "\"state\":\"running\""));
#if !defined(__SANITIZE_THREAD__)
    /* TSan delivers signals to a thread only at its next interception
     * point, which a bare spin never reaches: the capture times out there. */
    ck_assert_ptr_nonnull(strstr(line, "spin_body"));
#endif
  }
  ck_assert(task_line(json, sc.reader_id, line, sizeof line));
  ck_assert_ptr_nonnull(strstr(line, "\"kind\":\"io\""));
  ck_assert_ptr_nonnull(strstr(line, "reader_body"));
  if (workers > 2 && sc.blocker_seen) {
    /* Running, stuck in the kernel: its live stack still names it. */
    ck_assert(task_line(json, sc.blocker_id, line, sizeof line));
    ck_assert_ptr_nonnull(strstr(line, "\"state\":\"running\""));
#if !defined(__SANITIZE_THREAD__)
    /* TSan defers signals and hands the handler its own context: the
     * capture is best effort there (docs/debug.md). */
    ck_assert_msg(strstr(line, "blocker_body"), "%s", line);
#endif
  }
  /* The text form: grouped sleepers with a count, the cycle spelled out. */
  char want[160];
  snprintf(want, sizeof want, "%ld tasks: suspended, sleep", sc.nsleepers);
  ck_assert_msg(strstr(text, want), "no group line '%s'", want);
  ck_assert_ptr_nonnull(strstr(text, "DEADLOCK: task"));
  /* The object view: the named lock with its one waiter, the named event. */
  ck_assert_ptr_nonnull(strstr(text, "Waited on:\n"));
  snprintf(want, sizeof want, "  lock \"accounts\" %p: 1 task (%" PRIu64 "); held by task %" PRIu64, (void *)sc.lock,
           sc.b_id, sc.a_id);
  ck_assert_msg(strstr(text, want), "no object line '%s'", want);
  ck_assert_ptr_nonnull(strstr(text, "  event \"config-ready\" 0x"));
  ck_assert_ptr_nonnull(strstr(text, "I/O in flight:\n"));
  snprintf(want, sizeof want, "\"reader\": io read on fd %d", sc.read_pipe[0]);
  ck_assert_msg(strstr(text, want), "no I/O line '%s'", want);
  ck_assert_ptr_nonnull(strstr(text, "=== end of dump ==="));
  free(json);
  free(text);
  for (int i = 0; i < 2; i++) {
    close(sc.read_pipe[i]);
    close(sc.block_pipe[i]);
  }
  close(sc.json_fd);
  close(sc.text_fd);
}

START_TEST(dump_one_worker) { check_scene(1); }
END_TEST

START_TEST(dump_four_workers) { check_scene(4); }
END_TEST

START_TEST(dump_bad_input) {
  /* Names of sync objects: set, read back, cleared; NULL objects refused. */
  ck_assert_int_eq(weft_lock_set_name(NULL, "x"), -EINVAL);
  ck_assert_int_eq(weft_event_set_name(NULL, "x"), -EINVAL);
  ck_assert_int_eq(weft_cond_set_name(NULL, "x"), -EINVAL);
  ck_assert_int_eq(weft_sem_set_name(NULL, "x"), -EINVAL);
  ck_assert_int_eq(weft_barrier_set_name(NULL, "x"), -EINVAL);
  ck_assert_int_eq(weft_queue_set_name(NULL, "x"), -EINVAL);
  ck_assert_ptr_null(weft_lock_name(NULL));
  ck_assert_ptr_null(weft_queue_name(NULL));
  ck_assert_ptr_null(weft_event_name(NULL));
  weft_event_t *ev;
  ck_assert_int_eq(weft_event_create(&ev), 0);
  ck_assert_ptr_null(weft_event_name(ev));
  ck_assert_int_eq(weft_event_set_name(ev, "ready"), 0);
  ck_assert_str_eq(weft_event_name(ev), "ready");
  ck_assert_int_eq(weft_event_set_name(ev, NULL), 0);
  ck_assert_ptr_null(weft_event_name(ev));
  ck_assert_int_eq(weft_event_destroy(ev), 0);
  weft_sem_t *sem;
  weft_queue_t *q;
  weft_barrier_t *bar;
  weft_cond_t *cond;
  ck_assert_int_eq(weft_sem_create(1, 0, &sem), 0);
  ck_assert_int_eq(weft_queue_create(WEFT_QUEUE_FIFO, 0, NULL, &q), 0);
  ck_assert_int_eq(weft_barrier_create(2, &bar), 0);
  ck_assert_int_eq(weft_cond_create(NULL, &cond), 0);
  ck_assert_ptr_null(weft_sem_name(sem));
  ck_assert_int_eq(weft_sem_set_name(sem, "pool"), 0);
  ck_assert_int_eq(weft_queue_set_name(q, "jobs"), 0);
  ck_assert_int_eq(weft_barrier_set_name(bar, "phase"), 0);
  ck_assert_int_eq(weft_cond_set_name(cond, "cv"), 0);
  ck_assert_str_eq(weft_sem_name(sem), "pool");
  ck_assert_str_eq(weft_queue_name(q), "jobs");
  ck_assert_str_eq(weft_barrier_name(bar), "phase");
  ck_assert_str_eq(weft_cond_name(cond), "cv");
  ck_assert_int_eq(weft_queue_set_name(q, NULL), 0);
  ck_assert_ptr_null(weft_queue_name(q));
  weft_sem_destroy(sem);
  weft_queue_destroy(q);
  weft_barrier_destroy(bar);
  weft_cond_destroy(cond);
  weft_loop_t *loop = make_loop(1);
  ck_assert_int_eq(weft_loop_dump(NULL, 1, WEFT_DUMP_TEXT), -EINVAL);
  ck_assert_int_eq(weft_loop_dump(loop, -1, WEFT_DUMP_TEXT), -EINVAL);
  ck_assert_int_eq(weft_loop_dump(loop, 1, 7), -EINVAL);
  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  close(fds[0]);
  signal(SIGPIPE, SIG_IGN);
  ck_assert_int_eq(weft_loop_dump(loop, fds[1], WEFT_DUMP_TEXT), -EPIPE);
  close(fds[1]);
  /* A loop at rest dumps (no tasks, workers idle). */
  int fd = scratch_file();
  ck_assert_int_eq(weft_loop_dump(loop, fd, WEFT_DUMP_TEXT), 0);
  close(fd);
  ck_assert_int_eq(weft_task_stack(NULL, NULL, 0), -EINVAL);
  char b[8];
  ck_assert_int_eq(weft_symbolize(NULL, 0, NULL, 0), -EINVAL);
  ck_assert_int_eq(weft_symbolize((void *)weft_loop_dump, 0, b, sizeof b), 0);
  ck_assert_uint_lt(strlen(b), sizeof b);
  weft_loop_t *held = weft_loop_ref(loop);
  ck_assert_int_ge(weft_loop_close(loop), 0); /* our reference keeps its memory */
  ck_assert_int_eq(weft_loop_dump(held, 1, WEFT_DUMP_TEXT), WEFT_ECLOSED);
  weft_loop_release(held);
}
END_TEST

/* The dump signal: raise it from a task; the monitor writes the dump to
 * the file; close returns after the monitor has finished it. */
static int raiser(void *arg, void **res) {
  (void)arg;
  (void)res;
  return raise(SIGUSR1) == 0 ? 0 : -EIO;
}

START_TEST(dump_signal_writes_file) {
  char path[64];
  int fd = named_scratch_file("dump-signal", path, sizeof path);
  ck_assert_int_ge(fd, 0);
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 2;
  cfg.dump_signal = SIGUSR1;
  cfg.dump_path = path;
  weft_loop_t *loop, *other;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), 0);
  ck_assert_int_eq(weft_loop_new(&cfg, &other), -EBUSY); /* one loop per signal */
  cfg.dump_signal = SIGKILL;
  ck_assert_int_eq(weft_loop_new(&cfg, &other), -EINVAL);
  cfg.dump_signal = 0;
  cfg.stall_ms = -2;
  ck_assert_int_eq(weft_loop_new(&cfg, &other), -EINVAL);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn_opts(loop, raiser, NULL, NULL, &t), 0);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), NULL), 0);
  weft_task_release(t);
  close_clean(loop);
  char *all = slurp(fd);
  ck_assert_ptr_nonnull(strstr(all, "=== weft task dump: 2 workers"));
  ck_assert_ptr_nonnull(strstr(all, "=== end of dump ==="));
  free(all);
  close(fd);
  unlink(path);
  /* The signal's old disposition is back. */
  struct sigaction sa;
  ck_assert_int_eq(sigaction(SIGUSR1, NULL, &sa), 0);
  ck_assert_ptr_eq(sa.sa_handler, SIG_DFL);
}
END_TEST

/* Fork-join: transfer holds the lock and awaits auditor before auditor
 * started, so it runs auditor inline on its own fiber; auditor then queues
 * for the lock. The dump shows transfer waiting for auditor (not
 * "running") and the cycle. One worker in LOCALITY order makes the order
 * exact: spawn last, auditor, transfer -> transfer takes the LIFO slot and
 * runs first, last runs after auditor blocked and wakes the main task. */
static weft_lock_t *bank_lock;
static weft_task_t *auditor_task;

__attribute__((noinline)) static int auditor_body(void *arg, void **res) {
  (void)arg;
  (void)res;
  KEEP_FRAME(weft_lock_acquire(bank_lock, -1));
}

__attribute__((noinline)) static int transfer_body(void *arg, void **res) {
  (void)arg;
  int rc = weft_lock_acquire(bank_lock, -1);
  if (rc) return rc;
  rc = weft_await(weft_task_future(auditor_task), res);
  weft_lock_release(bank_lock);
  return rc;
}

static int bank_main(void *arg, void **res) {
  (void)res;
  int fd = *(int *)arg;
  weft_event_t *ready;
  ck_assert_int_eq(weft_event_create(&ready), 0);
  ck_assert_int_eq(weft_lock_create(&bank_lock), 0);
  ck_assert_int_eq(weft_lock_set_name(bank_lock, "bank"), 0);
  ck_assert_str_eq(weft_lock_name(bank_lock), "bank");
  weft_task_t *last, *transfer;
  struct weft_task_opts o;
  weft_task_opts_init(&o);
  ck_assert_int_eq(weft_spawn(last_body, ready, &last), 0);
  o.name = "auditor";
  ck_assert_int_eq(weft_spawn_opts(NULL, auditor_body, NULL, &o, &auditor_task), 0);
  o.name = "transfer";
  ck_assert_int_eq(weft_spawn_opts(NULL, transfer_body, NULL, &o, &transfer), 0);
  ck_assert_int_eq(weft_event_wait(ready, -1), 0);
  ck_assert_int_eq(weft_loop_dump(weft_loop_current(), fd, WEFT_DUMP_TEXT), 0);
  weft_task_cancel(transfer, NULL);
  weft_await(weft_task_future(transfer), NULL);
  weft_await(weft_task_future(auditor_task), NULL);
  weft_await(weft_task_future(last), NULL);
  weft_task_release(transfer);
  weft_task_release(auditor_task);
  weft_task_release(last);
  weft_lock_destroy(bank_lock);
  weft_event_destroy(ready);
  return 0;
}

START_TEST(dump_inline_deadlock) {
  int fd = scratch_file();
  ck_assert_int_ge(fd, 0);
  weft_loop_t *loop = make_loop_order(1, WEFT_ORDER_LOCALITY);
  weft_task_t *m;
  ck_assert_int_eq(weft_spawn_opts(loop, bank_main, &fd, NULL, &m), 0);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(m), NULL), 0);
  weft_task_release(m);
  close_clean(loop);
  char *text = slurp(fd);
  ck_assert_msg(strstr(text, "DEADLOCK: task"), "%s", text);
  ck_assert_msg(strstr(text, "\"transfer\": suspended, awaits task"), "%s", text);
  ck_assert_msg(strstr(text, "running it inline"), "%s", text);
  ck_assert_msg(strstr(text, "lock \"bank\" 0x"), "%s", text);
  ck_assert_msg(strstr(text, "auditor_body"), "%s", text);
  free(text);
  close(fd);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("dump");
  TCase *tc = tcase_create("dump");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, dump_one_worker);
  tcase_add_test(tc, dump_four_workers);
  tcase_add_test(tc, dump_bad_input);
#if !defined(WEFT__SHUFFLE)
  /* The shuffle build plays with the LIFO slot this scene's order needs. */
  tcase_add_test(tc, dump_inline_deadlock);
#endif
  tcase_add_test(tc, dump_signal_writes_file);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
