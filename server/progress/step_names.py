"""One step, one name: events a step's pod sent are named by the step Argo shows.

Why: a step's SDK knows which pod it runs in (ARGO_NODE_ID, sent as `argo_node_id`) but
not always which step that pod belongs to: in KFP v1 and plain Argo it has no other name
for itself, and in KFP v2 it reads its task's name from the launcher (kfp_viz.step_pod)
but not which ParallelFor iteration runs it. The Argo source knows both: its status
events name the step and list its pods (`argo_nodes`, server/progress/argo_workflow.py).
So the hub learns, per run, pod → step from those events, and names every event of a
known pod by its step, keeping `argo_node_id`. Every stream (gRPC, server-sent events,
snapshots), the live page and the terminal then show one row per step.

It learns only from events the hub delivers (their run's owner's namespace when tenancy is
on), so no one can rename another namespace's steps. Renaming happens where the hub parses
a record, live or in history, so a later watch sees the same names; an event a pod sent
before the Argo source saw that pod keeps the name it came with. Bounded: RUN_LIMIT runs
(the least recently taught forgotten first) of at most PODS_PER_RUN pods each.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict

from kfp_viz.events import ProgressEvent

RUN_LIMIT = 10_000
PODS_PER_RUN = 10_000


class StepNames:
    """Per run, the step each known pod (Argo node id) belongs to."""

    def __init__(self, run_limit: int = RUN_LIMIT, pods_per_run: int = PODS_PER_RUN) -> None:
        self._runs: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._run_limit = run_limit
        self._pods_per_run = pods_per_run

    def learn(self, event: ProgressEvent) -> None:
        """Take the pods a step's status lists (`argo_nodes`) as that step's."""
        if not event.argo_nodes or not event.node_id:
            return
        pods = self._runs.get(event.run_id)
        if pods is None:
            pods = self._runs[event.run_id] = {}
            if len(self._runs) > self._run_limit:
                self._runs.popitem(last=False)
        else:
            self._runs.move_to_end(event.run_id)
        for pod in event.argo_nodes:
            if pod in pods or len(pods) < self._pods_per_run:
                pods[pod] = event.node_id

    def named(self, event: ProgressEvent) -> ProgressEvent:
        """`event`, named by its pod's step when that is known (its `argo_node_id`, or a
        `node_id` that is a pod's node id, as SDKs before `argo_node_id` sent it)."""
        pods = self._runs.get(event.run_id)
        if not pods or event.argo_nodes or event.is_run_level:
            return event
        step = pods.get(event.argo_node_id) if event.argo_node_id else None
        if step is None:
            step = pods.get(event.node_id)
        if step is None or step == event.node_id:
            return event
        return dataclasses.replace(event, node_id=step)
