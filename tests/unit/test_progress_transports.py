"""Where a Reporter sends (HTTP, Kafka, or nowhere with one warning), the HTTP transport's
order, batching, retries and refusals against a fake server (a real server in
tests/integration/test_sdk_transports.py), and the run id found from KFP v2's launcher."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from kfp_viz import step_pod
from kfp_viz.http_transport import HttpTransport
from kfp_viz.kafka_transport import KafkaTransport
from kfp_viz.progress import Reporter, ReporterError
from kfp_viz.transport import NullTransport

ROOT = Path(__file__).resolve().parents[2]
STEP_ENV = ("KFP_RUN_ID", "KFP_NODE_ID", "ARGO_NODE_ID", "KFP_POD_NAME", "KFP_NAMESPACE",
            "POD_NAMESPACE", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_PROGRESS_TOPIC",
            "KFP_VIZ_SERVER_URL")  # fmt: skip


@pytest.fixture
def clean_env(monkeypatch):
    for name in STEP_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("kfp_viz.progress._nowhere_warned", threading.Lock())
    return monkeypatch


# -- choosing the transport ---------------------------------------------------------------


def test_the_server_url_chooses_http_and_wins_over_kafka(clean_env):
    clean_env.setenv("KFP_VIZ_SERVER_URL", "http://viz.kubeflow:8888/base/")
    clean_env.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    rep = Reporter("r", "n", namespace="")
    try:
        assert isinstance(rep.transport, HttpTransport)
        assert rep.transport.target == "the server at http://viz.kubeflow:8888/base"
    finally:
        rep.close(timeout=0)
    rep = Reporter("r", "n", namespace="", bootstrap_servers="k:1")  # an argument beats the env
    try:
        assert isinstance(rep.transport, KafkaTransport) and rep.bootstrap_servers == ["k:1"]
    finally:
        rep.close(timeout=0)


def test_kafka_is_chosen_by_its_setting_alone(clean_env):
    clean_env.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    rep = Reporter("r", "n", namespace="")
    try:
        assert isinstance(rep.transport, KafkaTransport) and rep.topic == "kfp-progress"
    finally:
        rep.close(timeout=0)


def test_wrong_settings_are_named(clean_env):
    with pytest.raises(ReporterError, match="not both"):
        Reporter("r", "n", server_url="http://a:1", bootstrap_servers="k:1")
    with pytest.raises(ReporterError, match="'ftp://x' is not an http:// or https:// address"):
        Reporter("r", "n", server_url="ftp://x")
    clean_env.setenv("KFP_VIZ_SERVER_URL", "http://a:1")
    with pytest.raises(ReporterError, match="PIPELINE_JOB_ID_PLACEHOLDER"):
        Reporter(node_id="n")  # somewhere to send, and no run id


def test_nowhere_to_send_warns_once_and_still_checks_calls(clean_env, caplog):
    caplog.set_level(logging.WARNING, "kfp_viz.progress")
    reporters = [Reporter(), Reporter(node_id="b")]  # no run id either: not an error here
    for rep in reporters:
        assert isinstance(rep.transport, NullTransport) and rep.run_id == "local"
        with rep:
            rep.progress(1, 2)
            rep.metric(loss=0.5)
            with pytest.raises(ReporterError, match="current and total, or fraction"):
                rep.progress(3)
        assert rep.flush(0) and (rep.sent, rep.failed, rep.dropped) == (0, 0, 0)
    warnings = [r.getMessage() for r in caplog.records if "not sent" in r.getMessage()]
    assert warnings == [
        "kfp_viz.progress: progress is not sent: nowhere (neither KFP_VIZ_SERVER_URL "
        "nor KAFKA_BOOTSTRAP_SERVERS is set)"
    ]


# -- the HTTP transport against a fake server ---------------------------------------------


class FakeServer:
    """Answers POSTs with the statuses in `answers` (then 200), recording what it took."""

    def __init__(self, port: int = 0, answers: tuple[int, ...] = ()) -> None:
        self.answers = list(answers)
        self.bodies: list[list[dict]] = []  # what it accepted, one list per request
        self.batches: list[tuple[str, str, str]] = []  # each request's sender, sequence, attempt
        self.requests = 0
        self.paths: set[str] = set()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                fake.requests += 1
                fake.paths.add(self.path)
                names = ("Sender", "Sequence", "Attempt")
                fake.batches.append(tuple(self.headers.get(f"KFP-Viz-{n}", "") for n in names))
                status = fake.answers.pop(0) if fake.answers else 200
                if status == 200:
                    fake.bodies.append(json.loads(body))
                reply = json.dumps({"error": f"told to answer {status}"}).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/prefix"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        return [event for body in self.bodies for event in body]

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def quick(url: str, **options: object) -> HttpTransport:
    return HttpTransport(url, backoff=(0.02, 0.1), request_timeout=2, **options)  # type: ignore[arg-type]


def test_events_arrive_in_order_in_batches_under_the_servers_path():
    server = FakeServer()
    try:
        with Reporter("run:1@a", "train", namespace="", transport=quick(server.url)) as rep:
            for i in range(200):
                rep.progress(i, 200)
        assert rep.sent == 202 and rep.failed == 0
        events = server.events()
        assert [e["kind"] for e in (events[0], events[-1])] == ["status", "status"]
        assert [e["current"] for e in events[1:-1]] == list(range(200))
        assert len(server.bodies) < 100, "events waiting together go in one request"
        assert server.paths == {"/prefix/progress/run:1@a"}
    finally:
        server.stop()


def test_not_now_answers_are_retried_and_nothing_is_doubled(caplog):
    server = FakeServer(answers=(503, 500, 429))
    try:
        rep = Reporter("r", "n", namespace="", transport=quick(server.url))
        for i in range(5):
            rep.log(f"line {i}")
        assert rep.flush(10)
        rep.close()
        assert server.requests >= 4 and (rep.sent, rep.failed) == (5, 0)
        assert [e["message"] for e in server.events()] == [f"line {i}" for i in range(5)]
    finally:
        server.stop()


def test_a_server_that_comes_later_gets_everything_in_order():
    port = free_port()
    rep = Reporter("r", "n", namespace="", transport=quick(f"http://127.0.0.1:{port}"))
    for i in range(30):
        rep.log(f"line {i}")
    time.sleep(0.5)  # refused connections meanwhile
    server = FakeServer(port=port)
    try:
        assert rep.flush(10)
        rep.close()
        assert [e["message"] for e in server.events()] == [f"line {i}" for i in range(30)]
    finally:
        server.stop()


def test_each_batch_names_its_sender_and_number_and_each_try_counts():
    """What the server needs to apply a batch posted again once (kfp_viz.batch_id)."""
    server = FakeServer(answers=(503, 503))
    try:
        transport = quick(server.url)
        rep = Reporter("r", "n", namespace="", transport=transport)
        rep.log("first")
        assert rep.flush(10)
        rep.log("second")
        rep.close()
        sender = transport.sender
        assert len(sender) == 32 and quick(server.url).sender != sender, "one per transport"
        assert server.batches == [(sender, "1", "1"), (sender, "1", "2"), (sender, "1", "3"),
                                  (sender, "2", "1")]  # fmt: skip
    finally:
        server.stop()


def test_a_step_whose_server_never_came_says_how_many_events_were_lost(caplog):
    port = free_port()
    with Reporter("r", "n", namespace="", transport=quick(f"http://127.0.0.1:{port}")) as rep:
        for i in range(10):
            rep.log(f"line {i}")
    assert (rep.sent, rep.failed) == (0, 12), "Running, ten lines, Succeeded"
    assert "12 progress events were not delivered to the server at http://127.0.0.1:" in (
        caplog.text
    )
    assert "within close()'s 5 s" in caplog.text


def test_the_kafka_producer_is_idempotent_unless_the_caller_asks_otherwise():
    from kfp_viz.kafka_transport import producer_settings

    ours = producer_settings(["k:9092"], {})
    assert (ours["enable_idempotence"], ours["acks"]) == (True, "all")
    assert ours["max_in_flight_requests_per_connection"] <= 5, "what idempotence allows"
    theirs = producer_settings(["k:9092"], {"acks": 1})
    assert (theirs["enable_idempotence"], theirs["acks"]) == (False, 1)
    strict = producer_settings(["k:9092"], {"acks": 1, "enable_idempotence": True})
    assert strict["enable_idempotence"] is True, "kafka-python then refuses the mix, as asked"


def test_a_refusal_is_reported_as_not_delivered_and_not_retried(caplog):
    server = FakeServer(answers=(400,))
    try:
        rep = Reporter("r", "n", namespace="", transport=quick(server.url))
        rep.log("refused")
        assert rep.flush(5)
        rep.log("taken")
        rep.close()
        assert (rep.sent, rep.failed, server.requests) == (1, 1, 2)
        assert "HTTP 400 from the server at" in caplog.text
        assert "/prefix/progress/r: told to answer 400" in caplog.text
    finally:
        server.stop()


def test_a_server_away_too_long_fails_the_events_and_the_step_goes_on(caplog):
    port = free_port()
    transport = quick(f"http://127.0.0.1:{port}", delivery_timeout=0.3)
    rep = Reporter("r", "n", namespace="", transport=transport)
    rep.log("lost")
    assert rep.flush(5)
    rep.close(timeout=0.5)
    assert (rep.sent, rep.failed) == (0, 1)
    assert "not delivered" in caplog.text and "Connection refused" in caplog.text


def test_while_the_server_is_away_statuses_outlive_progress_ticks():
    port = free_port()
    transport = quick(f"http://127.0.0.1:{port}", max_pending=2)
    rep = Reporter("r", "n", namespace="", buffer_size=10, transport=transport)
    rep.status("Running")
    for i in range(100):
        rep.progress(i, 100)
    rep.status("Succeeded")
    time.sleep(0.3)
    server = FakeServer(port=port)
    try:
        assert rep.flush(10)
        rep.close()
        events = server.events()
        assert [e["status"] for e in events if e["kind"] == "status"] == ["Running", "Succeeded"]
        ticks = [e["current"] for e in events if e["kind"] == "progress"]
        assert rep.dropped > 0 and len(ticks) < 100 and ticks == sorted(ticks)
        assert events[-1]["status"] == "Succeeded"
    finally:
        server.stop()


# -- the run id from KFP v2's launcher ----------------------------------------------------

LAUNCHER = """#!/bin/sh
# Stands in for /kfp-launcher/launch: flags, then `--`, then the component's command, run as
# a child (not exec'd), as KFP's launcher runs it.
while [ "$1" != "--" ]; do shift; done
shift
"$@"
exit $?
"""
PRINT_RUN_ID = "from kfp_viz.step_pod import launcher_run_id; print(launcher_run_id())"


@pytest.fixture
def launcher(tmp_path) -> Path:
    path = tmp_path / "kfp-launcher" / "launch"
    path.parent.mkdir()
    path.write_text(LAUNCHER)
    path.chmod(0o755)
    return path


def run_under(command: list[str], **step_env: str) -> str:
    env = {**{k: v for k, v in os.environ.items() if k not in STEP_ENV}, **step_env}
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_run_id_is_read_from_the_launchers_arguments(launcher):
    flags = [str(launcher), "--pipeline_name", "p", "--run_id", "3f2a-run", "--pod_name", "x"]
    assert run_under([*flags, "--", sys.executable, "-c", PRINT_RUN_ID]) == "3f2a-run"
    # the component's command as KFP's Python components start it: through a shell
    shell = ["sh", "-ec", f'{sys.executable} -c "{PRINT_RUN_ID}"; exit $?']
    assert run_under([*flags, "--", *shell]) == "3f2a-run"
    assert run_under([sys.executable, "-c", PRINT_RUN_ID]) == "", "no launcher: no run id"


def test_a_reporter_takes_the_launchers_run_id(launcher):
    code = (
        "from kfp_viz.progress import Reporter; "
        "r = Reporter(node_id='n', server_url='http://127.0.0.1:9'); print(r.run_id); "
        "r.close(timeout=0)"
    )
    flags = [str(launcher), "--run_id=run-from-launcher", "--"]
    assert run_under([*flags, sys.executable, "-c", code]) == "run-from-launcher"


def test_the_flag_is_read_only_before_the_users_command():
    argv = ["launch", "--run_id", "a", "--", "x", "--run_id", "b"]
    assert step_pod._flag(argv, "--run_id") == "a"
    assert step_pod._flag(["launch", "--", "x", "--run_id", "b"], "--run_id") == ""


PRINT_NAMES = (
    "from kfp_viz.progress import Reporter; "
    "r = Reporter(server_url='http://127.0.0.1:9'); print(r.node_id, r.argo_node_id or '-'); "
    "r.close(timeout=0)"
)


def executor_input(run: str, task: str, *, legacy: bool = False) -> str:
    """`--executor_input` as KFP 2.17's driver writes it: outputs under
    <pipeline root>/<pipeline>/<run id>/<task>/<salt>/ (KFP before 2.15: a fixed output file)."""
    root = f"minio://mlpipeline/v2/artifacts/pipe/{run}/{task}/0b6e2c"
    local = root.replace("minio://", "/minio/")
    outputs = (
        {"outputFile": "/tmp/kfp_outputs/output_metadata.json"}
        if legacy
        else {
            "artifacts": {"model": {"artifacts": [{"name": "model", "uri": f"{root}/model"}]}},
            "parameters": {"n": {"outputFile": "/tmp/kfp/outputs/n"}},
            "outputFile": f"{local}/output_metadata.json",
        }
    )
    return json.dumps({"inputs": {"parameterValues": {"x": 1}}, "outputs": outputs})


def test_a_v2_step_is_named_by_its_task_and_sends_its_pod(launcher):
    flags = [str(launcher), "--run_id", "run-7", "--executor_input"]
    command = ["--", sys.executable, "-c", PRINT_NAMES]
    named = [*flags, executor_input("run-7", "train"), *command]
    assert run_under(named, ARGO_NODE_ID="pipe-abc-123") == "train pipe-abc-123"
    legacy = [*flags, executor_input("run-7", "train", legacy=True), *command]
    assert run_under(legacy, ARGO_NODE_ID="pipe-abc-123") == "pipe-abc-123 pipe-abc-123"
    # A name given is kept: no pod id then, so the server never renames it.
    assert run_under(named, ARGO_NODE_ID="pipe-abc-123", KFP_NODE_ID="mine") == "mine -"
    outside = run_under([sys.executable, "-c", PRINT_NAMES], KFP_RUN_ID="r", HOSTNAME="laptop")
    assert outside == "laptop -"


def test_the_task_name_is_the_folder_after_the_run_id():
    assert step_pod.task_name(executor_input("r1", "eval-2"), "r1") == "eval-2"
    assert step_pod.task_name(executor_input("r1", "eval-2", legacy=True), "r1") == ""
    assert step_pod.task_name("not json", "r1") == "" and step_pod.task_name("[]", "r1") == ""
    assert step_pod.task_name(executor_input("r1", "x"), "") == ""
