/*
 * invariant.h (private) - invariants that are checked, not only written.
 *
 * A file states its invariants in its head comment and checks them with a
 * static `*_ok()` function, called as WEFT__INVARIANT(x_ok(...)) after each
 * change, under the lock that protects the state (SQLite's
 * assert_pager_state, Tokio's debug_assert!s). The checks are compiled
 * where assert() is: the test, debug and sanitizer builds, which CI runs;
 * release builds (NDEBUG) have none, and the `_ok()` functions are marked
 * unused for them.
 *
 * A check costs O(1): list walks stop after WEFT__CHECK_WALK nodes, so a
 * waitlist of a million tasks is checked as cheaply as one of three.
 */
#ifndef WEFT_RUNTIME_INVARIANT_H
#define WEFT_RUNTIME_INVARIANT_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "list.h"

#ifdef NDEBUG
#define WEFT__INVARIANT(expr) ((void)0)
#else
#define WEFT__INVARIANT(expr) assert(expr)
#endif

/* For the static checkers, unused in NDEBUG builds. */
#define WEFT__CHECKER __attribute__((unused)) static

#define WEFT__CHECK_WALK 64

/* Walks @h's first WEFT__CHECK_WALK nodes: SIZE_MAX if a link is broken
 * (next->prev), else the nodes seen (WEFT__CHECK_WALK: at least that many). */
static inline size_t weft__list_walk(const struct weft__list *h) {
  if (h->prev->next != h) return SIZE_MAX;
  size_t n = 0;
  for (const struct weft__list *p = h; p->next != h && n < WEFT__CHECK_WALK; p = p->next, n++)
    if (p->next->prev != p) return SIZE_MAX;
  return n;
}

/* True if @h is well formed as far as the walk goes. */
static inline bool weft__list_ok(const struct weft__list *h) {
  return weft__list_walk(h) != SIZE_MAX;
}

/* True if @h is well formed and holds @count nodes (exactly when shorter
 * than the walk, at least the walk's length otherwise). */
static inline bool weft__list_count_ok(const struct weft__list *h, size_t count) {
  size_t n = weft__list_walk(h);
  return n != SIZE_MAX && (n < WEFT__CHECK_WALK ? n == count : count >= n);
}

#endif
