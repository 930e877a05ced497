"""History-scan benchmark: how long the first watch of an old run takes. Prints figures only.

A run's history is read from its partition: from the start the first time a server is
asked (later watches start at the run's first offset, learned by that scan), to the
live position, through every other run's records in between. This measures that scan
on a real Kafka broker (one KRaft node): one partition holding a few events of an
"old" run, then OTHERS events of other runs (default 200,000, ~150 bytes each), then a
few more of the old run. A new server (so nothing is in its memory) is started after
the events were produced; the time is from sending WatchProgress(from_beginning) to
the `caught_up` marker, for the first watch and for a second one on the same server.
Several runs (a new server each); every run is printed, then the medians.

Usage: python bench/progress_history_bench.py [--others 200000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "integration")]


def fill(bootstrap: str, topic: str, old_run: str, others: int) -> None:
    """The old run's first events, `others` events of 1,000 other runs, its last events."""
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=2**18)

    def send(run_id: str, message: str) -> None:
        event = {"v": 1, "run_id": run_id, "node_id": "train", "kind": "log",
                 "message": message, "ts": time.time()}  # fmt: skip
        producer.send(topic, key=run_id.encode(), value=json.dumps(event).encode())

    for i in range(10):
        send(old_run, f"early {i}")
    for i in range(others):
        send(f"other-{i % 1000:04d}", f"event {i} of another run")
    for i in range(10):
        send(old_run, f"late {i}")
    producer.flush(120)
    producer.close()


def time_history(target: str, run_id: str) -> tuple[float, int]:
    """Seconds from the request to `caught_up`, and the history events it counted."""
    import grpc
    from kfp_viz.pb import kfpviz_progress_pb2 as pb
    from kfp_viz.pb import kfpviz_progress_pb2_grpc as pb_grpc

    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.ProgressStub(channel)
        started = time.monotonic()
        call = stub.WatchProgress(pb.WatchProgressRequest(run_id=run_id, from_beginning=True))
        for reply in call:
            if reply.HasField("caught_up"):
                elapsed = time.monotonic() - started
                call.cancel()
                return elapsed, reply.caught_up.events
    raise AssertionError("the stream ended before caught_up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--others", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from services import KafkaBroker
    from support import RunningServer

    workdir = Path(tempfile.mkdtemp(prefix="progress-history-bench-"))
    broker = KafkaBroker(workdir / "kafka")
    broker.start()
    topic, old_run = "history-bench", f"old-{uuid.uuid4().hex[:8]}"
    try:
        started = time.monotonic()
        fill(broker.bootstrap, topic, old_run, args.others)
        print(f"produced {args.others + 20} events on one partition in "
              f"{time.monotonic() - started:.1f} s; the old run has 10 at the start, "
              f"10 at the end")  # fmt: skip
        firsts, seconds = [], []
        for index in range(args.runs):
            server = RunningServer(
                ["--pool-size", "1"],
                {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "KAFKA_PROGRESS_TOPIC": topic},
                workdir / f"server-{index}.log",
            )
            try:
                server.wait_ready()
                first, events = time_history(server.grpc_target, old_run)
                assert events == 20, f"history had {events} events, not 20"
                second, _ = time_history(server.grpc_target, old_run)
            finally:
                server.stop()
            firsts.append(first)
            seconds.append(second)
            print(f"  run {index + 1}: first watch {first:.2f} s "
                  f"({(args.others + 20) / first:,.0f} records/s), second {second:.2f} s",
                  flush=True)  # fmt: skip
        print(f"median of {args.runs}: first watch of the old run {statistics.median(firsts):.2f} s"
              f", second {statistics.median(seconds):.2f} s, "
              f"through {args.others:,} records of other runs")  # fmt: skip
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
