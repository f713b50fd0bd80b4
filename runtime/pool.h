/*
 * pool.h (private) - the one thread pool: threads that run blocking work
 * for the event loops, started on demand up to a bound, leaving after an
 * idle while. Executors (executor.c, run_in_executor/to_thread) and the
 * I/O offload pool (io/offload.c: file calls without io_uring,
 * getaddrinfo) are instances of it.
 *
 * Ownership: weft__pool_new returns the owner's reference; every thread
 * holds one too, so a pool whose owner let go is freed by its last thread.
 * Threads: every function may be called from any thread; shutdown and
 * wait_threads may suspend (in a task) or block (elsewhere).
 */
#ifndef WEFT_RUNTIME_POOL_H
#define WEFT_RUNTIME_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct weft__pool;

/* One piece of work. run() is called once, on a pool thread; it does its
 * own completion (wakes whoever waits) and may free the work. */
struct weft__pool_work {
  void (*run)(struct weft__pool_work *w);
  struct weft__pool_work *next; /* the queue's */
  int state;                    /* under the pool's lock */
};

struct weft__pool_config {
  unsigned max_threads;  /* >= 1 */
  int64_t idle_ns;       /* an idle thread leaves after this long; < 0: never */
  int64_t spin_ns;       /* a thread out of work looks for more this long
                            before it sleeps; 0: never */
  const char *name;      /* thread name prefix (15 bytes with the number) */
};

struct weft__pool_stats {
  unsigned threads, idle, running;
  size_t queued;
};

/* 0, -EINVAL (max_threads 0), -ENOMEM. No thread starts until work comes. */
int weft__pool_new(const struct weft__pool_config *cfg, struct weft__pool **out);
/* Another reference (the caller holds one). */
void weft__pool_ref(struct weft__pool *p);
/* Drops a reference; the last one frees the pool. Threads still running
 * work keep it alive until they leave. */
void weft__pool_release(struct weft__pool *p);

/* Hands @w to an idle thread, or queues it (starting a thread if under the
 * bound). 0; WEFT_ESHUTDOWN after shutdown; -EAGAIN when no thread exists
 * and none can be started (then @w is not queued). */
int weft__pool_submit(struct weft__pool *p, struct weft__pool_work *w);
/* Takes @w back if no thread has started it; true if it did. */
bool weft__pool_unqueue(struct weft__pool *p, struct weft__pool_work *w);

/* Refuses new work from now on; queued work still runs; idle threads
 * leave. Does not wait. */
void weft__pool_stop(struct weft__pool *p);
/* weft__pool_stop, then waits until every thread has left or the absolute @deadline
 * (0: none; weft__deadline) passes: 0, -ETIMEDOUT, -ECANCELED (a task's
 * wait cancelled), -EDEADLK (on a worker outside a task: it cannot wait). */
int weft__pool_shutdown(struct weft__pool *p, uint64_t deadline);
/* Waits until at most @n threads exist (tests, shutdown). Same returns. */
int weft__pool_wait_threads(struct weft__pool *p, unsigned n, uint64_t deadline);

void weft__pool_stats(struct weft__pool *p, struct weft__pool_stats *out);
/* Called by work running on a pool thread once what is left of it is
 * short (the executor: completing the call's future): the thread counts
 * as spinning from then until it is back, so a submission that arrives
 * meanwhile (the awaiting task's next call) is queued for it instead of
 * waking a sleeping thread or starting one. No-op elsewhere, in a pool
 * that does not spin, and when called twice. */
void weft__pool_finishing(void);

/* For a process-wide pool's pthread_atfork handlers: prepare takes the
 * lock, parent releases it, child resets the pool to no threads and
 * nothing queued (the parent's work is not the child's). */
void weft__pool_fork_prepare(struct weft__pool *p);
void weft__pool_fork_parent(struct weft__pool *p);
void weft__pool_fork_child(struct weft__pool *p);

#endif
