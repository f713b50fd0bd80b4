"""The asyncio and uvloop peers for the I/O benchmarks.

    python3 servers.py asyncio|uvloop echo|http PORT

Both servers are asyncio streams programs (start_server), the shape
weft's stream API mirrors; the HTTP one answers each request with the same
bytes as examples/http_hello.c.
"""
import asyncio
import sys

RESPONSE = (b"HTTP/1.1 200 OK\r\nServer: weft\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 13\r\n\r\nHello, World!")


async def echo(reader, writer):
    try:
        while True:
            data = await reader.read(16384)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()


async def http(reader, writer):
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()


async def main(mode, port):
    server = await asyncio.start_server(echo if mode == "echo" else http, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    impl, mode, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if impl == "uvloop":
        import uvloop
        uvloop.install()
    asyncio.run(main(mode, port))
