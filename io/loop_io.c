/*
 * loop_io.c - a loop's I/O state from creation to close (loop_io.h): the
 * reactors of its workers, all on one backend (and the queries that name
 * it), and the one finalizer for everything io/ attaches to a loop.
 */
#include "loop_io.h"
#include "loop.h"
#include "worker.h"
#include "weft.h"

#include <stdlib.h>
#include <string.h>

/* The backend asked for: the config, else $WEFT_IO_BACKEND, else auto. */
static int wanted_backend(int cfg) {
  if (cfg == WEFT_IO_URING) return WEFT__IO_URING;
  if (cfg == WEFT_IO_EPOLL) return WEFT__IO_EPOLL;
  const char *env = getenv("WEFT_IO_BACKEND");
  if (env && strcmp(env, "io_uring") == 0) return WEFT__IO_URING;
  if (env && strcmp(env, "epoll") == 0) return WEFT__IO_EPOLL;
  return WEFT__IO_NONE;
}

int weft__loop_io_init(struct weft_loop *loop, int cfg_backend, unsigned entries,
                       bool one_thread, unsigned recv_bufs) {
  int want = wanted_backend(cfg_backend);
  for (unsigned i = 0; i < loop->nworkers; i++) {
    /* Worker 0 decides (and keeps the reason); the others follow it. */
    char scratch[sizeof loop->io.backend_reason];
    int rc = weft__reactor_init(&loop->workers[i].reactor, want, entries, i > 0 || one_thread,
                                i == 0 ? loop->io.backend_reason : scratch, sizeof scratch);
    if (rc < 0) {
      while (i--) weft__reactor_fini(&loop->workers[i].reactor);
      return rc;
    }
    loop->workers[i].reactor.recv_bufs = recv_bufs;
    if (i == 0) want = loop->workers[0].reactor.ops->id; /* all workers alike */
  }
  return 0;
}

static int quiesce_one(struct weft__worker *w, void *arg) {
  (void)arg;
  weft__reactor_quiesce(&w->reactor);
  return 0;
}

void weft__loop_io_quiesce(struct weft_loop *loop) {
  weft__loop_on_each_worker(loop, quiesce_one, NULL);
}

void weft__loop_io_fini(struct weft_loop *loop) {
  for (unsigned i = 0; i < loop->nworkers; i++) weft__reactor_fini(&loop->workers[i].reactor);
  weft__signals_fini(loop); /* its watch op went with worker 0's reactor */
  weft__registered_fini(loop);
}

const char *weft_loop_backend(const weft_loop_t *loop) {
  if (!loop) return NULL;
  return loop->workers[0].reactor.ops->name;
}

const char *weft_loop_backend_reason(const weft_loop_t *loop) {
  if (!loop) return NULL;
  return loop->io.backend_reason; /* "" unless the first choice failed */
}
