"""Live page benchmark: prints figures, never passes or fails.

A real server (in-process bus) holds a run with 20 series of 10,000 points each (10 charts of
two related series, `mK` and `val_mK`, one `metric` event per step carrying all 20); headless
Chromium (Debian's, via Playwright) opens the live page with a viewport tall enough that every
chart is on screen (the worst case: charts off screen are not redrawn until scrolled to), reads
the history from the server's event stream, then the bench publishes more events at 100/s (one
`POST /progress/<run>` each) for the streaming window while the page measures itself:

- frames: the time between animation frames (requestAnimationFrame), max and 99th percentile,
  and the long animation frames Chromium reports (PerformanceObserver `long-animation-frame`,
  every frame of 50 ms or more, with its duration). Target: no frame over 50 ms.
- load: from navigation until every chart has drawn all 20,000 of its points.
- page weight: the bytes of `GET /progress/<run>` (the page with uPlot and its own script and
  style inlined; the history is not in it, it streams) and, for reference, gzip'd.

Several runs (a fresh page each, same server); every run is printed, then the medians.

Usage: python bench/live_page_bench.py [--runs 3] [--seconds 10] [--rate 100]
                                       [--points 10000] [--height 3000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from browser import wait_in  # noqa: E402
from live_run import launch_loopback_chromium  # noqa: E402  (the tests' browser)
from playwright.sync_api import sync_playwright  # noqa: E402
from support import RunningServer  # noqa: E402  (the test harness's server)

SERIES = 20
TRACED = ["devtools.timeline", "disabled-by-default-devtools.timeline"]
"""What Chromium's trace records: the second holds every task (RunTask, with its CPU time)."""
NO_FRAME = {"duration": 0.0, "script": 0.0, "render": 0.0, "layout": 0.0}
BATCH = 1000

MEASURE = """() => {
  window.__frames = []; window.__loaf = [];
  let last = performance.now();
  const tick = t => { window.__frames.push(t - last); last = t; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  new PerformanceObserver(list => list.getEntries().forEach(e => window.__loaf.push({
    duration: e.duration,
    script: e.scripts.reduce((n, s) => n + s.duration, 0),
    render: e.renderStart ? e.startTime + e.duration - e.renderStart : 0,
    layout: e.styleAndLayoutStart ? e.startTime + e.duration - e.styleAndLayoutStart : 0,
    blocking: e.blockingDuration,
    scripts: e.scripts.map(s => `${s.invoker} ${s.sourceFunctionName} ${Math.round(s.duration)}ms`),
  }))).observe({type: "long-animation-frame"});
}"""


RESET = """() => {
  window.__frames = []; window.__loaf = [];
  Object.assign(window.kfpVizLive.stats,
                {frames: 0, drawMs: 0, maxDrawMs: 0, events: 0, applyMs: 0, maxApplyMs: 0,
                 maxDataMs: 0, maxPlotMs: 0});
}"""


def metrics(step: int) -> dict[str, float]:
    out = {}
    for k in range(SERIES // 2):
        value = 1 / (1 + step / 500) + 0.05 * ((step * (k + 3)) % 17) / 17
        out[f"m{k}"] = round(value, 6)
        out[f"val_m{k}"] = round(value * 1.1, 6)
    return out


def event(step: int) -> dict:
    return {"node_id": "train", "kind": "metric", "metrics": metrics(step), "current": step}


def preload(server: RunningServer, run: str, points: int) -> None:
    with requests.Session() as session:
        for start in range(0, points, BATCH):
            batch = [event(step) for step in range(start, min(points, start + BATCH))]
            reply = session.post(f"{server.url}/progress/{run}", json=batch, timeout=60)
            reply.raise_for_status()


def stream(server: RunningServer, run: str, first: int, rate: float, seconds: float) -> int:
    """One event per POST at `rate` per second; returns how many were sent."""
    sent, started = 0, time.monotonic()
    with requests.Session() as session:
        while time.monotonic() - started < seconds:
            session.post(f"{server.url}/progress/{run}", json=event(first + sent), timeout=30)
            sent += 1
            pause = started + sent / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
    return sent


def main_thread_tasks(trace: bytes) -> list[tuple[float, float]]:
    """(wall ms, CPU ms) of every task the page's main thread ran while traced. On a loaded
    machine a task's wall time includes the time the OS gave other processes; its CPU time
    (the trace's thread duration) is what the page itself cost."""
    events = json.loads(trace)["traceEvents"]
    main = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("name") == "thread_name" and e.get("args", {}).get("name") == "CrRendererMain"
    }
    return [
        (e["dur"] / 1000, e.get("tdur", e["dur"]) / 1000)
        for e in events
        if e.get("ph") == "X" and e.get("name") == "RunTask" and (e["pid"], e["tid"]) in main
    ]


def print_longest_tasks(trace: bytes, count: int = 3) -> None:
    """The main thread's longest tasks by CPU time, with what took longest inside each."""
    events = [e for e in json.loads(trace)["traceEvents"] if e.get("ph") == "X" and "tdur" in e]
    tasks = sorted((e for e in events if e["name"] == "RunTask"), key=lambda e: -e["tdur"])
    for task in tasks[:count]:
        inside = [
            e for e in events
            if e["tid"] == task["tid"] and e is not task
            and task["ts"] <= e["ts"] <= task["ts"] + task["dur"]
        ]  # fmt: skip
        parts = ", ".join(
            f"{e['name']} {e['tdur'] / 1000:.1f}"
            for e in sorted(inside, key=lambda e: -e["tdur"])[:6]
        )
        print(f"  task {task['tdur'] / 1000:.1f} ms CPU ({task['dur'] / 1000:.1f} wall): {parts}")


def wait_drawn(page, events: int, points: int, timeout: float) -> None:
    """Until the page has applied `events` metric events and its charts show `points` points
    (0: do not wait for charts, e.g. off screen in a short viewport, which are not drawn)."""
    wait_in(
        page,
        "([events, points]) => window.kfpVizLive.runs[0].count >= events &&"
        " [...document.querySelectorAll('.chart')]"
        ".reduce((n, c) => n + (+c.dataset.points || 0), 0) >= points",
        arg=[events, points],
        timeout=timeout,
        polling=100,
    )


def run_once(chromium, server: RunningServer, args: argparse.Namespace) -> dict[str, float]:
    run = f"bench-{uuid.uuid4().hex[:10]}"
    preload(server, run, args.points)
    context = chromium.new_context(viewport={"width": 1280, "height": args.height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    started = time.monotonic()
    page.goto(f"{server.url}/progress/{run}")
    page.evaluate(MEASURE)
    total = SERIES * args.points
    wait_drawn(page, args.points, total if args.height >= 3000 else 0, 300_000)
    load = time.monotonic() - started
    load_frames = page.evaluate("() => Math.max(...window.__frames)")
    page.evaluate(RESET)
    chromium.start_tracing(page=page, categories=TRACED)
    sent = stream(server, run, args.points, args.rate, args.seconds)
    wait_drawn(
        page, args.points + sent, SERIES * sent + (total if args.height >= 3000 else 0), 60_000
    )
    trace = chromium.stop_tracing()
    tasks = main_thread_tasks(trace)
    if args.verbose:
        print_longest_tasks(trace)
    frames = page.evaluate("() => window.__frames")
    loaf = page.evaluate("() => window.__loaf")
    stats = page.evaluate("() => window.kfpVizLive.stats")
    longest = max(loaf, key=lambda e: e["duration"], default=NO_FRAME)
    if args.verbose:
        for frame in sorted(loaf, key=lambda e: -e["duration"])[:3]:
            print(f"  long frame {frame['duration']:.0f} ms: {frame['scripts']}")
    context.close()
    if errors:
        raise SystemExit(f"the page raised: {errors}")
    frames.sort()
    return {
        "load s": load,
        "load max frame ms": load_frames,
        "events sent": sent,
        "max frame ms": frames[-1],
        "p99 frame ms": frames[int(0.99 * (len(frames) - 1))],
        "median frame ms": statistics.median(frames),
        "frames >= 50 ms": len(loaf),
        "main-thread tasks >= 50 ms of CPU": sum(cpu >= 50 for _, cpu in tasks),
        "longest task's CPU ms": max((cpu for _, cpu in tasks), default=0.0),
        "longest task's wall ms": max((wall for wall, _ in tasks), default=0.0),
        "longest long frame ms": longest["duration"],
        "  its script ms": longest["script"],
        "  its rendering ms": longest["render"],
        "  its style and layout ms": longest["layout"],
        "max draw ms": stats["maxDrawMs"],
        "mean draw ms": stats["drawMs"] / max(1, stats["frames"]),
        "max apply ms": stats["maxApplyMs"],
        "max series prep ms": stats["maxDataMs"],
        "max uPlot ms": stats["maxPlotMs"],
    }


def weight(server: RunningServer) -> tuple[int, int]:
    body = requests.get(f"{server.url}/progress/weight-check", timeout=30).content
    return len(body), len(gzip.compress(body))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--height", type=int, default=3000, help="viewport height (px)")
    parser.add_argument("--verbose", action="store_true", help="the longest frames' scripts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        server = RunningServer(["--pool-size", "1"], {}, Path(folder) / "server.log")
        try:
            server.wait_ready(full=False)
            raw, packed = weight(server)
            print(f"page weight: {raw:,} bytes ({packed:,} gzip'd)")
            print(
                f"{SERIES} series x {args.points:,} points, then {args.rate:g} events/s for "
                f"{args.seconds:g} s; viewport 1280 x {args.height}"
            )
            results = []
            with sync_playwright() as driver:
                chromium = launch_loopback_chromium(driver)
                for index in range(args.runs):
                    result = run_once(chromium, server, args)
                    results.append(result)
                    print(
                        f"run {index + 1}: " + ", ".join(f"{k} {v:.1f}" for k, v in result.items())
                    )
                chromium.close()
            print("medians: " + ", ".join(
                f"{k} {statistics.median(r[k] for r in results):.1f}" for k in results[0]
            ))  # fmt: skip
        finally:
            server.stop()


if __name__ == "__main__":
    main()
