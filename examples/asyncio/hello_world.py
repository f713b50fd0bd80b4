# The asyncio documentation's first program (docs.python.org, "Coroutines").
import asyncio

async def main():
    print('hello')
    await asyncio.sleep(1)
    print('world')

asyncio.run(main())
