# Three "downloads" of different lengths taken as they finish
# (asyncio.as_completed), then asyncio.wait with FIRST_COMPLETED.
import asyncio

async def fetch(name, delay):
    await asyncio.sleep(delay)
    return f"{name} after {delay}s"

async def main():
    coros = [fetch("slow", 0.3), fetch("fast", 0.1), fetch("medium", 0.2)]
    for next_done in asyncio.as_completed(coros):
        print(await next_done)

    tasks = [asyncio.create_task(fetch(n, d)) for n, d in (("a", 0.2), ("b", 0.05))]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    print(f"done: {[t.result() for t in done]}, pending: {len(pending)}")
    await asyncio.wait(pending)
    print("all done")

asyncio.run(main())
