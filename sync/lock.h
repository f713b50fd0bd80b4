/* lock.h (private) - what cond.c needs from lock.c. */
#ifndef WEFT_SYNC_LOCK_H
#define WEFT_SYNC_LOCK_H
#include <stdbool.h>
#include "weft.h"
#include "waitlist.h"
int weft__lock_acquire_mode(struct weft_lock *l, int64_t timeout_ns, enum weft__wait_mode mode);
bool weft__lock_owned(struct weft_lock *l);
#endif
