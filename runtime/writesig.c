/*
 * writesig.c - SIGPIPE and SIGXFSZ blocked on weft's threads (see
 * writesig.h for why and for the invariants).
 */
#include "writesig.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

void weft__writesig_add(sigset_t *set) {
  sigaddset(set, SIGPIPE);
  sigaddset(set, SIGXFSZ);
}

sigset_t weft__writesig_block(void) {
  sigset_t both, old, blocked;
  sigemptyset(&both);
  weft__writesig_add(&both);
  sigemptyset(&blocked);
  if (pthread_sigmask(SIG_BLOCK, &both, &old) != 0) return blocked;
  if (!sigismember(&old, SIGPIPE)) sigaddset(&blocked, SIGPIPE);
  if (!sigismember(&old, SIGXFSZ)) sigaddset(&blocked, SIGXFSZ);
  return blocked;
}

void weft__writesig_take_back(int sig) {
  int saved = errno;
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  const struct timespec now = {0, 0};
  /* One call whether or not one is pending (EAGAIN: none). */
  while (sigtimedwait(&one, NULL, &now) < 0 && errno == EINTR) {
  }
  errno = saved;
}

void weft__writesig_restore(const sigset_t *blocked) {
  if (sigismember(blocked, SIGPIPE)) weft__writesig_take_back(SIGPIPE);
  if (sigismember(blocked, SIGXFSZ)) weft__writesig_take_back(SIGXFSZ);
  if (sigismember(blocked, SIGPIPE) || sigismember(blocked, SIGXFSZ))
    pthread_sigmask(SIG_UNBLOCK, blocked, NULL);
}
