/*
 * sendfile.c - weft-sendfile: weft_sock_sendfile's throughput over TCP
 * loopback, zero-copy (a non-blocking socket: sendfile(2)) and the copy
 * (a blocking socket: read and send through the reactor); and a stream
 * writer's (weft_writer_sendfile on weft's blocking socket, zero-copy).
 *
 * Usage: weft-sendfile native|copy|writer [MiB [cold|direct]]  (default 256)
 *        weft-sendfile small BYTES  (a file of BYTES sent 200,000 times)
 * A file of MiB mebibytes (written first, so it is in the page cache) is
 * sent to a plain thread that reads and drops it; prints
 *   RESULT impl=weft-<mode> mib=N s=T mib_s=R cpu_s=C
 * with the process's user+system CPU over the send (reader included).
 * `cold`: the file is dropped from the page cache first (fsync, then
 * POSIX_FADV_DONTNEED), and a task on the same one-worker loop sleeps
 * 1 ms at a time during the send; the line adds how late its wake-ups
 * were (max_late_ms, and their count): a read of the disk on the worker's
 * thread shows there. `direct`: the same, the file read through an
 * O_DIRECT descriptor.
 * benchmarks/io/sendfile_asyncio.py is asyncio's loop.sock_sendfile (and
 * with `transport`, loop.sendfile on a stream's transport), the same shape.
 */
#define _GNU_SOURCE
#include <weft.h>

#include "../probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) { return probe_now_ns() * 1e-9; }

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void *drop_all(void *arg) {
  int fd = (int)(intptr_t)arg;
  static char buf[1 << 16];
  while (read(fd, buf, sizeof buf) > 0) {
  }
  return NULL;
}

enum mode { NATIVE, COPY, WRITER };
static const char *const mode_names[] = {"native", "copy", "writer"};

struct job {
  bool cold, direct;
  double max_late;
  long ticks;
  enum mode mode;
  size_t bytes;
  int file;
};

/* Sleeps 1 ms at a time until cancelled, keeping the worst lateness. */
static int ticker(void *arg, void **res) {
  (void)res;
  struct job *j = arg;
  for (;;) {
    double t0 = now_s();
    if (weft_sleep_ns(1000 * 1000) != 0) return 0;
    double late = now_s() - t0 - 1e-3;
    if (late > j->max_late) j->max_late = late;
    j->ticks++;
  }
}

static int run(void *arg, void **res) {
  (void)res;
  struct job *j = arg;
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 1) ||
      getsockname(lfd, (struct sockaddr *)&a, &len))
    return -1;
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (weft_connect(c, (struct sockaddr *)&a, sizeof a) != 0) return -1;
  int s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  if (s < 0) return -1;
  if (j->mode == NATIVE) fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
  weft_writer_t *w = NULL;
  if (j->mode == WRITER && weft_stream_open_fd(-1, c, 0, NULL, &w) != 0) return -1;
  pthread_t th;
  pthread_create(&th, NULL, drop_all, (void *)(intptr_t)s);
  weft_task_t *tick = NULL;
  if (j->cold) {
    fsync(j->file);
    posix_fadvise(j->file, 0, 0, POSIX_FADV_DONTNEED);
    weft_spawn(ticker, j, &tick);
    weft_yield(); /* it sleeps before the send begins */
  }
  double c0 = cpu_s(), t0 = now_s();
  off_t off = 0;
  ssize_t n = w ? weft_writer_sendfile(w, j->file, &off, j->bytes)
                : weft_sock_sendfile(c, j->file, &off, j->bytes);
  double dt = now_s() - t0;
  if (tick) {
    weft_task_cancel(tick, NULL);
    weft_await(weft_task_future(tick), NULL);
    weft_task_release(tick);
  }
  if (w) {
    weft_writer_close(w); /* shuts the socket down, closes it */
    weft_writer_wait_closed(w);
    weft_writer_release(w);
  } else {
    shutdown(c, SHUT_WR);
  }
  pthread_join(th, NULL);
  double cpu = cpu_s() - c0;
  if (n != (ssize_t)j->bytes) {
    fprintf(stderr, "weft-sendfile: sent %zd of %zu\n", n, j->bytes);
    return -1;
  }
  double mib = (double)j->bytes / (1 << 20);
  printf("RESULT impl=weft-%s mib=%.0f s=%.3f mib_s=%.0f cpu_s=%.3f", mode_names[j->mode], mib, dt,
         mib / dt, cpu);
  if (j->cold)
    printf(" %s=1 max_late_ms=%.3f ticks=%ld", j->direct ? "direct" : "cold", j->max_late * 1e3, j->ticks);
  printf("\n");
  if (!w) close(c);
  close(s);
  close(lfd);
  return 0;
}

/* small: the cost of one call for a small cached file (a static file
 * server's case): 200,000 sends of the whole file over a non-blocking
 * socketpair whose other end a thread drains. */
static int run_small(void *arg, void **res) {
  (void)res;
  struct job *j = arg;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return -1;
  fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
  int big = 4 << 20;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  pthread_t th;
  pthread_create(&th, NULL, drop_all, (void *)(intptr_t)sv[1]);
  enum { CALLS = 200000 };
  double t0 = now_s();
  for (int i = 0; i < CALLS; i++) {
    off_t off = 0;
    if (weft_sock_sendfile(sv[0], j->file, &off, j->bytes) != (ssize_t)j->bytes) return -1;
  }
  double dt = now_s() - t0;
  shutdown(sv[0], SHUT_WR);
  pthread_join(th, NULL);
  printf("RESULT impl=weft-small bytes=%zu calls=%d ns_per_call=%.0f\n", j->bytes, (int)CALLS,
         dt / CALLS * 1e9);
  close(sv[0]);
  close(sv[1]);
  return 0;
}

int main(int argc, char **argv) {
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 1;
  if (argc > 2 && !strcmp(argv[1], "small")) {
    cfg.stall_ms = 0; /* the loop never yields here, on purpose */
    struct job j = {.bytes = strtoul(argv[2], NULL, 10)};
    if (j.bytes == 0 || j.bytes > (1 << 20)) return 2;
    j.file = open(".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    static char one[1 << 20];
    memset(one, 'x', j.bytes);
    if (j.file < 0 || write(j.file, one, j.bytes) != (ssize_t)j.bytes) return 1;
    return weft_run_config(&cfg, run_small, &j, NULL) == 0 ? 0 : 1;
  }
  int mode = -1;
  for (int m = NATIVE; argc > 1 && m <= WRITER; m++)
    if (strcmp(argv[1], mode_names[m]) == 0) mode = m;
  if (mode < 0) {
    fprintf(stderr, "usage: weft-sendfile native|copy|writer [MiB [cold|direct]] | small BYTES\n");
    return 2;
  }
  size_t mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 256;
  struct job j = {.mode = (enum mode)mode, .bytes = mib << 20};
  j.direct = argc > 3 && !strcmp(argv[3], "direct");
  j.cold = j.direct || (argc > 3 && !strcmp(argv[3], "cold"));
  j.file = open(".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (j.file < 0) return 1;
  static char block[1 << 20];
  memset(block, 'x', sizeof block);
  for (size_t i = 0; i < mib; i++)
    if (write(j.file, block, sizeof block) != (ssize_t)sizeof block) return 1;
  if (j.direct && fcntl(j.file, F_SETFL, fcntl(j.file, F_GETFL) | O_DIRECT) != 0) return 1;
  /* One worker: the ticker shares the sender's thread, as asyncio's
   * callbacks share its loop. */
  return weft_run_config(&cfg, run, &j, NULL) == 0 ? 0 : 1;
}
