# A loop run forever in a second thread, fed from the main thread with
# call_soon_threadsafe and run_coroutine_threadsafe ("Concurrency and
# Multithreading").
import asyncio
import threading

def report(what):
    print(f"callback: {what}")

async def square(x):
    await asyncio.sleep(0.01)
    return x * x

loop = asyncio.new_event_loop()
thread = threading.Thread(target=loop.run_forever)
thread.start()

done = threading.Event()
loop.call_soon_threadsafe(report, "from the main thread")
loop.call_soon_threadsafe(done.set)
done.wait()
future = asyncio.run_coroutine_threadsafe(square(7), loop)
print(f"result: {future.result(timeout=5)}")
loop.call_soon_threadsafe(loop.stop)
thread.join()
loop.close()
print("closed")
