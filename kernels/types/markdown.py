"""The `markdown` type: a Markdown document rendered to HTML.

`source` names a Markdown file (any kind of source), or, with
`{"storage": "inline"}` as in KFP's output metadata, is the Markdown text itself.
Tables, fenced code and the other common extensions are on; raw HTML in the
document passes through (the page is sandboxed by the KFP UI's iframe). Table
columns keep the alignment the document gives them (`:--`, `:-:`, `--:`; left when
it gives none, as Markdown's readers show them), and blockquotes and code are
styled for light and dark mode. An argument the type does not know is named on the
page.
"""

from __future__ import annotations

from typing import Any

import markdown as markdown_lib
from kfp_viz_kernels import sources
from kfp_viz_kernels.widgets import show, style, unknown_arguments

ARGUMENTS = ("storage",)
EXTENSIONS = ("extra", "sane_lists", "toc")


def render(variables: dict[str, Any], source: str) -> None:
    if variables.get("storage") == "inline":
        text = source
    else:
        text = "\n\n".join(sources.read_text(loc) for loc in sources.match(source))
    body = style("markdown.css") + f'<div class="kv-markdown">{to_html(text)}</div>'
    show(body, "markdown", notes=unknown_arguments(variables, ARGUMENTS))


def to_html(text: str) -> str:
    return markdown_lib.markdown(text, extensions=list(EXTENSIONS), output_format="html")


def _warm_up() -> None:
    """Run the library calls a render makes once, on tiny data, at import.

    The kernel factory imports this module before forking kernels, so lazy
    imports and first-call set-up inside the libraries happen there, once,
    instead of in every new kernel's first render.
    """
    to_html("# a\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\ncode\n```\n")


_warm_up()
