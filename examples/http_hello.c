/*
 * http_hello.c - a minimal HTTP/1.1 keep-alive server answering
 * "Hello, World!" to every request (the TechEmpower plaintext test).
 *
 *   http_hello [port [workers [connections]]]
 *
 * Port 0 picks a free port; workers 0 means one per CPU. With a connection
 * count, the server closes after that many connections ended (the tests).
 * Requests may be pipelined; "Connection: close" ends the connection after
 * its response. Request bodies (Content-Length) are read and ignored.
 */
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <weft.h>

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\n"
    "Server: weft\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "Hello, World!";

static _Atomic long remaining = -1;
static weft_server_t *server;

/* The two headers this server acts on, found in one pass over the head's
 * lines: only a line starting with 'c' or 'C' is compared (most requests'
 * lines are Host, User-Agent, Accept...). */
struct wanted {
  const char *content_length, *connection; /* the values, or NULL */
};

static const char *value_after(const char *p, size_t nl) {
  p += nl + 1;
  while (*p == ' ') p++;
  return p;
}

static struct wanted scan_headers(const char *head, size_t len) {
  struct wanted w = {NULL, NULL};
  const char *end = head + len;
  for (const char *p = memchr(head, '\n', len); p && p + 1 < end; p = memchr(p + 1, '\n', (size_t)(end - p - 1))) {
    const char *line = p + 1;
    if ((*line | 0x20) != 'c') continue;
    size_t left = (size_t)(end - line);
    if (left > 15 && strncasecmp(line, "Content-Length:", 15) == 0) w.content_length = value_after(line, 14);
    else if (left > 11 && strncasecmp(line, "Connection:", 11) == 0) w.connection = value_after(line, 10);
  }
  return w;
}

static int handle(weft_reader_t *r, weft_writer_t *w, void *arg) {
  (void)arg;
  for (;;) {
    /* The head is parsed where the reader holds it (no buffer of ours,
     * so a connection waiting for its next request holds none). */
    void *head;
    ssize_t n = weft_reader_readuntil_view(r, "\r\n\r\n", 4, &head, NULL);
    if (n < 0) break; /* end of stream, a reset, or a head over the limit */
    struct wanted h = scan_headers(head, (size_t)n);
    long body = h.content_length ? strtol(h.content_length, NULL, 10) : 0;
    bool close_after = h.connection && strncasecmp(h.connection, "close", 5) == 0;
    while (body > 0) { /* skipped where it lies */
      void *skip;
      ssize_t k = weft_reader_read_view(r, (size_t)body, &skip);
      if (k <= 0) goto out;
      body -= k;
    }
    if (weft_writer_write(w, RESPONSE, sizeof RESPONSE - 1) < 0) break;
    if (weft_writer_drain(w) < 0) break;
    if (close_after) break;
  }
out:
  if (atomic_load(&remaining) > 0 && atomic_fetch_sub(&remaining, 1) == 1) weft_server_close(server);
  return 0;
}

static int main_task(void *arg, void **result) {
  (void)result;
  int port = *(int *)arg;
  int rc = weft_start_server(NULL, "127.0.0.1", port, handle, NULL, NULL, &server);
  if (rc < 0) {
    fprintf(stderr, "start_server: %s\n", weft_strerror(rc));
    return rc;
  }
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  weft_server_sockname(server, (struct sockaddr *)&a, &len);
  printf("Serving on http://127.0.0.1:%d/ (%u workers, %s)\n", ntohs(a.sin_port),
         weft_loop_workers(weft_loop_current()), weft_loop_backend(weft_loop_current()));
  fflush(stdout);
  /* Like asyncio, serve_forever ends only by cancellation: -ECANCELED also
   * when the server was closed from elsewhere (here, after the last
   * connection), which is this program's normal end. */
  rc = weft_serve_forever(server);
  if (rc == -ECANCELED && weft_task_cancelling(weft_task_current()) == 0) rc = 0;
  weft_server_wait_closed(server);
  weft_server_destroy(server);
  return rc;
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 8080;
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
  if (argc > 3) remaining = atol(argv[3]);
  return weft_run_config(&cfg, main_task, &port, NULL) == 0 ? 0 : 1;
}
