"""One Jupyter kernel: its process, its connection, and running one cell at a time on it.

Lifecycle (owned by the pool): `start()` → ready → `execute()` any number of
times, `interrupt()` when a cell overstays → `kill()` → `close()`.

Messaging goes over ipc (Unix) sockets: no TCP ports to race for, and faster
than loopback TCP. Every message is signed with a key only this server and the
kernel know. Each kernel has a folder of its own in the server's private runtime
folder (its connection file, work folders, HOME), under a random name, and its
sandbox (kernels/sandbox.py) lets it reach that folder and no other kernel's.
Where the sandbox confines abstract sockets (Landlock ABI 6), the message sockets
are abstract ones, which no other sandboxed kernel may connect to even knowing
the name; elsewhere they are files in the kernel's folder.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import os
import secrets
import shutil
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import zmq.asyncio
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.connect import KernelConnectionInfo, write_connection_file
from jupyter_client.session import json_unpacker

from .errors import KernelDied, KernelStartError
from .file_access import ACCESS_VARIABLE as FILE_ACCESS_VARIABLE
from .launcher import KernelLauncher, KernelProcess
from .object_access import ACCESS_VARIABLE
from .outputs import DEFAULT_LIMIT, Output, OutputCollector
from .runtime import MAX_OUTPUT_VARIABLE, META_KEY
from .zygote import start_error_file

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

# Run once on every new kernel through the same path as a render: proves the
# request data arrives as data and warms IPython's compile path.
WARMUP_CELL = "assert variables == {'warmup': True} and source == 'warmup', (variables, source)"
WARMUP_REQUEST = {"variables": {"warmup": True}, "source": "warmup"}


@dataclass
class Execution:
    """What one cell produced."""

    outputs: list[Output]
    error: tuple[str, str] | None
    """(exception name, message) when the cell raised, else None."""


class ObjectAccess(Protocol):
    """The server's answering end of one kernel's object-store socket (kernels/object_access.py)."""

    def serve(self, namespace: str | None) -> None:
        """Answer from now on as `namespace`'s render ("" = the server's own settings), or,
        with None (no render running), refuse every request."""
        ...

    def close(self) -> None: ...


Listen = Callable[[str], Awaitable[ObjectAccess]]
"""Starts answering a kernel's object-store requests on a Unix socket at a path; returns
what to `serve()` each render with, and `close()` when the kernel goes."""
FileListen = Callable[[str], Awaitable[Any]]
"""Starts answering a kernel's local file requests (kernels/file_access.py) on a Unix socket
at a path; returns what to `close()` when the kernel goes."""


@dataclass(frozen=True)
class KernelOptions:
    """Per-kernel process settings."""

    memory_limit: int = 0
    nice: int = 0
    start_timeout: float = 60.0
    max_output: int = DEFAULT_LIMIT
    """Bytes of output a render may hold; past it the rest is dropped with a note."""
    sandbox: dict[str, Any] = field(default_factory=dict)
    """The sandbox policy (kernels/sandbox.py SandboxPolicy.to_json); empty: defaults."""
    abstract_sockets: bool = False
    """Message sockets in the abstract namespace: only when the sandbox confines them."""
    object_access: Listen | None = None
    file_access: FileListen | None = None


class Kernel:
    """A kernel process plus the client that talks to it; one cell at a time."""

    def __init__(self, kernel_id: str, runtime_dir: Path, context: zmq.asyncio.Context) -> None:
        self.id = kernel_id
        self.renders = 0
        self.pid: int | None = None
        self._runtime_dir = runtime_dir
        self._context = context
        self._folder = runtime_dir / "kernels" / f"{kernel_id}-{secrets.token_hex(8)}"
        self._connection_file = self._folder / "connection.json"
        self._work_root = self._folder / "work"
        self._max_output = DEFAULT_LIMIT
        self._object_access: ObjectAccess | None = None
        self._file_access: Any = None
        self._process: KernelProcess | None = None
        self._client: AsyncKernelClient | None = None
        self._connection: KernelConnectionInfo = {}
        self._running: str | None = None
        self._idle_seen: str | None = None
        self._reply: tuple[str | None, dict[str, Any]] = (None, {})
        self.kill_reason: str | None = None

    @property
    def exited(self) -> asyncio.Future[str]:
        assert self._process is not None, "kernel not started"
        return self._process.exited

    @property
    def alive(self) -> bool:
        return self._process is not None and not self._process.exited.done()

    async def start(self, launcher: KernelLauncher, options: KernelOptions) -> None:
        """Spawn the process, connect, and prove it runs a render's cell correctly."""
        self._folder.mkdir(mode=0o700, parents=True)
        self._max_output = options.max_output
        if options.abstract_sockets:
            ip = f"@kfp-viz-{secrets.token_hex(16)}"
        else:
            ip = str(self._folder / "zmq")
        _, self._connection = write_connection_file(
            str(self._connection_file), ip=ip, transport="ipc", key=os.urandom(32).hex().encode()
        )
        environment = {MAX_OUTPUT_VARIABLE: str(options.max_output)}
        if options.object_access is not None:
            path = str(self._folder / "objects.sock")
            self._object_access = await options.object_access(path)
            environment[ACCESS_VARIABLE] = path
        if options.file_access is not None:
            path = str(self._folder / "files.sock")
            self._file_access = await options.file_access(path)
            environment[FILE_ACCESS_VARIABLE] = path
        self._process = await launcher.spawn(
            {
                "folder": str(self._folder),
                "connection_file": str(self._connection_file),
                "work_root": str(self._work_root),
                "memory_limit": options.memory_limit,
                "nice": options.nice,
                "environment": environment,
                "sandbox": options.sandbox,
            }
        )
        self.pid = self._process.pid
        client = AsyncKernelClient(context=self._context)
        client.load_connection_info(self._connection)
        client.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)
        self._client = client
        deadline = time.monotonic() + options.start_timeout
        try:
            await self._handshake(deadline)
            warmup = await self.execute(WARMUP_CELL, WARMUP_REQUEST, deadline - time.monotonic())
        except KernelDied:
            raise KernelStartError(self._start_failure()) from None
        except TimeoutError:
            message = f"kernel {self.id} did not answer within {options.start_timeout:g} s"
            raise KernelStartError(message) from None
        if warmup.error is not None:
            raise KernelStartError(
                f"kernel {self.id} did not receive request data ({warmup.error[0]}: "
                f"{warmup.error[1]}); ipykernel>=7 and IPython>=9 are required"
            )

    async def execute(
        self, code: str, request: dict[str, Any], timeout: float, namespace: str = ""
    ) -> Execution:
        """Run one cell with `request` ("variables", "source") bound as data.

        While it runs, and only then, the kernel's object-store requests are answered as
        `namespace`'s: a cell left running after a timeout, or anything a render left
        behind, is refused from the moment this returns.

        Raises TimeoutError when `timeout` passes first (the cell keeps running:
        call `interrupt()`), KernelDied when the process exits meanwhile.
        """
        if self._object_access is not None:
            self._object_access.serve(namespace)
        try:
            return await self._execute(code, request, timeout)
        finally:
            if self._object_access is not None:
                self._object_access.serve(None)

    async def _execute(self, code: str, request: dict[str, Any], timeout: float) -> Execution:
        client = self._connected()
        message = client.session.msg(
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": False,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
            metadata={META_KEY: request},
        )
        client.shell_channel.send(message)
        self._running = message["header"]["msg_id"]
        collector = OutputCollector(self._max_output)
        reply = await self._finish(self._running, collector, timeout)
        self._running = None
        error = None
        if reply.get("status") == "error":
            error = (reply.get("ename", ""), reply.get("evalue", ""))
        return Execution(outputs=collector.outputs, error=error)

    async def interrupt(self, grace: float) -> bool:
        """Interrupt the running cell; True if the kernel is idle again within `grace`."""
        if self._running is None:
            return True
        if not self.alive or self.pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGINT)
        try:
            await self._finish(self._running, OutputCollector(0), grace)
        except (TimeoutError, KernelDied):
            return False
        self._running = None
        return True

    def kill(self, reason: str) -> None:
        """Stop the process at once (SIGKILL); `reason` explains it to whoever was waiting."""
        if self.kill_reason is None:
            self.kill_reason = reason
        if self.alive and self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def close(self) -> None:
        """Release the client and the kernel's files (the process must be gone or going)."""
        if self._client is not None:
            self._client.stop_channels()
            self._client = None
        for answering in (self._object_access, self._file_access):
            if answering is not None:
                answering.close()
        self._object_access = self._file_access = None
        shutil.rmtree(self._folder, ignore_errors=True)

    def rss(self) -> int | None:
        """Resident memory of the kernel process in bytes, or None if it is gone."""
        try:
            with open(f"/proc/{self.pid}/statm") as statm:
                return int(statm.read().split()[1]) * PAGE_SIZE
        except (OSError, IndexError, ValueError):
            return None

    def describe_exit(self) -> str:
        """Why the process is gone, in words a user can act on."""
        how = self.exited.result() if self.exited.done() else "stopped"
        if self.kill_reason:
            return f"{how} ({self.kill_reason})"
        if "SIGKILL" in how:
            return f"{how} (out of memory?)"
        return how

    def _start_failure(self) -> str:
        """Why the process died while starting: the error it left behind, and its exit."""
        why = ""
        with contextlib.suppress(OSError):
            why = Path(start_error_file(str(self._connection_file))).read_text().strip()
        message = f"kernel {self.id} {self.describe_exit()} while starting"
        if why.startswith("MemoryError"):
            why += " (is --kernel-memory-limit too small?)"
        return f"{message}: {why}" if why else message

    def _connected(self) -> AsyncKernelClient:
        if self._client is None:
            raise KernelDied(f"kernel {self.id} is not connected")
        return self._client

    async def _handshake(self, deadline: float) -> None:
        """Wait until the kernel answers on the shell channel and publishes on IOPub.

        A SUB socket misses what is published before its subscription lands, so
        one kernel_info reply is not enough: keep asking until a status message
        for one of the requests arrives on IOPub too.
        """
        client = self._connected()
        while True:
            msg_id = client.kernel_info()
            try:
                await self._finish(msg_id, OutputCollector(0), 1.0)
                return
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise

    async def _finish(
        self, msg_id: str, collector: OutputCollector, timeout: float
    ) -> dict[str, Any]:
        """Collect IOPub output until `msg_id` goes idle and return its shell reply content."""
        client = self._connected()

        # What was already received for msg_id survives a timeout, so a later call
        # (after an interrupt) does not wait for a message that was consumed before.
        async def iopub() -> None:
            while self._idle_seen != msg_id:
                msg, size = await _receive_iopub(client, collector.room)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] != "status":
                    collector.add(msg["msg_type"], msg["content"], size)
                elif msg["content"].get("execution_state") == "idle":
                    self._idle_seen = msg_id

        async def shell() -> dict[str, Any]:
            while self._reply[0] != msg_id:
                msg = await client.shell_channel.get_msg()
                if msg["parent_header"].get("msg_id") == msg_id:
                    self._reply = (msg_id, msg["content"])
            return self._reply[1]

        work = asyncio.ensure_future(asyncio.gather(iopub(), shell()))
        try:
            done, _ = await asyncio.wait(
                {work, self.exited}, timeout=max(timeout, 0), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if not work.done():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
        if work in done and not work.cancelled():
            reply: dict[str, Any] = work.result()[1]
            return reply
        if self.exited.done() or work.cancelled():
            raise KernelDied(f"The kernel running this visualization {self.describe_exit()}")
        raise TimeoutError


async def _receive_iopub(client: AsyncKernelClient, room: int) -> tuple[dict[str, Any], int]:
    """The next IOPub message and its content's size, decoded holding at most two copies
    of its content at a time.

    jupyter_client's `get_msg` keeps the received bytes while it decodes them to text
    and parses the text: three copies of a 100 MB output at once. Here the session
    still checks the signature (content left packed), then the bytes are dropped as
    soon as they are decoded, before the text is parsed.

    An output larger than `room` (what the render may still hold) is not decoded at
    all: only its header is read, and its content is None. A kernel flooding its
    output costs the event loop a copy per message, never a parse.
    """
    session = client.session
    # Frames stay in libzmq's memory until used: a dropped output is never copied.
    frames = await client.iopub_channel.socket.recv_multipart(copy=False)
    _, parts = session.feed_identities(frames, copy=False)
    size = sum(len(part) for part in parts[4:])  # signature, header, parent, metadata, CONTENT...
    if size > room:
        header = json.loads(parts[1].bytes)
        if header.get("msg_type") != "status":
            skipped = {"header": header, "msg_type": header.get("msg_type"), "content": None}
            return {**skipped, "parent_header": json.loads(parts[2].bytes)}, size
    message = session.deserialize(parts, content=False, copy=False)
    if session.auth is not None:
        session._add_digest(parts[0].bytes)  # the replay check deserialize does when it unpacks
    del frames, parts
    # The future that delivered the frames keeps them until the task step that woke us ends
    # (it is an argument of the wake-up call): let that step end before decoding.
    await asyncio.sleep(0)
    if session.unpack is not json_unpacker:  # a packer of the user's choice: its own rules
        message["content"] = session.unpack(message["content"])
        return message, size
    text = _decode(message.pop("content"))  # the only reference to the bytes goes with them
    message["content"] = json.loads(text)
    return message, size


DECODE_SLICE = 2**20


def _decode(packed: bytes) -> str:
    """UTF-8 (bad bytes replaced, as json_unpacker does) without a transient third copy.

    CPython decodes non-ASCII UTF-8 through a buffer as large as the result, so a
    whole-frame decode briefly holds the bytes and two texts; decoding in slices and
    joining holds the bytes (or the slices) and one text.
    """
    if packed.isascii():
        return packed.decode("ascii")
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    view = memoryview(packed)
    texts = [
        decoder.decode(view[start : start + DECODE_SLICE])
        for start in range(0, len(view), DECODE_SLICE)
    ]
    texts.append(decoder.decode(b"", final=True))
    view.release()
    del view, packed  # the caller passed its only reference: the bytes are freed here
    return "".join(texts)
