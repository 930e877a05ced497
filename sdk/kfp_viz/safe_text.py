"""Text that has to travel: whether decoded JSON can be sent on, and how a value is quoted.

Both the event schema (here, in the SDK) and the server's request validation refuse the same
things and quote bad values the same way, so the one definition lives at the bottom of the
house, where both can import it: the SDK needs nothing of the server. Standard library only.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 100
"""JSON nested deeper is refused: Python's parser gives up near 1,000 levels (RecursionError),
and every later re-encoding (gRPC, a kernel's decoding) sooner."""
ECHO_LIMIT = 64
"""Characters of a refused value that an error message repeats."""


def json_problem(value: Any, max_depth: int = MAX_DEPTH) -> str | None:
    """Why decoded JSON cannot travel on (too deep, a lone surrogate), or None. Iterative:
    the structures it checks are the ones too deep for recursion."""
    todo = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, str):
            problem = None if item.isascii() else _surrogate(item)
            if problem:
                return problem
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                return f"nested deeper than {max_depth} levels"
            if isinstance(item, dict):
                todo.extend((key, depth) for key in item)
                todo.extend((child, depth + 1) for child in item.values())
            else:
                todo.extend((child, depth + 1) for child in item)
    return None


def _surrogate(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        code = ord(text[error.start])
        return (
            f"a string holds the lone surrogate \\u{code:04x}, which is not Unicode text "
            "(a UTF-16 escape without its pair)"
        )
    return None


def printable(value: str, limit: int = ECHO_LIMIT) -> str:
    """`value` (a request's own text) made safe to echo inside a message that may become an
    HTTP reason phrase: cut to `limit` characters first, then escaped, line breaks included,
    so what was sent stays recognisable (`\\x0a` where it had a newline)."""
    shown = value if len(value) <= limit else value[:limit] + "..."
    return escaped(shown)


def escaped(text: str, line_breaks: str | None = None) -> str:
    """Printable ASCII only: anything else, and `<` `>`, as `\\xNN` (or `\\uNNNN`), never
    dropped (Tornado sends "Unknown" for a reason with `<` or a character past Latin-1);
    with `line_breaks`, CR, LF and tab become that text instead."""
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    return "".join(_escaped_char(ch, line_breaks) for ch in text)


def _escaped_char(ch: str, line_breaks: str | None) -> str:
    if line_breaks is not None and ch in "\r\n\t":
        return line_breaks
    return ch if ch.isprintable() and ch not in "<>" else f"\\x{ord(ch):02x}"
