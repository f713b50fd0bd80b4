/*
 * uv_servers.c - the libuv peer: TCP echo and minimal HTTP/1.1 servers on
 * one libuv loop (libuv's model: one loop per thread).
 *
 *   weft-uv-server echo|http PORT
 *
 * The HTTP server answers every request ending in "\r\n\r\n" with the same
 * bytes as examples/http_hello.c (no bodies: wrk sends none).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static const char RESPONSE[] = "HTTP/1.1 200 OK\r\nServer: weft\r\nContent-Type: text/plain\r\n"
                               "Content-Length: 13\r\n\r\nHello, World!";
static int http;

struct client {
  uv_tcp_t tcp;
  char tail[3]; /* the last bytes seen, to find "\r\n\r\n" across reads */
  int ntail;
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  buf->base = malloc(suggested);
  buf->len = suggested;
}

static void on_close(uv_handle_t *h) { free(h); }

static void on_write(uv_write_t *req, int status) {
  (void)status;
  if (req->data) free(req->data);
  free(req);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct client *c = (struct client *)s;
  if (n < 0) {
    free(buf->base);
    uv_close((uv_handle_t *)s, on_close);
    return;
  }
  if (n == 0) {
    free(buf->base);
    return;
  }
  uv_write_t *w = malloc(sizeof *w);
  if (!http) {
    w->data = buf->base;
    uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
    uv_write(w, s, &b, 1, on_write);
    return;
  }
  int reqs = 0;
  char win[4];
  for (ssize_t i = 0; i < n; i++) { /* count request ends */
    memmove(win, c->tail, 3);
    win[3] = buf->base[i];
    if (c->ntail == 3 && memcmp(win, "\r\n\r\n", 4) == 0) reqs++;
    memmove(c->tail, win + 1, 3);
    if (c->ntail < 3) c->ntail++;
  }
  free(buf->base);
  if (!reqs) {
    free(w);
    return;
  }
  size_t len = (sizeof RESPONSE - 1) * (size_t)reqs;
  char *out = malloc(len);
  for (int i = 0; i < reqs; i++) memcpy(out + i * (sizeof RESPONSE - 1), RESPONSE, sizeof RESPONSE - 1);
  w->data = out;
  uv_buf_t b = uv_buf_init(out, (unsigned)len);
  uv_write(w, s, &b, 1, on_write);
}

static void on_conn(uv_stream_t *server, int status) {
  if (status < 0) return;
  struct client *c = calloc(1, sizeof *c);
  uv_tcp_init(server->loop, &c->tcp);
  if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0) {
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  } else {
    uv_close((uv_handle_t *)&c->tcp, on_close);
  }
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  http = strcmp(argv[1], "http") == 0;
  uv_loop_t *loop = uv_default_loop();
  uv_tcp_t server;
  uv_tcp_init(loop, &server);
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", atoi(argv[2]), &addr);
  if (uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0) || uv_listen((uv_stream_t *)&server, 4096, on_conn)) {
    fprintf(stderr, "uv: bind/listen failed\n");
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  return uv_run(loop, UV_RUN_DEFAULT);
}
