/*
 * stackguard.c - a stack overflow is reported, not a bare SIGSEGV.
 *
 * Every fiber stack has a guard region below it (stack.h). A SIGSEGV
 * handler, installed once per process when the first loop is made, runs
 * on an alternate signal stack (a task that overflowed has no stack left
 * to run a handler on): each worker thread gets one while it lives, and
 * the thread running a loop's worker 0 gets one for the run if it has none.
 * The handler looks at the faulting address: inside the guard region below
 * the stack of the task running on this thread (or of the task whose stack
 * the worker's own code runs on while it is not current: a direct switch's
 * bookkeeping, an inline I/O poll; worker.h, stack_owner), it writes one
 * line naming
 * the task (name, id, stack size, the address and how far below the stack)
 * and aborts; anything else goes to the handler that was installed before
 * weft's (the application's, a sanitizer's), or to the default action.
 *
 * Only async-signal-safe calls in the handler: write(2) and abort(); the
 * line is formatted by hand. It reads the task through the worker's
 * thread-local pointer; the task is the one that faulted, so it is alive.
 *
 * A handler the application installs after weft's replaces it (its
 * choice); one installed before is chained to. The guard cannot catch a
 * frame larger than itself in code built without -fstack-clash-protection
 * that writes only below the guard: weft's pkg-config flags add it.
 */
#include "stackguard.h"
#include "stack.h"
#include "task.h"
#include "worker.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Justification: the handler formats one line and calls write/abort;
 * 64 KiB is far above what it needs and what a chained sanitizer wants. */
#define ALTSTACK_SIZE (64u * 1024u)

static struct sigaction previous; /* written once, before the handler can run */
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

/* ---- a line without stdio (async-signal-safe) ------------------------------------ */

struct line {
  char buf[320];
  size_t n;
};

static void put(struct line *l, const char *s) {
  while (*s && l->n < sizeof l->buf - 1) l->buf[l->n++] = *s++;
}

static void put_u(struct line *l, uint64_t v, unsigned base) {
  char tmp[24];
  int k = 0;
  do {
    tmp[k++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v && k < (int)sizeof tmp);
  while (k && l->n < sizeof l->buf - 1) l->buf[l->n++] = tmp[--k];
}

static void report(const struct weft_task *t, uintptr_t addr, uintptr_t lo) {
  struct line l = {.n = 0};
  put(&l, "weft: stack overflow in task '");
  const struct weft__task_cold *c = weft__task_cold_of(t);
  if (c && c->name) {
    put(&l, c->name);
  } else {
    put(&l, "Task-");
    put_u(&l, t->id, 10);
  }
  put(&l, "' (id ");
  put_u(&l, t->id, 10);
  put(&l, "): stack of ");
  put_u(&l, weft__task_stack_size(t), 10);
  put(&l, " bytes, fault at 0x");
  put_u(&l, addr, 16);
  put(&l, ", ");
  put_u(&l, lo - addr, 10);
  put(&l, " bytes below the stack; give the task a larger stack_size (weft_task_opts)\n");
  ssize_t unused = write(STDERR_FILENO, l.buf, l.n);
  (void)unused;
}

/* ---- the handler --------------------------------------------------------------- */

static void chain(int sig, siginfo_t *si, void *uc) {
  if (previous.sa_flags & SA_SIGINFO) {
    if (previous.sa_sigaction) {
      previous.sa_sigaction(sig, si, uc);
      return;
    }
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
    return;
  }
  /* The default action: return and let the fault happen again, unhandled. */
  signal(sig, SIG_DFL);
}

/* The lowest address of @t's stack if @addr lies in the guard region
 * below it, else 0. */
static uintptr_t guarded_stack(const struct weft_task *t, uintptr_t addr) {
  const struct weft__task_run *x = t ? weft__task_run_of(t) : NULL;
  uintptr_t lo = x ? (uintptr_t)x->fiber.stack_lo : 0;
  return lo && addr < lo && lo - addr <= WEFT__STACK_GUARD ? lo : 0;
}

static void on_segv(int sig, siginfo_t *si, void *uc) {
  struct weft__worker *w = weft__worker_self();
  uintptr_t addr = (uintptr_t)si->si_addr;
  if (w) {
    /* The running task, or the one whose stack the worker's own code runs
     * on meanwhile (worker.h: stack_owner). */
    const struct weft_task *cand[2] = {weft__worker_current(w),
                                       atomic_load_explicit(&w->stack_owner, memory_order_relaxed)};
    for (int i = 0; i < 2; i++) {
      uintptr_t lo = guarded_stack(cand[i], addr);
      if (lo) {
        report(cand[i], addr, lo);
        abort();
      }
    }
  }
  chain(sig, si, uc);
}

static void install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &previous);
}

void weft__stackguard_install(void) { pthread_once(&install_once, install); }

/* ---- alternate signal stacks ----------------------------------------------------- */

void weft__stackguard_thread_enter(struct weft__altstack *a) {
  a->mem = NULL;
  stack_t cur;
  if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE)) return; /* the thread has one */
  void *mem = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return; /* then an overflow is a plain SIGSEGV */
  stack_t ss = {.ss_sp = mem, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) {
    munmap(mem, ALTSTACK_SIZE);
    return;
  }
  a->mem = mem;
}

void weft__stackguard_thread_exit(struct weft__altstack *a) {
  if (!a->mem) return;
  stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
  sigaltstack(&ss, NULL);
  munmap(a->mem, ALTSTACK_SIZE);
  a->mem = NULL;
}
