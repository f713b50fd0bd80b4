/*
 * taskgroup.h - what the runtime's tests see of TaskGroup's inside
 * (taskgroup.c; the public API is weft/compose.h).
 *
 * Invariant the hook exists to test: after leave began, balance reaches 0
 * once, by the entry of the last child to end; a spawn from then on is
 * refused with WEFT_ECLOSED, also in the window between that entry's
 * count and its taking of the group's mutex.
 */
#ifndef WEFT_RUNTIME_TASKGROUP_H
#define WEFT_RUNTIME_TASKGROUP_H

struct weft_taskgroup;

/* Tests only (test_taskgroup.c): called by the last child's count after
 * leave began, after its count and before it takes the group's mutex to
 * wake the owner; on the child's worker, possibly under the child's own
 * lock (the lock order allows the group's mutex, not another task's
 * lock). NULL otherwise. */
extern void (*weft__taskgroup_last_out_hook)(struct weft_taskgroup *g);

#endif
