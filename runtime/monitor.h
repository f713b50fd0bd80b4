/*
 * monitor.h (private) - a loop's monitor thread: the stall detector and
 * the dump signal (weft/debug.h).
 *
 * The thread starts with the loop's first run (or when a threshold is set
 * on a running loop) and is joined at close. It samples the workers while
 * any of them is busy (not parked, in a run) and sleeps on a futex
 * otherwise: an idle program has no periodic wake-ups. Workers tell it
 * when they park and wake (one atomic add each, on a path that makes a
 * system call anyway).
 */
#ifndef WEFT_RUNTIME_MONITOR_H
#define WEFT_RUNTIME_MONITOR_H

#include <stdbool.h>
#include <stdint.h>

struct weft_loop;
struct weft_loop_config;

/* Sets up @loop's monitor from @cfg (no thread yet): 0, -EINVAL, -EBUSY
 * (dump signal taken) or -ENOMEM. */
int weft__monitor_init(struct weft_loop *loop, const struct weft_loop_config *cfg);
/* Starts the thread if the loop needs one and it is not running (owner). */
int weft__monitor_start(struct weft_loop *loop);
/* Joins the thread and gives the dump signal back (close): nothing starts
 * it again. The monitor's memory stays until the loop's goes, so the
 * functions of weft/debug.h stay safe on a closed loop someone holds. */
void weft__monitor_stop(struct weft_loop *loop);
void weft__monitor_free(struct weft_loop *loop);

/* A worker entering a run or leaving a park (busy), and the reverse. */
void weft__monitor_worker_wakes(struct weft_loop *loop);
void weft__monitor_worker_parks(struct weft_loop *loop);

/* Stall reports made, for weft_loop_stats. */
void weft__monitor_counts(struct weft_loop *loop, uint64_t *stalls, uint64_t *backlogs);

#endif
