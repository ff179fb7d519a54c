"""Read an async stream ahead of its consumer, so producing and consuming overlap.

A catch-up pulls batches from a peer and applies each one in the writer thread; without
read-ahead, receiving and decoding the next batch waits until the current one is applied.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

T = TypeVar("T")

_END = object()


async def read_ahead(source: AsyncIterator[T], depth: int = 2) -> AsyncIterator[T]:
    """Yield `source`'s items in order, with up to `depth` of them fetched ahead by a task.

    An exception from `source` reaches the consumer after the items before it. When the
    consumer stops early (break, exception, close), the task is cancelled and `source` closed.
    """
    queue: asyncio.Queue[tuple[object, BaseException | None]] = asyncio.Queue(maxsize=max(1, depth))

    async def produce() -> None:
        try:
            async for item in source:
                await queue.put((item, None))
            await queue.put((_END, None))
        except asyncio.CancelledError:
            raise
        except BaseException as e:  # handed to the consumer, in order
            await queue.put((_END, e))

    task = asyncio.create_task(produce())
    try:
        while True:
            item, err = await queue.get()
            if item is _END:
                if err is not None:
                    raise err
                return
            yield item  # type: ignore[misc]
    finally:
        task.cancel()
        try:
            await task
        except BaseException:  # noqa: S110 - cancelled or already reported
            pass
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
