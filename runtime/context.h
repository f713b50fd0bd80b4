/*
 * context.h (private) - the current context's map (context.c) for the
 * places that capture and restore it: spawn, callbacks, executor jobs, the
 * exception handler.
 */
#ifndef WEFT_RUNTIME_CONTEXT_H
#define WEFT_RUNTIME_CONTEXT_H

struct weft__ctx_map; /* immutable, reference-counted; NULL is the empty context */

/* A reference to the current map (NULL when nothing was set). */
struct weft__ctx_map *weft__ctx_capture(void);

/* Out of line, for a map that is not NULL: take and drop a reference. */
void weft__ctx_hold(struct weft__ctx_map *m);
void weft__ctx_drop(struct weft__ctx_map *m);

/* Another reference to @m, of which the caller holds one (a task's own
 * map, say); NULL, the empty context, costs no call. */
static inline struct weft__ctx_map *weft__ctx_ref(struct weft__ctx_map *m) {
  if (m) weft__ctx_hold(m);
  return m;
}
/* Drops a reference; NULL costs no call. */
static inline void weft__ctx_release(struct weft__ctx_map *m) {
  if (m) weft__ctx_drop(m);
}
/* Makes @m (borrowed) current for the calling code until weft__ctx_leave
 * (callbacks, executor functions, the exception handler). Returns what to
 * pass to weft__ctx_leave. */
struct weft__ctx_map *weft__ctx_enter(struct weft__ctx_map *m);
void weft__ctx_leave(struct weft__ctx_map *saved);

#endif
