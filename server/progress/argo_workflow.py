"""What an Argo Workflow object says about a run's steps, as progress events.

Pure functions of the Workflow's JSON (no Kubernetes client here), so the rules are
tested without a cluster. Facts used (Argo's `Workflow` CRD, `argoproj.io/v1alpha1`):

- KFP labels each Workflow with its run id: `metadata.labels["pipeline/runid"]`.
- `status.phase` is the run's phase; `status.nodes` maps node id → node, each with
  `displayName`, `type` (Pod, Container, DAG, Steps, StepGroup, TaskGroup, Retry,
  Skipped, Suspend, ...), `phase`, `message`, `startedAt`/`finishedAt` (RFC 3339) and
  `children` (ids of the nodes that follow it: for a DAG task, the tasks depending on it).
- The root node's id is the Workflow's name; it stands for the whole run.

A step is named by its display name (what KFP's UI shows). Group nodes (StepGroup,
TaskGroup) only bundle siblings; the edges pass through them, so a step's `parents` are
the nearest real steps before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kfp_viz.events import NODE_ID, STATUSES

RUN_ID_LABEL = "pipeline/runid"
GROUP_TYPES = frozenset({"StepGroup", "TaskGroup"})
"""Nodes that only bundle their children: not steps of their own."""
_KNOWN_PHASES = {s.lower(): s for s in STATUSES}


@dataclass(frozen=True, slots=True)
class StepState:
    """One step's state as the Workflow shows it; a change of `phase` is published."""

    node_id: str
    phase: str
    message: str
    started: float | None
    finished: float | None
    parents: tuple[str, ...]

    @property
    def since(self) -> float | None:
        """When the current phase began, as far as the Workflow says."""
        return self.finished if self.finished is not None else self.started

    def event(self, run_id: str, namespace: str, now: float) -> dict[str, Any]:
        """The `status` event for this state (`ts`: when the phase began, as far as known)."""
        ts = self.since
        event: dict[str, Any] = {
            "v": 1, "run_id": run_id, "node_id": self.node_id, "namespace": namespace,
            "ts": ts if ts is not None else now, "kind": "status", "status": self.phase,
        }  # fmt: skip
        if self.message:
            event["message"] = self.message[: 16 * 1024]
        if self.started is not None:
            event["started"] = self.started
        if self.finished is not None:
            event["finished"] = self.finished
        if self.parents:
            event["parents"] = list(self.parents)
        return event


def run_id_of(workflow: dict[str, Any]) -> str | None:
    """The KFP run id of a Workflow, or None for one KFP did not start."""
    labels = (workflow.get("metadata") or {}).get("labels") or {}
    value = labels.get(RUN_ID_LABEL)
    return value if isinstance(value, str) and value else None


def run_state(workflow: dict[str, Any]) -> StepState | None:
    """The whole run's state (node id ""), once the Workflow has a phase we know."""
    status = workflow.get("status") or {}
    phase = _phase(status.get("phase"))
    if phase is None:
        return None
    return StepState(
        "", phase, str(status.get("message") or ""),
        _time(status.get("startedAt")), _time(status.get("finishedAt")), (),
    )  # fmt: skip


def step_states(workflow: dict[str, Any]) -> list[StepState]:
    """Every step's state, in the order their current phases began (then by name): the order
    the changes happened, and DAG order for a viewer."""
    nodes: dict[str, dict[str, Any]] = (workflow.get("status") or {}).get("nodes") or {}
    root = (workflow.get("metadata") or {}).get("name")
    names = {node_id: _step_name(node_id, node) for node_id, node in nodes.items()}
    before: dict[str, set[str]] = {}
    for node_id, node in nodes.items():
        for child in node.get("children") or ():
            before.setdefault(child, set()).add(node_id)
    states = []
    for node_id, node in nodes.items():
        phase = _phase(node.get("phase"))
        if node_id == root or node.get("type") in GROUP_TYPES or phase is None:
            continue
        parents = tuple(sorted({names[p] for p in _step_parents(node_id, before, nodes, root)}))
        started, finished = _time(node.get("startedAt")), _time(node.get("finishedAt"))
        message = str(node.get("message") or "")
        states.append(StepState(names[node_id], phase, message, started, finished, parents))
    return sorted(states, key=lambda s: (s.since if s.since is not None else 1e18, s.node_id))


def _step_parents(
    node_id: str, before: dict[str, set[str]], nodes: dict[str, dict[str, Any]], root: str | None
) -> set[str]:
    """The nearest steps before `node_id`, looking through group nodes (not the root)."""
    found: set[str] = set()
    seen: set[str] = set()
    pending = list(before.get(node_id, ()))
    while pending:
        parent = pending.pop()
        if parent in seen or parent == root or parent not in nodes:
            continue
        seen.add(parent)
        if nodes[parent].get("type") in GROUP_TYPES:
            pending.extend(before.get(parent, ()))
        else:
            found.add(parent)
    return found


def _step_name(node_id: str, node: dict[str, Any]) -> str:
    """The display name when it is a valid step id, else Argo's node id (always one)."""
    name = node.get("displayName")
    if isinstance(name, str) and NODE_ID.match(name):
        return name
    cleaned = re.sub(r"[^A-Za-z0-9._:@/()\[\] -]", "-", node_id)[:253]
    return cleaned if NODE_ID.match(cleaned) else "node"


def _phase(value: Any) -> str | None:
    return _KNOWN_PHASES.get(value.lower()) if isinstance(value, str) else None


def _time(value: Any) -> float | None:
    """RFC 3339 (`2026-11-28T11:00:00Z`, as Kubernetes writes times) → seconds, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
