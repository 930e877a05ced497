"""A realistic pipeline run as progress events, and the ways to publish it, for the live page's
browser tests, its screenshots (scripts/live_screenshots.py) and its bench.

The run is what a pipeline author's would be: `preprocess` (a counted loop), `train` (20 epochs
reporting loss, accuracy and val_loss, a log line each), `evaluate` (two single values, auc and
accuracy); the failing variant stops at epoch 10 with an out-of-memory error. Timestamps are
simulated (an epoch takes 30 s), so the page's timing shows what a real run's would.

Events are published the way steps publish them: `POST /progress/<run_id>` on the server's
HTTP port, or `PublishProgress` on its gRPC port. The browser reaches the server over loopback
only: every other address goes to a proxy that is not there.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

from browser import CHROMIUM_FLAGS, wait_in
from kfp_viz.pb import kfpviz_progress_pb2 as pb
from kfp_viz.pb import kfpviz_progress_pb2_grpc as pb_grpc
from playwright.sync_api import Browser, Playwright

EPOCHS = 20
FAIL_AT = 10
EPOCH_SECONDS = 30.0
REASON = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.78 GiB total)"

LOOPBACK_ONLY = ["--proxy-server=http://127.0.0.1:9"]
"""Chromium sends loopback straight (its implicit bypass rule) and everything else to a proxy
that is not there: the page reaches the server under test and nothing else."""


def launch_loopback_chromium(playwright: Playwright) -> Browser:
    path = os.environ.get("KFP_VIZ_CHROMIUM", "/usr/bin/chromium")
    assert os.path.exists(path), f"{path} missing: run ./scripts/test (scripts/lib/deps.sh)"
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS + LOOPBACK_ONLY)


def loss(epoch: int, seed: int = 0) -> float:
    return round(2.2 * math.exp(-epoch / (6 + seed)) + 0.05 + 0.01 * ((epoch * 7 + seed) % 5), 5)


def val_loss(epoch: int, seed: int = 0) -> float:
    return round(loss(epoch, seed) * 1.15 + 0.02 * (epoch > 14) * (epoch - 14), 5)


def accuracy(epoch: int, seed: int = 0) -> float:
    return round(min(0.99, 0.5 + 0.45 * (1 - math.exp(-epoch / 5)) + 0.002 * seed), 5)


@dataclass
class Run:
    """The events of one run, in order; `fail_at` makes training fail at that epoch."""

    run_id: str
    fail_at: int | None = None
    start: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.start:
            total = 60 + EPOCHS * EPOCH_SECONDS + 45
            self.start = time.time() - total

    def events(self) -> Iterator[dict]:
        yield from self.preprocess()
        yield from self.train()
        if self.fail_at is None:
            yield from self.evaluate()

    def at(self, seconds: float, **event: object) -> dict:
        return {"ts": round(self.start + seconds, 3), **event}

    def preprocess(self) -> Iterator[dict]:
        yield self.at(0, node_id="preprocess", kind="status", status="Running")
        for done in range(1, 6):
            yield self.at(10 * done, node_id="preprocess", kind="progress", current=done, total=5)
        yield self.at(51, node_id="preprocess", kind="log", message="wrote 48,000 rows")
        yield self.at(52, node_id="preprocess", kind="status", status="Succeeded")

    def train(self) -> Iterator[dict]:
        yield self.at(60, node_id="train", kind="status", status="Running")
        for epoch in range(1, EPOCHS + 1):
            yield from self.epoch(epoch)
            if epoch == self.fail_at:
                return

    def epoch(self, epoch: int) -> Iterator[dict]:
        t = 60 + epoch * EPOCH_SECONDS
        if epoch == self.fail_at:
            yield self.at(t - 1, node_id="train", kind="log", message="allocating the batch")
            yield self.at(t, node_id="train", kind="status", status="Failed", message=REASON)
            yield self.at(t + 1, kind="status", status="Failed", message="step train failed")
            return
        metrics = {"loss": loss(epoch, self.seed), "accuracy": accuracy(epoch, self.seed),
                   "val_loss": val_loss(epoch, self.seed)}  # fmt: skip
        yield self.at(t, node_id="train", kind="progress", current=epoch, total=EPOCHS)
        yield self.at(t, node_id="train", kind="metric", metrics=metrics, current=epoch)
        line = f"epoch {epoch}: loss={metrics['loss']} val_loss={metrics['val_loss']}"
        yield self.at(t, node_id="train", kind="log", message=line)
        if epoch == EPOCHS:
            yield self.at(t + 1, node_id="train", kind="status", status="Succeeded")

    def evaluate(self) -> Iterator[dict]:
        t = 60 + EPOCHS * EPOCH_SECONDS + 5
        yield self.at(t, node_id="evaluate", kind="status", status="Running")
        scores = {"auc": 0.9312, "accuracy": 0.9105}
        yield self.at(t + 30, node_id="evaluate", kind="metric", metrics=scores)
        yield self.at(t + 31, node_id="evaluate", kind="status", status="Succeeded")
        yield self.at(t + 32, kind="status", status="Succeeded")


def publish_http(server, run_id: str, events: list[dict]) -> None:
    """`POST /progress/<run_id>` with the events as one array."""
    reply = server.post_progress(run_id, events)
    assert reply.status_code == 200, reply.text


def publish_grpc(server, run_id: str, events: list[dict]) -> None:
    """`PublishProgress` on the server's gRPC port."""
    stub = pb_grpc.ProgressStub(server.channel)
    reply = stub.PublishProgress(
        pb.PublishProgressRequest(events=[to_message(run_id, e) for e in events]), timeout=30
    )
    assert len(reply.cursors) == len(events)


def to_message(run_id: str, event: dict) -> pb.ProgressEvent:
    return pb.ProgressEvent(v=1, run_id=run_id, **event)


class Shown:
    """A page opened straight from the server, recording errors and every request it made."""

    def __init__(
        self, chromium, url: str, width: int = 1280, scheme: str = "light", cookies=()
    ) -> None:
        """`cookies`: the browser's session before the page is opened (Playwright's form)."""
        self.context = chromium.new_context(
            viewport={"width": width, "height": 900}, color_scheme=scheme
        )
        if cookies:
            self.context.add_cookies(list(cookies))
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)

    def _console(self, message) -> None:
        """Console errors, but for the 404 of a run not known yet: the page asks on purpose."""
        asked = message.location.get("url", "")
        if message.type != "error" or ("/progress/runs/" in asked and "404" in message.text):
            return
        self.errors.append(message.text)

    def close(self) -> None:
        self.context.close()

    def close_cleanly(self, base: str) -> None:
        """Close, after checking the page raised nothing and asked nothing outside `base`
        (the server's URL, or the prefix a gateway serves it under)."""
        assert self.errors == []
        assert all(url.startswith(base + "/") for url in self.requests), self.requests
        self.close()


def wait_points(frame, metric: str, points: int) -> None:
    wait_in(
        frame,
        '([m, n]) => { const c = document.querySelector(`.chart[data-metric="${m}"]`);'
        " return c && +c.dataset.points === n && c.querySelector('canvas'); }",
        arg=[metric, points],
    )


def overflow(frame) -> list[str]:
    """Elements wider than the viewport or collapsed to nothing, and the page's scroll width."""
    return frame.evaluate(
        """() => {
          const root = document.documentElement, width = root.clientWidth, bad = [];
          if (root.scrollWidth > width) bad.push("page scrolls: " + root.scrollWidth);
          document.querySelectorAll("main *").forEach(e => {
            const r = e.getBoundingClientRect();
            if (r.width && r.right > width + 0.5 && !e.closest(".table-wrap, #log"))
              bad.push(e.tagName + "." + e.className + " right " + r.right);
          });
          document.querySelectorAll(".bar, .plot, .step, .chart, .tile").forEach(e => {
            if (e.offsetParent && e.getBoundingClientRect().width < 100)
              bad.push(e.className + " collapsed");
          });
          return bad;
        }"""
    )
