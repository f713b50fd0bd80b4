# The factorial tasks of the gather example, waited for with asyncio.wait
# and then taken as they complete with asyncio.as_completed.
import asyncio

async def factorial(name, number):
    f = 1
    for i in range(2, number + 1):
        await asyncio.sleep(0.1)
        f *= i
    print(f"Task {name}: factorial({number}) = {f}")
    return f

async def main():
    tasks = [asyncio.create_task(factorial(n, k)) for n, k in (("A", 2), ("B", 3), ("C", 4))]
    done, pending = await asyncio.wait(tasks)
    print(f"wait: {len(done)} done, {len(pending)} pending, results {[t.result() for t in tasks]}")
    coros = [factorial(n, k) for n, k in (("C", 4), ("A", 2), ("B", 3))]
    for fut in asyncio.as_completed(coros):
        print(f"as_completed: {await fut}")

asyncio.run(main())
