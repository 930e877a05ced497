"""gRPC `kfpviz.v1.Progress`: WatchProgress (server-streaming) and PublishProgress.

Each stream message holds exactly one of: a run of consecutive events (several when
the watcher is busy, so a fast run costs fewer messages), a heartbeat, a `lagged`
notice or the `caught_up` marker. An event's protobuf form is built once and shared
by every watcher that receives it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from ..pb import kfpviz_progress_pb2 as pb
from ..pb import kfpviz_progress_pb2_grpc as pb_grpc
from .events import Cursor, InvalidEvent, ProgressEvent, parse_event, validate_run_id
from .hub import CaughtUp, Delivered, Heartbeat, Item, Lagged, ProgressHub, WatchRefused
from .publish import Publisher, PublishRefused

_REFUSAL_CODES = {
    "invalid": grpc.StatusCode.INVALID_ARGUMENT,
    "forbidden": grpc.StatusCode.PERMISSION_DENIED,
    "unavailable": grpc.StatusCode.UNAVAILABLE,
}
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Progress"].full_name


class ProgressServicer(pb_grpc.ProgressServicer):
    """Streams the hub's events to gRPC clients; takes events in for the hub's source."""

    def __init__(self, hub: ProgressHub, publisher: Publisher, heartbeat: float) -> None:
        self._hub = hub
        self._publisher = publisher
        self._heartbeat = heartbeat

    async def WatchProgress(
        self, request: pb.WatchProgressRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchProgressResponse]:
        try:
            run_id = validate_run_id(request.run_id)
            resume = None
            if request.HasField("resume_after"):
                resume = Cursor(request.resume_after.partition, request.resume_after.offset)
                self._hub.check_cursor(run_id, resume)
            watch = self._hub.watch(
                run_id,
                node_id=request.node_id,
                namespace=request.namespace,
                from_beginning=request.from_beginning,
                resume_after=resume,
            )
            watcher = await watch.__aenter__()
        except InvalidEvent as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except WatchRefused as error:
            await context.abort(_REFUSAL_CODES[error.reason], str(error))
        try:
            async for batch in self._hub.follow(watcher, self._heartbeat):
                for message in _messages(batch):
                    yield message
        finally:
            await watch.__aexit__(None, None, None)

    async def PublishProgress(
        self, request: pb.PublishProgressRequest, context: grpc.aio.ServicerContext
    ) -> pb.PublishProgressResponse:
        try:
            events = [self._publisher.check(parse_event(_to_dict(e))) for e in request.events]
            if not events:
                raise InvalidEvent("no events given")
            cursors = [await self._publisher.publish(event) for event in events]
        except InvalidEvent as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except PublishRefused as error:
            await context.abort(error.grpc_code, str(error))
        return pb.PublishProgressResponse(
            cursors=[pb.Cursor(partition=c.partition, offset=c.offset) for c in cursors]
        )


def _messages(batch: list[Item] | Heartbeat) -> list[pb.WatchProgressResponse]:
    if isinstance(batch, Heartbeat):
        return [
            pb.WatchProgressResponse(
                heartbeat=pb.Heartbeat(
                    upstream_reachable=batch.upstream_reachable,
                    upstream=batch.upstream,
                    detail=batch.detail,
                    server_time=batch.server_time,
                )
            )
        ]
    messages: list[pb.WatchProgressResponse] = []
    events: list[pb.StreamedEvent] = []
    for item in batch:
        if isinstance(item, Delivered):
            events.append(_streamed(item))
            continue
        if events:
            messages.append(pb.WatchProgressResponse(events=events))
            events = []
        if isinstance(item, Lagged):
            cursor = pb.Cursor(partition=item.resume_from.partition, offset=item.resume_from.offset)
            lagged = pb.Lagged(resume_from=cursor, queue_size=item.queue_size)
            messages.append(pb.WatchProgressResponse(lagged=lagged))
        elif isinstance(item, CaughtUp):
            messages.append(pb.WatchProgressResponse(caught_up=pb.CaughtUp(events=item.events)))
    if events:
        messages.append(pb.WatchProgressResponse(events=events))
    return messages


def _streamed(item: Delivered) -> pb.StreamedEvent:
    cached = item.encoded.get("pb")
    if cached is None:
        cached = item.encoded["pb"] = pb.StreamedEvent(
            event=to_message(item.event),
            cursor=pb.Cursor(partition=item.cursor.partition, offset=item.cursor.offset),
        )
    return cached


def to_message(event: ProgressEvent) -> pb.ProgressEvent:
    message = pb.ProgressEvent(
        v=event.v, run_id=event.run_id, node_id=event.node_id, namespace=event.namespace,
        ts=event.ts, kind=event.kind, metrics=event.metrics, message=event.message,
        status=event.status,
    )  # fmt: skip
    for name in ("current", "total", "fraction"):
        value = getattr(event, name)
        if value is not None:
            setattr(message, name, value)
    return message


def _to_dict(message: pb.ProgressEvent) -> dict:
    """The JSON-shaped dict of a published message, so one validation serves every path."""
    out: dict = {
        "v": message.v or 1, "run_id": message.run_id, "node_id": message.node_id,
        "namespace": message.namespace, "kind": message.kind, "message": message.message,
        "status": message.status, "metrics": dict(message.metrics),
    }  # fmt: skip
    if message.ts:
        out["ts"] = message.ts
    for name in ("current", "total", "fraction"):
        if message.HasField(name):
            out[name] = getattr(message, name)
    return out


def add_to_server(servicer: ProgressServicer, server: grpc.aio.Server) -> None:
    pb_grpc.add_ProgressServicer_to_server(servicer, server)
