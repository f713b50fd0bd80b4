/* bench.h - what the weft-bench workload files share with the driver. */
#ifndef WEFT_BENCH_H
#define WEFT_BENCH_H
#include <weft.h>

extern unsigned workers; /* --workers */
double now_s(void);
/* The _warm variants' untimed first pass (weft_bench.c): @n tasks, all
 * suspended at once, then ended. */
void warm_up(int n);
/* Awaits @ts[0..n) in order and releases each (weft_bench.c). */
void await_all(weft_task_t **ts, long n);
void report(const char *name, long ops, double secs, const char *extra);

/* sync workloads (bench_sync.c) */
int bench_lock_contended(void *arg, void **res);
int bench_lock_contended_fifo(void *arg, void **res);
int bench_lock_contended_barging(void *arg, void **res);
int bench_queue_mpmc(void *arg, void **res);
int bench_semaphore_limit(void *arg, void **res);
int bench_semaphore_limit_warm(void *arg, void **res);
int bench_semaphore_uncontended(void *arg, void **res);
int bench_ping_pong_queue(void *arg, void **res);
int bench_lock_handoff(void *arg, void **res);
int bench_event_broadcast(void *arg, void **res);
/* composition workloads (bench_compose.c) */
int bench_gather_10k(void *arg, void **res);
int bench_taskgroup_10k(void *arg, void **res);
int bench_wait_for_overhead(void *arg, void **res);
/* executors (bench_executor.c) */
int bench_executor_roundtrip(void *arg, void **res);
int bench_gen_pingpong(void *arg, void **res);
int bench_contextvar_spawn(void *arg, void **res);
/* reactor workloads (bench_io.c) */
int bench_nop(void *arg, void **res);
int bench_nop_batch(void *arg, void **res);
int bench_nop_raw(int batch);
int bench_file_randread(void *arg, void **res);
#endif
