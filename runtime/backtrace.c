/*
 * backtrace.c - frame-pointer walks of fiber and worker stacks (backtrace.h).
 *
 * The running-stack capture: one request at a time for the whole process
 * (req_lock, held by the requester only), in the static `req`. The
 * requester fills it, moves its state IDLE -> PENDING and sends SIGURG to
 * the worker's thread (Go's choice for its own preemption signal: ignored
 * by default, rarely used, passed through by debuggers). The handler, on
 * that thread, moves PENDING -> WRITING, fills the answer, stores DONE and
 * wakes the futex. A requester that gives up moves PENDING -> IDLE; if the
 * handler got there first (WRITING), it waits for DONE, so the handler
 * never writes into a request that was given up and reused.
 *
 * Invariants: only a requester holding req_lock moves IDLE -> PENDING and
 * DONE/PENDING -> IDLE; only the handler moves PENDING -> WRITING -> DONE;
 * req's fields are the handler's from PENDING to DONE, the requester's
 * otherwise.
 */
#include "backtrace.h"
#include "clock.h"
#include "fiber.h"
#include "futex.h"
#include "mutex.h"
#include "symbolize.h"
#include "task.h"
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <ucontext.h>

#define CAPTURE_SIGNAL SIGURG

/* Reads a word the walk found: other threads may be writing it (a stack in
 * use), which is why the walk validates everything it reads instead of
 * trusting it, and why the sanitizers are told to look away. */
__attribute__((no_sanitize("address", "thread"))) static uintptr_t peek(uintptr_t addr) {
  return *(volatile const uintptr_t *)addr;
}

__attribute__((no_sanitize("address", "thread"))) size_t
weft__bt_walk(uintptr_t pc, uintptr_t fp, uintptr_t lo, uintptr_t hi, void **out, size_t max) {
  size_t n = 0;
  if (max == 0) return 0;
  if (pc) out[n++] = (void *)pc;
  const uintptr_t align = sizeof(uintptr_t) - 1;
  while (n < max) {
    /* The frame record [fp, fp + 16) must lie inside the stack. */
    if (fp < lo || fp > hi - 2 * sizeof(uintptr_t) || (fp & align)) break;
    uintptr_t next = peek(fp), ret = peek(fp + sizeof(uintptr_t));
    if (ret < 4096) break; /* the outermost frame (a trampoline's undefined rip) */
    out[n++] = (void *)ret;
    if (next <= fp) break; /* frames only go up the stack */
    fp = next;
  }
  return n;
}

/* The saved context of a queued task is read while a worker may resume it
 * (dump.c validates what it read afterwards): a race by design, hidden
 * from the sanitizers like peek's. */
__attribute__((no_sanitize("address", "thread"))) size_t
weft__bt_fiber(const struct weft__fiber *f, void **out, size_t max) {
  if (!f->stack_lo) return 0;
  uintptr_t lo = (uintptr_t)f->stack_lo, hi = lo + f->stack_size;
#if defined(WEFT_FIBER_UCONTEXT)
  const mcontext_t *m = &f->uc.uc_mcontext;
#if defined(__x86_64__)
  return weft__bt_walk((uintptr_t)m->gregs[REG_RIP], (uintptr_t)m->gregs[REG_RBP], lo, hi, out, max);
#elif defined(__aarch64__)
  return weft__bt_walk((uintptr_t)m->pc, (uintptr_t)m->regs[29], lo, hi, out, max);
#else
  (void)m;
  return 0;
#endif
#else
  uintptr_t sp = (uintptr_t)f->sp;
  if (sp < lo || sp >= hi) return 0;
#if defined(__x86_64__)
  /* fiber_x86_64.S's frame: [mxcsr fpucw] r15 r14 r13 r12 rbx rbp ret. */
  if (sp + 64 > hi) return 0;
  return weft__bt_walk(peek(sp + 56), peek(sp + 48), lo, hi, out, max);
#elif defined(__aarch64__)
  /* fiber_aarch64.S's frame: x29 (fp) at 80, x30 (lr) at 88. */
  if (sp + 96 > hi) return 0;
  return weft__bt_walk(peek(sp + 88), peek(sp + 80), lo, hi, out, max);
#else
  return 0;
#endif
#endif
}

__attribute__((noinline)) size_t weft__bt_here(void **out, size_t max) {
  uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
  /* Bounds: from here up to a generous limit; the walk stops at the
   * outermost frame anyway. A fiber's stack is known exactly. */
  struct weft_task *t = weft__task_self();
  /* Running, so started: NULL only in an inline child's last steps. */
  const struct weft__task_run *x = t ? weft__task_run_of(t) : NULL;
  const struct weft__fiber *f = x ? &x->fiber : NULL;
  uintptr_t lo = fp, hi = fp + ((uintptr_t)8 << 20);
  if (f && f->stack_lo) {
    lo = (uintptr_t)f->stack_lo;
    hi = lo + f->stack_size;
  } else {
    struct weft__worker *w = weft__worker_self();
    if (w && w->tstack_hi) hi = w->tstack_hi;
  }
  return weft__bt_walk(0, fp, lo, hi, out, max);
}

/* ---- capturing a running worker ------------------------------------------ */

enum { REQ_IDLE = 0, REQ_PENDING = 1, REQ_WRITING = 2, REQ_DONE = 3 };

static struct {
  _Atomic uint32_t state;
  struct weft__worker *_Atomic target;
  struct weft__bt_capture *out;
} req;
static struct weft__mutex req_lock = WEFT__MUTEX_INIT;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static bool installed;

/* The interrupted pc, fp, and where the caller of a leaf function that
 * set up no frame would be: its return address at sp (x86-64), or the
 * link register (AArch64). */
static void regs_of(const ucontext_t *uc, uintptr_t *pc, uintptr_t *fp, uintptr_t *sp,
                    uintptr_t *lr) {
#if defined(__x86_64__)
  *pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
  *fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
  *sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
  *lr = 0;
#elif defined(__aarch64__)
  *pc = (uintptr_t)uc->uc_mcontext.pc;
  *fp = (uintptr_t)uc->uc_mcontext.regs[29];
  *sp = (uintptr_t)uc->uc_mcontext.sp;
  *lr = (uintptr_t)uc->uc_mcontext.regs[30];
#else
  (void)uc;
  *pc = *fp = *sp = *lr = 0;
#endif
}

static void on_capture_signal(int sig, siginfo_t *si, void *ctx) {
  (void)sig;
  (void)si;
  int saved = errno;
  struct weft__worker *w = weft__worker_self();
  uint32_t expected = REQ_PENDING;
  /* acquire: pairs with the requester's release store of PENDING (target, out). */
  if (!w || atomic_load_explicit(&req.target, memory_order_relaxed) != w ||
      !atomic_compare_exchange_strong_explicit(&req.state, &expected, REQ_WRITING,
                                               memory_order_acquire, memory_order_relaxed)) {
    errno = saved;
    return;
  }
  struct weft__bt_capture *out = req.out;
  uintptr_t pc, fp, sp, lr;
  regs_of(ctx, &pc, &fp, &sp, &lr);
  /* Our own thread's field, read between two of its instructions. */
  struct weft_task *t = weft__worker_current(w);
  uintptr_t lo = w->tstack_lo, hi = w->tstack_hi;
  /* Current: started, its execution part in place. */
  const struct weft__task_run *x = t ? weft__task_run_of(t) : NULL;
  if (x && x->fiber.stack_lo && fp >= (uintptr_t)x->fiber.stack_lo &&
      fp < (uintptr_t)x->fiber.stack_lo + x->fiber.stack_size) {
    lo = (uintptr_t)x->fiber.stack_lo;
    hi = lo + x->fiber.stack_size;
  }
  out->polled = atomic_load_explicit(&w->ctr.polled, memory_order_relaxed);
  out->task = t;
  /* relaxed increment (weft_future_ref's rule): the task is alive, it is
   * running right here. */
  if (t) atomic_fetch_add_explicit(&t->fut.refs, 1, memory_order_relaxed);
  out->n = weft__bt_walk(pc, fp, lo, hi, out->frames, WEFT__BT_MAX);
  out->leaf_lr = (void *)lr;
  out->nleaf = 0;
  for (uintptr_t a = sp; sp >= lo && a < fp && a + sizeof(uintptr_t) <= hi &&
                         out->nleaf < WEFT__BT_LEAF_WORDS;
       a += sizeof(uintptr_t))
    out->leaf_words[out->nleaf++] = (void *)peek(a);
  /* release: the answer above is the requester's once it sees DONE. */
  atomic_store_explicit(&req.state, REQ_DONE, memory_order_release);
  weft__futex_wake(&req.state, 1);
  errno = saved;
}

static void install(void) {
  struct sigaction old;
  if (sigaction(CAPTURE_SIGNAL, NULL, &old) != 0) return;
  bool ours_to_take = !(old.sa_flags & SA_SIGINFO) &&
                      (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN);
  if (!ours_to_take) return;
  struct sigaction sa = {0};
  sa.sa_sigaction = on_capture_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  installed = sigaction(CAPTURE_SIGNAL, &sa, NULL) == 0;
}

/* Interrupted in a function that set up no frame (a libc system call
 * wrapper, typically), the frame-pointer walk skips its caller: the first
 * frame record is the caller's caller's. The caller's return address is
 * then in the link register (AArch64) or among the words between sp and
 * that frame record (x86-64: above the leaf's own locals): the first that
 * is a return address (after a call instruction, in code) is added, unless
 * it is already the next frame. A function pointer in a local is not
 * taken for one: it points at a function's start, never after a call. */
static void add_leaf_caller(struct weft__bt_capture *out) {
  void *ret = NULL;
  if (out->leaf_lr && weft__is_return_address(out->leaf_lr)) ret = out->leaf_lr;
  for (size_t i = 0; !ret && i < out->nleaf; i++)
    if (weft__is_return_address(out->leaf_words[i])) ret = out->leaf_words[i];
  if (!ret || out->n == 0 || (out->n > 1 && out->frames[1] == ret) || out->n == WEFT__BT_MAX) return;
  memmove(&out->frames[2], &out->frames[1], (out->n - 1) * sizeof *out->frames);
  out->frames[1] = ret;
  out->n++;
}

int weft__bt_worker(struct weft__worker *w, struct weft__bt_capture *out, int64_t timeout_ns) {
  out->task = NULL;
  out->n = 0;
  out->polled = atomic_load_explicit(&w->ctr.polled, memory_order_relaxed);
  if (weft__worker_self() == w) {
    out->n = weft__bt_here(out->frames, WEFT__BT_MAX);
    struct weft_task *t = weft__task_self();
    if (t) {
      weft_future_ref(&t->fut);
      out->task = t;
    }
    return 0;
  }
  pthread_once(&install_once, install);
  if (!installed) return -ENOTSUP;
  /* relaxed: written by the worker at the start of its run; a stale 0 is
   * "no thread" and nothing else. */
  pthread_t th = (pthread_t)atomic_load_explicit(&w->thread_id, memory_order_relaxed);
  if (!th) return -ESRCH;
  weft__mutex_lock(&req_lock);
  req.out = out;
  atomic_store_explicit(&req.target, w, memory_order_relaxed);
  /* release: publishes target and out to the handler's acquire CAS. */
  atomic_store_explicit(&req.state, REQ_PENDING, memory_order_release);
  int rc = pthread_kill(th, CAPTURE_SIGNAL) == 0 ? 0 : -ESRCH;
  uint64_t deadline = weft__clock_ns() + (uint64_t)timeout_ns;
  while (rc == 0) {
    /* acquire: pairs with the handler's release store of DONE. */
    uint32_t s = atomic_load_explicit(&req.state, memory_order_acquire);
    if (s == REQ_DONE) break;
    uint64_t now = weft__clock_ns();
    if (s == REQ_PENDING && now >= deadline) {
      uint32_t expected = REQ_PENDING;
      if (atomic_compare_exchange_strong_explicit(&req.state, &expected, REQ_IDLE,
                                                  memory_order_acquire, memory_order_acquire)) {
        rc = -ETIMEDOUT;
        break;
      }
      continue; /* the handler started writing: wait for it to finish */
    }
    weft__futex_wait(&req.state, s, s == REQ_WRITING ? 0 : deadline);
  }
  atomic_store_explicit(&req.target, NULL, memory_order_relaxed);
  atomic_store_explicit(&req.state, REQ_IDLE, memory_order_relaxed);
  weft__mutex_unlock(&req_lock);
  if (rc == 0) add_leaf_caller(out);
  return rc;
}
