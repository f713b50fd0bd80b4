/*
 * context.c - context variables (weft/context.h).
 *
 * A context is an immutable map from variables to values (struct
 * weft__ctx_map, reference-counted; NULL is the empty map). "Setting" a
 * variable makes a new map and puts it in the current slot: the running
 * task's ctx_map field, or, outside tasks, a thread-local slot. So copying
 * a context (at spawn, when a callback is scheduled, when a function goes
 * to an executor) is taking a reference to the map: nothing is copied
 * until somebody sets something (copy-on-write, as CPython's HAMT; our
 * maps are small arrays, copied whole on a set: contexts hold a handful
 * of variables).
 *
 * Invariants: a map never changes after it was published; every slot and
 * every capture owns one reference to its map; a weft_context_t is run by
 * at most one caller at a time (entered).
 */
#include "weft.h"
#include "weft/context.h"
#include "alloc.h"
#include "context.h"
#include "task.h"
#include "tls.h"

#include <errno.h>

struct weft__ctx_entry {
  const struct weft_contextvar *var;
  void *value;
};

struct weft__ctx_map {
  _Atomic unsigned refs;
  unsigned n;
  struct weft__ctx_entry e[];
};

struct weft_contextvar {
  char *name;
  bool has_default;
  void *def;
};

struct weft_context {
  struct weft__ctx_map *map; /* owned */
  _Atomic bool entered;
};

/* Outside tasks: this thread's current map (callbacks, pool threads,
 * foreign threads). */
static WEFT__TLS struct weft__ctx_map *thread_map;

static struct weft__ctx_map **current_slot(void) {
  struct weft_task *t = weft__task_self();
  return t ? &t->ctx_map : &thread_map;
}

void weft__ctx_hold(struct weft__ctx_map *m) {
  /* relaxed: taking a reference needs no ordering; the caller holds one. */
  atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void weft__ctx_drop(struct weft__ctx_map *m) {
  /* acq_rel: the last releaser sees the map as it was published. */
  if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
    weft__free(m, sizeof *m + m->n * sizeof m->e[0]);
}

struct weft__ctx_map *weft__ctx_capture(void) { return weft__ctx_ref(*current_slot()); }

struct weft__ctx_map *weft__ctx_enter(struct weft__ctx_map *m) {
  struct weft__ctx_map **slot = current_slot();
  struct weft__ctx_map *saved = *slot;
  *slot = weft__ctx_ref(m);
  return saved;
}

void weft__ctx_leave(struct weft__ctx_map *saved) {
  struct weft__ctx_map **slot = current_slot();
  weft__ctx_release(*slot); /* what the code in between left there */
  *slot = saved;
}

static const struct weft__ctx_entry *lookup(const struct weft__ctx_map *m,
                                            const struct weft_contextvar *var) {
  for (unsigned i = 0; m && i < m->n; i++)
    if (m->e[i].var == var) return &m->e[i];
  return NULL;
}

/* @m with @var set to @value (or removed, @present false): a new map. */
static int with(const struct weft__ctx_map *m, const struct weft_contextvar *var, bool present,
                void *value, struct weft__ctx_map **out) {
  unsigned n = m ? m->n : 0;
  unsigned k = n - (lookup(m, var) ? 1u : 0u) + (present ? 1u : 0u);
  if (k == 0) { /* the empty map is NULL */
    *out = NULL;
    return 0;
  }
  struct weft__ctx_map *nm = weft__alloc(sizeof *nm + k * sizeof nm->e[0]);
  if (!nm) return -ENOMEM;
  unsigned j = 0;
  for (unsigned i = 0; i < n; i++)
    if (m->e[i].var != var) nm->e[j++] = m->e[i];
  if (present) nm->e[j++] = (struct weft__ctx_entry){var, value};
  nm->n = k;
  atomic_init(&nm->refs, 1);
  *out = nm;
  return 0;
}

int weft_contextvar_new(const char *name, int has_default, void *default_value,
                        weft_contextvar_t **out) {
  if (!name || !out) return -EINVAL;
  struct weft_contextvar *v = weft__alloc(sizeof *v);
  if (!v) return -ENOMEM;
  if (!(v->name = weft__strdup(name))) {
    weft__free(v, sizeof *v);
    return -ENOMEM;
  }
  v->has_default = has_default != 0;
  v->def = default_value;
  *out = v;
  return 0;
}

const char *weft_contextvar_name(const weft_contextvar_t *var) { return var ? var->name : NULL; }

static int get_in(const struct weft__ctx_map *m, const struct weft_contextvar *var, void **value) {
  if (!var || !value) return -EINVAL;
  const struct weft__ctx_entry *e = lookup(m, var);
  if (e) {
    *value = e->value;
    return 0;
  }
  if (!var->has_default) return -ENOENT;
  *value = var->def;
  return 0;
}

int weft_contextvar_get(const weft_contextvar_t *var, void **value) {
  return get_in(*current_slot(), var, value);
}

int weft_contextvar_set(weft_contextvar_t *var, void *value, weft_contextvar_token_t *token) {
  if (!var) return -EINVAL;
  struct weft__ctx_map **slot = current_slot();
  const struct weft__ctx_entry *old = lookup(*slot, var);
  struct weft__ctx_map *nm;
  int rc = with(*slot, var, true, value, &nm);
  if (rc) return rc;
  if (token)
    *token = (weft_contextvar_token_t){.var = var, .old_value = old ? old->value : NULL,
                                        .had_value = old != NULL, .context = slot, .used = 0};
  weft__ctx_release(*slot);
  *slot = nm;
  return 0;
}

int weft_contextvar_reset(weft_contextvar_token_t *token) {
  if (!token || !token->var) return -EINVAL;
  if (token->used) return WEFT_EINVALSTATE;
  struct weft__ctx_map **slot = current_slot();
  if (token->context != (const void *)slot) return -EXDEV;
  struct weft__ctx_map *nm;
  int rc = with(*slot, token->var, token->had_value, token->old_value, &nm);
  if (rc) return rc;
  weft__ctx_release(*slot);
  *slot = nm;
  token->used = 1;
  return 0;
}

int weft_context_copy(weft_context_t **out) {
  if (!out) return -EINVAL;
  struct weft_context *c = weft__alloc(sizeof *c);
  if (!c) return -ENOMEM;
  c->map = weft__ctx_capture();
  atomic_init(&c->entered, false);
  *out = c;
  return 0;
}

int weft_context_run(weft_context_t *ctx, weft_task_fn fn, void *arg, void **result) {
  if (!ctx || !fn) return -EINVAL;
  /* acq_rel: the previous run's map is visible to this one. */
  if (atomic_exchange_explicit(&ctx->entered, true, memory_order_acq_rel)) return -EBUSY;
  struct weft__ctx_map **slot = current_slot();
  struct weft__ctx_map *saved = *slot;
  *slot = ctx->map; /* the context's reference moves into the slot ... */
  void *ignored;
  int rc = fn(arg, result ? result : &ignored);
  slot = current_slot(); /* the same slot: fn returned on this task or thread */
  ctx->map = *slot;      /* ... and back, with what fn set */
  *slot = saved;
  atomic_store_explicit(&ctx->entered, false, memory_order_release);
  return rc;
}

int weft_context_get(const weft_context_t *ctx, const weft_contextvar_t *var, void **value) {
  if (!ctx) return -EINVAL;
  return get_in(ctx->map, var, value);
}

void weft_context_release(weft_context_t *ctx) {
  if (!ctx) return;
  weft__ctx_release(ctx->map);
  weft__free(ctx, sizeof *ctx);
}
