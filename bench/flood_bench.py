"""Flood benchmark: prints figures, never passes or fails.

Replays the floods of issue 11 against a real server, a fresh one for each flood, and prints
the server's resident memory before and after (after: once the flood is answered and one
second has passed) and the latency of `GET /` (the kubelet's liveness probe, sent every
20 ms while the flood lasts): p50 and max. Targets: max under 500 ms, growth under 100 MB.

- `print`: a custom visualization printing 100 KB lines in a loop, with a 10 s timeout.
- `multipart`: three 30 MB multipart forms at once, `arguments` a list of ten million `{}`.
- `urlencoded`: three 28 MB urlencoded forms at once (`arguments` percent-encoded text).
- `events`: 30,000 progress events of 16 KB, posted 200 at a time.
- `watchers`: 100,000 events in the bus, then 200 SSE clients opening a run that has none.

As root, the server runs as uid 1000 without capabilities, as in KFP's pod; the probe runs
in a process of its own (tests/integration/support.py: RunningServer, liveness_probe).
`--root` runs another source tree with this environment (an older commit, for before/after).

Usage: python bench/flood_bench.py [--runs 3] [--floods print,multipart,...] [--root DIR]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from support import RunningServer, liveness_probe  # noqa: E402  (the test harness's server)

MB = 2**20


def start(source: Path, log: Path) -> RunningServer:
    """A fresh server (pool 1, custom code on), as uid 1000 when we are root."""
    flags = ["--pool-size", "1", "--allow-custom-visualizations"]
    server = RunningServer(flags, {}, log, unprivileged=os.getuid() == 0, source=source)
    server.wait_ready()
    return server


# -- floods ------------------------------------------------------------------------------


def flood_print(server: RunningServer) -> None:
    code = json.dumps({"code": ["while True:", "    print('x' * 100_000)"]})
    requests.post(
        server.url + "/", data={"type": "custom", "arguments": code},
        headers={"X-Visualization-Timeout": "10"}, timeout=120,
    )  # fmt: skip


def _three(server: RunningServer, body: bytes, content_type: str) -> None:
    def send(_: int) -> None:
        requests.post(
            server.url + "/", data=body, headers={"Content-Type": content_type}, timeout=300
        )

    with concurrent.futures.ThreadPoolExecutor(3) as clients:
        list(clients.map(send, range(3)))


def flood_multipart(server: RunningServer) -> None:
    head = (
        "--b\r\nContent-Disposition: form-data; name=type\r\n\r\ntest\r\n"
        "--b\r\nContent-Disposition: form-data; name=source\r\n\r\ns\r\n"
        "--b\r\nContent-Disposition: form-data; name=arguments\r\n\r\n"
    )
    body = head.encode() + b"[" + b"{}," * 9_999_999 + b"{}]\r\n--b--\r\n"
    _three(server, body, "multipart/form-data; boundary=b")


def flood_urlencoded(server: RunningServer) -> None:
    body = b"type=test&source=s&arguments=%7B%22a%22%3A%22" + b"%C3%A9" * 4_600_000
    _three(server, body, "application/x-www-form-urlencoded")


def flood_events(server: RunningServer) -> None:
    event = {"kind": "log", "node_id": "train", "message": "m" * 16_000}
    for batch in range(150):
        requests.post(f"{server.url}/progress/run-{batch % 7}", data=json.dumps([event] * 200),
                      timeout=60)  # fmt: skip


def fill_bus(server: RunningServer) -> None:
    event = {"kind": "progress", "node_id": "n", "current": 1, "total": 2}
    for batch in range(10):
        requests.post(f"{server.url}/progress/busy-{batch}", data=json.dumps([event] * 10_000),
                      timeout=60)  # fmt: skip


def flood_watchers(server: RunningServer) -> None:
    def watch(_: int) -> None:
        with requests.get(
            f"{server.url}/progress/new-run/events", stream=True, timeout=(10, 300)
        ) as reply:
            for line in reply.iter_lines(decode_unicode=True):
                if line.startswith("event: caught_up"):
                    return

    with concurrent.futures.ThreadPoolExecutor(200) as clients:
        list(clients.map(watch, range(200)))


FLOODS: dict[
    str, tuple[Callable[[RunningServer], None] | None, Callable[[RunningServer], None]]
] = {
    "print": (None, flood_print),
    "multipart": (None, flood_multipart),
    "urlencoded": (None, flood_urlencoded),
    "events": (None, flood_events),
    "watchers": (fill_bus, flood_watchers),
}


def run_once(source: Path, name: str) -> dict[str, float]:
    prepare, flood = FLOODS[name]
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        server = start(source, Path(log.name))
        try:
            if prepare is not None:
                prepare(server)
            time.sleep(1)
            before = server.rss()
            started = time.monotonic()
            with liveness_probe(server) as latencies:
                flood(server)
            seconds = time.monotonic() - started
            time.sleep(1)
            after = server.rss()
        finally:
            server.stop()
    return {
        "before": before / MB, "after": after / MB, "p50": statistics.median(latencies) * 1000,
        "max": max(latencies) * 1000, "seconds": seconds,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--floods", default=",".join(FLOODS))
    parser.add_argument("--root", type=Path, default=ROOT, help="source tree to run")
    args = parser.parse_args()
    print(f"source: {args.root}; medians of {args.runs} run(s), each run in brackets")
    print(f"{'flood':<11} | {'RSS before':>10} | {'RSS after':>9} | {'growth':>7} | "
          f"{'GET / p50':>9} | {'GET / max':>9}")  # fmt: skip
    for name in args.floods.split(","):
        runs = [run_once(args.root, name) for _ in range(args.runs)]

        def med(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        growth = [r["after"] - r["before"] for r in runs]
        each = {key: ", ".join(f"{r[key]:.0f}" for r in runs) for key in ("max", "seconds")}
        print(
            f"{name:<11} | {med('before'):>8.0f}MB | {med('after'):>7.0f}MB | "
            f"{statistics.median(growth):>5.0f}MB | {med('p50'):>7.1f}ms | {med('max'):>7.0f}ms"
            f"   (growth {', '.join(f'{g:.0f}' for g in growth)} MB; max {each['max']} ms; "
            f"flood {each['seconds']} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
