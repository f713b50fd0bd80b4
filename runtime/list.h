/*
 * list.h - the one intrusive doubly linked list (Linux list.h, libuv queue.h).
 *
 * A list head is a sentinel node; an empty list points at itself. Nodes are
 * embedded in the objects they link and recovered with weft__container_of.
 * A node not in any list is "detached" (next == prev == itself after
 * weft__list_del_init, or zeroed before first use: weft__list_linked() is
 * false for both). Nothing here is thread-safe: every list names the lock
 * that protects it where it is declared.
 */
#ifndef WEFT_RUNTIME_LIST_H
#define WEFT_RUNTIME_LIST_H

#include <stdbool.h>
#include <stddef.h>

#define weft__container_of(ptr, type, member) \
  ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct weft__list {
  struct weft__list *next, *prev;
};

static inline void weft__list_init(struct weft__list *h) { h->next = h->prev = h; }
static inline bool weft__list_empty(const struct weft__list *h) { return h->next == h; }
static inline bool weft__list_linked(const struct weft__list *n) {
  return n->next != NULL && n->next != n;
}

static inline void weft__list_add_tail(struct weft__list *h, struct weft__list *n) {
  n->prev = h->prev;
  n->next = h;
  h->prev->next = n;
  h->prev = n;
}

static inline void weft__list_del_init(struct weft__list *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->next = n->prev = n;
}

/* Moves every node of @from to the end of @to; @from becomes empty. */
static inline void weft__list_splice_tail(struct weft__list *to, struct weft__list *from) {
  if (weft__list_empty(from)) return;
  from->next->prev = to->prev;
  to->prev->next = from->next;
  from->prev->next = to;
  to->prev = from->prev;
  weft__list_init(from);
}

#define weft__list_for_each_safe(pos, tmp, head) \
  for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); (pos) = (tmp), (tmp) = (pos)->next)

#endif
