/*
 * adapt.h - serving on fewer workers while the loop's threads wait for
 * CPUs (cfg.adapt_workers; docs/runtime.md, "Sharing CPUs").
 *
 * A worker that the kernel has taken off its CPU holds what only it can
 * deliver: its ring's completions (io_uring runs a socket's completion as
 * task work of the thread that submitted it) and its timers. When the
 * machine has fewer free CPUs than the loop has workers, every extra
 * worker is one more thread to be preempted holding connections, and the
 * loop gets no more CPU for it: with a busy process beside a two-worker
 * echo server on two vCPUs, one worker served more requests at a third of
 * the p99 (benchmarks/RESULTS.md, 2026-12-03).
 *
 * So the loop serves on workers [0, nserving) and keeps the rest as
 * standbys. A standby takes no shared work (no stealing, no injection
 * queue), hands over what it has queued, cancels its standing receives
 * (their streams start them again on their readers' workers), and from
 * then on sends every task it wakes that is not pinned to it (I/O
 * completions still on its ring, timers still on its heap) to the
 * injection queue. Tasks pinned to a standby still run there. A standby
 * sleeps outside the idle protocol (idle.c), so no notifier picks it.
 *
 * The monitor thread decides (weft__adapt_sample), from each worker
 * thread's scheduler statistics (/proc/self/task/<tid>/schedstat, opened
 * for each read: time on a CPU and time runnable but waiting for one)
 * over windows of WINDOW_NS (100 ms):
 *  - one fewer when the serving workers wanted a CPU for at least a fifth
 *    of a window, waited for one a quarter of that time, and the loop's
 *    workers together got no more CPU than one fewer could use (plus a
 *    margin): the last one added contention, not capacity. A
 *    compute-bound loop that gets more CPU from more threads keeps them;
 *  - one more when the serving workers were almost never asleep and
 *    seldom waited for a CPU (they are saturated and CPUs are free), or
 *    one of them was held by one task or callback the whole window (a
 *    blocking call: Go's sysmon hands its P to another thread for the
 *    same reason).
 * A grow that is undone within FLAP_NS doubles the number of windows
 * the next grow must wait (at most HOLD_MAX), so a load on the edge does
 * not flap. Without schedstat (a kernel built without it) nothing
 * changes.
 */
#ifndef WEFT_RUNTIME_ADAPT_H
#define WEFT_RUNTIME_ADAPT_H

#include <stdbool.h>
#include <stdint.h>

struct weft_loop;
struct weft_loop_config;

/* One window of the serving workers' (and all workers') time. */
struct weft__adapt_window {
  uint64_t len_ns;        /* wall time */
  unsigned nworkers;      /* the loop's workers */
  unsigned serving;       /* serving during the window */
  uint64_t run_ns;        /* serving workers: on a CPU */
  uint64_t wait_ns;       /* serving workers: runnable, waiting for a CPU */
  uint64_t all_run_ns;    /* every worker: on a CPU */
  bool held;              /* a serving worker ran one task the whole window */
};

/* The serving count the window argues for: serving - 1, serving, or
 * serving + 1, within [1, nworkers]. Pure (tests/runtime/test_adapt.c). */
unsigned weft__adapt_decide(const struct weft__adapt_window *win);

/* Sets up the controller if the loop has more than one worker and
 * cfg->adapt_workers asks for it (WEFT_ADAPT_DEFAULT: $WEFT_ADAPT_WORKERS
 * says 1 or 0, else on unless cfg->pin_workers); loop->nserving is
 * nworkers either way. 0, -EINVAL (a bad value) or -ENOMEM. */
int weft__adapt_init(struct weft_loop *loop, const struct weft_loop_config *cfg);
void weft__adapt_free(struct weft_loop *loop);

/* Makes workers [0, n) serve (n clamped to [1, nworkers]) and wakes every
 * worker whose role changed. Any thread. */
void weft__adapt_set_serving(struct weft_loop *loop, unsigned n);

/* The monitor's sample (monitor thread): closes a window when one is due
 * and applies its decision. */
void weft__adapt_sample(struct weft_loop *loop, uint64_t now);

/* The monitor's sampling period while the controller runs (ns). */
#define WEFT__ADAPT_PERIOD_NS 25000000LL

#endif
