# Generators chained by delegation: an outer async generator passes on
# everything an inner one yields (async generators have no `yield from`;
# `async for ...: yield` is the idiom), adding its own values around it.
import asyncio

async def inner(name, n):
    for i in range(n):
        await asyncio.sleep(0.01)
        yield f"{name}.{i}"

async def outer():
    yield "start"
    async for x in inner("a", 2):
        yield x
    async for x in inner("b", 3):
        yield x
    yield "end"

async def main():
    print([x async for x in outer()])

asyncio.run(main())
