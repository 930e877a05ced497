"""The `test` type: a trivial page with no dependencies.

Used by health checks, benchmarks and tests. It shows the data it received, so
a test can check that `source` and `variables` reached the kernel unchanged.
Like every predefined type, what it prints is hidden from the page.
"""

from __future__ import annotations

import html
import json
from typing import Any

from IPython.display import HTML, display


def render(variables: dict[str, Any], source: str) -> None:
    print("the test type ran")  # hidden: predefined types show rich output only
    display(
        HTML(
            '<div class="kfp-viz-test"><h3>Test visualization</h3>'
            f'<pre id="source">{html.escape(source)}</pre>'
            f'<pre id="variables">{html.escape(json.dumps(variables, sort_keys=True))}</pre>'
            "</div>"
        )
    )
