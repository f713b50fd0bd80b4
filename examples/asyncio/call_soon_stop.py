# The asyncio documentation's call_soon example ("Event Loop" examples:
# Hello World with call_soon()), scheduling the callback four times before
# a fifth one stops the loop.
import asyncio

def hello_world(loop, n):
    print(f'Hello World {n}')

def stop(loop):
    print('stopping')
    loop.stop()

loop = asyncio.new_event_loop()
for n in range(4):
    loop.call_soon(hello_world, loop, n)
loop.call_soon(stop, loop)
try:
    loop.run_forever()
finally:
    loop.close()
print('closed')
