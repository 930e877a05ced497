"""The run list: which runs there are, for people choosing one to watch or several to compare.

- `GET /progress/runs` → `{"runs": [...], "total": N, "server_time": T}`: the runs this
  replica has seen (server/progress/runs.py: the hub's RunTable), the most recently started
  first, each `{"run_id", "namespace", "status", "started", "updated", "message", "ended",
  "steps"}`. Only the runs whose namespace the caller may read are listed (`AUTH=none`:
  every run). Query: `search` (part of the run id, any case), `status` (one or more run
  statuses, comma-separated or repeated), `namespace`, `limit` (1 to 1000, default 100);
  `total` counts every run that matches, before the limit. A bad value gets 400 naming it.
- `GET /progress/runs/<run_id>` → that run's summary, 404 when no event of it is known, 403
  when the caller may not read its namespace. The live page asks it to tell a run that
  does not exist (yet) from one whose events have not come.
- `GET /progress` without `runs` is the page listing them (compare.py serves it:
  templates/runs.html and runs.js): it polls the JSON, filters, and picks runs to compare.

The table holds the runs this replica has seen since it started, live or in a history read (a
watch, a snapshot): with Kafka, an older run shows once someone opens it.
"""

from __future__ import annotations

import asyncio
import json
import operator
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kfp_viz.events import STATUSES, validate_namespace, validate_run_id

from ..auth import Caller, Tenancy
from ..errors import ErrorKind, RequestFailed
from ..http_base import HandlerRule
from .access import RunAccess, unknown_run
from .checks import refused_if_invalid
from .http_access import ProgressHandler
from .hub import ProgressHub
from .runs import RunSummary, RunTable

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_SEARCH = 128
SLICE = 5000
"""Runs filtered between two turns of the event loop (a few milliseconds)."""
NEWEST = operator.attrgetter("started")
"""The sort key (runs that started together keep the table's order: sort is stable)."""
_STATUS = {status.lower(): status for status in STATUSES}


@dataclass(frozen=True)
class RunQuery:
    """What a caller asks of the list: every condition must hold."""

    search: str = ""
    """Part of the run id, lower-cased."""
    statuses: frozenset[str] = field(default_factory=frozenset)
    namespace: str = ""
    limit: int = DEFAULT_LIMIT

    @classmethod
    def parse(cls, values: Callable[[str], list[str]]) -> RunQuery:
        """From a lookup of a query parameter's values; RequestFailed(INVALID) naming the
        parameter and the value when one is wrong."""
        search = _last(values("search")).strip()
        if len(search) > MAX_SEARCH:
            raise _invalid(f"search is {len(search)} characters long; at most {MAX_SEARCH}")
        with refused_if_invalid():
            namespace = validate_namespace(_last(values("namespace")).strip())
        return cls(search.lower(), _statuses(values("status")), namespace,
                   _limit(_last(values("limit"))))  # fmt: skip

    def matches(self, run: RunSummary) -> bool:
        return (
            self.search in run.run_id.lower()
            and (not self.statuses or run.state in self.statuses)
            and (not self.namespace or run.namespace == self.namespace)
        )

    @property
    def filters(self) -> bool:
        """Whether any condition is asked (else every run matches, unasked)."""
        return bool(self.search or self.statuses or self.namespace)


async def readable_runs(
    table: RunTable, tenancy: Tenancy, caller: Caller, query: RunQuery
) -> tuple[list[RunSummary], int]:
    """(the newest `query.limit` runs that match and `caller` may read, how many there are).

    The table holds up to 100,000 runs and every open list page asks every few seconds, so
    the runs are read from a copy a slice at a time, the loop getting its turn between
    slices; the tenancy is asked once per namespace (bench/run_list_bench.py: the figures)."""
    runs = list(table)  # a copy: the table changes while this gives the loop back
    candidates: list[RunSummary] = []
    for start in range(0, len(runs), SLICE):
        part = runs[start : start + SLICE]
        candidates += [run for run in part if query.matches(run)] if query.filters else part
        await asyncio.sleep(0)
    namespaces = {run.namespace for run in candidates}
    allowed = await tenancy.readable(caller, namespaces)
    visible = (
        candidates if allowed >= namespaces else [r for r in candidates if r.namespace in allowed]
    )
    visible.sort(key=NEWEST, reverse=True)
    return visible[: query.limit], len(visible)


class RunsHandler(ProgressHandler):
    """`GET /progress/runs` and `GET /progress/runs/<run_id>`: JSON for the pages and scripts."""

    def initialize(self, hub: ProgressHub, access: RunAccess) -> None:
        self._hub = hub
        self.use_access(access)

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")

    async def get(self, run_id: str | None = None) -> None:
        try:
            credentials = self._access.credentials_from_http(self.request.headers)
            caller = await self._access.reader(credentials)
            reply = await (self._one(caller, run_id) if run_id else self._list(caller))
        except RequestFailed as failure:
            self.fail(failure)
            return
        self.finish(json.dumps(reply))

    async def _list(self, caller: Caller) -> dict[str, object]:
        query = RunQuery.parse(self.get_query_arguments)
        runs, total = await readable_runs(self._hub.runs, self._access.tenancy, caller, query)
        return {
            "runs": [run.to_dict() for run in runs],
            "total": total,
            "server_time": time.time(),
        }

    async def _one(self, caller: Caller, run_id: str) -> dict[str, object]:
        """The run's summary: 404 when no event of it is known (the log is read for a run this
        replica has not seen), 403 when the caller may not read it."""
        with refused_if_invalid():
            validate_run_id(run_id)
        await self._access.check_read(caller, run_id)  # the open server reads nothing here
        if self._hub.runs.get(run_id) is None:
            await self._access.owner(run_id)  # reads the log for a run not seen here yet
        summary = self._hub.runs.get(run_id)
        if summary is None:
            raise unknown_run(run_id)
        return summary.to_dict()


def run_list_routes(hub: ProgressHub, access: RunAccess) -> list[HandlerRule]:
    """Before the run routes: `runs` is no run id (kfp_viz.events refuses it)."""
    args = {"hub": hub, "access": access}
    return [
        (r"/progress/runs", RunsHandler, args),
        (r"/progress/runs/([^/]+)", RunsHandler, args),
    ]


def _last(values: list[str]) -> str:
    return values[-1] if values else ""


def _statuses(values: list[str]) -> frozenset[str]:
    found = set()
    for part in (p.strip() for value in values for p in value.split(",")):
        if not part:
            continue
        status = _STATUS.get(part.lower())
        if status is None:
            raise _invalid(f"status {part!r} is not a run status: use {', '.join(STATUSES)}")
        found.add(status)
    return frozenset(found)


def _limit(text: str) -> int:
    if not text:
        return DEFAULT_LIMIT
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LIMIT:
        raise _invalid(f"limit {text!r} is not a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def _invalid(problem: str) -> RequestFailed:
    return RequestFailed(ErrorKind.INVALID, problem)
