# A future set by one task and awaited by two others ("Futures": the
# set_after example, with a second waiter).
import asyncio

async def set_after(fut, delay, value):
    await asyncio.sleep(delay)
    fut.set_result(value)

async def waiter(name, fut):
    value = await fut
    print(f"{name} got {value}")

async def main():
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    w1 = asyncio.create_task(waiter("first", fut))
    w2 = asyncio.create_task(waiter("second", fut))
    asyncio.create_task(set_after(fut, 0.1, '... world'))
    print('hello ...')
    await w1
    await w2

asyncio.run(main())
