"""HTTP: the stock visualization server's contract, plus /readyz and /metrics.

`GET /` answers "alive" at once: it touches no kernel, and nothing on the event
loop waits for a render, so the kubelet's 2-second probe passes while every
kernel is busy. `POST /` takes KFP's form (`type`, `source`, `arguments`) and
answers with the page, or with Tornado's standard error page whose reason
phrase carries the message, exactly like the stock server.

Request bodies are streamed in and counted: a body announced or found to be
larger than --max-body-size gets 413 without being read whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import tornado.iostream
import tornado.web
from kfp_viz_kernels import KernelPool
from tornado.http1connection import HTTP1Connection

from .addresses import base_url
from .errors import ErrorKind, RequestFailed
from .forms import Form, parse_form
from .http_base import EdgeHandler, HandlerRule, StreamedBodyHandler
from .http_limits import PAGE_POLICY
from .metrics import CONTENT_TYPE, Metrics
from .page_store import PageStore
from .profiles import ProfileRouting, check_namespace
from .service import VisualizationService
from .validation import TIMEOUT_HEADER, validate_page_id


@tornado.web.stream_request_body
class VisualizationHandler(StreamedBodyHandler):
    """`GET /` liveness; `POST /` render a visualization from KFP's form."""

    def initialize(
        self, service: VisualizationService, max_body_size: int, in_flight: InFlight
    ) -> None:
        self._service = service
        self.body_limit = max_body_size
        self._in_flight = in_flight
        self._render: asyncio.Task[Any] | None = None
        self._client_gone = False

    def too_large(self, size: int) -> RequestFailed:
        self._service.metrics.record("", ErrorKind.TOO_LARGE.outcome)
        return RequestFailed(
            ErrorKind.TOO_LARGE,
            f"Request body too large: {size} bytes, the limit is {self.body_limit} bytes "
            "(--max-body-size)",
        )

    def get(self) -> None:
        self.write("alive")

    async def post(self) -> None:
        if self.refused:
            self.end_lingering()
            return
        with self._in_flight.track():
            await self._render_and_reply()

    async def _render_and_reply(self) -> None:
        try:
            form = await self._read_form()
            timeout = self._service.timeout_from_header(self.request.headers.get(TIMEOUT_HEADER))
            fields = form.fields
            namespace = self._service.namespaces.from_host(self.request.host)
            request = await self._service.request(
                fields["type"], fields["source"], fields["arguments"], timeout, namespace
            )
            self._render = asyncio.ensure_future(self._service.render(request, via="http"))
            result = await self._render
            page = await self._deliver(result.html, form, namespace)
        except RequestFailed as failure:
            self.fail(failure)
            return
        except asyncio.CancelledError:
            if self._client_gone:
                return  # the render was stopped and its kernel is being recovered
            self.send_error(500, reason="The render was cancelled inside the server")
            return
        with contextlib.suppress(tornado.iostream.StreamClosedError):  # client left meanwhile
            await self.finish(page)  # resolves once the page is handed to the socket

    async def _read_form(self) -> Form:
        """The buffered body as KFP's form; the buffer is let go as soon as it is copied."""
        body = self.take_body()
        try:
            return await parse_form(
                self.request.headers.get("Content-Type", ""), body, self.request.headers
            )
        except RequestFailed as failure:
            self._service.metrics.record("", failure.kind.outcome)
            raise

    async def _deliver(self, page: str, form: Form, namespace: str) -> str:
        """The page, or (past the inline limit) the small page standing in for the stored one
        (stored as `namespace`'s).

        The limit counts the raw `source` and `arguments` as sent, which KFP's API
        server echoes in its reply.
        """
        replies = self._service.replies
        if replies is None:
            return page
        echoed = [form.raw_sizes[name] for name in ECHOED]
        public_url = self._service.config.public_url
        where = base_url(public_url, self.request.protocol, self.request.host)
        return await replies.for_kfp(page, echoed, where, namespace)

    def on_connection_close(self) -> None:
        self._client_gone = True
        if self._render is not None and not self._render.done():
            self._render.cancel()
        super().on_connection_close()


class InFlight:
    """Counts renders from request to written reply, so shutdown can wait for the replies."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        self._count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._count -= 1
            if not self._count:
                self._idle.set()

    async def wait_idle(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)


ECHOED = ("source", "arguments")
"""Form fields KFP's API server echoes back in its reply, beside the page."""


class StoredPageHandler(EdgeHandler):
    """`GET /visualizations/<id>`: a stored page, streamed from the store in chunks.

    A profile namespace's page (--serve-profiles) is read from that namespace's prefix with
    its keys: the namespace its reference names (`?namespace=`), else the Host's."""

    def initialize(self, pages: PageStore | None, namespaces: ProfileRouting) -> None:
        self._pages = pages
        self._namespaces = namespaces

    async def get(self, page_id: str) -> None:
        try:
            validate_page_id(page_id)
            if self._pages is None:
                raise RequestFailed(ErrorKind.NOT_FOUND, "This server stores no pages")
            named = self.get_query_argument("namespace", "")
            namespace = self._namespaces.from_field(named) if named else ""
            check_namespace(namespace)
            namespace = namespace or self._namespaces.from_host(self.request.host)
            reference, chunks = await self._pages.open(page_id, "http", namespace)
        except RequestFailed as failure:
            self.fail(failure)
            return
        self.set_header("Content-Type", reference.content_type)
        # The page's own scripts run, in an opaque origin (as in KFP's sandboxed iframe),
        # never as this server's origin: a stored page is whatever a render produced.
        self.set_header("Content-Security-Policy", PAGE_POLICY)
        self.set_header("Content-Length", str(reference.size))
        self.set_header("ETag", f'"{reference.sha256}"')
        self.set_header("Cache-Control", "private, max-age=86400, immutable")
        try:
            async for chunk in chunks:
                self.write(chunk)
                await self.flush()
        except tornado.iostream.StreamClosedError:
            return  # the client left
        except RequestFailed:
            # the store went away mid-page: cut it short (the connection is Tornado's HTTP/1 one)
            cast(HTTP1Connection, self.request.connection).close()
            return
        self.finish()


class ReadyHandler(tornado.web.RequestHandler):
    """`GET /readyz`: 200 when at least one kernel is ready, 503 otherwise; pool state as JSON."""

    def initialize(
        self,
        pool: KernelPool[Any],
        pages: PageStore | None = None,
        progress: Callable[[], dict[str, Any]] | None = None,
        sizing: dict[str, Any] | None = None,
        profiles: Callable[[], dict[str, Any] | None] | None = None,
    ) -> None:
        self._pool = pool
        self._pages = pages
        self._progress = progress  # live progress's upstream (server/progress/hub.py: status)
        self._sizing = sizing  # how the pool was sized (server/app.py: sizing_report)
        self._profiles = profiles  # the shared layout (server/app.py: profiles_status)

    def get(self) -> None:
        stats = self._pool.stats()
        self.set_status(200 if stats.ready and not self._pool.closed else 503)
        self.set_header("Content-Type", "application/json")
        self.finish(
            json.dumps(
                {
                    "ready": stats.ready and not self._pool.closed,
                    "kernels": {
                        "size": stats.size,
                        "idle": stats.idle,
                        "busy": stats.busy,
                        "starting": stats.starting,
                        "pids": stats.kernel_pids,
                        "sizing": self._sizing,
                    },
                    "queue": {"depth": stats.queued, "limit": stats.max_queue},
                    "restarts": stats.restarts,
                    "start_error": stats.start_error,
                    "preload_errors": self._pool.preload_errors,
                    "sandbox": sandbox_report(self._pool),
                    "store": self._pages.status() if self._pages else None,
                    "progress": self._progress() if self._progress else None,
                    "profiles": self._profiles() if self._profiles else None,
                }
            )
        )


def sandbox_report(pool: KernelPool[Any]) -> dict[str, Any]:
    """What the kernel sandbox enforces here (kernels/sandbox.py), for /readyz."""
    status = pool.sandbox_status
    return {
        "enabled": status.enabled,
        "landlock_abi": status.abi,
        **status.features(),
        "detail": status.describe(),
    }


class MetricsHandler(tornado.web.RequestHandler):
    """`GET /metrics`: Prometheus text format."""

    def initialize(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(self._metrics.exposition())


class _Application(tornado.web.Application):
    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        """Tornado's access log, minus probes and scrapes, which would drown everything else."""
        if handler.request.method != "GET":
            super().log_request(handler)


def make_app(
    service: VisualizationService,
    pool: KernelPool[Any],
    metrics: Metrics,
    max_body_size: int,
    in_flight: InFlight,
    extra_routes: Sequence[HandlerRule] = (),
    progress_status: Callable[[], dict[str, Any]] | None = None,
    sizing: dict[str, Any] | None = None,
    profiles_status: Callable[[], dict[str, Any] | None] | None = None,
) -> tornado.web.Application:
    handler_args = {"service": service, "max_body_size": max_body_size, "in_flight": in_flight}
    pages = service.replies.pages if service.replies is not None else None
    return _Application(
        [
            (r"/", VisualizationHandler, handler_args),
            (
                r"/readyz",
                ReadyHandler,
                {
                    "pool": pool,
                    "pages": pages,
                    "progress": progress_status,
                    "sizing": sizing,
                    "profiles": profiles_status,
                },
            ),
            (
                r"/visualizations/([^/]*)",
                StoredPageHandler,
                {"pages": pages, "namespaces": service.namespaces},
            ),
            (r"/metrics", MetricsHandler, {"metrics": metrics}),
            *extra_routes,  # live progress (server/progress), the SDK index (sdk_index.py)
        ]
    )
