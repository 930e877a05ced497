"""Pool and kernel memory defaults follow the container's cgroup limits, never the node alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from kfp_viz_server.sizing import (
    DEFAULT_KERNEL_MEMORY,
    UNLIMITED_POOL,
    ContainerLimits,
    default_kernel_memory,
    default_pool_size,
)

MiB = 2**20


def _limits(cpus: int, quota: float | None = None, memory: int | None = None) -> ContainerLimits:
    return ContainerLimits(cpus=cpus, cpu_quota=quota, memory_limit=memory)


@pytest.mark.parametrize(("cpus", "expected"), [(1, 2), (2, 2), (3, 3), (64, UNLIMITED_POOL)])
def test_without_limits_the_pool_stays_small_whatever_the_node(cpus, expected):
    sizing = default_pool_size(_limits(cpus))
    assert sizing.value == expected
    assert "no CPU limit" in sizing.reason


@pytest.mark.parametrize(("quota", "expected"), [(0.03, 2), (1.5, 2), (3.0, 3), (7.2, 8)])
def test_a_cpu_limit_gives_one_kernel_per_cpu_at_least_two(quota, expected):
    sizing = default_pool_size(_limits(64, quota=quota))
    assert sizing.value == expected
    assert f"{quota:g}" in sizing.reason


def test_a_memory_limit_caps_the_pool_and_shares_itself_among_kernels():
    limits = _limits(64, quota=8.0, memory=1024 * MiB)
    pool = default_pool_size(limits)
    assert pool.value == 2 and "memory limit (1024 MiB" in pool.reason
    assert default_kernel_memory(limits, pool.value).value == 512 * MiB  # the least workable
    roomy = _limits(64, quota=2.0, memory=4096 * MiB)
    memory = default_kernel_memory(roomy, default_pool_size(roomy).value)
    assert memory.value == (4096 - 320) * MiB // 2 and "share" in memory.reason
    assert default_kernel_memory(_limits(4), 4).value == DEFAULT_KERNEL_MEMORY


def test_a_tiny_memory_limit_still_runs_one_kernel_with_a_workable_limit():
    limits = _limits(4, memory=400 * MiB)
    assert default_pool_size(limits).value == 1
    assert default_kernel_memory(limits, 1).value == 512 * MiB


def _cgroup(root: Path, text: str, files: dict[str, str]) -> Path:
    membership = root / "self-cgroup"
    membership.write_text(text)
    for name, content in files.items():
        path = root / "fs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return membership


def test_reads_cgroup_v2_limits_of_the_process_own_cgroup_and_its_parents(tmp_path):
    membership = _cgroup(
        tmp_path,
        "0::/kubepods/pod1/c1\n",
        {
            "kubepods/pod1/c1/cpu.max": "max 100000\n",
            "kubepods/pod1/cpu.max": "250000 100000\n",
            "kubepods/pod1/c1/memory.max": "1073741824\n",
            "kubepods/memory.max": "max\n",
        },
    )
    limits = ContainerLimits.read(tmp_path / "fs", membership)
    assert (limits.cpu_quota, limits.memory_limit) == (2.5, 2**30)


def test_reads_cgroup_v1_limits_and_ignores_the_unlimited_sentinel(tmp_path):
    membership = _cgroup(
        tmp_path,
        "4:memory:/pod/c\n2:cpu,cpuacct:/pod/c\n0::/\n",
        {
            "memory/pod/c/memory.limit_in_bytes": "9223372036854771712\n",
            "memory/pod/memory.limit_in_bytes": "536870912\n",
            "cpu/pod/c/cpu.cfs_quota_us": "-1\n",
            "cpu/pod/c/cpu.cfs_period_us": "100000\n",
        },
    )
    limits = ContainerLimits.read(tmp_path / "fs", membership)
    assert (limits.cpu_quota, limits.memory_limit) == (None, 512 * MiB)
    assert "no CPU limit" in limits.describe() and "512 MiB" in limits.describe()


def test_a_container_view_reads_its_limits_at_the_mount_root(tmp_path):
    membership = _cgroup(tmp_path, "0::/\n", {"cpu.max": "400000 100000\n"})
    assert ContainerLimits.read(tmp_path / "fs", membership).cpu_quota == 4.0
