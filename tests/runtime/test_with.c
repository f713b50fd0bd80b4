/*
 * test_with.c - runtime/with.c and weft/with.h: WEFT_ASYNC_WITH enters,
 * runs the body, and always leaves (end of body, break, continue, return),
 * passes the body's rc to exit and takes exit's back; a failed enter skips
 * the body; the managers of Lock, Semaphore, Condition, TaskGroup, timeout
 * scopes, writers and servers; a user-defined manager. On 1 and 4 workers.
 */
#include "helpers.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

/* A user-defined manager that records what happened. */
struct probe {
  int entered, exited, body_rc_seen, fail_enter, exit_rc;
};
static int probe_enter(void *o) {
  struct probe *p = o;
  if (p->fail_enter) return p->fail_enter;
  p->entered++;
  return 0;
}
static int probe_exit(void *o, int rc) {
  struct probe *p = o;
  p->exited++;
  p->body_rc_seen = rc;
  return rc ? rc : p->exit_rc;
}
static const struct weft_acm probe_acm = {probe_enter, probe_exit};

static int returns_early(struct probe *p) {
  int rc;
  WEFT_ASYNC_WITH(rc, &probe_acm, p) {
    return 5; /* the manager is still left (cleanup) */
  }
  return rc;
}

static int user_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  struct probe p = {0};
  int rc, ran = 0;
  WEFT_ASYNC_WITH(rc, &probe_acm, &p) ran++;
  ck_assert_int_eq(ran, 1);
  ck_assert_int_eq(rc, 0);
  ck_assert_int_eq(p.entered, 1);
  ck_assert_int_eq(p.exited, 1);
  WEFT_ASYNC_WITH(rc, &probe_acm, &p) {
    rc = -EIO;
    break;
    ck_abort_msg("after break");
  }
  ck_assert_int_eq(rc, -EIO); /* the body's, through exit */
  ck_assert_int_eq(p.body_rc_seen, -EIO);
  ck_assert_int_eq(p.exited, 2);
  for (int i = 0; i < 3; i++) {
    WEFT_ASYNC_WITH(rc, &probe_acm, &p) {
      if (i == 1) continue; /* leaves the with, not the loop */
    }
  }
  ck_assert_int_eq(p.exited, 5);
  ck_assert_int_eq(returns_early(&p), 5);
  ck_assert_int_eq(p.exited, 6);
  p.exit_rc = -EPIPE; /* exit's own failure, with a clean body */
  WEFT_ASYNC_WITH(rc, &probe_acm, &p) {}
  ck_assert_int_eq(rc, -EPIPE);
  p.fail_enter = -EAGAIN;
  WEFT_ASYNC_WITH(rc, &probe_acm, &p) ck_abort_msg("body after a failed enter");
  ck_assert_int_eq(rc, -EAGAIN);
  ck_assert_int_eq(p.exited, 7); /* no exit without enter */
  return 0;
}

START_TEST(user_defined) { ck_assert_int_eq(run_main(1, user_main, NULL, NULL), 0); }
END_TEST

static int fails(void *arg, void **res) {
  (void)arg;
  (void)res;
  return -EIO;
}

static int objects_main(void *arg, void **res) {
  (void)arg;
  (void)res;
  int rc;
  weft_lock_t *l;
  ck_assert_int_eq(weft_lock_create(&l), 0);
  WEFT_ASYNC_WITH(rc, weft_acm_lock(), l) {
    ck_assert_int_eq(weft_lock_locked(l), 1);
    int inner;
    WEFT_ASYNC_WITH(inner, weft_acm_lock(), l) ck_abort_msg("re-entered a held lock");
    ck_assert_int_eq(inner, -EDEADLK); /* enter failed: nothing released */
    ck_assert_int_eq(weft_lock_locked(l), 1);
  }
  ck_assert_int_eq(rc, 0);
  ck_assert_int_eq(weft_lock_locked(l), 0);

  weft_sem_t *s;
  ck_assert_int_eq(weft_sem_create(1, 0, &s), 0);
  WEFT_ASYNC_WITH(rc, weft_acm_sem(), s) ck_assert_int_eq(weft_sem_locked(s), 1);
  ck_assert_int_eq(weft_sem_locked(s), 0);

  weft_cond_t *c;
  ck_assert_int_eq(weft_cond_create(NULL, &c), 0);
  WEFT_ASYNC_WITH(rc, weft_acm_cond(), c) {
    ck_assert_int_eq(weft_lock_locked(weft_cond_lock(c)), 1);
    ck_assert_int_eq(weft_cond_notify(c, 1), 0); /* needs the lock: we hold it */
  }
  ck_assert_int_eq(weft_lock_locked(weft_cond_lock(c)), 0);

  weft_taskgroup_t *g;
  WEFT_ASYNC_WITH(rc, weft_acm_taskgroup(), &g) {
    ck_assert_int_eq(weft_taskgroup_spawn(g, fails, NULL, NULL, NULL), 0);
  }
  ck_assert_int_eq(rc, WEFT_EGROUP); /* the child's failure, as an ExceptionGroup */
  ck_assert_int_eq(weft_taskgroup_destroy(g), 0);

  struct weft_timeout_with tw = {.timeout_ns = 1000000};
  WEFT_ASYNC_WITH(rc, weft_acm_timeout(), &tw) rc = weft_sleep(10);
  ck_assert_int_eq(rc, -ETIMEDOUT); /* asyncio.timeout's TimeoutError */

  int sv[2];
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  weft_reader_t *r;
  weft_writer_t *w;
  ck_assert_int_eq(weft_stream_open_fd(sv[0], sv[0], 0, &r, &w), 0);
  WEFT_ASYNC_WITH(rc, weft_acm_writer(), w) ck_assert_int_eq(weft_writer_write(w, "x", 1), 0);
  ck_assert_int_eq(rc, 0);
  ck_assert_int_eq(weft_writer_is_closing(w), 1); /* closed on the way out */
  char b[2];
  ck_assert_int_eq(read(sv[1], b, 2), 1); /* what was written got through */
  weft_writer_release(w);
  weft_reader_release(r);
  close(sv[1]);

  weft_lock_destroy(l);
  weft_sem_destroy(s);
  weft_cond_destroy(c);
  return 0;
}

START_TEST(weft_objects) {
  ck_assert_int_eq(run_main(1, objects_main, NULL, NULL), 0);
  ck_assert_int_eq(run_main(4, objects_main, NULL, NULL), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("with");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, user_defined);
  tcase_add_test(tc, weft_objects);
  suite_add_tcase(s, tc);
  return s;
}

WEFT_TEST_MAIN(suite)
