# loop.run_in_executor and asyncio.to_thread with a blocking function
# ("Executing code in thread or process pools"), with a 0.3 s blocking
# sleep: the loop keeps ticking meanwhile.
import asyncio
import concurrent.futures
import time

def blocking_io(seconds):
    time.sleep(seconds)          # blocks its thread, not the loop
    return f"slept {seconds}"

async def ticker():
    for i in range(3):
        await asyncio.sleep(0.02)
        print(f"tick {i}")

async def main():
    loop = asyncio.get_running_loop()
    t = asyncio.create_task(ticker())
    result = await loop.run_in_executor(None, blocking_io, 0.3)
    print('default thread pool', result)
    await t
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        result = await loop.run_in_executor(pool, blocking_io, 0.01)
        print('custom thread pool', result)
    print('to_thread', await asyncio.to_thread(blocking_io, 0.01))

asyncio.run(main())
