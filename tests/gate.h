/*
 * gate.h - for tests of work that runs on other threads (pools,
 * executors): counters the test waits on without polling, and a gate the
 * work blocks on until the test opens it. Futex waits: no sleeps.
 */
#ifndef WEFT_TEST_GATE_H
#define WEFT_TEST_GATE_H

#include <stdatomic.h>
#include <stdint.h>
#include "futex.h"

static _Atomic uint32_t gate, started, finished;

/* Waits until *@c reaches @n. */
__attribute__((unused)) static void wait_count(_Atomic uint32_t *c, uint32_t n) {
  uint32_t v;
  while ((v = atomic_load(c)) < n) weft__futex_wait(c, v, 0);
}

__attribute__((unused)) static void bump(_Atomic uint32_t *c) {
  atomic_fetch_add(c, 1);
  weft__futex_wake(c, INT32_MAX);
}

/* In the work: counts itself started, waits for the gate, counts itself finished. */
__attribute__((unused)) static void pass_gate(void) {
  bump(&started);
  while (!atomic_load(&gate)) weft__futex_wait(&gate, 0, 0);
  bump(&finished);
}

__attribute__((unused)) static void open_gate(void) {
  atomic_store(&gate, 1);
  weft__futex_wake(&gate, INT32_MAX);
}

__attribute__((unused)) static void reset_gate(void) {
  atomic_store(&gate, 0);
  atomic_store(&started, 0);
  atomic_store(&finished, 0);
}

#endif
