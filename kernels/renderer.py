"""One render, start to finish: request → leased kernel → outputs → HTML page.

This is the execution abstraction the protocols call. Within the request's
time budget it leases a kernel, runs the type's cell with `variables` and
`source` bound as data, and exports the outputs as a page. Whatever happens,
the kernel goes back to the pool in a known state: returned clean, retired,
or interrupted (and killed if it will not stop) in the background.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Generic

from .errors import KernelDied, PoolClosed, RenderTimeout
from .factory import K
from .kernel import Execution
from .page import PageTemplate
from .pool import KernelPool
from .types import VisualizationType


@dataclass(frozen=True)
class RenderRequest:
    """A validated request: a registered type, its arguments, its source, its time budget."""

    type: VisualizationType
    variables: dict[str, Any]
    source: str
    timeout: float
    namespace: str = ""
    """Whose render it is: the Kubernetes namespace it was made for (a KFP profile's), which
    decides the object-store keys its reads use; "" = the server's own configuration."""


@dataclass(frozen=True)
class RenderResult:
    """A finished page, and the error the visualization's own code raised, if any."""

    html: str
    error: str | None
    kernel_id: str | None
    """The kernel that rendered the page; None when none was needed."""
    seconds: float


class Renderer(Generic[K]):
    """Renders requests on a kernel pool into pages built from one template."""

    def __init__(self, pool: KernelPool[K], template: PageTemplate | None = None) -> None:
        self.pool = pool
        self.template = template or PageTemplate.default()

    async def render(self, request: RenderRequest) -> RenderResult:
        started = time.monotonic()
        if request.type.is_custom and not request.variables.get("code"):
            return self._no_code(started)
        try:
            kernel = await self.pool.lease(request.timeout)
        except TimeoutError:
            raise RenderTimeout(request.timeout, waiting_for_kernel=True) from None
        remaining = request.timeout - (time.monotonic() - started)
        cell = request.type.cell(request.variables)
        data = {"variables": request.variables, "source": request.source}
        retire = "custom_code" if self._retires_after(request) else None
        sweep = request.type.is_custom  # processes it started are ended before reuse
        try:
            execution = await kernel.execute(cell, data, remaining, request.namespace)
        except TimeoutError:
            self.pool.abandon(kernel, retire_after=retire, sweep=sweep)
            raise RenderTimeout(request.timeout, waiting_for_kernel=False) from None
        except KernelDied:
            if self.pool.closed:
                raise PoolClosed("Server is shutting down") from None
            raise
        except BaseException:  # cancelled: the client went away mid-render
            self.pool.abandon(kernel, retire_after=retire, sweep=sweep)
            raise
        seconds = time.monotonic() - started
        if execution.error and execution.error[0] == "MemoryError":
            retire = "memory"
        self.pool.give_back(kernel, retire=retire, seconds=seconds, sweep=sweep)
        return RenderResult(
            html=self._page(request, execution),
            error=_error_text(execution),
            kernel_id=kernel.id,
            seconds=seconds,
        )

    def _no_code(self, started: float) -> RenderResult:
        """`custom` without code: the stock server answers 200 with an empty page; so does
        this one, saying why it is empty (no kernel is needed for that)."""
        note = (
            "This custom visualization has no code: arguments.code is missing or empty, so "
            "there was nothing to run."
        )
        output = {"output_type": "display_data", "data": {"text/plain": note}, "metadata": {}}
        html = self.template.render([output], title="custom visualization")
        return RenderResult(html, None, None, time.monotonic() - started)

    def _retires_after(self, request: RenderRequest) -> bool:
        return request.type.is_custom and not self.pool.settings.reuse_custom_kernels

    def _page(self, request: RenderRequest, execution: Execution) -> str:
        outputs = execution.outputs
        if not request.type.shows_streams:
            outputs = [o for o in outputs if o["output_type"] != "stream"]
        return self.template.render(outputs, title=f"{request.type.name} visualization")


def _error_text(execution: Execution) -> str | None:
    if execution.error is None:
        return None
    name, value = execution.error
    return f"{name}: {value}" if value else name
