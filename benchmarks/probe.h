/*
 * probe.h - what the standalone machine probes share (line_rtt.c,
 * page_touch.c, io/sendfile.c): a monotonic clock and the median of a few batches. Each
 * probe is one C file with no library behind it, so these are static.
 */
#ifndef WEFT_BENCH_PROBE_H
#define WEFT_BENCH_PROBE_H

#include <stdlib.h>
#include <time.h>

static inline double probe_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline int probe_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The median of the @n figures in @v (sorts them). */
static inline double probe_median(double *v, size_t n) {
  qsort(v, n, sizeof *v, probe_cmp_double);
  return v[n / 2];
}

#endif
