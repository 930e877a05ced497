"""Tenancy benchmark: what AUTH=kubeflow adds to a publish and to a watch, caches warm.

Two servers side by side on the in-process bus, one with AUTH=none and one with
AUTH=kubeflow against a real kube-apiserver (the one tests/integration starts: token auth,
RBAC, two profiles as tests/integration/tenants.py sets them up). For each, after a warm-up
that fills the caches (the token's review, the reader's access decision, the run's owner):

- publish: one event per `POST /progress/<run>` on a kept-alive connection, sequential;
- watch: `GET /progress/<run>/events` until the `caught_up` marker of a run with 10 events.

Prints every run's p50 and p99 (milliseconds) and the medians over runs, and the p50 added
by auth (kubeflow minus none). The first, cold requests are timed apart: they pay the
TokenReview / SubjectAccessReview round trips.

Usage: python bench/auth_bench.py [--requests 2000] [--runs 3]
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


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def time_publishes(session, url: str, headers: dict, count: int) -> list[float]:
    event = json.dumps({"node_id": "train", "kind": "progress", "current": 1, "total": 10})
    times = []
    for _ in range(count):
        started = time.perf_counter()
        reply = session.post(url, data=event, headers=headers, timeout=30)
        times.append(time.perf_counter() - started)
        assert reply.status_code == 200, reply.text
    return times


def time_watches(session, url: str, headers: dict, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        with session.get(url, headers=headers, stream=True, timeout=30) as reply:
            assert reply.status_code == 200, reply.text
            for line in reply.iter_lines(decode_unicode=True):
                if line == "event: caught_up":
                    break
        times.append(time.perf_counter() - started)
    return times


def measure(server, writer: dict, reader: dict, count: int) -> dict[str, list[float]]:
    import requests

    session = requests.Session()
    run = str(uuid.uuid4())
    publish_url, watch_url = f"{server.url}/progress/{run}", f"{server.url}/progress/{run}/events"
    cold = {
        "publish (cold)": time_publishes(session, publish_url, writer, 1),
        "watch (cold)": time_watches(session, watch_url, reader, 1),
    }
    time_publishes(session, publish_url, writer, 9)  # the run has 10 events
    time_watches(session, watch_url, reader, 20)  # warm-up
    return {
        **cold,
        "publish": time_publishes(session, publish_url, writer, count),
        "watch": time_watches(session, watch_url, reader, max(count // 10, 20)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import tenants
    from services import KubeApiServer
    from support import RunningServer

    folder = Path(tempfile.mkdtemp(prefix="kfp-viz-auth-bench-"))
    with KubeApiServer(folder / "kube") as kube:
        cluster = tenants.set_up(kube, folder)
        token = cluster.step_token("tenant-a")
        modes = {
            "none": ([], {}, {}, {}),
            "kubeflow": (
                ["--auth", "kubeflow"],
                {"KUBECONFIG": str(cluster.server_kubeconfig)},
                {"Authorization": f"Bearer {token}"},
                {"kubeflow-userid": "alice"},
            ),
        }
        results: dict[str, dict[str, list[float]]] = {m: {} for m in modes}
        for run in range(args.runs):
            for mode, (flags, env, writer, reader) in modes.items():
                server = RunningServer(["--pool-size", "1", *flags], env,
                                       folder / f"{mode}-{run}.log")  # fmt: skip
                try:
                    server.wait_ready()
                    figures = measure(server, writer, reader, args.requests)
                finally:
                    server.stop()
                for name, times in figures.items():
                    p50, p99 = percentile(times, 0.5) * 1e3, percentile(times, 0.99) * 1e3
                    results[mode].setdefault(name, []).append(p50)
                    results[mode].setdefault(name + " p99", []).append(p99)
                    print(f"run {run + 1} {mode:8} {name:16} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms")
        print("\nmedians of the runs' p50 (ms):")
        print(f"{'':24}{'AUTH=none':>12}{'AUTH=kubeflow':>15}{'added':>10}")
        for name in results["none"]:
            none = statistics.median(results["none"][name])
            kubeflow = statistics.median(results["kubeflow"][name])
            print(f"{name:24}{none:12.2f}{kubeflow:15.2f}{kubeflow - none:10.2f}")


if __name__ == "__main__":
    main()
