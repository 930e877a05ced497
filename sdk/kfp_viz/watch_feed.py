"""Where `kfp-viz watch` reads a run from: the server's events over HTTP, or its gRPC stream.

`HttpFeed` reads `GET <server>/progress/<run>/events`, the server-sent events the live page
reads, with the standard library only, from the URL steps publish to (`KFP_VIZ_SERVER_URL`);
`GrpcFeed` reads `WatchProgress` (the SDK's `grpc` extra). Both send the pod's ServiceAccount
token when there is one (kfp_viz.sa_token: a server with tenancy on reads runs only for an
identity), both resume after the last cursor they were given, and both turn what they meet
into the same few items and the same three failures, so `follow` (below) and the views do
not know which one they read:

- `Unreachable`: no connection, a 5xx, or no word (not even a heartbeat) for `read_timeout`
  seconds: try again later;
- `NotFound`: the server knows no such run (with tenancy on, a run with no event yet is
  unknown): wait for it;
- `Refused`: anything else the server refuses (401, 403, a bad argument): posting the same
  request again would not help.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from .events import Cursor, ProgressEvent, from_message, from_streamed
from .http_transport import _error_text
from .sa_token import TokenFile

READ_TIMEOUT = 30.0
"""Seconds without a byte (servers send a heartbeat every 5 s by default) before the
connection is taken for dead and opened again."""


@dataclass(frozen=True)
class Got:
    """One event of the run and its cursor (`PARTITION:OFFSET`)."""

    event: ProgressEvent
    cursor: str


@dataclass(frozen=True)
class Beat:
    """A heartbeat: whether the server reads its upstream (Kafka), and its clock."""

    reachable: bool
    upstream: str
    detail: str
    server_time: float


@dataclass(frozen=True)
class Marker:
    """`caught_up` (history done), `lagged` (resynced after falling behind), or `end`."""

    kind: str


Item = Got | Beat | Marker


class Unreachable(Exception):
    """No connection, or the server cannot answer now: try again."""


class NotFound(Exception):
    """The server knows no such run (yet)."""


class Refused(Exception):
    """The server refuses the request itself; asking again would not change that."""


class Feed(Protocol):
    target: str
    """The server as messages name it."""

    def open(self, resume: str | None) -> Iterator[Item]:
        """One connection's items, after `resume` (a cursor) when given; ends when the
        server ends the stream; raises Unreachable, NotFound or Refused."""
        ...


# -- over HTTP: server-sent events ----------------------------------------------------


@dataclass(frozen=True)
class Watched:
    """What to follow: a run, maybe one step of it, maybe only one namespace's events, from
    its first event or from now."""

    run_id: str
    node_id: str = ""
    namespace: str = ""
    from_beginning: bool = True


class HttpFeed:
    """The run's server-sent events (`GET /progress/<run>/events`), standard library only."""

    def __init__(
        self, server_url: str, watched: Watched, token: TokenFile | None = None,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:  # fmt: skip
        parts = urllib.parse.urlsplit(server_url if "://" in server_url else f"http://{server_url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"server URL {server_url!r} is not an http:// or https:// address")
        self._parts = parts
        prefix = parts.path.rstrip("/")
        self.target = f"{parts.scheme}://{parts.netloc}{prefix}"
        query = {"from_beginning": "1" if watched.from_beginning else "0"}
        query.update((k, v) for k, v in (("node_id", watched.node_id),
                                         ("namespace", watched.namespace)) if v)  # fmt: skip
        run = urllib.parse.quote(watched.run_id, safe=":@")
        self._path = f"{prefix}/progress/{run}/events?{urllib.parse.urlencode(query)}"
        self.token = token or TokenFile()
        self.read_timeout = read_timeout

    def open(self, resume: str | None) -> Iterator[Item]:
        connection = self._connection()
        try:
            reply = self._get(connection, resume)
            if reply.status == 401 and self.token.reread():  # the kubelet rotated it
                connection.close()
                reply = self._get(connection, resume)
            if reply.status != 200:
                raise _failure(reply.status, f"{self.target}: HTTP {reply.status}: "
                               f"{_error_text(reply.read()) or reply.reason}")  # fmt: skip
            yield from _server_sent(reply, self.read_timeout)
        finally:
            connection.close()

    def _connection(self) -> http.client.HTTPConnection:
        https = self._parts.scheme == "https"
        kind = http.client.HTTPSConnection if https else http.client.HTTPConnection
        return kind(self._parts.hostname or "", self._parts.port, timeout=self.read_timeout)

    def _get(self, connection: http.client.HTTPConnection, resume: str | None) -> Any:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if resume:
            headers["Last-Event-ID"] = resume
        authorization = self.token.header()
        if authorization:
            headers["Authorization"] = authorization
        try:
            connection.request("GET", self._path, headers=headers)
            return connection.getresponse()
        except (OSError, http.client.HTTPException) as error:
            raise Unreachable(f"{self.target} unreachable ({_why(error)})") from None


def _failure(status: int, message: str) -> Exception:
    if status == 404:
        return NotFound(message)
    if status >= 500 or status in (408, 429):
        return Unreachable(message)
    return Refused(message)


def _server_sent(reply: Any, read_timeout: float) -> Iterator[Item]:
    """The items of a `text/event-stream` body, as they arrive; ends at `end` or EOF."""
    name, data = "message", []
    while True:
        try:
            raw = reply.readline()
        except TimeoutError:
            raise Unreachable(f"no event or heartbeat for {read_timeout:g} s") from None
        except (OSError, http.client.HTTPException) as error:
            raise Unreachable(f"the stream broke off ({_why(error)})") from None
        if not raw:
            return  # the server closed the stream: the caller opens it again
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
            continue
        if data or name != "message":
            item = _sse_item(name, "\n".join(data))
            if item is not None:
                yield item
                if isinstance(item, Marker) and item.kind == "end":
                    return
        name, data = "message", []


def _sse_item(name: str, data: str) -> Item | None:
    try:
        fields = json.loads(data) if data else {}
    except ValueError:
        return None
    if name == "progress":
        return Got(from_streamed(fields), str(fields.get("cursor", "")))
    if name == "heartbeat":
        return Beat(
            bool(fields.get("upstream_reachable", True)), str(fields.get("upstream", "")),
            str(fields.get("detail", "")), float(fields.get("server_time") or 0.0),
        )  # fmt: skip
    if name in ("caught_up", "lagged", "end"):
        return Marker(name)
    return None  # a kind of event this client does not know


# -- over gRPC: WatchProgress ---------------------------------------------------------


class GrpcFeed:
    """The run's `WatchProgress` stream (needs the SDK's `grpc` extra)."""

    def __init__(self, address: str, watched: Watched, token: TokenFile | None = None) -> None:
        import grpc

        from .pb import kfpviz_progress_pb2, kfpviz_progress_pb2_grpc

        self._grpc, self._pb = grpc, kfpviz_progress_pb2
        self.target = f"the server at {address}"
        self._channel = grpc.insecure_channel(address)
        self._stub = kfpviz_progress_pb2_grpc.ProgressStub(self._channel)
        self._watched = watched
        self.token = token or TokenFile()

    def open(self, resume: str | None) -> Iterator[Item]:
        grpc, watched = self._grpc, self._watched
        request = self._pb.WatchProgressRequest(
            run_id=watched.run_id, node_id=watched.node_id, namespace=watched.namespace,
            from_beginning=watched.from_beginning,
            resume_after=Cursor.parse(resume).to_message() if resume else None,
        )  # fmt: skip
        authorization = self.token.header()
        metadata = [("authorization", authorization)] if authorization else []
        try:
            for reply in self._stub.WatchProgress(request, metadata=metadata):
                yield from _grpc_items(reply)
        except grpc.RpcError as error:
            code, details = error.code(), error.details()
            message = f"{self.target}: {code.name}: {details}"
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                raise Unreachable(f"{self.target} unreachable ({details})") from None
            if code == grpc.StatusCode.NOT_FOUND:
                raise NotFound(message) from None
            raise Refused(message) from None

    def close(self) -> None:
        self._channel.close()


def _grpc_items(reply: Any) -> Iterator[Item]:
    for streamed in reply.events:
        yield Got(from_message(streamed.event), Cursor.from_message(streamed.cursor).text())
    if reply.HasField("heartbeat"):
        beat = reply.heartbeat
        yield Beat(beat.upstream_reachable, beat.upstream, beat.detail, beat.server_time)
    if reply.HasField("caught_up"):
        yield Marker("caught_up")
    if reply.HasField("lagged"):
        yield Marker("lagged")


def _why(error: BaseException) -> str:
    """A connection error in a few words: `Connection refused`, `timed out`."""
    return getattr(error, "strerror", None) or str(error) or type(error).__name__
