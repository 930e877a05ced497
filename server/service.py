"""The path every visualization request takes, whichever protocol brought it.

HTTP and gRPC both call `VisualizationService`: `request()` validates the wire
fields into a `RenderRequest` (the one validation, against the types the server
routes), `render()` hands it to its type's route (server/routing.py) and turns core
failures into `RequestFailed`. Metrics and the per-render log line are recorded
here, so both protocols are counted the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time

from kfp_viz_kernels import RenderError, RenderRequest, RenderResult

from .config import ServerConfig
from .errors import ErrorKind, RequestFailed, from_render_error
from .metrics import Metrics
from .offload import SMALL, offload
from .profile_stores import ProfileStores
from .profiles import ProfileRouting
from .replies import Replies
from .routing import Routes
from .validation import timeout_from_deadline, timeout_from_header, validate

log = logging.getLogger(__name__)


class VisualizationService:
    """Validate, render, count."""

    def __init__(
        self,
        config: ServerConfig,
        routes: Routes,
        metrics: Metrics,
        replies: Replies | None = None,
        namespaces: ProfileRouting | None = None,
        profiles: ProfileStores | None = None,
    ) -> None:
        self.config = config
        self.routes = routes
        self.metrics = metrics
        self.replies = replies
        """What replies carry past the inline limit (server/replies.py); None: every page
        inline, and no stored pages to fetch."""
        self.namespaces = namespaces or ProfileRouting()
        """Whose a request is, from its Host or KFP's namespace field (--serve-profiles)."""
        self._profiles = profiles

    async def request(
        self,
        type_name: str | None,
        source: str | None,
        arguments: str | None,
        timeout: float,
        namespace: str = "",
    ) -> RenderRequest:
        """Validate wire fields; a refusal is counted and raised as RequestFailed.

        Large `arguments` are parsed and checked in a thread (server/offload.py).
        `namespace`: whose render it is ("" = the server's own; see `namespaces`).
        """
        type_name, source = self.routes.alias(type_name, source)  # KFP UI: progress://RUN_ID
        allow_custom, types = self.config.allow_custom, self.routes.type_named

        def check() -> RenderRequest:
            return validate(
                type_name, source, arguments, timeout=timeout, allow_custom=allow_custom,
                types=types, namespace=namespace,
            )  # fmt: skip

        try:
            if len(arguments or "") <= SMALL:
                return check()
            return await offload(check)
        except RequestFailed as failure:
            self.metrics.record((type_name or "").strip(), failure.kind.outcome)
            raise

    def timeout_from_header(self, value: str | None) -> float:
        return timeout_from_header(
            value, default=self.config.timeout, maximum=self.config.max_timeout
        )

    def timeout_from_deadline(self, remaining: float | None) -> float:
        return timeout_from_deadline(
            remaining, default=self.config.timeout, maximum=self.config.max_timeout
        )

    async def render(self, request: RenderRequest, via: str) -> RenderResult:
        """Render a validated request; raise RequestFailed when no page could be made."""
        started = time.monotonic()
        name = request.type.name
        try:
            await self._namespace_ready(request.namespace)
        except RequestFailed as refusal:
            self.metrics.record(name, refusal.kind.outcome)
            log.warning("%s render type=%s for namespace %s refused: %s", via, name,
                        request.namespace, refusal)  # fmt: skip
            raise
        try:
            result = await self.routes[name].render(request)
        except RenderError as error:
            failure = from_render_error(error)
            seconds = time.monotonic() - started
            self.metrics.record(name, failure.kind.outcome, seconds)
            log.warning("%s render type=%s failed in %.3f s: %s", via, name, seconds, failure)
            raise failure from None
        except asyncio.CancelledError:
            self.metrics.record(name, "cancelled", time.monotonic() - started)
            log.info("%s render type=%s cancelled by the client", via, name)
            raise
        outcome = "viz_error" if result.error else "ok"
        whose = f" for namespace {request.namespace}" if request.namespace else ""
        self.metrics.record(name, outcome, result.seconds)
        log.info(
            "%s render type=%s%s %s in %.3f s on %s (%d bytes)",
            via,
            name,
            whose,
            outcome,
            result.seconds,
            result.kernel_id or "no kernel",
            len(result.html),
        )
        return result

    async def _namespace_ready(self, namespace: str) -> None:
        """RequestFailed, naming its Secret, unless `namespace`'s own keys can be used."""
        if not namespace:
            return
        if self._profiles is None:
            raise RequestFailed(
                ErrorKind.UNAVAILABLE, "This server serves no profile namespaces (SERVE_PROFILES)"
            )
        await asyncio.to_thread(self._profiles.store, namespace)
