"""Live-progress benchmark: prints figures, never passes or fails.

Starts a real Kafka broker (one KRaft node, the test suite's jars) and a real server
(`python -m kfp_viz_server` reading it), then for each scenario of concurrent gRPC watchers
produces events with kafka-python at a fixed rate (default 1,000 events/s) and
measures, per event and per watcher, the time from just before the producer's `send`
to the moment the gRPC client has the event decoded (produce → Kafka → server hub →
gRPC stream → client). Also the server's CPU share over the produce window (CPU
seconds of the server process tree / wall seconds; 100% = one core busy).

The watchers run in a separate client process (grpc.aio) so that decoding 100 streams
does not share the producer's interpreter. Several runs; every run is printed, then
the medians.

Scenarios (WATCHERSxRUNS): 1x1, one watcher; 100x1, 100 watchers of one run (every
event goes to all 100: 100,000 deliveries/s); 100x100, 100 watchers each of its own run,
the 1,000 events/s spread over the 100 runs.

Usage: python bench/progress_bench.py [--rate 1000] [--seconds 10] [--runs 3]
                                      [--scenarios 1x1,100x1,100x100] [--tick-ms 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "integration")]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its children still alive (the kernels), from /proc."""
    from support import process_tree

    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the client process: N watchers, reports latencies ---------------------------------


async def client(target: str, run_ids: list[str], watchers: int) -> None:
    import grpc
    from kfp_viz.pb import kfpviz_progress_pb2 as pb
    from kfp_viz.pb import kfpviz_progress_pb2_grpc as pb_grpc

    latencies: list[float] = []
    counts = [0] * watchers
    ready = asyncio.Event()
    caught_up = 0

    async def watch(index: int, channel: grpc.aio.Channel) -> None:
        nonlocal caught_up
        stub = pb_grpc.ProgressStub(channel)
        run_id = run_ids[index % len(run_ids)]
        request = pb.WatchProgressRequest(run_id=run_id, from_beginning=False)
        async for reply in stub.WatchProgress(request):
            now = time.time()
            if reply.HasField("caught_up"):
                caught_up += 1
                if caught_up == watchers:
                    ready.set()
            for streamed in reply.events:
                if streamed.event.kind == "log":
                    latencies.append(now - streamed.event.ts)
                    counts[index] += 1

    channels = [grpc.aio.insecure_channel(target) for _ in range(min(watchers, 10))]
    tasks = [asyncio.create_task(watch(i, channels[i % len(channels)])) for i in range(watchers)]
    await asyncio.wait_for(ready.wait(), 60)
    print("ready", flush=True)
    await asyncio.wait_for(asyncio.gather(*tasks), 600)  # each ends at the run's status
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    print(json.dumps({"latencies": latencies, "counts": counts, "client_cpu": cpu}), flush=True)


# -- the producer side -------------------------------------------------------------------


def burst_size(rate: int, tick: float) -> int:
    """Events the producer sends at once, every `tick` seconds, to make `rate` per second."""
    return max(1, round(rate * tick))


def produce(
    bootstrap: str, topic: str, run_ids: list[str], rate: int, seconds: float, tick: float
) -> dict:
    """Events at `rate` per second, `rate * tick` at a time, round-robin over the runs.

    Then each run's end. A tick of 10 ms sends bursts of 10 events at 1,000/s, the way
    steps whose SDK batches for a few ms arrive; a tick of 1 ms sends them one by one.
    """
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks=1)
    sent = dict.fromkeys(run_ids, 0)
    per_tick = burst_size(rate, tick)
    total = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        for _ in range(per_tick):
            run_id = run_ids[total % len(run_ids)]
            event = {"v": 1, "run_id": run_id, "node_id": "train", "kind": "log",
                     "message": f"event {total}", "ts": time.time()}  # fmt: skip
            producer.send(topic, key=run_id.encode(), value=json.dumps(event).encode())
            sent[run_id] += 1
            total += 1
        next_tick = start + (total / per_tick) * tick
        delay = next_tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    for run_id in run_ids:
        end = {"v": 1, "run_id": run_id, "kind": "status", "status": "Succeeded", "ts": time.time()}
        producer.send(topic, key=run_id.encode(), value=json.dumps(end).encode())
    producer.flush(30)
    producer.close()
    return sent


def scenario(
    bootstrap: str,
    topic: str,
    server,
    watchers: int,
    runs: int,
    rate: int,
    seconds: float,
    tick: float,
):
    run_ids = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(runs)]
    proc = subprocess.Popen(
        [sys.executable, __file__, "--client", server.grpc_target, ",".join(run_ids),
         str(watchers)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.stdout.readline().strip() == "ready", "the watchers did not start"
    cpu_before, wall_before = cpu_seconds(server.process.pid), time.monotonic()
    sent = produce(bootstrap, topic, run_ids, rate, seconds, tick)
    wall = time.monotonic() - wall_before
    cpu = cpu_seconds(server.process.pid) - cpu_before
    out, _ = proc.communicate(timeout=600)
    result = json.loads(out)
    latencies = result["latencies"]
    expected = [sent[run_ids[i % len(run_ids)]] for i in range(watchers)]
    assert result["counts"] == expected, f"lost events: {result['counts'][:5]} {expected[:5]}"
    return {
        "sent": sum(sent.values()),
        "rate": sum(sent.values()) / wall,
        "p50": percentile(latencies, 0.50) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "max": max(latencies) * 1000,
        "cpu": 100 * cpu / wall,
        "client_cpu": 100 * result["client_cpu"] / wall,
        "lagged": lagged_total(server),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--tick-ms", type=float, default=10.0,
        help="the producer sends rate*tick events at once every tick (1 = one by one)",
    )  # fmt: skip
    parser.add_argument(
        "--scenarios", default="1x1,100x1,100x100",
        help="WATCHERSxRUNS,...: 100x1 = 100 watchers of one run (fan-out), "
        "100x100 = each watcher its own run, the rate spread over the runs",
    )  # fmt: skip
    parser.add_argument("--client", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        target, run_ids, watchers = args.client
        asyncio.run(client(target, run_ids.split(","), int(watchers)))
        return

    from services import KafkaBroker
    from support import RunningServer

    workdir = Path(tempfile.mkdtemp(prefix="progress-bench-"))
    broker = KafkaBroker(workdir / "kafka")
    broker.start()
    topic = "bench-progress"
    warm(broker.bootstrap, topic)
    server = RunningServer(
        ["--pool-size", "1"],
        {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "KAFKA_PROGRESS_TOPIC": topic},
        workdir / "server.log",
    )
    try:
        server.wait_ready()
        wait_reading(server)
        burst = burst_size(args.rate, args.tick_ms / 1000)
        print(f"rate {args.rate} events/s, {burst} every {args.tick_ms:g} ms, for "
              f"{args.seconds:g} s, {args.runs} runs; "
              f"latency = producer send -> gRPC client; CPU = server process / wall")  # fmt: skip
        for spec in args.scenarios.split(","):
            watchers, nruns = (int(n) for n in spec.split("x"))
            label = f"{watchers} watcher(s) of {nruns} run(s)"
            runs = []
            for index in range(args.runs):
                r = scenario(
                    broker.bootstrap,
                    topic,
                    server,
                    watchers,
                    nruns,
                    args.rate,
                    args.seconds,
                    args.tick_ms / 1000,
                )
                runs.append(r)
                print(f"  {label}, run {index + 1}: {r['rate']:.0f} ev/s, "
                      f"p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, max {r['max']:.0f} ms, "
                      f"server CPU {r['cpu']:.0f}% (client {r['client_cpu']:.0f}%), "
                      f"lagged resyncs so far {r['lagged']:.0f}", flush=True)  # fmt: skip
            med = {k: statistics.median(r[k] for r in runs) for k in ("p50", "p99", "cpu")}
            print(f"{label}, median of {args.runs}: p50 {med['p50']:.1f} ms, "
                  f"p99 {med['p99']:.1f} ms, server CPU {med['cpu']:.0f}%  "
                  f"(targets: p50 <= 20 ms, p99 <= 100 ms)", flush=True)  # fmt: skip
    finally:
        server.stop()
        broker.stop()


def lagged_total(server) -> float:
    with urllib.request.urlopen(server.url + "/metrics", timeout=5) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith("kfp_viz_progress_lagged_resyncs_total "):
                return float(line.split()[1])
    return 0.0


def warm(bootstrap: str, topic: str) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap)
    producer.send(topic, key=b"warm-up", value=b"{}")
    producer.flush(30)
    producer.close()


def wait_reading(server) -> None:
    """Until the server's Kafka read is assigned (its metrics count the warm-up record)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with urllib.request.urlopen(server.url + "/metrics", timeout=5) as reply:
            if b"kfp_viz_progress_upstream_up 1.0" in reply.read():
                return
        time.sleep(0.2)


if __name__ == "__main__":
    main()
