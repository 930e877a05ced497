"""Live progress on the embedded default (no Kafka): HTTP publish, gRPC, SSE, the stock
request shape's `progress` view, and the `kfp-viz` command, against a real server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zlib

import grpc
import pytest
import requests
from kfp_viz.pb import kfpviz_progress_pb2 as pb
from kfp_viz.pb import kfpviz_progress_pb2_grpc as pb_grpc
from progress_support import Watch, new_run
from support import ROOT, reflect

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bus_server(tmp_path_factory):
    """One server on the in-process bus whose public URL is its own HTTP address."""
    from support import RunningServer

    log = tmp_path_factory.mktemp("bus") / "server.log"
    server = RunningServer(
        ["--pool-size", "1", "--progress-heartbeat", "0.5"], {}, log, public=True
    )
    server.wait_ready()
    yield server
    assert server.stop() == 0, server.log()


def post(server, run, *events) -> list[str]:
    reply = server.post_progress(run, list(events))
    assert reply.status_code == 200, reply.text
    return reply.json()["cursors"]


def sse(server, run: str, headers: dict | None = None, **query) -> list[tuple[str, str, dict]]:
    """Read the SSE stream until `end` (or a 10 s read gap): (event, id, data) tuples."""
    reply = requests.get(
        f"{server.url}/progress/{run}/events", params=query, headers=headers,
        stream=True, timeout=10,
    )  # fmt: skip
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"] == "text/event-stream"
    assert reply.headers["Access-Control-Allow-Origin"] == "*"
    out, fields = [], {}
    for line in reply.iter_lines(decode_unicode=True):
        if line:
            name, _, value = line.partition(": ")
            fields[name] = value
            continue
        if "event" in fields:
            out.append((fields["event"], fields.get("id", ""), json.loads(fields["data"])))
            if fields["event"] == "end":
                break
        fields = {}
    reply.close()
    return out


def test_http_publish_then_grpc_history_live_and_end(bus_server):
    run = new_run()
    cursors = post(
        bus_server, run,
        {"node_id": "train", "kind": "progress", "current": 1, "total": 4},
        {"node_id": "train", "kind": "metric", "metrics": {"loss": 0.9}, "current": 1},
    )  # fmt: skip
    assert len(cursors) == 2 and cursors[0].split(":")[0] == cursors[1].split(":")[0]
    watch = Watch(bus_server.grpc_target, run, from_beginning=True)
    stub = pb_grpc.ProgressStub(bus_server.channel)
    reply = stub.PublishProgress(
        pb.PublishProgressRequest(
            events=[
                pb.ProgressEvent(run_id=run, node_id="train", kind="progress", fraction=0.5),
                pb.ProgressEvent(run_id=run, kind="status", status="succeeded"),
            ]
        ),
        timeout=10,
    )
    assert [c.offset for c in reply.cursors] == [int(cursors[1].split(":")[1]) + 1 + i
                                                 for i in range(2)]  # fmt: skip
    assert watch.ended.wait(10) and watch.error is None
    events = [e.event for e in watch.events]
    assert [e.kind for e in events] == ["progress", "metric", "progress", "status"]
    assert events[0].fraction == 0.25 and events[2].fraction == 0.5
    assert events[1].metrics["loss"] == 0.9
    assert events[3].status == "Succeeded" and events[3].node_id == ""
    assert all(e.v == 1 and e.ts > 0 for e in events)


def test_progress_service_is_listed_by_reflection(bus_server):
    names, files = reflect(bus_server.channel, "kfpviz.v1.Progress")
    assert {"kfpviz.v1.Progress", "api.VisualizationService"} <= names
    assert any(b"kfpviz_progress.proto" in file for file in files)


def test_publish_refuses_bad_events_with_reasons(bus_server):
    run = new_run()
    cases = [
        ("{nope", "body is not valid JSON"),
        ("[]", "the array holds no events"),
        ("[1]", "each event must be a JSON object"),
        (json.dumps({"node_id": "s", "kind": "progress"}), "need current and total, or fraction"),
        (json.dumps({"node_id": "s", "kind": "nope"}), "kind must be one of"),
        (json.dumps({"node_id": "s", "kind": "log", "message": "x", "v": 7}), "unknown schema"),
        (json.dumps({"node_id": "s", "kind": "metric", "metrics": {"l": "x"}}), "finite number"),
        (json.dumps({"node_id": "s", "kind": "status", "status": "Happy"}), "status must be one"),
        (json.dumps({"kind": "log", "message": "x"}), "node_id is required"),
        (json.dumps({"run_id": "other", "node_id": "s", "kind": "log", "message": "x"}),
         "but was posted to"),
        (json.dumps({"node_id": "s", "kind": "progress", "fraction": 2}), "between 0 and 1"),
        (json.dumps({"node_id": "s", "kind": "status", "status": "完了<b>"}),
         "status must be one of Pending, Running, Succeeded, Failed, Error, Skipped, Cancelled, "
         "Canceled, Terminated, Omitted; got '\\u5b8c\\u4e86\\x3cb\\x3e'"),  # not "Unknown"
    ]  # fmt: skip
    for body, reason in cases:
        reply = bus_server.post_progress(run, body, raw=True)
        assert reply.status_code == 400, body
        assert reason in reply.json()["error"], (body, reply.json())
        assert reason in reply.reason
    bad_path = bus_server.post_progress("-bad", {"node_id": "s", "kind": "log", "message": "x"})
    assert bad_path.status_code == 400 and "run_id" in bad_path.json()["error"]
    big = bus_server.post_progress(run, "x" * (5 * 2**20), raw=True)
    assert big.status_code == 413
    # nothing above reached the run's log
    watch = Watch(bus_server.grpc_target, run, from_beginning=True)
    time.sleep(1.0)
    assert watch.kinds()[0] == "caught_up" and watch.replies[0].caught_up.events == 0
    assert watch.events == []
    watch.cancel()
    with pytest.raises(grpc.RpcError) as caught:
        pb_grpc.ProgressStub(bus_server.channel).PublishProgress(
            pb.PublishProgressRequest(events=[pb.ProgressEvent(run_id=run, kind="log")]),
            timeout=10,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "node_id is required" in caught.value.details()


def run_with_a_foreign_partition(partitions: int = 3) -> tuple[str, int]:
    """A run id and a partition it was never on, under any partition count up to `partitions`.

    The bus places a run by crc32 of its id, and a cursor on a partition the run had
    under a smaller count is accepted (partitions are only ever added); for most ids,
    some partition is none of those.
    """
    while True:
        run = new_run()
        homes = {zlib.crc32(run.encode()) % n for n in range(1, partitions + 1)}
        foreign = set(range(partitions)) - homes
        if foreign:
            return run, min(foreign)


def test_server_sent_events_resume_by_last_event_id_and_end(bus_server):
    run, foreign = run_with_a_foreign_partition()
    post(bus_server, run, *[{"node_id": "s", "kind": "log", "message": f"m{i}"} for i in range(3)])
    post(bus_server, run, {"kind": "status", "status": "Failed", "message": "boom"})
    stream = sse(bus_server, run)
    kinds = [kind for kind, _, _ in stream]
    assert kinds == ["progress"] * 4 + ["end"], "a finished run's stream ends after its status"
    ids = [i for kind, i, _ in stream if kind == "progress"]
    assert [d["message"] for k, _, d in stream if k == "progress"] == ["m0", "m1", "m2", "boom"]
    resumed = sse(bus_server, run, headers={"Last-Event-ID": ids[1]})
    assert [d["message"] for k, _, d in resumed if k == "progress"] == ["m2", "boom"]
    by_query = sse(bus_server, run, resume_after=ids[2])
    assert [d["message"] for k, _, d in by_query if k == "progress"] == ["boom"]
    bad = requests.get(f"{bus_server.url}/progress/{run}/events?resume_after=x", timeout=10)
    assert bad.status_code == 400 and "PARTITION:OFFSET" in bad.json()["error"]
    wrong = pb.Cursor(partition=foreign, offset=0)
    mixed_up = Watch(bus_server.grpc_target, run, resume_after=wrong)
    assert mixed_up.ended.wait(10)
    assert mixed_up.error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"where run {run} is" in mixed_up.error.details()


def test_stock_request_shape_progress_view(bus_server):
    run = new_run()
    post(
        bus_server, run,
        {"node_id": "train", "kind": "progress", "current": 3, "total": 10},
        {"node_id": "train", "kind": "metric", "metrics": {"loss": 0.4}},
    )  # fmt: skip
    reply = bus_server.post(type="progress", source=run, arguments="{}")
    assert reply.status_code == 200
    page = reply.text
    config = json.loads(page.split('type="application/json">', 1)[1].split("</script>", 1)[0])
    config = config["runs"][0]  # the snapshot shows one run
    assert config["run_id"] == run
    assert [e["kind"] for e in config["events"]] == ["progress", "metric"]
    assert config["events_url"].startswith(f"{bus_server.url}/progress/{run}/events?")
    assert (
        "resume_after=" + config["events"][-1]["cursor"].replace(":", "%3A")
        in (config["events_url"])
    )
    assert "<script src" not in page and "http" not in page.split("<script", 1)[0]
    # The KFP UI offers only KFP's enum types: any of them with a progress:// source
    post(bus_server, run, {"node_id": "eval", "kind": "progress", "fraction": 0.5})
    for stock_type in ("table", "roc_curve", "tfdv", "tfma"):
        aliased = bus_server.post(type=stock_type, source=f"progress://{run}?node_id=eval")
        assert aliased.status_code == 200, (stock_type, aliased.reason)
        assert '"node_id": "eval"' in aliased.text and '"node_id": "train"' not in aliased.text
    custom = bus_server.post(type="custom", source=f"progress://{run}", arguments="{}")
    assert custom.status_code == 403, "custom stays custom code, whatever its source"
    empty = bus_server.post(type="progress", source=new_run(), arguments="{}")
    assert empty.status_code == 200 and "no progress events for run" in empty.text
    bad = bus_server.post(type="progress", source="../../etc", arguments="{}")
    assert bad.status_code == 400 and bad.reason.startswith("Invalid progress request: run_id")
    nosource = bus_server.post(type="progress", source="", arguments="{}")
    assert nosource.status_code == 400 and nosource.reason == "No source provided."


def kfp_viz(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kfp_viz.cli", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def test_kfp_viz_emit_and_watch_commands(bus_server):
    run, target = new_run(), bus_server.grpc_target
    common = ["--server", target, "--run-id", run, "--node-id", "train"]
    assert kfp_viz("progress", "emit", *common, "--progress", "3/10").returncode == 0
    assert (
        kfp_viz("progress", "emit", *common, "--metric", "loss=0.25", "--step", "3").returncode == 0
    )
    watcher = subprocess.Popen(
        [sys.executable, "-m", "kfp_viz.cli", "watch", run, "--server", target, "--plain"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(1.5)
    assert kfp_viz("progress", "emit", *common, "--progress", "10/10").returncode == 0
    done = kfp_viz("progress", "emit", *common, "--status", "Succeeded", "--run-level")
    assert done.returncode == 0 and ":" in done.stdout
    out, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, err
    assert "train" in out and " 30% 3/10" in out and "100% 10/10" in out and "loss=0.25" in out
    assert "Succeeded" in out
    bad = kfp_viz("progress", "emit", *common, "--progress", "three")
    assert bad.returncode != 0 and "CURRENT/TOTAL" in bad.stderr
    refused = kfp_viz("progress", "emit", "--server", target, "--run-id", run, "--log", "x")
    assert refused.returncode == 1 and "node_id is required" in refused.stderr
