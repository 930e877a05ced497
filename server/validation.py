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
Then the checks the stock server lacked: the type must be registered (it is
never used as a path), code-running features need ALLOW_CUSTOM_VISUALIZATIONS,
custom code must be a list of lines, and the type must exist in this build.
"""

from __future__ import annotations

import json
import math
from typing import Any

from kernels import CUSTOM, RenderRequest, VisualizationType, lookup

from .errors import ErrorKind, RequestFailed
from .stored_page import valid_page_id

TIMEOUT_HEADER = "X-Visualization-Timeout"
_REASON_ECHO_LIMIT = 64


def validate(
    type_name: str | None,
    source: str | None,
    arguments: str | None,
    *,
    timeout: float,
    allow_custom: bool,
) -> RenderRequest:
    """Check a request's fields in the stock order; return what to render."""
    type_name = (type_name or "").strip()
    if not type_name:
        raise RequestFailed(ErrorKind.INVALID, "No type provided.")
    variables = _parse_arguments("{}" if arguments is None else arguments)
    source = (source or "").strip()
    if type_name != CUSTOM and not source:
        raise RequestFailed(ErrorKind.INVALID, "No source provided.")
    viz_type = lookup(type_name)
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
    return RenderRequest(type=viz_type, variables=variables, source=source, timeout=timeout)


def _parse_arguments(text: str) -> dict[str, Any]:
    try:
        variables = json.loads(text)
    except json.JSONDecodeError as error:
        raise RequestFailed(
            ErrorKind.INVALID, f"Invalid JSON provided as arguments: {error}"
        ) from None
    if not isinstance(variables, dict):
        raise RequestFailed(ErrorKind.INVALID, "Invalid JSON provided as arguments!")
    return variables


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
        code = variables.get("code")
        if not isinstance(code, list) or not all(isinstance(line, str) for line in code):
            raise RequestFailed(
                ErrorKind.INVALID,
                'Custom visualizations need arguments "code": a list of lines of Python',
            )
    elif viz_type.name == "roc_curve" and variables.get("target_lambda") and not allow_custom:
        raise RequestFailed(
            ErrorKind.FORBIDDEN,
            "roc_curve's target_lambda is Python code, and custom code is disabled on this "
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


def printable(value: str) -> str:
    """`value` made safe to echo in an HTTP reason phrase: ASCII, no controls, no markup."""
    shown = value if len(value) <= _REASON_ECHO_LIMIT else value[:_REASON_ECHO_LIMIT] + "..."
    escaped = shown.encode("ascii", "backslashreplace").decode("ascii")
    return "".join(
        ch if ch.isprintable() and ch not in "<>" else f"\\x{ord(ch):02x}" for ch in escaped
    )


def validate_page_id(page_id: str) -> str:
    """A stored page's id (GET /visualizations/<id>, FetchVisualization): never a path."""
    if not valid_page_id(page_id):
        raise RequestFailed(
            ErrorKind.INVALID,
            f"Invalid page id {printable(page_id)}: expected the 64 lowercase hex digits of "
            "a page's SHA-256",
        )
    return page_id
