"""Execution core of kfp-viz-server: a pool of Jupyter kernels that render visualizations.

Nothing here knows about HTTP or gRPC; the server (`server/`) validates wire
requests into `RenderRequest`s and maps the errors below to its protocols.
"""

from .errors import (
    KernelDied,
    KernelStartError,
    PoolClosed,
    PoolOverloaded,
    PoolUnavailable,
    RenderError,
    RenderTimeout,
)
from .factory import KernelFactory, PoolKernel, ProcessKernels
from .pool import KernelPool, PoolSettings, PoolStats
from .renderer import Renderer, RenderRequest, RenderResult
from .types import CUSTOM, REGISTRY, VisualizationType, lookup

__all__ = [
    "CUSTOM",
    "REGISTRY",
    "KernelDied",
    "KernelFactory",
    "KernelPool",
    "KernelStartError",
    "PoolClosed",
    "PoolKernel",
    "PoolOverloaded",
    "PoolSettings",
    "PoolStats",
    "PoolUnavailable",
    "ProcessKernels",
    "RenderError",
    "RenderRequest",
    "RenderResult",
    "RenderTimeout",
    "Renderer",
    "VisualizationType",
    "lookup",
]
