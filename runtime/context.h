/*
 * context.h (private) - the current context's map (context.c) for the
 * places that capture and restore it: spawn, callbacks, executor jobs, the
 * exception handler.
 */
#ifndef WEFT_RUNTIME_CONTEXT_H
#define WEFT_RUNTIME_CONTEXT_H

struct weft__ctx_map; /* immutable, reference-counted; NULL is the empty context */

/* A reference to the current map (NULL, and no cost, when nothing was set). */
struct weft__ctx_map *weft__ctx_capture(void);
void weft__ctx_release(struct weft__ctx_map *m);
/* Makes @m (borrowed) current for the calling code until weft__ctx_leave
 * (callbacks, executor functions, the exception handler). Returns what to
 * pass to weft__ctx_leave. */
struct weft__ctx_map *weft__ctx_enter(struct weft__ctx_map *m);
void weft__ctx_leave(struct weft__ctx_map *saved);

#endif
