"""The progress event schema: what is accepted, what is refused and how the refusal reads."""

from __future__ import annotations

import json
import time

import pytest
from kfp_viz.events import (
    Cursor,
    InvalidEvent,
    ProgressEvent,
    from_message,
    parse_event,
    parse_json,
    time_problem,
    to_message,
)

T0 = 1_700_000_000.0
BASE = {"v": 1, "run_id": "3f2a-run", "node_id": "train", "ts": T0 + 1.5}


def event(**fields) -> ProgressEvent:
    return parse_event({**BASE, **fields})


def test_progress_fraction_from_current_and_total():
    e = event(kind="progress", current=3, total=12)
    assert (e.current, e.total, e.fraction) == (3.0, 12.0, 0.25)
    assert event(kind="progress", current=20, total=10).fraction == 1.0
    assert event(kind="progress", fraction=0.4).fraction == 0.4


def test_round_trip_through_canonical_json():
    original = event(kind="metric", metrics={"loss": 0.5, "acc": 1}, current=7, message="m")
    again = parse_json(original.to_json(), key="3f2a-run")
    assert again == original
    assert json.loads(original.to_json())["metrics"] == {"loss": 0.5, "acc": 1.0}


def test_a_metric_event_may_name_its_chart_and_keeps_it_on_every_wire():
    grouped = event(kind="metric", metrics={"top1": 0.7, "top5": 0.9}, group="accuracy")
    assert grouped.group == "accuracy" and grouped.to_dict()["group"] == "accuracy"
    assert parse_json(grouped.to_json()) == grouped
    assert from_message(to_message(grouped)) == grouped  # gRPC's PublishProgress and Watch
    plain = event(kind="metric", metrics={"loss": 1})
    assert plain.group == "" and "group" not in plain.to_dict()  # optional: old readers unchanged
    assert from_message(to_message(plain)) == plain


def test_argo_s_node_ids_travel_on_every_wire_and_are_left_out_when_unset():
    sdk = event(kind="progress", current=1, total=2, argo_node_id="pipe-x-3918")
    argo = event(kind="status", status="Running", argo_nodes=["pipe-x-1", "pipe-x-2"])
    for original in (sdk, argo):
        assert parse_json(original.to_json()) == original
        assert from_message(to_message(original)) == original
    assert argo.argo_nodes == ("pipe-x-1", "pipe-x-2") and sdk.to_dict()["argo_node_id"]
    plain = event(kind="log", message="x")
    assert not {"argo_node_id", "argo_nodes"} & set(plain.to_dict())


def test_status_is_canonicalised_and_terminal_rules():
    assert event(kind="status", status="succeeded").status == "Succeeded"
    run_end = parse_event({**BASE, "node_id": "", "kind": "status", "status": "Failed"})
    assert run_end.is_run_level and run_end.ends(None) and run_end.ends("train")
    step_end = event(kind="status", status="Succeeded")
    assert not step_end.ends(None), "a step's end is not the run's end"
    assert step_end.ends("train") and not step_end.ends("other")
    assert not event(kind="status", status="Running").ends("train")


def test_missing_ts_takes_the_default():
    e = parse_event({k: v for k, v in BASE.items() if k != "ts"} | {"kind": "log", "message": "x"},
                    default_ts=T0 + 42)  # fmt: skip
    assert e.ts == T0 + 42


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"v": 2, "kind": "log", "message": "x"}, "unknown schema version v=2"),
        ({"v": True, "kind": "log", "message": "x"}, "unknown schema version"),
        ({"kind": "bogus"}, "kind must be one of progress, metric, log, status"),
        ({"kind": "log", "message": ""}, "log events need a non-empty message"),
        ({"kind": "progress"}, "need current and total, or fraction"),
        ({"kind": "progress", "current": 1, "total": 0}, "total must be more than 0"),
        ({"kind": "progress", "current": -1, "total": 3}, "current must be 0 or more"),
        ({"kind": "progress", "fraction": 1.5}, "fraction must be between 0 and 1"),
        ({"kind": "progress", "fraction": "0.5"}, "fraction must be a finite number"),
        ({"kind": "progress", "fraction": True}, "fraction must be a finite number"),
        ({"kind": "metric"}, "at least one entry in metrics"),
        ({"kind": "metric", "metrics": [1]}, "metrics must be an object"),
        ({"kind": "metric", "metrics": {"loss": "NaN"}}, "must be a finite number"),
        ({"kind": "metric", "metrics": {"loss": float("inf")}}, "must be a finite number"),
        ({"kind": "metric", "metrics": {"": 1}}, "metric names must have"),
        ({"kind": "status"}, "status events need a status"),
        ({"kind": "status", "status": "Great"}, "status must be one of"),
        ({"kind": "log", "message": "x", "node_id": ""}, "node_id is required for log"),
        ({"kind": "log", "message": "x", "run_id": ""}, "run_id is required"),
        ({"kind": "log", "message": "x", "run_id": "../x"}, "is not a run id"),
        ({"kind": "log", "message": "x", "run_id": "a" * 129}, "is not a run id"),
        ({"kind": "log", "message": "x", "namespace": "Team_A"}, "namespace"),
        ({"kind": "log", "message": "x", "node_id": 3}, "node_id must be a string"),
        ({"kind": "log", "message": 3}, "message must be a string"),
        ({"kind": "log", "message": "x" * 20000}, "the limit is 16384"),
        ({"kind": "log", "message": "x", "ts": "yesterday"}, "ts must be a finite number"),
        ({"kind": "log", "message": "x", "group": "loss"}, "group names the chart of a metric"),
        ({"kind": "metric", "metrics": {"a": 1}, "group": 3}, "group must be printable text"),
        ({"kind": "metric", "metrics": {"a": 1}, "group": "g" * 129}, "of 1 to 128 characters"),
        ({"kind": "metric", "metrics": {"a": 1}, "group": "a\nb"}, "group must be printable"),
        ({"kind": "log", "message": "x", "argo_node_id": "wf 1"}, "argo_node_id 'wf 1' is not"),
        ({"kind": "log", "message": "x", "argo_node_id": 7}, "argo_node_id must be a string"),
        ({"kind": "status", "status": "Running", "argo_nodes": "wf-1"}, "argo_nodes must be a"),
        ({"kind": "status", "status": "Running", "argo_nodes": ["../x"]}, "argo_nodes: '../x'"),
        ({"kind": "status", "status": "Running", "argo_nodes": ["a"] * 65}, "at most 64"),
    ],
)
def test_refusals_name_the_field(fields, reason):
    with pytest.raises(InvalidEvent) as caught:
        parse_event({**BASE, **fields})
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [("ts", 1e300), ("ts", 1.7e12), ("ts", 0.0), ("ts", 946_684_799.0), ("started", 5e9),
     ("finished", -1.0)],
)  # fmt: skip
def test_times_outside_a_sane_window_are_refused_naming_the_field_and_the_window(name, value):
    """A ts in milliseconds, a clock never set, garbage: refused on every path (HTTP, gRPC,
    Kafka records), so neither the page nor the terminal shows an absurd time."""
    fields = {"kind": "status", "status": "Running", name: value}
    with pytest.raises(InvalidEvent) as caught:
        parse_event({**BASE, **fields})
    said = str(caught.value)
    assert said.startswith(f"{name} must be seconds since the epoch between 2000-01-01T00:00:00Z")
    assert "and a day from now (" in said and f"got {value:g}" in said
    with pytest.raises(InvalidEvent, match="ts must be seconds since the epoch"):
        parse_json(
            json.dumps({**BASE, "kind": "log", "message": "x", "ts": None}), default_ts=1e300
        )  # fmt: skip  (a Kafka record's own time, when ts is missing)


def test_times_within_the_window_pass_and_stay_valid_later():
    now = time.time()
    assert event(kind="log", message="x", ts=now + 3600).ts == now + 3600, "a clock ahead"
    assert event(kind="log", message="x", ts=946_684_800.0).ts == 946_684_800.0
    assert time_problem(now + 86_000, now=now) is None
    assert time_problem(now + 86_000, now=now + 3600) is None, "read again later: still valid"
    assert time_problem(now + 87_000, now=now) is not None


def test_json_level_refusals():
    with pytest.raises(InvalidEvent, match="not valid JSON"):
        parse_json(b"{oops")
    with pytest.raises(InvalidEvent, match="not valid JSON"):
        parse_json(b"\xff\xfe")
    with pytest.raises(InvalidEvent, match="must be a JSON object, got list"):
        parse_json(b"[]")
    with pytest.raises(InvalidEvent, match="differs from run_id"):
        parse_json(json.dumps({**BASE, "kind": "log", "message": "x"}), key="another")
    with pytest.raises(InvalidEvent, match="the limit is"):
        parse_json(b" " * (300 * 1024))


def test_cursor_text_form():
    assert Cursor.parse("2:15") == Cursor(2, 15) and Cursor(2, 15).text() == "2:15"
    for bad in ("", "2", "a:b", "-1:3", "2:3:4"):
        with pytest.raises(InvalidEvent, match="PARTITION:OFFSET"):
            Cursor.parse(bad)
