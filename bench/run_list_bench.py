"""Run list benchmark: prints figures, never passes or fails.

What one `GET /progress/runs` costs the server, by the number of runs the hub's run table
holds: the query parsed, the runs filtered (a slice at a time, the event loop getting its
turn between slices), the caller's namespaces decided (one answer per namespace, cached
answers as a warm `AUTH=kubeflow` gives them), the newest 200 picked (what the run list page
asks every 3 s) and the reply written as JSON; and the longest the loop waited meanwhile.
Both in CPU time of the loop's thread, so other load on the machine does not count.
Runs are spread over 50 namespaces; the reader may read 5.

Cases: `open` (AUTH=none, no filter), `open search` (a part of the id that 1 run in 100
holds), `open status` (failed runs only), `tenant` (a reader of 5 namespaces).

Usage: python bench/run_list_bench.py [--runs 5] [--sizes 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Iterable

from kfp_viz.events import Cursor, parse_event
from kfp_viz_server.auth import Caller, OpenTenancy
from kfp_viz_server.progress.run_list import RunQuery, readable_runs
from kfp_viz_server.progress.runs import RunTable

NAMESPACES = [f"team-{i}" for i in range(50)]


class WarmTenancy(OpenTenancy):
    """Decisions already cached: a reader of the first five namespaces."""

    async def readable(self, caller: Caller, namespaces: Iterable[str]) -> set[str]:
        return set(namespaces) & set(NAMESPACES[:5])


def table(size: int) -> RunTable:
    runs = RunTable(limit=size)
    for i in range(size):
        run_id = f"run-{i:06d}-{'find' if i % 100 == 0 else 'pass'}"
        namespace = NAMESPACES[i % len(NAMESPACES)]
        fields = {"kind": "status", "status": "Failed" if i % 10 == 0 else "Succeeded"}
        for offset, event in enumerate(({"node_id": "train", "kind": "log", "message": "m"},
                                        fields)):  # fmt: skip
            parsed = parse_event({"v": 1, "run_id": run_id, "namespace": namespace,
                                  "ts": 1000.0 + i + offset, **event})  # fmt: skip
            runs.observe(parsed, Cursor(0, 2 * i + offset))
    return runs


CASES = {
    "open": (OpenTenancy(), {}),
    "open search": (OpenTenancy(), {"search": "find"}),
    "open status": (OpenTenancy(), {"status": "Failed"}),
    "tenant": (WarmTenancy(), {}),
}


async def one(runs: RunTable, tenancy: OpenTenancy, given: dict[str, str]) -> tuple[float, float]:
    """(seconds the request took, the longest the loop was held meanwhile), the second seen
    by a task that asks for a turn of the loop again and again, as `GET /` would."""
    done, longest = False, 0.0

    async def other_task() -> None:
        nonlocal longest
        last = time.thread_time()
        while not done:
            await asyncio.sleep(0)
            now = time.thread_time()
            longest, last = max(longest, now - last), now

    watcher = asyncio.create_task(other_task())
    await asyncio.sleep(0)
    started = time.thread_time()
    query = RunQuery.parse(lambda name: [given[name]] if name in given else [])
    query = RunQuery(query.search, query.statuses, query.namespace, 200)
    found, total = await readable_runs(runs, tenancy, Caller("u"), query)
    json.dumps({"runs": [run.to_dict() for run in found], "total": total})
    took = time.thread_time() - started
    done = True
    await watcher
    return took, longest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    print(f"one GET /progress/runs (newest 200): medians of {args.runs} (all runs), CPU ms")
    print("                         took            the loop held at most")
    for size in (int(s) for s in args.sizes.split(",")):
        runs = table(size)
        for name, (tenancy, given) in CASES.items():
            found = [asyncio.run(one(runs, tenancy, given)) for _ in range(args.runs)]
            took, held = ([1000 * f[i] for f in found] for i in (0, 1))
            print(
                f"{size:>7,} runs  {name:<12} {statistics.median(took):7.1f}"
                f" ({', '.join(f'{t:.1f}' for t in took)})"
                f"  {statistics.median(held):6.1f} ({', '.join(f'{t:.1f}' for t in held)})"
            )


if __name__ == "__main__":
    main()
