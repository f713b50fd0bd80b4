/*
 * named.h - the optional name of a sync object (Lock, Event, Condition,
 * Semaphore, Barrier, Queue) that task dumps show (weft/debug.h).
 *
 * Invariant: the name is a string with static storage (not copied), so a
 * reader that loaded the pointer may read the string at any time; the
 * pointer itself is read and written with relaxed atomics (any thread).
 * Each object's wait notes the name with the task's wait
 * (weft__task_blocked_named), so the dump never dereferences the object.
 */
#ifndef WEFT_SYNC_NAMED_H
#define WEFT_SYNC_NAMED_H
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

static inline int weft__name_set(_Atomic(const char *) *slot, const char *name) {
  atomic_store_explicit(slot, name, memory_order_relaxed);
  return 0;
}

static inline const char *weft__name_get(_Atomic(const char *) *slot) {
  return atomic_load_explicit(slot, memory_order_relaxed);
}
#endif
