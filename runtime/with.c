/*
 * with.c - the async context managers of weft's objects (weft/with.h):
 * each an enter/exit pair over the object's own calls. An exit keeps the
 * body's result and reports its own failure only when the body had none.
 */
#include "weft.h"
#include "weft/with.h"

static int keep(int body_rc, int exit_rc) { return body_rc ? body_rc : exit_rc; }

static int lock_enter(void *l) { return weft_lock_acquire(l, -1); }
static int lock_exit(void *l, int rc) { return keep(rc, weft_lock_release(l)); }

static int sem_enter(void *s) { return weft_sem_acquire(s, -1); }
static int sem_exit(void *s, int rc) { return keep(rc, weft_sem_release(s)); }

static int cond_enter(void *c) { return weft_lock_acquire(weft_cond_lock(c), -1); }
static int cond_exit(void *c, int rc) { return keep(rc, weft_lock_release(weft_cond_lock(c))); }

static int group_enter(void *gp) { return weft_taskgroup_enter(gp); }
/* The group's outcome is the statement's: WEFT_EGROUP carries the body's
 * error along with the children's (weft_taskgroup_errors). */
static int group_exit(void *gp, int rc) { return weft_taskgroup_leave(*(weft_taskgroup_t **)gp, rc); }

static int timeout_enter(void *tw) {
  struct weft_timeout_with *t = tw;
  return weft_timeout_enter(&t->scope, t->timeout_ns);
}
/* -ECANCELED caused by the deadline becomes -ETIMEDOUT (asyncio.timeout). */
static int timeout_exit(void *tw, int rc) {
  return weft_timeout_leave(&((struct weft_timeout_with *)tw)->scope, rc);
}

static int nothing(void *obj) {
  (void)obj;
  return 0;
}

static int writer_exit(void *w, int rc) {
  int err = weft_writer_close(w);
  if (!err) err = weft_writer_wait_closed(w);
  return keep(rc, err);
}

static int server_exit(void *s, int rc) {
  int err = weft_server_close(s);
  if (!err) err = weft_server_wait_closed(s);
  return keep(rc, err);
}

static const struct weft_acm lock_acm = {lock_enter, lock_exit};
static const struct weft_acm sem_acm = {sem_enter, sem_exit};
static const struct weft_acm cond_acm = {cond_enter, cond_exit};
static const struct weft_acm group_acm = {group_enter, group_exit};
static const struct weft_acm timeout_acm = {timeout_enter, timeout_exit};
static const struct weft_acm writer_acm = {nothing, writer_exit};
static const struct weft_acm server_acm = {nothing, server_exit};

const struct weft_acm *weft_acm_lock(void) { return &lock_acm; }
const struct weft_acm *weft_acm_sem(void) { return &sem_acm; }
const struct weft_acm *weft_acm_cond(void) { return &cond_acm; }
const struct weft_acm *weft_acm_taskgroup(void) { return &group_acm; }
const struct weft_acm *weft_acm_timeout(void) { return &timeout_acm; }
const struct weft_acm *weft_acm_writer(void) { return &writer_acm; }
const struct weft_acm *weft_acm_server(void) { return &server_acm; }
