"""The pool's waiting line: who counts in it, and when a request is refused."""

from __future__ import annotations

import asyncio

import pytest
from fake_kernels import FakeKernel, fake_pool
from kfp_viz_kernels import PoolOverloaded
from kfp_viz_kernels.pool import KernelPool


def line(size: int = 2, max_queue: int = 2) -> KernelPool[FakeKernel]:
    pool = fake_pool(size=size, max_queue=max_queue)
    for index in range(size):  # kernels starting: in the pool, not ready yet
        pool._kernels[f"k{index}"] = FakeKernel(f"k{index}")
    return pool


def test_requests_waiting_for_starting_kernels_are_not_beyond_the_pool():
    async def burst() -> tuple[list, list]:
        pool = line()
        waiting = [asyncio.ensure_future(pool.lease(30)) for _ in range(4)]
        await asyncio.sleep(0)
        with pytest.raises(PoolOverloaded) as refused:
            await pool.lease(30)
        for index in range(2):  # the kernels come up
            pool._ready.add(f"k{index}")
            pool._make_available(pool._kernels[f"k{index}"])
        await asyncio.sleep(0.05)
        done = [w.done() for w in waiting]
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        return done, [str(refused.value)]

    done, refusal = asyncio.run(burst())
    assert done == [True, True, False, False]
    assert "2 kernels are rendering and 4 requests are waiting" in refusal[0]


def test_a_waiter_handed_a_kernel_leaves_the_line_at_once():
    """Handed a kernel, a waiter no longer counts, even before its coroutine resumes."""

    async def handover() -> tuple[int, int]:
        pool = line(size=1, max_queue=1)
        pool._ready.add("k0")
        first = asyncio.ensure_future(pool.lease(30))
        second = asyncio.ensure_future(pool.lease(30))
        await asyncio.sleep(0)
        pool._make_available(pool._kernels["k0"])  # to `first`, which has not resumed yet
        queued = pool.stats().queued
        third = asyncio.ensure_future(pool.lease(30))  # one waiting, one rendering: room for it?
        await asyncio.sleep(0)
        refused = third.done() and isinstance(third.exception(), PoolOverloaded)
        for task in (first, second, third):
            task.cancel()
        await asyncio.gather(first, second, third, return_exceptions=True)
        return queued, refused

    queued, refused = asyncio.run(handover())
    assert queued == 1  # only `second` waits
    assert refused  # the kernel is leased and one request waits: the line (1) is full


def test_the_line_refuses_past_max_queue_beyond_the_kernels():
    async def full() -> list[bool]:
        pool = line(size=2, max_queue=1)
        for kernel in ("k0", "k1"):
            pool._ready.add(kernel)
            pool._make_available(pool._kernels[kernel])
        leased = [await pool.lease(1), await pool.lease(1)]  # both kernels rendering
        waiter = asyncio.ensure_future(pool.lease(30))
        await asyncio.sleep(0)
        outcomes = []
        for _ in range(2):
            try:
                await asyncio.wait_for(pool.lease(30), 0.01)
                outcomes.append(True)
            except PoolOverloaded:
                outcomes.append(False)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        assert len(leased) == 2
        return outcomes

    assert asyncio.run(full()) == [False, False]
