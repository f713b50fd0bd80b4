/*
 * sendfile.c - weft-sendfile: weft_sock_sendfile's throughput over TCP
 * loopback, zero-copy (a non-blocking socket: sendfile(2)) and the copy
 * (a blocking socket: read and send through the reactor).
 *
 * Usage: weft-sendfile native|copy [MiB]  (default 256)
 * A file of MiB mebibytes (written first, so it is in the page cache) is
 * sent to a plain thread that reads and drops it; prints
 *   RESULT impl=weft-<mode> mib=N s=T mib_s=R cpu_s=C
 * with the process's user+system CPU over the send (reader included).
 * benchmarks/io/sendfile_asyncio.py is asyncio's loop.sock_sendfile, the
 * same shape.
 */
#define _GNU_SOURCE
#include <weft.h>

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

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

struct job {
  bool native;
  size_t bytes;
  int file;
};

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
  if (j->native) fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
  pthread_t th;
  pthread_create(&th, NULL, drop_all, (void *)(intptr_t)s);
  double c0 = cpu_s(), t0 = now_s();
  off_t off = 0;
  ssize_t n = weft_sock_sendfile(c, j->file, &off, j->bytes);
  double dt = now_s() - t0;
  shutdown(c, SHUT_WR);
  pthread_join(th, NULL);
  double cpu = cpu_s() - c0;
  if (n != (ssize_t)j->bytes) {
    fprintf(stderr, "weft-sendfile: sent %zd of %zu\n", n, j->bytes);
    return -1;
  }
  double mib = (double)j->bytes / (1 << 20);
  printf("RESULT impl=weft-%s mib=%.0f s=%.3f mib_s=%.0f cpu_s=%.3f\n", j->native ? "native" : "copy",
         mib, dt, mib / dt, cpu);
  close(c);
  close(s);
  close(lfd);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2 || (strcmp(argv[1], "native") && strcmp(argv[1], "copy"))) {
    fprintf(stderr, "usage: weft-sendfile native|copy [MiB]\n");
    return 2;
  }
  size_t mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 256;
  struct job j = {.native = strcmp(argv[1], "native") == 0, .bytes = mib << 20};
  j.file = open(".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (j.file < 0) return 1;
  static char block[1 << 20];
  memset(block, 'x', sizeof block);
  for (size_t i = 0; i < mib; i++)
    if (write(j.file, block, sizeof block) != (ssize_t)sizeof block) return 1;
  return weft_run(run, &j, NULL) == 0 ? 0 : 1;
}
