/*
 * writesig.h - the signals a failed write raises (SIGPIPE, SIGXFSZ),
 * blocked on a loop's worker threads while it runs and on weft's pool
 * threads.
 *
 * A write to a pipe or socket whose reading end is gone raises SIGPIPE in
 * the writing thread; one past the file size limit (RLIMIT_FSIZE) raises
 * SIGXFSZ. The default action of either ends the process. asyncio's
 * programs never see them: Python ignores both at start-up, so the write
 * fails with BrokenPipeError or EFBIG's OSError (Tokio's and Go's
 * runtimes ignore SIGPIPE too). weft is a library and does not change the
 * process's dispositions; instead every worker thread runs with both
 * blocked: a write from a task (a stream writer's to a child's stdin that
 * exited, weft_write to a pipe, sendfile(2), weft_pwrite past the limit,
 * a raw write() in the task's own code) fails with -EPIPE or -EFBIG, and
 * the signal stays pending on that thread, where it is never delivered.
 * Before the caller's thread (worker 0) leaves a run, a signal of these
 * pending for it is taken back and its own mask restored, so the caller
 * never receives one that a task's I/O raised. The threads of weft's
 * pools (executors, the epoll backend's file helpers: pool.c) block both
 * for their whole life, so a function given to run_in_executor gets the
 * error as well.
 *
 * Invariants: workers 1..N-1 keep both blocked for their whole life (each
 * run's mask is the caller's plus these); worker 0 blocks each from the
 * start of a run to its end, unless the caller had it blocked already
 * (then that one is not blocked, unblocked or taken back: one pending for
 * the caller stays theirs). A task therefore always runs with both
 * blocked; one that unblocks them takes the default actions back. What
 * this costs: such a signal sent to the whole process (kill -PIPE) while
 * only workers could take it stays pending until the run ends, and is
 * then taken back with the workers' own.
 */
#ifndef WEFT_RUNTIME_WRITESIG_H
#define WEFT_RUNTIME_WRITESIG_H

#include <signal.h>

/* SIGPIPE and SIGXFSZ added to @set. */
void weft__writesig_add(sigset_t *set);

/* Blocks both in the calling thread; returns the ones it blocked (those
 * that were not blocked before), which the caller owes
 * weft__writesig_restore. */
sigset_t weft__writesig_block(void);

/* Undoes weft__writesig_block: takes back a pending signal of @blocked,
 * then unblocks them. */
void weft__writesig_restore(const sigset_t *blocked);

/* Takes back @sig if pending for the calling thread (or the process);
 * errno is left as it was. For a caller whose system call just failed
 * with EPIPE or EFBIG on a worker, so that none is left pending. */
void weft__writesig_take_back(int sig);

#endif
