"""The client side: the SDK's defaults from a KFP step's environment and its refusals, and
the terminal view's drawing. Delivery through real Kafka is tested in integration."""

from __future__ import annotations

import pytest
from kfp_viz import cli
from kfp_viz.pb import kfpviz_progress_pb2 as pb
from kfp_viz.progress import Reporter, ReporterError


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("KFP_RUN_ID", "KFP_NODE_ID", "ARGO_NODE_ID", "KFP_POD_NAME", "HOSTNAME",
                 "KFP_NAMESPACE", "POD_NAMESPACE", "KAFKA_BOOTSTRAP_SERVERS",
                 "KAFKA_PROGRESS_TOPIC"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_come_from_the_step_environment(clean_env):
    clean_env.setenv("KFP_RUN_ID", "run-7")
    clean_env.setenv("ARGO_NODE_ID", "pipeline-x-123")
    clean_env.setenv("KFP_POD_NAME", "pod-abc")
    clean_env.setenv("KFP_NAMESPACE", "team-a")
    clean_env.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1, 127.0.0.1:2")
    clean_env.setenv("KAFKA_PROGRESS_TOPIC", "t1")
    rep = Reporter()
    try:
        assert (rep.run_id, rep.node_id, rep.namespace, rep.topic) == (
            "run-7", "pipeline-x-123", "team-a", "t1"
        )  # fmt: skip
        assert rep.bootstrap_servers == ["127.0.0.1:1", "127.0.0.1:2"]
    finally:
        rep.close(timeout=0)


def test_missing_settings_are_named(clean_env):
    with pytest.raises(ReporterError, match="KFP_RUN_ID"):
        Reporter(node_id="n", bootstrap_servers="x:1")
    with pytest.raises(ReporterError, match="KFP_NODE_ID"):
        Reporter(run_id="r", bootstrap_servers="x:1")
    with pytest.raises(ReporterError, match="KAFKA_BOOTSTRAP_SERVERS"):
        Reporter(run_id="r", node_id="n")


def test_wrong_calls_raise_at_once(clean_env):
    rep = Reporter("r", "n", bootstrap_servers="127.0.0.1:1", namespace="")
    try:
        with pytest.raises(ReporterError, match="current and total, or fraction"):
            rep.progress(3)
        with pytest.raises(ReporterError, match="must be a number"):
            rep.metric(loss="high")
        with pytest.raises(ReporterError, match="at least one"):
            rep.metric()
        rep.metric(loss=float("nan"))  # skipped, not raised: a NaN loss must not kill training
        assert list(rep.track(range(3), every=0)) == [0, 1, 2]
    finally:
        rep.close(timeout=0)


def test_terminal_view_draws_a_bar_per_step():
    state = cli.RunState("r1")
    events = [
        pb.ProgressEvent(kind="progress", node_id="prep", current=5, total=10, fraction=0.5),
        pb.ProgressEvent(kind="metric", node_id="train", metrics={"loss": 0.125}),
        pb.ProgressEvent(kind="status", node_id="prep", status="Succeeded"),
        pb.ProgressEvent(kind="status", node_id="", status="Running"),
    ]
    for event in events:
        state.apply(event)
    lines = state.lines(width=100)
    assert lines[0].startswith("run r1  Running  (4 events)")
    prep = next(line for line in lines if line.startswith("prep"))
    assert "100% 5/10 Succeeded" in prep and "#" * 20 in prep
    train = next(line for line in lines if line.startswith("train"))
    assert "0%" in train and "loss=0.125" in train
