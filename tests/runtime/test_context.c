/*
 * test_context.c - runtime/context.c (weft/context.h): values per task,
 * copied at spawn and not shared back; callbacks in the context they were
 * scheduled from; executor functions in the caller's; the exception
 * handler in the failing task's; tokens and reset; Context.copy/run. On 1
 * and 4 workers.
 */
#include "helpers.h"

#include <errno.h>

static weft_contextvar_t *req_id, *no_default;

static void make_vars(void) {
  if (req_id) return;
  ck_assert_int_eq(weft_contextvar_new("request_id", 1, (void *)-1, &req_id), 0);
  ck_assert_int_eq(weft_contextvar_new("user", 0, NULL, &no_default), 0);
}

static intptr_t get_id(void) {
  void *v = NULL;
  ck_assert_int_eq(weft_contextvar_get(req_id, &v), 0);
  return (intptr_t)v;
}

static int child(void *arg, void **res) {
  *res = (void *)get_id();             /* the spawner's value, copied */
  weft_contextvar_set(req_id, arg, NULL); /* ours alone */
  ck_assert_int_eq(get_id(), (intptr_t)arg);
  return 0;
}

static int copy_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  make_vars();
  ck_assert_int_eq(get_id(), -1); /* the default */
  void *v;
  ck_assert_int_eq(weft_contextvar_get(no_default, &v), -ENOENT); /* LookupError */
  weft_contextvar_token_t tok;
  ck_assert_int_eq(weft_contextvar_set(req_id, (void *)42, &tok), 0);
  weft_task_t *t[3];
  for (intptr_t i = 0; i < 3; i++) ck_assert_int_eq(weft_spawn(child, (void *)(100 + i), &t[i]), 0);
  for (int i = 0; i < 3; i++) {
    void *seen;
    ck_assert_int_eq(weft_await(weft_task_future(t[i]), &seen), 0);
    ck_assert_ptr_eq(seen, (void *)42);
    weft_task_release(t[i]);
  }
  ck_assert_int_eq(get_id(), 42); /* the children's sets stayed theirs */
  ck_assert_int_eq(weft_contextvar_reset(&tok), 0);
  ck_assert_int_eq(get_id(), -1);
  ck_assert_int_eq(weft_contextvar_reset(&tok), WEFT_EINVALSTATE); /* used */
  return 0;
}

START_TEST(copied_at_spawn) {
  ck_assert_int_eq(run_main(1, copy_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, copy_main, NULL, NULL), 0);
}
END_TEST

/* Callbacks run in the context current when they were scheduled. */
static weft_event_t *cb_done;
static intptr_t cb_saw;
static void cb(void *arg) {
  (void)arg;
  cb_saw = get_id();
  weft_event_set(cb_done);
}

static int to_thread_fn(void *arg, void **res) {
  (void)arg;
  *res = (void *)get_id(); /* on a pool thread, in the caller's context */
  return 0;
}

static int callbacks_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  make_vars();
  ck_assert_int_eq(weft_event_create(&cb_done), 0);
  weft_contextvar_set(req_id, (void *)7, NULL);
  ck_assert_int_eq(weft_call_soon(cb, NULL, NULL), 0);
  weft_contextvar_set(req_id, (void *)8, NULL); /* after scheduling: not seen */
  ck_assert_int_eq(weft_event_wait(cb_done, -1), 0);
  ck_assert_int_eq(cb_saw, 7);
  weft_event_clear(cb_done);
  ck_assert_int_eq(weft_call_later(0.001, cb, NULL, NULL), 0);
  ck_assert_int_eq(weft_event_wait(cb_done, -1), 0);
  ck_assert_int_eq(cb_saw, 8);
  void *seen;
  ck_assert_int_eq(weft_to_thread(to_thread_fn, NULL, &seen), 0);
  ck_assert_ptr_eq(seen, (void *)8);
  ck_assert_int_eq(weft_loop_shutdown_default_executor(weft_loop_current(), -1), 0);
  weft_event_destroy(cb_done);
  return 0;
}

START_TEST(callbacks_and_executors) {
  ck_assert_int_eq(run_main(1, callbacks_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, callbacks_main, NULL, NULL), 0);
}
END_TEST

/* The exception handler runs in the failing task's context. */
static intptr_t handler_saw;
static void handler(weft_loop_t *loop, const struct weft_exception_context *ctx, void *arg) {
  (void)loop;
  (void)ctx;
  (void)arg;
  handler_saw = get_id();
}

static int failing(void *arg, void **res) {
  (void)res;
  weft_contextvar_set(req_id, arg, NULL);
  return -EIO;
}

static int handler_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  make_vars();
  weft_loop_set_exception_handler(weft_loop_current(), handler, NULL);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(failing, (void *)555, &t), 0);
  weft_future_t *f = weft_task_future(t);
  ck_assert_int_eq(weft_wait(&f, 1, -1, WEFT_ALL_COMPLETED, NULL), 1); /* done, error not retrieved */
  handler_saw = 0;
  weft_task_release(t); /* never retrieved: reported now, in its context */
  ck_assert_int_eq(handler_saw, 555);
  ck_assert_int_eq(get_id(), -1); /* ours is untouched */
  return 0;
}

START_TEST(exception_handler_context) { ck_assert_int_eq(run_main(1, handler_main, NULL, NULL), 0); }
END_TEST

/* copy_context and Context.run; tokens from another context. */
static int in_ctx(void *arg, void **res) {
  *res = (void *)get_id();
  weft_contextvar_set(req_id, arg, NULL); /* goes into the context being run */
  return 0;
}

static weft_contextvar_token_t other_tok;
static int make_token(void *arg, void **res) {
  (void)arg;
  (void)res;
  weft_contextvar_set(req_id, (void *)1, &other_tok);
  return 0;
}

static int run_main_ctx(void *arg, void **res) {
  (void)arg;
  (void)res;
  make_vars();
  weft_contextvar_set(req_id, (void *)10, NULL);
  weft_context_t *c;
  ck_assert_int_eq(weft_context_copy(&c), 0);
  weft_contextvar_set(req_id, (void *)11, NULL); /* after the copy: not in it */
  void *r;
  ck_assert_int_eq(weft_context_run(c, in_ctx, (void *)12, &r), 0);
  ck_assert_ptr_eq(r, (void *)10);
  ck_assert_int_eq(get_id(), 11); /* ours is back */
  void *v;
  ck_assert_int_eq(weft_context_get(c, req_id, &v), 0);
  ck_assert_ptr_eq(v, (void *)12); /* the run's set stayed in c */
  weft_context_release(c);
  weft_task_t *t;
  ck_assert_int_eq(weft_spawn(make_token, NULL, &t), 0);
  ck_assert_int_eq(weft_await(weft_task_future(t), NULL), 0);
  weft_task_release(t);
  ck_assert_int_eq(weft_contextvar_reset(&other_tok), -EXDEV); /* made in another context */
  return 0;
}

START_TEST(copy_and_run) { ck_assert_int_eq(run_main(1, run_main_ctx, NULL, NULL), 0); }
END_TEST

START_TEST(outside_tasks) {
  make_vars();
  void *v;
  ck_assert_int_eq(weft_contextvar_get(req_id, &v), 0); /* this thread's own context */
  ck_assert_int_eq(weft_contextvar_set(req_id, (void *)3, NULL), 0);
  ck_assert_int_eq(get_id(), 3);
  ck_assert_int_eq(weft_contextvar_new(NULL, 0, NULL, &req_id), -EINVAL);
  ck_assert_int_eq(weft_contextvar_get(NULL, &v), -EINVAL);
  ck_assert_str_eq(weft_contextvar_name(req_id), "request_id");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("context");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, copied_at_spawn);
  tcase_add_test(tc, callbacks_and_executors);
  tcase_add_test(tc, exception_handler_context);
  tcase_add_test(tc, copy_and_run);
  tcase_add_test(tc, outside_tasks);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
