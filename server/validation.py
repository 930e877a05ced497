"""The one validation of a visualization request, shared by HTTP and gRPC.

Both protocols hand over the same three text fields (`type`, `source`,
`arguments`) plus a requested timeout, and get back either a `RenderRequest`
or a `RequestFailed` whose message is identical on both.

The first four checks, their order and their messages are the stock server's,
byte for byte (the KFP UI shows the message as the error):
  1. no type                      → "No type provided."
  2. arguments not JSON           → "Invalid JSON provided as arguments: <json error>"
  3. arguments JSON, not object   → "Invalid JSON provided as arguments!"
  4. empty source (not custom)    → "No source provided."
Then the checks the stock server lacked: the type must be one the server routes
(server/routing.py; a name is never used as a path), code (a `custom` type, or an
argument its type declares to be code) needs ALLOW_CUSTOM_VISUALIZATIONS, custom code
must be a list of lines, and the type must exist in this build.

`arguments` must also be JSON the rest of the way can carry: nested at most
MAX_DEPTH levels (Python's parser gives up, with a RecursionError, near 1,000; the
kernel's own decoding sooner), made of Unicode text (JSON's `\ud800` escapes a lone
surrogate, which no UTF-8 encoder takes), and of at most MAX_VALUES values, counted
before it is parsed: 30 MB of `[{},{},...]` are ten million Python objects, close to
a gigabyte, and parsing even a million holds the interpreter (and so the event loop)
for half a second in one C call. Each is a 400 saying so.

Last, whose render it is: the namespace (with --serve-profiles, from the Host or KFP's
gRPC field; "" otherwise) must be a namespace's name, and a `minio://` or `s3://` source
must not reach another namespace's private folder (403, server/profiles.py). The
namespace travels on the `RenderRequest`, so every later part knows whose render it is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from kfp_viz.safe_text import MAX_DEPTH, json_problem, printable
from kfp_viz_kernels import CUSTOM, RenderRequest, VisualizationType, lookup

from .errors import ErrorKind, RequestFailed
from .profiles import check_namespace, refuse_foreign_source
from .stored_page import valid_page_id

TIMEOUT_HEADER = "X-Visualization-Timeout"
MAX_VALUES = 200_000


def validate(
    type_name: str | None,
    source: str | None,
    arguments: str | None,
    *,
    timeout: float,
    allow_custom: bool,
    types: Callable[[str], VisualizationType | None] | None = None,
    namespace: str = "",
) -> RenderRequest:
    """Check a request's fields in the stock order; return what to render.

    `types` finds a routed type by name (server/routing.py); by default, the kernels'
    registry. `namespace`: whose render it is ("" = the server's own).
    """
    type_name = (type_name or "").strip()
    if not type_name:
        raise RequestFailed(ErrorKind.INVALID, "No type provided.")
    variables = _parse_arguments("{}" if arguments is None else arguments)
    source = (source or "").strip()
    if type_name != CUSTOM and not source:
        raise RequestFailed(ErrorKind.INVALID, "No source provided.")
    viz_type = (types or lookup)(type_name)
    if viz_type is None:
        raise RequestFailed(
            ErrorKind.INVALID, f"Unknown visualization type: {printable(type_name)}"
        )
    _check_code_allowed(viz_type, variables, allow_custom)
    if not viz_type.implemented:
        raise RequestFailed(
            ErrorKind.NOT_IMPLEMENTED,
            f"Visualization type {viz_type.name} is not implemented by this server yet",
        )
    check_namespace(namespace)
    refuse_foreign_source(source, namespace)
    return RenderRequest(
        type=viz_type, variables=variables, source=source, timeout=timeout, namespace=namespace
    )


def _parse_arguments(text: str) -> dict[str, Any]:
    variables, problem = None, None
    if too_many_values(text):
        raise RequestFailed(
            ErrorKind.INVALID,
            f"Invalid JSON provided as arguments: too large to parse: more than {MAX_VALUES} "
            "values",
        )
    try:
        variables = json.loads(text)
    except json.JSONDecodeError as error:
        problem = str(error)  # raised below, so the error (which holds `text`) is let go
    except RecursionError:
        problem = f"nested deeper than {MAX_DEPTH} levels"
    else:
        problem = json_problem(variables)
    if problem:
        raise RequestFailed(ErrorKind.INVALID, f"Invalid JSON provided as arguments: {problem}")
    if not isinstance(variables, dict):
        raise RequestFailed(ErrorKind.INVALID, "Invalid JSON provided as arguments!")
    return variables


def too_many_values(text: str | bytes, limit: int = MAX_VALUES) -> bool:
    """Whether `text`, as JSON, may hold more than `limit` values: one more than its commas
    and openings, counted at C speed without parsing (those inside strings count too)."""
    if len(text) <= limit:
        return False  # no more values than characters
    if isinstance(text, str):
        marks = sum(text.count(mark) for mark in (",", "[", "{"))
    else:
        marks = sum(text.count(mark) for mark in (b",", b"[", b"{"))
    return 1 + marks > limit


def _check_code_allowed(
    viz_type: VisualizationType, variables: dict[str, Any], allow_custom: bool
) -> None:
    if viz_type.is_custom:
        if not allow_custom:
            raise RequestFailed(
                ErrorKind.FORBIDDEN,
                "Custom visualizations are disabled on this server; set "
                "ALLOW_CUSTOM_VISUALIZATIONS=true on the visualization server to allow them",
            )
        code = variables.get("code", [])  # none: the stock server's empty page (a 200)
        if not isinstance(code, list) or not all(isinstance(line, str) for line in code):
            raise RequestFailed(
                ErrorKind.INVALID,
                'Custom visualizations need arguments "code": a list of lines of Python',
            )
    elif (argument := viz_type.code_given(variables)) and not allow_custom:
        raise RequestFailed(
            ErrorKind.FORBIDDEN,
            f"{viz_type.name}'s {argument} is Python code, and custom code is disabled on this "
            "server; set ALLOW_CUSTOM_VISUALIZATIONS=true to allow it",
        )


def timeout_from_header(value: str | None, *, default: float, maximum: float) -> float:
    """The render timeout an HTTP request asks for, capped by the server's maximum."""
    if value is None or not value.strip():
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not seconds > 0 or math.isinf(seconds):
        raise RequestFailed(
            ErrorKind.INVALID,
            f"Invalid {TIMEOUT_HEADER} header: expected a positive number of seconds, "
            f"got {printable(value)}",
        )
    return min(seconds, maximum)


def timeout_from_deadline(remaining: float | None, *, default: float, maximum: float) -> float:
    """The render timeout a gRPC call's deadline leaves, capped by the server's maximum."""
    if remaining is None:
        return default
    return max(min(remaining, maximum), 0.001)


def validate_page_id(page_id: str) -> str:
    """A stored page's id (GET /visualizations/<id>, FetchVisualization): never a path."""
    if not valid_page_id(page_id):
        raise RequestFailed(
            ErrorKind.INVALID,
            f"Invalid page id {printable(page_id)}: expected the 64 lowercase hex digits of "
            "a page's SHA-256",
        )
    return page_id
