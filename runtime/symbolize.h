/*
 * symbolize.h (private) - code addresses to "function+0xoff (module)".
 *
 * Reads the ELF symbol tables of the loaded objects (.symtab when the file
 * has one, so static functions have names; .dynsym otherwise), found with
 * dl_iterate_phdr; each object's table is loaded once, sorted, and kept for
 * the life of the process. No dependency beyond libc, no child process.
 * Not async-signal-safe: the dump symbolizes on the monitor thread or the
 * caller's, never in a signal handler.
 */
#ifndef WEFT_RUNTIME_SYMBOLIZE_H
#define WEFT_RUNTIME_SYMBOLIZE_H

#include <stddef.h>

/* Writes a readable name for @addr into @buf (always NUL-terminated):
 * "fn+0x1a (libweft.so.0)", or "0x7f.. (module)" when no symbol covers it.
 * @is_return: @addr is a return address (looked up at @addr - 1, inside
 * the call, so a call that ends a function still names it). */
void weft__symbolize(const void *addr, int is_return, char *buf, size_t len);

/* How many of @frames[0..n) to keep: up to the first that is not in an
 * executable segment of a loaded object (a walk through code without
 * frame pointers, from a signal, can read a bogus one). */
size_t weft__frames_valid(void *const *frames, size_t n);

/* Whether @ret looks like a return address: inside an executable segment
 * of a loaded object, right after a call instruction. */
int weft__is_return_address(const void *ret);

#endif
