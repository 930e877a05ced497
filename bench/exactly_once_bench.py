"""Exactly-once benchmark: what naming batches costs, and how soon a restarted server can
judge a retry. Prints figures only.

1. Publishing over HTTP into the in-process bus: BATCHES posts of 500 events each, as the
   SDK's transport posts them, without batch headers (before: applied as they come) and with
   them (after: each checked against the ledger and its records marked). Events a second,
   one client.
2. A server started on a Kafka topic holding RECORDS records produced just before (all in
   the window it reads at start, --progress-dedupe-window): seconds from the server's
   `ready` to `progress.dedupe.recovered`, i.e. until a retried batch can be judged (a first
   attempt never waits), and the records read a second.

Every run is printed, then the medians. Needs the Kafka jars `./scripts/test` fetches.

Usage: python bench/exactly_once_bench.py [--batches 40] [--records 1000000] [--runs 3]
       [--only publishing|recovery]
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
BATCH = 500


def publish_rate(server, batches: int, named: bool) -> float:
    """Events a second posted in `batches` batches of BATCH events over one connection."""
    import requests

    run = f"bench-{uuid.uuid4().hex[:8]}"
    sender = uuid.uuid4().hex
    session = requests.Session()
    bodies = [
        json.dumps([{"node_id": "s", "kind": "progress", "current": b * BATCH + i,
                     "total": batches * BATCH} for i in range(BATCH)])
        for b in range(batches)
    ]  # fmt: skip
    started = time.perf_counter()
    for sequence, body in enumerate(bodies, 1):
        headers = {"KFP-Viz-Sender": sender, "KFP-Viz-Sequence": str(sequence)} if named else {}
        reply = session.post(f"{server.url}/progress/{run}", data=body, headers=headers)
        assert reply.status_code == 200, reply.text
    return batches * BATCH / (time.perf_counter() - started)


def publishing(workdir: Path, args) -> None:
    from support import RunningServer

    rates: dict[bool, list[float]] = {False: [], True: []}
    for run in range(args.runs):
        server = RunningServer(["--pool-size", "1"], {}, workdir / f"bus-{run}.log")
        try:
            server.wait_ready()
            publish_rate(server, 4, named=True)  # warm up
            for named in (False, True):
                rates[named].append(publish_rate(server, args.batches, named))
        finally:
            server.stop()
        print(f"  run {run + 1}: unnamed {rates[False][-1]:,.0f} events/s, "
              f"named {rates[True][-1]:,.0f} events/s", flush=True)  # fmt: skip
    print(f"median of {args.runs}, HTTP publish into the bus, {BATCH}-event batches: "
          f"unnamed {statistics.median(rates[False]):,.0f} events/s, named "
          f"{statistics.median(rates[True]):,.0f} events/s")  # fmt: skip


def fill(broker, topic: str, records: int) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    admin.close()
    subprocess.run(
        ["java", "-Xmx256m", "-cp", broker.classpath, str(ROOT / "bench" / "FillTopic.java"),
         broker.bootstrap, topic, str(records), "1000", "0"],
        check=True, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def recovery(workdir: Path, args) -> None:
    import requests
    from services import KafkaBroker
    from support import RunningServer

    broker = KafkaBroker(workdir / "kafka")
    broker.start()
    try:
        topic = "dedupe-bench"
        started = time.monotonic()
        fill(broker, topic, args.records)
        print(f"produced {args.records:,} records in {time.monotonic() - started:.0f} s",
              flush=True)  # fmt: skip
        env = {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "KAFKA_PROGRESS_TOPIC": topic,
               "KAFKA_RUN_INDEX_TOPIC": "off"}  # fmt: skip
        took: list[float] = []
        for run in range(args.runs):
            launched = time.monotonic()
            server = RunningServer(["--pool-size", "1"], env, workdir / f"kafka-{run}.log")
            try:
                server.wait_ready(full=False)
                ready = time.monotonic()
                while True:
                    state = requests.get(server.url + "/readyz", timeout=10).json()
                    dedupe = state["progress"]["dedupe"]
                    if dedupe["recovered"]:
                        break
                    time.sleep(0.1)
                took.append(time.monotonic() - ready)
                read = dedupe["recovered_records"]
            finally:
                server.stop()
            whole = took[-1] + ready - launched
            print(f"  run {run + 1}: recovered {read:,} records {took[-1]:.1f} s after ready, "
                  f"{whole:.1f} s after launch ({read / whole:,.0f} a second at most)",
                  flush=True)  # fmt: skip
        print(f"median of {args.runs}, a restarted server judges retries "
              f"{statistics.median(took):.1f} s after ready, with {args.records:,} records "
              "in its window")  # fmt: skip
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=("publishing", "recovery"), help="one part only")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="exactly-once-bench-"))
    if args.only != "recovery":
        publishing(workdir, args)
    if args.only != "publishing":
        recovery(workdir, args)


if __name__ == "__main__":
    main()
