/* test_handle.c - runtime/handle.c: call_soon order, call_later/call_at order
 * and timing floor, cancel, a call_soon_threadsafe flood, and the runtime's
 * own calls left queued at close (a sure one runs, a plain one is dropped). */
#include "helpers.h"
#include "handle.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>

static char trace[64];
static int ntrace;
static void note(void *arg) {
  trace[ntrace++] = *(const char *)arg;
  trace[ntrace] = 0;
}

static int soon_main(void *arg, void **res) {
  weft_handle_t *h;
  ck_assert_int_eq(weft_call_soon(note, "a", NULL), 0);
  ck_assert_int_eq(weft_call_soon(note, "x", &h), 0);
  ck_assert_int_eq(weft_call_soon(note, "b", NULL), 0);
  ck_assert_int_eq(weft_handle_cancel(h), 1);
  ck_assert_int_eq(weft_handle_cancel(h), 0);
  ck_assert_int_eq(weft_handle_cancelled(h), 1);
  ck_assert(weft_handle_when(h) == -1.0); /* call_soon has no due time */
  weft_handle_release(h);
  ck_assert_int_eq(weft_call_soon(NULL, NULL, NULL), -EINVAL);
  weft_yield();
  ck_assert_str_eq(trace, "ab");
  return 0;
}

START_TEST(call_soon_order_and_cancel) {
  ntrace = 0;
  ck_assert_int_eq(weft_call_soon(note, "a", NULL), -EPERM);
  ck_assert_int_eq(run_main(1, soon_main, NULL, NULL), 0);
}
END_TEST

static uint64_t fired_at[3];

/* later_main's callbacks: with two workers they may run on either, at
 * once, so the trace is under a mutex, and the last of them sets
 * `all_fired`. */
static pthread_mutex_t timed_mu = PTHREAD_MUTEX_INITIALIZER;
static weft_event_t *all_fired;
static _Atomic int timed_left;

static void timed_done(void) {
  if (atomic_fetch_sub(&timed_left, 1) == 1) weft_event_set(all_fired);
}

static void note_timed(void *arg) {
  pthread_mutex_lock(&timed_mu);
  note(arg);
  pthread_mutex_unlock(&timed_mu);
  timed_done();
}

static void stamp(void *arg) {
  fired_at[(long)arg] = weft_now_ns();
  timed_done();
}

static int by_char(const void *a, const void *b) { return *(const char *)a - *(const char *)b; }

/* @arg: the loop's workers. With one, every callback runs in its due
 * order on the worker's one timer heap, before a sleep due after them
 * all ends (asyncio's order). With two, a callback queued by the timer
 * pass may be taken by the other worker and run late or out of order if
 * that thread is descheduled (weft_call_soon: exact order with one worker
 * only), so the task waits until all have run and checks each ran once,
 * the cancelled one never, none early. */
static int later_main(void *arg, void **res) {
  bool one_worker = (intptr_t)arg == 1;
  ck_assert_int_eq(weft_event_create(&all_fired), 0);
  atomic_store(&timed_left, 6); /* five notes and the stamp */
  uint64_t t0 = weft_now_ns();
  weft_handle_t *h;
  ck_assert_int_eq(weft_call_later(0.030, note_timed, "3", NULL), 0);
  ck_assert_int_eq(weft_call_later(0.010, note_timed, "1", NULL), 0);
  ck_assert_int_eq(weft_call_at(weft_loop_time(weft_loop_current()) + 0.020, note_timed, "2", NULL), 0);
  ck_assert_int_eq(weft_call_later(0.015, note_timed, "x", &h), 0);
  double due = weft_handle_when(h), now = weft_loop_time(weft_loop_current());
  ck_assert(due > now && due <= now + 0.016);
  ck_assert_int_eq(weft_call_later(0.010, stamp, (void *)0, NULL), 0);
  ck_assert_int_eq(weft_call_later(-1, note_timed, "0", NULL), 0); /* in the past: next pass */
  ck_assert_int_eq(weft_call_at(-1, note_timed, "0", NULL), 0);
  ck_assert_int_eq(weft_call_later(NAN, note_timed, "x", NULL), -EINVAL);
  ck_assert_int_eq(weft_call_at(NAN, note_timed, "x", NULL), -EINVAL);
  ck_assert_int_eq(weft_handle_cancel(h), 1); /* taken out of the heap at once */
  weft_handle_release(h);
  if (one_worker) {
    ck_assert_int_eq(weft_sleep(0.05), 0);
    ck_assert_int_eq(weft_event_is_set(all_fired), 1);
    ck_assert_str_eq(trace, "00123");
  } else {
    ck_assert_int_eq(weft_event_wait(all_fired, -1), 0);
    pthread_mutex_lock(&timed_mu);
    char sorted[sizeof trace];
    memcpy(sorted, trace, sizeof trace);
    pthread_mutex_unlock(&timed_mu);
    qsort(sorted, strlen(sorted), 1, by_char);
    ck_assert_str_eq(sorted, "00123");
  }
  ck_assert_uint_ge(fired_at[0] - t0, 10 * 1000000); /* never early */
  ck_assert_int_eq(weft_event_destroy(all_fired), 0);
  return 0;
}

START_TEST(call_later_fires_in_time_order) {
  ntrace = 0;
  ck_assert_int_eq(weft_call_later(1, note, "a", NULL), -EPERM);
  ck_assert_int_eq(run_main(1, later_main, (void *)1, NULL), 0);
  ntrace = 0;
  ck_assert_int_eq(run_main(2, later_main, (void *)2, NULL), 0);
}
END_TEST

START_TEST(pending_timer_is_freed_by_close) {
  weft_loop_t *loop = make_loop(1);
  ck_assert_int_eq(weft_call_soon_threadsafe(loop, note, "z", NULL), 0);
  close_clean(loop);
}
END_TEST

/* ---- foreign-thread flood ------------------------------------------------- */

#define THREADS 4
static long per_thread;
static _Atomic long calls;
static weft_future_t *flood_done;

static void count_call(void *arg) {
  if (atomic_fetch_add(&calls, 1) + 1 == THREADS * per_thread)
    weft_future_set_result(flood_done, NULL);
}

static void *flooder(void *arg) {
  weft_loop_t *loop = arg;
  for (long i = 0; i < per_thread; i++)
    ck_assert_int_eq(weft_call_soon_threadsafe(loop, count_call, NULL, NULL), 0);
  return NULL;
}

START_TEST(call_soon_threadsafe_flood) {
  per_thread = scaled(100000);
  atomic_store(&calls, 0);
  weft_loop_t *loop = make_loop(4);
  ck_assert_int_eq(weft_future_new(loop, &flood_done), 0);
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, flooder, loop);
  ck_assert_int_eq(weft_loop_run_until_complete(loop, flood_done, NULL), 0);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  ck_assert_int_eq(atomic_load(&calls), THREADS * per_thread);
  weft_future_release(flood_done);
  close_clean(loop);
}
END_TEST

/* ---- the runtime's own calls, still queued when the loop closes -----------
 * A call queued by weft__call_queue_sure runs even if close finds it in the
 * queue (executor.c queues one from a pool thread whose awaiting task may
 * be gone, so no round of close's runs it); a plain weft__call_queue's is
 * dropped, its object's rule. Queued here from outside a run, with no task
 * for close to run the loop for. */

struct counted_call {
  struct weft__call c;
  int ran;
  bool on_closing_thread;
};

static pthread_t test_thread;

static void count_run(struct weft__call *c) {
  struct counted_call *cc = (struct counted_call *)c;
  cc->ran++;
  cc->on_closing_thread = pthread_equal(pthread_self(), test_thread);
}

START_TEST(a_sure_call_runs_at_close) {
  test_thread = pthread_self();
  weft_loop_t *loop = make_loop(1);
  struct counted_call plain = {0}, sure = {0};
  ck_assert(weft__call_queue(loop, &plain.c, count_run));
  ck_assert(weft__call_queue_sure(loop, &sure.c, count_run));
  close_clean(loop);
  ck_assert_int_eq(plain.ran, 0);
  ck_assert_int_eq(sure.ran, 1);
  ck_assert(sure.on_closing_thread);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("handle");
  TCase *tc = tcase_create("handle");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, call_soon_order_and_cancel);
  tcase_add_test(tc, call_later_fires_in_time_order);
  tcase_add_test(tc, pending_timer_is_freed_by_close);
  tcase_add_test(tc, call_soon_threadsafe_flood);
  tcase_add_test(tc, a_sure_call_runs_at_close);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
