"""A feed whose reading blocks, read in a thread of its own and published from the loop.

The server's own sources (Argo's Workflows through the kubernetes client's watch, TensorBoard
event files through an object store's listing) read with blocking clients, so each reads in a
thread; what it finds is handed to the event loop, where it is published in the order found.
The thread, the hand-over queue and the stop are the same for every such feed, so they live
here once; a feed says only what its thread reads (`_read_forever`) and what the loop does
with each item (`_take`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class ThreadedFeed(Generic[T]):
    """The lifecycle of a feed read in a thread: start, hand over, close."""

    thread_name = "feed"
    join_timeout = 2.0
    """Seconds `close` waits for the thread (it reads in steps that check `_stop`)."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[T] = asyncio.Queue()
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None
        self.detail = "starting"
        """What the feed last met, for /readyz."""
        self.published = 0

    def _start_reading(self) -> None:
        """Start the loop's consumer and the reading thread (from the event loop)."""
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._consume())
        self._thread = threading.Thread(
            target=self._read_forever, name=self.thread_name, daemon=True
        )
        self._thread.start()

    async def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self._thread.join, self.join_timeout)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _hand(self, item: T) -> None:
        """From the thread: give the loop what was read, in order."""
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop closed while we were reading
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    async def _consume(self) -> None:
        while True:
            await self._take(await self._queue.get())

    def _read_forever(self) -> None:
        """The thread's body: read until `_stop` is set."""
        raise NotImplementedError

    async def _take(self, item: T) -> None:
        """On the loop: publish what the thread found."""
        raise NotImplementedError
