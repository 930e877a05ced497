"""The error a built-in type raises for bad input: shown on the page as one readable line.

A missing source, an empty match, an unreadable CSV or a wrong schema is the
user's data, not a bug in our code, so the page shows the message alone (which
names the source and the cause) instead of a traceback through our modules.
IPython asks an exception for `_render_traceback_()` before formatting one;
the kernel still replies with an error, so gRPC callers get
`Visualization.error` = `VisualizationError: <message>` and the HTTP reply
stays a 200 page, as for any error raised by a visualization's code.
"""

from __future__ import annotations


class VisualizationError(Exception):
    """Bad input to a built-in type; the message is what the user sees."""

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[1;31m{type(self).__name__}\x1b[0m: {self}"]


class DataError(VisualizationError):
    """The source was read but its content is not what the type needs."""
