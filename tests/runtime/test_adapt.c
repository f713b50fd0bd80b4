/* test_adapt.c - runtime/adapt.c and the standby workers it makes
 * (worker.c): the controller's decision on measured windows, a standby
 * running only the work pinned to it, a standby woken when it serves
 * again, the controller bringing a standby back for a worker held by one
 * task, a stream's receive following its reader off a standby, and roles
 * changing under load (TSan). */
#include "helpers.h"

#include "adapt.h"
#include "loop.h"
#include "stream.h"

#include <pthread.h>
#include <sys/socket.h>

#define MS 1000000ull

/* A loop of @workers whose serving count only the test changes (no
 * controller, whatever $WEFT_ADAPT_WORKERS says). */
static weft_loop_t *make_loop_fixed(unsigned workers) {
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = workers;
  cfg.adapt_workers = 0;
  weft_loop_t *loop = NULL;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), 0);
  return loop;
}

/* Open descriptors of this process; with @schedstat_only, only those open
 * on a thread's scheduler statistics. */
static int count_fds(bool schedstat_only) {
  int n = 0;
  char path[64], target[256];
  for (int fd = 0; fd < 4096; fd++) {
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(path, target, sizeof target - 1);
    if (len < 0) continue;
    target[len] = '\0';
    n += !schedstat_only || strstr(target, "/schedstat") != NULL;
  }
  return n;
}

/* ---- the decision ------------------------------------------------------- */

static unsigned decide(unsigned nworkers, unsigned serving, double run, double wait, double all,
                       bool held) {
  struct weft__adapt_window w = {.len_ns = 100 * MS, .nworkers = nworkers, .serving = serving,
                                 .run_ns = (uint64_t)(run * 100 * MS),
                                 .wait_ns = (uint64_t)(wait * 100 * MS),
                                 .all_run_ns = (uint64_t)(all * 100 * MS), .held = held};
  return weft__adapt_decide(&w);
}

START_TEST(decide_on_measured_windows) {
  /* Figures are CPUs' worth over the window (benchmarks/RESULTS.md,
   * 2026-12-03: an echo server's two workers beside a client, with and
   * without a busy process). */
  ck_assert_uint_eq(decide(2, 2, 0.94, 0.76, 0.94, false), 1); /* waiting, one CPU's worth */
  ck_assert_uint_eq(decide(2, 2, 0.71, 0.73, 0.71, false), 1); /* beside a busy loop */
  ck_assert_uint_eq(decide(2, 2, 1.33, 0.67, 1.33, false), 2); /* compute: 2 threads get more */
  ck_assert_uint_eq(decide(4, 4, 2.00, 2.00, 2.00, false), 3); /* 4 compute workers, 2 CPUs */
  ck_assert_uint_eq(decide(4, 2, 2.00, 0.00, 2.00, false), 3); /* saturated, no wait: grow */
  ck_assert_uint_eq(decide(2, 1, 0.97, 0.00, 0.97, false), 2); /* saturated one */
  ck_assert_uint_eq(decide(2, 1, 0.90, 0.00, 0.90, false), 1); /* asleep 10%: enough */
  ck_assert_uint_eq(decide(2, 1, 0.80, 0.19, 0.80, false), 1); /* saturated but waiting */
  ck_assert_uint_eq(decide(2, 2, 0.20, 0.01, 0.20, false), 2); /* light load: nothing */
  ck_assert_uint_eq(decide(2, 2, 0.04, 0.04, 0.04, false), 2); /* too little to judge */
  ck_assert_uint_eq(decide(2, 2, 0.10, 0.10, 0.10, false), 1); /* enough, and waiting */
  ck_assert_uint_eq(decide(4, 2, 0.00, 0.00, 0.00, true), 3);  /* held by one task */
  /* Bounds: never below one, never above the workers, nothing on no data. */
  ck_assert_uint_eq(decide(2, 1, 0.50, 0.50, 0.50, false), 1);
  ck_assert_uint_eq(decide(2, 2, 2.00, 0.00, 2.00, false), 2);
  ck_assert_uint_eq(decide(2, 2, 0.00, 0.00, 0.00, true), 2);
  ck_assert_uint_eq(decide(2, 2, 0.00, 0.00, 0.00, false), 2);
  struct weft__adapt_window none = {.len_ns = 0, .nworkers = 2, .serving = 2, .wait_ns = 1};
  ck_assert_uint_eq(weft__adapt_decide(&none), 2);
}
END_TEST

START_TEST(config_is_checked) {
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  ck_assert_int_eq(cfg.adapt_workers, WEFT_ADAPT_DEFAULT);
  weft_loop_t *loop = NULL;
  cfg.adapt_workers = 2;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), -EINVAL);
  cfg.adapt_workers = -2;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), -EINVAL);
  ck_assert_int_eq(weft_loop_serving_workers(NULL), -EINVAL);
  cfg.adapt_workers = 1;
  cfg.workers = 3;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), 0);
  ck_assert_int_eq(weft_loop_serving_workers(loop), 3);
  close_clean(loop);
}
END_TEST

/* Whether a loop made from @cfg runs the controller, with
 * $WEFT_ADAPT_WORKERS set to @env (NULL: unset). The test puts the
 * variable back as it found it (with CK_FORK=no its process goes on). */
static bool adapts(const struct weft_loop_config *cfg, const char *env) {
  if (env)
    ck_assert_int_eq(setenv("WEFT_ADAPT_WORKERS", env, 1), 0);
  else
    ck_assert_int_eq(unsetenv("WEFT_ADAPT_WORKERS"), 0);
  weft_loop_t *loop = NULL;
  ck_assert_int_eq(weft_loop_new(cfg, &loop), 0);
  bool on = loop->adapt != NULL;
  close_clean(loop);
  return on;
}

START_TEST(default_adapts_unless_pinned_or_told_not) {
  const char *was = getenv("WEFT_ADAPT_WORKERS");
  char *saved = was ? strdup(was) : NULL;
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 2;
  ck_assert(adapts(&cfg, NULL));
  ck_assert(adapts(&cfg, "1"));
  ck_assert(!adapts(&cfg, "0"));
  ck_assert(adapts(&cfg, "yes")); /* not 0 or 1: the default */
  cfg.pin_workers = 1;            /* the program placed its workers */
  ck_assert(!adapts(&cfg, NULL));
  ck_assert(adapts(&cfg, "1"));
  cfg.adapt_workers = 1; /* the config wins over the environment */
  ck_assert(adapts(&cfg, "0"));
  cfg.pin_workers = 0;
  cfg.adapt_workers = 0;
  ck_assert(!adapts(&cfg, "1"));
  ck_assert(!adapts(&cfg, NULL));
  cfg.adapt_workers = WEFT_ADAPT_DEFAULT;
  cfg.workers = 1; /* nothing to take out of service */
  ck_assert(!adapts(&cfg, NULL));
  if (saved) setenv("WEFT_ADAPT_WORKERS", saved, 1);
  free(saved);
}
END_TEST

/* ---- a standby runs only what is pinned to it ------------------------- */

static _Atomic unsigned ran_on; /* bit i: something unpinned ran on worker i */
static _Atomic int pinned_wrong;

static void note_worker(void) { atomic_fetch_or(&ran_on, 1u << weft_worker_index()); }

static int roamer(void *arg, void **res) {
  (void)arg;
  for (int i = 0; i < 5; i++) {
    note_worker();
    ck_assert_int_eq(weft_yield(), 0);
    note_worker();
    ck_assert_int_eq(weft_sleep_ns(i % 2 ? 1000000 : 0), 0);
  }
  note_worker();
  return 0;
}

static int stay_pinned(void *arg, void **res) {
  int want = (int)(intptr_t)arg;
  for (int i = 0; i < 5; i++) {
    if (weft_worker_index() != want) atomic_fetch_add(&pinned_wrong, 1);
    ck_assert_int_eq(weft_yield(), 0);
    ck_assert_int_eq(weft_sleep_ns(500000), 0);
    /* What it wakes from a standby is not pinned: it goes elsewhere. */
    weft_task_t *t;
    ck_assert_int_eq(weft_spawn(roamer, NULL, &t), 0);
    ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
    weft_task_release(t);
  }
  if (weft_worker_index() != want) atomic_fetch_add(&pinned_wrong, 1);
  return 0;
}

static int standby_main(void *arg, void **res) {
  note_worker();
  weft_task_t *p[3];
  for (int w = 1; w <= 3; w++) ck_assert_int_eq(spawn_pinned(w, stay_pinned, (void *)(intptr_t)w, &p[w - 1]), 0);
  spawn_and_join(roamer, NULL, 64);
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(p[i]), NULL), 0);
    weft_task_release(p[i]);
  }
  note_worker();
  return 0;
}

START_TEST(standby_runs_only_pinned_work) {
  weft_loop_t *loop = make_loop_fixed(4);
  weft__adapt_set_serving(loop, 1);
  ck_assert_int_eq(weft_loop_serving_workers(loop), 1);
  atomic_store(&ran_on, 0);
  atomic_store(&pinned_wrong, 0);
  for (int run = 0; run < 2; run++) { /* the roles stay between runs */
    weft_task_t *t;
    ck_assert_int_eq(weft_spawn_opts(loop, standby_main, NULL, NULL, &t), 0);
    ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), NULL), 0);
    weft_task_release(t);
  }
  unsigned on = atomic_load(&ran_on);
  ck_assert_uint_eq(on, 1u); /* worker 0 only */
  ck_assert_int_eq(atomic_load(&pinned_wrong), 0);
  ck_assert_int_eq(weft_loop_serving_workers(loop), 1);
  /* What the counters, the metrics and the dump say of it. */
  struct weft_worker_stats ws;
  ck_assert_int_eq(weft_loop_worker_stats(loop, 0, &ws), 0);
  ck_assert_uint_eq(ws.standby, 0);
  ck_assert_int_eq(weft_loop_worker_stats(loop, 3, &ws), 0);
  ck_assert_uint_eq(ws.standby, 1);
  struct weft_loop_stats ls;
  ck_assert_int_eq(weft_loop_get_stats(loop, &ls), 0);
  ck_assert_uint_eq(ls.serving, 1);
  ck_assert_uint_eq(ls.serving_changes, 1);
  ck_assert_uint_eq(ls.total.standby, 3);
  char buf[8192];
  ck_assert_int_lt(weft_loop_stats_format(loop, buf, sizeof buf), (int)sizeof buf);
  ck_assert_ptr_nonnull(strstr(buf, "weft_serving_workers 1\n"));
  ck_assert_ptr_nonnull(strstr(buf, "weft_worker_standby{worker=\"2\"} 1\n"));
  FILE *f = tmpfile();
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(weft_loop_dump(loop, fileno(f), WEFT_DUMP_TEXT), 0);
  rewind(f);
  size_t got = fread(buf, 1, sizeof buf - 1, f);
  buf[got] = '\0';
  fclose(f);
  ck_assert_ptr_nonnull(strstr(buf, "worker 1 (standby): "));
  ck_assert_ptr_null(strstr(buf, "worker 0 (standby)"));
  close_clean(loop);
}
END_TEST

/* ---- a worker held by one task; a standby brought back --------------- */

static pthread_mutex_t hold_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_c = PTHREAD_COND_INITIALIZER;
static bool holding, released;
static _Atomic int releaser_worker;

/* Holds its worker's thread (a blocking call, as a misbehaving task would)
 * until another task releases it: only another worker can run that one. */
static int holder(void *arg, void **res) {
  weft_task_t *rel = arg;
  pthread_mutex_lock(&hold_m);
  holding = true;
  pthread_cond_broadcast(&hold_c);
  while (!released) pthread_cond_wait(&hold_c, &hold_m);
  pthread_mutex_unlock(&hold_m);
  return weft_await(weft_task_future(rel), NULL);
}

static int releaser(void *arg, void **res) {
  (void)arg;
  atomic_store(&releaser_worker, weft_worker_index());
  pthread_mutex_lock(&hold_m);
  released = true;
  pthread_cond_broadcast(&hold_c);
  pthread_mutex_unlock(&hold_m);
  return 0;
}

/* Runs holder (pinned to worker 0) and releaser (anywhere) on @loop, whose
 * only serving worker is worker 0; @bring_back (if set) runs on a thread
 * of its own once worker 0 is held. */
static void run_held(weft_loop_t *loop, void *(*bring_back)(void *)) {
  holding = released = false;
  atomic_store(&releaser_worker, -1);
  weft__adapt_set_serving(loop, 1);
  weft_task_t *rel, *h;
  ck_assert_int_eq(weft_spawn_opts(loop, releaser, NULL, NULL, &rel), 0);
  struct weft_task_opts o;
  weft_task_opts_init(&o);
  o.worker = 0;
  ck_assert_int_eq(weft_spawn_opts(loop, holder, rel, &o, &h), 0);
  pthread_t th;
  if (bring_back) ck_assert_int_eq(pthread_create(&th, NULL, bring_back, loop), 0);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(h), NULL), 0);
  if (bring_back) pthread_join(th, NULL);
  weft_task_release(h);
  weft_task_release(rel);
  ck_assert_int_eq(atomic_load(&releaser_worker), 1);
}

static void *serve_two_when_held(void *arg) {
  pthread_mutex_lock(&hold_m);
  while (!holding) pthread_cond_wait(&hold_c, &hold_m);
  pthread_mutex_unlock(&hold_m);
  weft__adapt_set_serving(arg, 2); /* worker 1 sleeps as a standby: this must wake it */
  return NULL;
}

START_TEST(standby_woken_to_serve_again) {
  weft_loop_t *loop = make_loop_fixed(2);
  run_held(loop, serve_two_when_held);
  ck_assert_int_eq(weft_loop_serving_workers(loop), 2);
  close_clean(loop);
}
END_TEST

START_TEST(controller_brings_a_standby_back_for_a_held_worker) {
  if (access("/proc/thread-self/schedstat", R_OK) != 0) return; /* no statistics: it never changes */
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 2;
  cfg.adapt_workers = 1;
  cfg.stall_ms = 0; /* no stall report for the holder */
  weft_loop_t *loop = NULL;
  int fds = count_fds(false);
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), 0);
  run_held(loop, NULL); /* completes only if the monitor makes worker 1 serve */
  /* It reads the statistics without keeping them open: at most the one a
   * read in progress on the monitor thread holds, not one per worker. */
  ck_assert_int_le(count_fds(true), 1);
  close_clean(loop);
  ck_assert_int_eq(count_fds(false), fds); /* and nothing is left open */
}
END_TEST

/* ---- a stream's receive leaves a worker that turns standby ------------- */

static int first_read(void *arg, void **res) {
  char c;
  ck_assert_int_eq(weft_reader_readexactly(arg, &c, 1, NULL), 1);
  ck_assert_int_eq(c, 'a');
  return 0;
}

struct stream_case {
  weft_reader_t *r;
  int peer;
};

static int stream_main(void *arg, void **res) {
  struct stream_case *sc = arg;
  struct weft__stream *s = sc->r->s;
  weft_loop_t *loop = weft_loop_current();
  ck_assert_int_eq(write(sc->peer, "a", 1), 1);
  weft_task_t *t;
  ck_assert_int_eq(spawn_pinned(1, first_read, sc->r, &t), 0); /* receives ahead on worker 1 */
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  bool pushing = s->rx_mode == WEFT__RX_PUSH;
  if (pushing) ck_assert_ptr_eq(s->rx_reactor, &loop->workers[1].reactor);
  weft__adapt_set_serving(loop, 1);
  for (char c = 'b'; c <= 'z'; c++) {
    ck_assert_int_eq(write(sc->peer, &c, 1), 1);
    char got;
    ck_assert_int_eq(weft_reader_readexactly(sc->r, &got, 1, NULL), 1);
    ck_assert_int_eq(got, c);
  }
  /* Worker 1 cancelled it; the reader started it again on worker 0. */
  if (pushing) {
    weft__amutex_lock(&s->lock);
    bool inflight = s->rx_inflight;
    struct weft__reactor *where = s->rx_reactor;
    weft__amutex_unlock(&s->lock);
    ck_assert(inflight);
    ck_assert_ptr_eq(where, &loop->workers[0].reactor);
  }
  return 0;
}

/* A stream over one end of a socket pair in @sc (the other end its peer),
 * @main(@arg) run on a two-worker loop without a controller, then all of
 * it closed. */
static void run_stream_case(struct stream_case *sc, weft_task_fn main, void *arg) {
  int sv[2];
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  sc->peer = sv[1];
  weft_writer_t *w;
  ck_assert_int_eq(weft_stream_open_fd(sv[0], sv[0], 0, &sc->r, &w), 0);
  weft_loop_t *loop = make_loop_fixed(2);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn_opts(loop, main, arg, NULL, &t), 0);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), NULL), 0);
  weft_task_release(t);
  weft_reader_release(sc->r);
  ck_assert_int_eq(weft_writer_close(w), 0);
  weft_writer_release(w);
  close(sv[1]);
  close_clean(loop);
}

START_TEST(stream_receive_follows_its_reader) {
  struct stream_case sc;
  run_stream_case(&sc, stream_main, &sc);
}
END_TEST

/* ---- a stream's receive comes back to a worker that serves again ------- */

struct regrow_case {
  struct stream_case sc;
  char next;
};

static int read_next(void *arg, void **res) {
  struct regrow_case *rc = arg;
  char c = rc->next++, got;
  ck_assert_int_eq(write(rc->sc.peer, &c, 1), 1);
  ck_assert_int_eq(weft_reader_readexactly(rc->sc.r, &got, 1, NULL), 1);
  ck_assert_int_eq(got, c);
  return 0;
}

/* A byte through the stream, read by a task on worker @i. */
static void read_on(struct regrow_case *rc, unsigned i) {
  weft_task_t *t;
  ck_assert_int_eq(spawn_pinned(i, read_next, rc, &t), 0);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
}

static struct weft__reactor *rx_where(struct weft__stream *s) {
  weft__amutex_lock(&s->lock);
  struct weft__reactor *where = s->rx_inflight ? s->rx_reactor : NULL;
  weft__amutex_unlock(&s->lock);
  return where;
}

static int regrow_main(void *arg, void **res) {
  struct regrow_case *rc = arg;
  struct weft__stream *s = rc->sc.r->s;
  weft_loop_t *loop = weft_loop_current();
  read_on(rc, 0); /* the receive stands on worker 0 */
  if (s->rx_mode != WEFT__RX_PUSH) return 0; /* pulling: nothing stands */
  ck_assert_ptr_eq(rx_where(s), &loop->workers[0].reactor);
  weft__adapt_set_serving(loop, 1);
  read_on(rc, 0); /* worker 0 has passed with one serving: nothing moves */
  ck_assert_ptr_eq(rx_where(s), &loop->workers[0].reactor);
  weft__adapt_set_serving(loop, 2);
  /* Worker 0 cancels its standing receive at its next pass (the next
   * completion wakes it); the reader on worker 1 starts it again there. */
  while (rc->next <= 'z') read_on(rc, 1);
  ck_assert_ptr_eq(rx_where(s), &loop->workers[1].reactor);
  return 0;
}

START_TEST(a_grow_hands_standing_receives_back) {
  struct regrow_case rc = {.next = 'a'};
  run_stream_case(&rc.sc, regrow_main, &rc);
}
END_TEST

/* ---- roles change under load ----------------------------------------- */

enum { PAIRS = 32 };
static _Atomic bool load_done;
static _Atomic long exchanged;

static int pong(void *arg, void **res) {
  weft_queue_t **q = arg;
  for (;;) {
    void *v;
    int rc = weft_queue_get(q[0], &v, -1);
    if (rc) return rc;
    if (!v) return 0;
    ck_assert_int_eq(weft_queue_put(q[1], v, -1), 0);
  }
}

static int ping(void *arg, void **res) {
  long rounds = scaled(2000);
  weft_queue_t *q[2];
  ck_assert_int_eq(weft_queue_create(WEFT_QUEUE_FIFO, 1, NULL, &q[0]), 0);
  ck_assert_int_eq(weft_queue_create(WEFT_QUEUE_FIFO, 1, NULL, &q[1]), 0);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(pong, q, &t), 0);
  for (long i = 1; i <= rounds; i++) {
    ck_assert_int_eq(weft_queue_put(q[0], (void *)i, -1), 0);
    void *v;
    ck_assert_int_eq(weft_queue_get(q[1], &v, -1), 0);
    ck_assert_int_eq((long)v, i);
    atomic_fetch_add(&exchanged, 1);
    if (i % 64 == 0) ck_assert_int_eq(weft_sleep_ns(100000), 0);
  }
  ck_assert_int_eq(weft_queue_put(q[0], NULL, -1), 0);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  ck_assert_int_eq(weft_queue_destroy(q[0]), 0);
  ck_assert_int_eq(weft_queue_destroy(q[1]), 0);
  return 0;
}

static int load_main(void *arg, void **res) {
  weft_task_t *p[4];
  for (int w = 0; w < 4; w++) ck_assert_int_eq(spawn_pinned(w, roamer, NULL, &p[w]), 0);
  spawn_and_join(ping, NULL, PAIRS);
  for (int w = 0; w < 4; w++) {
    ck_assert_int_eq(weft_await(weft_task_future(p[w]), NULL), 0);
    weft_task_release(p[w]);
  }
  atomic_store(&load_done, true);
  return 0;
}

static void *toggle_roles(void *arg) {
  static const unsigned seq[] = {1, 4, 2, 3, 1, 2, 4, 1, 3};
  for (unsigned i = 0; !atomic_load(&load_done); i++) {
    weft__adapt_set_serving(arg, seq[i % (sizeof seq / sizeof seq[0])]);
    sched_yield();
  }
  return NULL;
}

START_TEST(roles_change_under_load) {
  weft_loop_t *loop = make_loop_fixed(4);
  atomic_store(&load_done, false);
  atomic_store(&exchanged, 0);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, toggle_roles, loop), 0);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn_opts(loop, load_main, NULL, NULL, &t), 0);
  int rc = weft_loop_run_until_complete(loop, weft_task_future(t), NULL);
  atomic_store(&load_done, true);
  pthread_join(th, NULL);
  ck_assert_int_eq(rc, 0);
  weft_task_release(t);
  ck_assert_int_eq(atomic_load(&exchanged), PAIRS * scaled(2000));
  close_clean(loop);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("adapt");
  TCase *tc = tcase_create("adapt");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, decide_on_measured_windows);
  tcase_add_test(tc, config_is_checked);
  tcase_add_test(tc, default_adapts_unless_pinned_or_told_not);
  tcase_add_test(tc, standby_runs_only_pinned_work);
  tcase_add_test(tc, standby_woken_to_serve_again);
  tcase_add_test(tc, controller_brings_a_standby_back_for_a_held_worker);
  tcase_add_test(tc, stream_receive_follows_its_reader);
  tcase_add_test(tc, a_grow_hands_standing_receives_back);
  tcase_add_test(tc, roles_change_under_load);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
