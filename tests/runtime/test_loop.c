/* test_loop.c - runtime/loop.c: configuration errors, run_forever/stop
 * semantics, run_until_complete, close (running, twice, with pending work),
 * nested runs, weft_run's cleanup, asyncio's exact order with one worker, and
 * SIGPIPE and SIGXFSZ blocked on workers (a broken pipe or a write past
 * the file size limit never ends the process). */
#include "helpers.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

START_TEST(config_errors) {
  weft_loop_t *loop;
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  ck_assert_int_eq(weft_loop_new(&cfg, NULL), -EINVAL);
  cfg.workers = 5000;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), -EINVAL);
  weft_loop_config_init(&cfg);
  cfg.stack_size = 4096;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), -EINVAL);
  weft_loop_config_init(&cfg);
  cfg.order = 7;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), -EINVAL);
  cfg.order = -1;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), -EINVAL);
  ck_assert_int_eq(weft_loop_new(NULL, &loop), 0); /* defaults */
  ck_assert_uint_ge(weft_loop_workers(loop), 1);
  ck_assert_int_eq(weft_loop_is_running(loop), 0);
  ck_assert_int_eq(weft_loop_is_closed(loop), 0);
  close_clean(loop);
  ck_assert_int_eq(weft_loop_close(NULL), -EINVAL);
  ck_assert_int_eq(weft_loop_run_forever(NULL), -EINVAL);
  ck_assert_int_eq(weft_loop_stop(NULL), -EINVAL);
  ck_assert_ptr_null(weft_loop_current());
  ck_assert_int_eq(weft_worker_index(), -EPERM);
}
END_TEST

/* ---- stop semantics ------------------------------------------------------------ */

static char trace[64];
static int ntrace;
static void note(char c) { trace[ntrace++] = c; trace[ntrace] = 0; }

/* Runs @fn(@arg) as the main task of a one-worker loop and checks that
 * what it traced is @want (what CPython prints for the same program). */
static void expect_trace(weft_task_fn fn, void *arg, const char *want) {
  ntrace = 0;
  trace[0] = 0;
  ck_assert_int_eq(run_main(1, fn, arg, NULL), 0);
  ck_assert_str_eq(trace, want);
}

static void cb_b(void *arg) { note('b'); }
static void cb_a(void *arg) {
  note('a');
  ck_assert_int_eq(weft_call_soon(cb_b, NULL, NULL), 0);
}

START_TEST(stop_before_run_forever_runs_one_iteration) {
  weft_loop_t *loop = make_loop(1);
  ntrace = 0;
  ck_assert_int_eq(weft_call_soon_threadsafe(loop, cb_a, NULL, NULL), 0);
  ck_assert_int_eq(weft_loop_stop(loop), 0);
  ck_assert_int_eq(weft_loop_run_forever(loop), 0);
  ck_assert_str_eq(trace, "a"); /* b was scheduled during the pass: next time */
  ck_assert_int_eq(weft_loop_stop(loop), 0);
  ck_assert_int_eq(weft_loop_run_forever(loop), 0);
  ck_assert_str_eq(trace, "ab");
  close_clean(loop);
}
END_TEST

static void cb_stop(void *arg) {
  note('s');
  weft_loop_stop(weft_loop_current());
}
static void cb_c(void *arg) {
  note('c');
  weft_call_soon(cb_b, NULL, NULL);
}

START_TEST(stop_from_callback_finishes_the_batch) {
  weft_loop_t *loop = make_loop(1);
  ntrace = 0;
  weft_call_soon_threadsafe(loop, cb_stop, NULL, NULL);
  weft_call_soon_threadsafe(loop, cb_c, NULL, NULL);
  ck_assert_int_eq(weft_loop_run_forever(loop), 0);
  ck_assert_str_eq(trace, "sc");
  ck_assert_int_eq(weft_loop_is_running(loop), 0);
  close_clean(loop); /* the pending b is dropped, never run */
  ck_assert_str_eq(trace, "sc");
}
END_TEST

/* ---- asyncio order with one worker --------------------------------------------- */

static void cb_note(void *arg) { note(*(const char *)arg); }

static int child(void *arg, void **res) {
  note('1');
  weft_yield();
  note('2');
  return 0;
}

static int order_main(void *arg, void **res) {
  weft_call_soon(cb_note, "A", NULL);
  weft_task_t *t;
  weft_spawn(child, NULL, &t);
  weft_call_soon(cb_note, "B", NULL);
  note('m');
  weft_yield();
  note('M');
  weft_await(weft_task_future(t), NULL);
  note('E');
  weft_task_release(t);
  return 0;
}

START_TEST(one_worker_runs_in_asyncio_order) {
  /* The same program under asyncio prints m A 1 B M 2 E: call_soon and
   * create_task append to the ready queue; yield re-appends the task. */
  expect_trace(order_main, NULL, "mA1BM2E");
  ntrace = 0;
  ck_assert_int_eq(run_main_order(1, WEFT_ORDER_FIFO, order_main, NULL, NULL), 0);
  ck_assert_str_eq(trace, "mA1BM2E");
}
END_TEST

static const char *const letters[] = {"a", "b", "c", "d"};

static int rr_worker(void *arg, void **res) {
  int i = (int)(intptr_t)arg;
  for (int k = 0; k < 3; k++) {
    note((char)('0' + i));
    weft_call_soon(cb_note, (void *)letters[i], NULL);
    weft_yield();
  }
  note('X');
  return 0;
}

static int rr_main(void *arg, void **res) {
  weft_task_t *t[4];
  for (int i = 0; i < 4; i++) weft_spawn(rr_worker, (void *)(intptr_t)i, &t[i]);
  note('m');
  for (int i = 0; i < 4; i++) {
    weft_await(weft_task_future(t[i]), NULL);
    weft_task_release(t[i]);
  }
  note('E');
  return 0;
}

START_TEST(yields_and_callbacks_interleave_in_asyncio_order) {
  /* Tasks that yield go from one to the next without the scheduler in
   * between (worker.c, direct_next), and a callback among them is left to
   * the scheduler: the order must still be asyncio's. The same program
   * (call_soon, then await asyncio.sleep(0)) under CPython prints this. */
  expect_trace(rr_main, NULL, "m0123a0b1c2d3a0b1c2d3aXbXcXdXE");
}
END_TEST

/* Past the ring: one worker's ring holds 1,024 runnables, and what comes
 * while it is full (or while anything waits behind it) goes to the
 * worker's overflow list, whose tail every later push must join. 3,000
 * tasks, spawned with a callback every 500, each noting its start, its
 * wake-up (main completes their futures in order, with the ring full),
 * then queueing a callback and yielding, and noting its next run: asyncio's
 * single ready queue gives every phase in spawn order, the first callbacks
 * in their places, and each later one just before its task's last run
 * (queued while the ring has room again and the overflow list does not
 * yet). */
enum { PAST = 3000, PAST_CB_EVERY = 500 };
static int past_seq[4 * PAST + PAST / PAST_CB_EVERY];
static int past_n;
static weft_future_t *past_f[PAST];

static void past_note(int v) { past_seq[past_n++] = v; }
static void past_cb(void *arg) { past_note(-1 - (int)(intptr_t)arg); }
static void past_cb2(void *arg) { past_note(3 * PAST + (int)(intptr_t)arg); }

static int past_task(void *arg, void **res) {
  int i = (int)(intptr_t)arg;
  past_note(i);
  ck_assert_int_eq(weft_await(past_f[i], NULL), 0);
  past_note(PAST + i);
  ck_assert_int_eq(weft_call_soon(past_cb2, arg, NULL), 0);
  weft_yield();
  past_note(2 * PAST + i);
  return 0;
}

static int past_main(void *arg, void **res) {
  static weft_task_t *ts[PAST];
  past_n = 0;
  for (int i = 0; i < PAST; i++) {
    ck_assert_int_eq(weft_future_new(NULL, &past_f[i]), 0);
    ck_assert_int_eq(weft_spawn(past_task, (void *)(intptr_t)i, &ts[i]), 0);
    if (i % PAST_CB_EVERY == PAST_CB_EVERY - 1)
      ck_assert_int_eq(weft_call_soon(past_cb, (void *)(intptr_t)(i / PAST_CB_EVERY), NULL), 0);
  }
  weft_yield(); /* every task starts and waits */
  for (int i = 0; i < PAST; i++) weft_future_set_result(past_f[i], NULL);
  for (int i = 0; i < PAST; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
    weft_future_release(past_f[i]);
  }
  return 0;
}

START_TEST(one_worker_keeps_asyncio_order_past_the_ring) {
  ck_assert_int_eq(run_main(1, past_main, NULL, NULL), 0);
  int k = 0;
  for (int i = 0; i < PAST; i++) {
    ck_assert_int_eq(past_seq[k++], i);
    if (i % PAST_CB_EVERY == PAST_CB_EVERY - 1) ck_assert_int_eq(past_seq[k++], -1 - i / PAST_CB_EVERY);
  }
  for (int i = 0; i < PAST; i++) ck_assert_int_eq(past_seq[k++], PAST + i);
  for (int i = 0; i < PAST; i++) {
    ck_assert_int_eq(past_seq[k++], 3 * PAST + i);
    ck_assert_int_eq(past_seq[k++], 2 * PAST + i);
  }
  ck_assert_int_eq(past_n, k);
}
END_TEST

/* ---- a chain of one-task passes (worker.c, quick_pass) --------------------------
 * Each link spawns the next, so every pass of a one-worker loop holds one
 * task, and the worker begins the next pass where the last ended. What the
 * main loop's pass takes in between must still come in: due timers (in
 * asyncio's place), work from other threads, I/O completions. */

static weft_future_t *chain_end;

static int timed_link(void *arg, void **res) {
  long k = (long)arg;
  note((char)('0' + k));
  if (k == 3) ck_assert_int_eq(weft_call_later(0, cb_note, "T", NULL), 0);
  if (k == 5) ck_assert_int_eq(weft_call_soon(cb_note, "S", NULL), 0);
  if (k < 8) return weft_spawn(timed_link, (void *)(k + 1), NULL);
  return weft_future_set_result(chain_end, NULL);
}

static int timed_chain_main(void *arg, void **res) {
  ck_assert_int_eq(weft_future_new(NULL, &chain_end), 0);
  ck_assert_int_eq(weft_spawn(timed_link, (void *)0L, NULL), 0);
  ck_assert_int_eq(weft_await(chain_end, NULL), 0);
  weft_future_release(chain_end);
  return 0;
}

START_TEST(chain_of_passes_runs_due_timers_in_asyncio_order) {
  /* CPython (a chain of create_task, call_later(0) in link 3, call_soon
   * in link 5) prints 01234T5S678: the timer, due at the next pass, runs
   * after what was ready before it. */
  expect_trace(timed_chain_main, NULL, "01234T5S678");
}
END_TEST

/* A chain that goes on until @seen is set, then ends; it fails if it
 * reaches CHAIN_MAX links first (what it waited for never came in while
 * the chain ran). */
enum { CHAIN_MAX = 20000000 };
static _Atomic bool seen;
static _Atomic long links_after;

static int watch_link(void *arg, void **res) {
  long k = (long)arg;
  if (atomic_load(&seen) && atomic_fetch_add(&links_after, 1) == 2)
    return weft_future_set_result(chain_end, NULL);
  if (k == CHAIN_MAX) return weft_future_set_error(chain_end, -ETIMEDOUT, "never seen");
  return spawn_pinned(0, watch_link, (void *)(k + 1), NULL);
}

static void cb_seen(void *arg) { atomic_store(&seen, true); }

static int task_seen(void *arg, void **res) {
  atomic_store(&seen, true);
  return 0;
}

/* From another thread: a callback (the loop's injection queue), or a task
 * pinned to worker 0 (that worker's inbox). */
static bool post_pinned;
static void *post_from_thread(void *loop) {
  if (!post_pinned) {
    ck_assert_int_eq(weft_call_soon_threadsafe(loop, cb_seen, NULL, NULL), 0);
    return NULL;
  }
  struct weft_task_opts o;
  weft_task_opts_init(&o);
  o.worker = 0;
  ck_assert_int_eq(weft_spawn_opts(loop, task_seen, NULL, &o, NULL), 0);
  return NULL;
}

static int threadsafe_chain_main(void *arg, void **res) {
  atomic_store(&seen, false);
  atomic_store(&links_after, 0);
  ck_assert_int_eq(weft_future_new(NULL, &chain_end), 0);
  ck_assert_int_eq(spawn_pinned(0, watch_link, (void *)0L, NULL), 0);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, post_from_thread, weft_loop_current()), 0);
  int rc = weft_await(chain_end, NULL);
  weft_future_release(chain_end);
  pthread_join(th, NULL);
  return rc;
}

START_TEST(chain_of_passes_takes_threadsafe_work) {
  post_pinned = false;
  ck_assert_int_eq(run_main(1, threadsafe_chain_main, NULL, NULL), 0);
  /* Two workers in FIFO order, the chain on worker 0, and work for worker
   * 0 alone from another thread: its inbox, which only worker 0 takes. */
  post_pinned = true;
  ck_assert_int_eq(run_main_order(2, WEFT_ORDER_FIFO, threadsafe_chain_main, NULL, NULL), 0);
}
END_TEST

static int reader(void *arg, void **res) {
  char c;
  ck_assert_int_eq(weft_read(*(int *)arg, &c, 1), 1);
  ck_assert_int_eq(c, 'x');
  atomic_store(&seen, true);
  return 0;
}

/* A task suspended in a read of a pipe (it sets @seen when the read
 * completes); the caller writes to p[1] when it wants the completion. */
struct pending_read {
  int p[2];
  weft_task_t *reader;
};

static void pending_read_start(struct pending_read *pr) {
  ck_assert_int_eq(pipe(pr->p), 0);
  atomic_store(&seen, false);
  ck_assert_int_eq(weft_spawn(reader, &pr->p[0], &pr->reader), 0);
  ck_assert_int_eq(weft_yield(), 0); /* the reader's read is in flight */
}

static void pending_read_finish(struct pending_read *pr) {
  ck_assert_int_eq(weft_await(weft_task_future(pr->reader), NULL), 0);
  weft_task_release(pr->reader);
  close(pr->p[0]);
  close(pr->p[1]);
}

static int io_chain_main(void *arg, void **res) {
  struct pending_read pr;
  pending_read_start(&pr);
  atomic_store(&links_after, 0);
  ck_assert_int_eq(weft_future_new(NULL, &chain_end), 0);
  ck_assert_int_eq(weft_spawn(watch_link, (void *)0L, NULL), 0);
  ck_assert_int_eq(write(pr.p[1], "x", 1), 1);
  int rc = weft_await(chain_end, NULL);
  weft_future_release(chain_end);
  pending_read_finish(&pr);
  return rc;
}

START_TEST(chain_of_passes_sees_io_completions) {
  ck_assert_int_eq(run_main(1, io_chain_main, NULL, NULL), 0);
}
END_TEST

/* Awaits @t, which must end with @want, and drops the caller's reference. */
static void join_task(weft_task_t *t, int want) {
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), want);
  weft_task_release(t);
}

/* ---- a yield that ends a pass, with I/O completed meanwhile ------------------
 * CPython prints aBAC for:
 *     async def c(r):        # a reader (add_reader + a future)
 *         ...; await fut; order.append('C')
 *     async def b(): order.append('B')
 *     async def a(w):
 *         order.append('a'); os.write(w, b'x'); asyncio.create_task(b())
 *         await asyncio.sleep(0); order.append('A')
 *     main: tc = create_task(c(r)); sleep(0) twice; await create_task(a(w))
 * The yielder's next step is queued before the next pass polls, so it runs
 * ahead of the task the write woke (weft wakes the reader in one hop, not
 * asyncio's two, which here changes nothing). The pass that begins where
 * `a` switches out (worker.c, quick_pass) polled before `a` was queued
 * again: the io_uring backend printed aBCA. */

static int yb_b(void *arg, void **res) {
  note('B');
  return 0;
}

static int yb_c(void *arg, void **res) {
  char c;
  ck_assert_int_eq(weft_read(*(int *)arg, &c, 1), 1);
  note('C');
  return 0;
}

static int yb_a(void *arg, void **res) {
  note('a');
  ck_assert_int_eq(write(*(int *)arg, "x", 1), 1);
  ck_assert_int_eq(weft_spawn(yb_b, NULL, NULL), 0);
  ck_assert_int_eq(weft_yield(), 0);
  note('A');
  return 0;
}

static int yield_io_main(void *arg, void **res) {
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  weft_task_t *c, *a;
  ck_assert_int_eq(weft_spawn(yb_c, &p[0], &c), 0);
  ck_assert_int_eq(weft_yield(), 0);
  ck_assert_int_eq(weft_yield(), 0); /* the read is in flight */
  ck_assert_int_eq(weft_spawn(yb_a, &p[1], &a), 0);
  join_task(a, 0);
  join_task(c, 0);
  close(p[0]);
  close(p[1]);
  return 0;
}

START_TEST(yield_before_io_in_next_pass) {
  expect_trace(yield_io_main, NULL, "aBAC");
}
END_TEST

/* ---- an inline poll begins the pass it is the poll of -------------------------
 * A request that completes at once costs no suspension (io/op.c): the last
 * task of a pass (T) submits the pass's requests itself and polls, which
 * is the next pass's poll, early. That poll woke A and B, so the pass they
 * run in began there: C, which T spawned after it, runs a pass later,
 * after the poll that completes A's second request. Left unbegun, the pass
 * began only when T switched out, with C in it ("TABCDa"), and the poll
 * that found A's second request done came after C's own callback; the
 * request T queued next had been submitted alone (nop_batch: two
 * io_uring_enter calls per 64 awaits). With epoll a NOP completes in the
 * call, so nobody suspends. */

static void pi_d(void *arg) { note('D'); }

static int pi_c(void *arg, void **res) {
  note('C');
  ck_assert_int_eq(weft_call_soon(pi_d, NULL, NULL), 0);
  return 0;
}

static int pi_a(void *arg, void **res) {
  ck_assert_int_eq(weft_io_nop(), 0);
  note('A');
  ck_assert_int_eq(weft_io_nop(), 0);
  note('a');
  return 0;
}

static int pi_b(void *arg, void **res) {
  ck_assert_int_eq(weft_io_nop(), 0);
  note('B');
  return 0;
}

static int pi_t(void *arg, void **res) {
  ck_assert_int_eq(weft_io_nop(), 0);
  ck_assert_int_eq(weft_spawn(pi_c, NULL, NULL), 0);
  note('T');
  return 0;
}

static int inline_poll_main(void *arg, void **res) {
  *(const char **)arg = weft_loop_backend(weft_loop_current());
  weft_task_t *a, *b, *t;
  ck_assert_int_eq(weft_spawn(pi_a, NULL, &a), 0);
  ck_assert_int_eq(weft_spawn(pi_b, NULL, &b), 0);
  ck_assert_int_eq(weft_spawn(pi_t, NULL, &t), 0);
  join_task(t, 0);
  join_task(b, 0);
  join_task(a, 0);
  ck_assert_int_eq(weft_sleep(0), 0); /* D's pass */
  ck_assert_int_eq(weft_sleep(0), 0);
  return 0;
}

START_TEST(inline_poll_begins_its_pass) {
  const char *backend = NULL;
  ntrace = 0;
  trace[0] = 0;
  ck_assert_int_eq(run_main(1, inline_poll_main, &backend, NULL), 0);
  ck_assert_ptr_nonnull(backend);
  ck_assert_str_eq(trace, strcmp(backend, "io_uring") == 0 ? "TABCaD" : "AaBTCD");
}
END_TEST

/* ---- a yield whose switch ends a task cancelled before its first step ------
 * CPython prints "123%" for:
 *     async def c(): t = create_task(d()); t.cancel(); await t (except: '%')
 *     async def y(): '1'; await sleep(0); '2'; await sleep(0); '3'
 *     main: create_task(y()); create_task(c())
 * In the second pass y's yield queues y again, then d's cancelled first
 * step runs and queues c's wake-up behind it. y's switch out picks d and
 * ends it on the spot, waking c: done before y was queued again, c went
 * first ("12%3"; worker.c, settle_first). */

static int nd_d(void *arg, void **res) {
  note('d'); /* never runs: cancelled before its first step */
  return 0;
}

static int nd_c(void *arg, void **res) {
  weft_task_t *d;
  ck_assert_int_eq(weft_spawn(nd_d, NULL, &d), 0);
  ck_assert_int_eq(weft_task_cancel(d, NULL), 1);
  join_task(d, -ECANCELED);
  note('%');
  return 0;
}

static int nd_y(void *arg, void **res) {
  note('1');
  ck_assert_int_eq(weft_yield(), 0);
  note('2');
  ck_assert_int_eq(weft_yield(), 0);
  note('3');
  return 0;
}

static int cancelled_start_main(void *arg, void **res) {
  weft_task_t *c, *y;
  ck_assert_int_eq(weft_spawn(nd_y, NULL, &y), 0);
  ck_assert_int_eq(weft_spawn(nd_c, NULL, &c), 0);
  join_task(c, 0);
  join_task(y, 0);
  return 0;
}

START_TEST(yield_ahead_of_a_cancelled_start_it_ends) {
  expect_trace(cancelled_start_main, NULL, "123%");
}
END_TEST

/* ---- a wait that begins with a cancellation pending ------------------------
 * CPython prints "apb#c" for each of
 *     async def t(): 'p'; current_task().cancel(); await WAIT (except: '#')
 *     main: create_task(t()); 'a'; await sleep(0); 'b'; await sleep(0); 'c'
 * with WAIT a pending future, an Event not set, an empty Queue's get, a
 * held Lock, a Semaphore with no permit or a sleep: the pending cancel
 * cancels the waiter's future, and the task raises a pass later. weft
 * returned at once ("ap#bc"). A free Lock is taken without a suspension,
 * the cancellation left pending ("apxbc"). */

enum pend_wait { PW_FUTURE, PW_EVENT, PW_QUEUE, PW_LOCK_HELD, PW_SEM, PW_SLEEP, PW_LOCK_FREE, PW_N };
static weft_future_t *pw_future;
static weft_event_t *pw_event;
static weft_queue_t *pw_queue;
static weft_lock_t *pw_lock;
static weft_sem_t *pw_sem;

static int pw_task(void *arg, void **res) {
  note('p');
  ck_assert_int_eq(weft_task_cancel(weft_task_current(), NULL), 1);
  void *item;
  int rc = 0;
  switch ((enum pend_wait)(intptr_t)arg) {
  case PW_FUTURE: rc = weft_await(pw_future, NULL); break;
  case PW_EVENT: rc = weft_event_wait(pw_event, -1); break;
  case PW_QUEUE: rc = weft_queue_get(pw_queue, &item, -1); break;
  case PW_LOCK_HELD: rc = weft_lock_acquire(pw_lock, -1); break;
  case PW_SEM: rc = weft_sem_acquire(pw_sem, -1); break;
  case PW_SLEEP: rc = weft_sleep(10); break;
  case PW_LOCK_FREE:
    ck_assert_int_eq(weft_lock_acquire(pw_lock, -1), 0);
    note('x');
    ck_assert_int_eq(weft_lock_release(pw_lock), 0);
    return 0; /* ends cancelled: the request was never delivered */
  default: break;
  }
  ck_assert_int_eq(rc, -ECANCELED);
  note('#');
  return rc;
}

static int pending_wait_main(void *arg, void **res) {
  enum pend_wait what = (enum pend_wait)(intptr_t)arg;
  ck_assert_int_eq(weft_future_new(NULL, &pw_future), 0);
  ck_assert_int_eq(weft_event_create(&pw_event), 0);
  ck_assert_int_eq(weft_queue_create(WEFT_QUEUE_FIFO, 4, NULL, &pw_queue), 0);
  ck_assert_int_eq(weft_lock_create(&pw_lock), 0);
  ck_assert_int_eq(weft_sem_create(0, 0, &pw_sem), 0);
  if (what == PW_LOCK_HELD) ck_assert_int_eq(weft_lock_acquire(pw_lock, -1), 0);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(pw_task, arg, &t), 0);
  note('a');
  ck_assert_int_eq(weft_yield(), 0);
  note('b');
  ck_assert_int_eq(weft_yield(), 0);
  note('c');
  join_task(t, -ECANCELED);
  if (what == PW_LOCK_HELD) ck_assert_int_eq(weft_lock_release(pw_lock), 0);
  ck_assert_int_eq(weft_future_cancelled(pw_future), what == PW_FUTURE);
  weft_future_release(pw_future);
  ck_assert_int_eq(weft_event_destroy(pw_event), 0);
  ck_assert_int_eq(weft_queue_destroy(pw_queue), 0);
  ck_assert_int_eq(weft_lock_destroy(pw_lock), 0);
  ck_assert_int_eq(weft_sem_destroy(pw_sem), 0);
  return 0;
}

START_TEST(pending_cancel_ends_a_wait_a_pass_later) {
  for (int what = 0; what < PW_N; what++) {
    expect_trace(pending_wait_main, (void *)(intptr_t)what, what == PW_LOCK_FREE ? "apxbc" : "apb#c");
  }
}
END_TEST

/* ---- run_until_complete ----------------------------------------------------- */

static int stop_then_sleep(void *arg, void **res) {
  weft_loop_stop(weft_loop_current());
  return weft_sleep(3600);
}

static int ret7(void *arg, void **res) {
  *res = (void *)7;
  return 0;
}

START_TEST(run_until_complete_cases) {
  weft_loop_t *loop = make_loop(2), *other = make_loop(1);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn_opts(loop, stop_then_sleep, NULL, NULL, &t), 0);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), NULL), WEFT_ESTOPPED);
  ck_assert_int_eq(weft_loop_run_until_complete(other, weft_task_future(t), NULL), -EINVAL);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, NULL, NULL), -EINVAL);
  weft_task_release(t);
  /* An already-done future still gives one pass, then its result. */
  ck_assert_int_eq(weft_spawn_opts(loop, ret7, NULL, NULL, &t), 0);
  void *r;
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), &r), 0);
  ck_assert_ptr_eq(r, (void *)7);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), &r), 0);
  weft_task_release(t);
  close_clean(loop); /* cancels the sleeper */
  close_clean(other);
}
END_TEST

/* ---- a lone task yielding (worker.c, yield_in_place) -------------------------------
 * A task that yields with nothing else queued goes on without a switch
 * when the next pass would hold only it; what that pass takes in must
 * still come in behind it: a timer due, work from another thread, an I/O
 * completion. Each loop is bounded: reaching the bound means it never
 * came in. */

static long yields_until_seen(void) {
  long n = 0;
  while (!atomic_load(&seen) && n < CHAIN_MAX) {
    ck_assert_int_eq(weft_yield(), 0);
    n++;
  }
  return n;
}

static int lone_timer_main(void *arg, void **res) {
  atomic_store(&seen, false);
  ck_assert_int_eq(weft_call_later(0, cb_seen, NULL, NULL), 0);
  /* CPython (call_later(0), then await sleep(0) until the callback ran)
   * counts 2: the timer runs after the task's next step. Several workers
   * (arg): not asyncio's order, only that it comes in (yield_on). */
  long n = yields_until_seen();
  if (arg)
    ck_assert_int_lt(n, CHAIN_MAX);
  else
    ck_assert_int_eq(n, 2);
  return 0;
}

static int lone_threadsafe_main(void *arg, void **res) {
  atomic_store(&seen, false);
  post_pinned = false;
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, post_from_thread, weft_loop_current()), 0);
  long n = yields_until_seen();
  pthread_join(th, NULL);
  ck_assert_int_lt(n, CHAIN_MAX);
  return 0;
}

static int lone_io_main(void *arg, void **res) {
  struct pending_read pr;
  pending_read_start(&pr); /* then we are alone */
  ck_assert_int_eq(write(pr.p[1], "x", 1), 1);
  ck_assert_int_lt(yields_until_seen(), CHAIN_MAX);
  pending_read_finish(&pr);
  return 0;
}

START_TEST(lone_yield_takes_in_timers_threads_and_io) {
  ck_assert_int_eq(run_main(1, lone_timer_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(1, lone_threadsafe_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(1, lone_io_main, NULL, NULL), 0);
}
END_TEST

/* The same on loops of several workers (worker.c, yield_on): a lone task
 * yielding there goes on in place too, and the pass it makes on its own
 * stack must take in the same. */
START_TEST(lone_yield_on_several_workers_takes_in_timers_threads_and_io) {
  for (unsigned w = 2; w <= 4; w += 2) {
    ck_assert_int_eq(run_main(w, lone_timer_main, (void *)1, NULL), 0);
    ck_assert_int_eq(run_main(w, lone_threadsafe_main, NULL, NULL), 0);
    ck_assert_int_eq(run_main(w, lone_io_main, NULL, NULL), 0);
  }
}
END_TEST

/* stop() at the boundaries these paths skip: the pass that called it ends
 * and the loop stops, and what was queued runs in the next run. */

static int stopping_link(void *arg, void **res) {
  long k = (long)arg;
  note((char)('0' + k));
  if (k == 3 || k == 6) ck_assert_int_eq(weft_loop_stop(weft_loop_current()), 0);
  return k < 6 ? weft_spawn(stopping_link, (void *)(k + 1), NULL) : 0;
}

static int stopping_lone(void *arg, void **res) {
  note('a');
  ck_assert_int_eq(weft_loop_stop(weft_loop_current()), 0);
  ck_assert_int_eq(weft_yield(), 0);
  note('b');
  return weft_loop_stop(weft_loop_current());
}

START_TEST(stop_between_one_task_passes_and_lone_yields) {
  /* CPython (the same chain and task, loop.stop() where these call it,
   * run_forever between the bars) prints 0123|456|a|b. */
  weft_loop_t *loop = make_loop(1);
  ntrace = 0;
  ck_assert_int_eq(weft_spawn_opts(loop, stopping_link, (void *)0L, NULL, NULL), 0);
  ck_assert_int_eq(weft_loop_run_forever(loop), 0);
  note('|');
  ck_assert_int_eq(weft_loop_run_forever(loop), 0);
  note('|');
  ck_assert_int_eq(weft_spawn_opts(loop, stopping_lone, NULL, NULL, NULL), 0);
  ck_assert_int_eq(weft_loop_run_forever(loop), 0);
  note('|');
  ck_assert_int_eq(weft_loop_run_forever(loop), 0);
  ck_assert_str_eq(trace, "0123|456|a|b");
  close_clean(loop);
}
END_TEST

START_TEST(fifo_loop_runs_work_pinned_from_another_thread) {
  /* Several workers in FIFO order, a task pinned to each from outside the
   * loop (each worker's inbox, which only that worker takes): a pass's
   * batch counts such work too (it once did not, and the worker spun). */
  weft_loop_t *loop = make_loop_order(2, WEFT_ORDER_FIFO);
  for (int wk = 0; wk < 2; wk++) {
    struct weft_task_opts o;
    weft_task_opts_init(&o);
    o.worker = wk;
    weft_task_t *t;
    ck_assert_int_eq(weft_spawn_opts(loop, ret7, NULL, &o, &t), 0);
    void *r = NULL;
    ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), &r), 0);
    ck_assert_ptr_eq(r, (void *)7);
    weft_task_release(t);
  }
  close_clean(loop);
}
END_TEST

/* ---- busy and closed ------------------------------------------------------------- */

static int nested_main(void *arg, void **res) {
  weft_loop_t *loop = weft_loop_current();
  ck_assert_ptr_nonnull(loop);
  ck_assert_int_eq(weft_loop_is_running(loop), 1);
  ck_assert_int_eq(weft_loop_run_forever(loop), -EBUSY);
  ck_assert_int_eq(weft_loop_close(loop), -EBUSY);
  ck_assert_int_eq(weft_run(ret7, NULL, NULL), -EBUSY);
  ck_assert_int_ge(weft_worker_index(), 0);
  return 0;
}

START_TEST(running_loop_refuses_nesting_and_close) {
  ck_assert_int_eq(run_main(2, nested_main, NULL, NULL), 0);
}
END_TEST

START_TEST(closed_loop_refuses_work) {
  weft_loop_t *loop = make_loop(1);
  weft_future_t *f;
  ck_assert_int_eq(weft_future_new(loop, &f), 0);
  /* A reference the user still holds is reported, and stays usable. */
  ck_assert_int_eq(weft_loop_close(loop), 1);
  ck_assert_int_eq(weft_loop_close(loop), 0);
  ck_assert_int_eq(weft_loop_is_closed(loop), 1);
  ck_assert_int_eq(weft_future_set_result(f, (void *)1), 0);
  weft_future_release(f); /* frees the loop's memory too */
}
END_TEST

START_TEST(closed_loop_errors) {
  weft_loop_t *loop = make_loop(1);
  close_clean(loop);
  /* The struct is freed; only a fresh closed-but-referenced loop can be
   * queried safely. */
  loop = make_loop(1);
  weft_future_t *f;
  ck_assert_int_eq(weft_future_new(loop, &f), 0);
  ck_assert_int_eq(weft_loop_close(loop), 1);
  ck_assert_int_eq(weft_loop_run_forever(loop), WEFT_ECLOSED);
  ck_assert_int_eq(weft_loop_stop(loop), WEFT_ECLOSED);
  ck_assert_int_eq(weft_spawn_opts(loop, ret7, NULL, NULL, NULL), WEFT_ECLOSED);
  ck_assert_int_eq(weft_call_soon_threadsafe(loop, cb_b, NULL, NULL), WEFT_ECLOSED);
  weft_future_t *g;
  ck_assert_int_eq(weft_future_new(loop, &g), WEFT_ECLOSED);
  weft_future_release(f);
}
END_TEST

/* ---- close cancels pending work --------------------------------------------- */

static _Atomic int cleanup_seen, wait_started;

static int wait_forever(void *arg, void **res) {
  atomic_fetch_add(&wait_started, 1);
  weft_future_t *f;
  weft_future_new(NULL, &f);
  int rc = weft_await(f, NULL);
  /* While the loop closes, every suspension fails at once. */
  if (rc == -ECANCELED && weft_sleep(10) == -ECANCELED) atomic_fetch_add(&cleanup_seen, 1);
  weft_future_release(f);
  return rc;
}

static void never(void *arg) { ck_abort_msg("a callback ran during close"); }

START_TEST(close_cancels_and_frees_pending_work) {
  for (unsigned w = 1; w <= 3; w += 2) {
    weft_loop_t *loop = make_loop(w);
    atomic_store(&cleanup_seen, 0);
    atomic_store(&wait_started, 0);
    weft_task_t *t;
    for (int i = 0; i < 10; i++) weft_spawn_opts(loop, wait_forever, NULL, NULL, NULL);
    ck_assert_int_eq(weft_spawn_opts(loop, stop_then_sleep, NULL, NULL, &t), 0);
    weft_loop_run_until_complete(loop, weft_task_future(t), NULL);
    weft_task_release(t);
    weft_call_soon_threadsafe(loop, never, NULL, NULL);
    close_clean(loop);
    /* Every task that started ran its cleanup; the others never ran (a task
     * cancelled before its first step), as one worker's FIFO shows: all 10. */
    ck_assert_int_eq(atomic_load(&cleanup_seen), atomic_load(&wait_started));
    if (w == 1) ck_assert_int_eq(atomic_load(&wait_started), 10);
  }
}
END_TEST

/* ---- weft_run ---------------------------------------------------------------- */

static _Atomic int leftover_cancelled;

static int leftover(void *arg, void **res) {
  weft_future_set_result(arg, NULL); /* sleeping from here on */
  if (weft_sleep(3600) == -ECANCELED) atomic_store(&leftover_cancelled, 1);
  return 0;
}

static int run_main_fn(void *arg, void **res) {
  weft_future_t *started;
  weft_future_new(NULL, &started);
  weft_spawn(leftover, started, NULL);
  weft_await(started, NULL);
  weft_future_release(started);
  *res = (void *)99;
  return 0;
}

static int fails(void *arg, void **res) { return -ENOENT; }

START_TEST(weft_run_cancels_leftovers) {
  void *r;
  ck_assert_int_eq(weft_run(run_main_fn, NULL, &r), 0);
  ck_assert_ptr_eq(r, (void *)99);
  ck_assert_int_eq(atomic_load(&leftover_cancelled), 1);
  ck_assert_int_eq(weft_run(fails, NULL, NULL), -ENOENT);
  ck_assert_int_eq(weft_run(NULL, NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(exception_handler_default_and_custom) {
  weft_loop_t *loop = make_loop(1);
  struct weft_exception_context ctx = {.message = "test message", .error = -EIO};
  weft_loop_call_exception_handler(loop, &ctx); /* default: prints to stderr */
  ck_assert_int_eq(weft_loop_set_exception_handler(NULL, NULL, NULL), -EINVAL);
  close_clean(loop);
}
END_TEST

/* ---- CPU pinning ------------------------------------------------------------ */

static _Atomic int pinned_ok, pinned_seen;

static int check_affinity(void *arg, void **res) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    atomic_fetch_add(&pinned_seen, 1);
    if (CPU_COUNT(&set) == 1) atomic_fetch_add(&pinned_ok, 1);
  }
  return weft_yield();
}

static int pin_main(void *arg, void **res) {
  spawn_and_join(check_affinity, NULL, 64);
  return 0;
}

START_TEST(pinned_workers_run_on_one_cpu_each) {
  cpu_set_t before, after;
  ck_assert_int_eq(sched_getaffinity(0, sizeof before, &before), 0);
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 2;
  cfg.pin_workers = 1;
  weft_loop_t *loop;
  ck_assert_int_eq(weft_loop_new(&cfg, &loop), 0);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn_opts(loop, pin_main, NULL, NULL, &t), 0);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), NULL), 0);
  weft_task_release(t);
  close_clean(loop);
  ck_assert_int_eq(atomic_load(&pinned_ok), atomic_load(&pinned_seen));
  ck_assert_int_ge(atomic_load(&pinned_seen), 64);
  /* The calling thread was worker 0: its own affinity is back. */
  ck_assert_int_eq(sched_getaffinity(0, sizeof after, &after), 0);
  ck_assert(CPU_EQUAL(&before, &after));
}
END_TEST

/* ---- weft_run reports what fails while it cancels leftovers -------------------- */

static char shut_reports[4][160];
static _Atomic int nshut_reports;

static void shut_handler(weft_loop_t *loop, const struct weft_exception_context *ctx, void *arg) {
  int i = atomic_fetch_add(&nshut_reports, 1);
  if (i < 4)
    snprintf(shut_reports[i], sizeof shut_reports[i], "%s|%s|%s|%s", ctx->message,
             weft_err_name(ctx->error), ctx->error_msg ? ctx->error_msg : "",
             ctx->task_name ? ctx->task_name : "");
}

static int fails_on_cancel(void *arg, void **res) {
  weft_future_set_result(arg, NULL);
  if (weft_sleep(3600) == -ECANCELED) return weft_fail(-EIO, "cleanup failed");
  return 0;
}

static int shutdown_main(void *arg, void **res) {
  weft_loop_set_exception_handler(weft_loop_current(), shut_handler, NULL);
  weft_future_t *started;
  ck_assert_int_eq(weft_future_new(NULL, &started), 0);
  struct weft_task_opts o;
  weft_task_opts_init(&o);
  o.name = "stubborn";
  ck_assert_int_eq(weft_spawn_opts(NULL, fails_on_cancel, started, &o, NULL), 0); /* detached */
  ck_assert_int_eq(weft_await(started, NULL), 0);
  weft_future_release(started);
  return 0;
}

START_TEST(weft_run_reports_failures_during_shutdown) {
  for (unsigned w = 1; w <= 4; w += 3) {
    atomic_store(&nshut_reports, 0);
    struct weft_loop_config cfg;
    weft_loop_config_init(&cfg);
    cfg.workers = w;
    ck_assert_int_eq(weft_run_config(&cfg, shutdown_main, NULL, NULL), 0);
    /* Once, with asyncio.run's words; retrieved, so never "never retrieved". */
    ck_assert_int_eq(atomic_load(&nshut_reports), 1);
    ck_assert_str_eq(shut_reports[0],
                     "unhandled exception during asyncio.run() shutdown|EIO|cleanup failed|stubborn");
  }
}
END_TEST

/* ---- the default handler prints asyncio's words -------------------------------- */

static void default_report_into(char *buf, size_t len, const struct weft_exception_context *ctx) {
  fflush(stderr);
  int saved = dup(2);
  FILE *tmp = tmpfile();
  ck_assert_ptr_nonnull(tmp);
  dup2(fileno(tmp), 2);
  weft_loop_default_exception_handler(NULL, ctx);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  rewind(tmp);
  size_t n = fread(buf, 1, len - 1, tmp);
  buf[n] = 0;
  fclose(tmp);
}

static int failed_named(void *arg, void **res) { return weft_fail(-EIO, "disk 3"); }

START_TEST(default_handler_speaks_asyncio) {
  char out[512];
  struct weft_exception_context ctx = {.error = -EIO};
  default_report_into(out, sizeof out, &ctx);
  ck_assert_str_eq(out, "Unhandled exception in event loop\nerror: EIO (Input/output error)\n");
  weft_loop_t *loop = make_loop(1);
  struct weft_task_opts o;
  weft_task_opts_init(&o);
  o.name = "doomed";
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn_opts(loop, failed_named, NULL, &o, &t), 0);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, weft_task_future(t), NULL), -EIO);
  struct weft_exception_context tctx = {.message = "Task exception was never retrieved",
                                        .error = -EIO,
                                        .error_msg = "disk 3",
                                        .future = weft_task_future(t),
                                        .task_name = weft_task_name(t)};
  default_report_into(out, sizeof out, &tctx);
  ck_assert_str_eq(out, "Task exception was never retrieved\n"
                        "task: <Task finished name='doomed' error=EIO (Input/output error) 'disk 3'>\n");
  weft_task_release(t);
  close_clean(loop);
}
END_TEST

/* ---- loop-taking call_soon/call_later/call_at before the loop runs ------------- */

/* Written from several workers at once: an atomic slot per note. */
static char atrace[16];
static _Atomic int natrace;
static void anote(char c) { atrace[atomic_fetch_add(&natrace, 1)] = c; }
static void cb_char(void *arg) { anote(*(const char *)arg); }

/* @arg: the loop's workers. With one, C (due at 10 ms) runs before the
 * 50 ms sleep ends, in its timer pass. With four, the callback a timer
 * pass queued may be taken by another worker whose thread is descheduled:
 * the half second lets it run before the task, and so the run, ends. */
static int sleeper_main(void *arg, void **res) {
  anote('m');
  ck_assert_int_eq(weft_sleep((uintptr_t)arg == 1 ? 0.05 : 0.5), 0);
  anote('M');
  *res = (void *)7;
  return 0;
}

START_TEST(loop_call_forms_before_run) {
  /* CPython 3.11-3.13 prints "7 ABmPCM" for the same program:
   *   loop.call_soon(A); loop.call_later(0.01, C); loop.call_soon(B);
   *   loop.call_at(loop.time() - 1, P); loop.run_until_complete(main()) */
  for (unsigned w = 1; w <= 4; w += 3) {
    weft_loop_t *loop = make_loop(w);
    atomic_store(&natrace, 0);
    ck_assert_int_eq(weft_loop_call_soon(loop, cb_char, "A", NULL), 0);
    ck_assert_int_eq(weft_loop_call_later(loop, 0.01, cb_char, "C", NULL), 0);
    ck_assert_int_eq(weft_loop_call_soon(loop, cb_char, "B", NULL), 0);
    weft_handle_t *h;
    ck_assert_int_eq(weft_loop_call_at(loop, weft_loop_time(loop) - 1, cb_char, "P", NULL), 0);
    ck_assert_int_eq(weft_loop_call_later(loop, 0.001, cb_char, "x", &h), 0);
    ck_assert_int_eq(weft_handle_cancel(h), 1); /* cancellable before the run too */
    weft_handle_release(h);
    void *r = NULL;
    ck_assert_int_eq(weft_loop_run_task(loop, sleeper_main, (void *)(uintptr_t)w, &r), 0);
    ck_assert_ptr_eq(r, (void *)7);
    ck_assert_int_eq(atomic_load(&natrace), 6); /* the run's end orders the notes before us */
    atrace[6] = 0;
    if (w == 1) ck_assert_str_eq(atrace, "ABmPCM");
    ck_assert_int_eq(weft_loop_call_soon(NULL, cb_char, "x", NULL), -EINVAL);
    ck_assert_int_eq(weft_loop_call_later(loop, NAN, cb_char, "x", NULL), -EINVAL);
    ck_assert_int_eq(weft_loop_run_task(loop, NULL, NULL, NULL), -EINVAL);
    close_clean(loop); /* freed: using it after close is issue 10's (lifetimes) */
  }
}
END_TEST

static weft_loop_t *foreign_loop;
static _Atomic int foreign_rc;

static void *call_from_foreign(void *arg) {
  atomic_store(&foreign_rc, weft_loop_call_soon(foreign_loop, cb_char, "x", NULL));
  return NULL;
}

static int refuse_foreign_main(void *arg, void **res) {
  /* From a foreign thread while the loop runs: refused (use _threadsafe). */
  foreign_loop = weft_loop_current();
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, call_from_foreign, NULL), 0);
  pthread_join(th, NULL);
  ck_assert_int_eq(atomic_load(&foreign_rc), -EPERM);
  /* From a worker of the loop: a plain call_soon, in order. */
  ck_assert_int_eq(weft_loop_call_soon(weft_loop_current(), cb_char, "1", NULL), 0);
  ck_assert_int_eq(weft_loop_call_later(weft_loop_current(), 0, cb_char, "2", NULL), 0);
  ck_assert_int_eq(weft_loop_run_task(weft_loop_current(), ret7, NULL, NULL), -EBUSY);
  ck_assert_int_eq(weft_sleep(0.01), 0);
  return 0;
}

START_TEST(loop_call_forms_from_threads) {
  atomic_store(&natrace, 0);
  ck_assert_int_eq(run_main(1, refuse_foreign_main, NULL, NULL), 0);
  atrace[atomic_load(&natrace)] = 0;
  ck_assert_str_eq(atrace, "12");
}
END_TEST

/* ---- stop() with several workers: what was ready runs, what came after waits ---- */

static _Atomic int stop_trace_n;
static char stop_trace[16];
static void stop_note(void *arg) { stop_trace[atomic_fetch_add(&stop_trace_n, 1)] = *(const char *)arg; }
static int stop_note_task(void *arg, void **res) {
  stop_note(arg);
  return 0;
}

static int stopper_task(void *arg, void **res) {
  ck_assert_int_eq(weft_call_later(0.001, stop_note, "P", NULL), 0);
  ck_assert_int_eq(weft_call_soon(stop_note, "a", NULL), 0);
  struct timespec ts = {0, 3 * 1000000}; /* the timer falls due while we hold the worker */
  nanosleep(&ts, NULL);
  ck_assert_int_eq(weft_loop_stop(weft_loop_current()), 0);
  ck_assert_int_eq(weft_call_soon(stop_note, "y", NULL), 0);
  ck_assert_int_eq(weft_spawn(stop_note_task, "t", NULL), 0); /* would take the LIFO slot */
  return 0;
}

static bool traced(char c) {
  for (int i = 0; i < atomic_load(&stop_trace_n); i++)
    if (stop_trace[i] == c) return true;
  return false;
}

START_TEST(stop_with_several_workers) {
  for (int round = 0; round < (int)scaled(200); round++) {
    for (unsigned w = 1; w <= 4; w += 3) {
      weft_loop_t *loop = make_loop(w);
      atomic_store(&stop_trace_n, 0);
      ck_assert_int_eq(weft_spawn_opts(loop, stopper_task, NULL, NULL, NULL), 0);
      ck_assert_int_eq(weft_loop_run_forever(loop), 0);
      if (w == 1) {
        /* asyncio's exact rule: the pass ends; all of it was scheduled during it. */
        ck_assert_int_eq(atomic_load(&stop_trace_n), 0);
      } else {
        /* Ready when stop() was called (a, and the due timer P) ran; what
         * was scheduled after it (y, t) waits for the next run. */
        ck_assert(traced('a') && traced('P'));
        ck_assert(!traced('y') && !traced('t'));
        ck_assert_int_eq(atomic_load(&stop_trace_n), 2);
      }
      ck_assert_int_eq(weft_loop_stop(loop), 0);
      ck_assert_int_eq(weft_loop_run_forever(loop), 0);
      ck_assert_int_eq(atomic_load(&stop_trace_n), 4);
      stop_trace[4] = 0;
      if (w == 1) ck_assert_str_eq(stop_trace, "aytP"); /* CPython prints the same */
      else ck_assert(traced('y') && traced('t'));
      close_clean(loop);
    }
  }
}
END_TEST

/* ---- foreign threads racing with close (issue 10: object lifetimes) ------------- */

struct feeder {
  weft_loop_t *loop;
  _Atomic int calls, refused, ended;
};

static int answer(void *arg, void **res) {
  *res = arg;
  return weft_sleep_ns(100000); /* a suspension point: close's cancellation reaches it */
}

static void noop_cb(void *arg) {}

static void *feed_until_closed(void *arg) {
  struct feeder *fd = arg;
  for (;;) {
    weft_future_t *f;
    int rc = weft_run_threadsafe(fd->loop, answer, (void *)1, &f);
    int rc2 = weft_call_soon_threadsafe(fd->loop, noop_cb, NULL, NULL);
    atomic_fetch_add(&fd->calls, 1);
    if (rc == 0) {
      /* Every task that was accepted ends: with its value, or cancelled by close. */
      int out = weft_future_wait_threadsafe(f, -1, NULL);
      ck_assert(out == 0 || out == -ECANCELED);
      atomic_fetch_add(&fd->ended, 1);
      weft_future_release(f);
    }
    if (rc == WEFT_ECLOSED && rc2 == WEFT_ECLOSED) break;
    ck_assert(rc == 0 || rc == WEFT_ECLOSED);
  }
  atomic_fetch_add(&fd->refused, 1);
  /* The loop's memory is still ours to name: every call says closed. */
  ck_assert_int_eq(weft_loop_is_closed(fd->loop), 1);
  ck_assert_int_eq(weft_loop_stop(fd->loop), WEFT_ECLOSED);
  ck_assert_int_eq(weft_spawn_opts(fd->loop, answer, NULL, NULL, NULL), WEFT_ECLOSED);
  weft_future_t *g;
  ck_assert_int_eq(weft_future_new(fd->loop, &g), WEFT_ECLOSED);
  ck_assert_int_eq(weft_loop_close(fd->loop), 0); /* closing again is harmless */
  weft_loop_release(fd->loop);               /* the last reference frees it */
  return NULL;
}

static int idle_main(void *arg, void **res) { return weft_sleep_ns(2 * 1000000); }

START_TEST(foreign_threads_racing_with_close) {
  for (int round = 0; round < (int)scaled(200); round++) {
    unsigned workers = round % 2 ? 4 : 1;
    weft_loop_t *loop = make_loop(workers);
    struct feeder fd = {.loop = weft_loop_ref(loop)};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, feed_until_closed, &fd), 0);
    weft_task_t *t;
    ck_assert_int_eq(weft_spawn_opts(loop, idle_main, NULL, NULL, &t), 0);
    weft_loop_run_until_complete(loop, weft_task_future(t), NULL);
    weft_task_release(t);
    int left = weft_loop_close(loop); /* races with the feeder's calls */
    ck_assert_int_ge(left, 0);        /* the feeder's reference, its futures: still out */
    pthread_join(th, NULL);
    ck_assert_int_eq(atomic_load(&fd.refused), 1);
  }
}
END_TEST

/* ---- SIGINT during weft_run (asyncio.Runner) ----------------------------------- */
#if !defined(__SANITIZE_THREAD__) /* TSan refuses new threads in a multi-threaded process's forked child */

static int main_rc;
static int interrupted_main(void *arg, void **res) {
  (void)res;
  bool stubborn = arg != NULL;
  kill(getpid(), SIGINT); /* the first: cancels this task */
  int rc = weft_sleep(30);
  main_rc = rc;
  if (stubborn && rc == -ECANCELED) {
    kill(getpid(), SIGINT); /* the second: not swallowed */
    weft_sleep(30);
    _exit(3); /* not reached: SIGINT's default action ends the process */
  }
  return rc;
}

/* Runs weft_run in a child process; returns its wait status. */
static int run_child(bool stubborn) {
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    signal(SIGINT, SIG_DFL); /* Check installs its own; a program starts with the default */
    int rc = weft_run(interrupted_main, stubborn ? (void *)1 : NULL, NULL);
    _exit(rc == -EINTR && main_rc == -ECANCELED ? 0 : 1);
  }
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  return status;
}

START_TEST(sigint_cancels_the_main_task) {
  int status = run_child(false);
  ck_assert(WIFEXITED(status));
  ck_assert_int_eq(WEXITSTATUS(status), 0); /* weft_run returned -EINTR */
  status = run_child(true);
  ck_assert(WIFSIGNALED(status));
  ck_assert_int_eq(WTERMSIG(status), SIGINT); /* the second one was not swallowed */
}
END_TEST
#endif

/* Writes that raise a signal whose default action ends the process, from
 * tasks on every worker: to a pipe whose reader is gone (EPIPE, SIGPIPE)
 * and past the file size limit (EFBIG, SIGXFSZ), each as a raw system
 * call and through the reactor. Each fails with its errno and none ends
 * the process, whose dispositions here are the defaults (Check would
 * report the signal). runtime/writesig.h. */
#define FSIZE_LIMIT 65536

/* A raw system call's errno, read where no suspension point is: a task
 * may resume on another worker, and the compiler may keep errno's address
 * from before one (weft/task.h). Returns -errno or the call's result. */
__attribute__((noinline)) static ssize_t raw_write(int fd, off_t at) {
  errno = 0;
  ssize_t n = at < 0 ? write(fd, "x", 1) : pwrite(fd, "x", 1, at);
  return n < 0 ? -errno : n;
}

static int failing_writer(void *arg, void **res) {
  (void)arg;
  (void)res;
  int p[2];
  ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
  close(p[0]);
  ck_assert_int_eq(raw_write(p[1], -1), -EPIPE);
  ck_assert_int_eq(weft_write(p[1], "x", 1), -EPIPE);
  ck_assert_int_eq(raw_write(p[1], -1), -EPIPE);
  close(p[1]);
  int fd = scratch_file();
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(raw_write(fd, FSIZE_LIMIT), -EFBIG);
  ck_assert_int_eq(weft_pwrite(fd, "x", 1, FSIZE_LIMIT), -EFBIG);
  ck_assert_int_eq(raw_write(fd, FSIZE_LIMIT), -EFBIG);
  close(fd);
  return 0;
}

static int failing_writes_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  weft_task_t *t[8];
  for (int i = 0; i < 8; i++) ck_assert_int_eq(weft_spawn(failing_writer, NULL, &t[i]), 0);
  ck_assert_int_eq(failing_writer(NULL, NULL), 0);
  for (int i = 0; i < 8; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(t[i]), NULL), 0);
    weft_task_release(t[i]);
  }
  return 0;
}

/* Whether @sig is in this thread's mask (@pending false) or pending. */
static bool sig_in(int sig, bool pending) {
  sigset_t set;
  sigemptyset(&set);
  if (!pending) ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &set), 0);
  else ck_assert_int_eq(sigpending(&set), 0);
  return sigismember(&set, sig) == 1;
}

/* The process's file size limit at FSIZE_LIMIT (the soft one; restored). */
static struct rlimit limit_file_size(void) {
  struct rlimit old, lim;
  ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
  lim = old;
  lim.rlim_cur = FSIZE_LIMIT;
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
  return old;
}

/* The caller's thread gets its mask back with neither signal pending. */
START_TEST(failing_writes_never_end_the_process) {
  ck_assert(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
  ck_assert(signal(SIGXFSZ, SIG_DFL) != SIG_ERR);
  struct rlimit old = limit_file_size();
  for (unsigned workers = 1; workers <= 4; workers += 3) {
    ck_assert_int_eq(run_main(workers, failing_writes_main, NULL, NULL), 0);
    ck_assert(!sig_in(SIGPIPE, false) && !sig_in(SIGXFSZ, false)); /* not blocked */
    ck_assert(!sig_in(SIGPIPE, true) && !sig_in(SIGXFSZ, true));   /* not pending */
  }
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
}
END_TEST

/* A caller that blocked SIGPIPE itself keeps it blocked, and the SIGPIPE
 * pending for it stays pending: the run leaves it alone, and still takes
 * back the SIGXFSZ it blocked. */
START_TEST(a_caller_blocking_sigpipe_keeps_its_own) {
  ck_assert(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
  ck_assert(signal(SIGXFSZ, SIG_DFL) != SIG_ERR);
  struct rlimit old = limit_file_size();
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, SIGPIPE);
  ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &one, NULL), 0);
  ck_assert_int_eq(pthread_kill(pthread_self(), SIGPIPE), 0);
  ck_assert(sig_in(SIGPIPE, true));
  ck_assert_int_eq(run_main(1, failing_writes_main, NULL, NULL), 0);
  ck_assert(sig_in(SIGPIPE, false));
  ck_assert(sig_in(SIGPIPE, true));
  ck_assert(!sig_in(SIGXFSZ, false) && !sig_in(SIGXFSZ, true));
  const struct timespec now = {0, 0};
  ck_assert_int_eq(sigtimedwait(&one, NULL, &now), SIGPIPE);
  ck_assert_int_eq(pthread_sigmask(SIG_UNBLOCK, &one, NULL), 0);
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("loop");
  TCase *tc = tcase_create("loop");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, config_errors);
  tcase_add_test(tc, stop_before_run_forever_runs_one_iteration);
  tcase_add_test(tc, stop_from_callback_finishes_the_batch);
  tcase_add_test(tc, one_worker_runs_in_asyncio_order);
  tcase_add_test(tc, yields_and_callbacks_interleave_in_asyncio_order);
  tcase_add_test(tc, one_worker_keeps_asyncio_order_past_the_ring);
  tcase_add_test(tc, chain_of_passes_runs_due_timers_in_asyncio_order);
  tcase_add_test(tc, chain_of_passes_takes_threadsafe_work);
  tcase_add_test(tc, chain_of_passes_sees_io_completions);
  tcase_add_test(tc, yield_before_io_in_next_pass);
  tcase_add_test(tc, inline_poll_begins_its_pass);
  tcase_add_test(tc, yield_ahead_of_a_cancelled_start_it_ends);
  tcase_add_test(tc, pending_cancel_ends_a_wait_a_pass_later);
  tcase_add_test(tc, run_until_complete_cases);
  tcase_add_test(tc, fifo_loop_runs_work_pinned_from_another_thread);
  tcase_add_test(tc, lone_yield_takes_in_timers_threads_and_io);
  tcase_add_test(tc, lone_yield_on_several_workers_takes_in_timers_threads_and_io);
  tcase_add_test(tc, stop_between_one_task_passes_and_lone_yields);
  tcase_add_test(tc, running_loop_refuses_nesting_and_close);
  tcase_add_test(tc, closed_loop_refuses_work);
  tcase_add_test(tc, closed_loop_errors);
  tcase_add_test(tc, close_cancels_and_frees_pending_work);
  tcase_add_test(tc, weft_run_cancels_leftovers);
  tcase_add_test(tc, exception_handler_default_and_custom);
  tcase_add_test(tc, pinned_workers_run_on_one_cpu_each);
  tcase_add_test(tc, weft_run_reports_failures_during_shutdown);
  tcase_add_test(tc, default_handler_speaks_asyncio);
  tcase_add_test(tc, loop_call_forms_before_run);
  tcase_add_test(tc, loop_call_forms_from_threads);
  tcase_add_test(tc, stop_with_several_workers);
  tcase_add_test(tc, foreign_threads_racing_with_close);
  tcase_add_test(tc, failing_writes_never_end_the_process);
  tcase_add_test(tc, a_caller_blocking_sigpipe_keeps_its_own);
#if !defined(__SANITIZE_THREAD__) /* TSan refuses new threads in a multi-threaded process's forked child */
  tcase_add_test(tc, sigint_cancels_the_main_task);
#endif
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
