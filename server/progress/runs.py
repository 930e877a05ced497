"""The runs this replica has seen: whose each run is, how it stands, when it began and moved.

The hub shows every event it parses (live, and found by history scans) to `RunTable.observe`.
A run belongs to the namespace of its first event in the log (lowest cursor): every replica
reads the same log in the same order, so every replica names the same owner, and with
tenancy on the hub delivers a run's events only when they carry its owner's namespace
(events a step wrote into another namespace's run never reach that run's readers).

A run whose Argo Workflow is known is *claimed* for the Workflow's namespace
(server/progress/access.py looks it up): the Workflow wins over the first event.

The table serves the run list (`GET /progress/runs`) and the readers' checks (which
namespace a run is read in). It is bounded: past `limit` runs, the least recently updated
are forgotten (they are still in the log; a watch finds them there again).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kfp_viz.events import TERMINAL_STATUSES, Cursor, ProgressEvent

RUN_LIMIT = 100_000
STEP_LIMIT = 1000
"""Step names kept per run for the list's count (a run with more shows this many)."""


@dataclass(slots=True)
class RunSummary:
    """One run as the list shows it."""

    run_id: str
    namespace: str
    first: Cursor
    """The lowest cursor seen of the run: its event names the owner."""
    started: float
    updated: float
    status: str = ""
    """The last run-level status seen ("" while none was published)."""
    status_at: Cursor | None = None
    message: str = ""
    """What the last run-level status said (a failure's reason)."""
    steps: set[str] = field(default_factory=set)
    """The steps seen (node ids), at most STEP_LIMIT: seeing an event again changes nothing."""

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def state(self) -> str:
        """The status the list shows: a run that has published none yet is running."""
        return self.status or "Running"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "namespace": self.namespace,
            "status": self.state,
            "started": self.started,
            "updated": self.updated,
            "message": self.message,
            "ended": self.ended,
            "steps": len(self.steps),
        }


class RunTable:
    """Runs by id, least recently updated first (so the oldest are dropped at the bound)."""

    def __init__(self, limit: int = RUN_LIMIT) -> None:
        self._limit = limit
        self._runs: OrderedDict[str, RunSummary] = OrderedDict()
        self._claims: OrderedDict[str, str] = OrderedDict()
        """Run id → the namespace of its Workflow, which overrides the first event's."""

    def __len__(self) -> int:
        return len(self._runs)

    def __iter__(self) -> Iterator[RunSummary]:
        """Every run, in no promised order (the least recently updated first)."""
        return iter(self._runs.values())

    def get(self, run_id: str) -> RunSummary | None:
        return self._runs.get(run_id)

    def owner(self, run_id: str) -> str | None:
        """The run's namespace, or None when this replica knows neither a claim nor an event."""
        claimed = self._claims.get(run_id)
        if claimed is not None:
            return claimed
        summary = self._runs.get(run_id)
        return summary.namespace if summary is not None else None

    def claim(self, run_id: str, namespace: str) -> None:
        """The run's Workflow is in `namespace`: it owns the run, whatever its events say."""
        self._claims[run_id] = namespace
        self._claims.move_to_end(run_id)
        if len(self._claims) > self._limit:
            self._claims.popitem(last=False)
        summary = self._runs.get(run_id)
        if summary is not None:
            summary.namespace = namespace

    def observe(self, event: ProgressEvent, cursor: Cursor) -> bool:
        """Take an event into its run's summary; True when it carries the run's owner's
        namespace (the hub delivers only those when tenancy is on)."""
        summary = self._runs.get(event.run_id)
        claimed = self._claims.get(event.run_id)
        if summary is None:
            owner = claimed if claimed is not None else event.namespace
            summary = RunSummary(event.run_id, owner, cursor, event.ts, event.ts)
            self._runs[event.run_id] = summary
            if len(self._runs) > self._limit:
                self._runs.popitem(last=False)
        elif cursor < summary.first:  # a history scan found an earlier event: it names the owner
            summary.first = cursor
            summary.namespace = claimed if claimed is not None else event.namespace
        if event.namespace != summary.namespace:
            return False
        self._take(summary, event, cursor)
        return True

    def _take(self, summary: RunSummary, event: ProgressEvent, cursor: Cursor) -> None:
        summary.started = min(summary.started, event.ts)
        if event.node_id and len(summary.steps) < STEP_LIMIT:
            summary.steps.add(event.node_id)
        if event.ts >= summary.updated:
            summary.updated = event.ts
            self._runs.move_to_end(event.run_id)
        newer = summary.status_at is None or cursor > summary.status_at
        if event.is_run_level and event.kind == "status" and newer:
            summary.status, summary.status_at = event.status, cursor
            summary.message = event.message

    def newest_first(self) -> list[RunSummary]:
        """Every run, the most recently started first."""
        return sorted(self._runs.values(), key=lambda s: s.started, reverse=True)
