"""KFP's form (`type`, `source`, `arguments`), parsed off the event loop and within limits.

A 28 MB urlencoded form takes seconds to unquote in Python, and `GET /` must answer the
kubelet within 2 s meanwhile, so the body is parsed, decoded and cleaned in a thread
(`offload`). Before the parse runs, Tornado's limits bound the work: at most MAX_FIELDS
urlencoded fields (counted before anything is split) or MAX_PARTS multipart parts. A
malformed body (no boundary, a part without `Content-Disposition`, an unterminated part,
too many fields) is a 400 naming what was wrong, never a 500.

Fields come out as Tornado's `get_body_argument` gives them to a handler, so the stock
server's behaviour holds: the last value of a field, control characters replaced by
spaces, surrounding whitespace stripped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tornado import httputil

from .errors import ErrorKind, RequestFailed
from .offload import SMALL, offload

MAX_FIELDS = 100
MAX_PARTS = 100
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
        httputil.parse_body_arguments(content_type, body, arguments, {}, headers, config=_CONFIG)
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
        fields[name] = _CONTROL.sub(" ", text).strip()
    sizes = {name: len(arguments.get(name, [b""])[0]) for name in FIELDS}
    return Form(fields, sizes)
