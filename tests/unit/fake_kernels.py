"""Fake kernels and a fake factory for driving KernelPool without processes.

They keep the contract of kernels/factory.py (PoolKernel, KernelFactory) and record what
the pool did to them, so a test can assert it: which kernels were killed and why, which
were closed, swept, started.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from kfp_viz_kernels import KernelStartError, PoolSettings
from kfp_viz_kernels.kernel import Execution
from kfp_viz_kernels.pool import KernelPool
from kfp_viz_kernels.sandbox import Status, status


class FakeKernel:
    """A kernel whose process is a future: it lives once started, until killed or `die()`."""

    def __init__(self, kernel_id: str) -> None:
        self.id = kernel_id
        self.renders = 0
        self.pid: int | None = None
        self.memory: int | None = None
        self.answers_interrupt = True
        self.killed: str | None = None
        self.closed = False
        self.namespaces: list[str] = []
        """The namespace of each render it ran, in order."""
        self._exited: asyncio.Future[str] | None = None

    def started(self, pid: int) -> None:
        self.pid = pid
        self._exited = asyncio.get_running_loop().create_future()

    @property
    def alive(self) -> bool:
        return self._exited is not None and not self._exited.done()

    @property
    def exited(self) -> asyncio.Future[str]:
        assert self._exited is not None, "kernel not started"
        return self._exited

    async def execute(
        self, code: str, request: dict[str, Any], timeout: float, namespace: str = ""
    ) -> Execution:
        self.namespaces.append(namespace)
        return Execution(outputs=[], error=None)

    async def interrupt(self, grace: float) -> bool:
        return self.answers_interrupt

    def kill(self, reason: str) -> None:
        self.killed = self.killed or reason
        if self._exited is not None and not self._exited.done():
            self._exited.set_result("killed by SIGKILL")

    def die(self) -> None:
        """The process ends on its own (a crash, the OOM killer)."""
        self.exited.set_result("exited with code 1")

    def close(self) -> None:
        self.closed = True

    def rss(self) -> int | None:
        return self.memory


class FakeKernels:
    """A factory of FakeKernels: starts may be held (`hold`) or made to fail (`failures`)."""

    def __init__(self) -> None:
        self.made: list[FakeKernel] = []
        self.hold: asyncio.Event | None = None
        self.failures = 0
        self.swept: list[str] = []
        self.sweep_error: Exception | None = None
        self.closed = False

    @property
    def sandbox_status(self) -> Status:
        return status(False)

    @property
    def preload_errors(self) -> Mapping[str, str]:
        return {}

    def create(self, kernel_id: str) -> FakeKernel:
        kernel = FakeKernel(kernel_id)
        self.made.append(kernel)
        return kernel

    async def start(self, kernel: FakeKernel) -> None:
        if self.hold is not None:
            await self.hold.wait()
        if self.failures:
            self.failures -= 1
            raise KernelStartError(f"kernel {kernel.id} could not start: no room")
        kernel.started(pid=1000 + len(self.made))

    async def sweep(self, kernel: FakeKernel) -> int:
        if self.sweep_error is not None:
            raise self.sweep_error
        self.swept.append(kernel.id)
        return 0

    async def close(self) -> None:
        self.closed = True


def fake_pool(factory: FakeKernels | None = None, **settings: Any) -> KernelPool[FakeKernel]:
    """A pool of fakes (not started): `settings` override PoolSettings' defaults."""
    return KernelPool(PoolSettings(**{"nice": 0, **settings}), factory or FakeKernels())
