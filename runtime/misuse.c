/*
 * misuse.c - the report of a caught misuse (misuse.h): one line on stderr,
 * written with write(2) (it may run where the heap is damaged), then abort.
 */
#include "misuse.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void weft__misuse(const char *what, const char *kind, const char *name) {
  char buf[256];
  size_t n = 0;
  const char *parts[] = {"weft: ", what, " of a ", kind, name ? " '" : "", name ? name : "",
                         name ? "'" : "", " (debug check)\n"};
  for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
    for (const char *p = parts[i]; *p && n < sizeof buf - 1; p++) buf[n++] = *p;
  ssize_t unused = write(STDERR_FILENO, buf, n);
  (void)unused;
  abort();
}
