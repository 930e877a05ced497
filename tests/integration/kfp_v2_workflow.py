"""Argo Workflows laid out as KFP 2.17's compiler lays them out, with `status.nodes` as Argo's
controller fills them: test data for server/progress/argo_workflow.py, built here so no
snapshot of KFP is needed when tests run.

The layout (KFP's backend/src/v2/compiler/argocompiler, its compiled test workflows in
test_data/compiled-workflows, and Argo's node status), restated:

- The Workflow's root node (id = the Workflow's name, template `entrypoint`) runs a DAG of
  two tasks: `root-driver` (a Pod, template `system-dag-driver`) then `root` (a DAG,
  template `root`), the pipeline itself.
- Each container task `T` of a DAG is two tasks there: `T-driver` (a Pod, template
  `system-container-driver`) then `T` (a DAG, template `system-container-executor`, or
  `retry-system-container-executor` with a retry policy) whose one task is `executor` (a
  Pod, template `system-container-impl`; with a retry policy a `Retry` node of template
  `retry-system-container-impl` whose children are the attempts `executor(0)`, ...). A
  cached task's `executor` is Skipped.
- A ParallelFor `L` is a DAG task `L` (template `comp-L-L-iterator`) holding
  `iteration-driver` (system-dag-driver) then `iteration-iterations`, a task with
  `withSequence`: a TaskGroup node whose children are the DAG nodes
  `iteration-iterations(0:0)`, `(1:1)`, ... (template `comp-L-iteration`), each holding
  `iteration-item-driver` then `iteration-item` (a DAG, template `comp-L`: the loop's body,
  whose tasks are laid out as above).
- Every node has `id`, `name` (the dotted path of display names from the Workflow's name),
  `displayName`, `type`, `templateName`, `phase`, `boundaryID` (the DAG node whose template
  holds it) and `children`: a DAG node's are its first tasks; a task's are the tasks after
  it, hanging from its last node (a DAG task's outbound node: its executor pod).
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Any

T0 = 1_790_000_000


def stamp(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0 + seconds))


@dataclass
class Node:
    id: str
    name: str
    display: str
    type: str
    template: str
    boundary: str | None
    phase: str = "Pending"
    started: float | None = None
    finished: float | None = None
    message: str = ""
    children: list[str] = field(default_factory=list)

    def status(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "id": self.id, "name": self.name, "displayName": self.display, "type": self.type,
            "templateName": self.template, "phase": self.phase,
        }  # fmt: skip
        if self.boundary:
            found["boundaryID"] = self.boundary
        if self.children:
            found["children"] = list(self.children)
        if self.started is not None:
            found["startedAt"] = stamp(self.started)
        if self.finished is not None:
            found["finishedAt"] = stamp(self.finished)
        if self.message:
            found["message"] = self.message
        return found


class V2Workflow:
    """One KFP v2 run's Workflow; tests add nodes and move phases as Argo's controller does."""

    def __init__(self, name: str, run_id: str = "run-1") -> None:
        self.name, self.run_id = name, run_id
        self.nodes: dict[str, Node] = {}
        self.root = self.add(name, name, "DAG", "entrypoint", None, "Running", 0)
        self.root_driver = self.add("root-driver", f"{name}.root-driver", "Pod",
                                    "system-dag-driver", name, "Succeeded", 0, 1)  # fmt: skip
        self.pipeline = self.add("root", f"{name}.root", "DAG", "root", name, "Running", 1)
        self.link(self.root, self.root_driver)
        self.link(self.root_driver, self.pipeline)

    def add(self, display: str, path: str, kind: str, template: str, boundary: str | None,
            phase: str = "Pending", started: float | None = None,
            finished: float | None = None) -> Node:  # fmt: skip
        # Argo's ids are the Workflow's name and a hash of the node's name; a stable stand-in.
        node_id = self.name if path == self.name else f"{self.name}-{zlib.crc32(path.encode())}"
        node = Node(node_id, path, display, kind, template, boundary, phase, started, finished)
        self.nodes[node_id] = node
        return node

    @staticmethod
    def link(before: Node, after: Node) -> None:
        if after.id not in before.children:
            before.children.append(after.id)

    def workflow(self, phase: str = "Running", message: str = "") -> dict[str, Any]:
        status: dict[str, Any] = {
            "phase": phase, "startedAt": stamp(0),
            "nodes": {node_id: node.status() for node_id, node in self.nodes.items()},
        }  # fmt: skip
        if phase not in ("Running", "Pending"):
            status["finishedAt"] = stamp(self.root.finished or 100)
        if message:
            status["message"] = message
        return {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": self.name, "labels": {"pipeline/runid": self.run_id}},
            "spec": {"entrypoint": "entrypoint",
                     "podMetadata": {"labels": {"pipelines.kubeflow.org/v2_component": "true"}}},
            "status": status,
        }  # fmt: skip


@dataclass
class Task:
    """A container task's nodes: its driver, its DAG node and its executor pod(s)."""

    workflow: V2Workflow
    name: str
    boundary: Node
    path: str
    after: list[Task]
    retry: bool = False
    driver: Node | None = None
    dag: Node | None = None
    retry_node: Node | None = None
    pods: list[Node] = field(default_factory=list)

    def start_driver(self, at: float, phase: str = "Running") -> Node:
        wf = self.workflow
        self.driver = wf.add(f"{self.name}-driver", f"{self.path}-driver", "Pod",
                             "system-container-driver", self.boundary.id, phase, at)  # fmt: skip
        starts = [t.outbound() for t in self.after] or [self.boundary]
        for before in starts:
            wf.link(before, self.driver)
        return self.driver

    def start_dag(self, at: float) -> Node:
        assert self.driver is not None
        self.driver.phase, self.driver.finished = "Succeeded", at
        prefix = "retry-" if self.retry else ""
        self.dag = self.workflow.add(self.name, self.path, "DAG",
                                     f"{prefix}system-container-executor", self.boundary.id,
                                     "Running", at)  # fmt: skip
        self.workflow.link(self.driver, self.dag)
        return self.dag

    def start_pod(self, at: float, phase: str = "Pending") -> Node:
        """The executor pod (another attempt, with a retry policy)."""
        assert self.dag is not None
        wf = self.workflow
        template = "retry-system-container-impl" if self.retry else "system-container-impl"
        if self.retry and self.retry_node is None:
            self.retry_node = wf.add("executor", f"{self.path}.executor", "Retry", template,
                                     self.dag.id, "Running", at)  # fmt: skip
            wf.link(self.dag, self.retry_node)
        if self.retry:
            attempt = len(self.pods)
            pod = wf.add(f"executor({attempt})", f"{self.path}.executor({attempt})", "Pod",
                         template, self.dag.id, phase, at)  # fmt: skip
            assert self.retry_node is not None
            wf.link(self.retry_node, pod)
        else:
            pod = wf.add("executor", f"{self.path}.executor", "Pod", template, self.dag.id,
                         phase, at)  # fmt: skip
            wf.link(self.dag, pod)
        self.pods.append(pod)
        return pod

    def finish(self, at: float, phase: str = "Succeeded", message: str = "") -> None:
        """The last pod ends, then the task's nodes with it."""
        pod = self.pods[-1]
        pod.phase, pod.finished, pod.message = phase, at, message
        for node in (self.retry_node, self.dag):
            if node is not None:
                node.phase, node.finished = phase, at
                if phase != "Succeeded":
                    node.message = f"child '{pod.id}' failed"

    def outbound(self) -> Node:
        """The node the tasks after this one hang from."""
        if self.pods:
            return self.pods[-1]
        assert self.dag is not None or self.driver is not None
        return self.dag or self.driver  # type: ignore[return-value]


def container_task(
    workflow: V2Workflow, name: str, *, after: list[Task] | None = None,
    boundary: Node | None = None, retry: bool = False,
) -> Task:  # fmt: skip
    inside = boundary or workflow.pipeline
    return Task(workflow, name, inside, f"{inside.name}.{name}", after or [], retry)


@dataclass
class Loop:
    """A ParallelFor: its control DAG and each iteration's body DAG."""

    task: Node
    bodies: list[Node]


def parallel_for(
    workflow: V2Workflow, name: str, iterations: int, *, after: list[Task], at: float
) -> Loop:
    wf = workflow
    path = f"{wf.pipeline.name}.{name}"
    loop = wf.add(name, path, "DAG", f"comp-{name}-{name}-iterator", wf.pipeline.id,
                  "Running", at)  # fmt: skip
    for before in after:
        wf.link(before.outbound(), loop)
    driver = wf.add("iteration-driver", f"{path}.iteration-driver", "Pod", "system-dag-driver",
                    loop.id, "Succeeded", at, at + 1)  # fmt: skip
    wf.link(loop, driver)
    group = wf.add("iteration-iterations", f"{path}.iteration-iterations", "TaskGroup",
                   f"comp-{name}-iteration", loop.id, "Running", at + 1)  # fmt: skip
    wf.link(driver, group)
    bodies = []
    for index in range(iterations):
        each = wf.add(f"iteration-iterations({index}:{index})",
                      f"{path}.iteration-iterations({index}:{index})", "DAG",
                      f"comp-{name}-iteration", loop.id, "Running", at + 1)  # fmt: skip
        wf.link(group, each)
        item_driver = wf.add("iteration-item-driver", f"{each.name}.iteration-item-driver",
                             "Pod", "system-dag-driver", each.id, "Succeeded", at + 1,
                             at + 2)  # fmt: skip
        wf.link(each, item_driver)
        body = wf.add("iteration-item", f"{each.name}.iteration-item", "DAG", f"comp-{name}",
                      each.id, "Running", at + 2)  # fmt: skip
        wf.link(item_driver, body)
        bodies.append(body)
    return Loop(loop, bodies)
