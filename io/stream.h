/*
 * stream.h (private) - the object behind a reader/writer pair (stream.c).
 */
#ifndef WEFT_IO_STREAM_PRIV_H
#define WEFT_IO_STREAM_PRIV_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "weft.h"
#include "weft/stream.h"
#include "misuse.h"
#include "amutex.h"
#include "reactor.h"
#include "future.h"

struct weft_reader {
  struct weft__stream *s;
  WEFT__MAGIC /* debug builds: misuse.h */
};
struct weft_writer {
  struct weft__stream *s;
  WEFT__MAGIC
};

/* A growable byte buffer: live bytes are [head, tail). */
struct weft__bytes {
  char *p;
  size_t head, tail, cap;
};

/* How a stream's reads receive (stream.c): undecided until the first
 * read that needs bytes; then ahead through a multishot receive, or one
 * receive per read. */
enum weft__rx_mode { WEFT__RX_UNDECIDED = 0, WEFT__RX_PULL, WEFT__RX_PUSH };

/* sendfile_sock before the first sendfile asked (no errno is INT_MIN). */
#define WEFT__SENDFILE_SOCK_UNKNOWN INT_MIN

struct weft__stream {
  struct weft__amutex lock;   /* unlock is a plain store (amutex.h) */
  _Atomic uint32_t refs;      /* reader, writer, the flusher task while it runs,
                                 the queued send and the multishot receive
                                 while in flight */
  int rfd, wfd;               /* the same fd for a socket; -1 once closed or absent */
  bool is_socket;
  size_t limit;               /* readuntil/readline */

  /* Reader: one task at a time (reading), the rest is that task's. */
  bool reading;               /* under lock (or in the owner section, stream.c):
                                 a read call is in progress */
  bool eof;
  int rerr;                   /* the reader's sticky error: written under lock
                                 (drain and at_eof read it there), read by the
                                 reader, its only writer, without */
  size_t scan;                /* readuntil: bytes already searched for the separator */
  uint64_t rdeadline;         /* the read call's deadline (absolute ns), 0 = none */
  int64_t read_timeout_ns;    /* the bound of reads that give none; 0 = none; set before use */
  struct weft__bytes in;
  struct weft__recv_take in_take; /* a pull receive's buffer, taken from in
                                     when the fd is ready (WEFT__CAP_LAZY_RECV) */
  uint32_t rchunk;            /* a pull receive's size: the first buffer's,
                                 doubled when one fills (stream.c, RECV_CHUNK) */

  /* Receiving ahead (sockets on io_uring: stream.c, "push"): a standing
   * multishot receive copies into rx on the worker where it was started.
   * Under lock, except rx_mode (the reader's alone) and rx_op (the
   * reactor's while in flight). */
  uint8_t rx_mode;            /* enum weft__rx_mode */
  bool rx_inflight;           /* rx_op is in flight (armed, or cancelled and not ended) */
  bool rx_got;                /* some receive delivered bytes */
  bool rx_unsupported;        /* it ended with -EINVAL before any bytes */
  bool rx_bulk;               /* a bulk transfer: reads go back to pulling */
  uint8_t rx_full_run;        /* consecutive completions that filled a buffer */
  bool rx_eof;
  int rx_err;
  struct weft__bytes rx;      /* received, not yet moved to in */
  struct weft__reactor *rx_reactor; /* where rx_op is in flight */
  struct weft_task *rx_waiter;      /* the reader waiting for rx, or NULL */
  uint32_t rx_pauses;         /* times rx passed its bound (tests, dumps) */
  uint32_t rx_restarts;       /* times the kernel ended it and it went on */
  _Atomic uint32_t rx_fired;
  struct weft__io_op rx_op;

  /* Writer: under lock, except tx_op (the reactor's while in flight). */
  struct weft__bytes pending; /* appended by write() */
  struct weft__bytes out;     /* taken by the flusher or the queued send,
                                 sent outside the lock */
  size_t wsize;               /* bytes in pending + out */
  size_t high, low;
  int werr;
  int wfatal;                 /* a socket's failed send (not a cancellation),
                                 which ended the connection for the reader
                                 too (stream.c, send_failed_locked), or a
                                 reset nobody read, found by the close
                                 (take_unread_error_locked); under lock */
  bool flushing;              /* a flusher task runs (until flusher_ended) */
  weft_loop_t *flusher_loop;  /* the loop it was spawned on */
  uint32_t flusher_restarts;  /* flushers that replaced a cancelled one (tests) */
  struct weft__notify flusher_note; /* flusher_ended, on the flusher's future */
  /* The task and slice (its runs count) of the last direct write that
   * queue_write let through: later writes of that slice queue behind it.
   * Only compared, never dereferenced. */
  const struct weft_task *direct_task;
  uint64_t direct_slice;
  bool tx_queued;             /* tx_pre waits for its reactor's next submission */
  bool tx_inflight;           /* tx_op, a send of out, is in flight */
  uint32_t tx_sends;          /* queued sends started (tests, dumps) */
  uint32_t tx_handoffs;       /* what cancelled ones left, taken by a flusher */
  struct weft__reactor *tx_reactor; /* where tx_pre is queued, tx_op in flight */
  weft_loop_t *tx_loop;       /* the loop of that reactor's worker */
  struct weft__io_presubmit tx_pre;
  struct weft__io_op tx_op;
  bool sendfile_active;       /* a weft_writer_sendfile runs: write() refused,
                                 drained waits for an empty buffer, and the
                                 fd stays open and not shut down (a send runs) */
  int sendfile_sock;          /* the socket's weft__sendfile_sock_flags answer,
                                 asked by the first sendfile, which made it
                                 non-blocking: its flags (>= 0, O_NONBLOCK),
                                 its error (< 0), or WEFT__SENDFILE_SOCK_UNKNOWN
                                 until then. Only a running sendfile reads or
                                 writes it (sendfile_active, set and cleared
                                 under lock, orders the calls) */
  bool closing;               /* close()/abort() called */
  bool eof_wanted, eof_done;  /* write_eof() */
  bool close_deferred;        /* the fd closes when the reader and the receive leave */
  weft_loop_t *loop;
  /* The record of the one-worker loop whose task opened the stream (its
   * worker's owner sections, stream.c), or NULL. Immutable; the record
   * outlives the loop (owner.h, invariant 5). */
  struct weft__owner *solo_owner;
  weft_event_t *drained;      /* set while wsize <= low, or the writer failed/closed */
  bool drained_is_set;        /* drained's state, as the stream last made it */
  _Atomic bool drain_ready;   /* drain() may return 0 without the lock:
                                 drained set and nothing drain would report
                                 or yield for (stream.c, drain_ready_locked) */
  weft_event_t *closed;       /* set once the fds are closed */

  struct weft_reader reader;
  struct weft_writer writer;
};

/* The default bound on the reads of @r (a server's read_timeout_ns);
 * called before the reader is used. */
void weft__stream_set_read_timeout(weft_reader_t *r, int64_t timeout_ns);

/* weft_stream_open_fd(@fd, @fd, ...) for an fd the caller knows is a
 * connected stream socket (accepted, connected): without the fstat. Same
 * returns. */
int weft__stream_open_socket(int fd, size_t limit, weft_reader_t **reader, weft_writer_t **writer);

#endif
