/*
 * line_rtt.c - how long one cache line takes to go from one CPU to another
 * and back: the machine fact under every multi-worker figure.
 *
 *   weft-line-rtt [ROUND_TRIPS]
 *
 * Two threads, pinned to the first two CPUs this process may use, pass a
 * counter back and forth on one cache line (each waits for the other's
 * store, then stores the next value). Prints
 * "RESULT name=line_rtt cpus=A,B ns_per_round_trip=N" with N the median of
 * 5 batches, or exits with status 2 when fewer than two CPUs are allowed.
 *
 * Why a probe of its own: on a VM the host may place the two vCPUs close
 * (a round trip ~70 ns here) or far apart (~415 ns), and that moves every
 * workload whose threads hand work to each other (executor_roundtrip 0.6
 * or 2.5 us for the same binary; benchmarks/RESULTS.md, 2026-12-03 16:05Z).
 * benchmarks/report.py runs it before and after the runtime workloads and
 * prints both in the machine table. The waits spin by design: the spin is
 * what is measured.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "probe.h"

static struct {
  _Alignas(64) _Atomic long value;
  char pad[56];
} line;

static long round_trips = 200000;
static int cpus[2];

static void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

/* Waits until the line holds @want. acquire: the other side's store. */
static inline void wait_for(long want) {
  while (atomic_load_explicit(&line.value, memory_order_acquire) != want) relax();
}

static void *answerer(void *arg) {
  long batches = (long)arg;
  pin(cpus[1]);
  for (long i = 0; i < batches * round_trips; i++) {
    wait_for(2 * i + 1);
    atomic_store_explicit(&line.value, 2 * i + 2, memory_order_release);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1 && (round_trips = atol(argv[1])) <= 0) {
    fprintf(stderr, "usage: weft-line-rtt [ROUND_TRIPS]\n");
    return 2;
  }
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return 2;
  int n = 0;
  for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
    if (CPU_ISSET(c, &allowed)) cpus[n++] = c;
  if (n < 2) {
    fprintf(stderr, "weft-line-rtt: needs two CPUs\n");
    return 2;
  }
  enum { BATCHES = 5 };
  pthread_t t;
  if (pthread_create(&t, NULL, answerer, (void *)(long)BATCHES) != 0) return 2;
  pin(cpus[0]);
  double per[BATCHES];
  long i = 0;
  for (int b = 0; b < BATCHES; b++) {
    double t0 = probe_now_ns();
    for (long k = 0; k < round_trips; k++, i++) {
      atomic_store_explicit(&line.value, 2 * i + 1, memory_order_release);
      wait_for(2 * i + 2);
    }
    per[b] = (probe_now_ns() - t0) / (double)round_trips;
  }
  pthread_join(t, NULL);
  printf("RESULT name=line_rtt cpus=%d,%d ns_per_round_trip=%.1f\n", cpus[0], cpus[1],
         probe_median(per, BATCHES));
  return 0;
}
