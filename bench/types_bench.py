"""Built-in types benchmark: p50 render time per type on the samples, a small and a large input.

Prints figures, never passes or fails. Input sets (`--sets`, all by default):
samples: every page of samples/manifest.json (the committed sample data, one row per
sample); small: the breast-cancer predictions and files the integration tests use;
large: generated with a seeded numpy generator. The small and large inputs are written
to a temporary folder. It starts one real server (`python -m kfp_viz_server`, pool of
2), and renders each input `--renders` times sequentially over keep-alive HTTP, as the
KFP API server would post it. Each run's p50 is printed; the figure is the median over
`--runs` runs, with the page size. An input the server's code cannot render (older code
on a newer sample) is reported as failed, with its error, and the others still run.

With `--browser`, also shows the large table page (100,000 rows) in Debian's
headless Chromium inside the KFP UI's sandboxed iframe, offline, and times
load-to-first-rows, a search over every row, and a sort.

With `--kernels`, also measures what kernels cost, on a fresh server per run:
start to every kernel ready, each idle kernel's memory (resident, proportional
share of pages shared with the factory, and the data segment that
--kernel-memory-limit caps), and custom code that plots with matplotlib or plotly
(each render a fresh kernel, as custom code gets; the page's size too).

Usage: python bench/types_bench.py [--runs 3] [--renders 15] [--sets samples,small,large]
       [--browser] [--kernels]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pandas as pd
from tensorflow_metadata.proto.v0 import statistics_pb2

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests" / "integration")]

import typedata  # noqa: E402  (the integration tests' real-data builder)
from kfp_viz_kernels import tfrecord  # noqa: E402
from kfp_viz_kernels.tfma_metrics_pb2 import MetricsForSlice  # noqa: E402
from render_bench import Server  # noqa: E402

HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
SAMPLES = ROOT / "samples"


class RenderFailed(Exception):
    """The server answered with an error, or a page showing one."""


def sample_inputs() -> dict[str, tuple[str, str, dict, str]]:
    """sample name -> (type, source, arguments, description), from samples/manifest.json."""
    manifest = json.loads((SAMPLES / "manifest.json").read_text())
    found = {}
    for item in manifest:
        arguments = json.loads(json.dumps(item["arguments"]).replace("{samples}", str(SAMPLES)))
        source = str(SAMPLES / item["source"])
        found[item["name"]] = (item["type"], source, arguments, item["shows"])
    return found


def large_inputs(root: Path, rng: np.random.Generator) -> dict[str, tuple[str, dict, str]]:
    """type -> (source, arguments, description) for the large inputs."""
    root.mkdir()
    rows = 200_000
    labels = rng.integers(0, 2, rows)
    scores = np.clip(labels * 0.3 + rng.normal(0.35, 0.2, rows), 0, 1)
    (root / "pred").mkdir()
    pd.DataFrame({"target": np.where(labels, "yes", "no"), "true": scores}).to_csv(
        root / "pred" / "part-0.csv", header=False, index=False
    )
    (root / "pred" / "schema.json").write_text('[{"name": "target"}, {"name": "true"}]')

    n = 100_000
    pd.DataFrame(
        {
            "id": np.arange(n),
            "name": [f"item-{i % 5000}" for i in range(n)],
            "a": rng.normal(size=n).round(4),
            "b": rng.integers(0, 1000, n),
            "c": rng.choice(["x", "y", "z"], n),
            "d": rng.random(n),
        }
    ).to_csv(root / "table.csv", index=False)

    classes = [f"class-{i}" for i in range(100)]
    cm = pd.DataFrame(
        [(t, p, int(rng.integers(0, 500))) for t in classes for p in classes],
        columns=["target", "predicted", "count"],
    )
    cm.to_csv(root / "cm.csv", header=False, index=False)

    stats = statistics_pb2.DatasetFeatureStatisticsList()
    dataset = stats.datasets.add(name="wide", num_examples=100_000)
    for i in range(1000):
        feature = dataset.features.add(
            name=f"f{i}", type=statistics_pb2.FeatureNameStatistics.FLOAT
        )
        feature.num_stats.common_stats.num_non_missing = 99_000
        feature.num_stats.common_stats.num_missing = 1000
        feature.num_stats.mean, feature.num_stats.std_dev = float(i), 1.0
        histogram = feature.num_stats.histograms.add()
        for count in rng.integers(0, 20_000, 10):
            histogram.buckets.add(low_value=0, high_value=1, sample_count=float(count))
    (root / "stats.tfrecord").write_bytes(tfrecord.encode([stats.SerializeToString()]))

    (root / "eval").mkdir()
    items = []
    for i in range(1000):
        item = MetricsForSlice()
        item.slice_key.single_slice_keys.add(column="shard", int64_value=i)
        for name in ("accuracy", "auc", "precision", "recall", "loss"):
            entry = item.metric_keys_and_values.add()
            entry.key.name = name
            entry.value.double_value.value = float(rng.random())
        items.append(item.SerializeToString())
    (root / "eval" / "metrics").write_bytes(tfrecord.encode(items))

    metrics = [{"name": f"m{i}", "numberValue": float(rng.random())} for i in range(1000)]
    (root / "metrics.json").write_text(json.dumps({"metrics": metrics}))
    paragraph = "Some *text* with `code` and a [link](#x).\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
    (root / "doc.md").write_text("".join(f"## Section {i}\n\n{paragraph}" for i in range(5000)))
    (root / "page.html").write_text("<html><body>" + "<p>row</p>" * 200_000 + "</body></html>")
    return {
        "roc_curve": (str(root / "pred" / "*.csv"), {"trueclass": "yes"}, f"{rows:,} predictions"),
        "table": (str(root / "table.csv"), {}, f"{n:,} rows x 6 columns"),
        "confusion_matrix": (str(root / "cm.csv"), {}, "100 classes"),
        "tfdv": (str(root / "stats.tfrecord"), {}, "1,000 features"),
        "tfma": (str(root / "eval"), {"slicing_column": "shard"}, "1,000 slices"),
        "metrics": (str(root / "metrics.json"), {}, "1,000 metrics"),
        "markdown": (str(root / "doc.md"), {}, "5,000 sections"),
        "html": (str(root / "page.html"), {}, "2 MB document"),
    }


def small_inputs(root: Path) -> dict[str, tuple[str, dict, str]]:
    data = typedata.build(root)
    r = data.root
    return {
        "roc_curve": (f"{r}/predictions", {}, "228 predictions"),
        "table": (f"{r}/predictions/part-00000.csv", {"headers": ["t", "p", "f", "s"]}, "114 rows"),
        "confusion_matrix": (f"{r}/confusion_matrix.csv", {"labels": typedata.LABELS}, "2 classes"),
        "tfdv": (f"{r}/stats/stats.pb", {}, "31 features"),
        "tfma": (f"{r}/eval", {}, "Overall of 3 slices"),
        "metrics": (f"{r}/metrics.json", {}, "2 metrics"),
        "markdown": (f"{r}/notes.md", {}, "a short card"),
        "html": (f"{r}/report.html", {}, "a short report"),
    }


def render_times(port: int, viz_type: str, source: str, arguments: dict, count: int):
    body = urlencode({"type": viz_type, "source": source, "arguments": json.dumps(arguments)})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    times, size = [], 0
    try:
        for _ in range(count):
            started = time.perf_counter()
            connection.request("POST", "/", body, HEADERS)
            reply = connection.getresponse()
            page = reply.read()
            times.append(time.perf_counter() - started)
            if reply.status != 200 or b'class="output error"' in page:
                raise RenderFailed(f"{reply.status} {reply.reason}: {_error_text(page)}")
            size = len(page)
    finally:
        connection.close()
    return statistics.median(times), size


def _error_text(page: bytes) -> str:
    import html
    import re

    found = re.search(rb'<div class="output error"><pre>(.*?)</pre>', page, re.S)
    text = found[1].decode("utf-8", "replace") if found else page[-300:].decode("utf-8", "replace")
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip().splitlines()[-1][:200]


SEARCH_JS = """needle => new Promise(done => {
  const box = document.querySelector('.kv-search'), count = document.querySelector('.kv-count');
  const started = performance.now();
  const watch = new MutationObserver(() => {
    watch.disconnect(); done(performance.now() - started);
  });
  watch.observe(count, {childList: true, characterData: true, subtree: true});
  box.value = needle; box.dispatchEvent(new Event('input'));
})"""
SORT_JS = """() => { const header = document.querySelectorAll('thead button.kv-sort')[3]
    || document.querySelectorAll('thead th')[3];  // a header button; a bare header before them
  const t = performance.now(); header.click(); return performance.now() - t; }"""


def browser_figures(port: int, source: str, runs: int) -> dict[str, list[float]]:
    """Seconds to show the table page's first rows; milliseconds to search and to sort."""
    from browser import launch_chromium, show_in_kfp_iframe
    from playwright.sync_api import sync_playwright

    body = urlencode({"type": "table", "source": source, "arguments": "{}"})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    connection.request("POST", "/", body, HEADERS)
    page = connection.getresponse().read().decode()
    connection.close()
    figures: dict[str, list[float]] = {"load_s": [], "sort_ms": [], "search_ms": []}
    with sync_playwright() as driver:
        chromium = launch_chromium(driver)
        try:
            for _ in range(runs):
                started = time.perf_counter()
                shown = show_in_kfp_iframe(chromium, page)
                shown.frame.locator("tbody tr").first.wait_for()
                figures["load_s"].append(time.perf_counter() - started)
                figures["sort_ms"].append(shown.frame.evaluate(SORT_JS))  # all 100,000 rows
                # the search waits out its 120 ms typing debounce; that is not counted
                figures["search_ms"].append(shown.frame.evaluate(SEARCH_JS, "item-417") - 120)
                if shown.errors:
                    raise SystemExit(f"browser errors: {shown.errors}")
                shown.page.context.close()
        finally:
            chromium.close()
    return figures


PLOTS = {
    "matplotlib": [
        "import matplotlib.pyplot as plt",
        "plt.plot([1, 3, 2]); plt.title('bench'); plt.show()",
    ],
    "plotly": ["import plotly.express as px", "px.line(x=[1, 2, 3], y=[1, 3, 2]).show()"],
}


def kernel_memory(server_pid: int) -> list[dict[str, float]]:
    """MB resident, proportional (shared pages split between sharers) and data segment, per
    kernel: the server's grandchildren (the kernel factory's children)."""
    from support import process_tree

    tree = process_tree(server_pid)
    factories = [p for p in tree if _parent(p) == server_pid and _children(p, tree)]
    found = []
    for factory in factories:
        for pid in _children(factory, tree):
            status = Path(f"/proc/{pid}/status").read_text()
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            found.append(
                {
                    "rss": _kb(status, "VmRSS:") / 1024,
                    "pss": _kb(rollup, "Pss:") / 1024,
                    "data": _kb(status, "VmData:") / 1024,
                }
            )
    return found


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _children(pid: int, tree: set[int]) -> list[int]:
    return [p for p in tree if p != pid and _parent(p) == pid]


def _kb(text: str, key: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(key))
    return float(line.split()[1])


def kernel_figures(runs: int, renders: int) -> dict[str, list[float]]:
    """Start to ready and idle kernel memory (fresh servers), and plotting renders."""
    figures: dict[str, list[float]] = {}
    for _ in range(runs):
        server = Server(pool_size=2, max_queue=8)
        try:
            figures.setdefault("start_to_ready_s", []).append(server.wait(full=True))
            time.sleep(1.0)  # let the kernels settle after start
            memory = kernel_memory(server.process.pid)
            for key in ("rss", "pss", "data"):
                figures.setdefault(f"kernel_{key}_mb", []).append(
                    statistics.median(m[key] for m in memory)
                )
            for name, code in PLOTS.items():
                p50, size = render_times(server.port, "custom", "", {"code": code}, renders)
                figures.setdefault(f"{name}_render_ms", []).append(p50 * 1000)
                figures.setdefault(f"{name}_page_kb", []).append(size / 1000)
        finally:
            server.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--renders", type=int, default=15, help="per input and run")
    parser.add_argument("--sets", default="samples,small,large", help="input sets to render")
    parser.add_argument("--browser", action="store_true", help="also time the table in Chromium")
    parser.add_argument("--kernels", action="store_true", help="also measure kernels' costs")
    parser.add_argument("--only-kernels", action="store_true", help="measure kernels' costs only")
    args = parser.parse_args()
    if args.kernels or args.only_kernels:
        print(f"kernels (pool of 2), medians of {args.runs} fresh servers:")
        for name, values in kernel_figures(args.runs, min(args.renders, 5)).items():
            shown = ", ".join(f"{v:.2f}" for v in values)
            print(f"  {name:<22} median {statistics.median(values):8.2f}  runs: {shown}")
        if args.only_kernels:
            return
    sets = [name.strip() for name in args.sets.split(",") if name.strip()]
    with tempfile.TemporaryDirectory() as folder:
        inputs: dict[tuple[str, str], tuple[str, str, dict, str]] = {}
        if "samples" in sets:
            for name, (viz_type, source, arguments, what) in sample_inputs().items():
                inputs[(name, "sample")] = (viz_type, source, arguments, what)
        for size_name, build in (("small", small_inputs), ("large", large_inputs)):
            if size_name not in sets:
                continue
            made = (
                build(Path(folder) / size_name)
                if size_name == "small"
                else build(Path(folder) / size_name, np.random.default_rng(1))
            )
            for viz_type, (source, arguments, what) in made.items():
                inputs[(viz_type, size_name)] = (viz_type, source, arguments, what)
        server = Server(pool_size=2, max_queue=8)
        try:
            server.wait(full=True)
            results: dict[tuple[str, str], list[float]] = {}
            sizes: dict[tuple[str, str], int] = {}
            failed: dict[tuple[str, str], str] = {}
            for run in range(args.runs):
                for key, (viz_type, source, arguments, _) in inputs.items():
                    if key in failed:
                        continue
                    try:
                        p50, page = render_times(
                            server.port, viz_type, source, arguments, args.renders
                        )
                    except RenderFailed as error:
                        failed[key] = str(error)
                        continue
                    results.setdefault(key, []).append(p50)
                    sizes[key] = page
                print(f"run {run + 1} done", file=sys.stderr)
            if args.browser and "large" in sets:
                large_table = inputs[("table", "large")][1]
                browser = browser_figures(server.port, large_table, args.runs)
        finally:
            server.stop()
    print(f"p50 render time, median of {args.runs} runs x {args.renders} renders (pool of 2)")
    print(f"{'input':<22}{'set':<7}{'p50 ms':>9}  {'runs (ms)':<24}{'page':>10}  what")
    for key, (_, _, _, what) in inputs.items():
        name, set_name = key
        if key in failed:
            print(f"{name:<22}{set_name:<7}{'failed':>9}  {failed[key]}")
            continue
        p50s = results[key]
        runs = ", ".join(f"{v * 1000:.1f}" for v in p50s)
        print(
            f"{name:<22}{set_name:<7}{statistics.median(p50s) * 1000:>9.1f}  {runs:<24}"
            f"{sizes[key] / 1000:>8.0f}KB  {what}"
        )

    if args.browser and "large" in sets:
        print(f"\ntable, {inputs[('table', 'large')][3]}, in headless Chromium (sandboxed iframe):")
        for name, values in browser.items():
            shown = ", ".join(f"{v:.2f}" if name.endswith("_s") else f"{v:.0f}" for v in values)
            print(f"  {name:<10} median {statistics.median(values):.2f}  runs: {shown}")


if __name__ == "__main__":
    main()
