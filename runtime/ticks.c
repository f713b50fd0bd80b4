/*
 * ticks.c - choosing the accounting clock and converting it (ticks.h).
 *
 * The TSC is used only where the kernel's clocksource is "tsc" (read from
 * sysfs once): that is the kernel's own verdict that the counter is
 * invariant and synchronized. Its frequency is not published to user space
 * portably, so the conversion measures it: the ratio of CLOCK_MONOTONIC to
 * TSC elapsed since weft__ticks_init, taken at each conversion (reads are
 * rare: stats and dumps). After 10 ms the ratio is exact to ~1e-5; earlier
 * conversions are rougher but never wild (the clock reads' own cost bounds
 * the error).
 *
 * The cost of one read is measured once too (weft__ticks_read_ns): the
 * accounting's default sampling period follows it (loop.c), because the
 * same counter costs 11 ns where it is the TSC and ~26 where the kernel
 * keeps time with kvm-clock (a KVM guest told tsc=unstable).
 */
#include "ticks.h"

#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

_Atomic bool weft__ticks_tsc;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static uint64_t base_ticks, base_ns; /* written once under `once` */
static uint32_t read_ns;               /* written once under `once` */

static bool kernel_uses_tsc(void) {
#if defined(__x86_64__)
  int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource",
                O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[16] = {0};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n >= 3 && strncmp(buf, "tsc", 3) == 0 && (n == 3 || buf[3] == '\n');
#else
  return false;
#endif
}

/* The cost of one weft__ticks() in ns (at least 1): the fastest of four
 * batches of 64 reads (~7 us in all with clock_gettime), so that an
 * interrupt or a preemption during one batch does not count. A machine
 * busy enough to slow all four only makes the figure, and so the
 * sampling period, larger. */
static uint32_t measure_read_ns(void) {
  enum { BATCHES = 4, READS = 64 };
  uint64_t best = UINT64_MAX;
  for (int b = 0; b < BATCHES; b++) {
    uint64_t sink = 0, t0 = weft__clock_ns();
    for (int i = 0; i < READS; i++) sink += weft__ticks();
    uint64_t dt = weft__clock_ns() - t0;
    __asm__ volatile("" : : "r"(sink)); /* the reads are not optimized away */
    if (dt < best) best = dt;
  }
  uint64_t ns = (best + READS / 2) / READS;
  return ns ? (uint32_t)(ns < UINT32_MAX ? ns : UINT32_MAX) : 1u;
}

static void init_once(void) {
  atomic_store_explicit(&weft__ticks_tsc, kernel_uses_tsc(), memory_order_relaxed);
  read_ns = measure_read_ns();
  base_ns = weft__clock_ns();
  base_ticks = weft__ticks();
}

uint32_t weft__ticks_read_ns(void) {
  weft__ticks_init();
  return read_ns;
}

void weft__ticks_init(void) { pthread_once(&once, init_once); }

/* @v scaled by the measured ratio: ns per tick (@to_ns) or ticks per ns.
 * Without the TSC, ticks are ns and @v is returned as it is. */
static uint64_t convert(uint64_t v, bool to_ns) {
  weft__ticks_init();
  if (!atomic_load_explicit(&weft__ticks_tsc, memory_order_relaxed)) return v;
  uint64_t ns = weft__clock_ns() - base_ns, tk = weft__ticks() - base_ticks;
  if (tk == 0 || ns == 0) return v;
  return to_ns ? (uint64_t)((unsigned __int128)v * ns / tk) : (uint64_t)((unsigned __int128)v * tk / ns);
}

uint64_t weft__ticks_to_ns(uint64_t ticks) { return convert(ticks, true); }

uint64_t weft__ticks_from_ns(uint64_t ns) { return convert(ns, false); }
