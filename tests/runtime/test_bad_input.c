/* test_bad_input.c - every public function given NULL or out-of-range
 * arguments returns its documented error (or a harmless default) and
 * crashes nothing. Cross-cutting: one suite for the whole API surface. */
#include "helpers.h"

#include <errno.h>
#include <math.h>

START_TEST(runtime_and_tasks) {
  ck_assert_int_eq(weft_loop_new(NULL, NULL), -EINVAL);
  weft_loop_config_init(NULL);
  weft_task_opts_init(NULL);
  ck_assert_int_eq(weft_loop_close(NULL), -EINVAL);
  ck_assert_int_eq(weft_loop_run_forever(NULL), -EINVAL);
  ck_assert_int_eq(weft_loop_run_until_complete(NULL, NULL, NULL), -EINVAL);
  ck_assert_int_eq(weft_loop_stop(NULL), -EINVAL);
  ck_assert_int_eq(weft_loop_is_running(NULL), 0);
  ck_assert_int_eq(weft_loop_is_closed(NULL), 0);
  ck_assert_uint_eq(weft_loop_workers(NULL), 0);
  ck_assert_int_eq(weft_run(NULL, NULL, NULL), -EINVAL);
  ck_assert_int_eq(weft_run_config(NULL, NULL, NULL, NULL), -EINVAL);
  ck_assert_int_eq(weft_call_soon_threadsafe(NULL, NULL, NULL, NULL), -EINVAL);
  ck_assert_int_eq(weft_run_threadsafe(NULL, NULL, NULL, NULL), -EINVAL);
  ck_assert_int_eq(weft_handle_cancel(NULL), -EINVAL);
  ck_assert_int_eq(weft_handle_cancelled(NULL), 0);
  ck_assert(weft_handle_when(NULL) == -1.0);
  weft_handle_release(NULL);
  ck_assert_int_eq(weft_loop_set_exception_handler(NULL, NULL, NULL), -EINVAL);
  ck_assert_ptr_null(weft_loop_get_exception_handler(NULL, NULL));
  weft_loop_call_exception_handler(NULL, NULL);
  weft_loop_default_exception_handler(NULL, NULL);
  ck_assert_ptr_null(weft_task_future(NULL));
  ck_assert_ptr_null(weft_task_from_future(NULL));
  ck_assert_ptr_null(weft_task_ref(NULL));
  weft_task_release(NULL);
  ck_assert_int_eq(weft_task_cancel(NULL, NULL), -EINVAL);
  ck_assert_int_eq(weft_task_cancelling(NULL), -EINVAL);
  ck_assert_int_eq(weft_task_uncancel(NULL), -EINVAL);
  ck_assert_ptr_null(weft_task_name(NULL));
  ck_assert_int_eq(weft_task_set_name(NULL, "x"), -EINVAL);
  ck_assert_uint_eq(weft_task_id(NULL), 0);
  ck_assert_int_eq(weft_loop_tasks(NULL, NULL, NULL), -EINVAL);
  ck_assert_int_eq(weft_call_later(NAN, NULL, NULL, NULL), -EINVAL);
  ck_assert_int_eq(weft_call_at(-1, NULL, NULL, NULL), -EINVAL);
  ck_assert_int_eq(weft_sleep(INFINITY), -EPERM); /* outside a task, checked first */
  ck_assert_ptr_null(weft_future_ref(NULL));
  ck_assert_int_eq(weft_future_done(NULL), 0);
  ck_assert_int_eq(weft_future_cancelled(NULL), 0);
  ck_assert_int_eq(weft_future_result(NULL, NULL), -EINVAL);
  ck_assert_int_eq(weft_future_error(NULL, NULL), -EINVAL);
  ck_assert_int_eq(weft_future_set_error(NULL, -EIO, NULL), -EINVAL);
  ck_assert_int_eq(weft_await_timeout(NULL, 0, NULL), -EINVAL);
  ck_assert_ptr_null(weft_future_loop(NULL));
  ck_assert_ptr_nonnull(weft_strerror(12345678));
  ck_assert_ptr_nonnull(weft_err_name(-12345678));
}
END_TEST

START_TEST(sync_objects) {
  ck_assert_int_eq(weft_lock_create(NULL), -EINVAL);
  ck_assert_int_eq(weft_lock_destroy(NULL), -EINVAL);
  ck_assert_int_eq(weft_lock_try_acquire(NULL), -EINVAL);
  ck_assert_int_eq(weft_lock_release(NULL), -EINVAL);
  ck_assert_int_eq(weft_lock_locked(NULL), 0);
  ck_assert_int_eq(weft_event_create(NULL), -EINVAL);
  ck_assert_int_eq(weft_event_destroy(NULL), -EINVAL);
  ck_assert_int_eq(weft_event_set(NULL), -EINVAL);
  ck_assert_int_eq(weft_event_clear(NULL), -EINVAL);
  ck_assert_int_eq(weft_event_wait(NULL, 0), -EINVAL);
  ck_assert_int_eq(weft_event_is_set(NULL), 0);
  ck_assert_int_eq(weft_cond_create(NULL, NULL), -EINVAL);
  ck_assert_int_eq(weft_cond_destroy(NULL), -EINVAL);
  ck_assert_ptr_null(weft_cond_lock(NULL));
  ck_assert_int_eq(weft_cond_wait(NULL, 0), -EINVAL);
  ck_assert_int_eq(weft_cond_wait_for(NULL, NULL, NULL, 0), -EINVAL);
  ck_assert_int_eq(weft_cond_notify(NULL, 1), -EINVAL);
  ck_assert_int_eq(weft_cond_notify_all(NULL), -EINVAL);
  ck_assert_int_eq(weft_sem_create(0, 0, NULL), -EINVAL);
  ck_assert_int_eq(weft_sem_destroy(NULL), -EINVAL);
  ck_assert_int_eq(weft_sem_acquire(NULL, 0), -EINVAL);
  ck_assert_int_eq(weft_sem_try_acquire(NULL), -EINVAL);
  ck_assert_int_eq(weft_sem_release(NULL), -EINVAL);
  ck_assert_int_eq(weft_sem_locked(NULL), 0);
  ck_assert_int_eq(weft_sem_value(NULL), 0);
  ck_assert_int_eq(weft_barrier_create(1, NULL), -EINVAL);
  ck_assert_int_eq(weft_barrier_destroy(NULL), -EINVAL);
  ck_assert_int_eq(weft_barrier_wait(NULL, 0), -EINVAL);
  ck_assert_int_eq(weft_barrier_abort(NULL), -EINVAL);
  ck_assert_int_eq(weft_barrier_reset(NULL), -EINVAL);
  ck_assert_uint_eq(weft_barrier_parties(NULL), 0);
  ck_assert_uint_eq(weft_barrier_n_waiting(NULL), 0);
  ck_assert_int_eq(weft_barrier_broken(NULL), 0);
  ck_assert_int_eq(weft_queue_create(WEFT_QUEUE_FIFO, 0, NULL, NULL), -EINVAL);
  ck_assert_int_eq(weft_queue_destroy(NULL), -EINVAL);
  ck_assert_int_eq(weft_queue_put(NULL, NULL, 0), -EINVAL);
  ck_assert_int_eq(weft_queue_get(NULL, NULL, 0), -EINVAL);
  ck_assert_int_eq(weft_queue_put_nowait(NULL, NULL), -EINVAL);
  ck_assert_int_eq(weft_queue_get_nowait(NULL, NULL), -EINVAL);
  ck_assert_int_eq(weft_queue_put_threadsafe(NULL, NULL, 0), -EINVAL);
  ck_assert_int_eq(weft_queue_get_threadsafe(NULL, NULL, 0), -EINVAL);
  ck_assert_uint_eq(weft_queue_qsize(NULL), 0);
  ck_assert_uint_eq(weft_queue_maxsize(NULL), 0);
  ck_assert_int_eq(weft_queue_full(NULL), 0);
  ck_assert_int_eq(weft_queue_task_done(NULL), -EINVAL);
  ck_assert_int_eq(weft_queue_join(NULL, 0), -EINVAL);
  ck_assert_int_eq(weft_queue_shutdown(NULL, 0), -EINVAL);
  weft_queue_t *q;
  ck_assert_int_eq(weft_queue_create(WEFT_QUEUE_FIFO, 0, NULL, &q), 0);
  ck_assert_int_eq(weft_queue_get_nowait(q, NULL), -EINVAL);
  ck_assert_int_eq(weft_queue_destroy(q), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("bad_input");
  TCase *tc = tcase_create("bad_input");
  tcase_add_test(tc, runtime_and_tasks);
  tcase_add_test(tc, sync_objects);
  suite_add_tcase(s, tc);
  return s;
}
WEFT_TEST_MAIN(suite)
