#!/usr/bin/env python3
"""benchmarks/io/idle_conns.py - what an idle keep-alive connection costs a
server in memory.

    idle_conns.py PORT CONNS PID...

Opens CONNS connections to the HTTP server on 127.0.0.1:PORT (200 at a
time), sends one GET on each and reads its whole response (Content-Length),
then leaves them all open and idle, as a keep-alive client between requests
does. Prints the resident memory of the server's processes (PID..., VmRSS
summed) before the first connection and once all are idle, and the
difference per connection:

    conns=N rss_before_kib=B rss_idle_kib=A kib_per_conn=X

The server's kernel socket buffers are not in its RSS; everything the
server keeps per connection in user space is: a task's or goroutine's
stack, its buffers, its connection objects.
"""
import asyncio
import resource
import sys


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


async def one(port, held):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await w.drain()
    head = await r.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await r.readexactly(length)
    held.append(w)


async def main(port, conns, pids):
    before = rss_kib(pids)
    held = []
    gate = asyncio.Semaphore(200)

    async def limited():
        async with gate:
            await one(port, held)

    await asyncio.gather(*(limited() for _ in range(conns)))
    # The server's last handlers go back to waiting; nothing arrives after.
    await asyncio.sleep(0.5)
    idle = rss_kib(pids)
    print(f"conns={len(held)} rss_before_kib={before} rss_idle_kib={idle} "
          f"kib_per_conn={(idle - before) / len(held):.2f}")
    for w in held:
        w.close()


if __name__ == "__main__":
    port, conns, pids = int(sys.argv[1]), int(sys.argv[2]), [int(p) for p in sys.argv[3:]]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < conns + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, conns + 64), hard))
    asyncio.run(main(port, conns, pids))
