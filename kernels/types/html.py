"""The `html` type: an HTML artifact shown as is, in a frame of its own.

`source` names an HTML file (any kind of source), or, with
`{"storage": "inline"}` as in KFP's output metadata, is the HTML itself. The
document keeps its own head, styles and scripts: it goes into an
`<iframe sandbox="allow-scripts" srcdoc=...>`, as the KFP UI shows web-app
artifacts, `height` pixels tall (default 600).
"""

from __future__ import annotations

from kernels import sources
from kernels.viz_errors import DataError
from kernels.widgets import esc, show

DEFAULT_HEIGHT = 600


def render(variables: dict, source: str) -> None:
    if variables.get("storage") == "inline":
        document = source
    else:
        locations = sources.match(source)
        if len(locations) > 1:
            raise DataError(f"{source!r} matches {len(locations)} files; html shows one document")
        document = sources.read_text(locations[0])
    height = variables.get("height", DEFAULT_HEIGHT)
    if not isinstance(height, int | float) or isinstance(height, bool) or not 0 < height < 100000:
        raise DataError('"height" must be a number of pixels')
    show(
        f'<iframe class="kv-html" sandbox="allow-scripts" style="width:100%;height:{int(height)}px;'
        f'border:1px solid #e0e0e0" srcdoc="{esc(document)}"></iframe>',
        "html",
    )
