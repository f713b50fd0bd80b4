#!/usr/bin/env python3
"""order_script.py - runs an order script (tests/order/README.md) on CPython's
asyncio and prints what it traced, one line: the reference order_script.c's
output is compared with (order_fuzz.py).

    order_script.py SCRIPT

Each op maps to the asyncio call the C interpreter's weft call mirrors:
Y await asyncio.sleep(0); S create_task; A await the task; F set the
future's result if not done; W await the future; C loop.call_soon(note);
E Event.set; V await Event.wait(); P Queue.put_nowait (QueueFull notes
'!'); Q await Queue.get(); L await Lock.acquire(); U Lock.release(); M
await Semaphore.acquire(); R Semaphore.release(); G await gather(future k,
future k+1); T loop.call_later(0, note); w await asyncio.wait([future k, future k+1]); h await
asyncio.shield(future k); B loop.call_soon(set future k's
result if not done); Z cancel the running task itself; X cancel the
task; K `async with cond: await cond.wait_for(lambda: released)`; J
`async with cond: cond.notify(1)`; k `async with cond: if not released:
await cond.wait()` (one wait: any notify ends it); O `await Barrier.wait()` (notes the
arrival index, or '~' when broken); D Barrier.reset(); H Event.clear(); I
await Queue.put(); t `async with TaskGroup() as tg: tg.create_task(task
k)`; g Queue.get_nowait() (QueueEmpty notes '!'); d
get_nowait() and task_done() (QueueEmpty notes '!'); j await Queue.join().
A task that CancelledError ends notes '#' (unless it
never started: its body never runs); an await of a task that was
cancelled notes '%'.
Queue k holds at most k % 4 items (0: unbounded); queue 2 is LIFO, queue 3
a priority queue; each put's item is the next letter (q notes the item a
get took); queues 5-7 are the put queues, which the epilogue drains; semaphore k starts with k + 1
permits. A task cancelled while it holds locks or permits gives them back
(as `async with` would), the last taken first.
"""
import asyncio
import collections
import sys

MAX_OBJS = 8

if sys.version_info < (3, 13):
    # The outside checks run CPython 3.13, whose Semaphore and Condition
    # differ from older ones in one rule each, which weft follows. The
    # Semaphore: a waiter leaving acquire()
    # (with its permit, cancelled, or given a permit it then gave back)
    # hands on every permit that is free while waiters not yet woken are
    # queued, not just one (3.11 woke one; each woken waiter then woke the
    # next a pass later). The rest of 3.11's Semaphore is 3.13's.
    def _wake_up_next(self):
        for fut in self._waiters or ():
            if not fut.done():
                self._value -= 1
                fut.set_result(True)
                return True
        return False

    async def _acquire(self):
        if not self.locked():
            self._value -= 1
            return True
        if self._waiters is None:
            self._waiters = collections.deque()
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            try:
                await fut
            finally:
                self._waiters.remove(fut)
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._value += 1  # granted, but not taken: back to the pool
            raise
        finally:
            while self._value > 0 and self._wake_up_next():
                pass
        return True

    asyncio.Semaphore._wake_up_next = _wake_up_next
    asyncio.Semaphore.acquire = _acquire

    # And in Condition.wait: whatever ends a wait by an exception (a
    # cancellation) may have used up a notification, so the leaving
    # waiter passes one on to the next waiter not yet woken.
    def _notify_next(self, n):
        woken = 0
        for fut in self._waiters:
            if woken >= n:
                break
            if not fut.done():
                woken += 1
                fut.set_result(False)

    async def _wait(self):
        if not self.locked():
            raise RuntimeError('cannot wait on un-acquired lock')
        fut = asyncio.get_running_loop().create_future()
        self.release()
        try:
            try:
                self._waiters.append(fut)
                try:
                    await fut
                    return True
                finally:
                    self._waiters.remove(fut)
            finally:
                err = None  # the lock is taken again, cancelled or not
                while True:
                    try:
                        await self.acquire()
                        break
                    except asyncio.CancelledError as e:
                        err = e
                if err is not None:
                    raise err
        except BaseException:
            _notify_next(self, 1)
            raise

    asyncio.Condition.wait = _wait
# Passes the main task lets go by before its epilogue unblocks everyone, so
# that the other tasks meet at the objects first.
EPILOGUE_PASSES = 8
# Queues 5-7 (1-3 items) take blocking puts and no blocking gets: the
# epilogue starts a drainer for each, which gets until it is cancelled.
PUT_QUEUES = (5, 6, 7)
# Queue 4 (unbounded) is the join queue: its items are taken by `d`
# (get_nowait and task_done) and by the epilogue's drainer, which marks each
# done too, so that its unfinished count is always its size and every join
# ends once the drainer has emptied it.
JOIN_QUEUE = 4
ITEMS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'


def parse(text):
    tasks = []
    for part in text.split(';'):
        ops, toks, i = [], part.split(), 0
        while i < len(toks):
            code = toks[i]
            if code in 'YZ':
                ops.append((code, None))
                i += 1
                continue
            arg = toks[i + 1]
            ops.append((code, arg if code in 'NCT' else int(arg)))
            i += 2
        tasks.append(ops)
    return tasks


def run(text):
    script = parse(text)
    trace = []
    tasks = {}

    async def main():
        loop = asyncio.get_running_loop()
        futs = [loop.create_future() for _ in range(MAX_OBJS)]
        events = [asyncio.Event() for _ in range(MAX_OBJS)]
        # Queue 2 is a LifoQueue, queue 3 a PriorityQueue (items are letters).
        kinds = {2: asyncio.LifoQueue, 3: asyncio.PriorityQueue}
        queues = [kinds.get(k, asyncio.Queue)(maxsize=k % 4) for k in range(MAX_OBJS)]
        puts = [0]

        def next_item():
            # Each put's item: the next letter, in the order the puts are made.
            puts[0] += 1
            return ITEMS[(puts[0] - 1) % len(ITEMS)]
        locks = [asyncio.Lock() for _ in range(MAX_OBJS)]
        sems = [asyncio.Semaphore(k + 1) for k in range(MAX_OBJS)]
        conds = [asyncio.Condition() for _ in range(MAX_OBJS)]
        barriers = [asyncio.Barrier(k % 3 + 2) for k in range(MAX_OBJS)]
        released = [False] * MAX_OBJS
        gets = [0] * MAX_OBJS
        drained = set()
        for ops in script:
            for code, arg in ops:
                if code in 'Qqg' and arg not in PUT_QUEUES:
                    gets[arg] += 1
                elif code in 'PIg' and arg in PUT_QUEUES or code in 'Pdj' and arg == JOIN_QUEUE:
                    drained.add(arg)

        def set_future(k):
            if not futs[k].done():
                futs[k].set_result(None)

        async def feed(queue, n):
            # One item for each get the script makes (blocking or not), put
            # as room frees up; cancelled once every task has ended (items
            # may be left over).
            for _ in range(n):
                await queue.put(next_item())

        async def drain(queue, done):
            # A put queue's or the join queue's reader: gets until
            # cancelled, marking each item done on the join queue.
            while True:
                await queue.get()
                if done:
                    queue.task_done()

        async def run_task(i):
            held = []
            try:
                await run_ops(i, held)
            except asyncio.CancelledError:
                trace.append('#')
                for what in reversed(held):
                    what.release()
                raise

        async def run_ops(i, held):
            for code, arg in script[i]:
                if code == 'N':
                    trace.append(arg)
                elif code == 'Y':
                    await asyncio.sleep(0)
                elif code == 'S':
                    tasks[arg] = asyncio.create_task(run_task(arg))
                elif code == 't':
                    async with asyncio.TaskGroup() as tg:
                        tasks[arg] = tg.create_task(run_task(arg))
                elif code == 'A':
                    try:
                        await tasks[arg]
                    except asyncio.CancelledError:
                        trace.append('%')
                elif code == 'X':
                    tasks[arg].cancel()
                elif code == 'F':
                    if not futs[arg].done():
                        futs[arg].set_result(None)
                elif code == 'W':
                    await futs[arg]
                elif code == 'C':
                    loop.call_soon(trace.append, arg)
                elif code == 'E':
                    events[arg].set()
                elif code == 'V':
                    await events[arg].wait()
                elif code == 'P':
                    try:
                        queues[arg].put_nowait(next_item())
                    except asyncio.QueueFull:
                        trace.append('!')
                elif code == 'Q':
                    await queues[arg].get()
                elif code == 'q':
                    trace.append(await queues[arg].get())
                elif code == 'L':
                    await locks[arg].acquire()
                    held.append(locks[arg])
                elif code == 'U':
                    held.remove(locks[arg])
                    locks[arg].release()
                elif code == 'M':
                    await sems[arg].acquire()
                    held.append(sems[arg])
                elif code == 'R':
                    if sems[arg] in held:  # else a permit given without a take
                        held.remove(sems[arg])
                    sems[arg].release()
                elif code == 'h':
                    await asyncio.shield(futs[arg])
                elif code == 'w':
                    await asyncio.wait([futs[arg], futs[(arg + 1) % MAX_OBJS]])
                elif code == 'G':
                    await asyncio.gather(futs[arg], futs[(arg + 1) % MAX_OBJS])
                elif code == 'T':
                    loop.call_later(0, trace.append, arg)
                elif code == 'B':
                    loop.call_soon(set_future, arg)
                elif code == 'Z':
                    asyncio.current_task().cancel()
                elif code == 'K':
                    async with conds[arg]:
                        await conds[arg].wait_for(lambda: released[arg])
                elif code == 'k':
                    async with conds[arg]:
                        if not released[arg]:
                            await conds[arg].wait()
                elif code == 'J':
                    async with conds[arg]:
                        conds[arg].notify(1)
                elif code == 'O':
                    try:
                        trace.append(str(await barriers[arg].wait()))
                    except asyncio.BrokenBarrierError:
                        trace.append('~')
                elif code == 'D':
                    await barriers[arg].reset()
                elif code == 'H':
                    events[arg].clear()
                elif code == 'I':
                    await queues[arg].put(next_item())
                elif code == 'g':
                    try:
                        queues[arg].get_nowait()
                    except asyncio.QueueEmpty:
                        trace.append('!')
                elif code == 'd':
                    try:
                        queues[arg].get_nowait()
                        queues[arg].task_done()
                    except asyncio.QueueEmpty:
                        trace.append('!')
                elif code == 'j':
                    await queues[arg].join()
                else:
                    raise ValueError('unknown op ' + code)
            if i == 0:
                for _ in range(EPILOGUE_PASSES):
                    await asyncio.sleep(0)
                # The epilogue: every future and event set, every condition
                # released, every barrier broken, a feeder task for each
                # queue that is read, a drainer for each put queue used, every
                # task awaited, the feeders and drainers cancelled.
                for k in range(MAX_OBJS):
                    if not futs[k].done():
                        futs[k].set_result(None)
                    events[k].set()
                for k in range(MAX_OBJS):
                    async with conds[k]:
                        released[k] = True
                        conds[k].notify_all()
                for k in range(MAX_OBJS):
                    await barriers[k].abort()
                feeders = [asyncio.create_task(feed(queues[k], gets[k]))
                           for k in range(MAX_OBJS) if gets[k]]
                feeders += [asyncio.create_task(drain(queues[k], k == JOIN_QUEUE)) for k in sorted(drained)]
                for k in range(1, len(script)):
                    if k not in tasks:
                        continue  # its spawner ended first (cancelled, say)
                    try:
                        await tasks[k]
                    except asyncio.CancelledError:
                        pass
                for f in feeders:
                    f.cancel()
                    try:
                        await f
                    except asyncio.CancelledError:
                        pass

        await run_task(0)

    asyncio.run(main())
    return ''.join(trace)


if __name__ == '__main__':
    print(run(sys.argv[1]))
