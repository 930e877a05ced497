"""Local files for a sandboxed kernel: the kernel asks, the server lists and opens.

Why: the kernel sandbox (kernels/sandbox.py) grants by folder, and a grant covers what is
created in that folder later. The server's private folders (the runtime folder with every
kernel's connection key, the page store) live in folders users keep data in (`/tmp`), so a
kernel could be given `/tmp` only as the entries it held when the kernel started: a file
written there afterwards could not be read until the kernel was replaced. So kernels get no
right to any data folder at all. A built-in type reading a local source asks the server,
over a Unix socket in the kernel's own folder (its path in ACCESS_VARIABLE), to list a
pattern or to open a file; the server checks the request against the operator's limits
(kernels/source_policy.py: LOCAL_SOURCE_ROOTS, the system folders, its own folders), with
the same code a kernel would run (kernels/local_files.py), opens the file read-only and
passes the open descriptor back (SCM_RIGHTS): the bytes never pass through the server, and
the file may have been created at any time. Custom code can use the same socket (through
`kfp_viz_kernels.sources`) and gets what any request could get from the built-in types.

This module is the protocol and the kernel's side; kernels/file_broker.py answers it.

Protocol: one JSON object per line, one request per connection.
  {"op": "match", "pattern": ABSOLUTE_PATTERN} → {"paths": [PATH, ...]}
  {"op": "open", "path": ABSOLUTE_PATH}        → {"size": BYTES}, with the descriptor attached
  any failure                                  → {"error": {"code": C, "message": M}}
where C is one of kernels/local_files.py's codes (SourceNotFound, SourceRefused,
SourceError) or InvalidRequest.
"""

from __future__ import annotations

import array
import json
import os
import socket
from typing import Any

from .local_files import LocalSourceError

ACCESS_VARIABLE = "KFP_VIZ_FILE_ACCESS"
MAX_LINE = 256 * 2**20
"""The longest answer a kernel reads (a listing of about a million paths)."""
TIMEOUT = 120.0


def available() -> bool:
    """Whether this kernel has a server to ask (else it reads local files itself)."""
    return bool(os.environ.get(ACCESS_VARIABLE))


def match(pattern: str) -> list[str]:
    """The files an absolute pattern names, as the server lists them."""
    paths, _ = _ask({"op": "match", "pattern": pattern})
    found = paths.get("paths")
    if not isinstance(found, list):
        raise LocalSourceError("SourceError", "the server's file access answered strangely")
    return [str(path) for path in found]


def open_file(path: str) -> int:
    """A read-only descriptor of an absolute path, opened by the server."""
    _, fds = _ask({"op": "open", "path": path}, want_fd=True)
    return fds[0]


def _ask(request: dict[str, Any], want_fd: bool = False) -> tuple[dict[str, Any], list[int]]:
    path = os.environ.get(ACCESS_VARIABLE, "")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(TIMEOUT)
        try:
            connection.connect(path)
        except OSError as error:
            raise LocalSourceError(
                "SourceError", f"the server's file access is unavailable ({error})"
            ) from None
        connection.sendall(json.dumps(request).encode() + b"\n")
        answer, fds = _read_answer(connection)
    if "error" in answer or (want_fd and len(fds) != 1):
        for fd in fds:
            os.close(fd)
        problem = answer.get("error") or {}
        raise LocalSourceError(
            str(problem.get("code") or "SourceError"),
            str(problem.get("message") or "the server's file access sent no file"),
        )
    if not want_fd:
        for fd in fds:
            os.close(fd)
        fds = []
    return answer, fds


def _read_answer(connection: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """One answer line and the descriptors sent with it (none but with an `open`)."""
    text, fds = receive_line(connection, MAX_LINE)
    if not text:
        raise LocalSourceError("SourceError", "the server's file access answered incompletely")
    answer: dict[str, Any] = json.loads(text)
    return answer, fds


def receive_line(connection: socket.socket, max_line: int) -> tuple[bytes, list[int]]:
    """One line (up to `max_line` bytes) and the descriptors that came with it; b"" and none
    (they are closed) when the line ended early."""
    chunks: list[bytes] = []
    fds: list[int] = []
    size = 0
    flags = getattr(socket, "MSG_CMSG_CLOEXEC", 0)
    space = socket.CMSG_SPACE(array.array("i").itemsize)
    while True:
        data, ancillary, _, _ = connection.recvmsg(2**20, space, flags)
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                received = array.array("i")
                received.frombytes(payload[: len(payload) - len(payload) % received.itemsize])
                fds.extend(received)
        if not data:
            break
        chunks.append(data)
        size += len(data)
        if data.endswith(b"\n") or size > max_line:
            break
    text = b"".join(chunks)
    if text.endswith(b"\n"):
        return text, fds
    for fd in fds:
        os.close(fd)
    return b"", []
