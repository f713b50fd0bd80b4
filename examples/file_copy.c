/*
 * file_copy.c - copy a file with O_DIRECT (database-engine style I/O).
 *
 *   file_copy SRC DST
 *
 * Four tasks copy interleaved 1 MiB chunks, so four reads or writes are in
 * the kernel at once. Buffers, offsets and lengths are aligned as statx's
 * STATX_DIOALIGN says (4096 when the file system does not say); the tail
 * shorter than a block is copied without O_DIRECT. Where the file system
 * has no O_DIRECT at all (tmpfs), the copy is buffered and says so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <weft.h>

#define CHUNK (1024 * 1024)
#define COPIERS 4

struct job {
  const char *src, *dst;
  int in, out;
  off_t size, direct_end; /* [0, direct_end) goes through O_DIRECT */
  size_t align;
  int index;
};

static int copier(void *arg, void **result) {
  (void)result;
  struct job *j = arg;
  char *buf = aligned_alloc(j->align, CHUNK);
  if (!buf) return -12;
  int rc = 0;
  for (off_t off = (off_t)j->index * CHUNK; off < j->direct_end; off += (off_t)COPIERS * CHUNK) {
    size_t n = (size_t)(j->direct_end - off < CHUNK ? j->direct_end - off : CHUNK);
    ssize_t r = weft_pread(j->in, buf, n, off);
    if (r != (ssize_t)n) { rc = r < 0 ? (int)r : -5; break; }
    ssize_t w = weft_pwrite(j->out, buf, n, off);
    if (w != (ssize_t)n) { rc = w < 0 ? (int)w : -5; break; }
  }
  free(buf);
  return rc;
}

static int copy_tail(const char *src, const char *dst, off_t from, off_t size) {
  if (from >= size) return 0;
  int in = weft_open(src, O_RDONLY, 0), out = weft_open(dst, O_WRONLY, 0);
  char buf[4096];
  int rc = in < 0 ? in : out < 0 ? out : 0;
  while (!rc && from < size) {
    ssize_t r = weft_pread(in, buf, sizeof buf, from);
    if (r <= 0) { rc = r < 0 ? (int)r : -5; break; }
    ssize_t w = weft_pwrite(out, buf, (size_t)r, from);
    if (w != r) { rc = w < 0 ? (int)w : -5; break; }
    from += r;
  }
  if (in >= 0) weft_close(in);
  if (out >= 0) weft_close(out);
  return rc;
}

static int main_task(void *arg, void **result) {
  (void)result;
  char **argv = arg;
  struct job base = {.src = argv[1], .dst = argv[2], .align = 4096};
  struct statx st;
  int rc = weft_statx(AT_FDCWD, base.src, 0, STATX_SIZE, &st);
  if (rc < 0) { fprintf(stderr, "%s: %s\n", base.src, weft_strerror(rc)); return rc; }
  base.size = (off_t)st.stx_size;
  bool direct = true;
  base.in = weft_open(base.src, O_RDONLY | O_DIRECT, 0);
  base.out = weft_open(base.dst, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644);
  if (base.in == -EINVAL || base.out == -EINVAL) { /* no O_DIRECT here */
    direct = false;
    if (base.in >= 0) weft_close(base.in);
    if (base.out >= 0) weft_close(base.out);
    base.in = weft_open(base.src, O_RDONLY, 0);
    base.out = weft_open(base.dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  if (base.in < 0 || base.out < 0) {
    fprintf(stderr, "open: %s\n", weft_strerror(base.in < 0 ? base.in : base.out));
    return -1;
  }
  unsigned mem, offa;
  if (direct && weft_dio_alignment(base.in, &mem, &offa) == 0) {
    base.align = mem > offa ? mem : offa;
    if (base.align < 512) base.align = 512;
  }
  base.direct_end = base.size - base.size % (off_t)base.align;
  struct job jobs[COPIERS];
  weft_task_t *t[COPIERS];
  for (int i = 0; i < COPIERS; i++) {
    jobs[i] = base;
    jobs[i].index = i;
    weft_spawn(copier, &jobs[i], &t[i]);
  }
  for (int i = 0; i < COPIERS; i++) {
    int r = weft_await(weft_task_future(t[i]), NULL);
    if (r && !rc) rc = r;
    weft_task_release(t[i]);
  }
  if (!rc) rc = weft_fsync(base.out);
  weft_close(base.in);
  weft_close(base.out);
  if (!rc) rc = copy_tail(base.src, base.dst, base.direct_end, base.size);
  if (rc) { fprintf(stderr, "copy: %s\n", weft_strerror(rc)); return rc; }
  printf("copied %lld bytes (%s)\n", (long long)base.size, direct ? "O_DIRECT" : "buffered: no O_DIRECT here");
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: file_copy SRC DST\n");
    return 2;
  }
  return weft_run(main_task, argv, NULL) == 0 ? 0 : 1;
}
