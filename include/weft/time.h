/*
 * weft/time.h - clocks, sleeping and timed callbacks.
 *
 * All times are CLOCK_MONOTONIC. weft_loop_time() is asyncio's loop.time():
 * seconds as a double. Timers live on the worker that armed them and fire on
 * time when that worker is idle; a worker busy in a long task delays its own
 * timers (as in any cooperative scheduler).
 */
#ifndef WEFT_TIME_H
#define WEFT_TIME_H

#include <stdint.h>
#include "weft/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/** weft_now_ns - monotonic time in nanoseconds. Threads: any. */
WEFT_EXTERN uint64_t weft_now_ns(void);

/** weft_loop_time - monotonic time in seconds (loop.time). Threads: any. */
WEFT_EXTERN double weft_loop_time(const weft_loop_t *loop);

/**
 * weft_sleep_ns - suspend the current task for @ns nanoseconds (asyncio.sleep)
 *
 * @ns <= 0 is weft_yield() (asyncio: sleep(delay <= 0) is sleep(0)). The
 * task wakes no earlier than @ns after the call.
 * Returns:  0; -ECANCELED if cancelled (the sleep ends early); -EPERM outside a
 *           task; -ENOMEM (timer storage could not grow).
 * Suspends: yes.  Threads: tasks only.
 */
WEFT_EXTERN int weft_sleep_ns(int64_t ns);

/** weft_sleep - weft_sleep_ns() in seconds; negative is 0, +inf about 31 years; -EINVAL for NaN. */
WEFT_EXTERN int weft_sleep(double seconds);

/**
 * weft_call_later - run @cb(@arg) after @delay seconds (loop.call_later)
 * @out: receives a handle reference; may be NULL.
 *
 * A negative @delay is 0 (asyncio: the callback runs at the next timer
 * pass); +inf or more than 1e9 s is clamped to about 31 years.
 * Returns:  0; -EPERM when not on a worker of a running loop; -EINVAL if @cb is
 *           NULL or @delay is NaN; -ENOMEM.
 * Suspends: no.  Threads: workers.
 */
WEFT_EXTERN int weft_call_later(double delay, weft_callback_fn cb, void *arg,
                                weft_handle_t **out);

/**
 * weft_call_at - run @cb(@arg) at loop time @when (loop.call_at)
 * Returns:  as weft_call_later(); a time in the past (negative too) runs at
 *           the next timer pass.
 */
WEFT_EXTERN int weft_call_at(double when, weft_callback_fn cb, void *arg,
                             weft_handle_t **out);

/**
 * weft_loop_call_later - weft_call_later() on @loop, also before it runs
 * weft_loop_call_at - weft_call_at() on @loop, also before it runs
 *
 * From a worker of @loop these are weft_call_later()/weft_call_at(); from
 * another thread they work while @loop is not running (the timer counts
 * from now and fires once the loop runs).
 * Returns:  0; -EPERM from a foreign thread while @loop runs; WEFT_ECLOSED;
 *           -EINVAL if @loop or @cb is NULL or the time is NaN; -ENOMEM.
 * Suspends: no.  Threads: workers of @loop, or the loop's owner while it
 *           is not running.
 */
WEFT_EXTERN int weft_loop_call_later(weft_loop_t *loop, double delay, weft_callback_fn cb,
                                     void *arg, weft_handle_t **out);
WEFT_EXTERN int weft_loop_call_at(weft_loop_t *loop, double when, weft_callback_fn cb, void *arg,
                                  weft_handle_t **out);

#ifdef __cplusplus
}
#endif
#endif
