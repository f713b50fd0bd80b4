# The Ticker async generator of PEP 525 (asynchronous generators), with a
# 0.1 s delay.
import asyncio

async def ticker(delay, to):
    """Yield numbers from 0 to *to* every *delay* seconds."""
    for i in range(to):
        yield i
        await asyncio.sleep(delay)

async def main():
    async for i in ticker(0.1, 5):
        print(i)
    print("done")

asyncio.run(main())
