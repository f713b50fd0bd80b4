/*
 * weft/debug.h - seeing inside a running program: the task dump with
 * stacks, the stall detector, runtime metrics and per-task accounting.
 * docs/debug.md shows a real dump and explains each field.
 *
 * Stacks are walked by frame pointers (weft is built with
 * -fno-omit-frame-pointer; build your code the same way for whole stacks:
 * a frame without one ends the walk early, it never crashes it) and
 * symbolized from the ELF symbol tables of the loaded objects.
 *
 * What is always on, and what it costs: per-worker counters and per-task
 * run counts, last worker and stop stamp (about 15 instructions per task
 * switch, plain stores), what each suspended task waits on (three stores
 * per suspension), and the stall detector (a monitor thread per loop that
 * samples the workers' slice counters a few times per threshold while any
 * worker is busy, and sleeps otherwise; nothing on the workers' path), and
 * per-task times (run, scheduling delay, suspended), sampled: one slice in
 * 32 is timed (struct weft_task_stats). Debug mode (weft_loop_set_debug,
 * asyncio's loop.set_debug) times every slice. benchmarks/RESULTS.md has
 * the measured costs.
 *
 * A running task's stack is captured on its worker by SIGURG (the signal
 * Go uses for preemption: ignored by default, rarely used by programs).
 * weft installs its handler the first time it needs one, only if the
 * program has none; a program that handles SIGURG itself gets dumps
 * without the stacks of running tasks.
 *
 * Thread-safety: every function here may be called from any thread,
 * including a task (the dump then writes from that worker, blocking it for
 * the dump's length). The dump reads saved state: it never runs user code
 * and takes no lock user code can hold, so it works in a deadlocked program
 * and shows a worker stuck in a busy loop or a system call with its live
 * stack. No function here suspends.
 */
#ifndef WEFT_DEBUG_H
#define WEFT_DEBUG_H

#include <stddef.h>
#include <stdint.h>
#include "weft/runtime.h"
#include "weft/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * enum weft_dump_format - how weft_loop_dump writes
 * @WEFT_DUMP_TEXT: for people: the workers, any deadlock cycle, then the
 *                  tasks grouped by identical state and stack with a count
 *                  (like Go's goroutine dump).
 * @WEFT_DUMP_JSON: JSON lines for tools: one {"type":"loop"}, one
 *                  {"type":"worker"} per worker, one {"type":"task"} per
 *                  task, one {"type":"cycle"} per deadlock cycle.
 */
enum weft_dump_format {
  WEFT_DUMP_TEXT = 0,
  WEFT_DUMP_JSON = 1,
};

/**
 * weft_loop_dump - write every task of @loop with its state and stack
 * @loop:   the loop; running or not, not closed.
 * @fd:     where to write (written synchronously, in full).
 * @format: enum weft_dump_format.
 *
 * Each task appears once: id, name, state (scheduled / running on worker
 * k / suspended), what it waits on (the task it awaits, the lock and the
 * task that held it when it queued, a sleep's deadline, an I/O request
 * with its fd, ...), how long since it last ran (to a few ms), the worker
 * it is pinned to, its spawn site and its stack. Tasks that wait for each
 * other in a cycle are reported as a deadlock; a task awaiting a future
 * nobody else holds (nothing can ever complete it) is flagged "leaked".
 * A suspended task is held still while its stack is read (a wake-up that
 * arrives meanwhile queues it right after), so its stack is exact.
 *
 * Returns:  0; -EINVAL if @loop is NULL, @fd < 0 or @format unknown;
 *           WEFT_ECLOSED if the loop is closed; -ENOMEM; a write error
 *           (-EBADF, -EPIPE, -ENOSPC...: the dump stops there).
 */
WEFT_EXTERN int weft_loop_dump(weft_loop_t *loop, int fd, int format);

/**
 * weft_task_stack - return addresses of @t's stack (asyncio's Task.get_stack)
 * @t:      the task (the caller's own, suspended, queued or running).
 * @frames: receives up to @max addresses, innermost first.
 * @max:    capacity of @frames.
 *
 * Returns the number stored (0 for a task that has not started or has
 * ended); -EINVAL if @t or @frames is NULL; for a task running on another
 * worker, the capture's errors: -ETIMEDOUT (the worker did not answer the
 * capture signal within 100 ms), -ENOTSUP (the program handles SIGURG
 * itself), -ESRCH (no thread to signal), -ENOMEM.
 */
WEFT_EXTERN int weft_task_stack(weft_task_t *t, void **frames, size_t max);

/**
 * weft_task_print_stack - write @t's symbolized stack to @fd (print_stack)
 *
 * One line per frame: "  #k function+0xoff (module)". Returns 0, or the
 * errors of weft_task_stack and of write(2).
 */
WEFT_EXTERN int weft_task_print_stack(weft_task_t *t, int fd);

/**
 * weft_symbolize - a code address's name: "function+0xoff (module)"
 * @addr: a code address (a return address from weft_task_stack: pass
 *        @is_return nonzero so the call instruction is named).
 * @buf:  receives the name, always NUL-terminated.
 * Returns 0, or -EINVAL if @buf is NULL or @len is 0.
 */
WEFT_EXTERN int weft_symbolize(const void *addr, int is_return, char *buf, size_t len);

/**
 * struct weft_task_stats - one task's accounting
 * @runs:         slices it ran (each resumption is one); exact.
 * @timed_slices: how many of them were timed (below).
 * @run_ns:       time on a worker.
 * @max_slice_ns: its longest timed slice.
 * @ready_ns:     time runnable but waiting for a worker (scheduling delay).
 * @suspended_ns: time suspended, waiting for an event (the current
 *                suspension, if any, not included).
 *
 * The times are sampled (cfg.acct_sample; by default from 32 up, after
 * what a clock read costs: weft/runtime.h): each worker times
 * one slice in N with the CPU's time-stamp counter, plus the suspension
 * that follows that slice and the wait for a worker after it; a sampled
 * spawn times the wait before the first run. The totals above are those
 * timed intervals' mean times the number of intervals (@runs), so they
 * are estimates, whose error shrinks as the task runs more slices; a task
 * none of whose slices was timed reports 0 with @timed_slices 0. In debug
 * mode (weft_loop_set_debug) every slice is timed and the totals are
 * exact; @max_slice_ns is exact only then (otherwise the longest of the
 * timed slices; the stall detector sees every long slice regardless).
 */
struct weft_task_stats {
  uint64_t runs;
  uint64_t timed_slices;
  uint64_t run_ns;
  uint64_t max_slice_ns;
  uint64_t ready_ns;
  uint64_t suspended_ns;
};

/**
 * weft_task_get_stats - read @t's accounting (any thread; values may be one
 * slice stale while it runs). Returns 0 or -EINVAL.
 */
WEFT_EXTERN int weft_task_get_stats(weft_task_t *t, struct weft_task_stats *out);

/**
 * struct weft_worker_stats - one worker's counters since the loop was made
 * @polled:       task slices started.
 * @steals:       steal operations that found work; @stolen: runnables taken.
 * @parks:        times it slept in its reactor; @unparks: times another
 *                thread woke it from there.
 * @busy_ns, @idle_ns: time running (not parked) and parked, in runs so far,
 *                up to now: the current run's busy time and a sleep in
 *                progress count (read together, so successive reads of
 *                either never go back).
 * @timers_fired, @handles_run: timer callbacks and call_soon/call_later
 *                callbacks run.
 * @io_submitted, @io_completed: I/O requests given to its reactor, and
 *                completed there; @io_inflight: the difference now.
 * @local_queue, @inbox_queue, @lifo: ready work queued now: its ring (and
 *                one worker's overflow list, and the first runs it holds
 *                back while they would need fresh stack memory: docs/
 *                design.md, Ordering policy), work pinned to it by other
 *                threads, and the LIFO slot (0 or 1).
 * @busy:         1 if a task or a callback is on it now (the dump names
 *                the task), else 0.
 * @standby:      1 if it takes no shared work now (cfg.adapt_workers:
 *                docs/runtime.md, "Sharing CPUs"), else 0; in a loop's
 *                total, how many are.
 */
struct weft_worker_stats {
  uint64_t polled;
  uint64_t steals;
  uint64_t stolen;
  uint64_t parks;
  uint64_t unparks;
  uint64_t busy_ns;
  uint64_t idle_ns;
  uint64_t timers_fired;
  uint64_t handles_run;
  uint64_t io_submitted;
  uint64_t io_completed;
  uint64_t io_inflight;
  uint64_t local_queue;
  uint64_t inbox_queue;
  uint64_t lifo;
  uint64_t busy;
  uint64_t standby;
};

/**
 * weft_loop_worker_stats - read worker @index's counters (any thread)
 * Returns 0; -EINVAL if @loop or @out is NULL or @index >= workers;
 * WEFT_ECLOSED.
 */
WEFT_EXTERN int weft_loop_worker_stats(weft_loop_t *loop, unsigned index,
                                       struct weft_worker_stats *out);

/**
 * struct weft_loop_stats - a loop's totals
 * @workers:        worker count.
 * @live_tasks:     tasks spawned and not ended.
 * @injected:       ready work in the loop's shared queue (foreign threads).
 * @stacks_in_use, @stacks_cached, @stack_bytes: stacks of the default size
 *                  held by tasks, kept for reuse, and the bytes of stack
 *                  address space mapped (weft_memory_stats has the detail).
 * @stalls, @backlogs: stall and backlog reports made (including any that
 *                  the rate limit kept from the handler).
 * @stall_threshold_ns: the stall detector's threshold (0: off).
 * @debug:          nonzero while debug mode is on (every slice timed).
 * @acct_sample:    one task slice in this many is timed for the per-task
 *                  times (1 in debug mode; 0: none; cfg.acct_sample).
 * @io_backend:     "io_uring" or "epoll"; @io_fallback: why the first
 *                  choice was not taken ("" if it was). Static strings.
 * @serving:        workers taking shared work now (weft_loop_serving_workers);
 *                  @serving_changes: how often that count changed.
 * @owner_revocations: how often another thread (an executor's completion
 *                  of run_in_executor's future, a foreign waiter, the
 *                  stall report; with several workers, another worker too)
 *                  turned off a worker's lock-free paths on the loop's
 *                  futures (and, with one worker, its primitives:
 *                  docs/runtime.md, "One worker and other threads"),
 *                  summed over the workers; each cost that thread a
 *                  membarrier(2), and the worker those paths for 1 ms to
 *                  1 s.
 * Plus the sum of every worker's struct weft_worker_stats in @total.
 */
struct weft_loop_stats {
  unsigned workers;
  uint64_t live_tasks;
  uint64_t injected;
  uint64_t stacks_in_use;
  uint64_t stacks_cached;
  uint64_t stack_bytes;
  uint64_t stalls;
  uint64_t backlogs;
  int64_t stall_threshold_ns;
  int debug;
  unsigned acct_sample;
  const char *io_backend;
  const char *io_fallback;
  unsigned serving;
  uint64_t serving_changes;
  uint64_t owner_revocations;
  struct weft_worker_stats total;
};

/**
 * weft_loop_get_stats - read @loop's totals (any thread)
 * Returns 0; -EINVAL if @loop or @out is NULL; WEFT_ECLOSED.
 */
WEFT_EXTERN int weft_loop_get_stats(weft_loop_t *loop, struct weft_loop_stats *out);

/**
 * weft_loop_stats_format - @loop's metrics in Prometheus' text format
 * @buf, @len: where to write (NUL-terminated; truncated if too short).
 *
 * Metrics are named weft_*, per worker with a worker="k" label, counters
 * with _total; a scraper's handler can serve @buf as it is.
 * Returns the length the whole text needs (as snprintf: >= @len means it
 * was truncated), -EINVAL (NULL @loop, NULL @buf with @len > 0) or
 * WEFT_ECLOSED.
 */
WEFT_EXTERN int weft_loop_stats_format(weft_loop_t *loop, char *buf, size_t len);

/**
 * enum weft_stall_kind - what a stall report is about
 * @WEFT_STALL_TASK:    a task has held its worker longer than the threshold
 *                      (it is still running: the stack is its live one).
 * @WEFT_STALL_BACKLOG: ready tasks have waited longer than the threshold in
 *                      a worker's queue while that worker kept busy.
 */
enum weft_stall_kind {
  WEFT_STALL_TASK = 1,
  WEFT_STALL_BACKLOG = 2,
};

/**
 * struct weft_stall_report - what the stall detector saw
 * @kind:        enum weft_stall_kind.
 * @worker:      the worker.
 * @task_id, @task_name: the running task (0 and "" if the stack could
 *               not be captured, or the worker was in the scheduler).
 * @duration_ns: how long so far (at least this long; sampled a few times
 *               per threshold, so up to a quarter threshold more).
 * @queued:      ready tasks in the worker's queue.
 * @frames, @nframes: the live stack (return addresses; weft_symbolize).
 * @suppressed:  reports the rate limit dropped since the last one passed.
 */
struct weft_stall_report {
  int kind;
  unsigned worker;
  uint64_t task_id;
  char task_name[64];
  uint64_t duration_ns;
  uint64_t queued;
  void *const *frames;
  size_t nframes;
  uint64_t suppressed;
};

/**
 * weft_stall_handler - receives stall reports, on the loop's monitor
 * thread (not a worker: it must not call functions that suspend). The
 * default one writes a line and the symbolized stack to stderr.
 */
typedef void (*weft_stall_handler)(weft_loop_t *loop, const struct weft_stall_report *report,
                                   void *arg);

/**
 * weft_loop_set_stall_handler - route @loop's stall reports to @fn(@arg)
 * (NULL: back to the default). Reports are rate-limited: a burst of 10,
 * then one per second. Returns 0, -EINVAL or WEFT_ECLOSED.
 */
WEFT_EXTERN int weft_loop_set_stall_handler(weft_loop_t *loop, weft_stall_handler fn, void *arg);

/**
 * weft_loop_set_stall_threshold - the stall threshold (asyncio's
 * slow_callback_duration)
 * @ns: a task holding a worker this long is reported; 0 turns the detector
 *      off. The default is 100 ms, or $WEFT_STALL_MS, or cfg.stall_ms.
 * Returns 0, -EINVAL (@loop NULL or @ns < 0), WEFT_ECLOSED, or -ENOMEM /
 * -EAGAIN when the monitor thread could not be started.
 */
WEFT_EXTERN int weft_loop_set_stall_threshold(weft_loop_t *loop, int64_t ns);

/** weft_loop_get_stall_threshold - the threshold in ns (0: off); -EINVAL. */
WEFT_EXTERN int64_t weft_loop_get_stall_threshold(weft_loop_t *loop);

/**
 * weft_loop_set_debug - asyncio's loop.set_debug: nonzero times every task
 * slice for the per-task times (weft_task_get_stats), not one in
 * cfg.acct_sample: exact figures, for two clock reads per slice. Takes effect
 * at each worker's next pass. Returns 0, -EINVAL or WEFT_ECLOSED.
 */
WEFT_EXTERN int weft_loop_set_debug(weft_loop_t *loop, int enabled);

/** weft_loop_get_debug - 1 if debug mode is on, 0 if not, -EINVAL. */
WEFT_EXTERN int weft_loop_get_debug(weft_loop_t *loop);

#ifdef __cplusplus
}
#endif

#endif
