/* taxi_sim.c - taxi_sim.py in C: "Fluent Python"'s taxi-fleet simulation,
 * the taxis as weft generators driven with send() by a discrete event
 * simulator. The durations come from Python's own generator (MT19937,
 * seeded as random.seed(3); random() and expovariate() as CPython computes
 * them), so the event log is the Python program's, line for line. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <weft.h>

/* ---- Python's random module, the parts the simulation uses --------------------- */

static uint32_t mt[624];
static int mti = 625;

static void init_genrand(uint32_t s) {
  mt[0] = s;
  for (mti = 1; mti < 624; mti++) mt[mti] = 1812433253U * (mt[mti - 1] ^ (mt[mti - 1] >> 30)) + (uint32_t)mti;
}

/* random.seed(n) for a small int n: init_by_array with the one word n. */
static void py_seed(uint32_t n) {
  uint32_t key[1] = {n};
  int i = 1, j = 0, len = 1;
  init_genrand(19650218U);
  for (int k = 624; k; k--) {
    mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525U)) + key[j] + (uint32_t)j;
    i++;
    j++;
    if (i >= 624) {
      mt[0] = mt[623];
      i = 1;
    }
    if (j >= len) j = 0;
  }
  for (int k = 623; k; k--) {
    mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941U)) - (uint32_t)i;
    i++;
    if (i >= 624) {
      mt[0] = mt[623];
      i = 1;
    }
  }
  mt[0] = 0x80000000U;
  mti = 624;
}

static uint32_t genrand(void) {
  static const uint32_t mag01[2] = {0, 0x9908b0dfU};
  uint32_t y;
  if (mti >= 624) {
    int kk;
    for (kk = 0; kk < 624 - 397; kk++) {
      y = (mt[kk] & 0x80000000U) | (mt[kk + 1] & 0x7fffffffU);
      mt[kk] = mt[kk + 397] ^ (y >> 1) ^ mag01[y & 1];
    }
    for (; kk < 623; kk++) {
      y = (mt[kk] & 0x80000000U) | (mt[kk + 1] & 0x7fffffffU);
      mt[kk] = mt[kk + (397 - 624)] ^ (y >> 1) ^ mag01[y & 1];
    }
    y = (mt[623] & 0x80000000U) | (mt[0] & 0x7fffffffU);
    mt[623] = mt[396] ^ (y >> 1) ^ mag01[y & 1];
    mti = 0;
  }
  y = mt[mti++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= y >> 18;
  return y;
}

static double py_random(void) { /* random.random(): 53 bits */
  uint32_t a = genrand() >> 5, b = genrand() >> 6;
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

static double py_expovariate(double lambd) { return -log(1.0 - py_random()) / lambd; }

/* ---- the simulation -------------------------------------------------------------- */

enum { SEARCH_DURATION = 5, TRIP_DURATION = 20, DEPARTURE_INTERVAL = 5 };

struct event {
  long time;
  int proc;
  const char *action;
};

struct taxi {
  int ident, trips;
  long start_time;
};

/* Yields an event at each state change; receives the time of the next. */
static int taxi_process(weft_gen_t *g, void *arg) {
  struct taxi *t = arg;
  struct event ev = {t->start_time, t->ident, "leave garage"};
  long *time;
  int rc = weft_gen_yield(g, &ev, (void **)&time);
  for (int i = 0; i < t->trips && !rc; i++) {
    ev = (struct event){*time, t->ident, "pick up passenger"};
    if ((rc = weft_gen_yield(g, &ev, (void **)&time))) break;
    ev = (struct event){*time, t->ident, "drop off passenger"};
    rc = weft_gen_yield(g, &ev, (void **)&time);
  }
  if (!rc) {
    ev = (struct event){*time, t->ident, "going home"};
    rc = weft_gen_yield(g, &ev, (void **)&time);
  }
  return rc == WEFT_EGENEXIT ? 0 : rc;
}

static long compute_duration(const char *previous_action) {
  double interval;
  if (!strcmp(previous_action, "leave garage") || !strcmp(previous_action, "drop off passenger"))
    interval = SEARCH_DURATION;
  else if (!strcmp(previous_action, "pick up passenger"))
    interval = TRIP_DURATION;
  else
    interval = 1; /* going home */
  return (long)py_expovariate(1 / interval) + 1;
}

/* The priority queue: events ordered as Python orders the tuples. */
static struct event queue[64];
static int queued;

static int before(const struct event *a, const struct event *b) {
  if (a->time != b->time) return a->time < b->time;
  if (a->proc != b->proc) return a->proc < b->proc;
  return strcmp(a->action, b->action) < 0;
}

static void put(struct event e) {
  int i = queued++;
  while (i > 0 && before(&e, &queue[i - 1])) {
    queue[i] = queue[i - 1];
    i--;
  }
  queue[i] = e;
}

static struct event get(void) {
  struct event e = queue[0];
  memmove(queue, queue + 1, (size_t)--queued * sizeof queue[0]);
  return e;
}

static int simulate(void *arg, void **result) {
  (void)arg;
  (void)result;
  enum { NUM_TAXIS = 3, END_TIME = 180 };
  py_seed(3);
  struct taxi taxis[NUM_TAXIS];
  weft_gen_t *procs[NUM_TAXIS];
  for (int i = 0; i < NUM_TAXIS; i++) {
    taxis[i] = (struct taxi){i, (i + 1) * 2, i * DEPARTURE_INTERVAL};
    weft_gen_new(taxi_process, &taxis[i], &procs[i]);
  }
  for (int i = 0; i < NUM_TAXIS; i++) { /* sorted by ident */
    struct event *first;
    weft_gen_next(procs[i], (void **)&first);
    put(*first);
  }
  long sim_time = 0;
  bool ended = false;
  while (sim_time < END_TIME) {
    if (!queued) {
      printf("*** end of events ***\n");
      ended = true;
      break;
    }
    struct event cur = get();
    sim_time = cur.time;
    printf("taxi: %d %*s Event(time=%ld, proc=%d, action='%s')\n", cur.proc, 3 * cur.proc, "", cur.time,
           cur.proc, cur.action);
    long next_time = sim_time + compute_duration(cur.action);
    struct event *next;
    int rc = weft_gen_send(procs[cur.proc], &next_time, (void **)&next);
    if (rc == WEFT_ESTOP) {
      weft_gen_release(procs[cur.proc]);
      procs[cur.proc] = NULL;
    } else {
      put(*next);
    }
  }
  if (!ended) printf("*** end of simulation time: %d events pending ***\n", queued);
  for (int i = 0; i < NUM_TAXIS; i++) weft_gen_release(procs[i]);
  return 0;
}

int main(void) { return weft_run(simulate, NULL, NULL) ? 1 : 0; }
