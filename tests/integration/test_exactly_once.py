"""Exactly once over HTTP: a step's batch whose answer was lost is posted again and applied once.

Between the step and a real server sits a real TCP proxy (proxy.py) that lets a request reach
the server and then drops the connection before the answer: the step cannot tell whether the
server took the batch, so it posts it again. The SDK's batches name their sender and sequence
(kfp_viz.batch_id); the server acknowledges what its log holds already. Shown on the in-process
bus, with a real Kafka broker across a restart of the server between the lost answer and the
retry, and over gRPC. A batch that names nothing is applied as before: posted again through
the same proxy, it is applied twice, which is what the names prevent.
"""

from __future__ import annotations

import json
import signal
import time

import grpc
import pytest
import requests
from kfp_viz.pb import kfpviz_progress_pb2 as pb
from kfp_viz.pb import kfpviz_progress_pb2_grpc as pb_grpc
from kfp_viz.progress import Reporter
from progress_support import Watch, new_run, new_topic, progress_server
from proxy import FlakyProxy
from support import RunningServer, wait_until
from test_sdk_transports import run_step

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy():
    flaky = FlakyProxy(None)
    yield flaky
    flaky.close()


def upstream(server: RunningServer) -> tuple[str, int]:
    return ("127.0.0.1", server.http_port)


def history(server: RunningServer, run: str) -> list[pb.ProgressEvent]:
    """Every event of the run in the server's log, read whole (a run-level status ends it)."""
    watch = Watch(server.grpc_target, run, from_beginning=True)
    assert watch.ended.wait(60), "the run's terminal status did not end the stream"
    assert watch.error is None, watch.error
    return [e.event for e in watch.events]


def test_a_steps_batches_whose_answers_were_lost_are_applied_once(bus_server, proxy):
    """A step's process reports through the proxy, which loses the answers to its first
    three requests after the server took them; the step retries, and the log holds each of
    its events once, in order."""
    run = new_run()
    proxy.forward_to(upstream(bus_server))
    proxy.drop_answers(3)
    code = """
        from kfp_viz.progress import Reporter
        with Reporter() as report:
            for epoch in range(30):
                report.metric(loss=1 / (epoch + 1), step=epoch)
                report.log(f"epoch {epoch}")
        print(report.sent, report.failed)
        end = Reporter(node_id="exit")
        end.status("Succeeded", run_level=True)
        end.close()
    """
    done = run_step(code, KFP_VIZ_SERVER_URL=proxy.url, KFP_RUN_ID=run, KFP_NODE_ID="train")
    assert done.stdout.split() == ["62", "0"], "every event delivered, none given up"
    assert proxy.dropped == 3, "three answers were lost on the way"
    events = [e for e in history(bus_server, run) if e.node_id == "train"]
    expected = ["Running"] + [f"epoch {i}" for i in range(30)] + ["Succeeded"]
    assert [e.status or e.message for e in events if e.kind != "metric"] == expected
    assert [e.current for e in events if e.kind == "metric"] == list(range(30))


def test_a_batch_without_a_sender_is_applied_as_before_so_a_retry_doubles_it(bus_server, proxy):
    """The control: the same lost answer, and a post that names no batch (a plain array, as
    before), posted again: the server cannot tell, and applies it twice."""
    run = new_run()
    proxy.forward_to(upstream(bus_server))
    proxy.drop_answers(1)
    body = json.dumps([{"node_id": "s", "kind": "log", "message": "once?"}])
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{proxy.url}/progress/{run}", data=body, timeout=10)
    reply = requests.post(f"{proxy.url}/progress/{run}", data=body, timeout=10)
    assert reply.status_code == 200 and "already_applied" not in reply.json()
    named = {"KFP-Viz-Sender": "curl-1", "KFP-Viz-Sequence": "1"}
    proxy.drop_answers(1)
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{proxy.url}/progress/{run}", data=body, headers=named, timeout=10)
    again = requests.post(f"{proxy.url}/progress/{run}", data=body, timeout=10,
                          headers={**named, "KFP-Viz-Attempt": "2"})  # fmt: skip
    assert again.json() == {"cursors": [], "already_applied": 1}
    bus_server.post_progress(run, {"kind": "status", "status": "Succeeded"})
    assert [e.message for e in history(bus_server, run) if e.kind == "log"] == ["once?"] * 3


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({"KFP-Viz-Sender": "a b", "KFP-Viz-Sequence": "1"}, "sender 'a b' is not 1 to 64"),
        ({"KFP-Viz-Sender": "s"}, "sequence must be a whole number from 1"),
        ({"KFP-Viz-Sequence": "4"}, "a batch's sequence needs its sender (KFP-Viz-Sender)"),
        ({"KFP-Viz-Sender": "s", "KFP-Viz-Sequence": "1", "KFP-Viz-Attempt": "-2"},
         "attempt must be a whole number from 1"),
    ],
)  # fmt: skip
def test_a_batch_named_wrongly_is_refused_and_changes_nothing(bus_server, headers, words):
    run = new_run()
    body = json.dumps({"node_id": "s", "kind": "log", "message": "m"})
    reply = requests.post(f"{bus_server.url}/progress/{run}", data=body, headers=headers,
                          timeout=10)  # fmt: skip
    assert reply.status_code == 400, reply.text
    assert words in reply.json()["error"]
    bus_server.post_progress(run, {"kind": "status", "status": "Succeeded"})
    assert [e.kind for e in history(bus_server, run)] == ["status"], "nothing was published"


def test_grpc_publishers_name_their_batches_too(bus_server):
    run = new_run()
    stub = pb_grpc.ProgressStub(bus_server.channel)
    events = [pb.ProgressEvent(run_id=run, node_id="s", kind="log", message=f"m{i}")
              for i in range(3)]  # fmt: skip
    first = stub.PublishProgress(
        pb.PublishProgressRequest(events=events, sender="grpc-1", sequence=1), timeout=30
    )
    again = stub.PublishProgress(
        pb.PublishProgressRequest(events=events, sender="grpc-1", sequence=1, attempt=2),
        timeout=30,
    )
    assert (len(first.cursors), first.already_applied) == (3, 0)
    assert (len(again.cursors), again.already_applied) == (0, 3)
    with pytest.raises(grpc.RpcError) as refused:
        stub.PublishProgress(pb.PublishProgressRequest(events=events, sequence=2), timeout=30)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "needs its sender" in refused.value.details()
    end = pb.ProgressEvent(run_id=run, kind="status", status="Succeeded")
    stub.PublishProgress(pb.PublishProgressRequest(events=[end]), timeout=30)
    assert [e.message for e in history(bus_server, run) if e.kind == "log"] == ["m0", "m1", "m2"]


def test_a_batch_taken_before_a_restart_is_not_applied_again_after_it(kafka, start_server, proxy):
    """With Kafka: the server takes a batch, the answer is lost, the server restarts (the
    proxy refuses meanwhile, as a Service with no ready pod), and the step's retry reaches
    the new server, which learns from the log's recent past that the batch is there."""
    topic, run = new_topic(), new_run()
    first = progress_server(start_server, kafka.bootstrap, topic)
    proxy.forward_to(upstream(first))
    with Reporter(run, "train", namespace="", server_url=proxy.url) as warm_up:
        warm_up.log("the topic exists")
    assert warm_up.sent == 3 and warm_up.failed == 0
    proxy.drop_answers(1, refuse_after_drop=True)
    rep = Reporter(run, "train", namespace="", server_url=proxy.url)
    for i in range(20):
        rep.log(f"line {i}")
    wait_until(lambda: proxy.dropped == 1, timeout=30, what="the first batch's answer lost")
    assert first.stop(signal.SIGTERM) == 0, first.log()
    assert not rep.flush(0.5), "the step is still posting the batch again"
    second = progress_server(start_server, kafka.bootstrap, topic)
    proxy.forward_to(upstream(second))
    assert rep.flush(60), "the retry reached the restarted server"
    rep.status("Succeeded", run_level=True)
    rep.close()
    assert (rep.sent, rep.failed) == (21, 0)
    assert proxy.refused > 0, "retries met the server away"
    logs = [e.message for e in history(second, run) if e.kind == "log"]
    assert logs == ["the topic exists"] + [f"line {i}" for i in range(20)]
    dedupe = second.ready()["progress"]["dedupe"]
    assert dedupe["recovered"] and dedupe["recovered_records"] >= 21
    assert dedupe["acknowledged"] >= 1, "the retried batch was acknowledged"
    started = time.monotonic()
    again = Reporter(run, "late", namespace="", server_url=second.url)
    again.log("after the restart")
    assert again.flush(10) and time.monotonic() - started < 10
    again.close()
