"""A fixed-size pool of warm kernels, leased one render at a time, that heals itself.

Rules the pool keeps:
- At most `size` kernels run; a supervisor task starts replacements whenever
  one is retired or dies, backing off while starts keep failing.
- A request leases an idle kernel or waits in a first-come line. The line holds
  `max_queue` requests beyond the kernels that will serve them: requests waiting
  for a kernel that is starting (or just came free) are not in excess of the
  pool, so a burst meeting a pool of restarting kernels is not refused while there
  is room. Past that a request is refused at once with an estimate of when to
  retry. A lease that cannot be granted before the request's deadline fails.
- A kernel is handed to the next request only after its previous render
  finished cleanly (the in-kernel runtime resets it as the cell ends).
- A kernel is retired (killed and replaced) when it ran `custom` code (unless
  the operator allows reuse), reached `max_renders`, grew past 90% of its
  memory limit or hit MemoryError, or ignored an interrupt after a timeout.
  A reused kernel that ran custom code is handed out again only once every
  process the render started has been ended (the kernel factory sweeps it).
- Kernels come from a factory handed in at wiring time (kernels/factory.py): real
  processes in the sandbox the settings describe (`sandbox_status` says what this
  machine's Linux enforces), or a test's fakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections import Counter, deque
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic

from . import sandbox
from .errors import PoolClosed, PoolOverloaded, PoolUnavailable
from .factory import K, KernelFactory
from .outputs import DEFAULT_LIMIT

log = logging.getLogger(__name__)

MEMORY_RECYCLE_FRACTION = 0.9
MEMORY_WATCH_INTERVAL = 0.25


@dataclass(frozen=True)
class PoolSettings:
    """How many kernels, how long the line, and when a kernel is worn out."""

    size: int = 2
    max_queue: int = 8
    max_renders: int = 500
    memory_limit: int = 0
    reuse_custom_kernels: bool = False
    interrupt_grace: float = 1.0
    start_timeout: float = 60.0
    nice: int = 5
    environment: Mapping[str, str] = field(default_factory=dict)
    """Variables the kernels get (settings the types read from the environment, such as the
    source limits); kernels get nothing else of the server's environment but the basics
    (kernels/launcher.py) and `passed_variables`."""
    passed_variables: tuple[str, ...] = ()
    """Names of the server's variables kernels also get (the operator's KERNEL_ENV)."""
    max_output: int = DEFAULT_LIMIT
    sandbox: bool = True
    private_folders: tuple[str, ...] = ()
    """The server's folders kernels must not reach, nor have read for them (the page store),
    besides the runtime one."""
    connect_ports: tuple[int, ...] | None = None
    """TCP ports kernels may connect to; None: any."""


@dataclass
class PoolStats:
    """A snapshot for /readyz and /metrics."""

    size: int
    idle: int
    busy: int
    starting: int
    queued: int
    max_queue: int
    restarts: dict[str, int] = field(default_factory=dict)
    start_error: str | None = None
    kernel_pids: list[int] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.idle + self.busy > 0


class KernelPool(Generic[K]):
    """Leases warm kernels to renders; replaces the ones that die or wear out."""

    def __init__(self, settings: PoolSettings, factory: KernelFactory[K]) -> None:
        """`factory`: makes, starts, sweeps and stops the kernels (kernels/factory.py)."""
        self.settings = settings
        self._factory = factory
        self._ids = itertools.count(1)
        self._kernels: dict[str, K] = {}
        self._ready: set[str] = set()
        self._idle: deque[K] = deque()
        self._leased: set[str] = set()
        self._waiters: deque[asyncio.Future[K]] = deque()
        self._changed = asyncio.Event()
        self._all_returned = asyncio.Event()
        self._restarts: Counter[str] = Counter()
        self._start_error: str | None = None
        self._backoff = 0.5
        self._average_lease = 1.0
        self._closed = False
        self._supervisor: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def sandbox_status(self) -> sandbox.Status:
        return self._factory.sandbox_status

    @property
    def preload_errors(self) -> dict[str, str]:
        return dict(self._factory.preload_errors)

    def start(self) -> None:
        """Begin starting kernels in the background; `wait_ready()` waits for the first."""
        self._supervisor = asyncio.create_task(self._supervise())
        if self.settings.memory_limit:
            self._run_in_background(self._watch_memory())

    async def wait_ready(self, timeout: float) -> bool:
        """Wait until at least one kernel is ready (or `timeout` passes)."""
        deadline = time.monotonic() + timeout
        while not self._ready and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return bool(self._ready)

    async def lease(self, timeout: float) -> K:
        """An idle kernel for one render, waiting at most `timeout` seconds in line.

        Raises PoolClosed, PoolOverloaded (line full), PoolUnavailable (kernels
        fail to start) or TimeoutError.
        """
        if self._closed:
            raise PoolClosed("Server is shutting down")
        if self._idle and not self._waiters:
            return self._checkout(self._idle.popleft())
        if self._start_error and not self._ready:
            raise PoolUnavailable(f"No kernel is running: {self._start_error}")
        if self._excess_waiters() >= self.settings.max_queue:
            raise self._overloaded()
        waiter: asyncio.Future[K] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait({waiter}, timeout=max(timeout, 0))
        except asyncio.CancelledError:
            self._withdraw(waiter)
            raise
        self._withdraw(waiter)
        if waiter.cancelled():
            raise TimeoutError
        return waiter.result()

    def _excess_waiters(self) -> int:
        """Waiting requests beyond the kernels that will serve them: every kernel slot not
        rendering (idle, starting, or about to be replaced) takes one waiter off the line.
        A waiter already handed a kernel is out of the line (and that kernel is leased)."""
        waiting = sum(1 for waiter in self._waiters if not waiter.done())
        free_slots = self.settings.size - len(self._leased)
        return max(waiting - free_slots, 0)

    def _withdraw(self, waiter: asyncio.Future[K]) -> None:
        """Leave the line; a kernel handed over in the same instant goes back to the pool."""
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)
        if not waiter.done():
            waiter.cancel()
            return
        handed_over = not waiter.cancelled() and waiter.exception() is None
        task = asyncio.current_task()  # lease()'s: _withdraw runs inside it
        if handed_over and task is not None and task.cancelling():
            self._leased.discard(waiter.result().id)
            self._make_available(waiter.result())

    def give_back(
        self,
        kernel: K,
        retire: str | None,
        seconds: float | None = None,
        sweep: bool = False,
    ) -> None:
        """Return a leased kernel after a finished render; retire it if it is worn out.

        `sweep`: the render ran custom code in a kernel that stays; it stays leased until
        the factory has ended every process the render started.
        """
        if sweep and not retire and kernel.alive:
            self._run_in_background(self._sweep_and_give_back(kernel, seconds))
            return
        self._leased.discard(kernel.id)
        kernel.renders += 1
        if seconds is not None:
            self._average_lease = 0.8 * self._average_lease + 0.2 * seconds
        reason = retire or self._wear(kernel)
        if not kernel.alive or kernel.id not in self._kernels:
            self._note_returned()
            return
        if reason:
            self._retire(kernel, reason)
        else:
            self._make_available(kernel)
        self._note_returned()

    def abandon(self, kernel: K, retire_after: str | None, sweep: bool = False) -> None:
        """Take back a kernel whose render timed out or was cancelled mid-cell.

        The cell is interrupted in the background; a kernel that does not come
        back within the grace period is killed and replaced.
        """
        self._run_in_background(self._recover(kernel, retire_after, sweep))

    async def _sweep_and_give_back(self, kernel: K, seconds: float | None) -> None:
        try:
            killed = await self._factory.sweep(kernel)
        except (TimeoutError, OSError) as error:
            self._leased.discard(kernel.id)
            self._retire(kernel, "unresponsive", f"its processes could not be swept ({error})")
            self._note_returned()
            return
        if killed:
            log.info("ended %d processes kernel %s's render left running", killed, kernel.id)
        self.give_back(kernel, retire=None, seconds=seconds)

    def stats(self) -> PoolStats:
        starting = len(self._kernels) - len(self._ready)
        return PoolStats(
            size=self.settings.size,
            idle=len(self._idle),
            busy=len(self._ready) - len(self._idle),
            starting=starting,
            queued=sum(1 for waiter in self._waiters if not waiter.done()),
            max_queue=self.settings.max_queue,
            restarts=dict(self._restarts),
            start_error=self._start_error,
            kernel_pids=[k.pid for k in self._kernels.values() if k.pid is not None],
        )

    async def close(self, grace: float) -> None:
        """Refuse new leases, give running renders up to `grace` seconds, then stop everything."""
        self._closed = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(PoolClosed("Server is shutting down"))
        self._waiters.clear()
        if self._leased:
            self._all_returned.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_returned.wait(), grace)
        for task in [self._supervisor, *self._background]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        kernels = list(self._kernels.values())
        for kernel in kernels:
            kernel.kill("the server is shutting down")
        exits = [k.exited for k in kernels if k.pid is not None]
        if exits:
            await asyncio.wait(exits, timeout=3)
        for kernel in kernels:
            kernel.close()
        self._kernels.clear()
        await self._factory.close()

    # -- internals -----------------------------------------------------------

    def _checkout(self, kernel: K) -> K:
        self._leased.add(kernel.id)
        return kernel

    def _make_available(self, kernel: K) -> None:
        """Hand a ready kernel to the first live waiter, or park it as idle."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._checkout(kernel)
                waiter.set_result(kernel)
                return
        self._idle.append(kernel)

    def _note_returned(self) -> None:
        if not self._leased:
            self._all_returned.set()

    def _wear(self, kernel: K) -> str | None:
        if kernel.renders >= self.settings.max_renders:
            return "max_renders"
        limit = self.settings.memory_limit
        rss = kernel.rss() if limit else None
        if rss is not None and rss > MEMORY_RECYCLE_FRACTION * limit:
            return "memory"
        return None

    def _retire(self, kernel: K, reason: str, detail: str | None = None) -> None:
        log.info("retiring kernel %s (pid %s): %s", kernel.id, kernel.pid, detail or reason)
        self._forget(kernel)
        self._restarts[reason] += 1
        kernel.kill(detail or f"retired: {reason}")
        # Release the connection only once the process is gone: a render may still be
        # waiting on it, and must learn from the exit (not a closed socket) what happened.
        kernel.exited.add_done_callback(lambda _: kernel.close())
        self._changed.set()

    def _forget(self, kernel: K) -> None:
        self._kernels.pop(kernel.id, None)
        self._ready.discard(kernel.id)
        self._leased.discard(kernel.id)
        with contextlib.suppress(ValueError):
            self._idle.remove(kernel)

    def _on_exit(self, kernel: K, exited: asyncio.Future[str]) -> None:
        """A kernel process ended; if nobody retired it on purpose, it died."""
        if self._closed or kernel.id not in self._kernels:
            return
        log.warning("kernel %s (pid %s) %s", kernel.id, kernel.pid, exited.result())
        self._forget(kernel)
        self._restarts["died"] += 1
        kernel.close()
        self._note_returned()
        self._changed.set()

    def _overloaded(self) -> PoolOverloaded:
        waiting = sum(1 for waiter in self._waiters if not waiter.done())
        retry_after = max(1, math.ceil(self._average_lease * (waiting + 1) / self.settings.size))
        return PoolOverloaded(
            f"Server busy: all {self.settings.size} kernels are rendering and {waiting} "
            f"requests are waiting; retry in {retry_after} s",
            retry_after,
        )

    async def _recover(self, kernel: K, retire_after: str | None, sweep: bool) -> None:
        if await kernel.interrupt(self.settings.interrupt_grace):
            self.give_back(kernel, retire=retire_after, sweep=sweep)
            return
        self._leased.discard(kernel.id)
        if kernel.id in self._kernels:
            self._retire(kernel, "unresponsive")
        self._note_returned()

    async def _supervise(self) -> None:
        """Keep `size` kernels running or starting; each start runs as its own task."""
        while not self._closed:
            self._changed.clear()
            for _ in range(self.settings.size - len(self._kernels)):
                self._run_in_background(self._start_one())
            await self._changed.wait()

    async def _watch_memory(self) -> None:
        """Kill a rendering kernel the moment it holds more than its memory limit.

        The in-kernel RLIMIT_DATA makes ordinary allocations fail with MemoryError;
        this catches what that limit does not count (shared mappings, memory a C
        library maps itself) before it can starve the other kernels.
        """
        limit = self.settings.memory_limit
        while True:
            await asyncio.sleep(MEMORY_WATCH_INTERVAL)
            for kernel in [self._kernels[k] for k in self._leased if k in self._kernels]:
                rss = kernel.rss() or 0
                if rss > limit:
                    detail = (
                        f"it used {rss // 2**20} MiB, over its {limit // 2**20} MiB memory limit"
                    )
                    self._retire(kernel, "memory", detail)

    async def _start_one(self) -> None:
        """Start one kernel in a free slot; after a failure, hold the slot for a back-off."""
        kernel = self._factory.create(f"k{next(self._ids)}")
        self._kernels[kernel.id] = kernel
        try:
            await self._factory.start(kernel)
        except Exception as error:
            kernel.kill("it failed to start")
            kernel.close()
            self._start_error = str(error) or type(error).__name__
            log.error(
                "kernel start failed: %s (retrying in %.1f s)", self._start_error, self._backoff
            )
            await asyncio.sleep(self._backoff)
            self._backoff = min(self._backoff * 2, 30.0)
            self._kernels.pop(kernel.id, None)
            self._changed.set()
            return
        self._start_error = None
        self._backoff = 0.5
        kernel.exited.add_done_callback(lambda exited: self._on_exit(kernel, exited))
        self._ready.add(kernel.id)
        self._make_available(kernel)

    def _run_in_background(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
