/*
 * weft/context.h - task-local context (Python's contextvars).
 *
 * A context variable has a value per context: every task runs in its own
 * context, a copy of its spawner's taken at spawn (asyncio copies the
 * context in create_task), so a value set in a task is seen by the tasks
 * it spawns afterwards and by nobody else. Callbacks scheduled with
 * call_soon/call_later/call_at and done callbacks run in the context that
 * was current when they were scheduled; functions sent to an executor
 * (run_in_executor, to_thread) run in the caller's; the exception handler
 * runs in the failing task's. Code outside any task (a foreign thread, the
 * loop's owner) has one context per thread.
 *
 *   static weft_contextvar_t *request_id;                  // module level
 *   weft_contextvar_new("request_id", 0, NULL, &request_id);
 *   weft_contextvar_set(request_id, (void *)42, NULL);      // in a task
 *   void *id; weft_contextvar_get(request_id, &id);         // 42 here and in its children
 *
 * Copying costs nothing until a variable is set (copy-on-write): a spawn
 * in a context where nothing was set pays one pointer read.
 *
 * Ownership: a context variable lives for the process (as a module-level
 * ContextVar does); there is no destroy. Values are the caller's: weft
 * stores the pointers and never touches what they point to. Contexts from
 * weft_context_copy() are released with weft_context_release().
 * Thread-safety: every function acts on the calling task's (or thread's)
 * current context; nothing here suspends.
 */
#ifndef WEFT_CONTEXT_H
#define WEFT_CONTEXT_H

#include "weft/runtime.h"
#include "weft/task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_contextvar weft_contextvar_t;
typedef struct weft_context weft_context_t;

/* What weft_contextvar_set() hands back for weft_contextvar_reset()
 * (Python's Token): the caller's storage, treated as opaque. */
typedef struct weft_contextvar_token {
  const weft_contextvar_t *var;
  void *old_value;
  int had_value;
  const void *context; /* which context it was made in */
  int used;
} weft_contextvar_token_t;

/**
 * weft_contextvar_new - a context variable (contextvars.ContextVar(name, default=...))
 * @has_default: whether @default_value is returned where the variable has no value.
 * Return: 0; -EINVAL (@name or @out NULL); -ENOMEM. Threads: any.
 */
WEFT_EXTERN int weft_contextvar_new(const char *name, int has_default, void *default_value,
                                    weft_contextvar_t **out);
/** weft_contextvar_name - its name (owned by the variable); NULL for NULL. Threads: any. */
WEFT_EXTERN const char *weft_contextvar_name(const weft_contextvar_t *var);
/**
 * weft_contextvar_get - the variable's value in the current context (ContextVar.get)
 * Return: 0; -ENOENT (no value and no default: Python's LookupError); -EINVAL.
 */
WEFT_EXTERN int weft_contextvar_get(const weft_contextvar_t *var, void **value);
/**
 * weft_contextvar_set - give the variable a value in the current context (ContextVar.set)
 * @token: receives what weft_contextvar_reset() needs; may be NULL.
 * Return: 0; -EINVAL; -ENOMEM (the old value stays).
 */
WEFT_EXTERN int weft_contextvar_set(weft_contextvar_t *var, void *value,
                                    weft_contextvar_token_t *token);
/**
 * weft_contextvar_reset - put the variable back as it was before the set that made @token (ContextVar.reset)
 * Return: 0; WEFT_EINVALSTATE (@token already used: Python's RuntimeError);
 * -EXDEV (made in another context: Python's ValueError); -EINVAL; -ENOMEM.
 */
WEFT_EXTERN int weft_contextvar_reset(weft_contextvar_token_t *token);

/**
 * weft_context_copy - a copy of the current context (contextvars.copy_context)
 * Return: 0; -EINVAL; -ENOMEM.
 */
WEFT_EXTERN int weft_context_copy(weft_context_t **out);
/**
 * weft_context_run - call @fn(@arg, @result) with @ctx as the current context (Context.run)
 *
 * Values set by @fn go into @ctx and stay there; the caller's context is
 * back afterwards.
 * Return: @fn's return; -EBUSY (@ctx is being run already: Python's
 * RuntimeError); -EINVAL.
 */
WEFT_EXTERN int weft_context_run(weft_context_t *ctx, weft_task_fn fn, void *arg, void **result);
/** weft_context_get - @var's value in @ctx (ctx[var]); as weft_contextvar_get(). Threads: any, not while @ctx is being run elsewhere. */
WEFT_EXTERN int weft_context_get(const weft_context_t *ctx, const weft_contextvar_t *var,
                                 void **value);
/** weft_context_release - frees a context from weft_context_copy() (NULL: no-op); not while it is being run. Threads: any. */
WEFT_EXTERN void weft_context_release(weft_context_t *ctx);

#ifdef __cplusplus
}
#endif

#endif
