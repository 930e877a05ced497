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
# Signs that a document chose its own colours (then it keeps them): looked for in the
# lower-cased document, each pattern starting with a literal so a 2 MB document takes
# milliseconds (one case-insensitive alternation took over a second).
OWN_COLOURS_WORDS = ("background", "bgcolor", "color-scheme")
COLOUR_PROPERTY = re.compile(r"color\s*:")
STYLESHEET_LINK = re.compile(r"<link\b[^>]*stylesheet")
HEAD_TAG = re.compile(r"<head\b[^>]*>", re.I)
DOCTYPE = re.compile(r"<!doctype[^>]*>", re.I)
HEAD_WITHIN = 65536
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
    adapts = not has_own_colours(document)
    shown = with_dark_defaults(document) if adapts else document
    shown = shown if fixed else shown + SIZE_REPORTER
    return (
        style("html.css")
        + f'<iframe class="kv-html{" kv-adapts" if adapts else ""}" title="HTML document" '
        f'sandbox="allow-scripts" style="height:{int(height or DEFAULT_HEIGHT)}px" '
        f'srcdoc="{esc(shown)}"></iframe>{sized}'
    )


def has_own_colours(document: str) -> bool:
    """Whether the document sets colours: a background, a `color:` property (not a longer
    name ending in it, such as `border-color`, which says nothing about the text), a
    `bgcolor`, a `color-scheme` of its own, or a linked stylesheet (which may)."""
    low = document.lower()
    if any(word in low for word in OWN_COLOURS_WORDS):
        return True
    for found in COLOUR_PROPERTY.finditer(low):
        before = low[found.start() - 1 : found.start()]
        if not (before.isalnum() or before in ("-", "_")):
            return True
    return "stylesheet" in low and STYLESHEET_LINK.search(low) is not None


def with_dark_defaults(document: str) -> str:
    """`document` with the color-scheme meta, in its head (after the doctype when it has no
    head tag: anything before a doctype would put the document in quirks mode). Both come
    first in a document, so only its start is searched."""
    start = document[:HEAD_WITHIN]
    for tag in (HEAD_TAG, DOCTYPE):
        found = tag.search(start)
        if found:
            return document[: found.end()] + ADAPTS + document[found.end() :]
    return ADAPTS + document
