# A user-defined async context manager (`async with` over a class with
# __aenter__/__aexit__): a connection opened and always closed, also when
# the body fails.
import asyncio

class Connection:
    def __init__(self, name):
        self.name = name

    async def __aenter__(self):
        await asyncio.sleep(0.01)
        print(f"open {self.name}")
        return self

    async def __aexit__(self, exc_type, exc, tb):
        await asyncio.sleep(0.01)
        print(f"close {self.name} ({'error' if exc else 'ok'})")
        return False

async def main():
    async with Connection("db") as c:
        print(f"using {c.name}")
    try:
        async with Connection("cache"):
            raise OSError("lost")
    except OSError as e:
        print(f"caught {e}")

asyncio.run(main())
