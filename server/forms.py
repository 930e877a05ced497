"""KFP's form (`type`, `source`, `arguments`), parsed off the event loop and within limits.

A 28 MB urlencoded form takes seconds to unquote in Python, and `GET /` must answer the
kubelet within 2 s meanwhile, so the body is parsed, decoded and cleaned in a thread
(`offload`). A thread is not enough by itself: a single C call holds the interpreter lock
until it returns, and the event loop waits it out. urllib's unquote splits a 28 MB value
on every `%` in one call (1.1 s here) and one regex over 30 MB takes 0.4 s, so values are
unquoted and cleaned a slice (SLICE) at a time. Before the parse runs the work is bounded:
at most MAX_FIELDS urlencoded fields (counted before anything is split) or MAX_PARTS
multipart parts (Tornado's parser, with these limits). A malformed body (no boundary, a
part without `Content-Disposition`, an unterminated part, too many fields) is a 400 naming
what was wrong, never a 500.

Fields come out as Tornado's `get_body_argument` gives them to a handler, so the stock
server's behaviour holds: the last value of a field, control characters replaced by
spaces, surrounding whitespace stripped.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from tornado import httputil

from .errors import ErrorKind, RequestFailed
from .offload import SMALL, offload

MAX_FIELDS = 100
MAX_PARTS = 100
SLICE = 2**18
"""Bytes unquoted, or characters cleaned, per C call (a few milliseconds each)."""
FIELDS = ("type", "source", "arguments")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")  # what Tornado replaces in arguments
_CONFIG = httputil.ParseBodyConfig(
    multipart=httputil.ParseMultipartConfig(max_parts=MAX_PARTS),
    urlencoded=httputil.ParseUrlEncodedConfig(max_arguments=MAX_FIELDS),
)


@dataclass(frozen=True)
class Form:
    """KFP's three fields (None when absent) and the raw sizes of the echoed ones."""

    fields: dict[str, str | None]
    raw_sizes: dict[str, int]
    """Bytes of each field as sent: KFP's API server echoes `source` and `arguments`."""


async def parse_form(content_type: str, body: bytes, headers: httputil.HTTPHeaders) -> Form:
    """The form in `body`, parsed in a thread; RequestFailed (400) when it is malformed."""
    if len(body) <= SMALL:
        return _parse(content_type, body, headers)
    return await offload(_parse, content_type, body, headers)


def _parse(content_type: str, body: bytes, headers: httputil.HTTPHeaders) -> Form:
    arguments: dict[str, list[bytes]] = {}
    try:
        if content_type.startswith(URLENCODED) and "Content-Encoding" not in headers:
            arguments = _urlencoded(body)
        else:
            httputil.parse_body_arguments(
                content_type, body, arguments, {}, headers, config=_CONFIG
            )
    except httputil.HTTPInputError as error:
        raise RequestFailed(ErrorKind.INVALID, f"Malformed form body: {error}") from None
    fields: dict[str, str | None] = {}
    for name in FIELDS:
        values = arguments.get(name)
        if not values:
            fields[name] = None
            continue
        try:
            text = values[-1].decode("utf-8")
        except UnicodeDecodeError as error:
            raise RequestFailed(
                ErrorKind.INVALID,
                f"Form field {name} is not UTF-8 text (byte {error.start}: {error.reason})",
            ) from None
        fields[name] = _clean(text).strip()
    sizes = {name: len(arguments.get(name, [b""])[0]) for name in FIELDS}
    return Form(fields, sizes)


URLENCODED = "application/x-www-form-urlencoded"


def _urlencoded(body: bytes) -> dict[str, list[bytes]]:
    """What Tornado's parse_body_arguments gives for an urlencoded body (urllib's parse_qs
    with blank values kept), values unquoted a slice at a time."""
    if body.count(b"&") + 1 > MAX_FIELDS:
        raise httputil.HTTPInputError(
            "Invalid x-www-form-urlencoded body: Max number of fields exceeded"
        )
    arguments: dict[str, list[bytes]] = {}
    for pair in body.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        key = _unquote(name.replace(b"+", b" ")).decode("latin1")
        arguments.setdefault(key, []).append(_unquote(value.replace(b"+", b" ")))
    return arguments


def _unquote(data: bytes) -> bytes:
    """urllib's unquote_to_bytes, in slices cut where a `%` starts."""
    if len(data) <= SLICE:
        return urllib.parse.unquote_to_bytes(data)
    pieces, start = [], 0
    while start < len(data):
        cut = data.find(b"%", start + SLICE)
        cut = len(data) if cut == -1 else cut
        pieces.append(urllib.parse.unquote_to_bytes(data[start:cut]))
        start = cut
    return b"".join(pieces)


def _clean(text: str) -> str:
    """Control characters replaced by spaces, as Tornado does, a slice at a time."""
    if len(text) <= SLICE:
        return _CONTROL.sub(" ", text)
    return "".join(_CONTROL.sub(" ", text[i : i + SLICE]) for i in range(0, len(text), SLICE))
