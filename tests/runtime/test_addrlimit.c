/* test_addrlimit.c - allocation failure under an address-space limit
 * (ulimit -v): every path returns an error (-ENOMEM, or -EAGAIN when a
 * thread cannot be created), nothing crashes, nothing hangs. Each case runs
 * in a child process with RLIMIT_AS set a few MiB above what it maps
 * already, from tight (the loop cannot start) to loose (some spawns fail).
 * jemalloc used to crash here inside a new worker's first allocation
 * (runtime/alloc.h). The sanitizers reserve terabytes of shadow: plain
 * builds only. */
#include "helpers.h"

#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Yields so that a whole wave holds its stacks at once. */
static int child_body(void *arg, void **res) {
  weft_yield();
  return weft_yield();
}

static _Atomic long spawned, refused, stackless; /* per child process */

/* Spawns and awaits tasks, some suspended at once so stacks are held. */
static int burst(void *arg, void **res) {
  enum { WAVES = 40, WIDTH = 500 };
  weft_task_t *ts[WIDTH];
  for (int w = 0; w < WAVES; w++) {
    int n = 0;
    for (int i = 0; i < WIDTH; i++) {
      int rc = weft_spawn(child_body, NULL, &ts[n]);
      if (rc == 0) {
        n++;
        atomic_fetch_add(&spawned, 1);
      } else if (rc == -ENOMEM || rc == -EAGAIN) {
        atomic_fetch_add(&refused, 1);
      } else {
        return -EPROTO; /* an unexpected code */
      }
    }
    for (int i = 0; i < n; i++) {
      int rc = weft_await(weft_task_future(ts[i]), NULL);
      /* A task that could not get its stack ends with -ENOMEM. */
      if (rc == -ENOMEM) atomic_fetch_add(&stackless, 1);
      else if (rc != 0) return -EPROTO;
      weft_task_release(ts[i]);
    }
  }
  return 0;
}

static long mapped_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0;
  if (f) {
    if (fscanf(f, "%ld", &pages) != 1) pages = 0;
    fclose(f);
  }
  return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Exit status of a child that runs burst on @workers under a limit of
 * what it maps now plus @extra_mib. */
static int run_limited(unsigned workers, long extra_mib) {
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = (rlim_t)(mapped_kib() + extra_mib * 1024) * 1024;
    if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(3);
    struct weft_loop_config cfg;
    weft_loop_config_init(&cfg);
    cfg.workers = workers;
    int rc = weft_run_config(&cfg, burst, NULL, NULL);
    if (getenv("WEFT_TEST_VERBOSE"))
      fprintf(stderr, "workers=%u limit=+%ld MiB: run %d, %ld spawned, %ld refused, %ld without a stack\n", workers,
              extra_mib, rc, atomic_load(&spawned), atomic_load(&refused), atomic_load(&stackless));
    /* 10: it ran, and allocation failed inside the running loop; 11: it
     * ran without a failure; 0: it could not start, cleanly; 2: anything else. */
    if (rc == 0) _exit(atomic_load(&stackless) || atomic_load(&refused) ? 10 : 11);
    _exit(rc == -ENOMEM || rc == -EAGAIN ? 0 : 2);
  }
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  if (WIFSIGNALED(status)) return 1000 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

/* Returns whether some limit let the loop run with allocations failing. */
static bool sweep(unsigned workers) {
  static const long extra[] = {1, 4, 8, 16, 24, 32, 48, 64, 96, 128};
  bool failed_inside = false;
  for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) {
    int st = run_limited(workers, extra[i]);
    if (st != 0 && st != 10 && st != 11)
      fprintf(stderr, "workers=%u limit=+%ld MiB: status %d\n", workers, extra[i], st);
    ck_assert(st == 0 || st == 10 || st == 11); /* 1000 + n: killed by signal n */
    failed_inside |= st == 10;
  }
  return failed_inside;
}

/* With one worker the sweep must reach the interesting case, spawns and
 * first runs failing inside a running loop (here from +8 to +64 MiB). */
START_TEST(limits_one_worker) { ck_assert(sweep(1)); }
END_TEST
START_TEST(limits_four_workers) { sweep(4); }
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("addrlimit");
  TCase *tc = tcase_create("addrlimit");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, limits_one_worker);
  tcase_add_test(tc, limits_four_workers);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN_WITH(suite, WEFT_SKIP_UNDER_SANITIZERS("the sanitizers' shadow memory needs no limit"))
