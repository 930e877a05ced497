"""The progress page: one self-contained template (no CDN) for the live page and the snapshot.

The page gets a JSON config (run id, the events known so far with their cursors, and
the URL of the server-sent events to follow, if any) and draws everything in the
browser: a bar per step, status colours, an SVG curve per metric. The live page
starts empty and follows from the beginning; the snapshot (the KFP UI's view) carries
the history and follows from its last cursor, so both apply events the same way.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from .hub import Delivered

TEMPLATE = Path(__file__).parent / "templates" / "live.html"


class LivePage:
    """The template, read once."""

    def __init__(self, template: Path = TEMPLATE) -> None:
        self._template = template.read_text()

    def render(
        self,
        run_id: str,
        *,
        events: list[Delivered],
        events_url: str | None,
        note: str = "",
        ended: bool = False,
    ) -> str:
        config: dict[str, Any] = {
            "run_id": run_id,
            "events": [{**d.event.to_dict(), "cursor": d.cursor.text()} for d in events],
            "events_url": events_url,
            "note": note,
            "ended": ended,
        }
        # Inside <script>, "</" must not appear; JSON allows "\/" and "\u003c" for it.
        text = json.dumps(config).replace("<", "\\u003c")
        return self._template.replace("__TITLE__", html.escape(run_id)).replace("__CONFIG__", text)
