# loop.call_later and loop.call_at ("Scheduling delayed callbacks"): the
# callbacks run in deadline order, not in the order they were scheduled.
import asyncio

def say(what):
    print(what)

async def main():
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.call_later(0.3, say, 'third (call_later 0.3)')
    loop.call_at(loop.time() + 0.1, say, 'first (call_at now + 0.1)')
    loop.call_later(0.2, say, 'second (call_later 0.2)')
    loop.call_later(0.4, done.set_result, None)
    await done
    print('done')

asyncio.run(main())
