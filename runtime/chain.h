/*
 * chain.h - an intrusive doubly linked list whose head is one pointer.
 *
 * For heads embedded in many small objects: a future's done entries, in
 * every future and every task handle (task.h: the 128-byte handle). The
 * head holds the first node (NULL: empty); the nodes form a circular ring,
 * so the last one is first->prev and appending stays O(1), as does
 * unlinking any node. 8 bytes a head where list.h's sentinel takes 16.
 *
 * Invariants: a node in a chain has next and prev non-NULL and
 * next->prev == itself; a node in no chain is "detached", next == prev ==
 * NULL (zero-initialized, weft__chain_node_init, or after weft__chain_del),
 * so weft__chain_linked() tells the two apart. The node type is not list.h's,
 * so a node of one kind cannot be linked into, or initialized as, the other.
 * Nothing here is thread-safe: every chain names the lock that protects it.
 */
#ifndef WEFT_RUNTIME_CHAIN_H
#define WEFT_RUNTIME_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct weft__chain_node {
  struct weft__chain_node *next, *prev;
};

struct weft__chain {
  struct weft__chain_node *first; /* NULL: empty */
};

static inline void weft__chain_init(struct weft__chain *c) { c->first = NULL; }
static inline bool weft__chain_empty(const struct weft__chain *c) { return c->first == NULL; }
static inline void weft__chain_node_init(struct weft__chain_node *n) { n->next = n->prev = NULL; }
static inline bool weft__chain_linked(const struct weft__chain_node *n) { return n->next != NULL; }

static inline void weft__chain_add_tail(struct weft__chain *c, struct weft__chain_node *n) {
  struct weft__chain_node *f = c->first;
  if (!f) {
    n->next = n->prev = n;
    c->first = n;
    return;
  }
  n->prev = f->prev;
  n->next = f;
  f->prev->next = n;
  f->prev = n;
}

/* Unlinks @n, which is in @c, and leaves it detached. */
static inline void weft__chain_del(struct weft__chain *c, struct weft__chain_node *n) {
  if (n->next == n) {
    c->first = NULL;
  } else {
    n->prev->next = n->next;
    n->next->prev = n->prev;
    if (c->first == n) c->first = n->next;
  }
  n->next = n->prev = NULL;
}

/* Unlinks and returns @c's first node (detached), or NULL if it is empty. */
static inline struct weft__chain_node *weft__chain_pop(struct weft__chain *c) {
  struct weft__chain_node *n = c->first;
  if (n) weft__chain_del(c, n);
  return n;
}

/* The node after @n in @c, or NULL after the last. */
static inline struct weft__chain_node *weft__chain_next(const struct weft__chain *c,
                                                        const struct weft__chain_node *n) {
  return n->next == c->first ? NULL : n->next;
}

/* Walks @c's first @limit nodes: SIZE_MAX if a link is broken (a NULL
 * link, or next->prev not the node), else the nodes seen (@limit: at
 * least that many). For the invariant checks (invariant.h). */
static inline size_t weft__chain_walk(const struct weft__chain *c, size_t limit) {
  const struct weft__chain_node *f = c->first;
  if (!f) return 0;
  if (!f->prev || f->prev->next != f) return SIZE_MAX;
  size_t n = 0;
  const struct weft__chain_node *p = f;
  do {
    if (!p->next || p->next->prev != p) return SIZE_MAX;
    p = p->next;
    n++;
  } while (p != f && n < limit);
  return n;
}

#endif
