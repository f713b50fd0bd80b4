# Chaining coroutines (the asyncio documentation's old "Example: Chain
# coroutines"): print_sum awaits compute, which sleeps.
import asyncio

async def compute(x, y):
    print(f"Compute {x} + {y} ...")
    await asyncio.sleep(0.1)
    return x + y

async def print_sum(x, y):
    result = await compute(x, y)
    print(f"{x} + {y} = {result}")

asyncio.run(print_sum(1, 2))
