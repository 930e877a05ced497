"""The client side: the SDK's defaults from a KFP step's environment and its refusals, and the
Reporter's delivery through its transport (a fake here; real Kafka in integration). What
`kfp-viz watch` draws: test_watch_view.py."""

from __future__ import annotations

import json

import pytest
from kfp_viz import cli
from kfp_viz.events import MAX_MESSAGE_CHARS, parse_event
from kfp_viz.progress import Reporter, ReporterError


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("KFP_RUN_ID", "KFP_NODE_ID", "ARGO_NODE_ID", "KFP_POD_NAME", "HOSTNAME",
                 "KFP_NAMESPACE", "POD_NAMESPACE", "KAFKA_BOOTSTRAP_SERVERS",
                 "KAFKA_PROGRESS_TOPIC", "KFP_VIZ_SERVER_URL"):  # fmt: skip
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


class FakeTransport:
    """Records what a Reporter sends; refuses the first `refusals` connections."""

    target = "a fake"

    def __init__(self, refusals: int = 0, fail_sends: bool = False) -> None:
        self.refusals, self.fail_sends = refusals, fail_sends
        self.sent: list[tuple[bytes, dict]] = []
        self.closed_with: float | None = None

    def connect(self) -> None:
        if self.refusals:
            self.refusals -= 1
            raise ConnectionError("not yet")

    def send(self, key, value, done) -> None:
        if self.fail_sends:
            raise RuntimeError("broken pipe")
        self.sent.append((key, json.loads(value)))
        done(None)

    def close(self, timeout: float) -> None:
        self.closed_with = timeout


def test_a_reporter_sends_schema_events_in_order_through_its_transport(clean_env, caplog):
    transport = FakeTransport(refusals=1)
    with Reporter("run-1", "train", namespace="team-a", transport=transport) as rep:
        rep.progress(1, 4, message="first")
        rep.metric(loss=0.5, step=1)
        rep.log("hello")
    assert rep.bootstrap_servers == [] and rep.topic == ""
    assert rep.sent == 5 and rep.failed == 0 and transport.closed_with is not None
    keys = {key for key, _ in transport.sent}
    assert keys == {b"run-1"}, "every event is keyed by its run, so a run stays in order"
    events = [parse_event(value) for _, value in transport.sent]  # the server's own validation
    assert [(e.kind, e.status) for e in events] == [
        ("status", "Running"), ("progress", ""), ("metric", ""), ("log", ""),
        ("status", "Succeeded"),
    ]  # fmt: skip
    assert events[1].fraction == 0.25 and events[2].current == 1.0
    assert {e.namespace for e in events} == {"team-a"} and {e.v for e in events} == {1}
    assert "a fake: not yet" in caplog.text, "a refused connection is warned about, then retried"


def test_a_transport_that_fails_counts_failures_and_never_raises(clean_env, caplog):
    rep = Reporter("run-1", "train", namespace="", transport=FakeTransport(fail_sends=True))
    rep.log("lost")
    assert rep.flush(5)
    rep.close()
    assert (rep.sent, rep.failed) == (0, 1)
    assert "not delivered: broken pipe" in caplog.text


def test_invalid_events_are_refused_with_the_schemas_words(clean_env):
    rep = Reporter("run-1", "train", namespace="", transport=FakeTransport())
    try:
        with pytest.raises(ReporterError, match="status must be one of Pending, Running"):
            rep.status("Finished")
        with pytest.raises(ReporterError, match="fraction must be between 0 and 1; got 2"):
            rep.progress(fraction=2)
        with pytest.raises(ReporterError, match="kind must be one of"):
            rep.emit("gossip", message="x")
    finally:
        rep.close(timeout=0)
    with pytest.raises(ReporterError, match=r"run_id '\.\./x' is not a run id"):
        Reporter("../x", "train", transport=FakeTransport())
    with pytest.raises(ReporterError, match="namespace 'Team A' is not a Kubernetes namespace"):
        Reporter("r", "train", namespace="Team A", transport=FakeTransport())


def test_a_long_message_is_cut_not_refused(clean_env):
    transport = FakeTransport()
    with Reporter("run-1", "train", namespace="", transport=transport) as rep:
        rep.log("x" * (MAX_MESSAGE_CHARS + 10))
    assert len(transport.sent[1][1]["message"]) == MAX_MESSAGE_CHARS


def test_metrics_name_their_chart_with_group(clean_env):
    transport = FakeTransport()
    with Reporter("run-1", "train", namespace="", transport=transport) as rep:
        rep.metric(top1=0.7, top5=0.9, step=3, group="accuracy")
        rep.metric(loss=0.5, step=3)
        with pytest.raises(ReporterError, match="group must be printable text"):
            rep.metric(loss=0.5, group="a\nb")
    grouped, plain = (parse_event(value) for _, value in transport.sent[1:3])
    assert grouped.group == "accuracy" and grouped.metrics == {"top1": 0.7, "top5": 0.9}
    assert plain.group == "" and "group" not in transport.sent[2][1], "optional on the wire"


def test_emit_sends_a_group_and_refuses_it_off_a_metric(clean_env, monkeypatch, capsys):
    transport = FakeTransport()
    monkeypatch.setattr(cli, "Reporter", lambda *a, **k: Reporter(*a, **k, transport=transport))
    common = ["progress", "emit", "--run-id", "r", "--node-id", "n", "--namespace", ""]
    sent = cli.main([*common, "--metric", "top1=0.7", "--metric", "top5=0.9", "--group", "acc"])
    assert sent == 0 and transport.sent[-1][1]["group"] == "acc"
    assert transport.sent[-1][1]["metrics"] == {"top1": 0.7, "top5": 0.9}
    assert cli.main([*common, "--log", "hi", "--group", "acc"]) == 1
    assert "group names the chart of a metric event; this is a log event" in capsys.readouterr().err
    assert len(transport.sent) == 1, "the refused event was not sent"
