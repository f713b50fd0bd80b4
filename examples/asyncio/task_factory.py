# loop.set_task_factory naming and counting every task, and the tasks
# listed by name with asyncio.all_tasks().
import asyncio

made = 0

def factory(loop, coro, **kwargs):
    global made
    made += 1
    kwargs['name'] = f"job-{made}"
    return asyncio.Task(coro, loop=loop, **kwargs)

async def work(event):
    await event.wait()

async def main():
    event = asyncio.Event()
    tasks = [asyncio.create_task(work(event)) for _ in range(3)]
    await asyncio.sleep(0)
    for name in sorted(t.get_name() for t in asyncio.all_tasks()):
        print(name)
    event.set()
    await asyncio.gather(*tasks)
    print(f"tasks made: {made}")

loop = asyncio.new_event_loop()
loop.set_task_factory(factory)
loop.run_until_complete(main())
loop.close()
