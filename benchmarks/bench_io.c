/*
 * bench_io.c - the reactor workloads of weft-bench (benchmarks/README.md):
 *   nop            one task awaiting IORING_OP_NOP, 1M times (a reactor
 *                  round trip per op: the cost an awaited I/O adds)
 *   nop_batch      64 tasks doing the same (one submission per tick)
 *   nop_raw        the same loop on a bare liburing ring: prep, submit and
 *                  wait, reap (impl=liburing)
 *   nop_raw_batch  64 NOPs per submit on a bare ring (impl=liburing)
 *   file_randread  4 KiB O_DIRECT random reads at queue depth 32 (32 tasks)
 *                  for 5 s on $WEFT_BENCH_FILE
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <weft.h>
#if defined(WEFT__HAVE_URING)
#include <liburing.h>
#endif

#include "bench.h"

enum { NOPS = 1000000, BATCH = 64 };

static int nop_loop(void *arg, void **res) {
  (void)res;
  long n = (long)(intptr_t)arg;
  for (long i = 0; i < n; i++)
    if (weft_io_nop() != 0) return -EIO;
  return 0;
}

int bench_nop(void *arg, void **res) {
  (void)arg;
  (void)res;
  nop_loop((void *)(intptr_t)1000, NULL); /* warm up */
  double t0 = now_s();
  int rc = nop_loop((void *)(intptr_t)NOPS, NULL);
  report("nop", NOPS, now_s() - t0, NULL);
  return rc;
}

int bench_nop_batch(void *arg, void **res) {
  (void)arg;
  (void)res;
  weft_task_t *ts[BATCH];
  double t0 = now_s();
  for (int i = 0; i < BATCH; i++) weft_spawn(nop_loop, (void *)(intptr_t)(NOPS / BATCH), &ts[i]);
  int rc = 0;
  for (int i = 0; i < BATCH; i++) {
    rc |= weft_await(weft_task_future(ts[i]), NULL);
    weft_task_release(ts[i]);
  }
  report("nop_batch", (long)(NOPS / BATCH) * BATCH, now_s() - t0, NULL);
  return rc;
}

/* The bare-ring baselines run outside any loop (impl=liburing). */
int bench_nop_raw(int batch) {
#if defined(WEFT__HAVE_URING)
  struct io_uring ring;
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL;
  if (io_uring_queue_init_params(256, &ring, &p) < 0) return 1;
  long total = (NOPS / batch) * (long)batch;
  double t0 = now_s();
  for (long i = 0; i < total; i += batch) {
    for (int k = 0; k < batch; k++) io_uring_prep_nop(io_uring_get_sqe(&ring));
    io_uring_submit_and_wait(&ring, (unsigned)batch);
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    io_uring_for_each_cqe(&ring, head, cqe) n++;
    io_uring_cq_advance(&ring, n);
  }
  double dt = now_s() - t0;
  io_uring_queue_exit(&ring);
  printf("RESULT impl=liburing name=%s workers=1 ops=%ld ns_per_op=%.2f ops_per_s=%.0f\n",
         batch == 1 ? "nop" : "nop_batch", total, dt * 1e9 / (double)total, (double)total / dt);
  fflush(stdout);
  return 0;
#else
  (void)batch;
  return 1;
#endif
}

/* ---- file_randread ---------------------------------------------------------- */

enum { QD = 32, BLOCK = 4096 };
static int rr_fd;
static long rr_blocks;
static double rr_end;
static _Atomic long rr_ops;

static int rr_task(void *arg, void **res) {
  (void)res;
  uint32_t x = (uint32_t)(uintptr_t)arg * 2654435761u + 1;
  char *buf = aligned_alloc(BLOCK, BLOCK);
  long ops = 0;
  while ((ops & 63) || now_s() < rr_end) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    off_t off = (off_t)(x % (uint32_t)rr_blocks) * BLOCK;
    if (weft_pread(rr_fd, buf, BLOCK, off) != BLOCK) {
      free(buf);
      return -EIO;
    }
    ops++;
  }
  free(buf);
  atomic_fetch_add(&rr_ops, ops);
  return 0;
}

int bench_file_randread(void *arg, void **res) {
  (void)arg;
  (void)res;
  const char *path = getenv("WEFT_BENCH_FILE");
  if (!path) {
    fprintf(stderr, "file_randread: set WEFT_BENCH_FILE to a file on a disk\n");
    return -EINVAL;
  }
  rr_fd = weft_open(path, O_RDONLY | O_DIRECT, 0);
  if (rr_fd < 0) {
    fprintf(stderr, "file_randread: %s: %s\n", path, weft_strerror(rr_fd));
    return rr_fd;
  }
  struct stat st;
  fstat(rr_fd, &st);
  rr_blocks = st.st_size / BLOCK;
  double secs = getenv("WEFT_BENCH_SECONDS") ? atof(getenv("WEFT_BENCH_SECONDS")) : 5.0;
  double t0 = now_s();
  rr_end = t0 + secs;
  atomic_store(&rr_ops, 0);
  weft_task_t *ts[QD];
  for (int i = 0; i < QD; i++) weft_spawn(rr_task, (void *)(intptr_t)(i + 1), &ts[i]);
  int rc = 0;
  for (int i = 0; i < QD; i++) {
    rc |= weft_await(weft_task_future(ts[i]), NULL);
    weft_task_release(ts[i]);
  }
  double dt = now_s() - t0;
  weft_close(rr_fd);
  char extra[64];
  snprintf(extra, sizeof extra, "iops=%.0f", (double)atomic_load(&rr_ops) / dt);
  report("file_randread", atomic_load(&rr_ops), dt, extra);
  return rc;
}
