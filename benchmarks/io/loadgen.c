/*
 * loadgen.c - the shared TCP echo load generator (tcp_echo benchmark).
 *
 *   weft-loadgen PORT [connections=64] [seconds=5] [size=64] [threads=1] [churn]
 *
 * Each connection sends a SIZE-byte request and waits for SIZE bytes back
 * before sending the next (closed loop), so throughput and latency are
 * those of request/response round trips. With "churn" each connection
 * carries one request: once its reply is in, the client closes it and
 * dials a new one (connect, accept, a first read, close: what a server
 * pays per short-lived client; the client resets, so no TIME_WAIT holds
 * its ports), and latency counts from the connect. Plain epoll, one thread per
 * `threads`, connections spread over them: it is the same client for every
 * server measured. Prints one line:
 *   RESULT tcp_echo req_s=... p50_us=... p99_us=... conns=... size=... gen_cpu=... cdf_us=...
 * where gen_cpu is the generator's own CPU time over its run in CPUs
 * (user + system, getrusage, over the wall time: near `threads`, the rate
 * is the generator's bound, and servers rank by what each costs the
 * generator per request, such as waking a server that slept) and cdf_us
 * is the latency distribution as PERCENTILE:US pairs (comma-separated,
 * 1st to 99.99th), for the report's CDF chart.
 * Latency is measured per round trip with CLOCK_MONOTONIC; a 1 s warm-up
 * is excluded.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port, nconn = 64, seconds = 5, size = 64, nthreads = 1, churn;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct conn {
  int fd;
  size_t got;
  uint64_t sent_at;
};

struct worker {
  int first, count;
  uint32_t *lat; /* microseconds * 10 (0.1 us resolution) */
  size_t nlat, cap;
  uint64_t done;
};

static uint64_t start_ns, warm_ns, end_ns;

static int dial(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    perror("connect");
    exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static void *run(void *arg) {
  struct worker *w = arg;
  int ep = epoll_create1(0);
  struct conn *c = calloc((size_t)w->count, sizeof *c);
  char *req = malloc((size_t)size), *buf = malloc(65536);
  memset(req, 'x', (size_t)size);
  for (int i = 0; i < w->count; i++) {
    c[i].fd = dial();
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
  }
  for (int i = 0; i < w->count; i++) {
    c[i].sent_at = now_ns();
    if (write(c[i].fd, req, (size_t)size) != size) { perror("write"); exit(1); }
  }
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, 100);
    uint64_t t = now_ns();
    if (t >= end_ns) break;
    for (int k = 0; k < n; k++) {
      struct conn *x = &c[evs[k].data.u32];
      ssize_t r = read(x->fd, buf, 65536);
      if (r <= 0) { fprintf(stderr, "loadgen: connection closed by server\n"); exit(1); }
      x->got += (size_t)r;
      if (x->got < (size_t)size) continue;
      x->got -= (size_t)size;
      if (t >= warm_ns) {
        w->done++;
        if (w->nlat == w->cap) {
          w->cap = w->cap ? w->cap * 2 : 1 << 16;
          w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
        }
        uint64_t d = (t - x->sent_at) / 100;
        w->lat[w->nlat++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
      }
      if (churn) {
        /* A new client. The old one closes with a reset: a closing
         * client's TIME_WAIT would hold its port for a minute, and the
         * loopback's 28,000 ports then capped every server alike at
         * ~14,700 connections a second. */
        struct linger lg = {1, 0};
        setsockopt(x->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(x->fd);
        t = now_ns();
        x->fd = dial();
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(x - c)};
        epoll_ctl(ep, EPOLL_CTL_ADD, x->fd, &ev);
      }
      x->sent_at = t;
      if (write(x->fd, req, (size_t)size) != size) { perror("write"); exit(1); }
    }
  }
  for (int i = 0; i < w->count; i++) close(c[i].fd);
  free(c);
  free(req);
  free(buf);
  close(ep);
  return NULL;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: weft-loadgen PORT [conns] [seconds] [size] [threads] [churn]\n");
    return 2;
  }
  port = atoi(argv[1]);
  if (argc > 2) nconn = atoi(argv[2]);
  if (argc > 3) seconds = atoi(argv[3]);
  if (argc > 4) size = atoi(argv[4]);
  if (argc > 5) nthreads = atoi(argv[5]);
  if (argc > 6) churn = strcmp(argv[6], "churn") == 0;
  start_ns = now_ns();
  warm_ns = start_ns + 1000000000ull;
  end_ns = warm_ns + (uint64_t)seconds * 1000000000ull;
  struct worker *w = calloc((size_t)nthreads, sizeof *w);
  pthread_t *th = calloc((size_t)nthreads, sizeof *th);
  for (int i = 0; i < nthreads; i++) {
    w[i].first = nconn * i / nthreads;
    w[i].count = nconn * (i + 1) / nthreads - w[i].first;
    pthread_create(&th[i], NULL, run, &w[i]);
  }
  uint64_t done = 0;
  size_t total = 0;
  for (int i = 0; i < nthreads; i++) {
    pthread_join(th[i], NULL);
    done += w[i].done;
    total += w[i].nlat;
  }
  uint32_t *all = malloc((total ? total : 1) * sizeof *all);
  size_t k = 0;
  for (int i = 0; i < nthreads; i++) {
    memcpy(all + k, w[i].lat, w[i].nlat * sizeof *all);
    k += w[i].nlat;
  }
  qsort(all, total, sizeof *all, cmp_u32);
  double p50 = total ? all[total / 2] / 10.0 : 0, p99 = total ? all[total * 99 / 100] / 10.0 : 0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  printf("RESULT %s req_s=%.0f p50_us=%.1f p99_us=%.1f conns=%d size=%d gen_cpu=%.2f cdf_us=",
         churn ? "tcp_churn" : "tcp_echo", (double)done / seconds, p50, p99, nconn, size,
         cpu_s / ((double)(now_ns() - start_ns) / 1e9));
  static const double pct[] = {1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.5, 99.9, 99.99};
  for (size_t i = 0; i < sizeof pct / sizeof pct[0]; i++) {
    size_t at = (size_t)((double)total * pct[i] / 100.0);
    if (at >= total) at = total ? total - 1 : 0;
    printf("%s%g:%.1f", i ? "," : "", pct[i], total ? all[at] / 10.0 : 0.0);
  }
  printf("\n");
  return 0;
}
