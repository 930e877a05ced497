"""Large-page benchmark: prints figures, never passes or fails.

Starts a real MinIO (the one scripts/test installs) and real servers on loopback, then for
pages of 10, 50 and 100 MB (random base64 text, so gzip cannot shrink them under the cap and
every byte is hashed and uploaded), over several runs, reports medians of:

- end to end: `POST /` until the small reference page is received;
- render and store: the server's own histograms (render; hash + upload) for that request;
- peak RSS of the server process (VmHWM from /proc, reset before each request with
  clear_refs), above its RSS before the request — beside the same page delivered inline by a
  server with `--inline-limit 1G`, which shows what storing adds to what rendering costs;
- fetching the page back: `GET /visualizations/<id>` and gRPC `FetchVisualization` (MB/s);
- store throughput: `S3Store.put` / `read` of the same sizes straight from this process.

Usage: python bench/store_bench.py [--runs 3] [--sizes 10,50,100]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from kfp_viz.pages import fetch_page  # noqa: E402
from kfp_viz_server.page_bytes import encoded_chunks  # noqa: E402
from kfp_viz_server.store import S3Store  # noqa: E402
from services import MinioServer  # noqa: E402  (the test harness's MinIO launcher)
from stored_pages import reference_of  # noqa: E402
from support import custom_code, free_port  # noqa: E402

MB = 10**6
PAGE = custom_code(
    "import base64, os",
    "from IPython.display import HTML, display",
    "display(HTML('<pre>' + base64.encodebytes(os.urandom(int(source) * 3 // 4)).decode() "
    "+ '</pre>'))",
)


class Server:
    """A server process with custom code allowed, its pid and its metrics."""

    def __init__(self, env: dict[str, str], *flags: str) -> None:
        self.port, self.grpc_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kfp_viz_server", "--host", "127.0.0.1",
             "--http-port", str(self.port), "--grpc-port", str(self.grpc_port),
             "--pool-size", "2", "--allow-custom-visualizations", "--reuse-custom-kernels",
             "--log-level", "WARNING", "--max-output-size", "256Mi", *flags],
            cwd=ROOT, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                state = requests.get(self.url + "/readyz", timeout=2).json()
                if state["kernels"]["idle"] == state["kernels"]["size"]:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise SystemExit("server did not get ready")

    def rss(self, field: str) -> int:
        """VmRSS or VmHWM of the server process, in bytes."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.M)[1]) * 1024

    def reset_peak(self) -> None:
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")  # resets VmHWM

    def histogram_sum(self, name: str) -> float:
        text = requests.get(self.url + "/metrics", timeout=5).text
        return sum(float(v) for v in re.findall(rf"^{name}_sum(?:{{[^}}]*}})? (\S+)", text, re.M))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)


def render_once(server: Server, size: int) -> dict[str, float]:
    before_render = server.histogram_sum("kfp_viz_render_seconds")
    before_store = server.histogram_sum("kfp_viz_store_seconds")
    base = server.rss("VmRSS")
    server.reset_peak()
    started = time.perf_counter()
    reply = requests.post(
        server.url + "/", data={"type": "custom", "source": str(size), "arguments": PAGE},
        timeout=600,
    )  # fmt: skip
    wall = time.perf_counter() - started
    assert reply.status_code == 200, reply.reason
    return {
        "wall": wall,
        "render": server.histogram_sum("kfp_viz_render_seconds") - before_render,
        "store": server.histogram_sum("kfp_viz_store_seconds") - before_store,
        "peak": server.rss("VmHWM") - base,
        "reply": len(reply.content),
        "html": reply.text,
    }


def fetch_rates(server: Server, reference: dict) -> tuple[float, float]:
    started = time.perf_counter()
    body = requests.get(reference["http_url"], timeout=600).content
    http_rate = len(body) / (time.perf_counter() - started) / MB
    assert hashlib.sha256(body).hexdigest() == reference["sha256"]
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        started = time.perf_counter()
        fetched = fetch_page(channel, reference["id"], timeout=600)
        grpc_rate = len(fetched.data) / (time.perf_counter() - started) / MB
    return http_rate, grpc_rate


def store_rates(minio: MinioServer, size: int) -> tuple[float, float]:
    env = minio.server_env("bench-direct")
    store = S3Store(
        "127.0.0.1", minio.port, secure=False, bucket="bench-direct",
        access_key=env["OBJECTSTORECONFIG_ACCESSKEY"],
        secret_key=env["OBJECTSTORECONFIG_SECRETACCESSKEY"], region=None,
    )  # fmt: skip
    store.check()
    page = os.urandom(size // 2).hex()
    started = time.perf_counter()
    store.put(f"bench/{size}.html", encoded_chunks(page), size)
    put_rate = size / (time.perf_counter() - started) / MB
    started = time.perf_counter()
    read = sum(len(chunk) for chunk in store.read(f"bench/{size}.html"))
    get_rate = read / (time.perf_counter() - started) / MB
    return put_rate, get_rate


def median(values: list[float]) -> float:
    return statistics.median(values)


def runs_text(values: list[float], fmt: str) -> str:
    return ", ".join(format(v, fmt) for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="10,50,100", help="page sizes in MB")
    args = parser.parse_args()
    sizes = [int(s) * MB for s in args.sizes.split(",")]

    workdir = Path(tempfile.mkdtemp(prefix="store-bench-"))
    minio = MinioServer(workdir / "minio")
    minio.start()
    stored = Server(minio.server_env("bench"))
    inline = Server({"STORE_FOLDER": str(workdir / "unused")}, "--inline-limit", "1G")
    try:
        print(f"server baseline RSS: {stored.rss('VmRSS') / MB:.0f} MB (stored), "
              f"{inline.rss('VmRSS') / MB:.0f} MB (inline)")  # fmt: skip
        print(f"{'page':>6} | {'end to end':>10} | {'render':>7} | {'store':>6} | "
              f"{'peak RSS +':>10} | {'inline peak +':>13} | {'GET MB/s':>8} | "
              f"{'gRPC MB/s':>9} | {'S3 put MB/s':>11} | {'S3 get MB/s':>11}")  # fmt: skip
        for size in sizes:
            figures: dict[str, list[float]] = {}
            for _ in range(args.runs):
                result = render_once(stored, size)
                for key in ("wall", "render", "store", "peak"):
                    figures.setdefault(key, []).append(result[key])
                http_rate, grpc_rate = fetch_rates(stored, reference_of(result["html"]))
                figures.setdefault("http", []).append(http_rate)
                figures.setdefault("grpc", []).append(grpc_rate)
                figures.setdefault("inline_peak", []).append(render_once(inline, size)["peak"])
                put_rate, get_rate = store_rates(minio, size)
                figures.setdefault("put", []).append(put_rate)
                figures.setdefault("get", []).append(get_rate)
            print(f"{size // MB:>4}MB | {median(figures['wall']):>9.2f}s | "
                  f"{median(figures['render']):>6.2f}s | {median(figures['store']):>5.2f}s | "
                  f"{median(figures['peak']) / MB:>8.0f}MB | "
                  f"{median(figures['inline_peak']) / MB:>11.0f}MB | "
                  f"{median(figures['http']):>8.0f} | {median(figures['grpc']):>9.0f} | "
                  f"{median(figures['put']):>11.0f} | {median(figures['get']):>11.0f}")  # fmt: skip
            print(f"        runs: end to end {runs_text(figures['wall'], '.2f')} s; store "
                  f"{runs_text(figures['store'], '.2f')} s; peak RSS + "
                  f"{runs_text([p / MB for p in figures['peak']], '.0f')} MB")  # fmt: skip
    finally:
        stored.stop()
        inline.stop()
        minio.stop()


if __name__ == "__main__":
    main()
