/*
 * epoll.c - the epoll backend of the reactor (see reactor.h), used where
 * io_uring cannot be (seccomp, kernel.io_uring_disabled, old kernels).
 *
 * A request is carried out by trying its system call without blocking
 * (MSG_DONTWAIT, RWF_NOWAIT, non-blocking sockets); on EAGAIN the op joins
 * its fd's waiter list and the fd is armed in the worker's epoll set for
 * the union of what its waiters need, one-shot. When the fd is ready, each
 * waiter whose readiness arrived tries again on this worker; those that get
 * EAGAIN again keep waiting and the fd is re-armed.
 *
 * An fd weft owns (a stream's, fdlife.h) is instead registered once per
 * life, edge-triggered, for everything a stream waits for (PERSIST_EVENTS),
 * as Tokio and Go register theirs: its waits then cost no epoll_ctl (one
 * system call in three of a request/response exchange). Edges are never
 * lost: an op tries its call before it waits (unless the drained hint says
 * the queue was empty, and any arrival since then has made an edge that
 * clears the hint when it is reported), and a registration reports what
 * is ready already. An edge reported while nobody waits is dropped: the
 * next op's try finds what it announced. A registration is trusted only
 * in the life it was made in; after the owner's close the number may
 * name another file, and the next wait registers again (ADD first in a
 * new life of an owned fd; for another number, ADD after MOD's ENOENT).
 * An op that waits for more than PERSIST_EVENTS (a poll for priority
 * bands) turns the fd back to one-shot. A report that finds no
 * waiter on this worker removes the registration (its task moved to
 * another worker, which registered it there: without this, each arrival
 * woke every worker the task had ever waited on).
 *
 * A stream's receive may take its buffer only when it tries
 * (WEFT__CAP_LAZY_RECV, struct weft__recv_take): taken just before each
 * try and given back when the try found nothing, so a receive that waits
 * for readiness holds no buffer (an idle connection).
 *
 * Regular files are always "ready" to epoll: their operations (and open,
 * close, fsync, fallocate, statx) run as plain system calls on the worker.
 * That blocks the worker for the duration of a disk access: this backend is
 * the fallback, and says so (docs/io.md).
 *
 * Invariants:
 *  - ep_fds[fd] is touched only by this worker; an fd armed here may be
 *    armed in other workers' sets at the same time (epoll allows it).
 *  - A registration whose fd was closed vanishes from the set by itself;
 *    arming then fails with ENOENT and is redone with EPOLL_CTL_ADD.
 *  - life != 0 exactly while the fd is registered edge-triggered by this
 *    worker; it is then the fd's life (fdlife.h) at that registration, and
 *    armed is 0.
 *  - Cancel takes the op off its list and completes it with -ECANCELED at
 *    once: nothing of the op is in the kernel.
 *  - A busy loop polls (non-blocking, once a pass: asyncio's select(0) each
 *    iteration) whenever an op started on this worker since the last
 *    epoll_wait, since what this loop did (a write into a pipe or a socket
 *    pair it also reads) may have made one of its fds ready; otherwise at
 *    most every BUSY_POLL_INTERVAL_NS. What became ready without this loop
 *    doing anything is asynchronous to it anyway: seeing it up to that
 *    much later is the same as its arriving that much later. An
 *    epoll_wait costs a system call (~1.3 us on the development VM), the
 *    whole of a one-task pass's budget many times over (chained_spawn
 *    with one worker: 14x the time of io_uring's memory-only check,
 *    benchmarks/RESULTS.md). Waits (nothing to run) always call it.
 */
#include "reactor.h"
#include "alloc.h"
#include "deadline.h"
#include "fdlife.h"
#include "ticks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* The longest a busy loop goes without asking the kernel what is ready
 * (the head comment). Tokio polls its driver every 61 tasks, Go's sysmon
 * every 10 ms when every P is busy. */
#define BUSY_POLL_INTERVAL_NS 50000u

/* What an owned fd is registered for, edge-triggered (the head comment). */
#define PERSIST_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI)

struct weft__ep_fd {
  struct weft__io_op *waiters; /* linked through ep_next */
  uint32_t armed;              /* events armed one-shot in the set, 0 if not armed */
  uint32_t life;               /* registered edge-triggered in this life of the fd; 0: not */
  bool added;                  /* believed to be in the set */
  /* A stream socket's last receive here came back short: its queue was
   * empty then, so the next receive waits for readiness without trying
   * first (drained_start). A guess, never a promise: one-shot arming is
   * level-triggered, so data already there is reported at the next poll;
   * an edge-triggered registration reports each arrival since its last
   * report, and ready() clears the hint on one. */
  bool drained;
  /* With an edge-triggered registration, the hint is trusted only where a
   * short receive proves nothing is left that no later edge announces:
   * TCP (an AF_UNIX receive stops short at ancillary data), and not once
   * a report said the peer shut down, an error, or urgent data (the end,
   * or the rest past the urgent mark, stays to be read, announced by an
   * edge already reported): unsettled. A registration in a new life
   * clears unsettled and sock_type (tcp is asked again with it). */
  bool tcp;
  bool unsettled;
  uint8_t sock_type;           /* SOCK_STREAM etc. once asked; 0: not known */
};

static int epoll_init(struct weft__reactor *r, unsigned entries, bool own_thread, char *why,
                      size_t whylen) {
  (void)entries;   /* the set grows as fds are armed */
  (void)own_thread; /* any thread may arm and wait */
  r->ep.epfd = epoll_create1(EPOLL_CLOEXEC);
  if (r->ep.epfd < 0) {
    int e = errno;
    snprintf(why, whylen, "epoll_create1 failed: %s", strerror(e));
    return -e;
  }
  r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (r->wake_fd < 0) {
    int e = errno;
    snprintf(why, whylen, "eventfd failed: %s", strerror(e));
    close(r->ep.epfd);
    return -e;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = -1};
  if (epoll_ctl(r->ep.epfd, EPOLL_CTL_ADD, r->wake_fd, &ev) < 0) {
    int e = errno;
    snprintf(why, whylen, "epoll_ctl failed: %s", strerror(e));
    close(r->wake_fd);
    close(r->ep.epfd);
    return -e;
  }
  r->ep.fds = NULL;
  r->ep.nfds = 0;
  r->ep.started_seen = 0;
  r->ep.poll_by = 0; /* the first non-blocking poll goes to the kernel */
  r->ep.poll_gap = weft__ticks_from_ns(BUSY_POLL_INTERVAL_NS);
  return 0;
}

static void epoll_fini(struct weft__reactor *r) {
  weft__free(r->ep.fds, (size_t)r->ep.nfds * sizeof *r->ep.fds);
  close(r->wake_fd);
  close(r->ep.epfd);
}

static bool is_regular(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
}

static int set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return -errno;
  if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
  return 0;
}

/* A read or write: without waiting first, then (regular files) on the
 * offload pool, or (after readiness, for fds without RWF_NOWAIT) plainly. */
static ssize_t rw(struct weft__io_op *op) {
  struct weft__io_req *q = &op->req;
  /* RWF_NOWAIT does not make an O_DIRECT read asynchronous: the call would
   * still wait for the device. Positioned I/O is file I/O (sockets and
   * pipes cannot seek), so only it pays for the check. */
  if (q->off != (uint64_t)-1) {
    int fl = fcntl(q->fd, F_GETFL);
    if (fl >= 0 && (fl & O_DIRECT)) return WEFT__EOFFLOAD;
  }
  ssize_t n = weft__io_call(weft__io_kind(q), q, op->phase == WEFT__PHASE_ISSUE);
  if (n >= 0 || (n != -EAGAIN && n != -EOPNOTSUPP)) return n;
  if (is_regular(q->fd)) return WEFT__EOFFLOAD; /* never "ready" to epoll: a pool thread */
  if (n == -EOPNOTSUPP) op->phase = WEFT__PHASE_READY; /* no RWF_NOWAIT here: readiness, then a plain call */
  return -EAGAIN;
}

static ssize_t connect_step(struct weft__io_op *op) {
  struct weft__io_req *q = &op->req;
  if (op->phase == WEFT__PHASE_ISSUE) {
    int rc = set_nonblock(q->fd);
    if (rc < 0) return rc;
    if (connect(q->fd, q->buf, (socklen_t)q->len) == 0) return 0;
    if (errno != EINPROGRESS && errno != EAGAIN) return -errno;
    op->phase = WEFT__PHASE_READY;
    return -EAGAIN;
  }
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
  return -err;
}

/* A lazy receive's buffer (struct weft__recv_take): taken just before a
 * try, given back when the try found nothing. */
static bool lazy_recv(const struct weft__io_req *q) {
  return q->kind == WEFT__IO_RECV && q->aux;
}

static void lazy_recv_release(struct weft__io_req *q) {
  if (!lazy_recv(q) || !q->buf) return;
  ((struct weft__recv_take *)q->aux)->release(q->aux);
  q->buf = NULL;
  q->len = 0;
}

/* Tries @op's system call now; -EAGAIN means "wait for op->ep_events".
 * The kind's row says what it waits for and how to call it; connect and
 * poll are the two kinds that need steps of their own here; a lazy
 * receive takes its buffer first. */
static ssize_t try_op(struct weft__io_op *op) {
  struct weft__io_req *q = &op->req;
  const struct weft__io_kind_def *k = weft__io_kind(q);
  if (lazy_recv(q) && !q->buf) {
    struct weft__recv_take *t = q->aux;
    int rc = t->take(t, &q->buf, &q->len);
    if (rc < 0) return rc;
  }
  op->ep_events = k->flags & WEFT__KIND_IN ? EPOLLIN : k->flags & WEFT__KIND_OUT ? EPOLLOUT : 0;
  if (k->flags & WEFT__KIND_RW) return rw(op);
  if (q->kind == WEFT__IO_CONNECT) return connect_step(op);
  if (q->kind == WEFT__IO_POLL) {
    op->ep_events = q->mask;
    struct pollfd p = {.fd = q->fd, .events = (short)q->mask};
    int rc = poll(&p, 1, 0);
    if (rc < 0) return -errno;
    return rc == 0 ? -EAGAIN : p.revents;
  }
  if (q->kind == WEFT__IO_ACCEPT && op->phase == WEFT__PHASE_ISSUE) {
    int rc = set_nonblock(q->fd); /* accept4 has no per-call non-blocking flag */
    if (rc < 0) return rc;
    op->phase = WEFT__PHASE_NONBLOCK;
  }
  return k->call ? weft__io_call(k, q, true) : -EINVAL; /* no call: another backend's kind */
}

static struct weft__ep_fd *slot(struct weft__reactor *r, int fd) {
  if (fd >= r->ep.nfds) {
    int n = r->ep.nfds ? r->ep.nfds : 64;
    while (n <= fd) n *= 2;
    struct weft__ep_fd *a = weft__realloc(r->ep.fds, (size_t)r->ep.nfds * sizeof *a,
                                          (size_t)n * sizeof *a);
    if (!a) return NULL;
    memset(a + r->ep.nfds, 0, (size_t)(n - r->ep.nfds) * sizeof *a);
    r->ep.fds = a;
    r->ep.nfds = n;
  }
  return &r->ep.fds[fd];
}

/* After a receive on @fd that got @n bytes of the @len it asked for: a
 * short one on a stream socket leaves its slot drained (a datagram socket's short
 * receive is one datagram, and says nothing of the next). */
static void note_receive(struct weft__reactor *r, int fd, ssize_t n, size_t len) {
  if (n <= 0 || (size_t)n >= len || fd < 0) return;
  struct weft__ep_fd *s = slot(r, fd);
  if (!s) return; /* no memory for the hint: the next receive just tries first */
  if (!s->sock_type) {
    /* The protocol first: TCP says the type too (one call for a TCP
     * connection, not two: tcp_churn asks this once per connection). */
    int type = 0, proto = 0;
    socklen_t tl = sizeof type, pl = sizeof proto;
    s->tcp = getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &pl) == 0 && proto == IPPROTO_TCP;
    if (s->tcp) type = SOCK_STREAM;
    else if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0) type = 0;
    s->sock_type = type > 0 && type < 256 ? (uint8_t)type : UINT8_MAX;
  }
  s->drained = s->sock_type == SOCK_STREAM;
}

/* After an accept here returned @fd, a connection nothing has read from:
 * its first receive waits for readiness instead of trying (the drained
 * hint, a guess: a wait that registers is told what is ready now, so data
 * already there is reported at the next poll). A client's request comes
 * after the handshake that completes the accept, so the try found nothing
 * on nearly every new connection (tcp_churn on epoll: one receive in two
 * failed). */
static void note_accepted(struct weft__reactor *r, ssize_t fd) {
  if (fd < 0) return;
  struct weft__ep_fd *s = slot(r, (int)fd); /* may grow the table: ready() looks its slot up again */
  if (s) s->drained = true;
}

/* Arms @fd for what its waiters need (nothing if none): edge-triggered
 * once per life for an owned fd, else one-shot (the head comment). */
static int arm(struct weft__reactor *r, int fd, struct weft__ep_fd *s) {
  uint32_t want = 0;
  for (struct weft__io_op *o = s->waiters; o; o = o->ep_next) want |= o->ep_events;
  uint32_t life = (want & ~(uint32_t)PERSIST_EVENTS) ? 0 : weft__fd_life(fd);
  if (life && s->life == life) return 0; /* registered for all of it, this life */
  if (!want) {
    s->armed = 0;
    return 0;
  }
  struct epoll_event ev = {.events = life ? PERSIST_EVENTS | EPOLLET : want | EPOLLONESHOT,
                           .data.fd = fd};
  /* An owned fd in a new life: its owner closed the file this set had
   * under the number (the kernel dropped that registration with it), so
   * ADD first; MOD would fail with ENOENT, a system call for each new
   * connection on a number used before (tcp_churn). */
  bool fresh = life && life != s->life;
  int rc = epoll_ctl(r->ep.epfd, s->added && !fresh ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
  if (life != s->life) { /* a new life: perhaps another file under the number */
    s->sock_type = 0;
    s->unsettled = false;
  }
  if (rc < 0 && errno == ENOENT) {
    s->sock_type = 0; /* the fd was closed: this number may name another file now */
    rc = epoll_ctl(r->ep.epfd, EPOLL_CTL_ADD, fd, &ev);
  } else if (rc < 0 && errno == EEXIST) {
    rc = epoll_ctl(r->ep.epfd, EPOLL_CTL_MOD, fd, &ev);
  }
  if (rc < 0) {
    s->life = 0;
    return -errno;
  }
  s->added = true;
  s->armed = life ? 0 : want;
  s->life = life;
  return 0;
}

/* A receive on a drained stream socket: straight to waiting for
 * readiness (try_op's events), the hint used up. Saves the receive that
 * would find nothing, one system call in three of a request/response
 * exchange (benchmarks/RESULTS.md, tcp_echo on epoll). On io_uring such a
 * receive goes to the kernel and completes at a later reap too, so the
 * task suspends on either backend. */
static bool drained_start(struct weft__reactor *r, struct weft__io_op *op) {
  struct weft__io_req *q = &op->req;
  if (q->kind != WEFT__IO_RECV || q->fd < 0 || q->fd >= r->ep.nfds || !r->ep.fds[q->fd].drained)
    return false;
  struct weft__ep_fd *s = &r->ep.fds[q->fd];
  s->drained = false;
  /* A wait that registers (one-shot, or a new life) is told what is ready
   * now; one on a standing edge-triggered registration only of what comes
   * (the hint's rule, above). */
  if (s->life && s->life == weft__fd_life(q->fd) && (!s->tcp || s->unsettled)) return false;
  op->ep_events = EPOLLIN;
  return true;
}

static int epoll_start(struct weft__reactor *r, struct weft__io_op *op) {
  op->ep_next = NULL;
  if (weft__io_fd_is_fixed(&op->req)) op->req.fd = weft__reactor_plain_fd(r, op->req.fd);
  if (!drained_start(r, op)) {
    ssize_t n = try_op(op);
    if (n != -EAGAIN) {
      if (op->req.kind == WEFT__IO_RECV) note_receive(r, op->req.fd, n, op->req.len);
      if (op->req.kind == WEFT__IO_ACCEPT) note_accepted(r, n);
      op->res = (int32_t)n;
      /* relaxed: the waiter is the caller, on this thread. */
      atomic_store_explicit(&op->done, 1, memory_order_relaxed);
      return 0;
    }
    lazy_recv_release(&op->req);
  }
  struct weft__ep_fd *s = slot(r, op->req.fd);
  if (!s) return -ENOMEM;
  op->ep_next = s->waiters;
  s->waiters = op;
  int rc = arm(r, op->req.fd, s);
  if (rc < 0) {
    s->waiters = op->ep_next;
    return rc; /* EPERM: a regular file or a directory cannot be waited on */
  }
  r->inflight++;
  return 0;
}

static bool unlink_op(struct weft__ep_fd *s, struct weft__io_op *op) {
  for (struct weft__io_op **pp = &s->waiters; *pp; pp = &(*pp)->ep_next) {
    if (*pp == op) {
      *pp = op->ep_next;
      return true;
    }
  }
  return false;
}

static void epoll_cancel(struct weft__reactor *r, struct weft__io_op *op) {
  op->cancelled = 1;
  int fd = op->req.fd;
  if (fd < 0 || fd >= r->ep.nfds || !unlink_op(&r->ep.fds[fd], op)) return;
  r->inflight--;
  weft__reactor_note(&r->finished);
  arm(r, fd, &r->ep.fds[fd]); /* narrows or disarms; failure only leaves a spurious wake */
  weft__io_complete(op, -ECANCELED, 0);
}

static void ready(struct weft__reactor *r, int fd, uint32_t events) {
  if (fd < 0 || fd >= r->ep.nfds) return;
  struct weft__ep_fd *s = &r->ep.fds[fd];
  s->armed = 0; /* one-shot: disarmed by delivery */
  if (s->life && !s->waiters) {
    /* Nobody waits here: the fd's task now waits on another worker (it
     * moved), whose set has it too. Left registered, every arrival would
     * wake this worker as well; the next wait here registers it again
     * (and is told what is ready then, so the hints below need no
     * update). The owner may be closing the fd on another thread
     * meanwhile, and the number may name another file by now: then the
     * call fails, or removes that file from this set alone, where nothing
     * waits for it either (only this thread arms this set, and it
     * re-registers at its next wait: life is 0). Benign as the kernel
     * resolves it, so made as a raw system call: TSan's epoll_ctl
     * interceptor reports any fd use that races a close. */
    (void)syscall(SYS_epoll_ctl, r->ep.epfd, EPOLL_CTL_DEL, fd, NULL);
    s->added = false;
    s->life = 0;
    return;
  }
  if (s->life) {
    /* Edge-triggered: something arrived since the last short receive (an
     * edge), so the next receive must try first; and the end, an error
     * or urgent data, once reported, stays behind short receives. */
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) s->drained = false;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI)) s->unsettled = true;
  }
  struct weft__io_op *list = s->waiters, *keep = NULL;
  s->waiters = NULL;
  while (list) {
    struct weft__io_op *op = list;
    list = op->ep_next;
    ssize_t n = -EAGAIN;
    if (events & (op->ep_events | EPOLLERR | EPOLLHUP)) n = try_op(op);
    if (op->req.kind == WEFT__IO_RECV) note_receive(r, fd, n, op->req.len);
    if (op->req.kind == WEFT__IO_ACCEPT) note_accepted(r, n);
    if (n == -EAGAIN) {
      lazy_recv_release(&op->req);
      op->ep_next = keep;
      keep = op;
      continue;
    }
    r->inflight--;
    weft__reactor_note(&r->finished);
    weft__io_complete(op, (int32_t)n, 0);
  }
  /* An accept's hint (note_accepted) may have grown the table and moved
   * the slot (ASan, test_server_epoll). */
  s = &r->ep.fds[fd];
  /* Completions only wake tasks; none of them ran, so the list is ours. */
  while (keep) {
    struct weft__io_op *op = keep;
    keep = op->ep_next;
    op->ep_next = s->waiters;
    s->waiters = op;
  }
  if (s->waiters && arm(r, fd, s) < 0) {
    /* The fd went away under its waiters (closed): fail them. */
    while ((list = s->waiters)) {
      s->waiters = list->ep_next;
      r->inflight--;
      weft__reactor_note(&r->finished);
      weft__io_complete(list, -EBADF, 0);
    }
  }
}

/* Whether a non-blocking poll now would only repeat the last one: no op
 * started on this worker since it, and it was less than the interval ago. */
static bool busy_poll_skippable(struct weft__reactor *r) {
  if (atomic_load_explicit(&r->started, memory_order_relaxed) != r->ep.started_seen) return false;
  return weft__ticks() < r->ep.poll_by;
}

static void epoll_poll(struct weft__reactor *r, bool block, uint64_t deadline_ns) {
  if (!block && (r->inflight == 0 || busy_poll_skippable(r))) return;
  /* Read before the call: an op started from here on calls for another. */
  r->ep.started_seen = atomic_load_explicit(&r->started, memory_order_relaxed);
  /* The interval's ticks, measured again where a clock read costs nothing
   * that matters: before a wait, when there is nothing to run. */
  if (block) r->ep.poll_gap = weft__ticks_from_ns(BUSY_POLL_INTERVAL_NS);
  r->ep.poll_by = weft__ticks() + r->ep.poll_gap;
  struct epoll_event evs[128];
  struct timespec ts = {0, 0}, *tsp = &ts;
  if (block) {
    if (deadline_ns) {
      ts = weft__timespec((uint64_t)weft__deadline_left(deadline_ns));
    } else {
      tsp = NULL;
    }
  }
  /* relaxed: a sticky hint; every thread may find out for itself. */
  static _Atomic bool no_pwait2;
  int n = -1;
  if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
    n = epoll_pwait2(r->ep.epfd, evs, 128, tsp, NULL);
    if (n < 0 && errno == ENOSYS) atomic_store_explicit(&no_pwait2, true, memory_order_relaxed);
  }
  if (atomic_load_explicit(&no_pwait2, memory_order_relaxed)) /* before 5.11: ms, rounded up */
    n = epoll_wait(r->ep.epfd, evs, 128,
                   !tsp ? -1 : (int)(((uint64_t)ts.tv_sec * WEFT__NS_PER_S + (uint64_t)ts.tv_nsec + 999999) / 1000000));
  for (int i = 0; i < n; i++) {
    if (evs[i].data.fd == -1) {
      uint64_t v;
      while (read(r->wake_fd, &v, sizeof v) > 0) {
      }
      continue;
    }
    ready(r, evs[i].data.fd, evs[i].events);
  }
}

const struct weft__backend_ops weft__epoll_ops = {
    .name = "epoll",
    .id = WEFT__IO_EPOLL,
    .caps = WEFT__CAP_LAZY_RECV,
    .init = epoll_init,
    .bind = NULL,
    .fini = epoll_fini,
    .poll = epoll_poll,
    .start = epoll_start,
    .cancel = epoll_cancel,
    .register_buffers = NULL, /* fixed-buffer requests are plain ones */
    .register_files = NULL,   /* the table alone maps indices to fds */
};
