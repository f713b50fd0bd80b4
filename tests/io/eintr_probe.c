/* eintr_probe.c FILE - file I/O through weft on FILE, every call checked:
 * open, positioned and positional writes and reads, fsync, statx, close.
 * tests/io/eintr.sh runs it under strace with EINTR injected into the
 * system calls that reach FILE (the epoll backend and its offload threads
 * make them): weft must take each call again (PEP 475) and end with the
 * bytes it wrote, so this prints "ok" and exits 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <weft.h>

enum { SIZE = 256 * 1024 };
static char out[SIZE], in[SIZE];

#define CHECK(what, expr, want)                                                          \
  do {                                                                                   \
    long long got_ = (long long)(expr);                                                  \
    if (got_ != (long long)(want)) {                                                     \
      fprintf(stderr, "%s: %lld (%s), wanted %lld\n", what, got_,                         \
              got_ < 0 ? weft_strerror((int)got_) : "short", (long long)(want));          \
      return -EIO; /* reported above */                                                  \
    }                                                                                    \
  } while (0)

static int probe(void *arg, void **result) {
  (void)result;
  const char *path = arg;
  for (int i = 0; i < SIZE; i++) out[i] = (char)(i * 131 + 7);
  int fd = weft_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) CHECK("open", fd, 0);
  CHECK("write at the position", weft_write(fd, out, SIZE / 2), SIZE / 2);
  CHECK("pwrite", weft_pwrite(fd, out + SIZE / 2, SIZE / 2, SIZE / 2), SIZE / 2);
  CHECK("fsync", weft_fsync(fd), 0);
  CHECK("pread", weft_pread(fd, in, SIZE, 0), SIZE);
  CHECK("pread's bytes", memcmp(in, out, SIZE), 0);
  struct statx st;
  CHECK("statx", weft_statx(AT_FDCWD, path, 0, STATX_SIZE, &st), 0);
  CHECK("size", st.stx_size, SIZE);
  CHECK("close", weft_close(fd), 0);
  fd = weft_open(path, O_RDONLY, 0);
  if (fd < 0) CHECK("open again", fd, 0);
  memset(in, 0, SIZE);
  size_t got = 0;
  while (got < SIZE) {
    ssize_t n = weft_read(fd, in + got, SIZE - got);
    if (n <= 0) CHECK("read at the position", n, SIZE - got);
    got += (size_t)n;
  }
  CHECK("read's bytes", memcmp(in, out, SIZE), 0);
  CHECK("close again", weft_close(fd), 0);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: eintr_probe FILE\n");
    return 2;
  }
  void *res;
  int rc = weft_run(probe, argv[1], &res);
  if (rc) {
    fprintf(stderr, "run: %s\n", weft_strerror(rc));
    return 1;
  }
  printf("ok\n");
  return 0;
}
