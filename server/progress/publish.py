"""Taking events in over HTTP and gRPC: the namespace rule and upstream failures, in one place.

A server started with `--namespace X` stamps X on events that name no namespace and
refuses events of another namespace (403 / PERMISSION_DENIED): it must not write
into a log other tenants read. With tenancy on (`AUTH=kubeflow`) the sender's token
says its namespace (access.py): every event is stamped with it, whatever namespace the
event named, so a forged one has no effect. When the broker does not take an event, the caller
gets 503 / UNAVAILABLE naming the broker and the cause. Every refusal is a `RequestFailed`
(server/errors.py), so both protocols map it the same way.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

from kfp_viz.events import Cursor, ProgressEvent, parse_event

from ..errors import ErrorKind, RequestFailed
from .checks import INVALID_EVENT, refused_if_invalid
from .hub import ProgressHub
from .kafka_source import PublishFailed

SLICE = 200
"""Events validated or published between two turns of the event loop (a few ms)."""


class Publisher:
    """Checks events against the server's namespace and appends them to the hub's source."""

    def __init__(self, hub: ProgressHub) -> None:
        self._hub = hub
        self.namespace = hub.namespace

    def check(self, event: ProgressEvent, as_namespace: str = "") -> ProgressEvent:
        """The event as it may be published; `as_namespace` is the sender's proven namespace."""
        if as_namespace:
            if self.namespace and as_namespace != self.namespace:
                raise RequestFailed(
                    ErrorKind.FORBIDDEN,
                    f"this server serves namespace {self.namespace!r} only; the sender is in "
                    f"{as_namespace!r}",
                )
            return dataclasses.replace(event, namespace=as_namespace)
        if not self.namespace:
            return event
        if not event.namespace:
            return dataclasses.replace(event, namespace=self.namespace)
        if event.namespace != self.namespace:
            raise RequestFailed(
                ErrorKind.FORBIDDEN,
                f"this server serves namespace {self.namespace!r} only; the event is for "
                f"{event.namespace!r}",
            )
        return event

    async def check_all(
        self, objects: Sequence[dict[str, Any]], as_namespace: str = ""
    ) -> list[ProgressEvent]:
        """Validate every event (RequestFailed for the first bad one) before any is published;
        the loop gets a turn every SLICE events, so one large post does not stall it."""
        events = []
        with refused_if_invalid(INVALID_EVENT):
            for index, obj in enumerate(objects):
                events.append(self.check(parse_event(obj), as_namespace))
                if index % SLICE == SLICE - 1:
                    await asyncio.sleep(0)
        return events

    async def publish_all(self, events: Sequence[ProgressEvent]) -> list[Cursor]:
        cursors = []
        for index, event in enumerate(events):
            cursors.append(await self.publish(event))
            if index % SLICE == SLICE - 1:
                await asyncio.sleep(0)
        return cursors

    async def publish(self, event: ProgressEvent) -> Cursor:
        try:
            return await self._hub.publish(event)
        except PublishFailed as error:
            raise RequestFailed(ErrorKind.UNAVAILABLE, str(error)) from None
