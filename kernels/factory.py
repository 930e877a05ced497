"""Where the pool's kernels come from: what the pool needs of them, and real processes.

The pool (kernels/pool.py) decides who gets a kernel, when one is worn out and when to
start another; it does not know how a kernel is made. That is a factory's job, as a
provisioner is in jupyter_client: `KernelFactory` says what the pool asks of one (make
a kernel, start it, end what a render left running, stop), and `PoolKernel` what the
pool asks of a kernel. `ProcessKernels` makes real ones: processes forked by the zygote
(kernels/zygote.py, the process kernels/launcher.py runs and the README calls the kernel
factory process), in the sandbox the settings describe. The server builds it at wiring
time; unit tests hand the pool fakes instead, so lease, line, retire and heal are tested
without starting a process.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import zmq.asyncio

from . import sandbox
from .file_broker import FileBroker
from .kernel import Execution, Kernel, KernelOptions, Listen
from .launcher import KernelLauncher
from .source_policy import PRIVATE_VARIABLE, SourcePolicy

if TYPE_CHECKING:
    from .pool import PoolSettings


class PoolKernel(Protocol):
    """One kernel as the pool and a render see it."""

    id: str
    renders: int
    pid: int | None

    @property
    def alive(self) -> bool: ...

    @property
    def exited(self) -> asyncio.Future[str]:
        """Resolves, with a sentence saying how, when the process ends (once started)."""
        ...

    async def execute(
        self, code: str, request: dict[str, Any], timeout: float, namespace: str = ""
    ) -> Execution:
        """Run one cell; while it runs, the kernel's object-store requests are answered as
        `namespace`'s (RenderRequest.namespace)."""
        ...

    async def interrupt(self, grace: float) -> bool:
        """Interrupt the running cell; True if the kernel is idle again within `grace`."""
        ...

    def kill(self, reason: str) -> None: ...

    def close(self) -> None:
        """Release what the kernel holds; called once its process is gone or going."""
        ...

    def rss(self) -> int | None: ...


K = TypeVar("K", bound=PoolKernel)


class KernelFactory(Protocol[K]):
    """What the pool needs to start, sweep and stop kernels."""

    @property
    def sandbox_status(self) -> sandbox.Status:
        """What confines this factory's kernels on this machine."""
        ...

    @property
    def preload_errors(self) -> Mapping[str, str]:
        """Modules the kernels could not import ahead of time, with why."""
        ...

    def create(self, kernel_id: str) -> K:
        """A kernel not started yet (the pool counts it as starting from now)."""
        ...

    async def start(self, kernel: K) -> None:
        """Start `kernel` and prove it renders; raise (any error) if it cannot."""
        ...

    async def sweep(self, kernel: K) -> int:
        """End every process a render left running in `kernel`; how many were ended.
        Raises TimeoutError or OSError when that cannot be done."""
        ...

    async def close(self) -> None:
        """Stop, once the pool has killed and closed every kernel."""
        ...


class ProcessKernels:
    """Real kernels: processes forked by one kernel factory process, each in its sandbox."""

    def __init__(
        self,
        settings: PoolSettings,
        runtime_dir: Path | None = None,
        object_access: Listen | None = None,
    ) -> None:
        """`object_access`: answers kernels' object-store requests (server/object_broker.py);
        their local file requests are answered here (kernels/file_broker.py), with the
        limits the kernels are given. `runtime_dir`: the private folder for kernels' files;
        None: a new temporary one, removed on close."""
        self._own_runtime_dir = runtime_dir is None
        self._runtime_dir = runtime_dir or Path(tempfile.mkdtemp(prefix="kfp-viz-"))
        (self._runtime_dir / "kernels").mkdir(mode=0o700, parents=True, exist_ok=True)
        self._status = sandbox.status(settings.sandbox)
        private = (str(self._runtime_dir), *settings.private_folders)
        environment = {**settings.environment, PRIVATE_VARIABLE: ",".join(private)}
        self._files = FileBroker(SourcePolicy.from_variables(environment))
        self._launcher = KernelLauncher(
            self._runtime_dir, environment, passed_variables=settings.passed_variables
        )
        self._context = zmq.asyncio.Context()
        policy = sandbox.SandboxPolicy(
            enabled=settings.sandbox,
            private=private,
            connect_ports=settings.connect_ports,
            read_extra=sandbox.python_paths(exclude=private),
        )
        self._options = KernelOptions(
            memory_limit=settings.memory_limit,
            nice=settings.nice,
            start_timeout=settings.start_timeout,
            max_output=settings.max_output,
            sandbox=policy.to_json(),
            abstract_sockets=self._status.scopes,
            object_access=object_access,
            file_access=self._files.listen,
        )

    @property
    def sandbox_status(self) -> sandbox.Status:
        return self._status

    @property
    def preload_errors(self) -> Mapping[str, str]:
        return self._launcher.preload_errors

    def create(self, kernel_id: str) -> Kernel:
        return Kernel(kernel_id, self._runtime_dir, self._context)

    async def start(self, kernel: Kernel) -> None:
        await kernel.start(self._launcher, self._options)

    async def sweep(self, kernel: Kernel) -> int:
        return await self._launcher.sweep(kernel.pid or 0)

    async def close(self) -> None:
        await self._launcher.close()
        self._files.close()
        self._context.destroy(linger=0)
        if self._own_runtime_dir:
            shutil.rmtree(self._runtime_dir, ignore_errors=True)
