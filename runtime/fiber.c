/*
 * fiber.c - fiber setup and the annotated switch (see fiber.h).
 *
 * Invariants:
 *  1. A fiber is resumed by at most one thread at a time; the scheduler makes
 *     sure of it (task.c: a task is run only by the worker that popped it).
 *  2. Every switch is announced to ASan and TSan immediately before the raw
 *     switch, and ASan is told it finished immediately after (in the resumed
 *     fiber), as their fiber APIs require.
 *  3. A fiber that exits switches away with ASan's fake-stack slot NULL, so
 *     ASan frees that fiber's fake frames.
 *  4. Both fibers of a switch are of one kind (keep_fp, fiber.h): the
 *     switch is chosen by the outgoing fiber's kind, and the keeping one
 *     loads the slot the resumed fiber's own switch (or init) wrote.
 */
#include "fiber.h"

#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#if defined(WEFT__ASAN)
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
#endif
#if defined(WEFT__TSAN)
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

/* MXCSR's sticky exception flags (bits 0-5): status, not control. */
#define MXCSR_FLAGS 0x3Fu

weft__fp_ctl weft__fp_ctl_get(void) {
#if defined(__x86_64__)
  uint32_t mxcsr;
  uint16_t fpucw;
  __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
  __asm__ volatile("fnstcw %0" : "=m"(fpucw));
  return ((uint64_t)fpucw << 32) | (mxcsr & ~MXCSR_FLAGS);
#elif defined(__aarch64__)
  uint64_t fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  return fpcr;
#else
  return 0; /* no control state known here: nothing to carry */
#endif
}

void weft__fp_ctl_set(weft__fp_ctl c) {
#if defined(__x86_64__)
  uint32_t mxcsr = (uint32_t)c;
  uint16_t fpucw = (uint16_t)(c >> 32);
  __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
  __asm__ volatile("fldcw %0" : : "m"(fpucw));
#elif defined(__aarch64__)
  __asm__ volatile("msr fpcr, %0" : : "r"(c));
#else
  (void)c;
#endif
}

void weft__fiber_init_thread(struct weft__fiber *f, bool keep_fp) {
  memset(f, 0, sizeof *f);
  f->keep_fp = keep_fp;
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void *lo;
    size_t size;
    if (pthread_attr_getstack(&attr, &lo, &size) == 0) {
      if (size > UINT32_MAX) { /* its top part (fiber.h: stack_size) */
        lo = (char *)lo + (size - UINT32_MAX);
        size = UINT32_MAX;
      }
      f->stack_lo = lo;
      f->stack_size = (uint32_t)size;
    }
    pthread_attr_destroy(&attr);
  }
#if defined(WEFT__TSAN)
  f->tsan = __tsan_get_current_fiber();
  f->tsan_owned = false;
#endif
}

uintptr_t weft__fiber_saved_sp(const struct weft__fiber *f) {
#if defined(WEFT_FIBER_UCONTEXT)
#if defined(__x86_64__)
  return (uintptr_t)f->uc.uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
  return (uintptr_t)f->uc.uc_mcontext.sp;
#else
  (void)f;
  return 0;
#endif
#else
  return (uintptr_t)f->sp;
#endif
}

/* What both backends record about a new fiber's stack. */
static void set_stack(struct weft__fiber *f, void *lo, size_t size) {
  f->stack_lo = lo;
  f->stack_size = (uint32_t)size; /* a task's stack is at most 1 GiB (stack.h) */
#if defined(WEFT__TSAN)
  f->tsan = __tsan_create_fiber(0);
  f->tsan_owned = true;
#endif
}

#if defined(WEFT_FIBER_UCONTEXT)

static void uc_entry(unsigned hi, unsigned lo_entry_hi, unsigned lo_entry_lo, unsigned lo) {
  /* makecontext passes ints: reassemble the two pointers. */
  void *arg = (void *)(((uintptr_t)hi << 32) | lo);
  void (*entry)(void *) =
      (void (*)(void *))(((uintptr_t)lo_entry_hi << 32) | lo_entry_lo);
  entry(arg);
}

void weft__fiber_init(struct weft__fiber *f, void *lo, size_t size, void (*entry)(void *),
                      void *arg, const weft__fp_ctl *fp) {
  /* swapcontext always saves the floating-point environment, so the fiber
   * keeps its own either way; it starts with the one getcontext finds:
   * *@fp, set around the call, if given. */
  f->keep_fp = fp != NULL;
  weft__fp_ctl own = weft__fp_ctl_get();
  if (fp) weft__fp_ctl_set(*fp);
  getcontext(&f->uc);
  if (fp) weft__fp_ctl_set(own);
  f->uc.uc_stack.ss_sp = lo;
  f->uc.uc_stack.ss_size = size;
  f->uc.uc_link = NULL;
  uintptr_t a = (uintptr_t)arg, e = (uintptr_t)entry;
  makecontext(&f->uc, (void (*)(void))uc_entry, 4, (unsigned)(a >> 32), (unsigned)(e >> 32),
              (unsigned)e, (unsigned)a);
  set_stack(f, lo, size);
}

static inline void raw_switch(struct weft__fiber *from, struct weft__fiber *to) {
  swapcontext(&from->uc, &to->uc);
}

#else /* assembly backends */

void weft__fiber_raw_switch(void **save_sp, void *load_sp);
void weft__fiber_raw_switch_fp(void **save_sp, void *load_sp);
void weft__fiber_trampoline(void);

void weft__fiber_init(struct weft__fiber *f, void *lo, size_t size, void (*entry)(void *),
                      void *arg, const weft__fp_ctl *fp) {
  uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
  f->keep_fp = fp != NULL;
#if defined(__x86_64__)
  /* After the switch pops the frame and "returns" into the trampoline, rsp
   * must be 16-byte aligned so the trampoline's call gives entry() the ABI's
   * alignment. Frame: [mxcsr fpucw] r15 r14 r13 r12 rbx rbp ret. */
  uint64_t *sp = (uint64_t *)(top - 16);
  *--sp = (uint64_t)(uintptr_t)weft__fiber_trampoline; /* ret */
  *--sp = 0;                                            /* rbp */
  *--sp = (uint64_t)(uintptr_t)entry;                   /* rbx */
  *--sp = (uint64_t)(uintptr_t)arg;                     /* r12 */
  *--sp = 0;                                            /* r13 */
  *--sp = 0;                                            /* r14 */
  *--sp = 0;                                            /* r15 */
  /* fpucw, mxcsr: read only by the keeping switch (x87 and SSE defaults
   * otherwise, so the slot never holds an invalid MXCSR). */
  *--sp = fp ? *fp : ((uint64_t)0x037F << 32) | 0x1F80;
  f->sp = sp;
#elif defined(__aarch64__)
  uint64_t *sp = (uint64_t *)(top - 176);
  memset(sp, 0, 176);
  sp[0] = (uint64_t)(uintptr_t)arg;                     /* x19 */
  sp[1] = (uint64_t)(uintptr_t)entry;                   /* x20 */
  sp[11] = (uint64_t)(uintptr_t)weft__fiber_trampoline; /* x30 */
  sp[20] = fp ? *fp : 0;                                /* fpcr, for the keeping switch */
  f->sp = sp;
#else
#error "no assembly fiber backend for this architecture: build with -DWEFT_FIBER_BACKEND=ucontext"
#endif
  set_stack(f, lo, size);
}

static inline void raw_switch(struct weft__fiber *from, struct weft__fiber *to) {
  assert(from->keep_fp == to->keep_fp); /* invariant 4 */
  if (from->keep_fp) weft__fiber_raw_switch_fp(&from->sp, to->sp);
  else weft__fiber_raw_switch(&from->sp, to->sp);
}

#endif

void weft__fiber_fini(struct weft__fiber *f) {
#if defined(WEFT__TSAN)
  if (f->tsan_owned && f->tsan) __tsan_destroy_fiber(f->tsan);
  f->tsan = NULL;
  f->tsan_owned = false;
#else
  (void)f;
#endif
}

void weft__fiber_started(void) {
#if defined(WEFT__ASAN)
  __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
}

void weft__fiber_switch(struct weft__fiber *from, struct weft__fiber *to) {
#if defined(WEFT__ASAN)
  void *fake = NULL;
  __sanitizer_start_switch_fiber(&fake, to->stack_lo, to->stack_size);
#endif
#if defined(WEFT__TSAN)
  __tsan_switch_to_fiber(to->tsan, 0);
#endif
  raw_switch(from, to);
#if defined(WEFT__ASAN)
  __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
}

void weft__fiber_exit_to(struct weft__fiber *from, struct weft__fiber *to) {
#if defined(WEFT__ASAN)
  __sanitizer_start_switch_fiber(NULL, to->stack_lo, to->stack_size);
#endif
#if defined(WEFT__TSAN)
  __tsan_switch_to_fiber(to->tsan, 0);
#endif
  raw_switch(from, to);
  __builtin_unreachable();
}
