/*
 * weft_echo.c - weft's TCP echo server for the tcp_echo benchmark.
 *
 *   weft-echo PORT [workers=0] [raw|stream]
 *
 * raw: each connection is a task looping weft_recv/weft_send (what a
 * performance-minded user writes); stream: asyncio's shape, reader.read()
 * then writer.write() + drain(), the same program as the asyncio peer.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

static int port;
static bool raw = true;

static int echo_stream(weft_reader_t *r, weft_writer_t *w, void *arg) {
  (void)arg;
  char buf[16384];
  ssize_t n;
  while ((n = weft_reader_read(r, buf, sizeof buf)) > 0)
    if (weft_writer_write(w, buf, (size_t)n) < 0 || weft_writer_drain(w) < 0) break;
  return 0;
}

static int echo_raw(weft_reader_t *r, weft_writer_t *w, void *arg) {
  (void)r;
  (void)arg;
  int fd = weft_writer_get_extra_info(w, "socket", NULL, NULL);
  char buf[16384];
  ssize_t n;
  while ((n = weft_recv(fd, buf, sizeof buf, 0)) > 0) {
    for (ssize_t off = 0; off < n;) {
      ssize_t k = weft_send(fd, buf + off, (size_t)(n - off), 0);
      if (k <= 0) return 0;
      off += k;
    }
  }
  return 0;
}

static int main_task(void *arg, void **res) {
  (void)arg;
  (void)res;
  weft_server_t *s;
  int rc = weft_start_server(NULL, "127.0.0.1", port, raw ? echo_raw : echo_stream, NULL, NULL, &s);
  if (rc < 0) {
    fprintf(stderr, "weft-echo: %s\n", weft_strerror(rc));
    return rc;
  }
  printf("ready\n");
  fflush(stdout);
  return weft_serve_forever(s);
}

int main(int argc, char **argv) {
  port = argc > 1 ? atoi(argv[1]) : 9000;
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
  if (argc > 3) raw = strcmp(argv[3], "stream") != 0;
  return weft_run_config(&cfg, main_task, NULL, NULL) == 0 ? 0 : 1;
}
