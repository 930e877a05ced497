"""How big the kernel pool is by default: from the container's limits, never from the node.

KFP runs this server with requests (30m CPU, 500Mi memory) and no limits, and an operator who
swaps only the image keeps that pod. Sizing the pool by the node's CPU count would then start
64 kernels on a 64-core node, far past the pod's memory request. So the default follows what
the container is actually allowed, read from its cgroup:

- a CPU limit (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us`): one kernel per CPU of quota, at
  least 2;
- no CPU limit: the node's CPUs, at least 2 and at most `UNLIMITED_POOL` (4 kernels idle in
  about 300 MiB PSS, within KFP's 500Mi request);
- a memory limit (v2 `memory.max`, v1 `memory.limit_in_bytes`): no more kernels than fit
  beside the server, `KERNEL_BUDGET` each, and the kernels' own memory limit (when the
  operator sets none) is their share of what the container may use.

Limits are read along the process's own cgroup path up to the mount root (the smallest wins),
so this works inside a container (a cgroup namespace shows `/`) and on a host alike. The
result carries a sentence saying how it was chosen, for the start log and `/readyz`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

UNLIMITED_POOL = 4
"""Kernels when the cgroup shows no CPU limit: the pool must not grow with the node."""

SERVER_RESERVE = 320 * 2**20
"""Memory a memory limit keeps for the server and the kernel factory before any kernel."""

KERNEL_BUDGET = 320 * 2**20
"""Memory a kernel is counted at when deciding how many fit under a memory limit."""

DEFAULT_KERNEL_MEMORY = 2 * 10**9
"""A kernel's memory limit when neither the operator nor a container limit says otherwise."""

MIN_KERNEL_MEMORY = 512 * 2**20
"""The least a derived kernel memory limit may be: a kernel starts about 285 MB in."""

_UNLIMITED = 2**60  # cgroup v1 writes "no limit" as a huge number (PAGE_COUNTER_MAX pages)
_N = TypeVar("_N", int, float)


@dataclass(frozen=True)
class ContainerLimits:
    """What the cgroup lets this process use: CPUs of quota and memory, None when unlimited."""

    cpus: int
    """CPUs the process may run on (its affinity)."""
    cpu_quota: float | None
    memory_limit: int | None

    @classmethod
    def read(
        cls, root: Path = Path("/sys/fs/cgroup"), membership: Path = Path("/proc/self/cgroup")
    ) -> ContainerLimits:
        paths = _cgroup_paths(membership)
        return cls(
            cpus=len(os.sched_getaffinity(0)),
            cpu_quota=_smallest(_cpu_quota(d) for d in _candidates(root, paths, "cpu")),
            memory_limit=_smallest(_memory_limit(d) for d in _candidates(root, paths, "memory")),
        )

    def describe(self) -> str:
        cpu = f"CPU limit {self.cpu_quota:g}" if self.cpu_quota else "no CPU limit"
        memory = (
            f"memory limit {self.memory_limit // 2**20} MiB"
            if self.memory_limit
            else "no memory limit"
        )
        return f"{cpu}, {memory}, {self.cpus} CPUs"


@dataclass(frozen=True)
class Sizing:
    """A default and the sentence saying where it came from."""

    value: int
    reason: str


def default_pool_size(limits: ContainerLimits) -> Sizing:
    """Kernels in the pool when KERNEL_POOL_SIZE is not set."""
    if limits.cpu_quota:
        size = max(2, math.ceil(limits.cpu_quota))
        reason = (
            f"one kernel per CPU of the container's CPU limit ({limits.cpu_quota:g}), at least 2"
        )
    else:
        size = min(max(2, limits.cpus), UNLIMITED_POOL)
        reason = (
            f"no CPU limit in the cgroup: {limits.cpus} CPUs, kept between 2 and "
            f"{UNLIMITED_POOL} so the pool does not grow with the node"
        )
    if limits.memory_limit:
        fit = max(1, (limits.memory_limit - SERVER_RESERVE) // KERNEL_BUDGET)
        if fit < size:
            size = fit
            reason = (
                f"as many as fit in the container's memory limit "
                f"({limits.memory_limit // 2**20} MiB: {SERVER_RESERVE // 2**20} MiB for the "
                f"server, {KERNEL_BUDGET // 2**20} MiB per kernel)"
            )
    return Sizing(size, reason)


def default_kernel_memory(limits: ContainerLimits, pool_size: int) -> Sizing:
    """Each kernel's memory limit when KERNEL_MEMORY_LIMIT is not set."""
    if not limits.memory_limit:
        return Sizing(DEFAULT_KERNEL_MEMORY, "no memory limit in the cgroup: the default 2G")
    share = (limits.memory_limit - SERVER_RESERVE) // max(pool_size, 1)
    value = min(DEFAULT_KERNEL_MEMORY, max(MIN_KERNEL_MEMORY, share))
    return Sizing(
        value,
        f"an equal share of the container's memory limit "
        f"({limits.memory_limit // 2**20} MiB) among {pool_size} kernels, at most 2G",
    )


def _cgroup_paths(membership: Path) -> dict[str, str]:
    """This process's cgroup path per controller ("" for cgroup v2's unified hierarchy)."""
    paths: dict[str, str] = {}
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _candidates(root: Path, paths: dict[str, str], controller: str) -> list[Path]:
    """Folders whose limits apply to us: our cgroup and each parent up to the mount root."""
    found = []
    for mount, path in ((root / controller, paths.get(controller)), (root, paths.get(""))):
        if path is None or not mount.is_dir():
            continue
        folder = mount / path.lstrip("/")
        while True:
            found.append(folder)
            if folder == mount or mount not in folder.parents:
                break
            folder = folder.parent
    return found


def _cpu_quota(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((folder / "cpu.cfs_quota_us").read_text())
        period_us = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def _memory_limit(folder: Path) -> int | None:
    for name in ("memory.max", "memory.limit_in_bytes"):
        try:
            text = (folder / name).read_text().strip()
        except OSError:
            continue
        if text == "max":
            return None
        try:
            value = int(text)
        except ValueError:
            return None
        return value if value < _UNLIMITED else None
    return None


def _smallest(values: Iterable[_N | None]) -> _N | None:
    found = [v for v in values if v is not None]
    return min(found) if found else None
