/*
 * signal.c - loop.add_signal_handler over a signalfd (weft/process.h).
 *
 * The handled signals are blocked in the owner's thread and in every
 * worker thread (those live across runs: the change is made on each of
 * their threads before add returns) and read from one signalfd, which
 * worker 0's reactor watches with a callback op: on readiness the callback
 * reads every pending siginfo, schedules each signal's handler with
 * call_soon (handlers run as ordinary callbacks, never in signal context)
 * and re-arms the watch.
 *
 * Invariants: handlers[] and the fd change only while the loop is not
 * running (its owner has every worker's state then); the watch op lives in
 * struct weft__signals until the loop closes, after the reactors are gone.
 */
#include "weft/process.h"
#include "alloc.h"
#include "loop.h"
#include "reactor.h"

#include <errno.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct weft__signals {
  int fd;
  sigset_t mask;
  struct weft_loop *loop;
  weft_callback_fn cb[NSIG];
  void *arg[NSIG];
  bool armed;
  struct weft__io_op watch;
};

static void arm(struct weft__signals *s);

/* Worker threads outlive runs: they take a mask change on their own
 * threads (weft__loop_on_each_worker), so no signal finds one unblocked. */
static int block_cmd(struct weft__worker *w, void *arg) {
  (void)w;
  return pthread_sigmask(SIG_BLOCK, arg, NULL) ? -EINVAL : 0;
}

static int unblock_cmd(struct weft__worker *w, void *arg) {
  (void)w;
  return pthread_sigmask(SIG_UNBLOCK, arg, NULL) ? -EINVAL : 0;
}

static void on_readable(struct weft__io_op *op) {
  struct weft__signals *s = (struct weft__signals *)((char *)op - offsetof(struct weft__signals, watch));
  s->armed = false;
  struct signalfd_siginfo si;
  while (read(s->fd, &si, sizeof si) == (ssize_t)sizeof si) {
    int sig = (int)si.ssi_signo;
    if (sig > 0 && sig < NSIG && s->cb[sig]) weft_call_soon(s->cb[sig], s->arg[sig], NULL);
  }
  if (!atomic_load_explicit(&s->loop->closing, memory_order_relaxed)) arm(s);
}

static void arm(struct weft__signals *s) {
  if (s->armed) return;
  s->watch.cb = on_readable;
  s->watch.req = (struct weft__io_req){.kind = WEFT__IO_POLL, .fd = s->fd, .mask = POLLIN};
  if (weft__reactor_start(&s->loop->workers[0].reactor, &s->watch, 0) != 0) return;
  s->armed = true;
  /* epoll may finish a ready poll at once, without calling back. */
  if (atomic_load_explicit(&s->watch.done, memory_order_relaxed)) on_readable(&s->watch);
}

int weft_loop_add_signal_handler(weft_loop_t *loop, int sig, weft_callback_fn cb, void *arg) {
  if (!loop || !cb || sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP) return -EINVAL;
  if (atomic_load_explicit(&loop->running, memory_order_acquire)) return -EBUSY;
  if (atomic_load_explicit(&loop->closed, memory_order_acquire)) return WEFT_ECLOSED;
  struct weft__signals *s = loop->io.signals;
  if (!s) {
    if (!(s = weft__calloc(sizeof *s))) return -ENOMEM;
    sigemptyset(&s->mask);
    s->loop = loop;
    s->fd = -1;
  }
  sigset_t mask = s->mask;
  sigaddset(&mask, sig);
  int fd = signalfd(s->fd, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) {
    int e = -errno;
    if (!loop->io.signals) weft__free(s, sizeof *s);
    return e;
  }
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  weft__loop_on_each_worker(loop, block_cmd, &one); /* the caller (worker 0) too */
  s->fd = fd;
  s->mask = mask;
  s->cb[sig] = cb;
  s->arg[sig] = arg;
  loop->io.signals = s;
  arm(s);
  return 0;
}

int weft_loop_remove_signal_handler(weft_loop_t *loop, int sig) {
  if (!loop || sig <= 0 || sig >= NSIG) return -EINVAL;
  if (atomic_load_explicit(&loop->running, memory_order_acquire)) return -EBUSY;
  struct weft__signals *s = loop->io.signals;
  if (!s || !s->cb[sig]) return 0;
  s->cb[sig] = NULL;
  sigdelset(&s->mask, sig);
  signalfd(s->fd, &s->mask, SFD_NONBLOCK | SFD_CLOEXEC);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  weft__loop_on_each_worker(loop, unblock_cmd, &one);
  return 1;
}

void weft__signals_fini(struct weft_loop *loop) {
  struct weft__signals *s = loop->io.signals;
  if (!s) return;
  pthread_sigmask(SIG_UNBLOCK, &s->mask, NULL);
  close(s->fd);
  weft__free(s, sizeof *s);
  loop->io.signals = NULL;
}
