#!/usr/bin/env python3
"""Screenshots of the live run page, the run comparison and the run list, for
docs/pipeline-authors/.

Publishes the browser tests' realistic run and its failing variant
(tests/integration/live_run.py) to a real server, opens the pages in Debian's headless
Chromium (network blocked except the server on loopback) and saves: the finished run
(light, hovering the loss chart), the failed run (dark), the failed run 360 pixels wide,
the comparison of both, and the run list with the finished run picked. Run it after changing
the pages:

    .venv/bin/python scripts/live_screenshots.py
"""

from __future__ import annotations

import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "integration")]

from live_run import FAIL_AT, Run, launch_loopback_chromium, publish_grpc, publish_http  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from support import RunningServer  # noqa: E402

OUT = ROOT / "docs" / "pipeline-authors"
READY = """() => /finished/.test(document.getElementById('conn')?.textContent)
              || document.querySelector('.run[data-run] .badge')"""
"""A run page, or the comparison, has every run finished; the run list shows its runs."""


def main() -> None:
    good = Run(f"train-{uuid.uuid4().hex[:6]}")
    bad = Run(f"train-{uuid.uuid4().hex[:6]}", fail_at=FAIL_AT, seed=3)
    with tempfile.TemporaryDirectory() as folder:
        server = RunningServer(["--pool-size", "1"], {}, Path(folder) / "server.log", public=True)
        try:
            server.wait_ready()
            publish_http(server, good.run_id, list(good.events()))
            publish_grpc(server, bad.run_id, list(bad.events()))
            base = f"{server.url}/progress"
            with sync_playwright() as driver:
                chromium = launch_loopback_chromium(driver)
                shots = [
                    ("live_light.png", f"{base}/{good.run_id}", 1200, "light", True),
                    ("live_dark.png", f"{base}/{bad.run_id}", 1200, "dark", False),
                    ("live_360.png", f"{base}/{bad.run_id}", 360, "light", False),
                    ("compare.png", f"{base}?runs={good.run_id},{bad.run_id}", 1200, "light",
                     True),
                    ("runs.png", f"{base}?selected={good.run_id}", 1200, "light", False),
                ]  # fmt: skip
                for name, url, width, scheme, hover in shots:
                    shoot(chromium, url, OUT / name, width, scheme, hover)
                    print(f"wrote {(OUT / name).relative_to(ROOT)}")
                chromium.close()
        finally:
            server.stop()


def shoot(chromium, url: str, path: Path, width: int, scheme: str, hover: bool) -> None:
    context = chromium.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.wait_for_function(READY)
    # Draw every chart (charts off screen wait until scrolled to), then come back up.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_timeout(400)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(400)
    if hover:
        over = page.locator('.chart[data-metric="train: loss"] .u-over')
        box = over.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.35, box["y"] + box["height"] / 2)
        page.wait_for_timeout(200)
    page.screenshot(path=str(path), full_page=True)
    if errors:
        raise SystemExit(f"{path.name}: the page raised {errors}")
    context.close()


if __name__ == "__main__":
    main()
