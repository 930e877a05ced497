"""gRPC `kfpviz.v1.Progress`: WatchProgress (server-streaming) and PublishProgress.

Each stream message holds exactly one of: a run of consecutive events (several when
the watcher is busy, so a fast run costs fewer messages), a heartbeat, a `lagged`
notice or the `caught_up` marker.

Fan-out is the hot path (one run, many watchers), so an event is serialized once and
its bytes shared by every watcher: a message of events is the concatenation of the
events' framed bytes (field 1, length-delimited, repeated — exactly what protobuf
would write), handed to gRPC as bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from kfp_viz.pb import kfpviz_progress_pb2 as pb
from kfp_viz.pb import kfpviz_progress_pb2_grpc as pb_grpc

from .events import Cursor, InvalidEvent, ProgressEvent, validate_run_id
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
            events = await self._publisher.check_all([_to_dict(e) for e in request.events])
            if not events:
                raise InvalidEvent("no events given")
            cursors = await self._publisher.publish_all(events)
        except InvalidEvent as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except PublishRefused as error:
            await context.abort(error.grpc_code, str(error))
        return pb.PublishProgressResponse(
            cursors=[pb.Cursor(partition=c.partition, offset=c.offset) for c in cursors]
        )


def _messages(batch: list[Item] | Heartbeat) -> list[pb.WatchProgressResponse | bytes]:
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
    messages: list[pb.WatchProgressResponse | bytes] = []
    events: list[bytes] = []
    for item in batch:
        if isinstance(item, Delivered):
            events.append(_framed(item))
            continue
        if events:
            messages.append(b"".join(events))
            events = []
        if isinstance(item, Lagged):
            cursor = pb.Cursor(partition=item.resume_from.partition, offset=item.resume_from.offset)
            lagged = pb.Lagged(resume_from=cursor, queue_size=item.queue_size)
            messages.append(pb.WatchProgressResponse(lagged=lagged))
        elif isinstance(item, CaughtUp):
            messages.append(pb.WatchProgressResponse(caught_up=pb.CaughtUp(events=item.events)))
    if events:
        messages.append(b"".join(events))
    return messages


_EVENTS_TAG = b"\x0a"  # WatchProgressResponse.events: field 1, wire type 2 (length-delimited)


def _framed(item: Delivered) -> bytes:
    """The event as one `events` entry of a serialized WatchProgressResponse; built once."""
    cached = item.encoded.get("grpc")
    if cached is None:
        body = pb.StreamedEvent(
            event=to_message(item.event),
            cursor=pb.Cursor(partition=item.cursor.partition, offset=item.cursor.offset),
        ).SerializeToString()
        cached = item.encoded["grpc"] = _EVENTS_TAG + _varint(len(body)) + body
    return cached


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _serialize(message: pb.WatchProgressResponse | bytes) -> bytes:
    return message if isinstance(message, bytes) else message.SerializeToString()


def to_message(event: ProgressEvent) -> pb.ProgressEvent:
    message = pb.ProgressEvent(
        v=event.v, run_id=event.run_id, node_id=event.node_id, namespace=event.namespace,
        ts=event.ts, kind=event.kind, metrics=event.metrics, message=event.message,
        status=event.status, parents=event.parents,
    )  # fmt: skip
    for name in ("current", "total", "fraction", "started", "finished"):
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
    if message.parents:
        out["parents"] = list(message.parents)
    for name in ("current", "total", "fraction", "started", "finished"):
        if message.HasField(name):
            out[name] = getattr(message, name)
    return out


def add_to_server(servicer: ProgressServicer, server: grpc.aio.Server) -> None:
    """Like the generated registration, except that WatchProgress may yield ready bytes."""
    handlers = {
        "WatchProgress": grpc.unary_stream_rpc_method_handler(
            servicer.WatchProgress,
            request_deserializer=pb.WatchProgressRequest.FromString,
            response_serializer=_serialize,
        ),
        "PublishProgress": grpc.unary_unary_rpc_method_handler(
            servicer.PublishProgress,
            request_deserializer=pb.PublishProgressRequest.FromString,
            response_serializer=pb.PublishProgressResponse.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
