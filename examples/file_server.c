/*
 * file_server.c - a static-file HTTP/1.1 server: GET and HEAD of the
 * regular files under one directory, each sent zero-copy from the page
 * cache with weft_writer_sendfile (a file not in the cache is copied
 * through the ring instead, so a cold disk never holds a worker).
 *
 *   file_server ROOT [port [workers [connections]]]
 *
 * Port 0 picks a free port; workers 0 means one per CPU. With a connection
 * count, the server closes after that many connections ended (the tests).
 *
 * Paths never leave ROOT: the request's path (percent-decoded, query
 * dropped) is opened with weft_openat2 and RESOLVE_BENEATH relative to
 * ROOT's fd, so "..", absolute paths and symlinks that lead out fail in
 * the kernel (-EXDEV: 403), not in a string check that could be fooled.
 * RESOLVE_NO_MAGICLINKS keeps /proc-style links out too. A path ending in
 * "/" (or naming a directory) serves its index.html. Files are opened
 * O_NONBLOCK so that a FIFO under ROOT cannot hold the open; anything
 * but a regular file is refused (403).
 *
 * Responses: 200 with Content-Type (by extension), Content-Length and
 * Last-Modified; 400 (a malformed request line or path), 403, 404, 405
 * (other methods; Allow: GET, HEAD), 413 (a request body), 431 (a head
 * over 8 KiB), 505 (not HTTP/1.x). Connections are kept alive (HTTP/1.1's
 * default; HTTP/1.0 only with "Connection: keep-alive"); an error
 * response other than 404/403/405 closes the connection. A file that
 * shrinks while it is sent ends the connection early (its Content-Length
 * can no longer be met), as nginx does. A connection that sends nothing
 * for a minute is closed; one that stops reading a response holds its
 * task (no CPU) until it reads or goes away.
 */
#define _GNU_SOURCE /* O_PATH, gmtime_r */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <weft.h>

enum { HEAD_MAX = 8192, PATH_MAX_LEN = 4096 };

static _Atomic long remaining = -1;
static weft_server_t *server;
static int root_fd = -1;

struct request {
  bool head_only;  /* HEAD */
  bool keep_alive; /* the connection stays open after the response */
  char path[PATH_MAX_LEN + sizeof "index.html"];
};

/* Finds header @name in @head (case-insensitive); its value or NULL. */
static const char *header(const char *head, size_t len, const char *name) {
  size_t nl = strlen(name);
  for (const char *p = head; p + nl + 1 < head + len; p++) {
    if ((p == head || p[-1] == '\n') && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      p += nl + 1;
      while (*p == ' ' || *p == '\t') p++;
      return p;
    }
  }
  return NULL;
}

static int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The request target's path, percent-decoded, relative to the root (no
 * leading '/'), with index.html for a directory's "/". 0, or the status
 * to answer (400: no leading '/', a bad escape, a NUL or control byte). */
static int decode_path(const char *t, size_t n, char *out, size_t cap) {
  if (n == 0 || t[0] != '/') return 400;
  size_t o = 0;
  for (size_t i = 0; i < n && t[i] != '?' && t[i] != '#'; i++) {
    int c = (unsigned char)t[i];
    if (c == '%') {
      int hi = i + 2 < n ? hex(t[i + 1]) : -1, lo = i + 2 < n ? hex(t[i + 2]) : -1;
      if (hi < 0 || lo < 0) return 400;
      c = hi * 16 + lo;
      i += 2;
    }
    if (c < 0x20 || c == 0x7f) return 400;
    if (o == 0 && c == '/') continue; /* relative to the root */
    if (o + 1 >= cap) return 400;
    out[o++] = (char)c;
  }
  if (o == 0 || out[o - 1] == '/') {
    if (o + sizeof "index.html" > cap) return 400;
    memcpy(out + o, "index.html", sizeof "index.html");
  } else {
    out[o] = '\0';
  }
  return 0;
}

/* Parses the request line and the headers this server looks at. 0, or
 * the status to answer. */
static int parse(const char *head, size_t n, struct request *rq) {
  const char *eol = memchr(head, '\r', n);
  const char *sp1 = memchr(head, ' ', n);
  if (!eol || !sp1 || sp1 > eol) return 400;
  const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
  if (!sp2) return 400;
  size_t vlen = (size_t)(eol - sp2 - 1);
  const char *v = sp2 + 1;
  if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0) return 400;
  if (memcmp(v, "HTTP/1.", 7) != 0) return 505;
  bool http10 = v[7] == '0';
  const char *conn = header(head, n, "Connection");
  rq->keep_alive = http10 ? conn && strncasecmp(conn, "keep-alive", 10) == 0
                          : !(conn && strncasecmp(conn, "close", 5) == 0);
  size_t mlen = (size_t)(sp1 - head);
  if (mlen == 3 && memcmp(head, "GET", 3) == 0) rq->head_only = false;
  else if (mlen == 4 && memcmp(head, "HEAD", 4) == 0) rq->head_only = true;
  else return 405;
  /* GET and HEAD carry no body here: one would have to be read past. */
  const char *cl = header(head, n, "Content-Length");
  if (header(head, n, "Transfer-Encoding") || (cl && strtol(cl, NULL, 10) != 0)) return 413;
  return decode_path(sp1 + 1, (size_t)(sp2 - sp1 - 1), rq->path, sizeof rq->path);
}

static const char *content_type(const char *path) {
  static const struct {
    const char *ext, *type;
  } types[] = {
      {".html", "text/html"},  {".htm", "text/html"},         {".css", "text/css"},
      {".js", "text/javascript"}, {".json", "application/json"}, {".txt", "text/plain"},
      {".svg", "image/svg+xml"}, {".png", "image/png"},        {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"}, {".gif", "image/gif"},          {".ico", "image/x-icon"},
      {".wasm", "application/wasm"}, {".pdf", "application/pdf"},
  };
  const char *dot = strrchr(path, '.');
  if (dot && !strchr(dot, '/'))
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
      if (strcasecmp(dot, types[i].ext) == 0) return types[i].type;
  return "application/octet-stream";
}

static int respond_error(weft_writer_t *w, int status, bool keep_alive) {
  const char *reason = status == 400   ? "Bad Request"
                       : status == 403 ? "Forbidden"
                       : status == 404 ? "Not Found"
                       : status == 405 ? "Method Not Allowed"
                       : status == 413 ? "Content Too Large"
                       : status == 431 ? "Request Header Fields Too Large"
                       : status == 505 ? "HTTP Version Not Supported"
                                       : "Internal Server Error";
  char buf[256];
  int n = snprintf(buf, sizeof buf,
                   "HTTP/1.1 %d %s\r\nServer: weft\r\nContent-Type: text/plain\r\n"
                   "Content-Length: %zu\r\n%s%s\r\n%s\n",
                   status, reason, strlen(reason) + 1, status == 405 ? "Allow: GET, HEAD\r\n" : "",
                   keep_alive ? "" : "Connection: close\r\n", reason);
  return weft_writer_write(w, buf, (size_t)n);
}

/* Opens the request's file beneath the root: the fd of a regular file
 * (*@st filled), or -status. */
static int open_file(const char *path, struct stat *st) {
  struct open_how how = {.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY,
                         .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
  int fd = weft_openat2(root_fd, path, &how, sizeof how);
  if (fd == -EISDIR || fd == -ENXIO) return -403;
  if (fd == -ENOENT || fd == -ENOTDIR || fd == -ENAMETOOLONG) return -404;
  if (fd < 0) return -403; /* -EXDEV (leaves the root), -EACCES, -ELOOP, ... */
  /* fstat, not weft_statx: the inode is in memory once open, and a ring
   * statx would go to a kernel worker thread. */
  if (fstat(fd, st) < 0) {
    close(fd);
    return -403;
  }
  if (S_ISDIR(st->st_mode)) { /* "/dir" without its slash: its index */
    int ifd = weft_openat2(fd, "index.html", &how, sizeof how);
    close(fd);
    if (ifd < 0) return ifd == -ENOENT ? -404 : -403;
    fd = ifd;
    if (fstat(fd, st) < 0) {
      close(fd);
      return -403;
    }
  }
  if (!S_ISREG(st->st_mode)) {
    close(fd);
    return -403;
  }
  return fd;
}

/* Serves one parsed request. Whether the connection may go on. */
static bool serve(weft_writer_t *w, struct request *rq) {
  struct stat st;
  int fd = open_file(rq->path, &st);
  if (fd < 0) return respond_error(w, -fd, rq->keep_alive) == 0 && rq->keep_alive;
  /* Last-Modified: formatted once per worker thread and mtime (strftime
   * is ~1% of a small file's request; most requests repeat a file). */
  static _Thread_local time_t date_of = -1;
  static _Thread_local char date[40];
  if (st.st_mtime != date_of) {
    struct tm tm;
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&st.st_mtime, &tm));
    date_of = st.st_mtime;
  }
  char buf[512];
  int n = snprintf(buf, sizeof buf,
                   "HTTP/1.1 200 OK\r\nServer: weft\r\nContent-Type: %s\r\n"
                   "Content-Length: %lld\r\nLast-Modified: %s\r\n%s\r\n",
                   content_type(rq->path), (long long)st.st_size, date,
                   rq->keep_alive ? "" : "Connection: close\r\n");
  bool ok = weft_writer_write(w, buf, (size_t)n) == 0;
  if (ok && !rq->head_only && st.st_size > 0) {
    off_t off = 0;
    ssize_t sent = weft_writer_sendfile(w, fd, &off, (size_t)st.st_size);
    ok = sent == st.st_size; /* short: the file shrank; the length is a lie now */
  }
  close(fd);
  return ok && rq->keep_alive;
}

static int handle(weft_reader_t *r, weft_writer_t *w, void *arg) {
  (void)arg;
  for (;;) {
    /* The head is parsed where the reader holds it (the server's limit,
     * HEAD_MAX, bounds it): no head buffer in this frame, so a kept-alive
     * connection waiting for its next request holds no buffer. */
    void *head;
    ssize_t n = weft_reader_readuntil_view(r, "\r\n\r\n", 4, &head, NULL);
    if (n == WEFT_ELIMIT) {
      respond_error(w, 431, false);
      break;
    }
    if (n < 0) break; /* end of stream, a reset */
    struct request rq = {.keep_alive = false};
    int status = parse(head, (size_t)n, &rq);
    if (status) {
      bool go_on = (status == 404 || status == 405) && rq.keep_alive;
      if (respond_error(w, status, go_on) < 0 || !go_on) break;
      continue;
    }
    if (!serve(w, &rq)) break;
    if (weft_writer_drain(w) < 0) break;
  }
  if (atomic_load(&remaining) > 0 && atomic_fetch_sub(&remaining, 1) == 1) weft_server_close(server);
  return 0;
}

static int main_task(void *arg, void **result) {
  (void)result;
  int port = *(int *)arg;
  /* A client that stops sending mid-request or idles between requests
   * is dropped after a minute (nginx's client_header_timeout). */
  struct weft_server_opts opts = {.read_timeout_ns = 60 * 1000000000LL, .limit = HEAD_MAX};
  int rc = weft_start_server(NULL, "127.0.0.1", port, handle, NULL, &opts, &server);
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
  rc = weft_serve_forever(server);
  if (rc == -ECANCELED && weft_task_cancelling(weft_task_current()) == 0) rc = 0;
  weft_server_wait_closed(server);
  weft_server_destroy(server);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: file_server ROOT [port [workers [connections]]]\n");
    return 2;
  }
  /* As servers do (nginx, Python): a peer that goes away is an error
   * return, never a signal. weft raises none itself either way, but its
   * sendfile(2) calls then skip blocking SIGPIPE around each call. */
  signal(SIGPIPE, SIG_IGN);
  root_fd = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) {
    fprintf(stderr, "file_server: %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  int port = argc > 2 ? atoi(argv[2]) : 8080;
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
  if (argc > 4) remaining = atol(argv[4]);
  int rc = weft_run_config(&cfg, main_task, &port, NULL);
  close(root_fd);
  return rc == 0 ? 0 : 1;
}
