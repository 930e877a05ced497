"""The `html` type: an HTML artifact shown as is, in a frame of its own.

`source` names an HTML file (any kind of source), or, with
`{"storage": "inline"}` as in KFP's output metadata, is the HTML itself. The
document keeps its own head, styles and scripts: it goes into an
`<iframe sandbox="allow-scripts" srcdoc=...>`, as the KFP UI shows web-app
artifacts. Without `height` the frame is sized to the document: a small script
appended to it posts the document's height to this page whenever it changes (the
sandbox keeps the frame's content unreadable from outside, and this is what it
allows); a document whose own policy blocks scripts keeps the 600-pixel default.
With `height` (pixels) the frame has that fixed height.

Dark mode: a document that sets no colours of its own (no `color`, `background`,
`bgcolor`, linked stylesheet or `color-scheme` of its own) is given
`<meta name="color-scheme" content="light dark">`, so the browser draws it with dark
defaults on a dark page, like the page around it. A document with colours of its own
keeps them, in a bordered white frame: its author chose them. An argument the type
does not know is named on the page.
"""

from __future__ import annotations

import re
from typing import Any

from kfp_viz_kernels import sources
from kfp_viz_kernels.viz_errors import DataError
from kfp_viz_kernels.widgets import esc, scripts, show, style, unknown_arguments

ARGUMENTS = ("storage", "height")
DEFAULT_HEIGHT = 600
# Signs that a document chose its own colours (then it keeps them).
OWN_COLOURS = re.compile(
    r"background|(?<![\w-])color\s*:|bgcolor\s*=|color-scheme|<link\b[^>]*stylesheet", re.I
)
ADAPTS = '<meta name="color-scheme" content="light dark">'

# Appended to the document: posts its height to the page holding the frame.
SIZE_REPORTER = (
    "<script>(function () { var last = 0; function post() {"
    " var height = Math.ceil(document.documentElement.getBoundingClientRect().height);"
    " if (height !== last) { last = height; parent.postMessage({kfpVizHeight: height}, '*'); } }"
    " addEventListener('load', post); if (window.ResizeObserver)"
    " new ResizeObserver(post).observe(document.documentElement); post(); })();</script>"
)


def render(variables: dict[str, Any], source: str) -> None:
    if variables.get("storage") == "inline":
        document = source
    else:
        locations = sources.match(source)
        if len(locations) > 1:
            raise DataError(f"{source!r} matches {len(locations)} files; html shows one document")
        document = sources.read_text(locations[0])
    height = variables.get("height")
    if height is not None and (
        not isinstance(height, int | float) or isinstance(height, bool) or not 0 < height < 100000
    ):
        raise DataError('"height" must be a number of pixels')
    show(frame_html(document, height), "html", notes=unknown_arguments(variables, ARGUMENTS))


def frame_html(document: str, height: float | None = None) -> str:
    """The document in a sandboxed frame: `height` pixels tall, or sized to its content;
    dark-aware when the document sets no colours of its own."""
    fixed = height is not None
    sized = "" if fixed else scripts("html.js", skip=("common.js",))
    adapts = not OWN_COLOURS.search(document)
    shown = with_dark_defaults(document) if adapts else document
    shown = shown if fixed else shown + SIZE_REPORTER
    return (
        style("html.css")
        + f'<iframe class="kv-html{" kv-adapts" if adapts else ""}" title="HTML document" '
        f'sandbox="allow-scripts" style="height:{int(height or DEFAULT_HEIGHT)}px" '
        f'srcdoc="{esc(shown)}"></iframe>{sized}'
    )


def with_dark_defaults(document: str) -> str:
    """`document` with the color-scheme meta, in its head (after the doctype when it has no
    head tag: anything before a doctype would put the document in quirks mode)."""
    for tag in (r"<head\b[^>]*>", r"<!doctype[^>]*>"):
        found = re.search(tag, document, re.I)
        if found:
            return document[: found.end()] + ADAPTS + document[found.end() :]
    return ADAPTS + document
