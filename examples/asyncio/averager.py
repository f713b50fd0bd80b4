# A coroutine-style running average driven with asend (an async generator,
# as the generator-based averager of "Fluent Python", ch. 17/19).
import asyncio

async def averager():
    total = 0.0
    count = 0
    average = None
    while True:
        term = yield average
        total += term
        count += 1
        average = total / count

async def main():
    avg = averager()
    await avg.asend(None)          # prime it
    for term in (10, 30, 5):
        print(await avg.asend(term))
    await avg.aclose()
    print("closed")

asyncio.run(main())
