/*
 * sigpipe.c - SIGPIPE blocked on worker threads (see sigpipe.h for why
 * and for the invariants).
 */
#include "sigpipe.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

static void pipe_only(sigset_t *set) {
  sigemptyset(set);
  sigaddset(set, SIGPIPE);
}

bool weft__sigpipe_block(void) {
  sigset_t one, old;
  pipe_only(&one);
  if (pthread_sigmask(SIG_BLOCK, &one, &old) != 0) return false;
  return sigismember(&old, SIGPIPE) == 0;
}

void weft__sigpipe_take_back(void) {
  int saved = errno;
  sigset_t one;
  pipe_only(&one);
  const struct timespec now = {0, 0};
  /* One call whether or not one is pending (EAGAIN: none). */
  while (sigtimedwait(&one, NULL, &now) < 0 && errno == EINTR) {
  }
  errno = saved;
}

void weft__sigpipe_restore(bool blocked) {
  if (!blocked) return;
  weft__sigpipe_take_back();
  sigset_t one;
  pipe_only(&one);
  pthread_sigmask(SIG_UNBLOCK, &one, NULL);
}
