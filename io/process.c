/*
 * process.c - subprocesses (weft/process.h).
 *
 * Spawning: posix_spawnp with the child's ends of the pipes dup'ed onto
 * 0/1/2, its signal mask cleared and the signals weft handles reset to
 * their defaults; then a pidfd for the child. The parent's ends are
 * O_NONBLOCK (streams write to them without blocking) and close-on-exec.
 *
 * Waiting: the pidfd becomes readable when the child exits; waitid(P_PIDFD)
 * then reaps it without blocking. No SIGCHLD handler, no reaper thread, no
 * interference with other children of the process.
 *
 * Invariants: once reaped, returncode is final and the pidfd is closed;
 * signals are sent only before that (the pid may be reused after).
 */
#include "weft/process.h"
#include "weft/io.h"
#include "alloc.h"
#include "task.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

struct weft_process {
  pid_t pid;
  int pidfd;          /* -1 once reaped */
  bool reaped;
  int returncode;
  weft_writer_t *in;
  weft_reader_t *out, *err;
};

static int pidfd_open(pid_t pid) {
  long fd = syscall(SYS_pidfd_open, pid, 0);
  return fd < 0 ? -errno : (int)fd;
}

/* Closed as it was opened, by a raw system call: TSan's close()
 * interceptor, which never saw the open, would take the number for the
 * last fd it saw under it (another thread's, closed by the ring) and
 * report a race. */
static void pidfd_close(int fd) { (void)syscall(SYS_close, fd); }

static void close_pair(int p[2]) {
  if (p[0] >= 0) close(p[0]);
  if (p[1] >= 0) close(p[1]);
  p[0] = p[1] = -1;
}

/* A pipe whose @parent_end (0 read, 1 write) is non-blocking. */
static int make_pipe(int p[2], int parent_end) {
  if (pipe2(p, O_CLOEXEC) < 0) return -errno;
  int fl = fcntl(p[parent_end], F_GETFL);
  fcntl(p[parent_end], F_SETFL, fl | O_NONBLOCK);
  return 0;
}

int weft_create_subprocess_exec(const char *file, char *const argv[],
                                const struct weft_process_opts *opts, weft_process_t **out) {
  if (!file || !argv || !out) return -EINVAL;
  if (!weft__task_self()) return -EPERM;
  struct weft_process_opts o = {0};
  if (opts) o = *opts;
  if (o.stdin_mode < 0 || o.stdin_mode > WEFT_STDIO_DEVNULL || o.stdout_mode < 0 ||
      o.stdout_mode > WEFT_STDIO_DEVNULL || o.stderr_mode < 0 || o.stderr_mode > WEFT_STDIO_STDOUT)
    return -EINVAL;
  weft_process_t *p = weft__calloc(sizeof *p);
  if (!p) return -ENOMEM;
  p->pidfd = -1;
  int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1}, devnull = -1;
  int rc = 0;
  if (o.stdin_mode == WEFT_STDIO_PIPE) rc = make_pipe(pin, 1);
  if (!rc && o.stdout_mode == WEFT_STDIO_PIPE) rc = make_pipe(pout, 0);
  if (!rc && o.stderr_mode == WEFT_STDIO_PIPE) rc = make_pipe(perr, 0);
  if (!rc && (o.stdin_mode == WEFT_STDIO_DEVNULL || o.stdout_mode == WEFT_STDIO_DEVNULL ||
              o.stderr_mode == WEFT_STDIO_DEVNULL) &&
      (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
    rc = -errno;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  if (!rc) {
    if (pin[0] >= 0) posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
    else if (o.stdin_mode == WEFT_STDIO_DEVNULL) posix_spawn_file_actions_adddup2(&fa, devnull, 0);
    if (pout[1] >= 0) posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
    else if (o.stdout_mode == WEFT_STDIO_DEVNULL) posix_spawn_file_actions_adddup2(&fa, devnull, 1);
    if (perr[1] >= 0) posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
    else if (o.stderr_mode == WEFT_STDIO_DEVNULL) posix_spawn_file_actions_adddup2(&fa, devnull, 2);
    else if (o.stderr_mode == WEFT_STDIO_STDOUT) posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (o.cwd) posix_spawn_file_actions_addchdir_np(&fa, o.cwd);
    /* The child starts with nothing blocked and every signal at its default. */
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int e = posix_spawnp(&p->pid, file, &fa, &attr, argv, o.envp ? o.envp : environ);
    if (e) rc = -e;
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (devnull >= 0) close(devnull);
  /* The child's ends are the child's now. */
  if (pin[0] >= 0) close(pin[0]);
  if (pout[1] >= 0) close(pout[1]);
  if (perr[1] >= 0) close(perr[1]);
  pin[0] = pout[1] = perr[1] = -1;
  if (!rc) {
    p->pidfd = pidfd_open(p->pid);
    if (p->pidfd < 0) {
      rc = p->pidfd;
      kill(p->pid, SIGKILL);
      waitpid(p->pid, NULL, 0);
    }
  }
  if (!rc && pin[1] >= 0 && (rc = weft_stream_open_fd(-1, pin[1], 0, NULL, &p->in)) == 0) pin[1] = -1;
  if (!rc && pout[0] >= 0 && (rc = weft_stream_open_fd(pout[0], -1, 0, &p->out, NULL)) == 0) pout[0] = -1;
  if (!rc && perr[0] >= 0 && (rc = weft_stream_open_fd(perr[0], -1, 0, &p->err, NULL)) == 0) perr[0] = -1;
  close_pair(pin);
  close_pair(pout);
  close_pair(perr);
  if (rc) {
    weft_process_release(p);
    return rc;
  }
  *out = p;
  return 0;
}

pid_t weft_process_pid(weft_process_t *p) { return p ? p->pid : -EINVAL; }
weft_writer_t *weft_process_stdin(weft_process_t *p) { return p ? p->in : NULL; }
weft_reader_t *weft_process_stdout(weft_process_t *p) { return p ? p->out : NULL; }
weft_reader_t *weft_process_stderr(weft_process_t *p) { return p ? p->err : NULL; }

int weft_process_wait(weft_process_t *p, int *returncode) {
  if (!p) return -EINVAL;
  while (!p->reaped) {
    int rc = weft_wait_readable(p->pidfd);
    if (rc < 0) return rc;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG) < 0) return -errno;
    if (si.si_pid == 0) continue; /* not yet: readable for another reason */
    p->returncode = si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
    p->reaped = true;
    pidfd_close(p->pidfd);
    p->pidfd = -1;
  }
  if (returncode) *returncode = p->returncode;
  return 0;
}

int weft_process_returncode(weft_process_t *p, int *rc) {
  if (!p || !rc) return -EINVAL;
  if (!p->reaped) return -EAGAIN;
  *rc = p->returncode;
  return 0;
}

int weft_process_send_signal(weft_process_t *p, int sig) {
  if (!p) return -EINVAL;
  if (p->reaped) return -ESRCH;
  /* Through the pidfd: it can never hit a recycled pid. */
  return syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}
int weft_process_terminate(weft_process_t *p) { return weft_process_send_signal(p, SIGTERM); }
int weft_process_kill(weft_process_t *p) { return weft_process_send_signal(p, SIGKILL); }

/* Reads @r to its end into a malloc'd NUL-terminated buffer. */
static int read_all(weft_reader_t *r, char **out, size_t *outlen) {
  size_t len = 0, cap = 4096;
  char *buf = malloc(cap);
  if (!buf) return -ENOMEM;
  for (;;) {
    if (cap - len < 4096) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        return -ENOMEM;
      }
      buf = nb;
      cap *= 2;
    }
    ssize_t n = weft_reader_read(r, buf + len, cap - len - 1);
    if (n < 0) {
      free(buf);
      return (int)n;
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  *out = buf;
  if (outlen) *outlen = len;
  return 0;
}

struct feed_arg {
  weft_writer_t *w;
  const void *input;
  size_t n;
};

static int feed_stdin(void *arg, void **res) {
  (void)res;
  struct feed_arg *f = arg;
  int rc = f->n ? weft_writer_write(f->w, f->input, f->n) : 0;
  if (!rc) rc = weft_writer_drain(f->w);
  weft_writer_close(f->w);
  if (!rc) rc = weft_writer_wait_closed(f->w);
  return rc == -EPIPE ? 0 : rc; /* a child that exits without reading is fine (asyncio) */
}

struct drain_arg {
  weft_reader_t *r;
  char *buf;
  size_t len;
};

static int drain_stderr(void *arg, void **res) {
  (void)res;
  struct drain_arg *d = arg;
  return read_all(d->r, &d->buf, &d->len);
}

/* Waits for a helper task to end, even if we are cancelled meanwhile (it
 * uses our stack): a cancellation is passed on to it and reported after. */
static int join(weft_task_t *t, bool *cancelled) {
  for (;;) {
    int rc = weft_await(weft_task_future(t), NULL);
    if (weft_future_done(weft_task_future(t))) {
      weft_task_release(t);
      return rc;
    }
    *cancelled = true;
    weft_task_cancel(t, NULL);
  }
}

int weft_process_communicate(weft_process_t *p, const void *input, size_t n, char **out,
                             size_t *outlen, char **err, size_t *errlen, int *returncode) {
  if (!p || (n && !input)) return -EINVAL;
  if (!weft__task_self()) return -EPERM;
  if (out) *out = NULL;
  if (err) *err = NULL;
  struct feed_arg f = {p->in, input, n};
  struct drain_arg d = {p->err, NULL, 0};
  weft_task_t *tin = NULL, *terr = NULL;
  int rc = 0;
  if (p->in) rc = weft_spawn(feed_stdin, &f, &tin);
  if (!rc && p->err) rc = weft_spawn(drain_stderr, &d, &terr);
  char *obuf = NULL;
  size_t olen = 0;
  if (!rc && p->out) rc = read_all(p->out, &obuf, &olen);
  bool cancelled = rc == -ECANCELED;
  if (rc) {
    if (tin) weft_task_cancel(tin, NULL);
    if (terr) weft_task_cancel(terr, NULL);
  }
  int rin = tin ? join(tin, &cancelled) : 0;
  int rerr = terr ? join(terr, &cancelled) : 0;
  if (!rc) rc = rin ? rin : rerr;
  if (cancelled) rc = -ECANCELED;
  if (!rc) rc = weft_process_wait(p, returncode);
  if (rc) {
    free(obuf);
    free(d.buf);
    return rc;
  }
  if (out) {
    *out = obuf;
    if (outlen) *outlen = olen;
  } else {
    free(obuf);
  }
  if (err) {
    *err = d.buf;
    if (errlen) *errlen = d.len;
  } else {
    free(d.buf);
  }
  return 0;
}

void weft_process_release(weft_process_t *p) {
  if (!p) return;
  weft_writer_release(p->in);
  weft_reader_release(p->out);
  weft_reader_release(p->err);
  if (p->pidfd >= 0) pidfd_close(p->pidfd);
  weft__free(p, sizeof *p);
}
