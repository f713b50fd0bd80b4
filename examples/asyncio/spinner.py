# The spinner of "Fluent Python" (ch. 19): a task that spins until it is
# cancelled, and catches the cancellation to clean up. Frames are counted
# instead of drawn, so the output does not depend on timing.
import asyncio

async def spin(msg):
    frames = 0
    try:
        while True:
            frames += 1
            await asyncio.sleep(0.01)
    except asyncio.CancelledError:
        print(f"spinner cancelled after some frames: {frames > 0}")
        raise

async def slow():
    await asyncio.sleep(0.2)
    return 42

async def supervisor():
    spinner = asyncio.create_task(spin('thinking!'))
    print(f"spinner object: {spinner.get_name() != ''}")
    result = await slow()
    spinner.cancel()
    try:
        await spinner
    except asyncio.CancelledError:
        print("spinner is done")
    return result

def main():
    result = asyncio.run(supervisor())
    print(f"Answer: {result}")

main()
