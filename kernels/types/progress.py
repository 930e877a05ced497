"""The `progress` type is served by the server from its progress hub, never in a kernel.

It is registered so that requests for it pass the same validation as every other type;
the server answers them at the edge (server/progress/view.py). If a kernel ever runs
this module, the page says so instead of failing obscurely.
"""

from __future__ import annotations

from IPython.display import HTML, display


def render(variables: dict, source: str) -> None:
    display(HTML("<p>The progress view is served by the server's progress hub, not a kernel.</p>"))
