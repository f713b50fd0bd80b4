/*
 * page_touch.c - what the first write to a fresh 4 KiB page costs here:
 * the machine fact under every workload that keeps many tasks suspended
 * at once.
 *
 *   weft-page-touch [PAGES]
 *
 * Maps PAGES (default 2048) private anonymous pages (transparent huge
 * pages refused, so every page faults on its own), writes one byte to
 * each, in address order, and unmaps them; five batches, each on a fresh
 * mapping. Then the same with the pages populated first
 * (madvise(MADV_POPULATE_WRITE), Linux 5.14), as weft's stack slabs do for
 * their stacks' top pages (runtime/stack.c), the populate call counted.
 * Prints
 *   RESULT name=page_touch ns_per_page=N populated_ns_per_page=P
 * with N and P the medians of the batches (P is -1 where the kernel
 * refuses the advice).
 *
 * Why a probe of its own: a suspended fiber holds at least the page its
 * stack's top lies in, so a workload that keeps N tasks suspended at once
 * (fork_join, timers and semaphore_limit with one worker, whose asyncio
 * order starts every task before the first one ends) touches N fresh
 * pages, where a stackless runtime touches a few hundred bytes per task.
 * On this development VM a fresh page costs 10-15 us, on bare metal
 * typically well under 1 us, and that one figure decides those
 * workloads' ratios (benchmarks/RESULTS.md, 2026-12-04 01:35Z).
 * benchmarks/report.py prints it in the machine table.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* One batch: ns per page for @pages fresh pages of @ps bytes, populated
 * first if @populate; -1 if mapping fails or the kernel refuses the
 * advice. */
static double batch(long pages, long ps, int populate) {
  size_t len = (size_t)pages * (size_t)ps;
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -1;
  (void)madvise(p, len, MADV_NOHUGEPAGE); /* advice only: a kernel without THP refuses it */
  double t0 = probe_now_ns();
  if (populate && madvise(p, len, MADV_POPULATE_WRITE) != 0) {
    munmap(p, len);
    return -1;
  }
  for (long i = 0; i < pages; i++) ((volatile char *)p)[i * ps] = 1;
  double per = (probe_now_ns() - t0) / (double)pages;
  munmap(p, len);
  return per;
}

static double median(long pages, long ps, int populate) {
  enum { BATCHES = 5 };
  double per[BATCHES];
  for (int b = 0; b < BATCHES; b++)
    if ((per[b] = batch(pages, ps, populate)) < 0) return -1;
  return probe_median(per, BATCHES);
}

int main(int argc, char **argv) {
  long pages = 2048;
  if (argc > 1 && (pages = atol(argv[1])) <= 0) {
    fprintf(stderr, "usage: weft-page-touch [PAGES]\n");
    return 2;
  }
  long ps = sysconf(_SC_PAGESIZE);
  double fresh = median(pages, ps, 0);
  if (fresh < 0) {
    fprintf(stderr, "weft-page-touch: cannot map %ld pages\n", pages);
    return 2;
  }
  printf("RESULT name=page_touch ns_per_page=%.0f populated_ns_per_page=%.0f\n", fresh,
         median(pages, ps, 1));
  return 0;
}
