/*
 * loop_threads.c - the hand-off between a loop's owner and its worker
 * threads: workers 1..N-1 are threads started by the first run that live
 * until close, each bound to its worker (an io_uring ring may accept only
 * one submitting thread).
 *
 * Protocol: between runs the threads wait on run_gen and touch nothing, so
 * all the loop's state is the owner's. The owner sets up a run (or a
 * command: weft__loop_on_each_worker runs a function on each worker's own
 * thread), sets active to N-1 and bumps run_gen (release); each thread
 * does its part and decrements active (acq_rel); the last one wakes the
 * owner, which waits for active == 0 (acquire) before touching the loop
 * again. close sets exiting and bumps run_gen once more; the threads leave
 * and are joined.
 *
 * Invariants: run_gen only grows and only the owner bumps it; active is
 * nonzero exactly while threads are inside a run or command; cmd is set
 * only while a command's hand-off is in flight.
 */
#include "loop.h"
#include "alloc.h"
#include "futex.h"
#include "stackguard.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>

void weft__loop_pin_self(unsigned index) {
  cpu_set_t allowed, one;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
  int ncpu = CPU_COUNT(&allowed);
  if (ncpu <= 0) return;
  int want = (int)(index % (unsigned)ncpu), seen = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    if (seen++ == want) {
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      pthread_setaffinity_np(pthread_self(), sizeof one, &one);
      break;
    }
  }
}

/* Keeps the first error a command returned. relaxed: read by the owner
 * after the threads' acq_rel decrements of active. */
static void note_cmd_err(struct weft_loop *loop, int rc) {
  int none = 0;
  if (rc)
    atomic_compare_exchange_strong_explicit(&loop->cmd_err, &none, rc, memory_order_relaxed,
                                            memory_order_relaxed);
}

/* A worker thread's life: bind the worker's reactor to this thread, then
 * run the loop (or a command) each time run_gen moves, until close. */
static void *worker_thread(void *arg) {
  struct weft__worker *w = arg;
  struct weft_loop *loop = w->loop;
  if (loop->pin_workers) weft__loop_pin_self(w->index);
  weft__reactor_bind(&w->reactor);
  struct weft__altstack alt;
  weft__stackguard_thread_enter(&alt); /* the overflow handler's stack */
  uint32_t seen = loop->gen0; /* written before pthread_create, which orders it */
  for (;;) {
    uint32_t g;
    /* acquire: pairs with the owner's release increment; what it set up
     * for this run (cmd, run_mask, the queues) is visible. */
    while ((g = atomic_load_explicit(&loop->run_gen, memory_order_acquire)) == seen)
      weft__futex_wait(&loop->run_gen, seen, 0);
    seen = g;
    if (atomic_load_explicit(&loop->exiting, memory_order_acquire)) break;
    if (loop->cmd) {
      note_cmd_err(loop, loop->cmd(w, loop->cmd_arg));
    } else {
      pthread_sigmask(SIG_SETMASK, &loop->run_mask, NULL);
      weft__worker_main(w);
    }
    /* acq_rel: the owner's acquire load of 0 sees all this run did. */
    if (atomic_fetch_sub_explicit(&loop->active, 1, memory_order_acq_rel) == 1)
      weft__futex_wake(&loop->active, 1);
  }
  weft__stackguard_thread_exit(&alt);
  return NULL;
}

/* Starts workers 1..N-1 once; they live until close. */
int weft__loop_threads_start(struct weft_loop *loop) {
  if (loop->threads_up) return 0;
  /* A new thread that cannot get allocator memory would crash in it (alloc.h). */
  if (loop->nworkers > 1 && weft__alloc_thread_ready() != 0) return -ENOMEM;
  /* The generation the new threads count from: the next bump is theirs. */
  loop->gen0 = atomic_load_explicit(&loop->run_gen, memory_order_relaxed);
  for (unsigned i = 1; i < loop->nworkers; i++) {
    if (pthread_create(&loop->workers[i].thread, NULL, worker_thread, &loop->workers[i]) != 0) {
      /* release: the started ones see exiting when they wake. */
      atomic_store_explicit(&loop->exiting, true, memory_order_release);
      atomic_fetch_add_explicit(&loop->run_gen, 1, memory_order_release);
      weft__futex_wake(&loop->run_gen, INT32_MAX);
      for (unsigned k = 1; k < i; k++) pthread_join(loop->workers[k].thread, NULL);
      atomic_store_explicit(&loop->exiting, false, memory_order_relaxed);
      return -EAGAIN;
    }
  }
  loop->threads_up = true;
  return 0;
}

/* Sends the threads into a run or command and returns at once. */
void weft__loop_threads_release(struct weft_loop *loop) {
  atomic_store_explicit(&loop->active, loop->nworkers - 1, memory_order_relaxed);
  /* release: see worker_thread. */
  atomic_fetch_add_explicit(&loop->run_gen, 1, memory_order_release);
  weft__futex_wake(&loop->run_gen, INT32_MAX);
}

/* Waits until every thread has finished the current run or command. */
void weft__loop_threads_wait(struct weft_loop *loop, bool wake) {
  uint32_t a;
  /* acquire: pairs with the threads' acq_rel decrements. */
  while ((a = atomic_load_explicit(&loop->active, memory_order_acquire)) != 0) {
    if (wake) weft__loop_wake_all(loop); /* a late one may be parked */
    weft__futex_wait(&loop->active, a, 0);
  }
}

void weft__loop_threads_stop(struct weft_loop *loop) {
  if (!loop->threads_up) return;
  atomic_store_explicit(&loop->exiting, true, memory_order_release);
  atomic_fetch_add_explicit(&loop->run_gen, 1, memory_order_release);
  weft__futex_wake(&loop->run_gen, INT32_MAX);
  for (unsigned i = 1; i < loop->nworkers; i++) pthread_join(loop->workers[i].thread, NULL);
  loop->threads_up = false;
}

int weft__loop_on_each_worker(struct weft_loop *loop, int (*fn)(struct weft__worker *w, void *arg),
                              void *arg) {
  atomic_store_explicit(&loop->cmd_err, 0, memory_order_relaxed);
  if (loop->threads_up) {
    loop->cmd = fn;
    loop->cmd_arg = arg;
    weft__loop_threads_release(loop);
    weft__loop_threads_wait(loop, false);
    loop->cmd = NULL;
  } else {
    for (unsigned i = 1; i < loop->nworkers; i++) note_cmd_err(loop, fn(&loop->workers[i], arg));
  }
  int rc = fn(&loop->workers[0], arg);
  int err = atomic_load_explicit(&loop->cmd_err, memory_order_relaxed);
  return err ? err : rc;
}

void weft__loop_wake_all(struct weft_loop *loop) {
  unsigned ids[WEFT__MAX_WORKERS];
  unsigned n = weft__idle_claim_all(&loop->idle, ids);
  for (unsigned i = 0; i < n; i++) weft__park_unpark(&loop->workers[ids[i]].park);
}
