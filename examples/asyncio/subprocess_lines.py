# A subprocess whose output is read line by line ("Subprocesses":
# create_subprocess_exec with stdout=PIPE, then `async for line in
# proc.stdout`), and its return code.
import asyncio

async def main():
    proc = await asyncio.create_subprocess_exec(
        'printf', 'alpha\nbeta\ngamma\n', stdout=asyncio.subprocess.PIPE)
    n = 0
    async for line in proc.stdout:
        n += 1
        print(f"line {n}: {line.decode().rstrip()}")
    print(f"exited with {await proc.wait()}")

asyncio.run(main())
