"""Export a render's outputs as one self-contained HTML page.

The page needs nothing from the network: no CDN scripts or styles, only what
the outputs themselves carry. The template is read from disk once, when the
`PageTemplate` is built, and split around its two markers so that each render
is a few string joins.

Each output shows its richest representation, in the order a notebook front
end would pick: a plotly figure, JavaScript, HTML, images, LaTeX/Markdown source,
JSON, plain text. Only the type's own rich outputs reach the page; streams are
shown for `custom` only (the caller filters them), as in the stock server.

A plotly figure (its JSON, see `kfp_viz_kernels.plotting`) is drawn by the plotly.js that
the installed plotly package ships, inlined once per page before the first figure
and read from disk once per process; without plotly installed the figure falls
back to its other representations.
"""

from __future__ import annotations

import functools
import html
import importlib.util
import json
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from .ansi import ansi_to_html
from .outputs import Output
from .plotting import PLOTLY_MIME

TITLE_MARK = "<!--title-->"
BODY_MARK = "<!--body-->"


class PageTemplate:
    """A page skeleton with a title and a body slot, parsed once."""

    def __init__(self, text: str) -> None:
        head, title_rest = _split_once(text, TITLE_MARK)
        middle, tail = _split_once(title_rest, BODY_MARK)
        self._head, self._middle, self._tail = head, middle, tail

    @classmethod
    def default(cls) -> PageTemplate:
        """The template shipped with the package."""
        text = resources.files(__package__).joinpath("templates/page.html").read_text("utf-8")
        return cls(text)

    def render(self, outputs: Iterable[Output], title: str) -> str:
        """The page, built by one join over parts that reference the outputs' own strings.

        A 100 MB output is copied once, into the page: no per-output or body string
        is built first, which would be a third copy at the peak.
        """
        parts = [self._head, html.escape(title), self._middle]
        inlined: set[str] = set()  # libraries already on this page
        for index, output in enumerate(outputs):
            if index:
                parts.append("\n")
            parts.extend(_output_parts(output, inlined))
        parts.append(self._tail)
        return "".join(parts)


def _split_once(text: str, mark: str) -> tuple[str, str]:
    if text.count(mark) != 1:
        raise ValueError(f"page template must contain {mark} exactly once")
    before, after = text.split(mark)
    return before, after


def _output_parts(output: Output, inlined: set[str]) -> tuple[str, ...]:
    kind = output["output_type"]
    if kind == "stream":
        text = html.escape(output["text"], quote=False)
        return f'<div class="output stream-{output["name"]}"><pre>', text, "</pre></div>"
    if kind == "error":
        traceback = ansi_to_html("\n".join(output["traceback"]))
        return '<div class="output error"><pre>', traceback, "</pre></div>"
    return ('<div class="output">', *_mime_parts(output.get("data", {}), inlined), "</div>")


def _mime_parts(data: dict[str, Any], inlined: set[str]) -> tuple[str, ...]:
    """The richest representation of a MIME bundle, as HTML (pieces, joined by the caller)."""
    if PLOTLY_MIME in data and plotly_js() is not None:
        library = () if "plotly" in inlined else ("<script>", plotly_js(), "</script>")
        inlined.add("plotly")
        figure = json.dumps(data[PLOTLY_MIME], separators=(",", ":")).replace("<", "\\u003c")
        return (*library, PLOTLY_FIGURE_HEAD, figure, PLOTLY_FIGURE_TAIL)
    if "application/javascript" in data:
        return "<script>", _text(data["application/javascript"]), "</script>"
    if "text/html" in data:
        return (_text(data["text/html"]),)
    if "image/svg+xml" in data:
        return (_text(data["image/svg+xml"]),)
    for mime in ("image/png", "image/jpeg", "image/gif"):
        if mime in data:
            encoded = _text(data[mime])
            if "\n" in encoded:
                encoded = encoded.replace("\n", "")
            return f'<img src="data:{mime};base64,', encoded, '" alt="">'
    for mime in ("text/latex", "text/markdown"):
        if mime in data:
            return "<pre>", html.escape(_text(data[mime]), quote=False), "</pre>"
    if "application/json" in data:
        return "<pre>", html.escape(json.dumps(data["application/json"], indent=2)), "</pre>"
    if "text/plain" in data:
        return "<pre>", ansi_to_html(_text(data["text/plain"])), "</pre>"
    return ()


PLOTLY_FIGURE_HEAD = '<div class="plotly-figure"></div><script type="application/json">'
# Draws the figure; in dark mode (and again when the reader's scheme changes) with the page's
# dark colours over the figure's own: backgrounds, text, grid and axis lines.
PLOTLY_FIGURE_TAIL = (
    "</script><script>(function (s) { var json = s.previousElementSibling;"
    " var figure = JSON.parse(json.textContent), box = json.previousElementSibling;"
    " var config = Object.assign({responsive: true, displaylogo: false}, figure.config || {});"
    " var dark = window.matchMedia && matchMedia('(prefers-color-scheme: dark)');"
    " function layout() { var l = JSON.parse(JSON.stringify(figure.layout || {}));"
    " if (!dark || !dark.matches) return l;"
    " l.paper_bgcolor = '#1f1f1f'; l.plot_bgcolor = '#26272a';"
    " l.font = Object.assign({}, l.font, {color: '#e8eaed'});"
    " Object.keys(l).concat(['xaxis', 'yaxis']).forEach(function (k) {"
    " if (!/^[xy]axis[0-9]*$/.test(k)) return;"
    " l[k] = Object.assign({}, l[k], {gridcolor: '#3c4043', zerolinecolor: '#5f6368',"
    " linecolor: '#80868b'}); });"
    " if (l.legend) l.legend = Object.assign({}, l.legend, {bgcolor: 'rgba(0,0,0,0)'});"
    " return l; }"
    " Plotly.newPlot(box, figure.data || [], layout(), config);"
    " if (dark && dark.addEventListener) dark.addEventListener('change', function () {"
    " Plotly.react(box, figure.data || [], layout(), config); });"
    "})(document.currentScript);</script>"
)


@functools.cache
def plotly_js() -> str | None:
    """plotly.js as the installed plotly package ships it (found without importing plotly)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "package_data" / "plotly.min.js"
    return path.read_text("utf-8") if path.is_file() else None


def _text(value: str | list[str]) -> str:
    """MIME data may arrive as one string or a list of lines (nbformat allows both)."""
    return value if isinstance(value, str) else "".join(value)
