/*
 * loop_io.h (private) - a loop's I/O state, owned by io/: the backend
 * choice and its reason, the signal handlers (signal.c) and the registered
 * buffer and file tables (registered.c). The loop holds one of these and
 * calls weft__loop_io_init once at creation and weft__loop_io_fini once at
 * close; it knows nothing else of what is inside.
 *
 * Invariants: every field changes only while the loop is not running (or
 * from the loop's own tasks, for the tables, through on_each_worker).
 */
#ifndef WEFT_IO_LOOP_IO_H
#define WEFT_IO_LOOP_IO_H

#include <stdbool.h>
#include <sys/uio.h>

struct weft_loop;
struct weft__signals;

struct weft__io_state {
  struct weft__signals *signals; /* signal.c; NULL until a handler is added */
  struct iovec *fixed_bufs;      /* registered.c */
  unsigned nfixed_bufs;
  int *fixed_fds;
  unsigned nfixed_fds;
  char backend_reason[160];      /* why io_uring was not used, or "" */
};

/* Sets up every worker's reactor (workers allocated, not started) with the
 * backend @cfg_backend asks for (WEFT_IO_*, else $WEFT_IO_BACKEND, else
 * auto); worker 0 decides and the others follow it. Workers 1..N-1 get
 * reactors for one thread (bound when their threads start); worker 0 too
 * when @one_thread (the loop's owner binds it: only that thread will
 * drive it). @recv_bufs: provided buffers per reactor for receiving
 * ahead (0: none, streams receive per read). Returns 0 or the reactor's
 * error, with nothing left set up. */
int weft__loop_io_init(struct weft_loop *loop, int cfg_backend, unsigned entries,
                       bool one_thread, unsigned recv_bufs);

/* Provided receive buffers per worker when the config says 0. */
#define WEFT__RECV_BUFS_DEFAULT 256u
/* Ends the requests objects keep standing (a stream's multishot receive)
 * on every worker's own thread, delivering their last completions. Once
 * at close, after the last task and before the threads stop. */
void weft__loop_io_quiesce(struct weft_loop *loop);
/* Ends what init and the I/O calls set up: the reactors (no op may be in
 * flight: every task is done), the signal handlers, the registered tables.
 * Once, at close, with the worker threads joined. */
void weft__loop_io_fini(struct weft_loop *loop);

/* The parts, for loop_io.c. */
void weft__registered_fini(struct weft_loop *loop);
void weft__signals_fini(struct weft_loop *loop);

#endif
