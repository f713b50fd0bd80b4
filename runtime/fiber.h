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
 * for x86-64 and aarch64 saving exactly the callee-saved registers and the
 * floating-point control words (fiber_x86_64.S, fiber_aarch64.S), or
 * ucontext's swapcontext as the portable fallback (it also saves the signal
 * mask with a system call, so it is ~20x slower).
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
  size_t stack_size;
#if defined(WEFT__TSAN)
  void *tsan;
  bool tsan_owned;    /* created by weft__fiber_init, destroyed by _fini */
#endif
};

/* Makes @f describe the calling thread's own context (a worker's scheduler). */
void weft__fiber_init_thread(struct weft__fiber *f);

/* Prepares @f to start running entry(arg) on [lo, lo + size) when first
 * switched to. entry must never return: it ends by switching away for good
 * with weft__fiber_exit_to(). */
void weft__fiber_init(struct weft__fiber *f, void *lo, size_t size, void (*entry)(void *),
                      void *arg);

/* Releases what weft__fiber_init took (the TSan fiber). Never on the running fiber. */
void weft__fiber_fini(struct weft__fiber *f);

void weft__fiber_switch(struct weft__fiber *from, struct weft__fiber *to);

/* Like weft__fiber_switch, for a fiber that will never be resumed. */
void weft__fiber_exit_to(struct weft__fiber *from, struct weft__fiber *to)
    __attribute__((noreturn));

/* The first thing a fiber's entry function calls (tells ASan it arrived). */
void weft__fiber_started(void);

#endif
