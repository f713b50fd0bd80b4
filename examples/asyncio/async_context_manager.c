/* async_context_manager.c - async_context_manager.py in C: a manager of
 * one's own (struct weft_acm) used with WEFT_ASYNC_WITH; exit runs when
 * the body fails too, and sees the body's error. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <weft.h>

struct connection {
  const char *name;
};

static int conn_enter(void *obj) { /* __aenter__ */
  struct connection *c = obj;
  int rc = weft_sleep(0.01);
  if (rc) return rc;
  printf("open %s\n", c->name);
  return 0;
}

static int conn_exit(void *obj, int body_rc) { /* __aexit__: keeps the body's error */
  struct connection *c = obj;
  weft_sleep(0.01);
  printf("close %s (%s)\n", c->name, body_rc ? "error" : "ok");
  return body_rc;
}

static const struct weft_acm connection_acm = {conn_enter, conn_exit};

static int main_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  struct connection db = {"db"}, cache = {"cache"};
  int rc;
  WEFT_ASYNC_WITH(rc, &connection_acm, &db) printf("using %s\n", db.name);
  WEFT_ASYNC_WITH(rc, &connection_acm, &cache) {
    rc = -EIO; /* raise OSError("lost") */
    break;
  }
  if (rc == -EIO) printf("caught lost\n");
  return 0;
}

int main(void) { return weft_run(main_task, NULL, NULL) ? 1 : 0; }
