/*
 * stackguard.h (private) - stack overflow reports (stackguard.c).
 */
#ifndef WEFT_RUNTIME_STACKGUARD_H
#define WEFT_RUNTIME_STACKGUARD_H

/* An alternate signal stack a thread set up (NULL mem: it had one, or none
 * could be made). */
struct weft__altstack {
  void *mem;
};

/* Installs the SIGSEGV handler, once per process. Any thread. */
void weft__stackguard_install(void);
/* Gives the calling thread an alternate signal stack unless it has one. */
void weft__stackguard_thread_enter(struct weft__altstack *a);
/* Takes back what weft__stackguard_thread_enter set up. */
void weft__stackguard_thread_exit(struct weft__altstack *a);

#endif
