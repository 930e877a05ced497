"""HTTP routes of live progress: publish, the live page, and server-sent events.

- `POST /progress/<run_id>`: one event object, or an array of them, as JSON. The
  run id comes from the path (an event naming another run is refused). Replies
  `{"cursors": ["PARTITION:OFFSET", ...]}`; bad input gets 400 with the reason.
- `GET /progress/<run_id>`: the live page (steps with timing, charts, logs).
- `GET /progress?runs=A,B`: the comparison (compare.py).
- `GET /progress/<run_id>/events`: server-sent events (`progress`, `heartbeat`,
  `lagged`, `caught_up`, `end`), each event's `id` its cursor, so a browser's
  automatic reconnect (Last-Event-ID) resumes with no gap and no duplicate. Query:
  `from_beginning` (default 1), `resume_after=P:O`, `node_id`, `namespace`.
  Sent with `Access-Control-Allow-Origin: *` on an open server (`AUTH=none`): the KFP UI
  shows pages in a sandboxed iframe whose origin is opaque, so its requests here are
  cross-origin. With tenancy on, no such header: a page reads runs as its user, through
  the gateway, from the server's own origin.

With tenancy on (access.py), a publish needs a ServiceAccount token (401 without, 403
into another namespace's run) and every read a user the run's namespace admits.
"""

from __future__ import annotations

import json
from typing import Any

import tornado.iostream
import tornado.web
from kfp_viz.events import validate_run_id

from ..errors import ErrorKind, RequestFailed
from ..http_base import HandlerRule, StreamedBodyHandler
from ..offload import SMALL, offload
from ..validation import too_many_values
from .access import RunAccess
from .checks import INVALID_EVENT, WatchRequest, refused_if_invalid
from .compare import compare_route
from .http_access import ProgressHandler
from .hub import CaughtUp, Delivered, Heartbeat, Item, Lagged, ProgressHub
from .page import LivePage, nav_links
from .publish import Publisher
from .urls import PageUrls

MAX_PUBLISH_BODY = 4 * 2**20
MAX_PUBLISH_VALUES = 500_000
"""Values a publish may hold, counted before parsing (20,000 events of 25 fields)."""


@tornado.web.stream_request_body
@tornado.web.stream_request_body
class RunHandler(StreamedBodyHandler, ProgressHandler):
    """`/progress/<run_id>`: POST appends events to the run's log; GET is the live page."""

    body_limit = MAX_PUBLISH_BODY

    def initialize(self, publisher: Publisher, page: LivePage, access: RunAccess) -> None:
        self._publisher = publisher
        self._page = page
        self.use_access(access)

    def too_large(self, size: int) -> RequestFailed:
        return RequestFailed(ErrorKind.TOO_LARGE, f"Request body over {MAX_PUBLISH_BODY} bytes")

    async def get(self, run_id: str) -> None:
        try:
            with refused_if_invalid():
                validate_run_id(run_id)
            await self.reader_of([run_id])
        except RequestFailed as failure:
            self.fail(failure)
            return
        node_id = self.get_query_argument("node_id", "")
        urls = PageUrls.at_run()  # relative: the page works under any path prefix
        events = urls.events(run_id, from_beginning="1", node_id=node_id)
        links = nav_links(urls, [run_id])
        self.finish_page(
            lambda nonce: self._page.render(
                run_id, events=[], events_url=events, urls=urls, links=links, nonce=nonce
            )
        )

    async def post(self, run_id: str) -> None:
        if self.refused:
            self.end_lingering()
            return
        try:
            credentials = self._access.credentials_from_http(self.request.headers)
            namespace = await self._access.publisher(credentials)  # 401 before anything else
            with refused_if_invalid(INVALID_EVENT):
                validate_run_id(run_id)
            objects = await self._objects(run_id)
            events = await self._publisher.check_all(objects, namespace)
            await self._access.check_publish([run_id], namespace)
            cursors = await self._publisher.publish_all(events)
        except RequestFailed as failure:
            self.fail(failure)
            return
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"cursors": [c.text() for c in cursors]}))

    async def _objects(self, run_id: str) -> list[dict[str, Any]]:
        """The body's event objects, each with its `v` and `run_id` filled in; a refusal
        naming the first problem."""
        data = self.take_body()
        if too_many_values(data, MAX_PUBLISH_VALUES):
            raise _invalid(
                f"body is too large to parse: more than {MAX_PUBLISH_VALUES} JSON values"
            )
        try:
            body = json.loads(data) if len(data) <= SMALL else await offload(json.loads, data)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise _invalid(f"body is not valid JSON: {error}") from None
        except RecursionError:
            raise _invalid("body is not valid JSON: nested too deeply") from None
        objects = body if isinstance(body, list) else [body]
        if not objects:
            raise _invalid("the array holds no events")
        for obj in objects:
            if not isinstance(obj, dict):
                raise _invalid(f"each event must be a JSON object, got {type(obj).__name__}")
            obj.setdefault("v", 1)
            named = obj.setdefault("run_id", run_id)
            if named != run_id:
                raise _invalid(f"the event names run_id {named!r} but was posted to {run_id!r}")
        return objects


class EventsHandler(ProgressHandler):
    """`GET /progress/<run_id>/events`: the watch stream as server-sent events."""

    def initialize(self, hub: ProgressHub, heartbeat: float, access: RunAccess) -> None:
        self._hub = hub
        self._heartbeat = heartbeat
        self._closed = False
        self.use_access(access)

    def on_connection_close(self) -> None:
        self._closed = True

    async def get(self, run_id: str) -> None:
        resume = self.request.headers.get("Last-Event-ID") or self.get_query_argument(
            "resume_after", ""
        )
        try:
            await self.reader_of([validate_watched_run(run_id)])
            watch = WatchRequest.check(
                self._hub,
                run_id,
                node_id=self.get_query_argument("node_id", ""),
                namespace=self.get_query_argument("namespace", ""),
                from_beginning=self.get_query_argument("from_beginning", "1") not in ("0", "false"),
                resume_after=resume,
            ).open(self._hub)
            watcher = await watch.__aenter__()
        except RequestFailed as failure:
            self.fail(failure)
            return
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        try:
            # The response starts with the first batch (or heartbeat), not at once: two
            # hundred streams opened together then write as their histories are read, one
            # by one, instead of all in the same turn of the loop.
            self.write("retry: 2000\n\n")
            async for batch in self._hub.follow(watcher, self._heartbeat):
                if self._closed:
                    return
                self.write("".join(_sse(item) for item in _items(batch)))
                await self.flush()
            self.write("event: end\ndata: {}\n\n")
            await self.flush()
        except tornado.iostream.StreamClosedError:
            return
        finally:
            await watch.__aexit__(None, None, None)
        self.finish()


def _items(batch: list[Item] | Heartbeat) -> list[Item | Heartbeat]:
    return [batch] if isinstance(batch, Heartbeat) else list(batch)


def _sse(item: Item | Heartbeat) -> str:
    if isinstance(item, Delivered):
        cached = item.encoded.get("sse")
        if cached is None:
            data = {**item.event.to_dict(), "cursor": item.cursor.text()}
            cached = item.encoded["sse"] = (
                f"id: {item.cursor.text()}\nevent: progress\ndata: {json.dumps(data)}\n\n"
            )
        return cached
    if isinstance(item, Heartbeat):
        data = {
            "upstream_reachable": item.upstream_reachable,
            "upstream": item.upstream,
            "detail": item.detail,
            "server_time": item.server_time,
        }
        return f"event: heartbeat\ndata: {json.dumps(data)}\n\n"
    if isinstance(item, Lagged):
        data = {"resume_from": item.resume_from.text(), "queue_size": item.queue_size}
        return f"event: lagged\ndata: {json.dumps(data)}\n\n"
    assert isinstance(item, CaughtUp)
    return f"event: caught_up\ndata: {json.dumps({'events': item.events})}\n\n"


def routes(
    hub: ProgressHub, publisher: Publisher, page: LivePage, heartbeat: float, access: RunAccess
) -> list[HandlerRule]:
    """Tornado routes for the progress endpoints."""
    run = r"/progress/([^/]+)"
    return [
        (run + r"/events", EventsHandler, {"hub": hub, "heartbeat": heartbeat, "access": access}),
        (run, RunHandler, {"publisher": publisher, "page": page, "access": access}),
        compare_route(page, access),
    ]


def validate_watched_run(run_id: str) -> str:
    """The run id of a read, checked before any tenancy check looks it up."""
    with refused_if_invalid():
        return validate_run_id(run_id)


def _invalid(problem: str) -> RequestFailed:
    return RequestFailed(ErrorKind.INVALID, f"{INVALID_EVENT}{problem}")
