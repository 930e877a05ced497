"""The server's side of the kernel factory: start kernels, learn at once when they exit.

`KernelLauncher` runs one `kfp_viz_kernels.zygote` process and talks to it over pipes.
It asks for kernels and gets back their pids; the zygote reaps its children
and reports every exit, which resolves that kernel's `exited` future within
milliseconds. That is how a render learns its kernel died instead of hanging.

If the zygote itself dies, every kernel dies with it (they are killed when
their parent exits); all their `exited` futures resolve and the next spawn
starts a fresh zygote.

The zygote, and so every kernel, gets only the environment a render needs: the
basics (PATH, locale, proxies, CA bundles), the settings the pool passes, and the
variables the operator names (KERNEL_ENV), never the rest of the server's. The
server's environment holds the object store's secret key; no kernel does
(built-in types read object stores through the server, kernels/object_access.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import plotting
from .errors import KernelStartError
from .zygote import SERVER_PID_VARIABLE

log = logging.getLogger(__name__)

# Libraries that start one thread per CPU in every kernel would oversubscribe a
# small machine many times over; operators can still set these themselves.
THREAD_DEFAULTS = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


BASIC_VARIABLES = (
    "PATH", "LANG", "LANGUAGE", "TZ", "TERM", "USER", "LOGNAME",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    "PYTHONPATH", "PYTHONHASHSEED", "PYTHONIOENCODING", "PYTHONUTF8",
    *THREAD_DEFAULTS,
)  # fmt: skip
"""What every kernel gets from the server's environment: nothing secret by design."""
BASIC_PREFIXES = ("LC_",)

SPAWN_TIMEOUT = 30.0


@dataclass
class KernelProcess:
    """A kernel process the factory started."""

    pid: int
    exited: asyncio.Future[str]
    """Resolves with a sentence saying how the process ended."""


class KernelLauncher:
    """Owns the zygote process: starts it, restarts it when needed, stops it."""

    def __init__(
        self,
        runtime_dir: Path,
        environment: Mapping[str, str] | None = None,
        ready_timeout: float = 180.0,
        passed_variables: Iterable[str] = (),
    ) -> None:
        self._runtime_dir = runtime_dir
        self._extra_environment = dict(environment or {})
        self._passed = (*BASIC_VARIABLES, *passed_variables)
        self._ready_timeout = ready_timeout
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self._spawns: dict[int, asyncio.Future[int]] = {}
        self._sweeps: dict[int, asyncio.Future[int]] = {}
        self._exits: dict[int, asyncio.Future[str]] = {}
        self._ready: asyncio.Future[dict[str, Any]] | None = None
        self.preload_errors: dict[str, str] = {}

    async def spawn(self, request: dict[str, Any]) -> KernelProcess:
        """Fork a kernel from the factory and return its pid and exit future.

        `request`: the spawn request's fields (kernels/zygote.py): the kernel's folder,
        connection file, work root, memory limit, nice, environment and sandbox.
        """
        await self._ensure_running()
        request_id = next(self._ids)
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._spawns[request_id] = answer
        self._write({**request, "op": "spawn", "id": request_id})
        try:
            pid = await asyncio.wait_for(answer, SPAWN_TIMEOUT)
        except TimeoutError:
            self._spawns.pop(request_id, None)
            raise KernelStartError(
                f"kernel factory did not answer a spawn request within {SPAWN_TIMEOUT:g} s"
            ) from None
        return KernelProcess(pid=pid, exited=self._exits[pid])

    async def sweep(self, pid: int, timeout: float = 5.0) -> int:
        """End every process kernel `pid` started (and every orphan); how many were killed.

        Called before a kernel that ran custom code is reused, so nothing a render
        started runs on into the next one.
        """
        if self._process is None or self._process.returncode is not None:
            return 0
        request_id = next(self._ids)
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._sweeps[request_id] = answer
        self._write({"op": "sweep", "id": request_id, "pid": pid})
        try:
            return await asyncio.wait_for(answer, timeout)
        finally:
            self._sweeps.pop(request_id, None)

    async def close(self) -> None:
        """Stop the factory (end of input, then SIGKILL if it lingers); its kernels die with it."""
        process = self._process
        if process is not None and process.returncode is None:
            assert process.stdin is not None
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 2.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGKILL)
                await process.wait()
        if self._reader is not None:
            await self._reader

    async def _ensure_running(self) -> None:
        async with self._lock:
            if self._process is not None and self._process.returncode is None:
                return
            await self._start()

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",  # not `-m ...zygote`: the package imports that module, and runpy would warn
            "from kfp_viz_kernels.zygote import main; main()",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=self._environment(),
            cwd=self._runtime_dir,  # not the server's folder, where stray modules could shadow
            start_new_session=True,
        )
        self._reader = asyncio.create_task(self._read_events(self._process))
        try:
            ready = await asyncio.wait_for(asyncio.shield(self._ready), self._ready_timeout)
        except TimeoutError:
            self._ready.cancel()
            self._process.kill()
            raise KernelStartError(
                f"kernel factory did not finish importing within {self._ready_timeout:g} s"
            ) from None
        self.preload_errors = ready.get("preload_errors", {})
        for module, error in self.preload_errors.items():
            log.warning("kernels cannot import %s: %s", module, error)
        log.info("kernel factory ready (pid %d)", ready["pid"])

    def _environment(self) -> dict[str, str]:
        env = {
            name: value
            for name, value in os.environ.items()
            if name in self._passed or name.startswith(BASIC_PREFIXES)
        }
        env.update(self._extra_environment)
        env[SERVER_PID_VARIABLE] = str(os.getpid())
        for name, value in {**THREAD_DEFAULTS, **plotting.environment()}.items():
            env.setdefault(name, value)
        # Each kernel gets its own HOME and IPython profile in its own folder (zygote.py), so
        # the host user's startup files never run in kernels.
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
        return env

    def _write(self, request: dict[str, Any]) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(json.dumps(request).encode() + b"\n")

    async def _read_events(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            self._dispatch(json.loads(line))
        code = await process.wait()
        self._factory_gone(f"kernel factory exited with code {code}")

    def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "ready" and self._ready is not None and not self._ready.done():
            self._ready.set_result(event)
        elif kind == "spawned":
            pid = event["pid"]
            self._exits[pid] = asyncio.get_running_loop().create_future()
            answer = self._spawns.pop(event["id"], None)
            if answer is None or answer.done():  # nobody waits for it any more
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            else:
                answer.set_result(pid)
        elif kind == "swept":
            _resolve(self._sweeps.get(event["id"]), event.get("killed", 0))
        elif kind == "spawn_failed":
            answer = self._spawns.pop(event["id"], None)
            if answer is not None and not answer.done():
                answer.set_exception(KernelStartError(f"fork failed: {event['error']}"))
        elif kind == "exited":
            _resolve(self._exits.pop(event["pid"], None), _exit_sentence(event))

    def _factory_gone(self, reason: str) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(KernelStartError(reason))
        for answer in self._spawns.values():
            if not answer.done():
                answer.set_exception(KernelStartError(reason))
        for exited in self._exits.values():
            _resolve(exited, f"was stopped because the {reason}")
        for swept in self._sweeps.values():
            _resolve(swept, 0)
        self._spawns.clear()
        self._exits.clear()


def _exit_sentence(event: dict[str, Any]) -> str:
    """A sentence for a kernel's exit, as reported by the factory."""
    if event.get("signal"):
        name = signal.Signals(event["signal"]).name
        return f"was killed by signal {name}"
    return f"exited with code {event.get('code')}"


def _resolve(future: asyncio.Future[Any] | None, value: Any) -> None:
    if future is not None and not future.done():
        future.set_result(value)
