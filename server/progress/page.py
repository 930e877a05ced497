"""The progress pages: the live run page, the run comparison, and the `progress` snapshot.

One self-contained template (no CDN: the pages must work offline and inside the KFP UI's
sandboxed iframe) with its style and script inlined, and uPlot, the chart library the
built-in types already vendor (`kernels/assets/vendor/uplot`, fetched and checked by
`scripts/vendor_assets.py`), inlined beside them. Each page gets a JSON config: the runs
it shows, each with the events known so far (with their cursors) and the URL of the
server-sent events to follow, if any, and where its links lead (urls.py: relative to the
page, so it works under any path prefix). The run list (runs.html, runs.js) is a page of the
same style that fetches `/progress/runs` itself. The browser draws everything and applies history
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
from .urls import PageUrls

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

    def config(self, urls: PageUrls | None) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "events": [{**d.event.to_dict(), "cursor": d.cursor.text()} for d in self.events],
            "events_url": self.events_url,
            "ended": self.ended,
            "live_url": self.live_url or (urls.live(self.run_id) if urls else ""),
        }


@dataclass(frozen=True)
class Link:
    text: str
    url: str


def nav_links(urls: PageUrls, run_ids: list[str], *, compare: bool = False) -> list[Link]:
    """The links every progress page offers: the run list, and the list with this page's
    runs picked, to compare them with others (or change the runs compared)."""
    pick = "Change the runs compared" if compare else "Compare with other runs"
    return [Link("All runs", urls.run_list()), Link(pick, urls.run_list(run_ids))]


class _Template:
    """The pages' shell (page.html) around one page's body, its style and scripts inlined,
    split once around `__TITLE__` and `__CONFIG__`, so nothing inlined is ever mistaken for a
    placeholder."""

    def __init__(self, shell: str, body: str, style: str, scripts: list[str]) -> None:
        head, _, rest = shell.replace("__BODY__", body).partition("__TITLE__")
        middle, _, tail = rest.partition("__CONFIG__")
        before, _, after = tail.partition("__SCRIPT__")
        self.parts = (head, middle.replace("__STYLE__", style))
        self.scripts = [f'">{script}</script>' for script in scripts]
        """Each script after its tag's nonce: `<script nonce="` + nonce + this."""
        self.tail = (before, after)

    @property
    def weight(self) -> int:
        scripts = "\n".join(f'<script nonce="{s}' for s in self.scripts)
        return sum(len(part.encode()) for part in (*self.parts, *self.tail, scripts))

    def fill(self, title: str, config: dict[str, Any], nonce: str = "") -> str:
        """The page; `nonce` marks its scripts as its own (http_limits.own_page_policy)."""
        # Inside <script>, "</" must not appear; JSON allows "\u003c" for "<".
        text = json.dumps(config).replace("<", "\\u003c")
        head, middle = self.parts
        opening = '<script nonce="' + html.escape(nonce)
        scripts = "\n".join(opening + script for script in self.scripts)
        return head + html.escape(title) + middle + text + self.tail[0] + scripts + self.tail[1]


def _uplot() -> tuple[str, str]:
    vendor = resources.files("kfp_viz_kernels").joinpath("assets", "vendor", "uplot")
    css, script = (vendor.joinpath(name).read_text("utf-8") for name in UPLOT)
    return css, script


def _inline(styles: list[str], scripts: list[str]) -> tuple[str, list[str]]:
    return "<style>" + "\n".join(styles) + "</style>", scripts


class LivePage:
    """The progress pages' templates with their assets inlined, read once: the live page (also
    the comparison and the snapshot) with uPlot, and the run list, in the same style."""

    def __init__(self, folder: Path = TEMPLATES) -> None:
        uplot_css, uplot_script = _uplot()
        css, common, live, runs = (
            (folder / name).read_text() for name in ("live.css", "common.js", "live.js", "runs.js")
        )
        shell = (folder / "page.html").read_text()
        self._live = _Template(
            shell,
            (folder / "live.html").read_text(),
            *_inline([uplot_css, css], [uplot_script, common, live]),
        )
        self._list = _Template(
            shell, (folder / "runs.html").read_text(), *_inline([css], [common, runs])
        )

    @property
    def weight(self) -> int:
        """Bytes of the live page before any config: what every page costs (docs, bench)."""
        return self._live.weight

    def page(
        self,
        title: str,
        feeds: list[RunFeed],
        *,
        urls: PageUrls | None,
        compare: bool = False,
        note: str = "",
        links: list[Link] | tuple[Link, ...] = (),
        nonce: str = "",
    ) -> str:
        """`urls`: where the page's links lead (None: a snapshot that can link nowhere);
        `nonce`: the response's, which its policy names (http_limits.own_page_policy)."""
        config: dict[str, Any] = {
            "mode": "compare" if compare else "run",
            "runs": [feed.config(urls) for feed in feeds],
            "note": note,
            "links": [{"text": link.text, "url": link.url} for link in links],
            "urls": urls.for_script() if urls else None,
        }
        return self._live.fill(title, config, nonce)

    def render(
        self,
        run_id: str,
        *,
        events: list[Delivered],
        events_url: str | None,
        urls: PageUrls | None,
        note: str = "",
        ended: bool = False,
        links: list[Link] | tuple[Link, ...] = (),
        live_url: str = "",
        nonce: str = "",
    ) -> str:
        """The page of one run (the live page, or the snapshot when `events` are given)."""
        feed = RunFeed(run_id, events, events_url, ended, live_url)
        title = f"Progress of run {run_id}"
        return self.page(title, [feed], urls=urls, note=note, links=links, nonce=nonce)

    def run_list(
        self, urls: PageUrls, selected: list[str], max_compared: int, nonce: str = ""
    ) -> str:
        """The run list (`GET /progress`): it fetches the runs itself, `selected` picked, at
        most `max_compared` to compare."""
        config = {
            "mode": "list",
            "urls": urls.for_script(),
            "selected": selected,
            "max_compared": max_compared,
        }
        return self._list.fill("Runs", config, nonce)
