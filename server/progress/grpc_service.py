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
from typing import Any

import grpc
from kfp_viz.events import Cursor, message_fields, to_message
from kfp_viz.pb import kfpviz_progress_pb2 as pb
from kfp_viz.pb import kfpviz_progress_pb2_grpc as pb_grpc

from ..errors import ErrorKind, RequestFailed
from ..grpc_support import abort, service_name
from ..wire import length_delimited
from .access import RunAccess
from .checks import INVALID_EVENT, WatchRequest
from .hub import CaughtUp, Delivered, Heartbeat, Item, Lagged, ProgressHub
from .publish import Publisher

SERVICE_NAME = service_name(pb, "Progress")


class ProgressServicer(pb_grpc.ProgressServicer):
    """Streams the hub's events to gRPC clients; takes events in for the hub's source."""

    def __init__(
        self, hub: ProgressHub, publisher: Publisher, heartbeat: float, access: RunAccess
    ) -> None:
        self._hub = hub
        self._publisher = publisher
        self._heartbeat = heartbeat
        self._access = access

    async def WatchProgress(
        self,
        request: pb.WatchProgressRequest,
        context: grpc.aio.ServicerContext[pb.WatchProgressRequest, pb.WatchProgressResponse],
    ) -> AsyncIterator[pb.WatchProgressResponse | bytes]:
        resume = None
        if request.HasField("resume_after"):
            resume = Cursor.from_message(request.resume_after)
        try:
            credentials = self._access.credentials_from_grpc(context.invocation_metadata())
            caller = await self._access.reader(credentials)
            checked = WatchRequest.check(
                self._hub,
                request.run_id,
                node_id=request.node_id,
                namespace=request.namespace,
                from_beginning=request.from_beginning,
                resume_after=resume,
            )
            await self._access.check_read(caller, checked.run_id)
            watch = checked.open(self._hub)
            watcher = await watch.__aenter__()
        except RequestFailed as failure:
            await abort(context, failure)
        try:
            async for batch in self._hub.follow(watcher, self._heartbeat):
                for message in _messages(batch):
                    yield message
        finally:
            await watch.__aexit__(None, None, None)

    async def PublishProgress(
        self,
        request: pb.PublishProgressRequest,
        context: grpc.aio.ServicerContext[pb.PublishProgressRequest, pb.PublishProgressResponse],
    ) -> pb.PublishProgressResponse:
        try:
            credentials = self._access.credentials_from_grpc(context.invocation_metadata())
            namespace = await self._access.publisher(credentials)  # 401 before anything else
            if not request.events:
                raise RequestFailed(ErrorKind.INVALID, f"{INVALID_EVENT}no events given")
            fields = [message_fields(e) for e in request.events]
            events = await self._publisher.check_all(fields, namespace)
            await self._access.check_publish([e.run_id for e in events], namespace)
            cursors = await self._publisher.publish_all(events)
        except RequestFailed as failure:
            await abort(context, failure)
        return pb.PublishProgressResponse(cursors=[c.to_message() for c in cursors])


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
            lagged = pb.Lagged(
                resume_from=item.resume_from.to_message(), queue_size=item.queue_size
            )
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
            cursor=item.cursor.to_message(),
        ).SerializeToString()
        cached = item.encoded["grpc"] = length_delimited(_EVENTS_TAG, body)
    return cached


def _serialize(message: pb.WatchProgressResponse | bytes) -> bytes:
    return message if isinstance(message, bytes) else message.SerializeToString()


def add_to_server(servicer: ProgressServicer, server: grpc.aio.Server) -> None:
    """Like the generated registration, except that WatchProgress may yield ready bytes."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
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
