"""The server's side of kernels' local file access: list a pattern, open a file, pass it back.

Runs in the server process, on its event loop, with one Unix socket per kernel (in the
kernel's own folder, the one folder that kernel can reach); the protocol and why it exists
are in kernels/file_access.py. Every request is checked against the limits the server
gives its kernels (LOCAL_SOURCE_ROOTS, SOURCE_SCHEMES, the system folders and the server's
own folders, never exempt here) by kernels/local_files.py, the code a kernel without a
server runs itself. Listing and opening touch the disk, so they run in small thread pools of
their own, never on the loop: one for listings (bounded in entries and time, but a pattern
over a large tree may take seconds) and one for opening, so a long listing never delays
another kernel's read.

It lives beside the kernels, not in `server/`, because it is part of running them: the
kernel factory makes it with the policy it gives its kernels and closes it with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .local_files import REFUSED, LocalSourceError, match, open_file
from .source_policy import SourcePolicy, SourceRefused

log = logging.getLogger(__name__)

MAX_REQUEST = 64 * 1024
SEND_ATTEMPTS = 200
"""Tries to send an open file's answer on a full socket buffer (5 ms apart): one second."""


class FileBroker:
    """Answers kernels' list and open requests with `policy`."""

    def __init__(self, policy: SourcePolicy, workers: int = 4) -> None:
        self._policy = policy
        self._listing = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="file-list")
        self._opening = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="file-open")

    async def listen(self, path: str) -> asyncio.AbstractServer:
        """Answer on a new Unix socket at `path` (in one kernel's folder) until closed."""
        return await asyncio.start_unix_server(self._serve, path=path, limit=MAX_REQUEST)

    def close(self) -> None:
        for executor in (self._listing, self._opening):
            executor.shutdown(wait=False, cancel_futures=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fd: int | None = None
        try:
            answer, fd = await self._answer_line(await reader.readline())
            data = json.dumps(answer).encode() + b"\n"
            if fd is None:
                writer.write(data)
                await writer.drain()
            else:
                await _send_with_descriptor(writer, data, fd)
        except (OSError, ValueError, asyncio.LimitOverrunError, asyncio.IncompleteReadError):
            pass  # the kernel went away or sent garbage: nothing to answer
        finally:
            if fd is not None:
                os.close(fd)  # the kernel holds its own copy now
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _answer_line(self, line: bytes) -> tuple[dict[str, Any], int | None]:
        try:
            request = json.loads(line)
        except ValueError as error:
            return _error("InvalidRequest", f"a request is one line of JSON ({error})"), None
        listing = isinstance(request, dict) and request.get("op") == "match"
        executor = self._listing if listing else self._opening
        return await asyncio.get_running_loop().run_in_executor(executor, self.answer, request)

    def answer(self, request: Any) -> tuple[dict[str, Any], int | None]:
        """The answer to one decoded request, and the descriptor to send with it. Blocks."""
        try:
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
            op = request.get("op")
            if op == "match":
                return {"paths": match(_absolute(request, "pattern"), self._policy, "")}, None
            if op == "open":
                fd = open_file(_absolute(request, "path"), self._policy, "")
                return {"size": os.fstat(fd).st_size}, fd
            raise ValueError(f"unknown op {op!r}")
        except LocalSourceError as error:
            return _error(error.code, str(error)), None
        except SourceRefused as error:
            return _error(REFUSED, str(error)), None
        except (ValueError, TypeError) as error:
            return _error("InvalidRequest", str(error)), None
        except OSError as error:
            return _error("SourceError", f"{type(error).__name__}: {error.strerror}"), None


def _absolute(request: dict[str, Any], name: str) -> str:
    value = request.get(name)
    if not isinstance(value, str) or not os.path.isabs(value) or "\0" in value:
        raise ValueError(f"{name} must be an absolute path")
    return value


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


async def _send_with_descriptor(writer: asyncio.StreamWriter, data: bytes, fd: int) -> None:
    """Send `data` with `fd` attached (SCM_RIGHTS), on the stream's own socket.

    asyncio's streams cannot attach descriptors, so this sends on a duplicate of the
    socket's descriptor; nothing else was written on it, so nothing can interleave.
    """
    raw = writer.get_extra_info("socket")
    with socket.socket(fileno=os.dup(raw.fileno())) as sock:
        for _ in range(SEND_ATTEMPTS):
            try:
                sent = socket.send_fds(sock, [data], [fd])
                break
            except BlockingIOError:
                await asyncio.sleep(0.005)
        else:
            raise OSError("the kernel does not read its file access answers")
        if sent < len(data):
            writer.write(data[sent:])
            await writer.drain()
