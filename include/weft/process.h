/*
 * weft/process.h - subprocesses (asyncio.create_subprocess_exec) and
 * signal handlers (loop.add_signal_handler).
 *
 * A process's stdin/stdout/stderr, when piped, are streams (weft/stream.h)
 * owned by the process object. wait() suspends on the process's pidfd, so
 * no SIGCHLD handler or reaper thread is involved.
 *
 * Ownership: weft_create_subprocess_exec() gives the caller the process;
 * weft_process_release() frees it (and its streams); the child is not
 * killed by the release: wait for it or kill it first.
 * Thread-safety: one task at a time per process object.
 */
#ifndef WEFT_PROCESS_H
#define WEFT_PROCESS_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>
#include "weft/export.h"
#include "weft/runtime.h"
#include "weft/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_process weft_process_t;

/* What a standard stream of the child is connected to (asyncio's names). */
enum weft_stdio {
  WEFT_STDIO_INHERIT = 0, /* the parent's */
  WEFT_STDIO_PIPE = 1,    /* a pipe, exposed as a stream */
  WEFT_STDIO_DEVNULL = 2, /* /dev/null */
  WEFT_STDIO_STDOUT = 3,  /* stderr only: where stdout goes */
};

/**
 * struct weft_process_opts - optional settings (zero = defaults)
 * @stdin_mode, @stdout_mode, @stderr_mode: enum weft_stdio.
 * @cwd:  the child's working directory, or NULL.
 * @envp: the child's environment, or NULL for the parent's.
 */
struct weft_process_opts {
  int stdin_mode, stdout_mode, stderr_mode;
  const char *cwd;
  char *const *envp;
};

/**
 * weft_create_subprocess_exec - start @file with @argv (searched in PATH
 * when @file has no '/'), asyncio.create_subprocess_exec.
 * Returns:  0 with *@out; -ENOENT/-EACCES/... when the program cannot be
 *           started (reported by the spawn, not by a later wait); -EMFILE;
 *           -ENOSYS on kernels without pidfds (before 5.4); -EINVAL for
 *           NULL @file/@argv/@out or a bad mode; -EPERM outside a task.
 * Suspends: no.
 */
WEFT_EXTERN int weft_create_subprocess_exec(const char *file, char *const argv[],
                                            const struct weft_process_opts *opts,
                                            weft_process_t **out);
/** weft_process_pid - the child's pid; -EINVAL if @p is NULL. */
WEFT_EXTERN pid_t weft_process_pid(weft_process_t *p);
/** weft_process_stdin/stdout/stderr - the piped streams (owned by @p), or NULL if not piped
 * or @p is NULL. */
WEFT_EXTERN weft_writer_t *weft_process_stdin(weft_process_t *p);
WEFT_EXTERN weft_reader_t *weft_process_stdout(weft_process_t *p);
WEFT_EXTERN weft_reader_t *weft_process_stderr(weft_process_t *p);
/**
 * weft_process_wait - wait for the child to exit (asyncio wait())
 * @returncode: receives the exit status, or -N if signal N ended it.
 * Returns:  0; -ECANCELED (the child keeps running); -EINVAL.
 * Suspends: yes.
 */
WEFT_EXTERN int weft_process_wait(weft_process_t *p, int *returncode);
/**
 * weft_process_communicate - send @input (may be NULL) to stdin and close
 * it, read stdout and stderr to their end, then wait (asyncio communicate).
 * @out/@outlen, @err/@errlen: receive malloc'd buffers (NUL-terminated,
 *           free() them) for the piped streams; NULL where not wanted or
 *           not piped.
 * Returns:  0 with *@returncode; -ENOMEM; stream errors; -ECANCELED.
 * Suspends: yes.
 */
WEFT_EXTERN int weft_process_communicate(weft_process_t *p, const void *input, size_t n,
                                         char **out, size_t *outlen, char **err, size_t *errlen,
                                         int *returncode);
/** weft_process_send_signal - send @sig through the pidfd. Returns 0; -ESRCH once reaped;
 * -EINVAL for NULL @p or a bad @sig; -EPERM. No suspension. */
WEFT_EXTERN int weft_process_send_signal(weft_process_t *p, int sig);
/** weft_process_terminate - SIGTERM. */
WEFT_EXTERN int weft_process_terminate(weft_process_t *p);
/** weft_process_kill - SIGKILL. */
WEFT_EXTERN int weft_process_kill(weft_process_t *p);
/** weft_process_returncode - 0 with *@rc once waited for; -EAGAIN before. */
WEFT_EXTERN int weft_process_returncode(weft_process_t *p, int *rc);
/** weft_process_release - free the object and its streams (no suspension). */
WEFT_EXTERN void weft_process_release(weft_process_t *p);

/* ---- signals ------------------------------------------------------------- */

/**
 * weft_loop_add_signal_handler - run @cb(@arg) on the loop whenever @sig
 * arrives (loop.add_signal_handler), replacing a previous handler for it.
 * The signal is blocked in the calling thread and in every worker thread,
 * and delivered through a signalfd that worker 0 watches; the program's
 * other threads must block it too, or it may reach one of them with its
 * default action (signalfd's rule).
 * Returns:  0; -EINVAL for a bad or uncatchable signal (SIGKILL, SIGSTOP)
 *           or NULL @loop/@cb; -EBUSY while the loop runs (add handlers
 *           before running it, from the thread that will run it); -ENOMEM;
 *           the signalfd errors.
 * Threads: the loop's owner, while the loop is not running.
 */
WEFT_EXTERN int weft_loop_add_signal_handler(weft_loop_t *loop, int sig, weft_callback_fn cb,
                                             void *arg);
/**
 * weft_loop_remove_signal_handler - undo add_signal_handler (the signal is
 * unblocked in the calling thread). Returns 1 if a handler was removed, 0
 * if none; -EINVAL; -EBUSY while the loop runs.
 */
WEFT_EXTERN int weft_loop_remove_signal_handler(weft_loop_t *loop, int sig);

#ifdef __cplusplus
}
#endif

#endif
