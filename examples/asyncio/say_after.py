# The asyncio documentation's say_after, run one after the other and then
# as two tasks ("Coroutines" and "Awaitables"). The original prints the
# wall-clock time (time.strftime('%X')); this one prints the whole seconds
# elapsed, which is what the example is about: ~3 s, then ~2 s.
import asyncio
import time

async def say_after(delay, what):
    await asyncio.sleep(delay)
    print(what)

async def main():
    t0 = time.monotonic()
    print(f"started at {round(time.monotonic() - t0)}")
    await say_after(1, 'hello')
    await say_after(2, 'world')
    print(f"finished at {round(time.monotonic() - t0)}")

    t0 = time.monotonic()
    task1 = asyncio.create_task(say_after(1, 'hello'))
    task2 = asyncio.create_task(say_after(2, 'world'))
    print(f"started at {round(time.monotonic() - t0)}")
    await task1
    await task2
    print(f"finished at {round(time.monotonic() - t0)}")

asyncio.run(main())
