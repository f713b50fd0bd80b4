# The producer/consumer with asyncio.Queue(maxsize=2) that
# examples/producer_consumer.c ports (the ctest asyncio_producer_consumer
# runs that program against this one's output).
import asyncio

async def producer(q):
    for i in range(10):
        await q.put(i)
        print(f"produced {i}")
    await q.put(None)

async def consumer(q):
    while (item := await q.get()) is not None:
        print(f"consumed {item}")

async def main():
    q = asyncio.Queue(maxsize=2)
    await asyncio.gather(producer(q), consumer(q))

asyncio.run(main())
