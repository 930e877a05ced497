"""Render-service benchmark: prints figures, never passes or fails.

Starts real servers (`python -m kfp_viz_server`, pool of 8 by default, custom code
allowed) on loopback and measures, over several runs, reporting medians:

- startup to ready: process start until /readyz is 200, and until every kernel is idle;
- latency of the trivial `test` type, one client, keep-alive: p50 and p99;
- pages/s of `test` with 8 concurrent keep-alive clients;
- wall time of 8 concurrent one-second visualizations (custom `time.sleep(1)`);
- size of the trivial page;
- GET / latency while every kernel is busy and the queue is full.

Each figure is printed next to the stock server's (measured on a machine like
this one) and the target from the render-service issue.

Usage: python bench/render_bench.py [--pool-size 8] [--runs 3] [--seconds 8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
FORM_TEST = urlencode({"type": "test", "source": "gs://bench/data.csv", "arguments": "{}"})
HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


def custom_form(*lines: str) -> str:
    return urlencode({"type": "custom", "arguments": json.dumps({"code": list(lines)})})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server process for the benchmark."""

    def __init__(self, pool_size: int, max_queue: int) -> None:
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kfp_viz_server", "--host", "127.0.0.1",
             "--http-port", str(self.port), "--grpc-port", str(free_port()),
             "--pool-size", str(pool_size), "--max-queue", str(max_queue),
             "--allow-custom-visualizations", "--log-level", "WARNING"],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def readyz(self) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("GET", "/readyz")
            reply = connection.getresponse()
            return reply.status, json.loads(reply.read())
        finally:
            connection.close()

    def wait(self, full: bool, timeout: float = 120.0) -> float:
        """Seconds since start when ready (full: every kernel idle)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status, state = self.readyz()
            except OSError:
                time.sleep(0.01)
                continue
            kernels = state["kernels"]
            if status == 200 and (not full or kernels["idle"] == kernels["size"]):
                return time.monotonic() - self.started
            time.sleep(0.01)
        raise RuntimeError("server did not become ready")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)


def post(connection: http.client.HTTPConnection, body: str) -> tuple[int, bytes]:
    connection.request("POST", "/", body, HEADERS)
    reply = connection.getresponse()
    return reply.status, reply.read()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure_latency(port: int, count: int) -> tuple[float, float, int]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(20):  # warm every kernel's first-render path
        post(connection, FORM_TEST)
    times, size = [], 0
    for _ in range(count):
        started = time.perf_counter()
        status, body = post(connection, FORM_TEST)
        times.append(time.perf_counter() - started)
        assert status == 200, status
        size = len(body)
    connection.close()
    return percentile(times, 0.5), percentile(times, 0.99), size


def measure_throughput(port: int, clients: int, seconds: float) -> float:
    stop_at = time.monotonic() + seconds
    counts = [0] * clients

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop_at:
            status, _ = post(connection, FORM_TEST)
            assert status == 200, status
            counts[index] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def measure_concurrent_sleeps(port: int, count: int) -> float:
    body = custom_form("import time", "time.sleep(1)")
    results: list[int] = []

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        results.append(post(connection, body)[0])
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(count)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * count, results
    return time.monotonic() - started


def measure_liveness_under_load(server: Server, pool_size: int, max_queue: int) -> list[float]:
    body = custom_form("import time", "end = time.time() + 4", "while time.time() < end: pass")
    load = [
        threading.Thread(
            target=lambda: post(
                http.client.HTTPConnection("127.0.0.1", server.port, timeout=60), body
            )
        )
        for _ in range(pool_size + max_queue)
    ]
    for thread in load:
        thread.start()
    while server.readyz()[1]["queue"]["depth"] < max_queue:
        time.sleep(0.01)
    times = []
    for _ in range(20):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        started = time.perf_counter()
        connection.request("GET", "/")
        reply = connection.getresponse()
        assert reply.read() == b"alive"
        times.append(time.perf_counter() - started)
        connection.close()
        time.sleep(0.05)
    for thread in load:
        thread.join()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool-size", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="per throughput run")
    parser.add_argument("--requests", type=int, default=300, help="per latency run")
    args = parser.parse_args()
    pool, queue = args.pool_size, 4 * args.pool_size
    figures: dict[str, list[float]] = {}

    def note(name: str, value: float) -> None:
        figures.setdefault(name, []).append(value)

    for run in range(args.runs):
        server = Server(pool, queue)
        try:
            note("first kernel ready (s)", server.wait(full=False))
            note("all kernels ready (s)", server.wait(full=True))
            p50, p99, size = measure_latency(server.port, args.requests)
            note("test p50 (ms)", p50 * 1000)
            note("test p99 (ms)", p99 * 1000)
            note("trivial page (KB)", size / 1024)
            note("pages/s, 8 clients", measure_throughput(server.port, 8, args.seconds))
            server.wait(full=True)
            note("8 x 1 s custom, wall (s)", measure_concurrent_sleeps(server.port, pool))
            server.wait(full=True)
            liveness = measure_liveness_under_load(server, pool, queue)
            note("GET / under full load p50 (ms)", statistics.median(liveness) * 1000)
            note("GET / under full load max (ms)", max(liveness) * 1000)
        finally:
            server.stop()
        print(f"run {run + 1}/{args.runs} done", file=sys.stderr)

    stock = {
        "test p50 (ms)": 315, "pages/s, 8 clients": 3.1,
        "8 x 1 s custom, wall (s)": 10.5, "trivial page (KB)": 280,
    }  # fmt: skip
    target = {
        "test p50 (ms)": "<= 40", "pages/s, 8 clients": ">= 25",
        "8 x 1 s custom, wall (s)": "<= 1.5", "trivial page (KB)": "<= 30",
        "all kernels ready (s)": "<= 15", "GET / under full load max (ms)": "< 100",
    }  # fmt: skip
    cpus = len(os.sched_getaffinity(0))
    print(f"\nkfp-viz-server render benchmark: pool {pool}, {cpus} CPUs, {args.runs} runs (median)")
    print(f"{'figure':34} {'median':>9} {'runs':>26} {'stock':>7} {'vs stock':>9} {'target':>7}")
    for name, values in figures.items():
        median = statistics.median(values)
        runs = " ".join(f"{v:.1f}" if v >= 10 else f"{v:.2f}" for v in values)
        ratio = ""
        if name in stock:
            better = stock[name] / median if name != "pages/s, 8 clients" else median / stock[name]
            ratio = f"{better:.1f}x"
        shown = f"{median:.1f}" if median >= 10 else f"{median:.2f}"
        print(
            f"{name:34} {shown:>9} {runs:>26} {stock.get(name, ''):>7} {ratio:>9} "
            f"{target.get(name, ''):>7}"
        )


if __name__ == "__main__":
    main()
