# Downloads throttled by a semaphore: at most two at a time (the classic
# asyncio.Semaphore example, with a simulated 0.1 s download).
import asyncio

async def download(sem, i, active, peak):
    async with sem:
        active[0] += 1
        peak[0] = max(peak[0], active[0])
        await asyncio.sleep(0.1)
        active[0] -= 1
        return f"page {i}"

async def main():
    sem = asyncio.Semaphore(2)
    active, peak = [0], [0]
    pages = await asyncio.gather(*(download(sem, i, active, peak) for i in range(5)))
    print(pages)
    print(f"at most {peak[0]} at a time")

asyncio.run(main())
