/*
 * weft/gen.h - generators and async iteration (asyncio's async generators:
 * asend, athrow, aclose, `async for`).
 *
 * A generator is a function run as a task of its own that hands values to
 * its consumer one at a time: it calls weft_gen_yield(), which passes a
 * value out and suspends until the consumer asks for the next one (and
 * may send one in). Between yields it may await anything (sleep, I/O,
 * locks). The consumer may be any task on any worker; one consumer call
 * at a time (-EBUSY otherwise, asyncio's "already running").
 *
 *   static int averager(weft_gen_t *g, void *arg) {       // running average
 *     double total = 0, count = 0, avg = 0, *term;
 *     for (;;) {
 *       int rc = weft_gen_yield(g, &avg, (void **)&term);
 *       if (rc) return rc == WEFT_EGENEXIT ? 0 : rc;      // closed, or thrown in
 *       total += *term; count++; avg = total / count;
 *     }
 *   }
 *
 *   int rc;
 *   double *v;
 *   WEFT_ASYNC_FOR(rc, weft_gen_next(g, (void **)&v)) { use(*v); }
 *   if (rc != WEFT_ESTOP) handle(rc);                      // ended by an error
 *
 * Outcomes of next/send/throw: 0 with the yielded value; WEFT_ESTOP once the
 * generator returned 0 (StopAsyncIteration); the generator's own negative
 * return (an exception propagating out of it; it is closed then).
 *
 * Cancellation: the generator runs on behalf of its consumer, as in
 * asyncio, where it runs inside the consumer's task: a consumer cancelled
 * while the generator works is cancelled inside the generator too (its
 * current suspension point returns -ECANCELED, its first one if it has
 * not begun); the consumer then keeps waiting for the generator's answer.
 * If the generator, cancelled inside, yields a value or returns anyway,
 * the consumer gets that answer and the cancellation is spent (asyncio
 * throws it once). If the generator answered before the cancellation
 * reached it (no suspension point in between, or on another worker while
 * its step ran), it is taken back: the consumer gets the answer and its
 * cancellation stays pending for its next suspension point, as if it had
 * come after the step. A generator left suspended at a yield is
 * closed when its last reference is released, or cancelled when its loop
 * shuts down: either way its yield returns WEFT_EGENEXIT.
 *
 * Ownership: weft_gen_new() gives the caller one reference
 * (weft_gen_release()); the generator's task holds its own while it runs.
 * Thread-safety: consumer calls from any task; weft_gen_yield() only from
 * the generator's own body. Functions marked "Suspends" need a task
 * (-EPERM elsewhere).
 */
#ifndef WEFT_GEN_H
#define WEFT_GEN_H

#include "weft/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_gen weft_gen_t;

/* The generator's body: returns 0 when it is done (WEFT_ESTOP for the
 * consumer), or a negative error code that propagates to the consumer. */
typedef int (*weft_gen_fn)(weft_gen_t *g, void *arg);

/* States, as inspect.getasyncgenstate(). */
enum weft_gen_state {
  WEFT_GEN_CREATED = 0,   /* made, not started: the body has not run */
  WEFT_GEN_RUNNING = 1,   /* the body runs a step (it may be awaiting) */
  WEFT_GEN_SUSPENDED = 2, /* at a yield, waiting for the consumer */
  WEFT_GEN_CLOSED = 3,    /* returned, failed or closed */
};

/**
 * weft_gen_new - a generator of @fn(@g, @arg); nothing runs until the first next/send
 * Return: 0; -EINVAL (@fn or @out NULL); -ENOMEM. Threads: any.
 */
WEFT_EXTERN int weft_gen_new(weft_gen_fn fn, void *arg, weft_gen_t **out);
/** weft_gen_release - drops a reference (NULL: no-op); a generator suspended at a yield is closed. Threads: any. */
WEFT_EXTERN void weft_gen_release(weft_gen_t *g);

/**
 * weft_gen_next - the next value (anext / asend(None))
 * @value: receives the yielded value; may be NULL.
 * Return: 0; WEFT_ESTOP (done); the generator's error; -EBUSY (another
 * consumer call is running); -EPERM (outside a task); -EINVAL; -ENOMEM /
 * -EAGAIN (the generator's task could not be spawned).
 * Suspends: yes.
 */
WEFT_EXTERN int weft_gen_next(weft_gen_t *g, void **value);
/**
 * weft_gen_send - resume the generator with @sent as its yield's result, and take the next value (asend)
 * Return: as weft_gen_next(); -EINVAL for a non-NULL @sent to a generator
 * that has not started (Python's TypeError: nothing waits for it).
 * Suspends: yes.
 */
WEFT_EXTERN int weft_gen_send(weft_gen_t *g, void *sent, void **value);
/**
 * weft_gen_throw - make the generator's pending yield return @err (athrow)
 * @err: a negative error code.
 * Return: as weft_gen_next() (the generator may handle @err and yield
 * again); @err itself if the generator had not started (it is closed);
 * 0 with NULL for a generator already closed (CPython's athrow returns
 * normally then).
 * Suspends: yes.
 */
WEFT_EXTERN int weft_gen_throw(weft_gen_t *g, int err, void **value);
/**
 * weft_gen_close - close the generator (aclose)
 *
 * Its pending yield returns WEFT_EGENEXIT; it may clean up (and await)
 * and must then return. Closing a generator that has not started, or is
 * closed, does nothing.
 * Return: 0; the error the generator returned while closing, other than
 * WEFT_EGENEXIT; WEFT_EINVALSTATE if it yielded again instead of returning
 * (Python's "ignored GeneratorExit"; it stays suspended there); -EBUSY;
 * -EPERM (outside a task). Suspends: yes.
 */
WEFT_EXTERN int weft_gen_close(weft_gen_t *g);
/** weft_gen_state - enum weft_gen_state; -EINVAL for NULL. Threads: any. */
WEFT_EXTERN int weft_gen_state(const weft_gen_t *g);

/**
 * weft_gen_yield - pass @value to the consumer and wait for the next request (the body's `yield`)
 * @sent: receives what weft_gen_send() sent (NULL for weft_gen_next()); may be NULL.
 * Return: 0 (resumed by next or send); the error weft_gen_throw() threw;
 * WEFT_EGENEXIT (the generator is being closed: return now, after any
 * clean-up); -EPERM (not called from @g's own body).
 * Suspends: yes.
 */
WEFT_EXTERN int weft_gen_yield(weft_gen_t *g, void *value, void **sent);

/*
 * WEFT_ASYNC_FOR - `async for` over anything with a next() that returns 0
 * with a value, WEFT_ESTOP at the end, or an error: runs the body while
 * @next_call returns 0; afterwards @rc is WEFT_ESTOP (exhausted) or the
 * error. `break` leaves early (close a generator left early with
 * weft_gen_close(), as `async for` does not do for you in Python either).
 */
#define WEFT_ASYNC_FOR(rc, next_call) for ((rc) = (next_call); (rc) == 0; (rc) = (next_call))

#ifdef __cplusplus
}
#endif

#endif
