"""Idle memory by pool size: prints figures, never passes or fails.

KFP's pod requests 500Mi and sets no limit; an operator who swaps only the image keeps it.
This starts a real server (`python -m kfp_viz_server`) for each pool size, waits until every kernel
is idle, lets the warm-up settle, and sums two figures over the server, the kernel factory
and every kernel:

- PSS (proportional set size): each shared page counted once across the processes, close
  to what the container's memory cgroup charges;
- RSS: what `top` shows, shared pages counted in every process.

Medians of --runs runs per pool size, each run printed so the spread is visible.

Usage: python bench/memory_bench.py [--pools 2,4,8] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests" / "integration")]
from render_bench import Server  # noqa: E402
from support import memory_of, process_tree  # noqa: E402

SETTLE_SECONDS = 3.0


def measure(pool: int) -> tuple[int, int, int]:
    """(PSS, RSS, processes) of an idle server with `pool` kernels."""
    server = Server(pool_size=pool, max_queue=4 * pool)
    try:
        server.wait(full=True)
        time.sleep(SETTLE_SECONDS)
        pids = process_tree(server.process.pid)
        pss, rss = memory_of(pids)
        return pss, rss, len(pids)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", default="2,4,8")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    mib = 2**20
    print(f"idle memory, medians of {args.runs} runs (server + kernel factory + kernels)")
    print(f"{'pool':>5} {'PSS MiB':>8} {'RSS MiB':>8}  runs (PSS)")
    for pool in (int(p) for p in args.pools.split(",")):
        runs = [measure(pool) for _ in range(args.runs)]
        pss = statistics.median(r[0] for r in runs) / mib
        rss = statistics.median(r[1] for r in runs) / mib
        spread = ", ".join(f"{r[0] / mib:.0f}" for r in runs)
        print(f"{pool:>5} {pss:>8.0f} {rss:>8.0f}  {spread}", flush=True)


if __name__ == "__main__":
    main()
