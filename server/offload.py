"""Work too large for the event loop: big forms and JSON are parsed here, in one thread.

The loop carries every probe (`GET /` must answer the kubelet within 2 s), every progress
stream and every reply; a parse of tens of megabytes on it stalls them all. Python's
interpreter lock still runs one thread at a time, but hands the loop its turn every few
milliseconds (between C calls: the parsers here keep theirs short), which is what keeps it
answering. One thread, not more: each holds a body's copies, and two would take turns on
the lock with each other as well as with the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
SMALL = 64 * 1024
"""Inputs up to this size are parsed on the loop: a thread hop would cost more."""

_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parse")


async def offload(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in the parsing threads."""
    return await asyncio.get_running_loop().run_in_executor(_EXECUTOR, function, *args)
