"""The `progress` visualization type: a run's progress through KFP's stock request shape.

Two spellings reach it:
- `type=progress`, `source=<run id>`, optional `arguments={"node_id": ..., "namespace": ...}`
  (any client posting the form, or our own gRPC users);
- any predefined stock type with `source=progress://<run id>[?node_id=...&namespace=...]`:
  the KFP UI's visualization creator only offers KFP's enum types (ROC curve, TFDV,
  TFMA, Table, Custom), so a user picks e.g. Table and enters that source.

The reply is served here at
the edge from the hub, not by a kernel (kernels cannot reach the hub): a snapshot of
every event so far, which follows live updates from `--public-url` when the
operator has set one the browser can reach. The API server's request must not hang
on a broker that is away: history is read for at most the request's timeout (capped
at a few seconds), and the page says when it is incomplete.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, TypedDict
from urllib.parse import parse_qs

from kfp_viz.events import InvalidEvent, validate_namespace, validate_run_id
from kfp_viz_kernels import RenderRequest, RenderResult, VisualizationType

from ..errors import ErrorKind, RequestFailed
from .access import RunAccess
from .checks import refused_if_invalid
from .hub import Delivered, ProgressHub
from .page import Link, LivePage, nav_links
from .urls import PageUrls


class SnapshotLinks(TypedDict, total=False):
    """What the snapshot links to (LivePage.render's keywords of the same names)."""

    links: list[Link]
    urls: PageUrls | None
    live_url: str


PROGRESS = VisualizationType("progress", module=None, implemented=True)
"""The type, as the server routes it (server/routing.py): to this view, never to a kernel."""
SCHEME = "progress://"
MAX_SNAPSHOT_WAIT = 5.0


class ProgressView:
    """Builds the snapshot page of a run for a validated `progress` request.

    With tenancy on, a render's namespace (the profile KFP's API server called for, or this
    server's own) must own the run: KFP's API server authorized its user for that namespace,
    not for any other.
    """

    def __init__(
        self,
        hub: ProgressHub,
        page: LivePage,
        public_url: str,
        access: RunAccess | None = None,
        own_namespace: str = "",
    ) -> None:
        self._hub = hub
        self._page = page
        self._public_url = public_url
        self._access = access
        self._own_namespace = own_namespace

    async def render(self, request: RenderRequest) -> RenderResult:
        started = time.monotonic()
        run_id, node_id, namespace = self._target(request)
        await self._check(run_id, request.namespace or self._own_namespace)
        try:
            events = await asyncio.wait_for(
                self._hub.history(run_id, namespace=namespace, node_id=node_id),
                min(request.timeout, MAX_SNAPSHOT_WAIT),
            )
            complete = True
        except TimeoutError:
            events, complete = [], False
        ended = any(d.event.ends(node_id) for d in events)
        note = self._note(run_id, events, complete, ended)
        html = self._page.render(
            run_id, events=events, events_url=self._events_url(run_id, node_id, namespace, events),
            note=note, ended=ended, **self._links(run_id, node_id, namespace),
        )  # fmt: skip
        return RenderResult(html, None, None, time.monotonic() - started)

    async def _check(self, run_id: str, namespace: str) -> None:
        """FORBIDDEN when tenancy is on and the run belongs to another namespace than the
        render's (a run nobody knows yet shows as having no events, as before)."""
        if self._access is None or self._access.open:
            return
        owner = await self._access.owner(run_id)
        if owner is not None and owner != namespace:
            raise RequestFailed(
                ErrorKind.FORBIDDEN,
                f"run {run_id} is not among the runs of namespace {namespace or '(none)'}",
            )

    def _target(self, request: RenderRequest) -> tuple[str, str, str]:
        run_id, _, query = request.source.partition("?")
        given: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
        given.update(request.variables)
        with refused_if_invalid("Invalid progress request: "):
            run_id = validate_run_id(run_id)
            node_id = _text_argument(given, "node_id")
            namespace = validate_namespace(_text_argument(given, "namespace"))
        return run_id, node_id, namespace

    def _links(self, run_id: str, node_id: str, namespace: str) -> SnapshotLinks:
        """Where the snapshot leads when browsers can reach this server: the live page, the
        run list and the comparison (a snapshot is the KFP UI's view; the live page is the
        full one). Absolute, under PUBLIC_URL: the snapshot is an about:srcdoc document."""
        if not self._public_url:
            return {"urls": None}
        urls = PageUrls.public(self._public_url)
        live = urls.live(run_id, node_id=node_id, namespace=namespace)
        return {
            "links": [Link("Open the live page", live), *nav_links(urls, [run_id])],
            "urls": urls,
            "live_url": live,
        }

    def _events_url(
        self, run_id: str, node_id: str, namespace: str, events: list[Delivered]
    ) -> str | None:
        if not self._public_url:
            return None
        query = {"node_id": node_id, "namespace": namespace}
        if events:
            query["resume_after"] = events[-1].cursor.text()
        else:
            query["from_beginning"] = "1"
        return PageUrls.public(self._public_url).events(run_id, **query)

    def _note(self, run_id: str, events: list[Delivered], complete: bool, ended: bool) -> str:
        parts = []
        reachable, detail = self._hub.source.reachable()
        if not complete:
            parts.append(
                f"history incomplete: {self._hub.source.description} did not answer in time"
            )
        if not reachable:
            parts.append(f"{self._hub.source.description} is unreachable ({detail})")
        elif detail:  # answers, but e.g. the topic does not exist yet
            parts.append(f"{self._hub.source.description}: {detail}")
        if complete and not events:
            parts.append(f"no progress events for run {run_id} yet")
        if not self._public_url and not ended:
            parts.append("snapshot only: set PUBLIC_URL for live updates")
        return "; ".join(parts)


def _text_argument(given: dict[str, Any], name: str) -> str:
    value = given.get(name) or ""
    if not isinstance(value, str):
        raise InvalidEvent(f"arguments.{name} must be a string")
    return value
