"""Object stores without credentials in the kernel: the kernel asks, the server lists and signs.

Why: a kernel runs code a request chose, and any secret in its memory or environment is
that code's. So no kernel holds the object store's keys. A built-in type reading
`minio://bucket/key` or `s3://bucket/key` asks the server, over a Unix socket in the
kernel's own folder (its path in ACCESS_VARIABLE), to list a prefix or to presign a GET of
one object; the server checks the request against the operator's source limits, answers
with names or a URL valid for a minute, and the kernel fetches that URL over HTTP itself
(so object bytes never pass through the server). Custom code can use the same socket and
gets no more than any request could get from the built-in types: what the limits allow.

This module is the protocol and the kernel's side. The server's side answers it
(server/object_broker.py); nothing here imports the server.

Protocol: one JSON object per line, one request per connection.
  {"op": "list", "scheme": "minio"|"s3", "bucket": B, "prefix": P, "recursive": BOOL,
   "limit": N}  → {"objects": [{"name": KEY, "dir": BOOL}, ...], "truncated": BOOL}
  {"op": "get", "scheme": ..., "bucket": B, "key": K}   → {"url": PRESIGNED_GET_URL}
  any failure                                           → {"error": {"code": C, "message": M}}
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from typing import Any, TypedDict

from .file_access import receive_line

ACCESS_VARIABLE = "KFP_VIZ_OBJECT_ACCESS"
MAX_LINE = 64 * 2**20
"""The longest answer a kernel reads (a listing of about a million keys)."""
TIMEOUT = 120.0


@dataclass(frozen=True)
class Refused(Exception):
    """The server could not or would not answer: its error code (S3's, where the store gave
    one, such as NoSuchBucket) and message."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


class ListedObject(TypedDict):
    """One entry of a listing's answer: {"name": KEY, "dir": BOOL}."""

    name: str
    dir: bool


def ask(request: dict[str, Any], path: str | None = None) -> dict[str, Any]:
    """Send one request to the server and return its answer; Refused on an error answer."""
    path = path or os.environ.get(ACCESS_VARIABLE, "")
    if not path:
        raise Refused("", "this kernel has no object store access (started without a server)")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(TIMEOUT)
        try:
            connection.connect(path)
        except OSError as error:
            raise Refused("", f"the server's object access is unavailable ({error})") from None
        connection.sendall(json.dumps(request).encode() + b"\n")
        answer = _read_line(connection)
    if "error" in answer:
        problem = answer["error"] or {}
        raise Refused(str(problem.get("code") or ""), str(problem.get("message") or "refused"))
    return answer


def _read_line(connection: socket.socket) -> dict[str, Any]:
    data, _ = receive_line(connection, MAX_LINE)
    if not data:
        raise Refused("", "the server's object access answered incompletely")
    answer: dict[str, Any] = json.loads(data)
    return answer
