"""One step, one name: the hub names a pod's events by the step the Argo source says it runs
(server/progress/step_names.py), live and in history, and only from events it delivers."""

from __future__ import annotations

import pytest
from kfp_viz.events import parse_event
from kfp_viz_server.progress.hub import CaughtUp, Delivered, ProgressHub
from kfp_viz_server.progress.source import LocalBus
from kfp_viz_server.progress.step_names import StepNames


def event(node: str = "", **fields):
    base = {"v": 1, "run_id": fields.pop("run", "r"), "node_id": node, "kind": "log",
            "message": "m"}  # fmt: skip
    return parse_event({**base, **fields})


def argo(node: str, *pods: str, run: str = "r", namespace: str = ""):
    return event(node, run=run, kind="status", status="Running", argo_nodes=list(pods),
                 namespace=namespace, message="")  # fmt: skip


def test_a_pod_s_events_take_its_step_s_name_and_keep_the_pod():
    names = StepNames()
    sdk = event("evaluate", argo_node_id="wf-2")
    assert names.named(sdk) is sdk  # nothing known yet
    names.learn(argo("evaluate[1]", "wf-1", "wf-2"))
    renamed = names.named(sdk)
    assert (renamed.node_id, renamed.argo_node_id, renamed.message) == ("evaluate[1]", "wf-2", "m")
    older = event("wf-1")  # an SDK that named the step by its pod
    assert names.named(older).node_id == "evaluate[1]"
    assert names.named(event("other", argo_node_id="wf-9")).node_id == "other"
    assert names.named(event("x", run="another", argo_node_id="wf-2")).node_id == "x"
    run_level = event("", kind="status", status="Failed", argo_node_id="wf-2", message="")
    assert names.named(run_level).node_id == ""


def test_the_table_is_bounded_in_runs_and_pods():
    names = StepNames(run_limit=2, pods_per_run=2)
    for run in ("a", "b", "c"):
        names.learn(argo("t", "p1", "p2", "p3", run=run))
    assert names.named(event("p1", run="a")).node_id == "p1"  # forgotten: the oldest run
    assert names.named(event("p2", run="c")).node_id == "t"
    assert names.named(event("p3", run="c")).node_id == "p3"  # past the pods' bound


async def collect(hub: ProgressHub, run: str) -> list:
    async with hub.watch(run) as watcher:
        items: list = []
        while not any(isinstance(i, CaughtUp) for i in items):
            items.extend(await watcher.next_items(100, 1.0))
        return [i.event for i in items if isinstance(i, Delivered)]


@pytest.mark.asyncio
async def test_the_hub_names_live_and_history_alike():
    hub = ProgressHub(LocalBus())
    hub.start()
    await hub.publish(argo("train", "wf-7"))
    await hub.publish(event("train", argo_node_id="wf-7", message="as the v2 SDK names it"))
    await hub.publish(event("wf-7", message="as an older SDK named it"))
    first = await collect(hub, "r")
    assert [e.node_id for e in first] == ["train", "train", "train"]
    restarted = ProgressHub(hub.source)  # a new server over the same log learns in order
    restarted.start()
    again = await collect(restarted, "r")
    assert [e.node_id for e in again] == ["train", "train", "train"]
    assert [e.argo_node_id for e in again] == ["", "wf-7", ""]
    await restarted.close()


@pytest.mark.asyncio
async def test_another_namespace_cannot_rename_a_run_s_steps():
    hub = ProgressHub(LocalBus(), owners_only=True)
    hub.start()
    await hub.publish(event("train", namespace="team-a", argo_node_id="wf-7"))
    await hub.publish(argo("pwned", "wf-7", namespace="team-b"))  # not the run's owner
    await hub.publish(event("train", namespace="team-a", argo_node_id="wf-7", message="later"))
    delivered = await collect(hub, "r")
    assert [(e.node_id, e.namespace) for e in delivered] == [("train", "team-a")] * 2
    await hub.close()
