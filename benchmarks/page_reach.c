/*
 * page_reach.c - what a line costs when every task's line is on a page of
 * its own: the machine fact under ping_pong's and yield_many's ratios
 * with many tasks (the TLB's reach).
 *
 *   weft-page-reach [PAGES]
 *
 * Links one 64-byte line on each of PAGES (default 2,000: ping_pong's
 * 1,000 pairs) private anonymous pages (transparent huge pages refused,
 * written once so none faults later) into one cycle in random order, and
 * times a chain of dependent loads around it (each load's address is the
 * line before's content: no two overlap, so each pays its full latency).
 * Then the same number of lines packed together, 64 to a page. Prints
 *   RESULT name=page_reach pages=N spread_ns_per_load=S packed_ns_per_load=P
 * with S and P the medians of five timings of 4,000,000 loads each.
 *
 * Why a probe of its own: a suspended fiber's hot lines (its saved
 * registers, the frames its switch pops, a waiter node) lie on its
 * stack's top page, one page a task, where a stackless runtime packs a
 * task's state into a few hundred bytes of heap, many tasks a page. So a
 * workload that cycles through N tasks touches N pages per pass, and once
 * N outgrows the TLB every switch pays a page walk (on the AMD EPYC VM of
 * benchmarks/RESULTS.md 2026-12-07 14:00Z: 7 ns a load over 1,000 pages,
 * 23 ns over 2,000, 48 ns over 4,000; packed, 1-4 ns). S - P is that walk;
 * benchmarks/report.py prints both in the machine table.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

enum { LINE = 64, PAGE = 4096, LOADS = 4000000, TIMINGS = 5 };

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) { /* xorshift64 */
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median ns per dependent load around a cycle through @n lines, line
 * i at @base + i * @stride (+ an offset within its page, so that the
 * spread lines do not all map to the same cache sets), in random order;
 * a negative value if memory ran out. */
static double chase(char *base, size_t n, size_t stride) {
  size_t *order = malloc(n * sizeof *order);
  if (!order) return -1;
  for (size_t i = 0; i < n; i++) order[i] = i;
  for (size_t i = n - 1; i > 0; i--) {
    size_t j = (size_t)(next_rand() % (i + 1));
    size_t t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
#define AT(i) (base + (i) * stride + (stride >= PAGE ? ((i) % (PAGE / LINE)) * LINE : 0))
  for (size_t i = 0; i < n; i++) *(char **)AT(order[i]) = AT(order[(i + 1) % n]);
  char *p = AT(order[0]);
#undef AT
  free(order);
  for (size_t i = 0; i < n; i++) p = *(char **)p; /* once around: warm */
  double t[TIMINGS];
  for (int k = 0; k < TIMINGS; k++) {
    double t0 = now_s();
    for (long i = 0; i < LOADS; i++) p = *(char **)p;
    t[k] = (now_s() - t0) * 1e9 / LOADS;
  }
  /* Keeps the chain live (the loads have no other use). */
  if (!p) return -1;
  qsort(t, TIMINGS, sizeof t[0], cmp_double);
  return t[TIMINGS / 2];
}

int main(int argc, char **argv) {
  long pages = argc > 1 ? atol(argv[1]) : 2000;
  if (pages < 2 || pages > 1000000) {
    fprintf(stderr, "weft-page-reach: PAGES must be 2..1000000\n");
    return 2;
  }
  size_t n = (size_t)pages, size = n * PAGE;
  char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    perror("weft-page-reach: mmap");
    return 1;
  }
  (void)madvise(m, size, MADV_NOHUGEPAGE); /* advice: one TLB entry a page, as stacks have */
  for (size_t i = 0; i < size; i += PAGE) m[i] = 1;
  double spread = chase(m, n, PAGE);
  double packed = chase(m, n, LINE);
  munmap(m, size);
  if (spread < 0 || packed < 0) {
    fprintf(stderr, "weft-page-reach: out of memory\n");
    return 1;
  }
  printf("RESULT name=page_reach pages=%zu spread_ns_per_load=%.1f packed_ns_per_load=%.1f\n", n, spread,
         packed);
  return 0;
}
