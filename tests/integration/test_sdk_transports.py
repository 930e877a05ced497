"""The SDK as a pipeline step uses it, against real servers watched through real
`WatchProgress` streams: over HTTP into the in-process bus and into Kafka, over Kafka chosen
by the environment alone, the one-line integrations with the real libraries (a tqdm loop, a
Keras 3 `model.fit` on JAX's CPU backend, a logging handler), and a step with nowhere to
send, which warns once and succeeds. Steps run as their own processes, configured only by
the environment, as in a step pod."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from kfp_viz.pb import kfpviz_progress_pb2 as pb
from kfp_viz.progress import Reporter
from progress_support import Watch, new_run, new_topic, progress_server
from support import ROOT

pytestmark = pytest.mark.integration

STEP_ENV = ("KFP_RUN_ID", "KFP_NODE_ID", "ARGO_NODE_ID", "KFP_POD_NAME", "KFP_NAMESPACE",
            "POD_NAMESPACE", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_PROGRESS_TOPIC",
            "KFP_VIZ_SERVER_URL", "KERAS_BACKEND")  # fmt: skip


def run_step(code: str, timeout: float = 240, **env: str) -> subprocess.CompletedProcess[str]:
    """`code` as a step's process: the environment of this test minus every step setting,
    plus `env`."""
    environment = {k: v for k, v in os.environ.items() if k not in STEP_ENV}
    environment.update(JAX_PLATFORMS="cpu", **env)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
        timeout=timeout, env=environment, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def end_run(server, run: str) -> None:
    reply = server.post_progress(run, {"kind": "status", "status": "Succeeded"})
    assert reply.status_code == 200, reply.text


def watched(watch: Watch, node_id: str) -> list[pb.ProgressEvent]:
    assert watch.ended.wait(30), "the stream did not end at the run's terminal status"
    assert watch.error is None
    return [e.event for e in watch.events if e.event.node_id == node_id]


def test_a_step_reports_over_http_into_the_bus(bus_server):
    run = new_run()
    watch = Watch(bus_server.grpc_target, run, from_beginning=True)
    code = """
        from kfp_viz.progress import Reporter
        with Reporter() as report:
            for epoch in report.track(range(4), every=0):
                report.metric(loss=1 / (epoch + 1), step=epoch)
            report.log("saved")
        report_run = Reporter(node_id="exit")
        report_run.status("Succeeded", run_level=True)
        report_run.close()
    """
    run_step(code, KFP_VIZ_SERVER_URL=bus_server.url, KFP_RUN_ID=run, KFP_NODE_ID="train")
    events = watched(watch, "train")
    assert [e.kind for e in events] == ["status"] + ["metric", "progress"] * 4 + [
        "progress", "log", "status",
    ]  # fmt: skip
    assert [e.status for e in (events[0], events[-1])] == ["Running", "Succeeded"]
    assert [e.metrics["loss"] for e in events if e.kind == "metric"] == [1, 0.5, 1 / 3, 0.25]
    assert watch.events[-1].event.node_id == "" and watch.events[-1].event.status == "Succeeded"


def test_http_into_a_server_on_kafka_and_kafka_chosen_by_the_environment(kafka, start_server):
    topic, run = new_topic(), new_run()
    server = progress_server(start_server, kafka.bootstrap, topic)
    watch = Watch(server.grpc_target, run, from_beginning=True)
    step = """
        from kfp_viz.progress import Reporter
        import sys
        with Reporter() as report:
            report.log(sys.argv[0] + " " + type(report.transport).__name__)
    """
    over_http = {"KFP_VIZ_SERVER_URL": server.url, "KFP_NODE_ID": "http-step"}
    over_kafka = {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "KAFKA_PROGRESS_TOPIC": topic,
                  "KFP_NODE_ID": "kafka-step"}  # fmt: skip
    run_step(step, KFP_RUN_ID=run, **over_http)
    run_step(step, KFP_RUN_ID=run, **over_kafka)
    end_run(server, run)
    for node, transport in (("http-step", "HttpTransport"), ("kafka-step", "KafkaTransport")):
        events = watched(watch, node)
        assert [(e.kind, e.status or e.message) for e in events] == [
            ("status", "Running"), ("log", f"-c {transport}"), ("status", "Succeeded"),
        ]  # fmt: skip
    partitions = {e.cursor.partition for e in watch.events}
    assert len(partitions) == 1, "both ways land in the run's one Kafka partition"


def test_a_tqdm_loop_prints_its_bar_and_reports(bus_server):
    run = new_run()
    watch = Watch(bus_server.grpc_target, run, from_beginning=True)
    code = """
        import time
        from kfp_viz.tqdm import tqdm, trange
        for epoch in tqdm(range(20), desc="epochs"):
            for batch in trange(5, leave=False):  # nested: prints, does not report
                pass
            time.sleep(0.06)
    """
    done = run_step(code, KFP_VIZ_SERVER_URL=bus_server.url, KFP_RUN_ID=run, KFP_NODE_ID="fit")
    assert "epochs: 100%" in done.stderr and "20/20" in done.stderr, "the bar in the pod's log"
    end_run(bus_server, run)
    events = watched(watch, "fit")
    assert events and {e.kind for e in events} == {"progress"}
    assert {e.total for e in events} == {20}, "only the outer bar reports"
    assert {e.message for e in events} == {"epochs"}
    currents = [e.current for e in events]
    assert currents == sorted(currents) and currents[-1] == 20 and len(currents) >= 2


def test_a_keras_fit_reports_epoch_metrics_and_progress(bus_server):
    run = new_run()
    watch = Watch(bus_server.grpc_target, run, from_beginning=True)
    code = """
        import numpy as np
        import keras
        from kfp_viz.keras import ProgressCallback

        rng = np.random.default_rng(0)
        x = rng.random((64, 4), dtype="float32")
        y = (x.sum(axis=1) > 2).astype("float32")
        model = keras.Sequential([
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ])
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0,
                  callbacks=[ProgressCallback(every=0)])
        print(keras.backend.backend())
    """
    done = run_step(
        code, KERAS_BACKEND="jax", KFP_VIZ_SERVER_URL=bus_server.url, KFP_RUN_ID=run,
        KFP_NODE_ID="keras-fit",
    )  # fmt: skip
    assert done.stdout.strip() == "jax"
    end_run(bus_server, run)
    events = watched(watch, "keras-fit")
    epochs = [e for e in events if e.kind == "metric" and "loss" in e.metrics]
    assert [e.current for e in epochs] == [1, 2, 3]
    assert all(set(e.metrics) == {"loss", "accuracy", "val_loss", "val_accuracy"} for e in epochs)
    batches = [e for e in events if e.kind == "metric" and "batch_loss" in e.metrics]
    assert [e.current for e in batches] == list(range(1, 10)), "3 batches a epoch, 3 epochs"
    progress = [(e.current, e.total) for e in events if e.kind == "progress"]
    assert progress[-1] == (9, 9) and [c for c, _ in progress] == sorted(c for c, _ in progress)
    assert {e.message for e in events if e.kind == "progress"} >= {"epoch 1/3", "epoch 3/3"}


def test_log_records_become_log_events(bus_server):
    run = new_run()
    watch = Watch(bus_server.grpc_target, run, from_beginning=True)
    code = """
        import logging
        from kfp_viz.log_handler import install
        logging.basicConfig(level=logging.INFO)
        install()
        logging.getLogger("train").info("epoch %d done", 1)
        logging.getLogger("train").debug("not at INFO")
        logging.getLogger("data").warning("3 rows skipped")
    """
    run_step(code, KFP_VIZ_SERVER_URL=bus_server.url, KFP_RUN_ID=run, KFP_NODE_ID="logs")
    end_run(bus_server, run)
    assert [e.message for e in watched(watch, "logs")] == [
        "INFO train: epoch 1 done", "WARNING data: 3 rows skipped",
    ]  # fmt: skip


def test_with_nowhere_to_send_a_step_warns_once_and_succeeds():
    code = """
        import logging
        from kfp_viz.progress import Reporter
        from kfp_viz.tqdm import tqdm
        from kfp_viz.log_handler import install
        logging.basicConfig(level=logging.INFO)
        install()
        with Reporter() as report:
            for i in tqdm(range(3), desc="work"):
                report.metric(loss=0.1 * i, step=i)
            logging.info("finished")
        print("step done", report.run_id, report.sent, report.failed)
    """
    done = run_step(code)
    assert done.stdout.strip() == "step done local 0 0"
    assert done.stderr.count("progress is not sent") == 1, done.stderr
    assert "neither KFP_VIZ_SERVER_URL nor KAFKA_BOOTSTRAP_SERVERS is set" in done.stderr
    assert "work: 100%" in done.stderr


def test_a_server_that_goes_away_and_comes_back_loses_nothing(tmp_path):
    """The HTTP transport holds events while the server restarts on the same port."""
    from support import RunningServer

    server = RunningServer(["--pool-size", "1"], {}, tmp_path / "first.log")
    server.wait_ready()
    run = new_run()
    rep = Reporter(run, "train", namespace="", server_url=server.url)
    rep.log("before")
    assert rep.flush(20)
    assert server.stop() == 0
    for i in range(5):
        rep.log(f"while away {i}")
    # a fresh server on the bus holds no history: it must get every event logged meanwhile
    again = _restart_on(server, tmp_path / "second.log")
    try:
        watch = Watch(again.grpc_target, run, from_beginning=True)
        assert rep.flush(60), "events logged while the server was away were not delivered"
        rep.status("Succeeded", run_level=True)
        rep.close()
        assert watch.ended.wait(30) and watch.error is None
        assert watch.messages() == [f"while away {i}" for i in range(5)] + [""]
    finally:
        assert again.stop() == 0, again.log()


def _restart_on(old, log):
    """A new server on `old`'s HTTP port (its own gRPC port)."""
    import support

    original = support.free_port
    ports = iter([old.http_port])
    support.free_port = lambda: next(ports, None) or original()
    try:
        server = support.RunningServer(["--pool-size", "1"], {}, log)
    finally:
        support.free_port = original
    server.wait_ready()
    return server
