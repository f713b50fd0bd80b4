/*
 * weft/with.h - `async with` in C: a block that enters an async context
 * manager with a call that may suspend and always leaves it.
 *
 *   int rc;
 *   WEFT_ASYNC_WITH(rc, weft_acm_lock(), lock) {     // async with lock:
 *     if (bad) { rc = -EIO; break; }                 //   leave early: set rc, break
 *     ...
 *   }                                                // released here, always
 *   if (rc) ...                                      // enter's error, the body's, or exit's
 *
 * rc is the with statement's result: the enter call's error (the body does
 * not run, nothing is left), else what the body put in rc (0 unless it set
 * it), passed to the manager's exit, whose return becomes rc (a TaskGroup
 * turns its children's failures into WEFT_EGROUP; the others return the
 * body's rc, or their own error if the body had none).
 *
 * The documented ways out of the body are falling off its end, `break`
 * and `continue` (both leave the with, not an enclosing loop). A `return`
 * also leaves the manager (GCC/Clang cleanup), but exit's result is lost:
 * prefer `rc = ...; break;`. goto out of the body is not supported.
 *
 * Managers (struct weft_acm, enter then exit on one object) for every
 * weft object asyncio has one for: weft_acm_lock (Lock), weft_acm_sem
 * (Semaphore), weft_acm_cond (Condition: its lock), weft_acm_taskgroup
 * (TaskGroup: the object is a weft_taskgroup_t ** that enter fills;
 * destroy the group after reading its errors), weft_acm_timeout
 * (asyncio.timeout: struct weft_timeout_with), weft_acm_writer (a writer:
 * close and wait_closed), weft_acm_server (a server: close and
 * wait_closed). A user-defined manager is a struct weft_acm of its own.
 * Suspends: enter and exit may (a task is needed where they do).
 */
#ifndef WEFT_WITH_H
#define WEFT_WITH_H

#include <stdint.h>
#include "weft/compose.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An async context manager: __aenter__ and __aexit__. */
struct weft_acm {
  int (*enter)(void *obj);              /* 0, or an error (then exit is not called) */
  int (*exit)(void *obj, int body_rc);  /* returns the with statement's result */
};

/** The managers above; each returns a pointer to a static table. */
WEFT_EXTERN const struct weft_acm *weft_acm_lock(void);
WEFT_EXTERN const struct weft_acm *weft_acm_sem(void);
WEFT_EXTERN const struct weft_acm *weft_acm_cond(void);
WEFT_EXTERN const struct weft_acm *weft_acm_taskgroup(void);
WEFT_EXTERN const struct weft_acm *weft_acm_timeout(void);
WEFT_EXTERN const struct weft_acm *weft_acm_writer(void);
WEFT_EXTERN const struct weft_acm *weft_acm_server(void);

/* The object for weft_acm_timeout(): the scope and its length
 * (asyncio.timeout(delay); < 0: none). */
struct weft_timeout_with {
  struct weft_timeout scope;
  int64_t timeout_ns;
};

/* ---- the block ---------------------------------------------------------------- */

struct weft__with {
  const struct weft_acm *acm;
  void *obj;
  int *rc;
  int armed; /* entered and not left yet */
};

static inline void weft__with_leave(struct weft__with *w) {
  if (!w->armed) return;
  w->armed = 0;
  *w->rc = w->acm->exit(w->obj, *w->rc);
}

static inline struct weft__with weft__with_enter(const struct weft_acm *acm, void *obj, int *rc) {
  struct weft__with w = {acm, obj, rc, 0};
  *rc = acm->enter(obj);
  w.armed = *rc == 0;
  return w;
}

#define WEFT__WITH_CAT2(a, b) a##b
#define WEFT__WITH_CAT(a, b) WEFT__WITH_CAT2(a, b)
#define WEFT__WITH_VAR WEFT__WITH_CAT(weft__with_, __LINE__)
#define WEFT__WITH_ONCE WEFT__WITH_CAT(weft__with_once_, __LINE__)

/* The outer for owns the manager (left in its step, or by the cleanup on
 * a return); the inner one is the body, so that break and continue end
 * the body and reach the outer step. */
#define WEFT_ASYNC_WITH(rc, acm, obj)                                                         \
  for (struct weft__with WEFT__WITH_VAR __attribute__((cleanup(weft__with_leave))) =          \
           weft__with_enter((acm), (void *)(obj), &(rc));                                     \
       WEFT__WITH_VAR.armed; weft__with_leave(&WEFT__WITH_VAR))                              \
    for (int WEFT__WITH_ONCE = 1; WEFT__WITH_ONCE; WEFT__WITH_ONCE = 0)

#ifdef __cplusplus
}
#endif

#endif
