/*
 * producer_consumer.c - asyncio's producer/consumer with a Queue.
 *
 *   cc producer_consumer.c $(pkg-config --cflags --libs weft) -o producer_consumer
 *
 * Python equivalent:
 *   async def producer(q):
 *       for i in range(10): await q.put(i); print(f"produced {i}")
 *       await q.put(None)
 *   async def consumer(q):
 *       while (item := await q.get()) is not None: print(f"consumed {item}")
 *   async def main():
 *       q = asyncio.Queue(maxsize=2)
 *       await asyncio.gather(producer(q), consumer(q))
 *
 * Items are pointers; the sentinel is NULL, so values are sent as i + 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <weft.h>

static int producer(void *arg, void **result) {
  weft_queue_t *q = arg;
  for (intptr_t i = 0; i < 10; i++) {
    int rc = weft_queue_put(q, (void *)(i + 1), -1);
    if (rc) return rc;
    printf("produced %d\n", (int)i);
  }
  return weft_queue_put(q, NULL, -1); /* the sentinel */
}

static int consumer(void *arg, void **result) {
  weft_queue_t *q = arg;
  for (;;) {
    void *item;
    int rc = weft_queue_get(q, &item, -1);
    if (rc) return rc;
    if (!item) return 0;
    printf("consumed %d\n", (int)((intptr_t)item - 1));
  }
}

static int main_task(void *arg, void **result) {
  weft_queue_t *q;
  int rc = weft_queue_create(WEFT_QUEUE_FIFO, 2, NULL, &q);
  if (rc) return rc;
  weft_task_t *p, *c;
  if ((rc = weft_spawn(producer, q, &p))) return rc;
  if ((rc = weft_spawn(consumer, q, &c))) return rc;
  int rp = weft_await(weft_task_future(p), NULL);
  int rcons = weft_await(weft_task_future(c), NULL);
  weft_task_release(p);
  weft_task_release(c);
  weft_queue_destroy(q);
  return rp ? rp : rcons;
}

int main(void) {
  /* One worker: asyncio's exact order, so the output is deterministic. */
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 1;
  int rc = weft_run_config(&cfg, main_task, NULL, NULL);
  if (rc) fprintf(stderr, "producer_consumer: %s\n", weft_strerror(rc));
  return rc ? 1 : 0;
}
