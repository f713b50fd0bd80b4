/*
 * misuse.h (private) - catching double releases, double destroys and uses
 * after free in debug builds (cmake -DWEFT_DEBUG_CHECKS=ON; on in the
 * sanitizer builds and in `make test`'s build).
 *
 * Objects users release or destroy (futures and tasks, handles, streams,
 * the sync/ objects) carry a magic word while alive. Release and destroy
 * check it and abort with the object's kind if it is not LIVE: the object
 * was released or destroyed already (its memory may be reused since, so
 * the check is best-effort; ASan, where the memory is quarantined or, for
 * recycled tasks, poisoned, reports the access itself). Freeing stamps the
 * word DEAD. In release builds the word and the checks do not exist.
 */
#ifndef WEFT_RUNTIME_MISUSE_H
#define WEFT_RUNTIME_MISUSE_H

#include <stdint.h>

/* Prints "weft: <what> of a <kind>[ '<name>']" and aborts. Any thread. */
_Noreturn void weft__misuse(const char *what, const char *kind, const char *name);

#if defined(WEFT_DEBUG_CHECKS)
#define WEFT__MAGIC uint32_t magic;
#define WEFT__MAGIC_LIVE 0x7765667au
#define WEFT__MAGIC_DEAD 0xdeadf1b7u
#define weft__magic_live(o) ((o)->magic = WEFT__MAGIC_LIVE)
#define weft__magic_dead(o) ((o)->magic = WEFT__MAGIC_DEAD)
#define weft__magic_check(o, what, kind)                                                       \
  do {                                                                                          \
    if ((o)->magic != WEFT__MAGIC_LIVE) weft__misuse(what, kind, 0);                           \
  } while (0)
#else
#define WEFT__MAGIC
#define weft__magic_live(o) ((void)0)
#define weft__magic_dead(o) ((void)0)
#define weft__magic_check(o, what, kind) ((void)0)
#endif

#endif
