"""What an Argo Workflow says about its steps (server/progress/argo_workflow.py), and the
event fields it fills (`started`, `finished`, `parents`)."""

from __future__ import annotations

import base64
import gzip
import importlib.util
import json
import sys
from pathlib import Path

import pytest
from kfp_viz.events import InvalidEvent, parse_event
from kfp_viz_server.progress.argo_workflow import run_id_of, run_state, step_states


def workflow(phase: str = "Running", **nodes: dict) -> dict:
    return {
        "metadata": {"name": "wf", "labels": {"pipeline/runid": "run-1"}},
        "status": {"phase": phase, "nodes": {"wf": {"type": "DAG", "phase": phase,
                                                    "displayName": "wf", "children": ["a"]},
                                             **nodes}},
    }  # fmt: skip


def test_steps_come_in_the_order_their_phases_began_with_parents_through_groups():
    found = step_states(workflow(
        a={"displayName": "a", "type": "Pod", "phase": "Succeeded", "children": ["g"],
           "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:00:10Z"},
        g={"displayName": "[1]", "type": "StepGroup", "phase": "Running", "children": ["b", "c"]},
        b={"displayName": "b", "type": "Pod", "phase": "Running",
           "startedAt": "2026-01-01T00:00:11Z"},
        c={"displayName": "c", "type": "Pod", "phase": "Pending"},
    ))  # fmt: skip
    assert [(s.node_id, s.phase, s.parents) for s in found] == [
        ("a", "Succeeded", ()), ("b", "Running", ("a",)), ("c", "Pending", ("a",)),
    ]  # fmt: skip
    assert found[0].finished - found[0].started == 10


def test_a_display_name_that_is_no_step_id_falls_back_to_the_node_id():
    (state,) = step_states(workflow(**{"wf-123": {"displayName": "bad\nname", "type": "Pod",
                                                  "phase": "Running"}}))  # fmt: skip
    assert state.node_id == "wf-123"


def test_unknown_phases_and_unlabelled_workflows_give_nothing():
    assert step_states(workflow(a={"displayName": "a", "type": "Pod", "phase": "Weird"})) == []
    assert run_state(workflow(phase="")) is None
    assert run_id_of({"metadata": {"name": "x"}}) is None
    assert run_state(workflow("Failed")).phase == "Failed"


def test_a_state_becomes_a_valid_status_event():
    (state,) = step_states(workflow(b={"displayName": "b", "type": "Pod", "phase": "Failed",
                                       "message": "OOMKilled",
                                       "finishedAt": "2026-01-01T00:00:10Z"}))  # fmt: skip
    event = parse_event(state.event("run-1", "ns", now=1.0))
    assert (event.status, event.message, event.ts) == ("Failed", "OOMKilled", state.finished)
    assert parse_event(event.to_dict()) == event


@pytest.mark.parametrize("parents", ["a", [1], ["bad\nid"], ["x"] * 65])
def test_bad_parents_are_refused_with_the_field_named(parents):
    event = {"v": 1, "run_id": "r", "node_id": "a", "kind": "status", "status": "Running",
             "parents": parents}  # fmt: skip
    with pytest.raises(InvalidEvent, match="parents"):
        parse_event(event)


# -- KFP v2: one task, one step ------------------------------------------------------------


def _layout():
    """tests/integration/kfp_v2_workflow.py: Workflows as KFP 2.17's compiler lays them out."""
    path = Path(__file__).resolve().parents[1] / "integration" / "kfp_v2_workflow.py"
    spec = importlib.util.spec_from_file_location("kfp_v2_workflow", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


v2 = _layout()


def by_name(workflow: dict) -> dict:
    return {s.node_id: s for s in step_states(workflow)}


def started_task(name: str, **options):
    """A run whose one task has its driver done and its executor pod Pending."""
    wf = v2.V2Workflow(f"pipe-{name}")
    task = v2.container_task(wf, name, **options)
    task.start_driver(1)
    task.start_dag(2)
    return wf, task, task.start_pod(3)


def test_a_v2_task_is_one_step_named_by_the_task_its_driver_and_executor_folded_in():
    wf = v2.V2Workflow("pipe-abc")
    prep = v2.container_task(wf, "preprocess")
    prep.start_driver(2)
    assert {n: s.phase for n, s in by_name(wf.workflow()).items()} == {"preprocess": "Running"}
    prep.start_dag(4)
    pod = prep.start_pod(5)
    (state,) = step_states(wf.workflow())
    assert (state.node_id, state.phase, state.pods) == ("preprocess", "Running", (pod.id,))
    assert state.started == v2.T0 + 2 and state.finished is None
    pod.phase, pod.started = "Running", 6
    prep.finish(20)
    train = v2.container_task(wf, "train", after=[prep])
    train.start_driver(21)
    train.start_dag(23)
    train.start_pod(24)
    train.finish(40, "Failed", "Error (exit code 1)")
    steps = by_name(wf.workflow())
    assert sorted(steps) == ["preprocess", "train"]  # no root, driver or executor
    assert (steps["preprocess"].phase, steps["preprocess"].finished) == ("Succeeded", v2.T0 + 20)
    assert steps["train"].parents == ("preprocess",) and steps["preprocess"].parents == ()
    assert (steps["train"].phase, steps["train"].message) == ("Failed", "Error (exit code 1)")
    assert (steps["train"].started, steps["train"].finished) == (v2.T0 + 21, v2.T0 + 40)


def test_a_failed_driver_fails_its_task_with_the_driver_s_message():
    wf = v2.V2Workflow("pipe-drv")
    task = v2.container_task(wf, "load")
    driver = task.start_driver(2)
    driver.phase, driver.finished, driver.message = "Failed", 3, "failed to resolve inputs"
    (state,) = step_states(wf.workflow())
    assert (state.node_id, state.phase, state.message) == (
        "load",
        "Failed",
        "failed to resolve inputs",
    )
    assert state.pods == ()


def test_a_retried_task_stays_one_step_and_lists_every_attempt():
    wf, task, first = started_task("train", retry=True)
    first.phase, first.finished, first.message = "Failed", 9, "Error (exit code 1)"
    second = task.start_pod(10, "Running")
    (state,) = step_states(wf.workflow())
    assert (state.node_id, state.phase, state.pods) == ("train", "Running", (first.id, second.id))


def test_a_cached_task_succeeds_without_running_its_executor():
    wf, task, pod = started_task("prep")
    pod.phase, pod.type = "Skipped", "Skipped"
    task.dag.phase, task.dag.finished = "Succeeded", 2
    (state,) = step_states(wf.workflow())
    assert (state.node_id, state.phase) == ("prep", "Succeeded")


def test_a_parallel_for_runs_its_body_once_per_iteration_each_a_step_of_its_own():
    wf = v2.V2Workflow("pipe-loop")
    train = v2.container_task(wf, "train")
    train.start_driver(1)
    train.start_dag(2)
    train.start_pod(3)
    train.finish(10)
    loop = v2.parallel_for(wf, "for-loop-2", 2, after=[train], at=11)
    for index, body in enumerate(loop.bodies):
        evaluate = v2.container_task(wf, "evaluate", boundary=body)
        evaluate.start_driver(13)
        evaluate.start_dag(14)
        evaluate.start_pod(15)
        if index == 0:
            evaluate.finish(20)
    steps = by_name(wf.workflow())
    assert sorted(steps) == ["evaluate[0]", "evaluate[1]", "for-loop-2", "train"]
    assert steps["evaluate[0]"].phase == "Succeeded" and steps["evaluate[1]"].phase == "Running"
    assert steps["evaluate[0]"].parents == ("for-loop-2",)
    assert steps["for-loop-2"].parents == ("train",)


def test_plain_argo_retries_fold_into_their_retry_node():
    found = by_name(workflow(
        r={"displayName": "flaky", "type": "Retry", "phase": "Running", "children": ["r0", "r1"],
           "startedAt": "2026-01-01T00:00:00Z"},
        r0={"id": "r0", "displayName": "flaky(0)", "type": "Pod", "phase": "Failed",
            "message": "Error (exit code 2)", "startedAt": "2026-01-01T00:00:00Z"},
        r1={"id": "r1", "displayName": "flaky(1)", "type": "Pod", "phase": "Running",
            "startedAt": "2026-01-01T00:00:05Z", "children": ["n"]},
        n={"id": "n", "displayName": "next", "type": "Pod", "phase": "Pending"},
    ))  # fmt: skip
    assert sorted(found) == ["flaky", "next"]
    assert found["flaky"].pods == ("r0", "r1") and found["next"].parents == ("flaky",)
    assert found["next"].pods == ("n",)


def test_compressed_nodes_are_read_as_argo_writes_them():
    wf = v2.V2Workflow("pipe-big")
    v2.container_task(wf, "prep").start_driver(1)
    document = wf.workflow()
    packed = json.dumps(document["status"].pop("nodes")).encode()
    document["status"]["compressedNodes"] = base64.b64encode(gzip.compress(packed)).decode()
    assert [s.node_id for s in step_states(document)] == ["prep"]


def test_a_step_s_pods_travel_in_its_event():
    wf, _, pod = started_task("prep")
    (state,) = step_states(wf.workflow())
    event = parse_event(state.event("run-1", "", now=1.0))
    assert event.argo_nodes == (pod.id,) and parse_event(event.to_dict()) == event
