"""ANSI terminal colours (as in IPython tracebacks) to HTML spans.

Tracebacks arrive coloured with SGR escape codes. Pages show them with the same
colours through a handful of CSS classes (`ansi-red`, `ansi-bold`, ...) defined
in the page template; every other escape sequence is dropped.
"""

from __future__ import annotations

import html
import re

_ESCAPE = re.compile(r"\x1b\[([0-9;]*)([A-Za-z])")
_COLOURS = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")


def ansi_to_html(text: str) -> str:
    """Escape `text` for HTML and turn its colour codes into `<span class=...>`."""
    parts: list[str] = []
    classes: list[str] = []
    position = 0
    for match in _ESCAPE.finditer(text):
        parts.append(_wrap(text[position : match.start()], classes))
        position = match.end()
        if match.group(2) == "m":
            classes = _apply_sgr(classes, match.group(1))
    parts.append(_wrap(text[position:], classes))
    return "".join(parts)


def _wrap(chunk: str, classes: list[str]) -> str:
    if not chunk:
        return ""
    escaped = html.escape(chunk, quote=False)
    if not classes:
        return escaped
    return f'<span class="{" ".join(classes)}">{escaped}</span>'


def _apply_sgr(classes: list[str], params: str) -> list[str]:
    """The classes in effect after one SGR sequence (`ESC[...m`)."""
    foreground = [c for c in classes if c != "ansi-bold"]
    bold = "ansi-bold" in classes
    codes = [int(code) for code in params.split(";") if code] or [0]
    for code in codes:
        if code == 0:
            foreground, bold = [], False
        elif code == 1:
            bold = True
        elif code == 22:
            bold = False
        elif 30 <= code <= 37:
            foreground = [f"ansi-{_COLOURS[code - 30]}"]
        elif 90 <= code <= 97:
            foreground = [f"ansi-{_COLOURS[code - 90]}", "ansi-bright"]
        elif code == 39:
            foreground = []
    return foreground + (["ansi-bold"] if bold else [])
