/*
 * weft/errno.h - error codes weft returns besides the negated errno values.
 *
 * Every weft function that can fail returns an int: >= 0 is success, < 0 is
 * a negated errno value (-EINVAL, -ENOMEM, -ECANCELED, -ETIMEDOUT, ...) or one
 * of the WEFT_E* codes below. The weft codes sit at -4000 and below, far from
 * errno's range, so the two can never collide.
 *
 * WEFT_ERRNO_MAP is the one list: it generates the enum, weft_strerror() and
 * weft_err_name(), so the three cannot drift apart.
 */
#ifndef WEFT_ERRNO_H
#define WEFT_ERRNO_H

#include "weft/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_ERRNO_MAP(XX)                                                     \
  XX(EINVALSTATE, -4000, "invalid state (future already done, or not done yet)") \
  XX(ESTOPPED, -4001, "event loop stopped before the future completed")       \
  XX(ECLOSED, -4002, "event loop is closed")                                  \
  XX(ESHUTDOWN, -4003, "shut down (a queue or an executor)")                 \
  XX(EBROKEN, -4004, "barrier is broken (aborted or reset)")                  \
  XX(EINCOMPLETE, -4005, "stream ended before the requested data (IncompleteReadError)") \
  XX(ELIMIT, -4006, "separator not found within the stream limit (LimitOverrunError)") \
  XX(EGROUP, -4007, "tasks of a TaskGroup failed (ExceptionGroup)")         \
  XX(ESTOP, -4008, "the generator or iterator is exhausted (StopAsyncIteration)") \
  XX(EGENEXIT, -4009, "the generator is being closed (GeneratorExit)")

enum weft_errno {
#define WEFT__ERRNO_ENUM(name, value, text) WEFT_##name = (value),
  WEFT_ERRNO_MAP(WEFT__ERRNO_ENUM)
#undef WEFT__ERRNO_ENUM
};

/**
 * weft_strerror - describe an error code
 * @err: a negative weft or errno code (a positive errno is accepted too).
 *
 * Returns:  a static string; never NULL. Unknown codes give "unknown error".
 * Threads:  any thread.
 */
WEFT_EXTERN const char *weft_strerror(int err);

/**
 * weft_err_name - the symbolic name of an error code ("ECANCELED", "WEFT_ESTOPPED")
 * @err: a negative weft or errno code.
 *
 * Returns:  a static string; never NULL. Unknown codes give "UNKNOWN".
 * Threads:  any thread.
 */
WEFT_EXTERN const char *weft_err_name(int err);

/**
 * weft_errno_location - the calling thread's errno, by a call the compiler
 * cannot assume returns the same address twice.
 *
 * A task may resume on another worker's thread after any suspension point,
 * and errno is per thread. glibc declares __errno_location (what errno
 * expands to) const, so a compiler may compute errno's address once in a
 * function and use it after a suspension point: a task that set or read
 * errno before a weft call that suspends, then reads it after a failing
 * system call, can read the first worker's errno (seen in weft's own
 * tests with gcc -O2). Read errno in a function that does not suspend
 * (one marked noinline, so it is not merged into its caller), pin the
 * task (weft_task_opts.worker), or define WEFT_ERRNO_ANEW before
 * including any header: errno then expands to (*weft_errno_location()),
 * asked anew at each use. libweft's own code is built that way.
 * Returns:  this thread's errno's address. Threads: any.
 */
WEFT_EXTERN int *weft_errno_location(void);

#ifdef __cplusplus
}
#endif

#ifdef WEFT_ERRNO_ANEW
#include <errno.h>
#undef errno
#define errno (*weft_errno_location())
#endif
#endif
