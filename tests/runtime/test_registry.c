/* test_registry.c - the loop's table of listed tasks (runtime/registry.c):
 * slots across chunks, reuse of slots freed on the owner and on other
 * threads, the shared shard, a walk in pieces, and visitors racing ends
 * (run under TSan and ASan by CI). */
#include <check.h>
#include "helpers.h"
#include "loop.h"     /* white box: the shards */
#include "registry.h"
#include "task.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int count_ids(weft_task_t *t, void *arg) {
  uint8_t *seen = arg;
  uint64_t id = weft_task_id(t);
  ck_assert_uint_lt(id, 1u << 16);
  ck_assert_uint_eq(seen[id], 0); /* each listed task once */
  seen[id] = 1;
  return 0;
}

/* 3,500 tasks spawned on one worker (not started yet: listed all the
 * same, and cheap under the sanitizers: no stacks) take chunks 0-2 (1,024
 * + 2,048 + 4,096 slots); every one is visited once; once they end, the
 * next 3,500 reuse their slots (the bump index does not move); the count
 * is exact at each step. */
enum { MANY = 3500 };
static int nothing(void *arg, void **res) { return 0; }

static int many_main(void *arg, void **res) {
  weft_loop_t *loop = weft_loop_current();
  struct weft__reg_shard *own = &loop->reg[0];
  static weft_task_t *ts[MANY];
  static uint8_t seen[1u << 16];
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < MANY; i++) ck_assert_int_eq(weft_spawn(nothing, NULL, &ts[i]), 0);
    ck_assert_uint_eq(atomic_load(&own->bump), MANY); /* round 0 made them; round 1 reused */
    ck_assert_uint_eq(own->cap, 1024 + 2048 + 4096);
    memset(seen, 0, sizeof seen);
    ck_assert_int_eq(weft_loop_tasks(loop, count_ids, seen), MANY + 1); /* and main (shared shard) */
    for (int i = 0; i < MANY; i++) ck_assert_uint_eq(seen[weft_task_id(ts[i])], 1);
    ck_assert_uint_eq(seen[weft_task_id(weft_task_current())], 1);
    /* End every other one (cancelled before they start), then the rest:
     * the free list holds both orders. */
    for (int i = 0; i < MANY; i += 2) weft_task_cancel(ts[i], NULL);
    for (int i = 0; i < MANY; i += 2) ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), -ECANCELED);
    memset(seen, 0, sizeof seen);
    int left = weft_loop_tasks(loop, count_ids, seen);
    for (int i = 1; i < MANY; i += 2) /* the others are listed until they end */
      if (!weft_future_done(weft_task_future(ts[i]))) ck_assert_uint_eq(seen[weft_task_id(ts[i])], 1);
    ck_assert_int_le(left, MANY / 2 + 1);
    for (int i = 0; i < MANY; i++) {
      if (i % 2) ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
      weft_task_release(ts[i]);
    }
    memset(seen, 0, sizeof seen);
    ck_assert_int_eq(weft_loop_tasks(loop, count_ids, seen), 1);
  }
  return 0;
}

START_TEST(slots_span_chunks_and_are_reused) { ck_assert_int_eq(run_main(1, many_main, NULL, NULL), 0); }
END_TEST

/* weft__registry_visit_from (the deep-page walk's, stackdrop.c): pieces of
 * a few slots, across chunks and shards, visit every listed task once and
 * end with the cursor back at 0; a visitor that stops early has the next
 * piece go on after the task it stopped at. */
struct every_tenth {
  uint8_t *seen;
  int n;
};

static int stop_every_tenth(weft_task_t *t, void *arg) {
  struct every_tenth *e = arg;
  count_ids(t, e->seen);
  return ++e->n % 10 == 0;
}

static int pieces_main(void *arg, void **res) {
  weft_loop_t *loop = weft_loop_current();
  static weft_task_t *ts[MANY];
  static uint8_t seen[1u << 16];
  for (int i = 0; i < MANY; i++) ck_assert_int_eq(weft_spawn(nothing, NULL, &ts[i]), 0);
  for (int stop = 0; stop < 2; stop++) {
    memset(seen, 0, sizeof seen);
    struct every_tenth e = {.seen = seen, .n = 0};
    uint64_t cursor = 0;
    int pieces = 0;
    bool done;
    do {
      done = stop ? weft__registry_visit_from(loop, &cursor, 100, stop_every_tenth, &e)
                  : weft__registry_visit_from(loop, &cursor, 100, count_ids, seen);
      pieces++;
      ck_assert(done == (cursor == 0));
    } while (!done);
    ck_assert_int_ge(pieces, stop ? (MANY + 1) / 10 : MANY / 100);
    for (int i = 0; i < MANY; i++) ck_assert_uint_eq(seen[weft_task_id(ts[i])], 1);
    ck_assert_uint_eq(seen[weft_task_id(weft_task_current())], 1); /* the shared shard's */
    if (stop) ck_assert_int_eq(e.n, MANY + 1);
  }
  for (int i = 0; i < MANY; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  return 0;
}

START_TEST(a_walk_in_pieces_visits_each_once) { ck_assert_int_eq(run_main(1, pieces_main, NULL, NULL), 0); }
END_TEST

/* Tasks spawned on worker 0 that end on worker 1 free their slots onto
 * shard 0's remote stack; worker 0 takes them back once its first chunk is
 * used up, so three rounds of 600 never make a second chunk. */

static int remote_spawner(void *arg, void **res) {
  weft_loop_t *loop = weft_loop_current();
  struct weft__reg_shard *own = &loop->reg[0];
  static weft_task_t *ts[600];
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 600; i++) ck_assert_int_eq(spawn_pinned(1, nothing, NULL, &ts[i]), 0);
    for (int i = 0; i < 600; i++) {
      ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
      weft_task_release(ts[i]);
    }
  }
  ck_assert_uint_eq(own->cap, 1024);
  ck_assert_uint_le(atomic_load(&own->bump), 1024);
  /* Ended on worker 1: their slots went to the remote stack (or back
   * into the free list from it), never lost: 1,024 slots served 1,800. */
  return 0;
}

/* Main of a two-worker loop: runs the body *@arg (a weft_task_fn) pinned
 * to worker 0, so that the tasks it spawns are listed in shard 0. */
static int on_worker_0(void *arg, void **res) {
  weft_task_t *t;
  ck_assert_int_eq(spawn_pinned(0, *(const weft_task_fn *)arg, NULL, &t), 0);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  return 0;
}

START_TEST(slots_freed_on_other_workers_come_back) {
  static const weft_task_fn body = remote_spawner;
  ck_assert_int_eq(run_main(2, on_worker_0, (void *)&body, NULL), 0);
}
END_TEST

/* A thief gathers the slots it frees into another worker's shard and
 * pushes them onto that shard's remote stack WEFT__REG_BATCH at a time:
 * 74 tasks listed on worker 0 that end on worker 1 leave one batch of 64
 * on the stack and 10 held by worker 1; 54 more push the rest. Every slot
 * is in exactly one of the two places, and free. */
static size_t remote_chain(struct weft__reg_shard *sh, uint8_t *seen) {
  size_t n = 0;
  for (uint32_t i = atomic_load(&sh->remote); i; n++) {
    uintptr_t v = atomic_load(weft__reg_slot_at(sh, i - 1));
    ck_assert_uint_eq(v & 1, 1); /* free */
    ck_assert_uint_eq(seen[i - 1], 0);
    seen[i - 1] = 1;
    i = WEFT__REG_FREE_NEXT(v);
  }
  return n;
}

static void end_on_worker_1(int n) {
  static weft_task_t *ts[128];
  for (int i = 0; i < n; i++) ck_assert_int_eq(spawn_pinned(1, nothing, NULL, &ts[i]), 0);
  for (int i = 0; i < n; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
}

static int batch_spawner(void *arg, void **res) {
  weft_loop_t *loop = weft_loop_current();
  struct weft__reg_shard *own = &loop->reg[0];
  /* Worker 1's batch for shard 0 (its row, shard 0's entry); read after
   * the awaits, which order worker 1's ends before us. */
  struct weft__reg_batch *b = &loop->reg_batches[1 * loop->reg_batch_row + 0];
  static uint8_t seen[1024];
  end_on_worker_1(74);
  memset(seen, 0, sizeof seen);
  ck_assert_uint_eq(remote_chain(own, seen), WEFT__REG_BATCH);
  ck_assert_uint_eq(b->count, 74 - WEFT__REG_BATCH);
  for (uint32_t i = b->head, k = 0; i; k++) { /* the held chain ends at its tail */
    ck_assert_uint_eq(seen[i - 1], 0);
    seen[i - 1] = 1;
    if (i == b->tail) {
      ck_assert_uint_eq(k + 1, b->count);
      break;
    }
    i = WEFT__REG_FREE_NEXT(atomic_load(weft__reg_slot_at(own, i - 1)));
  }
  ck_assert_uint_eq(own->free_head, 0); /* nothing ended here */
  end_on_worker_1(54);
  memset(seen, 0, sizeof seen);
  ck_assert_uint_eq(remote_chain(own, seen), 2 * WEFT__REG_BATCH);
  ck_assert_uint_eq(b->count, 0);
  ck_assert_uint_eq(b->head, 0);
  return 0;
}

START_TEST(remote_frees_go_back_in_batches) {
  static const weft_task_fn body = batch_spawner;
  ck_assert_int_eq(run_main(2, on_worker_0, (void *)&body, NULL), 0);
}
END_TEST

/* Tasks made outside the workers (before the run) are listed in the
 * shared shard, visited from outside, and unlisted when they end on a
 * worker. */
static int count_only(weft_task_t *t, void *arg) {
  (*(int *)arg)++;
  return 0;
}

START_TEST(foreign_spawns_use_the_shared_shard) {
  weft_loop_t *loop = make_loop(2);
  weft_task_t *ts[50];
  for (int i = 0; i < 50; i++) ck_assert_int_eq(weft_spawn_opts(loop, nothing, NULL, NULL, &ts[i]), 0);
  struct weft__reg_shard *shared = &loop->reg[loop->nworkers];
  ck_assert_uint_eq(atomic_load(&shared->bump), 50);
  int n = 0;
  ck_assert_int_eq(weft_loop_tasks(loop, count_only, &n), 50);
  ck_assert_int_eq(n, 50);
  for (int i = 0; i < 50; i++) {
    ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  ck_assert_int_eq(weft_loop_tasks(loop, count_only, &n), 0);
  /* Their slots (freed on the workers: the remote stack) come back once
   * the first chunk's unused ones are gone: 1,500 spawns in rounds of 50
   * never make a second chunk. */
  for (int round = 0; round < 30; round++) {
    for (int i = 0; i < 50; i++) ck_assert_int_eq(weft_spawn_opts(loop, nothing, NULL, NULL, &ts[i]), 0);
    for (int i = 0; i < 50; i++) {
      ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(ts[i]), NULL), 0);
      weft_task_release(ts[i]);
    }
  }
  ck_assert_uint_eq(shared->cap, 1024);
  ck_assert_uint_eq(atomic_load(&shared->bump), 1024);
  close_clean(loop);
}
END_TEST

/* ---- visitors against ends --------------------------------------------------
 * Chains of tasks (each link spawns the next, on the other worker every
 * other time, and ends) keep listing and unlisting tasks on both shards,
 * locally and remotely, while a foreign thread visits without pause: it
 * reads each visited task, takes references to some, and reads their
 * stacks through weft_task_stack (the listed-lock path) after the visit.
 * A visitor that touched an ended task's freed memory is what ASan and
 * TSan would report. Twice: the workers' ends (owners' and thieves')
 * with the asymmetric fence where the kernel has it (membarrier:
 * registry.h), then with their seq_cst store, as on a kernel without it. */
enum { CHAINS = 4 };
static _Atomic int chains_left;
static weft_future_t *chains_done;
static _Atomic bool visiting_stop;

static int link_fn(void *arg, void **res) {
  long left = (long)arg;
  if (left == 0) {
    if (atomic_fetch_sub(&chains_left, 1) == 1) weft_future_set_result(chains_done, NULL);
    return 0;
  }
  if (left % 3 == 0) weft_yield(); /* some links are suspended when visited */
  return spawn_pinned((int)(left % 2), link_fn, (void *)(left - 1), NULL);
}

struct held {
  weft_task_t *t[16];
  int n;
  long visited;
};

static int hold_some(weft_task_t *t, void *arg) {
  struct held *h = arg;
  ck_assert_uint_ne(weft_task_id(t), 0);
  ck_assert_ptr_nonnull(weft_task_name(t));
  h->visited++;
  if (h->n < 16 && h->visited % 7 == 0) {
    weft_task_ref(t);
    h->t[h->n++] = t;
  }
  return 0;
}

static void *visitor(void *arg) {
  weft_loop_t *loop = arg;
  long rounds = 0;
  while (!atomic_load(&visiting_stop) || rounds < 10) {
    struct held h = {.n = 0};
    ck_assert_int_ge(weft_loop_tasks(loop, hold_some, &h), 0);
    for (int i = 0; i < h.n; i++) {
      void *frames[8];
      int rc = weft_task_stack(h.t[i], frames, 8);
      /* A task running on a worker is captured by a signal, which a slow
       * (sanitized) worker may not answer in time: documented. */
      ck_assert(rc >= 0 || rc == -ETIMEDOUT);
      weft_task_release(h.t[i]);
    }
    rounds++;
  }
  return (void *)rounds;
}

static int chains_main(void *arg, void **res) {
  ck_assert_int_eq(weft_future_new(NULL, &chains_done), 0);
  atomic_store(&chains_left, CHAINS);
  long len = scaled(6000);
  for (int c = 0; c < CHAINS; c++) ck_assert_int_eq(weft_spawn(link_fn, (void *)len, NULL), 0);
  ck_assert_int_eq(weft_await(chains_done, NULL), 0);
  weft_future_release(chains_done);
  return 0;
}

START_TEST(visitors_race_ends) {
  weft_loop_t *loop = make_loop(2);
  if (_i == 1) loop->reg_asym = false; /* before its threads run */
  atomic_store(&visiting_stop, false);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, visitor, loop), 0);
  weft_task_t *m;
  ck_assert_int_eq(weft_spawn_opts(loop, chains_main, NULL, NULL, &m), 0);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(m), NULL), 0);
  weft_task_release(m);
  atomic_store(&visiting_stop, true);
  void *rounds;
  pthread_join(th, &rounds);
  ck_assert_int_ge((long)rounds, 10);
  int n = 0;
  ck_assert_int_eq(weft_loop_tasks(loop, count_only, &n), 0); /* every chain ended */
  ck_assert_uint_eq(atomic_load(&loop->reg_visitors), 0);
  close_clean(loop);
}
END_TEST

Suite *registry_suite(void) {
  Suite *s = suite_create("registry");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, slots_span_chunks_and_are_reused);
  tcase_add_test(tc, a_walk_in_pieces_visits_each_once);
  tcase_add_test(tc, slots_freed_on_other_workers_come_back);
  tcase_add_test(tc, remote_frees_go_back_in_batches);
  tcase_add_test(tc, foreign_spawns_use_the_shared_shard);
  tcase_add_loop_test(tc, visitors_race_ends, 0, 2);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(registry_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
