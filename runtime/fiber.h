/*
 * fiber.h - execution contexts and the switch between them.
 *
 * A fiber is a saved stack pointer (the callee-saved registers live on the
 * fiber's own stack) plus the bounds of its stack for the sanitizers. The
 * scheduler context of each worker is a fiber too, on the thread's stack.
 * weft__fiber_switch() saves the caller into @from and resumes @to; it
 * returns when something switches back to @from.
 *
 * Backends (chosen at build time, WEFT_FIBER_BACKEND): hand-written assembly
 * for x86-64 and aarch64 saving exactly the callee-saved registers
 * (fiber_x86_64.S, fiber_aarch64.S), or ucontext's swapcontext as the
 * portable fallback (it also saves the signal mask with a system call, so
 * it is ~20x slower, and always saves the floating-point environment).
 *
 * Floating-point control state (rounding mode, exception masks,
 * flush-to-zero: x86-64's MXCSR and x87 control word, aarch64's FPCR) is
 * the thread's by default: a switch neither saves nor loads it, as in
 * Tokio, Go and Seastar, because saving it is a third of a bare switch on
 * x86-64. A fiber made to keep its own (weft__fiber_init with @fp,
 * weft__fiber_init_thread with @keep_fp) has it saved when it switches out
 * and loaded when it is resumed. Invariant: a fiber switches only to
 * fibers of its own kind (a loop's fibers are all of one kind:
 * cfg.task_fp_env), so the keeping switch never loads a frame the other
 * one saved (checked in debug builds).
 *
 * Tool support: ASan learns of every switch through
 * __sanitizer_start/finish_switch_fiber, TSan through __tsan_switch_to_fiber
 * (each fiber is a TSan fiber created in weft__fiber_init), Valgrind through
 * VALGRIND_STACK_REGISTER on each stack (stack.c).
 */
#ifndef WEFT_RUNTIME_FIBER_H
#define WEFT_RUNTIME_FIBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT__ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define WEFT__TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WEFT__ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define WEFT__TSAN 1
#endif

#if defined(WEFT_FIBER_UCONTEXT)
#include <ucontext.h>
#endif

struct weft__fiber {
#if defined(WEFT_FIBER_UCONTEXT)
  ucontext_t uc;
#else
  void *sp;
#endif
  void *stack_lo;     /* lowest usable address; NULL if unknown */
  /* Bytes from stack_lo to the top. 32 bits with keep_fp beside them, so
   * a fiber is 24 bytes (a task's execution part keeps its first line:
   * task.h); a thread's stack is described by its top 4 GiB at most. */
  uint32_t stack_size;
  bool keep_fp;       /* keeps its own floating-point control state */
#if defined(WEFT__TSAN)
  void *tsan;
  bool tsan_owned;    /* created by weft__fiber_init, destroyed by _fini */
#endif
};

/* Floating-point control state: x86-64's MXCSR (low 32 bits, without its
 * sticky exception flags) and x87 control word (bits 32-47); aarch64's
 * FPCR. */
typedef uint64_t weft__fp_ctl;

/* The calling thread's floating-point control state. */
weft__fp_ctl weft__fp_ctl_get(void);
/* Makes @c the calling thread's floating-point control state. */
void weft__fp_ctl_set(weft__fp_ctl c);

/* Makes @f describe the calling thread's own context (a worker's
 * scheduler); @keep_fp: it keeps its floating-point control state (header
 * comment). */
void weft__fiber_init_thread(struct weft__fiber *f, bool keep_fp);

/* Prepares @f to start running entry(arg) on [lo, lo + size) when first
 * switched to. entry must never return: it ends by switching away for good
 * with weft__fiber_exit_to(). @fp: NULL, the fiber runs in the thread's
 * floating-point control state; else it keeps its own, starting with
 * *@fp. */
void weft__fiber_init(struct weft__fiber *f, void *lo, size_t size, void (*entry)(void *),
                      void *arg, const weft__fp_ctl *fp);

/* Releases what weft__fiber_init took (the TSan fiber). Never on the running fiber. */
void weft__fiber_fini(struct weft__fiber *f);

void weft__fiber_switch(struct weft__fiber *from, struct weft__fiber *to);

/* Like weft__fiber_switch, for a fiber that will never be resumed. */
void weft__fiber_exit_to(struct weft__fiber *from, struct weft__fiber *to)
    __attribute__((noreturn));

/* The stack pointer @f was switched out at: everything it still needs lies
 * at or above it, nothing below (the System V and AAPCS64 ABIs keep no
 * red zone across a call, and the switch is a call). 0 where the backend
 * does not say (ucontext on other architectures). Only for a fiber that
 * is switched out and stays so while the caller looks (a held task:
 * task.h). */
uintptr_t weft__fiber_saved_sp(const struct weft__fiber *f);

/* The first thing a fiber's entry function calls (tells ASan it arrived). */
void weft__fiber_started(void);

#endif
