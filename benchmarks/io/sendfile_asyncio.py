"""asyncio's loop.sock_sendfile, weft-sendfile's shape (benchmarks/io/sendfile.c);
with `transport`, loop.sendfile on a stream writer's transport (weft-sendfile writer).

Usage: python3 sendfile_asyncio.py [MiB] [transport] [cold|direct]  (default 256)
       python3 sendfile_asyncio.py small BYTES  (weft-sendfile small's shape)
`cold`: the file is dropped from the page cache first, and a coroutine sleeps
1 ms at a time during the send (max_late_ms: the loop held by disk reads);
`direct`: the same through an O_DIRECT descriptor.
"""
import asyncio, os, resource, socket, sys, tempfile, threading, time

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

def drop_all(s):
    while s.recv(1 << 16):
        pass

async def ticker(stats):
    while True:
        t0 = time.monotonic()
        await asyncio.sleep(0.001)
        stats[0] = max(stats[0], time.monotonic() - t0 - 0.001)
        stats[1] += 1

async def main(mib, transport, cold, direct):
    f = tempfile.TemporaryFile(dir=".")
    block = b"x" * (1 << 20)
    for _ in range(mib):
        f.write(block)
    f.flush()
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    loop = asyncio.get_running_loop()
    if transport:
        s_fut = loop.run_in_executor(None, lsock.accept)
        _, writer = await asyncio.open_connection(*lsock.getsockname())
        s, _ = await s_fut
    else:
        c = socket.socket()
        c.setblocking(False)
        await loop.sock_connect(c, lsock.getsockname())
        s, _ = lsock.accept()
    th = threading.Thread(target=drop_all, args=(s,))
    th.start()
    stats, tick = [0.0, 0], None
    if cold:
        os.fsync(f.fileno())
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        if direct:
            import fcntl
            fd = f.fileno()
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_DIRECT)
        tick = asyncio.create_task(ticker(stats))
        await asyncio.sleep(0)
    c0, t0 = cpu(), time.monotonic()
    f.seek(0)
    if transport:
        n = await loop.sendfile(writer.transport, f, 0, mib << 20)
        dt = time.monotonic() - t0
        writer.close()
        await writer.wait_closed()
    else:
        n = await loop.sock_sendfile(c, f, 0, mib << 20)
        dt = time.monotonic() - t0
        c.shutdown(socket.SHUT_WR)
    th.join()
    used = cpu() - c0
    assert n == mib << 20, n
    if tick:
        tick.cancel()
    impl = "asyncio-transport" if transport else "asyncio"
    print(f"RESULT impl={impl} mib={mib} s={dt:.3f} mib_s={mib / dt:.0f} cpu_s={used:.3f}"
          + (f" {'direct' if direct else 'cold'}=1 max_late_ms={stats[0] * 1e3:.3f} ticks={stats[1]}" if cold else ""))

async def small(size, calls=20000):
    """loop.sock_sendfile of a small cached file, `calls` times (weft-sendfile small)."""
    f = tempfile.TemporaryFile(dir=".")
    f.write(b"x" * size)
    f.flush()
    a, b = socket.socketpair()
    a.setblocking(False)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    th = threading.Thread(target=drop_all, args=(b,))
    th.start()
    loop = asyncio.get_running_loop()
    t0 = time.monotonic()
    for _ in range(calls):
        assert await loop.sock_sendfile(a, f, 0, size) == size
    dt = time.monotonic() - t0
    a.shutdown(socket.SHUT_WR)
    th.join()
    print(f"RESULT impl=asyncio-small bytes={size} calls={calls} ns_per_call={dt / calls * 1e9:.0f}")

if len(sys.argv) > 2 and sys.argv[1] == "small":
    asyncio.run(small(int(sys.argv[2])))
    sys.exit(0)
asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 256, "transport" in sys.argv[2:],
                 "cold" in sys.argv[2:] or "direct" in sys.argv[2:], "direct" in sys.argv[2:]))
