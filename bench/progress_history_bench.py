"""History-scan benchmark: how long the first watch of an old run takes. Prints figures only.

A run's history is read from its partition, from where the run begins to the live
position, through every other run's records in between. This measures it on a real Kafka
broker (one KRaft node): one partition holding OTHERS/2 events of 1,000 other runs
(default 10 million in all, ~120 bytes each), then 10 events of an "old" run, the other
OTHERS/2, then 10 more of the old run. A new server (nothing in its memory) is started after
the events were produced; the times are from sending WatchProgress(from_beginning) to the
first history event and to the `caught_up` marker, for the first watch and a second one.

Before: without the run index (KAFKA_RUN_INDEX_TOPIC=off), the first watch reads the
partition from its start. After: with it (server/progress/run_index.py), from the run's first
record; the first server indexes the topic once (its time is printed), later ones read the
index topic. Every run is printed, then the medians.

Usage: python bench/progress_history_bench.py [--others 10000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "integration")]


def fill(broker, topic: str, old_run: str, others: int) -> None:
    """Other runs' events (by Kafka's Java client: kafka-python makes ~7,000 a second here)
    around the old run's first and last events (by kafka-python, as a step's SDK)."""
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)

    def send(message: str) -> None:
        event = {"v": 1, "run_id": old_run, "node_id": "train", "kind": "log",
                 "message": message, "ts": time.time()}  # fmt: skip
        producer.send(topic, key=old_run.encode(), value=json.dumps(event).encode(), partition=0)

    def others_from(first: int, count: int) -> None:
        subprocess.run(
            ["java", "-Xmx256m", "-cp", broker.classpath, str(ROOT / "bench" / "FillTopic.java"),
             broker.bootstrap, topic, str(count), "1000", str(first)],
            check=True, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    half = others // 2
    others_from(0, half)
    for i in range(10):
        send(f"early {i}")
    producer.flush(60)
    others_from(half, others - half)
    for i in range(10):
        send(f"late {i}")
    producer.flush(60)
    producer.close()


def time_history(target: str, run_id: str) -> tuple[float, float, int]:
    """Seconds from the request to the first history event and to `caught_up`, and the
    history events counted."""
    import grpc
    from kfp_viz.pb import kfpviz_progress_pb2 as pb
    from kfp_viz.pb import kfpviz_progress_pb2_grpc as pb_grpc

    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.ProgressStub(channel)
        started = time.monotonic()
        first = None
        call = stub.WatchProgress(pb.WatchProgressRequest(run_id=run_id, from_beginning=True))
        for reply in call:
            if reply.events and first is None:
                first = time.monotonic() - started
            if reply.HasField("caught_up"):
                elapsed = time.monotonic() - started
                call.cancel()
                return first if first is not None else elapsed, elapsed, reply.caught_up.events
    raise AssertionError("the stream ended before caught_up")


def wait_indexed(server, end: int) -> float:
    """Seconds until the server's run index covers the partition up to `end`."""
    import requests

    started = time.monotonic()
    while True:
        state = requests.get(server.url + "/readyz", timeout=10).json()["progress"]["run_index"]
        if state["covered"].get("0", 0) >= end:
            return time.monotonic() - started
        time.sleep(0.5)


def measure(broker, workdir: Path, topic: str, old_run: str, args, index: bool) -> dict:
    """Watch timings on a new server each run; with the index, after it covers the topic."""
    from support import RunningServer

    env = {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "KAFKA_PROGRESS_TOPIC": topic}
    if not index:
        env["KAFKA_RUN_INDEX_TOPIC"] = "off"
    label = "after (run index)" if index else "before (no index)"
    found: dict[str, list[float]] = {"first": [], "caught_up": [], "second": []}
    for run in range(args.runs):
        server = RunningServer(["--pool-size", "1"], env, workdir / f"server-{index}-{run}.log")
        try:
            server.wait_ready()
            if index:
                took = wait_indexed(server, args.others + 20)
                what = "indexed the topic" if run == 0 else "read the index topic"
                print(f"  {label}: server {run + 1} {what} in {took:.1f} s", flush=True)
            first, caught_up, events = time_history(server.grpc_target, old_run)
            assert events == 20, f"history had {events} events, not 20"
            _, second, _ = time_history(server.grpc_target, old_run)
        finally:
            server.stop()
        found["first"].append(first)
        found["caught_up"].append(caught_up)
        found["second"].append(second)
        print(f"  {label} run {run + 1}: first event {first:.2f} s, caught_up {caught_up:.2f} s"
              f"; second watch caught_up {second:.2f} s", flush=True)  # fmt: skip
    return {name: statistics.median(values) for name, values in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--others", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from services import KafkaBroker

    workdir = Path(tempfile.mkdtemp(prefix="progress-history-bench-"))
    broker = KafkaBroker(workdir / "kafka")
    broker.start()
    topic, old_run = "history-bench", f"old-{uuid.uuid4().hex[:8]}"
    try:
        started = time.monotonic()
        fill(broker, topic, old_run, args.others)
        print(f"produced {args.others + 20:,} events on one partition in "
              f"{time.monotonic() - started:.0f} s; the old run has 10 after the first half of "
              f"the other runs' events, 10 at the end", flush=True)  # fmt: skip
        before = measure(broker, workdir, topic, old_run, args, index=False)
        after = measure(broker, workdir, topic, old_run, args, index=True)
        for name, text in (("first", "first history event"), ("caught_up", "caught_up"),
                           ("second", "second watch's caught_up")):  # fmt: skip
            print(f"median of {args.runs}, {text}: before {before[name]:.2f} s, "
                  f"after {after[name]:.2f} s")  # fmt: skip
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
