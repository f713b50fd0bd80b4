/*
 * reactor.c - choosing a backend, and the calls every layer above makes,
 * each one step through the chosen backend's ops table.
 *
 * Choice: io_uring unless it cannot be set up (the reason is kept for
 * weft_loop_backend_reason()), or $WEFT_IO_BACKEND / the loop config force
 * one. A forced io_uring that fails is an error, not a fallback: users who
 * ask for it want to know.
 *
 * Invariants: r->ops is set exactly while the backend's state in @r is
 * live (between a successful init and fini). Presubmit work queued before
 * a poll, wait or quiesce runs before that call's submission, each item
 * once, oldest first.
 */
#include "reactor.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#if defined(WEFT_HAVE_VALGRIND_H)
#include <valgrind/valgrind.h>
#endif

/* The backend to try first for @want, or NULL with the reason in @why
 * when auto-selection must skip io_uring (or a forced io_uring cannot be
 * had: then *@forced_fail is set). */
static const struct weft__backend_ops *first_choice(int want, char *why, size_t whylen,
                                                    bool *forced_fail) {
  *forced_fail = false;
  if (want == WEFT__IO_EPOLL) return &weft__epoll_ops;
#if defined(WEFT__HAVE_URING)
#if defined(WEFT_HAVE_VALGRIND_H)
  /* Valgrind does not see what the kernel writes into the rings and holds
   * its big lock across io_uring_enter: a blocked worker would stall all. */
  if (want == WEFT__IO_NONE && RUNNING_ON_VALGRIND) {
    snprintf(why, whylen, "running under Valgrind, which cannot follow io_uring");
    return NULL;
  }
#endif
  return &weft__ring_ops;
#else
  snprintf(why, whylen, "built without liburing");
  *forced_fail = want == WEFT__IO_URING;
  return NULL;
#endif
}

int weft__reactor_init(struct weft__reactor *r, int want, unsigned entries, bool own_thread,
                       char *why, size_t whylen) {
  memset(r, 0, sizeof *r);
  r->wake_fd = -1;
  char reason[160] = "", scratch[160];
  bool forced_fail;
  const struct weft__backend_ops *ops = first_choice(want, reason, sizeof reason, &forced_fail);
  int rc = forced_fail ? -ENOSYS : 0;
  if (ops && (rc = ops->init(r, entries, own_thread, reason, sizeof reason)) == 0) {
    reason[0] = '\0'; /* the first choice worked: no fallback to explain */
  } else if (want == WEFT__IO_NONE && ops != &weft__epoll_ops) {
    ops = &weft__epoll_ops; /* fall back; the first choice's reason stays */
    rc = ops->init(r, entries, own_thread, scratch, sizeof scratch);
    if (rc < 0) snprintf(reason, sizeof reason, "%s", scratch);
  }
  if (why && whylen) snprintf(why, whylen, "%s", reason);
  if (rc < 0) return rc;
  r->ops = ops;
  return 0;
}

void weft__reactor_bind(struct weft__reactor *r) {
  if (r->ops->bind) r->ops->bind(r);
}

void weft__reactor_fini(struct weft__reactor *r) {
  if (r->ops) r->ops->fini(r);
  r->ops = NULL;
}

bool weft__reactor_presubmit(struct weft__reactor *r, struct weft__io_presubmit *p) {
  p->next = NULL;
  if (r->presubmit) *r->presubmit_tail = p;
  else r->presubmit = p;
  r->presubmit_tail = &p->next;
  return ++r->presubmit_n >= WEFT__PRESUBMIT_BATCH;
}

/* Runs the presubmit work queued so far; work it queues waits for the
 * next submission. */
static void run_presubmit(struct weft__reactor *r) {
  struct weft__io_presubmit *p = r->presubmit;
  r->presubmit = NULL;
  r->presubmit_n = 0;
  while (p) {
    struct weft__io_presubmit *next = p->next; /* fn may queue p again */
    p->fn(p, r);
    p = next;
  }
}

void weft__reactor_poll(struct weft__reactor *r) {
  if (r->presubmit) run_presubmit(r);
  r->ops->poll(r, false, 0);
}

void weft__reactor_submit(struct weft__reactor *r) {
  if (r->presubmit) run_presubmit(r);
  if (r->ops->submit) r->ops->submit(r);
}

void weft__reactor_wait(struct weft__reactor *r, uint64_t deadline_ns) {
  if (r->presubmit) run_presubmit(r);
  r->ops->poll(r, true, deadline_ns);
}

void weft__reactor_kick(struct weft__reactor *r) {
  uint64_t one = 1;
  /* Cannot fail short of a counter overflow (2^64 - 2 kicks unread), nor
   * be interrupted (it never sleeps); were it, a lost kick would leave the
   * worker asleep with work queued, so an -EINTR is taken again. */
  while (write(r->wake_fd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

static int start(struct weft__reactor *r, struct weft__io_op *op, uint64_t deadline_ns,
                 bool standing) {
  op->standing = standing;
  op->cancelled = 0;
  op->phase = WEFT__PHASE_ISSUE;
  op->deadline = deadline_ns;
  op->ep_next = NULL;
  atomic_init(&op->done, 0);
  unsigned queued = r->inflight;
  int rc = r->ops->start(r, op);
  weft__reactor_note(&r->started);
  /* Done, or refused, without being queued (epoll's first try): finished too. */
  if (r->inflight == queued) weft__reactor_note(&r->finished);
  return rc;
}

int weft__reactor_start(struct weft__reactor *r, struct weft__io_op *op, uint64_t deadline_ns) {
  return start(r, op, deadline_ns, false);
}

int weft__reactor_start_standing(struct weft__reactor *r, struct weft__io_op *op) {
  return start(r, op, 0, true);
}

void weft__reactor_cancel(struct weft__reactor *r, struct weft__io_op *op) {
  r->ops->cancel(r, op);
}

void weft__reactor_quiesce(struct weft__reactor *r) {
  if (!r->ops) return;
  if (r->presubmit) run_presubmit(r);
  if (r->ops->quiesce) r->ops->quiesce(r);
}

void weft__reactor_release_standing(struct weft__reactor *r) {
  if (r->ops && r->ops->release_standing) r->ops->release_standing(r);
}

int weft__reactor_register_buffers(struct weft__reactor *r, const struct iovec *iov, unsigned n) {
  return r->ops->register_buffers ? r->ops->register_buffers(r, iov, n) : 0;
}

int weft__reactor_register_files(struct weft__reactor *r, const int *fds, unsigned n) {
  if (r->ops->register_files) {
    int rc = r->ops->register_files(r, fds, n);
    if (rc < 0) return rc;
  }
  r->fixed_fds = fds;
  r->nfixed_fds = n;
  return 0;
}
