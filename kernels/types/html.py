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
"""

from __future__ import annotations

from typing import Any

from kfp_viz_kernels import sources
from kfp_viz_kernels.viz_errors import DataError
from kfp_viz_kernels.widgets import esc, scripts, show

DEFAULT_HEIGHT = 600
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
    show(frame_html(document, height), "html")


def frame_html(document: str, height: float | None = None) -> str:
    """The document in a sandboxed frame: `height` pixels tall, or sized to its content."""
    fixed = height is not None
    sized = "" if fixed else scripts("html.js", skip=("common.js",))
    shown = document if fixed else document + SIZE_REPORTER
    return (
        f'<iframe class="kv-html" title="HTML document" sandbox="allow-scripts" '
        f'style="width:100%;height:{int(height or DEFAULT_HEIGHT)}px;'
        f'border:1px solid var(--kv-line)" srcdoc="{esc(shown)}">'
        f"</iframe>{sized}"
    )
