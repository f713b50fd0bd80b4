/*
 * server_helpers.h - shared by the stream and server tests: an echo
 * handler, a server on a free loopback port, loopback clients, and a
 * checked shutdown.
 */
#ifndef WEFT_TEST_SERVER_HELPERS_H
#define WEFT_TEST_SERVER_HELPERS_H

#include "io_helpers.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>

static _Atomic unsigned worker_mask; /* workers that ran echo_lines */

__attribute__((unused)) static int echo_lines(weft_reader_t *r, weft_writer_t *w, void *arg) {
  (void)arg;
  atomic_fetch_or(&worker_mask, 1u << weft_worker_index());
  char line[256];
  ssize_t n;
  while ((n = weft_reader_readline(r, line, sizeof line)) > 0) {
    if (weft_writer_write(w, line, (size_t)n) < 0 || weft_writer_drain(w) < 0) break;
  }
  return 0;
}

/* Starts a server of @loop (NULL: the current one) on a free loopback
 * port; returns the port. */
__attribute__((unused)) static int serve_on(weft_loop_t *loop, weft_client_handler h, void *arg,
                    const struct weft_server_opts *o, weft_server_t **s) {
  ck_assert_int_eq(weft_start_server(loop, "127.0.0.1", 0, h, arg, o, s), 0);
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  ck_assert_int_eq(weft_server_sockname(*s, (struct sockaddr *)&a, &len), 0);
  return ntohs(a.sin_port);
}

__attribute__((unused)) static int serve(weft_client_handler h, const struct weft_server_opts *o, weft_server_t **s) {
  return serve_on(NULL, h, NULL, o, s);
}

/* A client socket connected to @port on loopback (the backlog may hold it). */
__attribute__((unused)) static int connect_loopback(int port) {
  int fd = weft_socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(fd, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  ck_assert_int_eq(weft_connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

/* Closes @s, waits until its handlers ended, frees it. */
__attribute__((unused)) static void shut_server(weft_server_t *s) {
  ck_assert_int_eq(weft_server_close(s), 0);
  ck_assert_int_eq(weft_server_wait_closed(s), 0);
  ck_assert_uint_eq(weft_server_connections(s), 0);
  ck_assert_int_eq(weft_server_destroy(s), 0);
}

struct clients {
  int port;
  const char *unix_path;
  _Atomic int ok;
};

__attribute__((unused)) static int client(void *arg, void **res) {
  (void)res;
  struct clients *c = arg;
  weft_reader_t *r;
  weft_writer_t *w;
  int rc = c->unix_path ? weft_open_unix_connection(c->unix_path, &r, &w)
                        : weft_open_connection("127.0.0.1", c->port, &r, &w);
  ck_assert_int_eq(rc, 0);
  char msg[32], got[32];
  int len = snprintf(msg, sizeof msg, "hello %p\n", (void *)&msg);
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(weft_writer_write(w, msg, (size_t)len), 0);
    ck_assert_int_eq(weft_reader_readline(r, got, sizeof got), len);
    ck_assert(memcmp(msg, got, (size_t)len) == 0);
  }
  weft_writer_release(w);
  weft_reader_release(r);
  atomic_fetch_add(&c->ok, 1);
  return 0;
}

__attribute__((unused)) static void run_clients(struct clients *c, int n) {
  weft_task_t **ts = malloc(sizeof *ts * (size_t)n);
  for (int i = 0; i < n; i++) ck_assert_int_eq(weft_spawn(client, c, &ts[i]), 0);
  for (int i = 0; i < n; i++) {
    ck_assert_int_eq(weft_await(weft_task_future(ts[i]), NULL), 0);
    weft_task_release(ts[i]);
  }
  free(ts);
  ck_assert_int_eq(atomic_load(&c->ok), n);
}

#endif
