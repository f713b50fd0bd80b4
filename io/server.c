/*
 * server.c - start_server and the server object (weft/stream.h).
 *
 * Listening: with several workers, one SO_REUSEPORT socket per worker, each
 * accepted by a task pinned to that worker, so the kernel spreads
 * connections over the workers and a connection's task starts where it was
 * accepted (no cross-worker hand-off). Otherwise (one worker, reuse_port =
 * -1, or a Unix socket) one socket, with one acceptor per worker.
 *
 * Acceptors: with io_uring, one multishot accept per acceptor whose
 * completions start handler tasks directly (plain accepts where the kernel
 * lacks it, and with epoll): accept, spawn a handler task, repeat. When accept fails for
 * lack of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM), the acceptor pauses
 * for accept_backoff_ns and tries again, as asyncio does: the server keeps
 * serving the connections it has and accepts again when fds come back.
 *
 * Closing: server_close cancels the acceptors (their accepts are cancelled
 * in the kernel); the last acceptor to end closes the listening sockets.
 * Connections are not touched. wait_closed returns when the acceptors have
 * ended and no handler runs.
 *
 * Limits: with max_connections, an acceptor takes a slot (reserved) before
 * it accepts and the connection keeps it, so conns + reserved never passes
 * the limit; has_room is set exactly while a slot is free. Such servers
 * listen on one socket that every acceptor accepts from (a slot held on a
 * quiet SO_REUSEPORT socket would starve clients queued on another), with
 * one request per connection: a multishot accept goes on accepting in the
 * kernel whatever the count.
 *
 * Invariants: conns, reserved and acceptors_live change under lock; idle
 * is set exactly when closed && acceptors_live == 0 && conns == 0.
 */
#include "stream.h"
#include "alloc.h"
#include "loop.h"
#include "clock.h"
#include "op.h"
#include "net.h"
#include "task.h"
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_SOCKS 64
#define DEFAULT_BACKLOG 4096
#define DEFAULT_BACKOFF_NS (100 * 1000000LL)

/* How the clients were told to end (close_clients, abort_clients). */
enum shut_how { SHUT_NONE = 0, SHUT_CLOSE = 1, SHUT_ABORT = 2 };

struct weft_server {
  weft_loop_t *loop;
  weft_client_handler handler;
  void *arg;
  size_t limit;
  int64_t backoff_ns;
  int nsocks;
  int socks[MAX_SOCKS];
  int nacceptors;
  weft_task_t *acceptors[MAX_SOCKS];
  struct weft__mutex lock;
  size_t conns;          /* under lock */
  size_t max_conns;      /* 0: no limit; immutable */
  size_t reserved;       /* under lock: slots taken by acceptors about to accept */
  int64_t read_timeout_ns; /* immutable */
  weft_event_t *has_room;  /* set while conns + reserved < max_conns */
  _Atomic uint64_t backoffs; /* accept pauses for lack of resources */
  struct weft__list clients; /* under lock: acceptor_arg.link of each connection */
  int acceptors_live;    /* under lock */
  bool close_requested;  /* under lock: weft_server_close was called */
  bool serving;          /* under lock: a serve_forever is in progress */
  bool closed;           /* under lock: the acceptors ended, the sockets are closed */
  weft_event_t *closed_ev;
  weft_event_t *idle;
};

/* An acceptor's or a connection's record. Its notify entry (future.h)
 * settles the server's bookkeeping when the task ends, inline and also
 * while the loop closes (a done callback would be dropped then, leaking the
 * fd and keeping the server from ever being idle). */
struct acceptor_arg {
  weft_server_t *s;
  int fd;
  struct weft__notify note;
  /* Connections only, under s->lock: */
  struct weft__list link;  /* in s->clients until the task ends */
  weft_writer_t *writer;   /* while the handler runs */
  int shut;                /* enum shut_how: close_clients or abort_clients came first */
};

static void maybe_idle_locked(weft_server_t *s) {
  if (s->closed && s->acceptors_live == 0 && s->conns == 0) weft_event_set(s->idle);
}

/* max_connections: the acceptors take a slot before they accept, so the
 * limit is never passed; has_room tells them when one is free. Under lock. */
static void room_changed_locked(weft_server_t *s) {
  if (!s->max_conns) return;
  if (s->conns + s->reserved < s->max_conns)
    weft_event_set(s->has_room);
  else
    weft_event_clear(s->has_room);
}

/* Waits for and takes a slot; false if cancelled (the server closes). */
static bool take_slot(weft_server_t *s) {
  if (!s->max_conns) return true;
  for (;;) {
    weft__mutex_lock(&s->lock);
    bool ok = s->conns + s->reserved < s->max_conns;
    if (ok) s->reserved++;
    room_changed_locked(s);
    weft__mutex_unlock(&s->lock);
    if (ok) return true;
    if (weft_event_wait(s->has_room, -1) == -ECANCELED) return false;
  }
}

/* Gives back a slot taken by take_slot (the accept failed). */
static void give_slot(weft_server_t *s) {
  if (!s->max_conns) return;
  weft__mutex_lock(&s->lock);
  s->reserved--;
  room_changed_locked(s);
  weft__mutex_unlock(&s->lock);
}

/* The body may never run (cancelled before it started): the fd and the
 * count are settled by the done callback, which runs either way. */
static int conn_task(void *arg, void **res) {
  (void)res;
  struct acceptor_arg *a = arg;
  weft_server_t *s = a->s;
  weft_reader_t *r;
  weft_writer_t *w;
  int rc = weft__stream_open_socket(a->fd, s->limit, &r, &w);
  if (rc == 0) {
    a->fd = -1; /* the stream's now */
    weft__mutex_lock(&s->lock);
    a->writer = w; /* close_clients/abort_clients reach it from now on */
    int shut = a->shut;
    weft__mutex_unlock(&s->lock);
    if (shut) shut == SHUT_CLOSE ? weft_writer_close(w) : weft_writer_abort(w); /* they came first */
    if (s->read_timeout_ns > 0) weft__stream_set_read_timeout(r, s->read_timeout_ns);
    rc = s->handler(r, w, s->arg);
    weft__mutex_lock(&s->lock);
    a->writer = NULL;
    weft__mutex_unlock(&s->lock);
    weft_writer_release(w);
    weft_reader_release(r);
  }
  return rc < 0 ? rc : 0; /* the task carries the error (and a weft_fail message) */
}

/* A handler's error goes to the exception handler, as asyncio's
 * start_server reports "Unhandled exception in client_connected_cb"; a
 * cancelled handler is not reported. Reading the error retrieves it. A
 * scheduled callback (it runs user code, never under a task's lock); while
 * the loop closes it is dropped, and the error is then reported as never
 * retrieved when the task is freed. */
static void report_handler_error_cb(weft_future_t *f, void *arg) {
  (void)arg;
  const char *msg = NULL;
  int err = weft_future_error(f, &msg);
  if (err == 0 || err == -ECANCELED) return;
  struct weft_exception_context ctx = {
      .message = "Unhandled exception in client_connected_cb",
      .error = err,
      .error_msg = msg,
      .future = f,
      .task_name = weft_task_name(weft_task_from_future(f)),
  };
  weft_loop_call_exception_handler(weft_future_loop(f), &ctx);
}

/* A connection's task ended, also one cancelled before it started: its
 * fd (if the stream never took it) is closed and it is counted out. The
 * notify entry, under the task's lock: the server lock nests inside. */
static void conn_done(struct weft__notify *n, struct weft_future *f) {
  struct acceptor_arg *a = weft__container_of(n, struct acceptor_arg, note);
  weft_server_t *s = a->s;
  if (a->fd >= 0) close(a->fd);
  weft__mutex_lock(&s->lock);
  weft__list_del_init(&a->link);
  weft__free(a, sizeof *a);
  s->conns--;
  room_changed_locked(s);
  maybe_idle_locked(s);
  weft__mutex_unlock(&s->lock);
}

/* Starts a handler task for @fd; closes @fd if that fails. */
static void spawn_conn(weft_server_t *s, int fd) {
  struct acceptor_arg *c = weft__alloc(sizeof *c);
  weft_task_t *t = NULL;
  if (c) {
    c->s = s;
    c->fd = fd;
    c->writer = NULL;
    c->shut = SHUT_NONE;
    weft__mutex_lock(&s->lock);
    s->conns++;
    if (s->max_conns) s->reserved--; /* the acceptor's slot is this connection now */
    weft__list_add_tail(&s->clients, &c->link);
    weft__mutex_unlock(&s->lock);
    c->note.fn = conn_done;
    weft__chain_node_init(&c->note.e.link);
    if (weft_spawn(conn_task, c, &t) == 0) {
      struct weft_future *f = weft_task_future(t);
      /* The report first (registration order): it reads the error before
       * the task may be freed. No memory for it: the error is still
       * reported, as never retrieved. */
      weft_future_on_done(f, report_handler_error_cb, NULL);
      if (!weft__future_notify_add(f, &c->note)) conn_done(&c->note, f); /* ended already */
      weft_task_release(t);
      return;
    }
    weft__mutex_lock(&s->lock);
    s->conns--;
    weft__list_del_init(&c->link);
    room_changed_locked(s);
    weft__mutex_unlock(&s->lock);
    weft__free(c, sizeof *c);
  } else {
    give_slot(s); /* no record: the slot goes back */
  }
  close(fd);
}

static bool out_of_resources(int err) {
  return err == -EMFILE || err == -ENFILE || err == -ENOBUFS || err == -ENOMEM;
}

/* Multishot accept (io_uring, Linux 5.19+): one request yields every new
 * connection; its callback, on the acceptor's worker, starts the handler
 * task at once. The acceptor task sleeps until the request ends (an error,
 * or cancellation when the server closes) and says why. */
struct multi_accept {
  struct weft__io_op op;
  weft_server_t *s;
  struct weft_task *task;
  _Atomic uint32_t ended; /* set (release) with the final completion */
  int err;
};

static void multi_accept_cb(struct weft__io_op *op) {
  struct multi_accept *m = (struct multi_accept *)op;
  if (op->cqe_flags & IORING_CQE_F_MORE) {
    if (op->res >= 0) {
      weft__set_nodelay(op->res);
      spawn_conn(m->s, op->res);
    }
    return;
  }
  if (op->res >= 0) { /* the last one carried a connection too */
    weft__set_nodelay(op->res);
    spawn_conn(m->s, op->res);
    m->err = 0;
  } else {
    m->err = op->res;
  }
  struct weft_task *t = m->task;
  /* release: the acceptor's acquire load sees err. Same worker: the
   * acceptor is pinned to the ring that holds the request. */
  atomic_store_explicit(&m->ended, 1, memory_order_release);
  weft__task_wake(t);
}

/* Serves @lfd with multishot accepts until cancelled. Returns 0 when the
 * server closed, or the error that stopped it (the caller falls back to
 * plain accepts for -EINVAL: a kernel without multishot accept). */
static int accept_multishot(weft_server_t *s, int lfd) {
  struct weft_task *t = weft__task_self();
  struct weft__worker *w = weft__worker_self();
  for (;;) {
    struct multi_accept m;
    memset(&m, 0, sizeof m);
    m.s = s;
    m.task = t;
    m.op.cb = multi_accept_cb;
    m.op.req = (struct weft__io_req){.kind = WEFT__IO_ACCEPT_MULTI, .fd = lfd,
                                     .flags = SOCK_CLOEXEC};
    atomic_init(&m.ended, 0);
    int rc = weft__reactor_start(&w->reactor, &m.op, 0);
    if (rc < 0) return rc;
    weft__task_blocked(t, WEFT__BLOCK_SERVER, s, 0);
    rc = weft__task_wait(t, &m.ended, 0);
    if (rc == -ECANCELED && !atomic_load_explicit(&m.ended, memory_order_acquire)) {
      weft__reactor_cancel(&w->reactor, &m.op);
      weft__task_wait_nocancel(t, &m.ended, 0);
      return 0;
    }
    if (rc == -ECANCELED) return 0;
    if (m.err == -ECANCELED) return 0;
    if (out_of_resources(m.err)) {
      atomic_fetch_add_explicit(&s->backoffs, 1, memory_order_relaxed); /* a count */
      if (weft_sleep_ns(s->backoff_ns) == -ECANCELED) return 0;
      continue;
    }
    if (m.err == -ECONNABORTED || m.err == -EINTR || m.err == -EPROTO || m.err == 0) continue;
    return m.err;
  }
}

static int acceptor_body(void *arg, void **res) {
  (void)res;
  struct acceptor_arg *a = arg;
  weft_server_t *s = a->s;
  int lfd = a->fd;
  struct weft__worker *w = weft__worker_self();
  /* Multishot needs the task to stay on this worker: acceptors are pinned
   * with several workers, and one worker is one thread. */
  if (weft__reactor_can(&w->reactor, WEFT__CAP_MULTISHOT_ACCEPT) && !s->max_conns) {
    int rc = accept_multishot(s, lfd);
    if (rc != -EINVAL) return 0; /* closed, or the socket failed */
  }
  for (;;) {
    if (!take_slot(s)) break; /* cancelled while the server was full */
    int fd = weft_accept(lfd, NULL, NULL, 0);
    if (fd >= 0) {
      weft__set_nodelay(fd);
      spawn_conn(s, fd); /* the slot becomes the connection */
      continue;
    }
    give_slot(s);
    if (fd == -ECANCELED) break;
    if (out_of_resources(fd)) {
      atomic_fetch_add_explicit(&s->backoffs, 1, memory_order_relaxed); /* a count */
      if (weft_sleep_ns(s->backoff_ns) == -ECANCELED) break;
      continue;
    }
    if (fd == -ECONNABORTED || fd == -EINTR || fd == -EAGAIN || fd == -EPROTO) continue;
    break; /* the socket is gone (EBADF, EINVAL): nothing more to accept */
  }
  return 0;
}

static int acceptor_task(void *arg, void **res) { return acceptor_body(arg, res); }

/* Runs when an acceptor ends, also one cancelled before it started (its
 * notify entry, under its lock: the server lock nests inside). */
static void acceptor_done(struct weft__notify *n, struct weft_future *f) {
  (void)f;
  struct acceptor_arg *a = weft__container_of(n, struct acceptor_arg, note);
  weft_server_t *s = a->s;
  weft__free(a, sizeof *a);
  weft__mutex_lock(&s->lock);
  if (--s->acceptors_live == 0) {
    for (int i = 0; i < s->nsocks; i++) close(s->socks[i]);
    s->nsocks = 0;
    s->closed = true;
    weft_event_set(s->closed_ev);
  }
  maybe_idle_locked(s);
  weft__mutex_unlock(&s->lock);
}

static void server_free(weft_server_t *s) {
  for (int i = 0; i < s->nsocks; i++) close(s->socks[i]);
  for (int i = 0; i < s->nacceptors; i++) weft_task_release(s->acceptors[i]);
  weft_event_destroy(s->closed_ev);
  weft_event_destroy(s->idle);
  weft_event_destroy(s->has_room);
  weft__free(s, sizeof *s);
}

static int server_new(weft_loop_t *loop, weft_client_handler handler, void *arg,
                      const struct weft_server_opts *opts, weft_server_t **out) {
  if (opts && opts->limit > SSIZE_MAX) return -EINVAL;
  weft_server_t *s = weft__calloc(sizeof *s);
  if (!s) return -ENOMEM;
  if (weft_event_create(&s->closed_ev) != 0 || weft_event_create(&s->idle) != 0 ||
      weft_event_create(&s->has_room) != 0) {
    weft_event_destroy(s->closed_ev);
    weft_event_destroy(s->idle);
    weft__free(s, sizeof *s);
    return -ENOMEM;
  }
  weft_event_set(s->has_room);
  weft__mutex_init(&s->lock);
  weft__list_init(&s->clients);
  s->loop = loop;
  s->handler = handler;
  s->arg = arg;
  s->limit = opts && opts->limit ? opts->limit : WEFT_STREAM_LIMIT;
  s->max_conns = opts ? opts->max_connections : 0;
  s->read_timeout_ns = opts && opts->read_timeout_ns > 0 ? opts->read_timeout_ns : 0;
  atomic_init(&s->backoffs, 0);
  s->backoff_ns = opts && opts->accept_backoff_ns > 0 ? opts->accept_backoff_ns : DEFAULT_BACKOFF_NS;
  *out = s;
  return 0;
}

/* Spawns the acceptors: one per socket pinned to its worker, or, with one
 * socket, one per worker on it. */
static int start_acceptors(weft_server_t *s) {
  unsigned nw = weft_loop_workers(s->loop);
  int n = s->nsocks > 1 ? s->nsocks : (int)(nw < MAX_SOCKS ? nw : MAX_SOCKS);
  for (int i = 0; i < n; i++) {
    struct acceptor_arg *a = weft__alloc(sizeof *a);
    if (!a) return -ENOMEM;
    a->s = s;
    a->fd = s->socks[s->nsocks > 1 ? i : 0];
    struct weft_task_opts o;
    weft_task_opts_init(&o);
    o.name = "weft-acceptor";
    o.worker = nw > 1 ? i % (int)nw : -1;
    weft__mutex_lock(&s->lock);
    s->acceptors_live++;
    weft__mutex_unlock(&s->lock);
    a->note.fn = acceptor_done;
    weft__chain_node_init(&a->note.e.link);
    /* The library's own task: asyncio's accept loop is no task, so no
     * task factory (one that makes tasks eager, counts or names them is
     * for the program's tasks; handlers go through it) and not listed by
     * weft_loop_tasks (all_tasks). */
    int rc = weft__task_create_internal(s->loop, acceptor_task, a, &o, &s->acceptors[i]);
    if (rc == 0) {
      struct weft_future *f = weft_task_future(s->acceptors[i]);
      if (!weft__future_notify_add(f, &a->note)) acceptor_done(&a->note, f); /* ended already */
    }
    if (rc < 0) {
      weft__mutex_lock(&s->lock);
      s->acceptors_live--;
      weft__mutex_unlock(&s->lock);
      weft__free(a, sizeof *a);
      return rc;
    }
    s->nacceptors++;
  }
  return 0;
}

static int listen_on(const struct sockaddr *sa, socklen_t len, bool reuse_port, int backlog) {
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  if (sa->sa_family != AF_UNIX) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  if (bind(fd, sa, len) < 0 || listen(fd, backlog) < 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  return fd;
}

int weft_start_server(weft_loop_t *loop, const char *host, int port, weft_client_handler handler,
                      void *arg, const struct weft_server_opts *opts, weft_server_t **out) {
  if (!handler || !out || port < 0 || port > 65535) return -EINVAL;
  if (!loop && !(loop = weft_loop_current())) return -EPERM;
  struct addrinfo *ai = NULL;
  int rc = weft__resolve(host, port, true, &ai, -1);
  if (rc < 0) return rc;
  /* The first address that binds (IPv4 first when host is NULL: both are
   * listed, and a dual-stack socket would make the second bind fail). */
  struct addrinfo *pick = ai;
  for (struct addrinfo *p = ai; p; p = p->ai_next)
    if (p->ai_family == AF_INET) {
      pick = p;
      break;
    }
  weft_server_t *s;
  rc = server_new(loop, handler, arg, opts, &s);
  if (rc < 0) {
    freeaddrinfo(ai);
    return rc;
  }
  int backlog = opts && opts->backlog > 0 ? opts->backlog : DEFAULT_BACKLOG;
  unsigned nw = weft_loop_workers(loop);
  /* One socket per worker, unless asked otherwise, or with a connection
   * limit: then every acceptor must be able to take every waiting client,
   * or an acceptor holding a slot on a quiet socket would starve the
   * clients queued on another (found as a deadlock on 4 workers). */
  int want = (opts && (opts->reuse_port < 0 || opts->max_connections)) ? 1 : (int)nw;
  if (want > MAX_SOCKS) want = MAX_SOCKS;
  bool reuse = want > 1;
  struct sockaddr_storage addr;
  socklen_t alen = (socklen_t)pick->ai_addrlen;
  memcpy(&addr, pick->ai_addr, alen);
  freeaddrinfo(ai);
  for (int i = 0; i < want; i++) {
    int fd = listen_on((struct sockaddr *)&addr, alen, reuse, backlog);
    if (fd < 0) {
      server_free(s);
      return fd;
    }
    s->socks[s->nsocks++] = fd;
    if (i == 0 && port == 0) { /* the others bind the port the kernel picked */
      socklen_t l = sizeof addr;
      getsockname(fd, (struct sockaddr *)&addr, &l);
    }
  }
  rc = start_acceptors(s);
  if (rc < 0) {
    weft_server_close(s);
    return rc; /* the acceptors that started end on their own and close the sockets */
  }
  *out = s;
  return 0;
}

int weft_start_unix_server(weft_loop_t *loop, const char *path, weft_client_handler handler,
                           void *arg, const struct weft_server_opts *opts, weft_server_t **out) {
  if (!path || !handler || !out) return -EINVAL;
  if (!loop && !(loop = weft_loop_current())) return -EPERM;
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sun.sun_path) return -ENAMETOOLONG;
  strcpy(sun.sun_path, path);
  struct stat st;
  if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path); /* a stale socket */
  weft_server_t *s;
  int rc = server_new(loop, handler, arg, opts, &s);
  if (rc < 0) return rc;
  int fd = listen_on((struct sockaddr *)&sun, sizeof sun, false,
                     opts && opts->backlog > 0 ? opts->backlog : DEFAULT_BACKLOG);
  if (fd < 0) {
    server_free(s);
    return fd;
  }
  s->socks[s->nsocks++] = fd;
  rc = start_acceptors(s);
  if (rc < 0) {
    weft_server_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

int weft_server_sockname(weft_server_t *s, struct sockaddr *addr, socklen_t *len) {
  if (!s || !addr || !len) return -EINVAL;
  weft__mutex_lock(&s->lock);
  int rc = s->nsocks ? getsockname(s->socks[0], addr, len) : -1;
  int e = s->nsocks ? errno : EBADF;
  weft__mutex_unlock(&s->lock);
  return rc < 0 ? -e : 0;
}

int weft_server_close(weft_server_t *s) {
  if (!s) return -EINVAL;
  weft__mutex_lock(&s->lock);
  s->close_requested = true;
  weft__mutex_unlock(&s->lock);
  for (int i = 0; i < s->nacceptors; i++) weft_task_cancel(s->acceptors[i], NULL);
  return 0;
}

int weft_server_wait_closed(weft_server_t *s) { return weft_server_wait_closed_timeout(s, -1); }

int weft_server_wait_closed_timeout(weft_server_t *s, int64_t timeout_ns) {
  if (!s) return -EINVAL;
  return weft_event_wait(s->idle, timeout_ns);
}

/* close_clients (SHUT_CLOSE) or abort_clients (SHUT_ABORT): every connection's writer,
 * now or as soon as its handler starts. Writers are reached under the
 * server lock (their stream lock nests inside), so none is released
 * meanwhile. */
static int shut_clients(weft_server_t *s, enum shut_how how) {
  if (!s) return -EINVAL;
  weft__mutex_lock(&s->lock);
  struct weft__list *pos, *tmp;
  weft__list_for_each_safe(pos, tmp, &s->clients) {
    struct acceptor_arg *c = weft__container_of(pos, struct acceptor_arg, link);
    if (!c->shut) c->shut = how;
    if (c->writer) how == SHUT_CLOSE ? weft_writer_close(c->writer) : weft_writer_abort(c->writer);
  }
  weft__mutex_unlock(&s->lock);
  return 0;
}

int weft_server_close_clients(weft_server_t *s) { return shut_clients(s, SHUT_CLOSE); }
int weft_server_abort_clients(weft_server_t *s) { return shut_clients(s, SHUT_ABORT); }

/* asyncio's Server.serve_forever: one at a time, not on a closed server;
 * it ends only by cancellation: cancelling the caller closes the server,
 * and close() from elsewhere cancels the serving; either way it waits
 * until the server is closed (wait_closed, itself cancellable by a further
 * request) and then raises CancelledError, here -ECANCELED. */
int weft_serve_forever(weft_server_t *s) {
  if (!s) return -EINVAL;
  if (!weft_task_current()) return -EPERM;
  weft__mutex_lock(&s->lock);
  int rc = s->close_requested || s->closed ? WEFT_ECLOSED : s->serving ? -EBUSY : 0;
  if (rc == 0) s->serving = true;
  weft__mutex_unlock(&s->lock);
  if (rc) return rc;
  if (weft_event_wait(s->closed_ev, -1) == -ECANCELED) weft_server_close(s);
  weft_server_wait_closed(s);
  weft__mutex_lock(&s->lock);
  s->serving = false;
  weft__mutex_unlock(&s->lock);
  return -ECANCELED;
}

uint64_t weft_server_accept_backoffs(weft_server_t *s) {
  return s ? atomic_load_explicit(&s->backoffs, memory_order_relaxed) : 0;
}

size_t weft_server_connections(weft_server_t *s) {
  if (!s) return 0;
  weft__mutex_lock(&s->lock);
  size_t n = s->conns;
  weft__mutex_unlock(&s->lock);
  return n;
}

int weft_server_destroy(weft_server_t *s) {
  if (!s) return -EINVAL;
  weft__mutex_lock(&s->lock);
  bool busy = !s->closed || s->conns || s->acceptors_live;
  weft__mutex_unlock(&s->lock);
  if (busy) return -EBUSY;
  server_free(s);
  return 0;
}
