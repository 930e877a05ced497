"""Whose run is it, and may this caller write into it or read it: once, for HTTP and gRPC alike.

Every progress endpoint asks here, never the tenancy directly, so publishing over HTTP
and over gRPC, and reading through the page, the server-sent events, `WatchProgress`,
the comparison and the run list, refuse the same callers with the same messages.

A run's namespace (its *owner*):
1. with the Argo source on, the namespace of the run's Workflow (label `pipeline/runid`),
   looked up on the Kubernetes API and cached: the Workflow wins, because KFP made it;
2. else the namespace of the run's first event in the log (the hub's run table, or read
   from the log now): with tenancy on, the first accepted publisher's.
Publishing into a run another namespace owns is refused (403), before anything is
appended; the hub also delivers a run's events only when they carry its owner's
namespace, so writers that bypass these checks (straight into Kafka) cannot reach
another namespace's readers either.

An unknown run (no event, no Workflow) is 404 for a reader: with tenancy on there is no
namespace to authorize against. As with KFP's own API (404 for a missing run, 403 for
another namespace's), a caller can tell that a run id exists; the ids are UUIDs, and
nothing of the run is shown.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from typing import Any, Protocol

from cachetools import TTLCache

from ..auth import ANYONE, Caller, Credentials, Tenancy
from ..errors import ErrorKind, RequestFailed
from .hub import ProgressHub

log = logging.getLogger(__name__)

OWNER_TIMEOUT = 10.0
"""Seconds a check waits to learn whose run it is (the log may be slow or away)."""
RUN_LABEL = "pipeline/runid"
"""KFP's label on every run's Workflow (ARCHITECTURE.md §1)."""
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")


class WorkflowNamespaces(Protocol):
    """The namespace of a run's Argo Workflow, or None when no Workflow carries its id."""

    async def namespace_of(self, run_id: str) -> str | None: ...


class KubeWorkflows:
    """Workflows looked up by KFP's run label on the Kubernetes API; answers cached.

    A Workflow's namespace never changes, so a found one is kept long; "none yet" only
    briefly (KFP makes the Workflow before any step runs, but a watch may lag).
    """

    FOUND_SECONDS = 3600.0
    MISSING_SECONDS = 2.0

    def __init__(self, namespace: str = "", api_client: Any = None, size: int = 10_000) -> None:
        self._namespace = namespace
        self._api_client = api_client
        self._found: TTLCache[str, str] = TTLCache(size, self.FOUND_SECONDS)
        self._missing: TTLCache[str, bool] = TTLCache(size, self.MISSING_SECONDS)

    async def namespace_of(self, run_id: str) -> str | None:
        if not _LABEL_VALUE.match(run_id):
            return None  # not a label value: no Workflow can carry it
        if run_id in self._found:
            return self._found[run_id]
        if run_id in self._missing:
            return None
        found = await asyncio.to_thread(self._lookup, run_id)
        if found is None:
            self._missing[run_id] = True
        else:
            self._found[run_id] = found
        return found

    def _lookup(self, run_id: str) -> str | None:
        from kubernetes import client

        if self._api_client is None:
            from ..kube_api import kube_client

            self._api_client = kube_client()
        api = client.CustomObjectsApi(self._api_client)
        selector = f"{RUN_LABEL}={run_id}"
        listed: Any
        try:
            if self._namespace:
                listed = api.list_namespaced_custom_object(
                    "argoproj.io", "v1alpha1", self._namespace, "workflows",
                    label_selector=selector, limit=1,
                )  # fmt: skip
            else:
                listed = api.list_cluster_custom_object(
                    "argoproj.io", "v1alpha1", "workflows", label_selector=selector, limit=1
                )
        except Exception as error:
            raise RequestFailed(
                ErrorKind.UNAVAILABLE, f"cannot look up run {run_id}'s Workflow: {error}"
            ) from None
        items = listed.get("items") or []
        namespace = (items[0].get("metadata") or {}).get("namespace") if items else None
        return str(namespace) if namespace else None


class RunAccess:
    """The tenancy's checks applied to runs: what both protocols' handlers call."""

    def __init__(
        self, tenancy: Tenancy, hub: ProgressHub, workflows: WorkflowNamespaces | None = None
    ) -> None:
        self.tenancy = tenancy
        self._hub = hub
        self._workflows = workflows

    @property
    def open(self) -> bool:
        return self.tenancy.open

    def credentials_from_http(self, headers: Any) -> Credentials:
        return Credentials.from_http(headers, self.tenancy.names)

    def credentials_from_grpc(self, metadata: Any) -> Credentials:
        return Credentials.from_grpc(metadata, self.tenancy.names)

    # -- writing ------------------------------------------------------------------------

    async def publisher(self, credentials: Credentials) -> str:
        """The namespace the sender publishes as ("" on an open server)."""
        return await self.tenancy.publisher(credentials)

    async def check_publish(self, run_ids: Iterable[str], namespace: str) -> None:
        """FORBIDDEN when any of the runs belongs to another namespace than `namespace`."""
        if self.open:
            return
        for run_id in sorted(set(run_ids)):
            owner = await self.owner(run_id)
            if owner is not None and owner != namespace:
                raise RequestFailed(
                    ErrorKind.FORBIDDEN,
                    f"run {run_id} belongs to namespace {owner}; this step publishes as "
                    f"{namespace}",
                )

    # -- reading ------------------------------------------------------------------------

    async def reader(self, credentials: Credentials) -> Caller:
        if self.open:
            return ANYONE
        return await self.tenancy.reader(credentials)

    async def check_read(self, caller: Caller, run_id: str) -> None:
        """NOT_FOUND for a run nobody knows, FORBIDDEN for one the caller may not read."""
        if self.open:
            return
        owner = await self.owner(run_id)
        if owner is None:
            raise unknown_run(run_id)
        await self.tenancy.check_read(caller, owner, f"run {run_id}")

    async def owner(self, run_id: str) -> str | None:
        """The run's namespace (see the module's docstring), None when it is unknown."""
        try:
            async with asyncio.timeout(OWNER_TIMEOUT):
                if self._workflows is not None:
                    found = await self._workflows.namespace_of(run_id)
                    if found is not None:
                        self._hub.runs.claim(run_id, found)
                        return found
                return await self._hub.owner_of(run_id)
        except TimeoutError:
            raise RequestFailed(
                ErrorKind.UNAVAILABLE,
                f"cannot tell whose run {run_id} is: {self._hub.source.description} did not "
                f"answer within {OWNER_TIMEOUT:g} s",
            ) from None


def unknown_run(run_id: str) -> RequestFailed:
    """The answer about a run no event (and no Workflow) is known of, wherever it is asked."""
    return RequestFailed(
        ErrorKind.NOT_FOUND,
        f"no run {run_id} is known yet: no progress event of it has been published (the run "
        "list shows the runs you may read)",
    )
