/*
 * backtrace.h (private) - return addresses of a task's or a worker's stack,
 * for the dump and the stall detector (debug.c, monitor.c).
 *
 * Stacks are walked by frame pointers: each frame's saved frame pointer and
 * return address sit side by side ([fp] = caller's fp, [fp + 8] = return
 * address on x86-64 and AArch64). The walk reads only memory inside the
 * stack's bounds, never follows a frame pointer downwards or out of bounds,
 * and stops at the first that breaks these rules, so code built without
 * frame pointers shortens a stack but never crashes the walk. weft itself
 * is built with -fno-omit-frame-pointer; users who want whole stacks build
 * theirs the same way (docs/debug.md).
 *
 * A suspended task's walk starts from its saved context (the fiber switch
 * frame, fiber.h); a running one's from the registers a signal interrupted
 * on its worker (weft__backtrace_worker): the handler walks there and hands
 * the addresses back. Async-signal-safety: the handler only reads memory,
 * writes the request it was given and wakes the requester with a futex.
 */
#ifndef WEFT_RUNTIME_BACKTRACE_H
#define WEFT_RUNTIME_BACKTRACE_H

/* For hot functions of files built with frame pointers that never have a
 * frame on a suspended task's stack (they return before any suspension):
 * they may go without one, as the scheduler's own files do (CMakeLists.txt).
 * GCC only; elsewhere they keep theirs. */
#if defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
#define WEFT__NO_FRAME __attribute__((optimize("omit-frame-pointer")))
#else
#define WEFT__NO_FRAME
#endif

#include <stddef.h>
#include <stdint.h>

struct weft__worker;
struct weft_task;
struct weft__fiber;

/* Justification: deep enough for a server's handler chain under weft's own
 * frames; a dump of 10,000 tasks stays a few MiB. */
#define WEFT__BT_MAX 48
/* Justification: a libc system call wrapper keeps a few words of locals
 * (glibc 2.36's read: 5) between its sp and its return address. */
#define WEFT__BT_LEAF_WORDS 16

/* Walks from (@pc, @fp) inside [lo, hi): stores up to @max addresses,
 * returns how many. */
size_t weft__bt_walk(uintptr_t pc, uintptr_t fp, uintptr_t lo, uintptr_t hi, void **out,
                     size_t max);

/* A suspended fiber's stack (the caller holds it still: debug.c's claim). */
size_t weft__bt_fiber(const struct weft__fiber *f, void **out, size_t max);

/* The calling thread's own stack from its caller on. */
size_t weft__bt_here(void **out, size_t max);

/* What worker @w is running now, captured on its thread by a signal. */
struct weft__bt_capture {
  struct weft_task *task;  /* the task on it, with a reference for the caller; or NULL */
  uint64_t polled;         /* its slice count when the handler ran */
  size_t n;
  void *frames[WEFT__BT_MAX];
  /* Where a frameless leaf's caller may be (backtrace.c): the link
   * register, or the words from the interrupted sp up to the frame record. */
  void *leaf_lr;
  size_t nleaf;
  void *leaf_words[WEFT__BT_LEAF_WORDS];
};

/* Interrupts @w's thread and captures its stack; waits up to @timeout_ns.
 * Returns 0, -ETIMEDOUT (the signal was not handled in time: the thread
 * blocks it, or a sanitizer runtime defers it), -ENOTSUP (the signal's
 * disposition belongs to the application) or -ESRCH (no thread). From @w's
 * own thread it walks the calling stack instead. */
int weft__bt_worker(struct weft__worker *w, struct weft__bt_capture *out, int64_t timeout_ns);

#endif
