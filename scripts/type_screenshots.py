#!/usr/bin/env python3
"""Screenshots of every built-in type's page, for docs/data-scientists/.

Renders the integration tests' real data (tests/integration/typedata.py) and some of
samples/ with a real server, shows each page in Debian's headless Chromium inside the KFP
UI's sandboxed iframe (1200 px wide, network blocked), and saves a PNG of the frame per
type, plus a 360-pixel-wide dark-mode one of the ROC page. `shoot` is also what
scripts/render_samples.py takes its screenshots with. Run it after changing a page:

    .venv/bin/python scripts/type_screenshots.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "integration")]

import typedata  # noqa: E402
from browser import launch_chromium, show_in_kfp_iframe  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from support import RunningServer  # noqa: E402

OUT = ROOT / "docs" / "data-scientists"
SAMPLES = ROOT / "samples"
PLOT_CODE = [
    "import matplotlib.pyplot as plt",
    "import numpy as np",
    "x = np.linspace(0, 10, 200)",
    "fig, ax = plt.subplots(figsize=(7, 3))",
    "ax.plot(x, np.sin(x), label='sin'); ax.plot(x, np.cos(x), label='cos'); ax.legend()",
    "ax.set_title('matplotlib: inline PNG')",
    "plt.show()",
    "import plotly.express as px",
    "px.scatter(px.data.iris(), x='sepal_width', y='sepal_length', color='species',",
    "           title='plotly: interactive, offline').show()",
]


def shots(data: typedata.TypeData) -> list[tuple[str, str, str, dict, dict]]:
    """(file name, type, source, arguments, how to show it)."""
    r, m = data.root, SAMPLES
    return [
        ("roc_curve.png", "roc_curve", f"{r}/predictions", {"compare": [f"{r}/weak"]}, {}),
        ("roc_curve_per_class.png", "roc_curve", f"{r}/iris", {}, {"log": True}),
        ("roc_curve_360_dark.png", "roc_curve", f"{r}/iris", {},
         {"width": 360, "color_scheme": "dark"}),
        ("table.png", "table", f"{m}/table/customers.csv", {}, {"summaries": True}),
        ("confusion_matrix.png", "confusion_matrix", f"{r}/iris_confusion.csv", {},
         {"rates": True}),
        ("tfdv.png", "tfdv", f"{m}/tfdv/train_stats.pbtxt",
         {"compare": [f"{m}/tfdv/serving_stats.pbtxt"]}, {"sort": "flags"}),
        ("tfma.png", "tfma", f"{m}/tfma", {"slicing_column": "country"}, {"metric": "auc"}),
        ("custom_plots.png", "custom", "", {"code": PLOT_CODE}, {"wait_plotly": True}),
        ("html.png", "html", f"{m}/html/report.html", {}, {}),
        ("markdown.png", "markdown", f"{m}/markdown/model_card.md", {}, {}),
        ("metrics.png", "metrics", f"{r}/metrics.json", {}, {}),
    ]  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        data = typedata.build(Path(folder) / "data")
        server = RunningServer(
            ["--pool-size", "2", "--allow-custom-visualizations"], {}, Path(folder) / "server.log"
        )
        try:
            server.wait_ready()
            with sync_playwright() as driver:
                chromium = launch_chromium(driver)
                for name, viz_type, source, arguments, how in shots(data):
                    reply = server.post(
                        type=viz_type, source=source, arguments=json.dumps(arguments), timeout=120
                    )
                    reply.raise_for_status()
                    shoot(chromium, reply.text, OUT / name, how)
                    print(f"wrote {(OUT / name).relative_to(ROOT)}")
                chromium.close()
        finally:
            server.stop()


def shoot(chromium, page: str, path: Path, how: dict) -> None:
    width = how.get("width", 1200)
    shown = show_in_kfp_iframe(
        chromium, page, width=width, height=1400, color_scheme=how.get("color_scheme", "light")
    )
    frame = shown.frame
    if how.get("wait_plotly"):
        frame.wait_for_function("() => document.querySelector('.plotly-figure .main-svg')")
    if how.get("log"):
        frame.locator(".kv-log").check()
    if how.get("summaries"):
        frame.locator(".kv-summarize").click()
    if how.get("rates"):
        frame.locator(".kv-mode[data-mode=rates]").click()
    if how.get("sort"):
        frame.locator(".kv-order").select_option(how["sort"])
    if how.get("metric"):
        frame.locator(".kv-metric").select_option(how["metric"])
    if frame.locator(".kv-plot .u-over").count():
        box = frame.locator(".kv-plot .u-over").first.bounding_box()
        shown.page.mouse.move(box["x"] + box["width"] * 0.05, box["y"] + box["height"] * 0.12)
    shown.page.wait_for_timeout(300)
    height = frame.evaluate("() => document.querySelector('main').getBoundingClientRect().bottom")
    clip = {"x": 0, "y": 0, "width": width, "height": min(round(height) + 8, 1400)}
    shown.page.screenshot(path=str(path), clip=clip)  # the frame sits at the page's corner
    if shown.errors:
        raise SystemExit(f"{path.name}: the page logged errors: {shown.errors}")
    shown.page.context.close()


if __name__ == "__main__":
    main()
