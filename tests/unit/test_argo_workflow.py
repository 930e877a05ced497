"""What an Argo Workflow says about its steps (server/progress/argo_workflow.py), and the
event fields it fills (`started`, `finished`, `parents`)."""

from __future__ import annotations

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
