# loop.set_exception_handler catching an error raised in a callback
# ("Error Handling API").
import asyncio

def handler(loop, context):
    # The message ends with where the callback was defined: keep its head.
    print(f"handler: {context['message'].split(' at ')[0]}: {context['exception']!r}")

def bad_callback():
    raise OSError(5, 'Input/output error')

async def main():
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(handler)
    loop.call_soon(bad_callback)
    await asyncio.sleep(0.01)
    print('the loop goes on')

asyncio.run(main())
