/*
 * writesig.c - SIGPIPE and SIGXFSZ blocked on weft's threads (see
 * writesig.h for why and for the invariants).
 */
#include "writesig.h"

#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <time.h>

/* The signals, in one place. */
static const int write_signals[] = {SIGPIPE, SIGXFSZ};
#define NSIGS (sizeof write_signals / sizeof write_signals[0])

void weft__writesig_add(sigset_t *set) {
  for (unsigned i = 0; i < NSIGS; i++) sigaddset(set, write_signals[i]);
}

sigset_t weft__writesig_block(void) {
  sigset_t all, old, blocked;
  sigemptyset(&all);
  weft__writesig_add(&all);
  sigemptyset(&blocked);
  if (pthread_sigmask(SIG_BLOCK, &all, &old) != 0) return blocked;
  for (unsigned i = 0; i < NSIGS; i++)
    if (!sigismember(&old, write_signals[i])) sigaddset(&blocked, write_signals[i]);
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
  bool any = false;
  for (unsigned i = 0; i < NSIGS; i++) {
    if (!sigismember(blocked, write_signals[i])) continue;
    weft__writesig_take_back(write_signals[i]);
    any = true;
  }
  if (any) pthread_sigmask(SIG_UNBLOCK, blocked, NULL);
}
