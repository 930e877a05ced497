"""Work too large for the event loop: big forms and JSON are parsed here, in two threads.

The loop carries every probe (`GET /` must answer the kubelet within 2 s), every progress
stream and every reply; a parse of tens of megabytes on it stalls them all. Two threads
bound how many such parses (and their copies of a body) exist at once. Python's
interpreter lock still runs one thread at a time, but hands the loop its turn every few
milliseconds, which is what keeps it answering.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
SMALL = 64 * 1024
"""Inputs up to this size are parsed on the loop: a thread hop would cost more."""

_EXECUTOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="parse")


async def offload(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in the parsing threads."""
    return await asyncio.get_running_loop().run_in_executor(_EXECUTOR, function, *args)
