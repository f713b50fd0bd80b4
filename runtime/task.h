/*
 * task.h (private) - the task object, its states and its transitions.
 *
 *   (spawn) --> SCHEDULED --run--> RUNNING --suspend--> IDLE --wake--> SCHEDULED
 *                                   |   ^ wake while running: NOTIFIED,
 *                                   |   | re-queued as soon as it suspends
 *                                   +--end--> DONE
 *
 * Transitions: weft__task_wake (IDLE->SCHEDULED, RUNNING->NOTIFIED),
 * worker.c run_task (SCHEDULED->RUNNING, RUNNING->IDLE or re-queue, ->DONE).
 * Only the worker that popped a SCHEDULED task runs it.
 */
#ifndef WEFT_RUNTIME_TASK_PRIV_H
#define WEFT_RUNTIME_TASK_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "fiber.h"
#include "future.h"
#include "runnable.h"
#include "stack.h"

enum weft__task_state {
  WEFT__TASK_IDLE = 0,
  WEFT__TASK_SCHEDULED = 1,
  WEFT__TASK_RUNNING = 2,
  WEFT__TASK_NOTIFIED = 3,
  WEFT__TASK_DONE = 4,
};

struct weft__registry;

struct weft_task {
  struct weft_future fut;   /* first: a task is a future */
  struct weft__runnable r;
  _Atomic uint32_t state;   /* enum weft__task_state */
  _Atomic bool must_cancel; /* a cancellation waits to be delivered; changed under fut.lock */
  uint32_t cancel_requests; /* under fut.lock */
  char *cancel_msg;         /* under fut.lock */
  char *fail_msg;           /* set by weft_fail() on the task itself */
  char *name;               /* under fut.lock; NULL until named */
  char name_buf[24];        /* "Task-<id>" made on first read */
  weft_task_fn fn;
  void *arg;
  uint64_t id;
  size_t stack_size;
  int pinned;               /* worker index, or -1; immutable */
  bool started;             /* owned by the running worker */
  struct weft__stack *stack;
  struct weft__fiber fiber;
  struct weft__registry *reg; /* where the task is listed while not done */
  struct weft__list reg_link; /* under reg->lock */
};

static inline struct weft_task *weft__task_of(struct weft_future *f) {
  return (struct weft_task *)f;
}

/* Makes a task runnable again after a suspension (any thread). */
void weft__task_wake(struct weft_task *t);

/* Suspends the current task until *fired is set, a cancellation is
 * requested, or @deadline_ns (absolute, 0 = none) passes. Returns 0,
 * -ECANCELED or -ETIMEDOUT. The caller then takes the lock protecting its
 * waiter node before leaving (future.h's waker rule). */
int weft__task_wait(struct weft_task *t, _Atomic uint32_t *fired, uint64_t deadline_ns);

/* Takes a pending cancellation, if any: returns true and clears it. */
bool weft__task_take_cancel(struct weft_task *t);

/* Ends @t with @err/@result (on its own fiber, or on the scheduler for a task
 * cancelled before it started). */
void weft__task_finish(struct weft_task *t, int err, void *result);

/* The task running on the calling thread, or NULL. */
struct weft_task *weft__task_self(void);

void weft__task_free(struct weft_task *t);

#endif
