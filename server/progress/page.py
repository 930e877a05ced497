"""The progress pages: the live run page, the run comparison, and the `progress` snapshot.

One self-contained template (no CDN: the pages must work offline and inside the KFP UI's
sandboxed iframe) with its style and script inlined, and uPlot, the chart library the
built-in types already vendor (`kernels/assets/vendor/uplot`, fetched and checked by
`scripts/vendor_assets.py`), inlined beside them. Each page gets a JSON config: the runs
it shows, each with the events known so far (with their cursors) and the URL of the
server-sent events to follow, if any. The browser draws everything and applies history
and live events the same way, so a snapshot and the live page cannot disagree.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .hub import Delivered

TEMPLATES = Path(__file__).parent / "templates"
UPLOT = ("uPlot.min.css", "uPlot.iife.min.js")


@dataclass(frozen=True)
class RunFeed:
    """One run as a page shows it: its history so far and where to follow it from."""

    run_id: str
    events: list[Delivered] = field(default_factory=list)
    events_url: str | None = None
    ended: bool = False
    live_url: str = ""

    def config(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "events": [{**d.event.to_dict(), "cursor": d.cursor.text()} for d in self.events],
            "events_url": self.events_url,
            "ended": self.ended,
            "live_url": self.live_url or f"/progress/{self.run_id}",
        }


@dataclass(frozen=True)
class Link:
    text: str
    url: str


def _inline_assets(folder: Path) -> tuple[str, str]:
    """(style, scripts) to put into the template: uPlot's files, then the page's own."""
    vendor = resources.files("kfp_viz_kernels").joinpath("assets", "vendor", "uplot")
    css, script = (vendor.joinpath(name).read_text("utf-8") for name in UPLOT)
    own_css = (folder / "live.css").read_text()
    own_script = (folder / "live.js").read_text()
    return (
        f"<style>{css}\n{own_css}</style>",
        f"<script>{script}</script>\n<script>{own_script}</script>",
    )


class LivePage:
    """The template with its assets inlined, read once; `page` fills in a config."""

    def __init__(self, folder: Path = TEMPLATES) -> None:
        style, scripts = _inline_assets(folder)
        template = (folder / "live.html").read_text()
        # Split once around the placeholders, so nothing inlined is ever mistaken for one.
        head, _, rest = template.partition("__TITLE__")
        middle, _, tail = rest.partition("__CONFIG__")
        self._parts = (
            head,
            middle.replace("__STYLE__", style),
            tail.replace("__SCRIPT__", scripts),
        )

    @property
    def weight(self) -> int:
        """Bytes of the page before any config: what every page costs (docs, bench)."""
        return sum(len(part.encode()) for part in self._parts)

    def page(
        self,
        title: str,
        feeds: list[RunFeed],
        *,
        compare: bool = False,
        note: str = "",
        links: list[Link] | tuple[Link, ...] = (),
        compare_url: str | None = None,
    ) -> str:
        config: dict[str, Any] = {
            "mode": "compare" if compare else "run",
            "runs": [feed.config() for feed in feeds],
            "note": note,
            "links": [{"text": link.text, "url": link.url} for link in links],
            "compare_url": compare_url,
        }
        # Inside <script>, "</" must not appear; JSON allows "\u003c" for "<".
        text = json.dumps(config).replace("<", "\\u003c")
        head, middle, tail = self._parts
        return head + html.escape(title) + middle + text + tail

    def render(
        self,
        run_id: str,
        *,
        events: list[Delivered],
        events_url: str | None,
        note: str = "",
        ended: bool = False,
        links: list[Link] | tuple[Link, ...] = (),
        compare_url: str | None = "/progress",
        live_url: str = "",
    ) -> str:
        """The page of one run (the live page, or the snapshot when `events` are given)."""
        feed = RunFeed(run_id, events, events_url, ended, live_url)
        return self.page(
            f"Progress of run {run_id}", [feed], note=note, links=links, compare_url=compare_url
        )
