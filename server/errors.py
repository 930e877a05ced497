"""How a refused or failed request looks on each protocol: one table, used by HTTP and gRPC.

Every failure the server reports is a `RequestFailed` of some `ErrorKind`. The
kind fixes the HTTP status and the gRPC code together, so the two protocols can
never disagree about what went wrong; the message is the same text on both
(the HTTP reason phrase, which is all a KFP UI user gets to see, and the gRPC
status details).
"""

from __future__ import annotations

import enum

import grpc
from kfp_viz.safe_text import escaped
from kfp_viz_kernels import (
    KernelDied,
    PoolClosed,
    PoolOverloaded,
    PoolUnavailable,
    RenderError,
    RenderTimeout,
)


class ErrorKind(enum.Enum):
    """A category of failure, with its HTTP status and gRPC status code."""

    INVALID = (400, grpc.StatusCode.INVALID_ARGUMENT)
    UNAUTHENTICATED = (401, grpc.StatusCode.UNAUTHENTICATED)
    """No credential, or one the Kubernetes API does not accept (server/auth)."""
    FORBIDDEN = (403, grpc.StatusCode.PERMISSION_DENIED)
    NOT_FOUND = (404, grpc.StatusCode.NOT_FOUND)
    TOO_LARGE = (413, grpc.StatusCode.RESOURCE_EXHAUSTED)
    NOT_IMPLEMENTED = (501, grpc.StatusCode.UNIMPLEMENTED)
    OVERLOADED = (503, grpc.StatusCode.RESOURCE_EXHAUSTED)
    UNAVAILABLE = (503, grpc.StatusCode.UNAVAILABLE)
    TIMEOUT = (504, grpc.StatusCode.DEADLINE_EXCEEDED)
    KERNEL_DIED = (500, grpc.StatusCode.INTERNAL)
    CORRUPT = (500, grpc.StatusCode.DATA_LOSS)
    """Stored data that no longer matches its digest (server/page_store.py)."""

    @property
    def http_status(self) -> int:
        return self.value[0]

    @property
    def grpc_code(self) -> grpc.StatusCode:
        return self.value[1]

    @property
    def outcome(self) -> str:
        """The label this failure carries in metrics."""
        return self.name.lower()


class RequestFailed(Exception):
    """A request that gets no page: its kind, a message a person can act on, maybe a retry hint.

    The message is made fit for an HTTP reason phrase here, once, so both protocols carry
    the same text, whatever a request echoed into it. `detail` keeps the text as it was
    given, for replies that can carry any text (the progress endpoints' JSON bodies).
    """

    def __init__(self, kind: ErrorKind, message: str, retry_after: int | None = None) -> None:
        sanitized = reason_phrase(message)
        super().__init__(sanitized)
        self.kind = kind
        self.message = sanitized
        self.detail = message
        self.retry_after = retry_after


REASON_LIMIT = 400


def reason_phrase(text: str, limit: int = REASON_LIMIT) -> str:
    """`text` as an HTTP reason phrase a person can read: one line of printable ASCII, not
    too long. Other characters are escaped (é → \\xe9), never dropped: Tornado would
    otherwise send "Unknown" for a reason with `<` or a character past Latin-1, and the
    reason phrase is all a KFP UI user sees."""
    text = escaped(text, line_breaks=" ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def from_render_error(error: RenderError) -> RequestFailed:
    """Map the core's reasons for not producing a page onto protocol errors."""
    if isinstance(error, PoolOverloaded):
        return RequestFailed(ErrorKind.OVERLOADED, str(error), retry_after=error.retry_after)
    if isinstance(error, RenderTimeout):
        return RequestFailed(ErrorKind.TIMEOUT, str(error))
    if isinstance(error, KernelDied):
        return RequestFailed(ErrorKind.KERNEL_DIED, f"{error}; a fresh kernel replaces it")
    if isinstance(error, (PoolClosed, PoolUnavailable)):
        return RequestFailed(ErrorKind.UNAVAILABLE, str(error))
    return RequestFailed(ErrorKind.UNAVAILABLE, f"Render failed: {error}")
