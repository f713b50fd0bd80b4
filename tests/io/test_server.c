/*
 * test_server.c - io/server.c: servers spread over workers, Unix sockets,
 * EMFILE back-off, servers started before the loop runs, handler errors
 * reported, serve_forever as asyncio's, servers outliving their loop,
 * graceful shutdown (close/abort the clients after a grace period) and
 * per-server limits (max_connections, read_timeout_ns). Run once per
 * backend.
 */
#include "server_helpers.h"
#include <sys/un.h>

static int server_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  atomic_store(&worker_mask, 0);
  weft_server_t *s;
  struct clients c = {.port = serve(echo_lines, NULL, &s)};
  run_clients(&c, 200);
  ck_assert_int_eq(weft_server_destroy(s), -EBUSY); /* still open */
  shut_server(s);
  if (weft_loop_workers(weft_loop_current()) > 1)
    ck_assert_uint_gt(__builtin_popcount(atomic_load(&worker_mask)), 1); /* spread */
  /* Closed: nobody listens any more. */
  weft_reader_t *r;
  weft_writer_t *w;
  ck_assert_int_eq(weft_open_connection("127.0.0.1", c.port, &r, &w), -ECONNREFUSED);
  return 0;
}

START_TEST(test_server) {
  ck_assert_int_eq(run_main(1, server_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(2, server_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, server_main, NULL, NULL), 0);
}
END_TEST

/* The loop's task factory makes the handler tasks (asyncio's server calls
 * create_task for each connection) and never the acceptors (asyncio's
 * accept loop is no task), which weft_loop_tasks (all_tasks) does not
 * list either. */
struct made {
  _Atomic int all, acceptors;
};

static int counting_factory(weft_loop_t *loop, weft_task_fn fn, void *arg,
                            const struct weft_task_opts *opts, weft_task_t **out, void *fa) {
  struct made *m = fa;
  atomic_fetch_add(&m->all, 1);
  if (opts->name && strcmp(opts->name, "weft-acceptor") == 0) atomic_fetch_add(&m->acceptors, 1);
  return weft_task_create(loop, fn, arg, opts, out);
}

static int count_acceptors(weft_task_t *t, void *arg) {
  const char *name = weft_task_name(t);
  if (name && strcmp(name, "weft-acceptor") == 0) ++*(int *)arg;
  return 0;
}

static int factory_main(void *arg, void **res) {
  (void)res;
  struct made *m = arg;
  weft_loop_t *loop = weft_loop_current();
  ck_assert_int_eq(weft_loop_set_task_factory(loop, counting_factory, m), 0);
  weft_server_t *s;
  struct clients c = {.port = serve(echo_lines, NULL, &s)};
  run_clients(&c, 8); /* 8 clients, each a task, and 8 handlers */
  /* all_tasks: the acceptors are no tasks of the program's (handlers
   * still ending may be listed). */
  int acceptors = 0;
  ck_assert_int_ge(weft_loop_tasks(loop, count_acceptors, &acceptors), 1);
  ck_assert_int_eq(acceptors, 0);
  shut_server(s);
  ck_assert_int_eq(weft_loop_set_task_factory(loop, NULL, NULL), 0);
  ck_assert_int_eq(atomic_load(&m->acceptors), 0);
  ck_assert_int_eq(atomic_load(&m->all), 16);
  return 0;
}

START_TEST(test_factory_makes_handlers_not_acceptors) {
  for (unsigned workers = 1; workers <= 4; workers *= 2) {
    struct made m = {0};
    ck_assert_int_eq(run_main(workers, factory_main, &m, NULL), 0);
  }
}
END_TEST

static int unix_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  char path[64];
  snprintf(path, sizeof path, "weft-test-%d.sock", (int)getpid());
  weft_server_t *s;
  ck_assert_int_eq(weft_start_unix_server(NULL, path, echo_lines, NULL, NULL, &s), 0);
  struct clients c = {.unix_path = path};
  run_clients(&c, 20);
  shut_server(s);
  unlink(path);
  return 0;
}

START_TEST(test_unix_server) { ck_assert_int_eq(run_main(2, unix_main, NULL, NULL), 0); }
END_TEST

/* Out of fds: accept fails with EMFILE; the server backs off and serves
 * the waiting clients once fds are free again. */
static int emfile_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  struct weft_server_opts o = {.accept_backoff_ns = 5 * 1000000LL};
  weft_server_t *s;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  a.sin_port = htons((uint16_t)serve(echo_lines, &o, &s));
  enum { N = 8 };
  int cl[N];
  for (int i = 0; i < N; i++) ck_assert_int_ge(cl[i] = weft_socket(AF_INET, SOCK_STREAM, 0), 0);
  /* Fill the fd table up to a limit just above the highest fd. */
  int top = 0;
  for (int fd = 0; fd < 4096; fd++)
    if (fcntl(fd, F_GETFD) >= 0) top = fd;
  struct rlimit old, rl;
  getrlimit(RLIMIT_NOFILE, &old);
  rl = old;
  rl.rlim_cur = (rlim_t)top + 1 + N + 4;
  ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
  /* Take every free fd below the limit (there may be gaps under top). */
  static int spare[4096];
  int nspare = 0, fd;
  while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) {
    ck_assert_int_lt(nspare, 4096);
    spare[nspare++] = fd;
  }
  ck_assert_int_eq(errno, EMFILE);
  /* Connecting needs no new fd here; the server's accept does, and fails. */
  for (int i = 0; i < N; i++) ck_assert_int_eq(weft_connect(cl[i], (struct sockaddr *)&a, sizeof a), 0);
  /* Give the acceptor time to fail a few times (the assertion holds
   * whatever it managed: nothing can be accepted without an fd). */
  ck_assert_int_eq(weft_sleep(0.03), 0);
  ck_assert_uint_eq(weft_server_connections(s), 0);
  for (int i = 0; i < nspare; i++) close(spare[i]);
  /* Every client is served now. */
  for (int i = 0; i < N; i++) {
    char got[8];
    ck_assert_int_eq(weft_send(cl[i], "ping\n", 5, 0), 5);
    ssize_t n = 0;
    while (n < 5) {
      ssize_t k = weft_recv(cl[i], got + n, (size_t)(5 - n), 0);
      ck_assert_int_gt(k, 0);
      n += k;
    }
    ck_assert(memcmp(got, "ping\n", 5) == 0);
    close(cl[i]);
  }
  setrlimit(RLIMIT_NOFILE, &old);
  ck_assert_uint_gt(weft_server_accept_backoffs(s), 0); /* counted, not silent */
  shut_server(s);
  return 0;
}

START_TEST(test_emfile_backoff) { ck_assert_int_eq(run_main(1, emfile_main, NULL, NULL), 0); }
END_TEST

/* A server started by the loop's owner before the loop runs. */
struct outside {
  weft_server_t *s;
  int port;
};

static int outside_main(void *arg, void **res) {
  (void)res;
  struct outside *o = arg;
  struct clients c = {.port = o->port};
  run_clients(&c, 10);
  shut_server(o->s);
  return 0;
}

START_TEST(test_server_started_outside) {
  for (unsigned w = 1; w <= 2; w++) {
    weft_loop_t *loop = make_loop(w);
    struct outside o;
    ck_assert_int_eq(weft_start_server(loop, "127.0.0.1", 0, echo_lines, NULL, NULL, &o.s), 0);
    ck_assert_int_eq(weft_start_server(NULL, "127.0.0.1", 0, echo_lines, NULL, NULL, &o.s), -EPERM);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    ck_assert_int_eq(weft_server_sockname(o.s, (struct sockaddr *)&a, &len), 0);
    o.port = ntohs(a.sin_port);
    weft_task_t *t;
    ck_assert_int_eq(weft_spawn_opts(loop, outside_main, &o, NULL, &t), 0);
    ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), NULL), 0);
    weft_task_release(t);
    close_clean(loop);
  }
}
END_TEST

/* ---- handler errors are reported; serve_forever as asyncio's ------------------- */

static weft_event_t *reported;
static char report_text[128];

static void report_handler(weft_loop_t *loop, const struct weft_exception_context *ctx, void *arg) {
  (void)loop;
  (void)arg;
  snprintf(report_text, sizeof report_text, "%s|%s|%s", ctx->message, weft_err_name(ctx->error),
           ctx->error_msg ? ctx->error_msg : "");
  weft_event_set(reported);
}

static int failing_handler(weft_reader_t *r, weft_writer_t *w, void *arg) {
  (void)w;
  (void)arg;
  char b[8];
  if (weft_reader_read(r, b, sizeof b) < 0) return 0;
  return weft_fail(-EPROTO, "bad request");
}

static int handler_error_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  ck_assert_int_eq(weft_event_create(&reported), 0);
  weft_loop_set_exception_handler(weft_loop_current(), report_handler, NULL);
  weft_server_t *s;
  int port = serve(failing_handler, NULL, &s);
  weft_reader_t *r;
  weft_writer_t *w;
  ck_assert_int_eq(weft_open_connection("127.0.0.1", port, &r, &w), 0);
  ck_assert_int_eq(weft_writer_write(w, "x", 1), 0);
  ck_assert_int_eq(weft_event_wait(reported, -1), 0);
  ck_assert_str_eq(report_text, "Unhandled exception in client_connected_cb|EPROTO|bad request");
  char b[4];
  ck_assert_int_eq(weft_reader_read(r, b, sizeof b), 0); /* the connection was closed */
  weft_writer_release(w);
  weft_reader_release(r);
  shut_server(s);
  weft_event_destroy(reported);
  return 0;
}

START_TEST(test_handler_error_is_reported) {
  ck_assert_int_eq(run_main(1, handler_error_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, handler_error_main, NULL, NULL), 0);
}
END_TEST

static int serve_forever_task(void *arg, void **res) {
  (void)res;
  return weft_serve_forever(arg);
}

static int serve_forever_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  weft_reader_t *r;
  weft_writer_t *w;
  /* Cancelling the caller closes the server and ends it with -ECANCELED;
   * a second serve_forever meanwhile is refused, one after close too. */
  weft_server_t *s;
  int port = serve(echo_lines, NULL, &s);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(serve_forever_task, s, &t), 0);
  weft_yield(); /* one worker: t is now serving */
  ck_assert_int_eq(weft_serve_forever(s), -EBUSY);
  ck_assert_int_eq(weft_task_cancel(t, NULL), 1);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), -ECANCELED);
  weft_task_release(t);
  ck_assert_int_eq(weft_open_connection("127.0.0.1", port, &r, &w), -ECONNREFUSED);
  ck_assert_int_eq(weft_serve_forever(s), WEFT_ECLOSED);
  ck_assert_int_eq(weft_server_destroy(s), 0);
  /* close() from elsewhere: -ECANCELED too, without a cancel request. */
  port = serve(echo_lines, NULL, &s);
  ck_assert_int_eq(weft_spawn(serve_forever_task, s, &t), 0);
  weft_yield();
  ck_assert_int_eq(weft_server_close(s), 0);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), -ECANCELED);
  ck_assert_int_eq(weft_task_cancelling(t), 0);
  weft_task_release(t);
  ck_assert_int_eq(weft_server_destroy(s), 0);
  /* It returns only once the server is closed: a live connection keeps it. */
  port = serve(echo_lines, NULL, &s);
  ck_assert_int_eq(weft_spawn(serve_forever_task, s, &t), 0);
  ck_assert_int_eq(weft_open_connection("127.0.0.1", port, &r, &w), 0);
  char line[16];
  ck_assert_int_eq(weft_writer_write(w, "hi\n", 3), 0);
  ck_assert_int_eq(weft_reader_readline(r, line, sizeof line), 3); /* the handler runs */
  ck_assert_int_eq(weft_task_cancel(t, NULL), 1);
  ck_assert_int_eq(weft_await_timeout(weft_task_future(t), 20 * 1000000, NULL), -ETIMEDOUT);
  weft_writer_release(w); /* the handler sees EOF and returns */
  weft_reader_release(r);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), -ECANCELED);
  weft_task_release(t);
  ck_assert_int_eq(weft_server_destroy(s), 0);
  ck_assert_int_eq(weft_serve_forever(NULL), -EINVAL);
  return 0;
}

/* Several workers: the serving task may start before or after the close
 * or cancel, so each round accepts the outcomes asyncio allows for that. */
static int serve_forever_racing_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  for (int i = 0; i < 20; i++) {
    weft_server_t *s;
    serve(echo_lines, NULL, &s);
    weft_task_t *t;
    ck_assert_int_eq(weft_spawn(serve_forever_task, s, &t), 0);
    if (i & 1) {
      ck_assert_int_eq(weft_server_close(s), 0);
      int rc = weft_await(weft_task_future(t), NULL);
      ck_assert(rc == -ECANCELED || rc == WEFT_ECLOSED); /* serving, or started after */
    } else {
      weft_task_cancel(t, NULL);
      ck_assert_int_eq(weft_await(weft_task_future(t), NULL), -ECANCELED);
      weft_server_close(s); /* if it was cancelled before it started serving */
    }
    weft_task_release(t);
    ck_assert_int_eq(weft_server_wait_closed(s), 0);
    ck_assert_int_eq(weft_server_destroy(s), 0);
  }
  return 0;
}

START_TEST(test_serve_forever) {
  ck_assert_int_eq(run_main(1, serve_forever_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, serve_forever_racing_main, NULL, NULL), 0);
}
END_TEST

/* ---- a server whose loop closes under it (issue 10: lifetimes) ---------------- */

static int blocked_reader(weft_reader_t *r, weft_writer_t *w, void *arg) {
  (void)w;
  atomic_fetch_add((_Atomic int *)arg, 1);
  char b[8];
  while (weft_reader_read(r, b, sizeof b) > 0) {
  }
  return 0;
}

static int clients[8];

static int connect_then_return(void *arg, void **res) {
  (void)res;
  int port = (int)(intptr_t)arg;
  for (int i = 0; i < 8; i++)
    clients[i] = connect_loopback(port); /* they stay open: the handlers stay blocked in reads */
  return 0;
}

START_TEST(test_server_outlives_its_loop) {
  for (unsigned workers = 1; workers <= 4; workers += 3) {
    int before = count_fds();
    weft_loop_t *loop = make_loop(workers);
    static _Atomic int started;
    atomic_store(&started, 0);
    weft_server_t *s;
    struct weft_server_opts opts = {.reuse_port = -1};
    int port = serve_on(loop, blocked_reader, (void *)&started, &opts, &s);
    weft_task_t *t;
    ck_assert_int_eq(weft_spawn_opts(loop, connect_then_return, (void *)(intptr_t)port, NULL, &t), 0);
    ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), NULL), 0);
    weft_task_release(t);
    /* Close the loop under the server: acceptors and handlers are cancelled
     * by close; every accepted fd must be closed and the server must be
     * closable and destroyable afterwards. */
    ck_assert_int_ge(weft_loop_close(loop), 0);
    ck_assert_int_eq(weft_server_close(s), 0);
    ck_assert_uint_eq(weft_server_connections(s), 0);
    ck_assert_int_eq(weft_server_destroy(s), 0);
    /* Only the 8 client fds remain: every accepted one was closed. */
    ck_assert_int_eq(count_fds(), before + 8);
    for (int i = 0; i < 8; i++) close(clients[i]);
  }
}
END_TEST

/* ---- graceful shutdown: grace period, then close or abort the clients ----------- */

struct grace {
  int port;
  int nclients;
  int fds[256];
};

static int open_clients(void *arg, void **res) {
  (void)res;
  struct grace *g = arg;
  for (int i = 0; i < g->nclients; i++) g->fds[i] = connect_loopback(g->port);
  return 0;
}

struct accepted {
  _Atomic int n;
  int want;
  weft_event_t *all;
};

static int idle_reader(weft_reader_t *r, weft_writer_t *w, void *arg) {
  (void)w;
  struct accepted *acc = arg;
  if (atomic_fetch_add(&acc->n, 1) + 1 == acc->want) weft_event_set(acc->all);
  char b[8];
  while (weft_reader_read(r, b, sizeof b) > 0) {
  }
  return 0;
}

static int graceful_main(void *arg, void **res) {
  (void)res;
  int how = (int)(intptr_t)arg;
  weft_server_t *s;
  struct grace g = {.nclients = (int)scaled(200) + 2};
  struct accepted acc = {.want = g.nclients};
  ck_assert_int_eq(weft_event_create(&acc.all), 0);
  g.port = serve_on(NULL, idle_reader, &acc, NULL, &s);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(open_clients, &g, &t), 0);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  /* Every connection accepted and served (one still in the listen backlog
   * would be reset by the kernel when listening stops). */
  ck_assert_int_eq(weft_event_wait(acc.all, -1), 0);
  /* Stop accepting; the idle connections stay: the grace period runs out. */
  ck_assert_int_eq(weft_server_close(s), 0);
  ck_assert_int_eq(weft_server_wait_closed_timeout(s, 20 * 1000000), -ETIMEDOUT);
  uint64_t t0 = weft_now_ns();
  ck_assert_int_eq(how == 1 ? weft_server_close_clients(s) : weft_server_abort_clients(s), 0);
  ck_assert_int_eq(weft_server_wait_closed(s), 0);
  uint64_t dt = weft_now_ns() - t0;
  fprintf(stderr, "shutdown of %d connections after the grace period (%s): %.2f ms\n", g.nclients,
          how == 1 ? "close_clients" : "abort_clients", (double)dt / 1e6);
  ck_assert_uint_eq(weft_server_connections(s), 0);
  ck_assert_int_eq(weft_server_destroy(s), 0);
  for (int i = 0; i < g.nclients; i++) {
    /* The server's end is closed: an orderly end, or a reset after abort. */
    struct pollfd p = {.fd = g.fds[i], .events = POLLIN};
    ck_assert_int_eq(poll(&p, 1, 5000), 1);
    char b;
    ssize_t n = read(g.fds[i], &b, 1);
    ck_assert(n == 0 || (n < 0 && errno == ECONNRESET && how == 2));
    close(g.fds[i]);
  }
  ck_assert_int_eq(weft_server_close_clients(NULL), -EINVAL);
  weft_event_destroy(acc.all);
  return 0;
}

START_TEST(test_graceful_shutdown) {
  for (intptr_t how = 1; how <= 2; how++) {
    ck_assert_int_eq(run_main(1, graceful_main, (void *)how, NULL), 0);
    ck_assert_int_eq(run_main(4, graceful_main, (void *)how, NULL), 0);
  }
}
END_TEST

/* ---- per-server limits: max_connections, read_timeout_ns (issue 10) ------------- */

struct limited {
  _Atomic int inside, max_inside, served;
  weft_event_t *release, *all_served;
};

static int limited_handler(weft_reader_t *r, weft_writer_t *w, void *arg) {
  (void)r;
  (void)w;
  struct limited *l = arg;
  int now = atomic_fetch_add(&l->inside, 1) + 1;
  int m = atomic_load(&l->max_inside);
  while (now > m && !atomic_compare_exchange_weak(&l->max_inside, &m, now)) {
  }
  int rc = weft_event_wait(l->release, -1);
  atomic_fetch_sub(&l->inside, 1);
  if (atomic_fetch_add(&l->served, 1) + 1 == 6) weft_event_set(l->all_served);
  return rc;
}

static int limit_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  struct limited l = {.inside = 0};
  ck_assert_int_eq(weft_event_create(&l.release), 0);
  ck_assert_int_eq(weft_event_create(&l.all_served), 0);
  struct weft_server_opts o = {.max_connections = 3};
  weft_server_t *s;
  int port = serve_on(NULL, limited_handler, &l, &o, &s);
  int cl[6];
  for (int i = 0; i < 6; i++) cl[i] = connect_loopback(port); /* the backlog takes it */
  /* Release the handlers: the waiting clients are accepted as slots free up. */
  weft_event_set(l.release);
  ck_assert_int_eq(weft_event_wait(l.all_served, -1), 0);
  ck_assert_int_le(atomic_load(&l.max_inside), 3); /* never more than the limit at once */
  for (int i = 0; i < 6; i++) close(cl[i]);
  shut_server(s);
  weft_event_destroy(l.release);
  weft_event_destroy(l.all_served);
  return 0;
}

START_TEST(test_max_connections) {
  ck_assert_int_eq(run_main(1, limit_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, limit_main, NULL, NULL), 0);
}
END_TEST

struct timed {
  ssize_t got;
  weft_event_t *done; /* set after got is written (the socket's close is no
                         ordering that TSan can see) */
};

static int timed_reader(weft_reader_t *r, weft_writer_t *w, void *arg) {
  (void)w;
  struct timed *t = arg;
  char line[16];
  t->got = weft_reader_readline(r, line, sizeof line); /* no timeout of its own */
  weft_event_set(t->done);
  return 0;
}

static int read_timeout_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  struct timed t = {.got = 1};
  ck_assert_int_eq(weft_event_create(&t.done), 0);
  struct weft_server_opts o = {.read_timeout_ns = 20 * 1000000};
  weft_server_t *s;
  int fd = connect_loopback(serve_on(NULL, timed_reader, &t, &o, &s));
  char b;
  ck_assert_int_eq(weft_recv(fd, &b, 1, 0), 0); /* an idle client is dropped */
  ck_assert_int_eq(weft_event_wait(t.done, -1), 0);
  ck_assert_int_eq(t.got, -ETIMEDOUT);
  close(fd);
  shut_server(s);
  weft_event_destroy(t.done);
  return 0;
}

START_TEST(test_read_timeout) {
  ck_assert_int_eq(run_main(1, read_timeout_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, read_timeout_main, NULL, NULL), 0);
}
END_TEST

static Suite *server_suite(void) {
  Suite *s = suite_create("io_server");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_server);
  tcase_add_test(tc, test_factory_makes_handlers_not_acceptors);
  tcase_add_test(tc, test_unix_server);
  tcase_add_test(tc, test_emfile_backoff);
  tcase_add_test(tc, test_server_started_outside);
  tcase_add_test(tc, test_handler_error_is_reported);
  tcase_add_test(tc, test_serve_forever);
  tcase_add_test(tc, test_server_outlives_its_loop);
  tcase_add_test(tc, test_graceful_shutdown);
  tcase_add_test(tc, test_max_connections);
  tcase_add_test(tc, test_read_timeout);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_IO_TEST_MAIN(server_suite)
