/*
 * weft/runtime.h - the event loop: lifecycle, callbacks, the foreign-thread
 * bridge and the exception handler (asyncio's AbstractEventLoop).
 *
 * A loop owns N worker threads. The thread that calls weft_loop_run_*() becomes
 * worker 0 for the duration of the call; workers 1..N-1 are threads the loop
 * starts on its first run and joins when it closes (between runs they wait,
 * touching nothing). Each run gives them the caller's signal mask. Tasks and callbacks run on any
 * worker; with workers = 1 everything runs on the calling thread in exactly
 * asyncio's FIFO order.
 *
 * SIGPIPE and SIGXFSZ: every worker runs with both blocked, the calling
 * thread too for the duration of the run, so a write from a task to a
 * pipe or socket whose reader is gone fails with -EPIPE, and one past the
 * file size limit (RLIMIT_FSIZE) with -EFBIG (EPIPE, EFBIG for a raw
 * write()), and neither ends the process (asyncio: Python ignores both).
 * The signal stays pending on the worker that raised it; one pending for
 * the calling thread is taken back before the run returns and its mask is
 * restored, unless it had that signal blocked itself (then it is left
 * alone). Leave them blocked in tasks. A program a task starts with fork
 * and exec (not weft_create_subprocess_exec, which gives the child an
 * empty mask) inherits the block, as a child of Python inherits its
 * ignored SIGPIPE.
 *
 * Thread-safety: a loop is not thread-safe except where a function says so.
 * Functions marked "Threads: any" may be called from any thread, including
 * foreign threads that are not workers of any loop.
 *
 * Ownership: weft_loop_new() hands the caller the loop; weft_loop_close()
 * releases it. Futures, tasks and handles that the user still holds when the
 * loop closes stay valid until released (the loop's memory lives until the
 * last of them is released).
 */
#ifndef WEFT_RUNTIME_H
#define WEFT_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include "weft/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_loop weft_loop_t;
typedef struct weft_future weft_future_t;
typedef struct weft_task weft_task_t;
typedef struct weft_handle weft_handle_t;

/* A task body: returns 0 and stores its result in *result, or returns a
 * negative error code (see weft_fail() to attach a message). */
typedef int (*weft_task_fn)(void *arg, void **result);

/* A callback scheduled with call_soon/call_later/call_at. */
typedef void (*weft_callback_fn)(void *arg);

/**
 * enum weft_order - how a loop orders ready work
 * @WEFT_ORDER_DEFAULT:  FIFO with one worker, LOCALITY with several.
 * @WEFT_ORDER_FIFO:     asyncio's exact order: every callback, spawn, wake-up
 *                       and yield goes to the back of the queue, each pass runs
 *                       what was ready at its start. With one worker this is
 *                       deterministic and identical to asyncio.
 * @WEFT_ORDER_LOCALITY: throughput first: a task woken by the running task
 *                       runs next (LIFO slot), timer wake-ups run before queued
 *                       work, awaiting a task that has not started runs it
 *                       inline on the awaiting fiber (fork-join), and while
 *                       no free stack is left (past 256 in use) a task's
 *                       first run may wait behind tasks that already started
 *                       (held starts: they end and give their stacks back;
 *                       docs/design.md, Ordering policy).
 */
enum weft_order {
  WEFT_ORDER_DEFAULT = 0,
  WEFT_ORDER_FIFO = 1,
  WEFT_ORDER_LOCALITY = 2,
};

/**
 * struct weft_loop_config - how to build a loop
 * @workers:     worker threads; 0 means "one per online CPU" (or $WEFT_WORKERS).
 * @stack_size:  default fiber stack size in bytes (rounded up to pages);
 *               0 means 64 KiB (256 KiB in sanitizer builds). Minimum 16 KiB.
 *               The runtime keeps up to ~1 KiB at the top of each stack
 *               (2 KiB with the ucontext fiber backend): a running task's
 *               bookkeeping, and a cache colour (docs/design.md).
 * @pin_workers: nonzero pins worker i to CPU i (mod the CPUs allowed) while
 *               the loop runs; the calling thread's affinity is restored after.
 * @order:       enum weft_order; WEFT_ORDER_DEFAULT unless you know better.
 * @io_backend:  enum weft_io_backend: WEFT_IO_AUTO (io_uring, else epoll;
 *               $WEFT_IO_BACKEND=io_uring|epoll forces one), WEFT_IO_URING
 *               (io_uring or weft_loop_new fails), WEFT_IO_EPOLL.
 * @io_entries:  submission queue entries per worker ring, a power of two
 *               up to 32768; 0 means 256. The completion queue has 4x as
 *               many, at least 8192 (a pass's completions with thousands
 *               of busy connections, docs/io.md) and at most 65536.
 * @recv_buffers: io_uring: provided buffers (4 KiB each) per worker for
 *               socket streams that receive ahead (weft/stream.h), set up
 *               when a worker first needs them; a power of two up to 32768,
 *               0 means 256 (1 MiB per worker), -1 turns receiving ahead
 *               off (every stream read issues its own receive). Before
 *               Linux 6.12 each receive's completion takes a whole buffer,
 *               so with many more busy connections per worker than buffers
 *               receives run out and are restarted (docs/io.md): a server
 *               expecting thousands per worker may raise it there (6.12
 *               on, small messages share buffers).
 * @max_tasks:   a cap on tasks alive at once (spawned and not ended); a
 *               spawn at the cap returns -EAGAIN (bounded memory for
 *               servers that spawn per request). 0: no cap.
 * @track_stack_use: nonzero: measure how much stack each task touches
 *               (weft_task_stack_used, weft_memory_stats.stack_high_water),
 *               for tuning stack_size. Costs a madvise at each task's start
 *               and a mincore at its end, and its stack pages are faulted
 *               in afresh: for test runs, not production. 0 by default.
 * @stall_ms:    the stall detector's threshold (weft/debug.h): a task that
 *               holds a worker this many ms is reported. WEFT_STALL_DEFAULT
 *               (what weft_loop_config_init sets): $WEFT_STALL_MS, else 100;
 *               0: off.
 * @dump_signal: nonzero: a signal (e.g. SIGUSR1) on which the loop writes
 *               a task dump (weft_loop_dump, text) to @dump_path or stderr,
 *               from its monitor thread; the process goes on. weft installs
 *               the handler at weft_loop_new (-EBUSY there if the program
 *               already handles that signal); 0: none.
 * @dump_path:   with @dump_signal: the file dumps are appended to (copied);
 *               NULL: stderr.
 * @debug:       nonzero: debug mode from the start (weft_loop_set_debug;
 *               $WEFT_DEBUG=1 does the same for every loop).
 * @dump_on_stall: nonzero: each stall report is followed by a whole task
 *               dump (text) to @dump_path or stderr, written by the monitor
 *               thread (subject to the reports' rate limit).
 * @acct_sample: per-task times (weft_task_get_stats) are sampled: each
 *               worker times one task slice in this many, with the
 *               suspension and the wait for a worker that follow it.
 *               WEFT_ACCT_DEFAULT (what weft_loop_config_init sets):
 *               $WEFT_ACCT_SAMPLE, else a period that keeps the clock
 *               reads at 1 ns a slice on average: 4 x the measured cost
 *               of one read in ns, at least 32 and at most 1024 (44 with
 *               an 11 ns TSC read, ~100 with kvm-clock; docs/debug.md);
 *               1: every slice (what debug mode does); 0: none; at most
 *               WEFT_ACCT_SAMPLE_MAX.
 * @adapt_workers: 1: serve on fewer workers while the loop's threads wait
 *               for CPUs other processes hold (a machine shared with busy
 *               programs, more workers than free CPUs), and on more again
 *               when they are saturated and CPUs are free: the monitor
 *               thread measures it every 100 ms (docs/runtime.md,
 *               "Sharing CPUs"; weft_loop_serving_workers). Workers left
 *               out take no shared work; tasks pinned to them still run
 *               there. 0: every worker serves, always. WEFT_ADAPT_DEFAULT
 *               (what weft_loop_config_init sets): $WEFT_ADAPT_WORKERS=1
 *               turns it on and =0 off; unset, it is on unless
 *               @pin_workers is set (a program that placed its workers
 *               keeps every one serving). With CPUs free it changes
 *               nothing. Needs the kernel's per-thread scheduler
 *               statistics (/proc/<pid>/task/<tid>/schedstat); without
 *               them every worker serves.
 * @task_fp_env: nonzero: each task keeps its own floating-point control
 *               state (rounding mode, exception masks, flush-to-zero and
 *               denormals-are-zero: x86-64's MXCSR and x87 control word,
 *               aarch64's FPCR) across its suspensions, and starts with
 *               the state of the thread that called weft_loop_new, as it
 *               was then (also a child run inline by its awaiter, whose
 *               own state comes back after). Costs ~3 ns a task switch on
 *               x86-64. 0 (the default): tasks run in their worker
 *               thread's state, as Tokio's and Go's do, so a task that
 *               changes it (fesetround, _MM_SET_FLUSH_ZERO_MODE) must
 *               put it back before it suspends or returns, or the tasks
 *               that run after it on that worker inherit it; the threads
 *               weft starts inherit the state of the thread that first
 *               runs the loop (worker 0). The ucontext fiber backend
 *               (WEFT_FIBER_BACKEND=ucontext) always keeps it per task.
 */
#define WEFT_STALL_DEFAULT (-1)
#define WEFT_ADAPT_DEFAULT (-1)
#define WEFT_ACCT_DEFAULT (-1)
#define WEFT_ACCT_SAMPLE_MAX 1000000
struct weft_loop_config {
  unsigned workers;
  size_t stack_size;
  int pin_workers;
  int order;
  int io_backend;
  unsigned io_entries;
  int recv_buffers;
  size_t max_tasks;
  int track_stack_use;
  int stall_ms;
  int dump_signal;
  const char *dump_path;
  int debug;
  int dump_on_stall;
  int acct_sample;
  int adapt_workers;
  int task_fp_env;
};

/**
 * enum weft_io_backend - what completes a loop's I/O (weft/io.h)
 * @WEFT_IO_AUTO:  io_uring when the kernel lets us set it up, else epoll.
 * @WEFT_IO_URING: io_uring, or fail.
 * @WEFT_IO_EPOLL: epoll (readiness plus non-blocking system calls).
 */
enum weft_io_backend {
  WEFT_IO_AUTO = 0,
  WEFT_IO_URING = 1,
  WEFT_IO_EPOLL = 2,
};

/**
 * weft_loop_config_init - fill @cfg with the defaults
 * @cfg: the config to fill; not NULL.
 * Threads: any.
 */
WEFT_EXTERN void weft_loop_config_init(struct weft_loop_config *cfg);

/**
 * weft_loop_new - create an event loop (asyncio.new_event_loop)
 * @cfg: the configuration, or NULL for the defaults; copied.
 * @out: receives the loop; ownership passes to the caller.
 *
 * Returns:  0; -EINVAL if @out is NULL, @cfg->workers > 1024, the stack size
 *           is below 16 KiB or above 1 GiB, @cfg->order is not a weft_order,
 *           @cfg->io_backend is not a weft_io_backend, @cfg->io_entries is
 *           not a power of two up to 32768, or @cfg->recv_buffers is not -1,
 *           0 or a power of two up to 32768; -ENOMEM; when io_uring was
 *           required (WEFT_IO_URING or $WEFT_IO_BACKEND=io_uring) and cannot
 *           be set up, the kernel's error (-EPERM, -ENOSYS, -ENOMEM...);
 *           -EMFILE/-ENFILE when the per-worker ring or epoll fds cannot be
 *           opened; -EINVAL for @cfg->stall_ms < -1, @cfg->acct_sample
 *           below -1 or above WEFT_ACCT_SAMPLE_MAX, @cfg->adapt_workers
 *           other than -1, 0 or 1, or a @cfg->dump_signal
 *           that is not a catchable signal (SIGKILL, SIGSTOP, SIGURG, out of
 *           range); -EBUSY if the program handles @cfg->dump_signal itself
 *           or another open loop dumps on it.
 * Suspends: no.  Threads: any.
 */
WEFT_EXTERN int weft_loop_new(const struct weft_loop_config *cfg, weft_loop_t **out);

/**
 * weft_loop_close - close the loop and free it (loop.close)
 * @loop: the loop; the caller's reference ends here on success.
 *
 * Pending work is cancelled and freed: callbacks that never ran are dropped
 * (their @arg stays the caller's), tasks that never started end cancelled
 * without running, and suspended tasks are cancelled and run until they end
 * (while the loop closes, every suspension point returns -ECANCELED at once).
 * From the moment close starts, foreign threads can no longer spawn on it
 * (WEFT_ECLOSED), so every task ends; work they schedule while it closes
 * is dropped safely. Like free(), close ends the caller's use of @loop
 * unless something still holds it: a future, task or handle of the loop,
 * or a weft_loop_ref() reference; then the memory stays until the last of
 * them is released, calls on the loop return WEFT_ECLOSED, and closing
 * again is harmless.
 *
 * If the worker threads cannot be started (thread or pids limits), nothing
 * ever ran on workers 1..N-1: close ends their queued work on the calling
 * thread instead (tasks that never started end cancelled).
 * Returns:  0 when everything the loop made is freed; a positive count of
 *           futures, tasks and handles the user still references (the loop
 *           is closed all the same, and its memory goes with the last of
 *           them); -EBUSY if the loop is running or the caller is a worker;
 *           -EINVAL if @loop is NULL.
 * Suspends: no.  Threads: the thread that owns the loop, never a worker;
 *           not concurrently with releases from other threads.
 */
WEFT_EXTERN int weft_loop_close(weft_loop_t *loop);

/**
 * weft_loop_ref - keep naming @loop across weft_loop_close()
 * @loop: a loop that is not freed (its owner has not closed it, or the
 *        caller already holds a reference).
 *
 * A reference keeps the loop's memory (not the loop) alive: after close,
 * calls on it return WEFT_ECLOSED instead of touching freed memory, and
 * closing again returns 0. For foreign threads that may call into a loop
 * while its owner closes it. weft_loop_close() counts references still
 * held in its return value; the last weft_loop_release() frees the memory.
 * Returns:  @loop (NULL stays NULL).  Threads: any.
 */
WEFT_EXTERN weft_loop_t *weft_loop_ref(weft_loop_t *loop);
/** weft_loop_release - drop a weft_loop_ref() reference (NULL is ignored). Threads: any. */
WEFT_EXTERN void weft_loop_release(weft_loop_t *loop);

/**
 * weft_loop_run_forever - run until weft_loop_stop() (loop.run_forever)
 * @loop: the loop.
 *
 * What runs after weft_loop_stop(): with one worker in FIFO order (the
 * default for one worker), exactly asyncio's rule: the current pass
 * finishes what was ready at its start, and what was scheduled during it
 * runs in the next run. In every other mode: what was ready when stop()
 * was called runs, timers already due fire, and what is scheduled after
 * stop() (on the caller's worker, or anywhere once each worker has seen the
 * stop) runs in the next run. stop() before run_forever runs exactly one
 * iteration and returns.
 *
 * Returns:  0; -EBUSY if the loop is already running or this thread is a
 *           worker of a running loop; WEFT_ECLOSED if closed; -EINVAL if NULL;
 *           -EAGAIN if worker threads could not be started; -ENOMEM if the
 *           allocator could not prepare memory for new threads (an
 *           address-space limit). The same for the other weft_loop_run_*.
 * Suspends: blocks the calling thread.  Threads: any one non-worker thread.
 */
WEFT_EXTERN int weft_loop_run_forever(weft_loop_t *loop);

/**
 * weft_loop_run_until_complete - run until @f is done (loop.run_until_complete)
 * @loop:   the loop.
 * @f:      the future or task future to wait for; borrowed.
 * @result: receives the result on success; may be NULL.
 *
 * Returns:  0 with the result; @f's error if it failed (-ECANCELED if
 *           cancelled); WEFT_ESTOPPED if the loop was stopped first; the
 *           errors of weft_loop_run_forever(); -EINVAL if @f belongs to
 *           another loop or is NULL.
 * Suspends: blocks the calling thread.  Threads: any one non-worker thread.
 */
WEFT_EXTERN int weft_loop_run_until_complete(weft_loop_t *loop, weft_future_t *f,
                                             void **result);

/**
 * weft_loop_run_task - run @fn as a task on @loop until it ends
 * (loop.run_until_complete(main()) in one call)
 * @loop:   the loop; not running.
 * @fn:     the task body; @arg its argument (borrowed).
 * @result: receives its result; may be NULL.
 *
 * Spawns the task, runs the loop until it is done and drops the reference.
 * Unlike weft_run(), the loop stays open and other tasks keep their state.
 * If the loop is stopped first, the task stays scheduled on the loop (run
 * it again, or close the loop to cancel it).
 * Returns:  0 with the result; the task's error (-ECANCELED if cancelled);
 *           WEFT_ESTOPPED; the errors of weft_spawn_opts() and
 *           weft_loop_run_forever(); -EINVAL if @loop or @fn is NULL.
 * Suspends: blocks the calling thread.  Threads: any one non-worker thread.
 */
WEFT_EXTERN int weft_loop_run_task(weft_loop_t *loop, weft_task_fn fn, void *arg, void **result);

/**
 * weft_loop_stop - ask the loop to stop (loop.stop)
 * @loop: the loop.
 *
 * See weft_loop_run_forever() for what still runs. From a foreign thread
 * the stop is seen by each worker at its next item: work foreign threads
 * queue at that very moment may land in either run (as with asyncio's
 * call_soon_threadsafe(loop.stop)).
 *
 * Returns:  0; -EINVAL if NULL; WEFT_ECLOSED if closed.
 * Suspends: no.  Threads: any.
 */
WEFT_EXTERN int weft_loop_stop(weft_loop_t *loop);

/** weft_loop_is_running - 1 while run_* is executing, else 0. Threads: any. */
WEFT_EXTERN int weft_loop_is_running(const weft_loop_t *loop);
/** weft_loop_is_closed - 1 after weft_loop_close(), else 0. Threads: any. */
WEFT_EXTERN int weft_loop_is_closed(const weft_loop_t *loop);
/** weft_loop_workers - the loop's number of workers. Threads: any. */
WEFT_EXTERN unsigned weft_loop_workers(const weft_loop_t *loop);
/**
 * weft_loop_serving_workers - how many workers take shared work now
 * @loop: the loop.
 *
 * weft_loop_workers(), unless cfg.adapt_workers lets the loop serve on
 * fewer while its threads wait for CPUs; at least 1. A snapshot: it may
 * change at any time while the loop runs, and stays between runs.
 *
 * Return: the count, or -EINVAL for a NULL @loop.
 * Suspends: no.  Threads: any.
 */
WEFT_EXTERN int weft_loop_serving_workers(const weft_loop_t *loop);

/**
 * struct weft_memory_stats - where a loop's fiber stacks are (a snapshot)
 * @stack_size:     bytes per stack of the loop's default size.
 * @stacks_mapped:  stacks of the default size mapped (address space; they
 *                  stay mapped until weft_loop_close).
 * @stacks_in_use:  stacks of the default size held by tasks that started
 *                  and have not ended (their touched pages are resident).
 * @stacks_cached:  free stacks whose pages are resident: the workers'
 *                  caches (up to 64 each) plus the loop's arena's (256, and
 *                  more for 1-2 s after a burst: idle workers trim only the
 *                  stacks no task took during a whole second).
 * @stacks_trimmed: free stacks whose pages went back to the kernel; reused
 *                  like the others, their pages come back zero-filled.
 * @stacks_alone:   stacks of another size (a task's own stack_size), each
 *                  mapped for its task and unmapped when it ends.
 * @stack_high_water: with cfg.track_stack_use, the most stack any ended
 *                  task touched, in bytes (a page multiple); else 0.
 * @stack_dropped:  bytes of suspended tasks' stacks, below their stack
 *                  pointers, given back to the kernel since the loop was
 *                  made (idle workers do it for tasks suspended a whole
 *                  second; weft_loop_trim for all), counting every page the
 *                  advice covered, resident or not: an upper bound on the
 *                  memory it freed. 0 with cfg.track_stack_use.
 *
 * Figures read while workers run may be off by a few stacks that move
 * between a cache and the arena meanwhile; at rest they add up:
 * mapped = in_use + cached + trimmed.
 */
struct weft_memory_stats {
  size_t stack_size;
  size_t stacks_mapped;
  size_t stacks_in_use;
  size_t stacks_cached;
  size_t stacks_trimmed;
  size_t stacks_alone;
  size_t stack_high_water;
  size_t stack_dropped;
};

/**
 * weft_loop_memory_stats - where @loop's stacks are
 * @loop: the loop.
 * @out:  filled on success.
 * Returns:  0; -EINVAL if @loop or @out is NULL; WEFT_ECLOSED once the loop
 *           is closed.
 * Threads:  any; never suspends.
 */
WEFT_EXTERN int weft_loop_memory_stats(weft_loop_t *loop, struct weft_memory_stats *out);

/**
 * weft_loop_trim - give memory @loop holds but does not use back to the OS
 * @loop: the loop.
 *
 * Returns the pages of every free stack in the loop's arena to the kernel
 * (MADV_DONTNEED; the workers' own caches, 64 stacks each at most, stay),
 * the pages below every suspended task's stack pointer (what a task that
 * once went deep still holds while it waits; they come back zero-filled
 * when it goes deep again), and asks the allocator to purge its unused
 * dirty pages (jemalloc's arena.<all>.purge; nothing with
 * WEFT_ALLOCATOR=system). Without this call idle workers do the stack parts
 * by themselves: free stacks 1-2 s after they were last needed (a stack no
 * task took during a whole second goes back), keeping 256 stacks resident;
 * a suspended task's deep pages 1-2 s after it suspended, once per
 * suspension. jemalloc purges on its own decay schedule (10 s by default).
 * Call it after a burst when the memory must go back now, e.g. before a
 * database engine hands the memory to its buffer pool. Costs one system
 * call per run of neighbouring free stacks (up to 32) and one per
 * suspended task, plus TLB shootdowns in every worker, and holds each
 * suspended task (its wake-up waits) for its call: not for a hot path.
 * Nothing is dropped from suspended tasks with cfg.track_stack_use.
 * Returns:  0; -EINVAL if @loop is NULL; WEFT_ECLOSED once the loop is closed.
 * Threads:  any, a task included (it skips itself: it is running); never
 *           suspends (it takes the arena's lock, which workers take only
 *           when their caches run empty or overflow, and walks the task
 *           table as weft_loop_dump does, so tasks ending meanwhile wait
 *           for each piece of 1,024 entries).
 */
WEFT_EXTERN int weft_loop_trim(weft_loop_t *loop);

/**
 * weft_loop_current - the loop whose worker runs the caller (get_running_loop)
 * Returns:  the loop, or NULL on a thread that is not running a loop.
 * Threads:  any.
 */
WEFT_EXTERN weft_loop_t *weft_loop_current(void);

/**
 * weft_worker_index - index of the worker running the caller
 * Returns:  0..workers-1, or -EPERM on a thread that is not a worker.
 * Threads:  any. A task may move to another worker at each suspension.
 */
WEFT_EXTERN int weft_worker_index(void);

/**
 * weft_run - run @fn as the main task on a new loop (asyncio.run)
 * @fn:     the main task body.
 * @arg:    its argument; borrowed.
 * @result: receives its result; may be NULL.
 *
 * Creates a loop with the default configuration, runs @fn to completion,
 * cancels every task still pending and waits for them, waits for the
 * default executor, then closes the loop.
 *
 * SIGINT (asyncio.Runner): called on the process's main thread with
 * SIGINT's default action in place, the run takes SIGINT while the main
 * task runs: the first one cancels the main task, and the run returns
 * -EINTR if it ended cancelled; a second one is not swallowed (its default
 * action ends the process, as KeyboardInterrupt would).
 *
 * Returns:  0 with the result; @fn's error; -EINTR (interrupted by SIGINT,
 *           above); -EINVAL if @fn is NULL; -EBUSY if
 *           called on a worker thread; -ENOMEM; -EAGAIN if the worker threads
 *           could not be started (the loop is still closed and freed).
 * Suspends: blocks the calling thread.  Threads: any non-worker thread.
 */
WEFT_EXTERN int weft_run(weft_task_fn fn, void *arg, void **result);

/** weft_run_config - weft_run() with an explicit loop configuration. */
WEFT_EXTERN int weft_run_config(const struct weft_loop_config *cfg, weft_task_fn fn,
                                void *arg, void **result);

/**
 * weft_call_soon - schedule @cb(@arg) on the running loop (loop.call_soon)
 * @cb:  the callback; runs on a worker, outside any task (it must not suspend).
 * @arg: passed to @cb; still the caller's if the call fails.
 * @out: receives a handle reference for weft_handle_cancel(); may be NULL.
 *
 * Callbacks run in the order they were scheduled (exactly, with workers = 1).
 *
 * Returns:  0; -EPERM if the caller is not on a worker of a running loop (use
 *           weft_call_soon_threadsafe); -EINVAL if @cb is NULL; -ENOMEM.
 * Suspends: no.  Threads: workers of a running loop.
 */
WEFT_EXTERN int weft_call_soon(weft_callback_fn cb, void *arg, weft_handle_t **out);

/**
 * weft_call_soon_threadsafe - schedule @cb(@arg) on @loop from any thread
 * @loop: the loop; it need not be running (the callback runs when it does).
 * @cb, @arg, @out: as for weft_call_soon().
 *
 * Returns:  0; -EINVAL if @loop or @cb is NULL; WEFT_ECLOSED; -ENOMEM.
 * Suspends: no.  Threads: any.
 */
WEFT_EXTERN int weft_call_soon_threadsafe(weft_loop_t *loop, weft_callback_fn cb,
                                          void *arg, weft_handle_t **out);

/**
 * weft_loop_call_soon - weft_call_soon() on @loop, also before it runs
 * (loop.call_soon followed by loop.run_forever)
 *
 * From a worker of @loop it is weft_call_soon(); from another thread it
 * works while @loop is not running (the callback runs when it does, in
 * call order). A running loop is not thread-safe: use
 * weft_call_soon_threadsafe() from foreign threads.
 * Returns:  0; -EPERM from a foreign thread while @loop runs; WEFT_ECLOSED;
 *           -EINVAL if @loop or @cb is NULL; -ENOMEM.
 * Suspends: no.  Threads: workers of @loop, or the loop's owner while it
 *           is not running.
 */
WEFT_EXTERN int weft_loop_call_soon(weft_loop_t *loop, weft_callback_fn cb, void *arg,
                                    weft_handle_t **out);

/**
 * weft_run_threadsafe - start @fn as a task on @loop from any thread
 * (asyncio.run_coroutine_threadsafe)
 * @loop: the loop.
 * @fn, @arg: the task body and its argument.
 * @out: receives the task's future; the caller owns one reference and must
 *       weft_future_release() it. A foreign thread may wait on it with
 *       weft_future_wait_threadsafe(), read it, or cancel it with
 *       weft_future_cancel() (the cancellation reaches the task).
 *
 * Returns:  0; -EINVAL if an argument is NULL; WEFT_ECLOSED; -ENOMEM.
 * Suspends: no.  Threads: any.
 */
WEFT_EXTERN int weft_run_threadsafe(weft_loop_t *loop, weft_task_fn fn, void *arg,
                                    weft_future_t **out);

/**
 * weft_handle_cancel - cancel a scheduled callback (Handle.cancel)
 * @h: the handle.
 * Returns:  1 if it was pending and will not run; 0 if it already ran or was
 *           cancelled; -EINVAL if NULL.
 * Threads:  any.
 */
WEFT_EXTERN int weft_handle_cancel(weft_handle_t *h);
/**
 * weft_handle_when - the loop time a call_later/call_at handle is due (TimerHandle.when)
 * Returns:  seconds on weft_loop_time()'s clock; -1.0 for a call_soon handle or NULL.
 * Threads:  any.
 */
WEFT_EXTERN double weft_handle_when(const weft_handle_t *h);
/** weft_handle_cancelled - 1 if cancelled, else 0. Threads: any. */
WEFT_EXTERN int weft_handle_cancelled(const weft_handle_t *h);
/** weft_handle_release - drop the caller's handle reference. Threads: any. */
WEFT_EXTERN void weft_handle_release(weft_handle_t *h);

/**
 * struct weft_exception_context - what went wrong (asyncio's context dict)
 * @message:   what happened, e.g. "Task exception was never retrieved".
 * @error:     the error code, or 0.
 * @error_msg: the error's message, or NULL.
 * @future:    the future or task concerned, or NULL; borrowed for the call.
 * @task_name: the task's name when @future is a task, else NULL.
 */
struct weft_exception_context {
  const char *message;
  int error;
  const char *error_msg;
  weft_future_t *future;
  const char *task_name;
};

typedef void (*weft_exception_handler)(weft_loop_t *loop,
                                       const struct weft_exception_context *ctx,
                                       void *arg);

/**
 * weft_loop_set_exception_handler - replace the handler (set_exception_handler)
 * @loop: the loop.
 * @h:    the handler, or NULL for the default (prints to stderr).
 * @arg:  passed to @h.
 *
 * The handler may be called from any worker or from the thread that drops
 * the last reference of a future; it must be thread-safe and must not suspend.
 * Returns:  0; -EINVAL if @loop is NULL.
 * Threads:  any, but not concurrently with a running loop's reports.
 */
WEFT_EXTERN int weft_loop_set_exception_handler(weft_loop_t *loop, weft_exception_handler h,
                                                void *arg);

/**
 * weft_loop_get_exception_handler - the handler set (loop.get_exception_handler)
 * @arg: receives its argument; may be NULL.
 * Returns:  the handler, or NULL when the default is in use or @loop is NULL.
 */
WEFT_EXTERN weft_exception_handler weft_loop_get_exception_handler(weft_loop_t *loop, void **arg);

/** weft_loop_default_exception_handler - print @ctx to stderr. Threads: any. */
WEFT_EXTERN void weft_loop_default_exception_handler(weft_loop_t *loop,
                                                     const struct weft_exception_context *ctx);

/** weft_loop_call_exception_handler - report @ctx through the loop's handler. */
WEFT_EXTERN void weft_loop_call_exception_handler(weft_loop_t *loop,
                                                  const struct weft_exception_context *ctx);

#ifdef __cplusplus
}
#endif
#endif
