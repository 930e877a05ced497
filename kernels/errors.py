"""Why a render produced no page. The server maps each class to an HTTP status and a gRPC code.

A visualization whose own code raises is *not* one of these: it still produces a
page (showing the traceback), exactly like the stock server.
"""

from __future__ import annotations


class RenderError(Exception):
    """Base class: the render was refused or failed before a page existed."""


class PoolOverloaded(RenderError):
    """Every kernel is busy and the waiting line is full; the caller should retry later."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PoolClosed(RenderError):
    """The server is shutting down and takes no more renders."""


class PoolUnavailable(RenderError):
    """No kernel is running and new ones fail to start."""


class RenderTimeout(RenderError):
    """The render's time budget ran out, either waiting for a kernel or running."""

    def __init__(self, timeout: float, waiting_for_kernel: bool) -> None:
        where = "while waiting for a free kernel" if waiting_for_kernel else "while running"
        super().__init__(f"Visualization timed out after {timeout:g} s {where}")
        self.timeout = timeout
        self.waiting_for_kernel = waiting_for_kernel


class KernelDied(RenderError):
    """The kernel running the render exited (crash, os._exit, out of memory, signal)."""


class KernelStartError(RenderError):
    """A kernel could not be started or did not answer in time."""
