"""Progress input checked at the edge: schema errors become refusals; watch requests, once.

The event schema raises its own `InvalidEvent`; here, and only here, it becomes the edge's
`RequestFailed(INVALID)`, so progress refusals reach HTTP statuses and gRPC codes through
the same `ErrorKind` table as every other request. A watch request (a run, maybe a step, a
namespace, where to start) is checked here for both protocols, gRPC's WatchProgress and
the server-sent events, so both refuse the same input with the same message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from kfp_viz.events import Cursor, InvalidEvent, validate_namespace, validate_run_id

from ..errors import ErrorKind, RequestFailed
from .hub import ProgressHub, Watcher

INVALID_EVENT = "Invalid progress event: "
"""What a refused publish's message starts with, on HTTP and gRPC alike."""


@contextlib.contextmanager
def refused_if_invalid(prefix: str = "") -> Iterator[None]:
    """Turn the schema's InvalidEvent, raised inside, into RequestFailed(INVALID)."""
    try:
        yield
    except InvalidEvent as error:
        raise RequestFailed(ErrorKind.INVALID, f"{prefix}{error}") from None


@dataclass(frozen=True)
class WatchRequest:
    """A checked request to follow a run: what `ProgressHub.watch` is given."""

    run_id: str
    node_id: str = ""
    namespace: str = ""
    from_beginning: bool = True
    resume_after: Cursor | None = None

    @classmethod
    def check(
        cls,
        hub: ProgressHub,
        run_id: str,
        *,
        node_id: str = "",
        namespace: str = "",
        from_beginning: bool = True,
        resume_after: Cursor | str | None = None,
    ) -> WatchRequest:
        """The request, or RequestFailed naming what is wrong (a resume cursor given as
        text, `PARTITION:OFFSET`, is parsed here)."""
        with refused_if_invalid():
            run_id = validate_run_id(run_id)
            namespace = validate_namespace(namespace)
            if isinstance(resume_after, str):
                resume_after = Cursor.parse(resume_after) if resume_after else None
        if resume_after is not None:
            hub.check_cursor(run_id, resume_after)
        return cls(run_id, node_id, namespace, from_beginning, resume_after)

    def open(self, hub: ProgressHub) -> AbstractAsyncContextManager[Watcher]:
        """The watch itself: entering it registers the watcher (RequestFailed if refused)."""
        return hub.watch(
            self.run_id,
            node_id=self.node_id,
            namespace=self.namespace,
            from_beginning=self.from_beginning,
            resume_after=self.resume_after,
        )
