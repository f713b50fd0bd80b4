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
 * Then a third figure: a batch of pages written once, written again after
 * the kernel made page tables outside a fault (MADV_POPULATE_WRITE on one
 * page in each of 16 fresh 2 MiB spans). Prints
 *   RESULT name=page_touch ns_per_page=N populated_ns_per_page=P refault_ns_per_page=R
 * with N, P and R the medians of the batches (P and R are -1 where the
 * kernel refuses the advice). R is a few ns on bare metal and under
 * hardware-assisted paging; under a shadow-paging hypervisor (PVM, as on
 * the development VM; nested virtualization without EPT) it is a fault's
 * worth: page tables the kernel makes outside a fault drop the process's
 * shadow mappings, so every page it had touched faults again on its next
 * touch. weft's stack slabs make their page tables by faults for that
 * reason (runtime/stack.c, fault_page_tables; RESULTS.md 2026-12-04 09:30Z).
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

/* One batch of the third figure: ns per page for writing @pages pages of
 * @ps bytes again, after the kernel made page tables for 16 fresh 2 MiB
 * spans by MADV_POPULATE_WRITE; -1 if mapping fails or the kernel refuses
 * the advice. */
static double refault(long pages, long ps) {
  enum { SPANS = 16 };
  const size_t span = (size_t)2 << 20;
  size_t len = (size_t)pages * (size_t)ps, far_len = (SPANS + 1) * span;
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -1;
  char *far = mmap(NULL, far_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (far == MAP_FAILED) {
    munmap(p, len);
    return -1;
  }
  (void)madvise(p, len, MADV_NOHUGEPAGE);
  (void)madvise(far, far_len, MADV_NOHUGEPAGE);
  for (long i = 0; i < pages; i++) ((volatile char *)p)[i * ps] = 1;
  char *first = (char *)(((unsigned long)far + span - 1) & ~(unsigned long)(span - 1));
  double per = -1;
  int refused = 0;
  for (int s = 0; s < SPANS && !refused; s++)
    refused = madvise(first + (size_t)s * span, (size_t)ps, MADV_POPULATE_WRITE) != 0;
  if (!refused) {
    double t0 = probe_now_ns();
    for (long i = 0; i < pages; i++) ((volatile char *)p)[i * ps] = 2;
    per = (probe_now_ns() - t0) / (double)pages;
  }
  munmap(far, far_len);
  munmap(p, len);
  return per;
}

/* The median of five batches: fresh pages (@kind 0), populated first (1),
 * or written again after kernel-made page tables (2, refault). */
static double median(long pages, long ps, int kind) {
  enum { BATCHES = 5 };
  double per[BATCHES];
  for (int b = 0; b < BATCHES; b++)
    if ((per[b] = kind == 2 ? refault(pages, ps) : batch(pages, ps, kind)) < 0) return -1;
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
  double populated = median(pages, ps, 1);
  printf("RESULT name=page_touch ns_per_page=%.0f populated_ns_per_page=%.0f refault_ns_per_page=%.0f\n",
         fresh, populated, median(pages, ps, 2));
  return 0;
}
