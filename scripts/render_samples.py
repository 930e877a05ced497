#!/usr/bin/env python3
"""Render every sample in samples/ into a folder of pages, with screenshots.

One command shows every built-in type on small data (samples/manifest.json says what each
sample shows):

    .venv/bin/python scripts/render_samples.py --out /tmp/viz-samples

It starts a real server (pool of 2, custom code off) on free local ports, posts each
sample as the KFP API server would (`type`, `source`, `arguments`), and writes
`NAME.html` (the page exactly as returned: open it in any browser, offline), then with
Debian's Chromium (as scripts/type_screenshots.py does: inside the KFP UI's sandboxed
iframe, network blocked) `NAME.png` 1200 px wide in light mode and `NAME_360_dark.png`
360 px wide in dark mode, and `index.html` linking them all. `--no-screenshots` skips
Chromium; `--url http://host:8888` renders with a server already running (it must be
able to read this checkout's samples/ folder, e.g. one started with ./scripts/serve).
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import tempfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests" / "integration")]

SAMPLES = ROOT / "samples"


def manifest() -> list[dict]:
    """The samples, with `{samples}` in their arguments made this checkout's folder."""
    items = json.loads((SAMPLES / "manifest.json").read_text())
    for item in items:
        item["arguments"] = json.loads(
            json.dumps(item["arguments"]).replace("{samples}", str(SAMPLES))
        )
        item["source"] = str(SAMPLES / item["source"])
    return items


def render(url: str, item: dict) -> str:
    """The page a server returns for one sample; SystemExit naming it on an HTTP error."""
    reply = requests.post(
        url,
        data={"type": item["type"], "source": item["source"],
              "arguments": json.dumps(item["arguments"])},
        timeout=120,
    )  # fmt: skip
    if reply.status_code != 200:
        raise SystemExit(f"{item['name']}: {reply.status_code} {reply.reason}")
    return reply.text


def index_page(items: list[dict], screenshots: bool) -> str:
    rows = "".join(
        f'<li><h2><a href="{esc(i["name"])}.html">{esc(i["name"])}</a> '
        f"<code>{esc(i['type'])}</code></h2><p>{esc(i['shows'])}</p>"
        + (
            f'<a href="{esc(i["name"])}.png"><img src="{esc(i["name"])}.png" width="600" '
            f'alt="{esc(i["name"])}, 1200 px wide, light"></a> '
            f'<a href="{esc(i["name"])}_360_dark.png"><img src="{esc(i["name"])}_360_dark.png" '
            f'width="180" alt="{esc(i["name"])}, 360 px wide, dark"></a>'
            if screenshots
            else ""
        )
        + "</li>"
        for i in items
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
        'content="width=device-width, initial-scale=1"><meta name="color-scheme" '
        'content="light dark"><title>kfp-viz-server samples</title><style>body{font:15px/1.5 '
        "system-ui,sans-serif;margin:16px;max-width:1000px}ul{list-style:none;padding:0}"
        "img{max-width:100%;height:auto;border:1px solid #888;vertical-align:top}"
        "h2{font-size:17px;margin:18px 0 2px}</style></head><body><main><h1>Samples, one "
        f"per page</h1><ul>{rows}</ul></main></body></html>"
    )


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the folder to write")
    parser.add_argument("--no-screenshots", action="store_true", help="pages only, no Chromium")
    parser.add_argument("--url", help="a running server to render with (default: start one)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    items = manifest()
    with tempfile.TemporaryDirectory() as folder:
        server = None
        if not args.url:
            from support import RunningServer

            server = RunningServer(["--pool-size", "2"], {}, Path(folder) / "server.log")
        try:
            if server:
                server.wait_ready()
            url = args.url or server.url  # type: ignore[union-attr]
            pages = {}
            for item in items:
                pages[item["name"]] = render(url.rstrip("/") + "/", item)
                (args.out / f"{item['name']}.html").write_text(pages[item["name"]], "utf-8")
                print(f"wrote {args.out / item['name']}.html")
        finally:
            if server:
                server.stop()
    if not args.no_screenshots:
        screenshots(pages, args.out)
    (args.out / "index.html").write_text(index_page(items, not args.no_screenshots), "utf-8")
    print(f"wrote {args.out / 'index.html'}")


def screenshots(pages: dict[str, str], out: Path) -> None:
    from browser import launch_chromium
    from playwright.sync_api import sync_playwright
    from type_screenshots import shoot

    with sync_playwright() as driver:
        chromium = launch_chromium(driver)
        try:
            for name, page in pages.items():
                shoot(chromium, page, out / f"{name}.png", {})
                shoot(chromium, page, out / f"{name}_360_dark.png",
                      {"width": 360, "color_scheme": "dark"})  # fmt: skip
                print(f"wrote {out / name}.png and {name}_360_dark.png")
        finally:
            chromium.close()


if __name__ == "__main__":
    main()
