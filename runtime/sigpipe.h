/*
 * sigpipe.h - SIGPIPE blocked on a loop's worker threads while it runs.
 *
 * A write to a pipe or socket whose reading end is gone raises SIGPIPE in
 * the writing thread, and its default action ends the process. asyncio's
 * programs never see it (Python ignores SIGPIPE at start-up: the write
 * fails with BrokenPipeError), nor do Tokio's (Rust's runtime ignores it)
 * or Go's (which ignores it for fds other than 1 and 2). weft is a library
 * and does not change the process's disposition; instead every worker
 * thread runs with SIGPIPE blocked: a write from a task (a stream
 * writer's to a child's stdin that exited, weft_write to a pipe,
 * sendfile(2), a raw write() in the task's own code) fails with -EPIPE,
 * and the signal stays pending on that thread, where it is never
 * delivered. Before the caller's thread (worker 0) leaves a run, a
 * SIGPIPE pending for it is taken back and its own mask restored, so the
 * caller never receives one that a task's I/O raised.
 *
 * The threads of weft's pools (executors, the epoll backend's file
 * helpers: pool.c) block it for their whole life too, so a function given
 * to run_in_executor that writes to a broken pipe gets EPIPE as well.
 *
 * Invariants: workers 1..N-1 keep SIGPIPE blocked for their whole life
 * (each run's mask is the caller's plus SIGPIPE); worker 0 blocks it
 * from the start of a run to its end, unless the caller had it blocked
 * already (then nothing is blocked, unblocked or taken back: a SIGPIPE
 * pending for the caller stays theirs). A task therefore always runs with
 * SIGPIPE blocked; one that unblocks it takes the default action back.
 * What this costs: a SIGPIPE sent to the whole process (kill -PIPE) while
 * only workers could take it stays pending until the run ends, and is
 * then taken back with the workers' own.
 */
#ifndef WEFT_RUNTIME_SIGPIPE_H
#define WEFT_RUNTIME_SIGPIPE_H

#include <stdbool.h>

/* Blocks SIGPIPE in the calling thread; returns whether it was unblocked
 * before (the caller then owes weft__sigpipe_restore(true)). */
bool weft__sigpipe_block(void);

/* Undoes weft__sigpipe_block when @blocked: takes a pending SIGPIPE back,
 * then unblocks it. */
void weft__sigpipe_restore(bool blocked);

/* Takes back a SIGPIPE pending for the calling thread (or the process),
 * if one is; errno is left as it was. For a caller whose system call just
 * failed with EPIPE on a worker, so that none is left pending. */
void weft__sigpipe_take_back(void);

#endif
