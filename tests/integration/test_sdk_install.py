"""The SDK installed alone, as a pipeline step installs it: `pip install ./sdk[kafka]` in a venv
of its own (scripts/sdk_venv.py; scripts/lib/deps.sh builds it once per SDK digest), where none
of the server's packages can be imported. A step's process reports through a real Kafka broker,
and a real server shows it: on its gRPC watch stream and on the page the KFP UI asks for.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from progress_support import Watch, new_run, new_topic, progress_server
from sdk_support import run_in, sdk_venv, step_env

pytestmark = pytest.mark.integration

SERVER_SIDE = ("kfp_viz_server", "kfp_viz_kernels", "tornado", "jupyter_client", "grpc")

STEP = """
import sys
from kfp_viz.progress import Reporter

with Reporter() as report:                      # everything from the step's environment
    for batch in report.track(range(4), every=0, message="batches"):
        report.metric(loss=1.0 / (batch + 1), step=batch)
    report.log("trained on 4 batches")
print("sent", report.sent, "failed", report.failed, "dropped", report.dropped)
"""


@pytest.fixture(scope="module")
def kafka_venv() -> Path:
    return sdk_venv("kafka")


@pytest.fixture(scope="module")
def base_venv() -> Path:
    return sdk_venv("")


def test_only_the_sdk_is_installed(kafka_venv, tmp_path):
    probe = (
        "import importlib.util, json, kfp_viz; print(json.dumps({'sdk': kfp_viz.__file__, "
        f"'missing': [n for n in {SERVER_SIDE!r} if importlib.util.find_spec(n) is None]}}))"
    )
    found = run_in(kafka_venv, "python", "-c", probe, env=step_env(), cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    seen = json.loads(found.stdout)
    assert seen["sdk"].startswith(str(kafka_venv)), "the SDK must come from the venv, not ./sdk"
    assert seen["missing"] == list(SERVER_SIDE)


def test_the_base_install_needs_only_the_standard_library(base_venv, tmp_path):
    """Schema, Reporter and command import and work with nothing but kfp-viz installed; what
    needs an extra says which."""
    listing = run_in(base_venv, "python", "-m", "pip", "list", "--format=json",
                     env=step_env(), cwd=tmp_path)  # fmt: skip
    names = {d["name"].lower() for d in json.loads(listing.stdout)}
    assert names - {"pip", "setuptools"} == {"kfp-viz"}
    schema = (
        "from kfp_viz.events import new_event, parse_json; import kfp_viz.cli, kfp_viz.progress; "
        "e = new_event(kind='progress', run_id='r', node_id='n', current=1, total=4); "
        "print(parse_json(e.to_json()).fraction)"
    )
    parsed = run_in(base_venv, "python", "-c", schema, env=step_env(), cwd=tmp_path)
    assert (parsed.returncode, parsed.stdout.strip()) == (0, "0.25"), parsed.stderr
    args = ("kfp-viz", "progress", "emit", "--run-id", "r", "--node-id", "n", "--log", "x")
    no_kafka = run_in(base_venv, *args, env=step_env(KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1"),
                      cwd=tmp_path)  # fmt: skip
    assert no_kafka.returncode == 2 and "pip install 'kfp-viz[kafka]'" in no_kafka.stderr
    no_grpc = run_in(base_venv, "kfp-viz", "watch", "r", env=step_env(), cwd=tmp_path)
    assert no_grpc.returncode == 1 and "pip install 'kfp-viz[grpc]'" in no_grpc.stderr
    bad = run_in(base_venv, *args[:-2], "--progress", "5/0", "--server", "127.0.0.1:1",
                 env=step_env(), cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 1 and "pip install 'kfp-viz[grpc]'" in bad.stderr


def test_a_step_with_only_the_sdk_reports_to_kafka_and_the_server_shows_it(
    kafka_venv, kafka, start_server, tmp_path
):
    topic, run = new_topic(), new_run()
    server = progress_server(start_server, kafka.bootstrap, topic)
    watch = Watch(server.grpc_target, run, from_beginning=True)
    env = step_env(
        KFP_RUN_ID=run, ARGO_NODE_ID="train-step", KFP_NAMESPACE="",
        KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap, KAFKA_PROGRESS_TOPIC=topic,
    )  # fmt: skip
    (tmp_path / "step.py").write_text(STEP)
    step = run_in(kafka_venv, "python", "step.py", env=env, cwd=tmp_path)
    assert step.returncode == 0, step.stderr
    assert step.stdout.split() == ["sent", "12", "failed", "0", "dropped", "0"]
    done = run_in(kafka_venv, "kfp-viz", "progress", "emit", "--status", "Succeeded",
                  "--run-level", env=env, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert watch.ended.wait(30), "the watch did not end at the run's terminal status"
    assert watch.error is None
    events = [e.event for e in watch.events]
    assert [(e.kind, e.node_id) for e in events][:2] == [("status", "train-step"),
                                                         ("metric", "train-step")]  # fmt: skip
    assert [e.status for e in events if e.kind == "status"] == ["Running", "Succeeded", "Succeeded"]
    assert [e.node_id for e in events][-1] == "", "the run-level status from `kfp-viz` ends it"
    progress = [e for e in events if e.kind == "progress"]
    assert progress[-1].fraction == 1.0 and progress[-1].message == "batches"
    assert [e.metrics["loss"] for e in events if e.kind == "metric"] == [1.0, 0.5, 1 / 3, 0.25]
    assert "trained on 4 batches" in [e.message for e in events]
    page = server.post(type="progress", source=run, arguments="{}")  # what the KFP UI shows
    assert page.status_code == 200, page.reason
    assert '"node_id": "train-step"' in page.text and "trained on 4 batches" in page.text


def test_a_step_with_only_the_base_sdk_reports_over_http(base_venv, start_server, tmp_path):
    """No Kafka and no extra: the standard library's HTTP client into the server's bus."""
    run = new_run()
    server = start_server("--pool-size", "1", "--progress-heartbeat", "0.5")
    watch = Watch(server.grpc_target, run, from_beginning=True)
    env = step_env(KFP_RUN_ID=run, ARGO_NODE_ID="train-step", KFP_NAMESPACE="",
                   KFP_VIZ_SERVER_URL=server.url)  # fmt: skip
    (tmp_path / "step.py").write_text(STEP)
    step = run_in(base_venv, "python", "step.py", env=env, cwd=tmp_path)
    assert step.returncode == 0, step.stderr
    assert step.stdout.split() == ["sent", "12", "failed", "0", "dropped", "0"]
    done = run_in(base_venv, "kfp-viz", "progress", "emit", "--status", "Succeeded",
                  "--run-level", env=env, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert watch.ended.wait(30) and watch.error is None
    events = [e.event for e in watch.events]
    assert len(events) == 13 and {e.node_id for e in events[:-1]} == {"train-step"}
    assert [e.status for e in events if e.kind == "status"] == ["Running", "Succeeded", "Succeeded"]
    nowhere = run_in(base_venv, "kfp-viz", "progress", "emit", "--run-id", "r", "--log", "x",
                     env=step_env(), cwd=tmp_path)  # fmt: skip
    assert nowhere.returncode == 2 and "nothing sent: nowhere (neither KFP_VIZ_SERVER_URL" in (
        nowhere.stderr
    )
