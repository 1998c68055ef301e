"""A consumer process that reads one batch and then hangs in its handler, to be killed with SIGKILL."""

from __future__ import annotations

import asyncio
import sys

from redisguard.streams import Consumer, Entry


async def main(url: str, stream: str) -> None:
    async def handler(entry: Entry) -> None:
        print(f"got {entry.id}", flush=True)
        await asyncio.sleep(3600)  # never finishes: killed mid-batch

    await Consumer(url, stream=stream, group="workers", name="victim", handler=handler,
                   batch_size=50, concurrency=50).run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
