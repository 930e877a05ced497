"""What every gRPC service of ours shares: how a failure ends a call, and the names on the wire.

A `RequestFailed` ends a call the same way in every service: its kind's status code
(kfp_viz_server.errors), its message as the details (the text HTTP puts in its reason
phrase), and, when it carries a retry hint, a `retry-after` trailer, as HTTP sends
`Retry-After`. Servicers import this module, never each other.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, NoReturn

import grpc
from kfp_viz.pb import visualization_pb2

from .errors import RequestFailed


async def abort(context: grpc.aio.ServicerContext[Any, Any], failure: RequestFailed) -> NoReturn:
    """End the call with the failure's status code and message (and retry-after trailer)."""
    if failure.retry_after:
        context.set_trailing_metadata((("retry-after", str(failure.retry_after)),))
    await context.abort(failure.kind.grpc_code, failure.message)
    raise AssertionError("grpc.aio's abort always raises")  # pragma: no cover


def type_name(value: int) -> str:
    """The HTTP form's name for an enum value (ROC_CURVE → roc_curve); unknown numbers as text."""
    try:
        return visualization_pb2.Visualization.Type.Name(value).lower()
    except ValueError:
        return str(value)


def service_name(module: ModuleType, service: str) -> str:
    """The full name (`package.Service`) of a service a generated `*_pb2` module declares."""
    return str(module.DESCRIPTOR.services_by_name[service].full_name)
