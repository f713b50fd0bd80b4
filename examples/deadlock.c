/*
 * deadlock.c - a deadlock, found by the task dump (weft/debug.h).
 *
 *   cc deadlock.c $(pkg-config --cflags --libs weft) -o deadlock
 *
 * `transfer` takes the "accounts" lock, then awaits `audit`, which needs
 * the same lock: neither can go on. The main task notices that the work
 * has not finished within 200 ms, writes a task dump to stdout (the
 * DEADLOCK line names the cycle; each task shows what it waits on and its
 * stack), then cancels `transfer`, which breaks the cycle, and exits.
 * docs/debug.md shows this program's dump.
 *
 * Python equivalent (asyncio has no dump; the program just hangs):
 *   async def audit(): async with accounts: ...
 *   async def transfer():
 *       async with accounts: await asyncio.create_task(audit())
 */
#include <errno.h>
#include <stdio.h>
#include <weft.h>

static weft_lock_t *accounts;

static int audit(void *arg, void **result) {
  (void)arg;
  (void)result;
  int rc = weft_lock_acquire(accounts, -1);
  if (rc) return rc;
  weft_lock_release(accounts);
  return 0;
}

static int transfer(void *arg, void **result) {
  (void)arg;
  int rc = weft_lock_acquire(accounts, -1);
  if (rc) return rc;
  struct weft_task_opts o;
  weft_task_opts_init(&o);
  o.name = "audit";
  weft_task_t *a;
  rc = weft_spawn_opts(NULL, audit, NULL, &o, &a);
  if (rc == 0) {
    rc = weft_await(weft_task_future(a), result); /* audit waits for our lock: stuck */
    weft_task_cancel(a, NULL);
    weft_task_release(a);
  }
  weft_lock_release(accounts);
  return rc;
}

static int main_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  int rc = weft_lock_create(&accounts);
  if (rc) return rc;
  weft_lock_set_name(accounts, "accounts");
  struct weft_task_opts o;
  weft_task_opts_init(&o);
  o.name = "transfer";
  weft_task_t *t;
  rc = weft_spawn_opts(NULL, transfer, NULL, &o, &t);
  if (rc) return rc;
  weft_sleep(0.2);
  if (!weft_future_done(weft_task_future(t))) {
    printf("transfer has not finished after 200 ms; the tasks:\n");
    fflush(stdout);
    weft_loop_dump(weft_loop_current(), 1, WEFT_DUMP_TEXT);
    weft_task_cancel(t, NULL); /* breaks the cycle: transfer lets go of the lock */
  }
  rc = weft_await(weft_task_future(t), NULL);
  printf("transfer ended: %s\n", rc == -ECANCELED ? "cancelled" : rc ? "failed" : "ok");
  weft_task_release(t);
  weft_lock_destroy(accounts);
  return 0;
}

int main(void) {
  weft_loop_t *loop;
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 2;
  if (weft_loop_new(&cfg, &loop)) return 1;
  weft_task_t *m;
  int rc = weft_spawn_opts(loop, main_task, NULL, NULL, &m);
  if (rc == 0) rc = weft_loop_run_until_complete(loop, weft_task_future(m), NULL);
  weft_task_release(m);
  weft_loop_close(loop);
  return rc ? 1 : 0;
}
