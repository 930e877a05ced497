"""What an Argo Workflow object says about a run's steps, as progress events.

Pure functions of the Workflow's JSON (no Kubernetes client here), so the rules are
tested without a cluster. Facts used (Argo's `Workflow` CRD, `argoproj.io/v1alpha1`):

- KFP labels each Workflow with its run id: `metadata.labels["pipeline/runid"]`.
- `status.phase` is the run's phase; `status.nodes` maps node id → node, each with
  `displayName`, `type` (Pod, Container, DAG, Steps, StepGroup, TaskGroup, Retry,
  Skipped, Suspend, ...), `templateName`, `boundaryID` (the DAG or steps node whose
  template holds it), `phase`, `message`, `startedAt`/`finishedAt` (RFC 3339) and
  `children` (ids of the nodes that follow it: for a DAG task, the tasks depending on it).
  A Workflow too large for etcd may carry them gzip'd and base64'd in `compressedNodes`.
- The root node's id is the Workflow's name; it stands for the whole run.
- A `Retry` node's children are its attempts (`name(0)`, `name(1)`, ...); the tasks
  after it are the attempts' children.

Steps are named as KFP's UI names them, and every node is either part of one step or
plumbing that only connects steps (group nodes, the root):

- KFP v1 and plain Argo: a step is a node, named by its display name; a Retry node's
  attempts fold into it.
- KFP v2 (2.x's compiler, recognised by its `system-*` templates): a step is a task of
  the pipeline, named by the task's name. Its compiled parts fold into it: the driver pod
  `<task>-driver` (`system-container-driver` / `system-dag-driver`), the DAG node `<task>`
  and, inside it, the `executor` pod (`system-container-impl`, or its retried or
  `metadata-*` variants) that runs the component. The pipeline's `root` and `root-driver`
  (the tasks of the entrypoint), a ParallelFor's `iteration-*` nodes and exit-hook
  wrappers are plumbing. A task inside a ParallelFor runs once per iteration: each run is
  a step of its own, `task[i]` (`task[i][j]` in nested loops).

A step's `parents` are the nearest other steps before any of its nodes, looking through
plumbing. Its `pods` are the Argo node ids of the pods that run its code (what a step's
SDK sees as ARGO_NODE_ID), so the hub can name the SDK's events of that pod by the step
(server/progress/step_names.py).
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kfp_viz.events import MAX_PARENTS, NODE_ID, STATUSES, TERMINAL_STATUSES

RUN_ID_LABEL = "pipeline/runid"
GROUP_TYPES = frozenset({"StepGroup", "TaskGroup"})
"""Nodes that only bundle their children: not steps of their own."""
DRIVER_TEMPLATES = ("system-container-driver", "system-dag-driver")
EXECUTOR_TEMPLATE = "system-container-impl"
"""KFP v2's templates (backend/src/v2/compiler/argocompiler): a task's driver, and the pod
that runs its component (also `retry-...` and `metadata-N-M-...`)."""
LOOP_TEMPLATES = ("-iterator", "-iteration")
"""Suffixes of the templates a ParallelFor compiles to: the loop's control DAG and one
iteration's DAG; the nodes inside them are plumbing."""
EXIT_HOOK_TEMPLATE = "exit-hook-"
_ITERATION = re.compile(r"\((\d+)(?::[^)]*)?\)$")
"""An expanded task's display name ends with `(index:item)`: `iteration-iterations(2:2)`."""
_KNOWN_PHASES = {s.lower(): s for s in STATUSES}
_FAILED = frozenset({"Failed", "Error"})

Nodes = dict[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class StepState:
    """One step's state as the Workflow shows it; a change of `phase` or a new pod is
    published."""

    node_id: str
    phase: str
    message: str
    started: float | None
    finished: float | None
    parents: tuple[str, ...]
    pods: tuple[str, ...] = ()

    @property
    def since(self) -> float | None:
        """When the current phase began, as far as the Workflow says."""
        return self.finished if self.finished is not None else self.started

    @property
    def change(self) -> tuple[str, tuple[str, ...]]:
        """What a viewer must be told about when it changes."""
        return self.phase, self.pods

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
        if self.pods:
            event["argo_nodes"] = list(self.pods)
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
    nodes = workflow_nodes(workflow)
    root = (workflow.get("metadata") or {}).get("name")
    kfp_v2 = any(_template(node).endswith(DRIVER_TEMPLATES) for node in nodes.values())
    owners = _v2_owners(nodes, root) if kfp_v2 else _plain_owners(nodes, root)
    members: dict[str, list[str]] = {}
    for node_id, step in owners.items():
        if step is not None:
            members.setdefault(step, []).append(node_id)
    before: dict[str, set[str]] = {}
    for node_id, node in nodes.items():
        for child in node.get("children") or ():
            before.setdefault(child, set()).add(node_id)
    states = []
    for step, ids in members.items():
        parts = [nodes[i] for i in ids]
        state = _v2_state(step, parts) if kfp_v2 else _plain_state(step, ids, nodes)
        if state is not None:
            parents = _parents(step, ids, before, owners)
            states.append(_with(state, parents=parents))
    return sorted(states, key=lambda s: (s.since if s.since is not None else 1e18, s.node_id))


def workflow_nodes(workflow: dict[str, Any]) -> Nodes:
    """`status.nodes`, or what `status.compressedNodes` holds when Argo compressed them."""
    status = workflow.get("status") or {}
    nodes = status.get("nodes")
    if isinstance(nodes, dict) and nodes:
        return nodes
    packed = status.get("compressedNodes")
    if isinstance(packed, str) and packed:
        try:
            unpacked = json.loads(zlib.decompress(base64.b64decode(packed), zlib.MAX_WBITS | 16))
        except (ValueError, zlib.error):
            return {}
        return unpacked if isinstance(unpacked, dict) else {}
    return {}


# -- which step each node belongs to ----------------------------------------------------


def _plain_owners(nodes: Nodes, root: str | None) -> dict[str, str | None]:
    """KFP v1 and plain Argo: each node is its own step, but a Retry's attempts are the
    Retry's, and the root and group nodes are nobody's."""
    owners: dict[str, str | None] = {}
    for node_id, node in nodes.items():
        if node_id == root or node.get("type") in GROUP_TYPES:
            owners[node_id] = None
        elif node_id not in owners:
            owners[node_id] = _step_name(node_id, node)
        if node.get("type") == "Retry":
            for attempt in node.get("children") or ():
                if (nodes.get(attempt) or {}).get("type") == "Pod":
                    owners[attempt] = owners[node_id]
    return owners


def _v2_owners(nodes: Nodes, root: str | None) -> dict[str, str | None]:
    """KFP v2: each node's task (see the module's docstring), None for plumbing."""
    suffixes: dict[str, str | None] = {}
    owners: dict[str, str | None] = {}
    for node_id, node in nodes.items():
        suffix = _loop_suffix(node.get("boundaryID"), nodes, root, suffixes)
        template = _template(node)
        if (
            node_id == root
            or suffix is None
            or node.get("type") in GROUP_TYPES
            or template.startswith(EXIT_HOOK_TEMPLATE)
        ):
            owners[node_id] = None
            continue
        if template.endswith(EXECUTOR_TEMPLATE):
            continue  # its task is its boundary's: below, once every task is known
        name = str(node.get("displayName") or "")
        if template.endswith(DRIVER_TEMPLATES) and name.endswith("-driver"):
            name = name[: -len("-driver")]
        owners[node_id] = _valid(f"{name}{suffix}", node_id)
    for node_id, node in nodes.items():
        if node_id not in owners:
            owners[node_id] = owners.get(str(node.get("boundaryID")))
    return owners


def _loop_suffix(
    boundary: Any, nodes: Nodes, root: str | None, known: dict[str, str | None]
) -> str | None:
    """What the nodes directly inside `boundary` get after their task's name: `[i]` for each
    ParallelFor iteration around them (outermost first), "" for none; None when they are
    plumbing: the entrypoint's tasks (`root`, `root-driver`), or a loop's own machinery."""
    if not isinstance(boundary, str) or boundary not in nodes:
        return ""
    if boundary in known:
        return known[boundary]
    suffix: str | None = None
    if boundary != root and not _template(nodes[boundary]).endswith(LOOP_TEMPLATES):
        indexes = []
        current: str | None = boundary
        for _ in range(len(nodes)):  # up to the root; a cycle (bad data) ends here too
            node = nodes.get(current or "")
            if node is None:
                break
            if _template(node).endswith(LOOP_TEMPLATES[1]):
                iteration = _ITERATION.search(str(node.get("displayName") or ""))
                if iteration:
                    indexes.append(iteration[1])
            current = node.get("boundaryID")
        suffix = "".join(f"[{index}]" for index in reversed(indexes))
    known[boundary] = suffix
    return suffix


# -- a step's state from its nodes --------------------------------------------------------


def _plain_state(step: str, ids: list[str], nodes: Nodes) -> StepState | None:
    """The step's own node (the Retry, not an attempt) says its state; its pods are its
    attempts, or itself."""
    main = next((nodes[i] for i in ids if nodes[i].get("type") != "Pod"), nodes[ids[0]])
    phase = _phase(main.get("phase"))
    if phase is None:
        return None
    pods = [nodes[i] for i in ids if nodes[i].get("type") == "Pod"]
    message = str(main.get("message") or "") or _last_message(pods)
    return StepState(
        step, phase, message, _time(main.get("startedAt")), _time(main.get("finishedAt")), (),
        _pod_ids(pods),
    )  # fmt: skip


def _v2_state(step: str, parts: list[dict[str, Any]]) -> StepState | None:
    """A task from its driver, its own node and its executor pods: the task's node's phase
    once it exists (before it, the driver's: a driver done means the task runs on), times
    over all of them, and the message that tells most (a failed pod's first)."""
    drivers = [p for p in parts if _template(p).endswith(DRIVER_TEMPLATES)
               and str(p.get("displayName") or "").endswith("-driver")]  # fmt: skip
    pods = [p for p in parts if _template(p).endswith(EXECUTOR_TEMPLATE) and p.get("type") == "Pod"]
    own = [p for p in parts if p not in drivers and not _template(p).endswith(EXECUTOR_TEMPLATE)]
    if own:
        phase = _phase(own[0].get("phase"))
    elif drivers:
        phase = _phase(drivers[-1].get("phase"))
        phase = "Running" if phase == "Succeeded" else phase
    else:
        return None
    if phase is None:
        return None
    started = min((t for t in (_time(p.get("startedAt")) for p in parts) if t), default=None)
    finished = None
    if phase in TERMINAL_STATUSES:
        finished = max((t for t in (_time(p.get("finishedAt")) for p in parts) if t), default=None)
    order = [_last(pods), *drivers, *own] if phase in _FAILED else [*own, _last(pods), *drivers]
    message = next((str(p.get("message")) for p in order if p and p.get("message")), "")
    return StepState(step, phase, message, started, finished, (), _pod_ids(pods))


def _parents(
    step: str, ids: list[str], before: dict[str, set[str]], owners: dict[str, str | None]
) -> tuple[str, ...]:
    """The nearest other steps before any of the step's nodes, through plumbing and the
    step's own nodes."""
    found: set[str] = set()
    seen = set(ids)
    pending = [p for i in ids for p in before.get(i, ())]
    while pending:
        node_id = pending.pop()
        if node_id in seen or node_id not in owners:
            continue
        seen.add(node_id)
        owner = owners[node_id]
        if owner is None or owner == step:
            pending.extend(before.get(node_id, ()))
        else:
            found.add(owner)
    return tuple(sorted(found))


def _with(state: StepState, parents: tuple[str, ...]) -> StepState:
    return StepState(state.node_id, state.phase, state.message, state.started, state.finished,
                     parents[:MAX_PARENTS], state.pods)  # fmt: skip


def _pod_ids(pods: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    """The pods' node ids in the order they started, the latest MAX_PARENTS."""
    ordered = sorted(pods, key=lambda p: (str(p.get("startedAt") or "~"), str(p.get("id"))))
    return tuple(str(p["id"]) for p in ordered if isinstance(p.get("id"), str))[-MAX_PARENTS:]


def _last(pods: list[dict[str, Any]]) -> dict[str, Any] | None:
    ordered = sorted(pods, key=lambda p: (str(p.get("startedAt") or "~"), str(p.get("id"))))
    return ordered[-1] if ordered else None


def _last_message(pods: list[dict[str, Any]]) -> str:
    last = _last(pods)
    return str(last.get("message") or "") if last else ""


def _template(node: dict[str, Any]) -> str:
    name = node.get("templateName")
    return name if isinstance(name, str) else ""


def _step_name(node_id: str, node: dict[str, Any]) -> str:
    """The display name when it is a valid step id, else Argo's node id (always one)."""
    return _valid(str(node.get("displayName") or ""), node_id)


def _valid(name: str, node_id: str) -> str:
    if NODE_ID.match(name):
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
