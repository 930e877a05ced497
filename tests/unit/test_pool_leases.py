"""The pool's rules, driven with fake kernels: lease, line, retire, heal, timeouts, close."""

from __future__ import annotations

import asyncio

import pytest
from fake_kernels import FakeKernel, FakeKernels, fake_pool
from kfp_viz_kernels import PoolClosed, PoolOverloaded, PoolUnavailable
from kfp_viz_kernels.pool import KernelPool

pytestmark = pytest.mark.asyncio


async def started(factory: FakeKernels | None = None, **settings) -> KernelPool[FakeKernel]:
    pool = fake_pool(factory, **settings)
    pool.start()
    assert await pool.wait_ready(2)
    await settle()
    return pool


async def settle() -> None:
    """Let the supervisor and background tasks run what is due."""
    for _ in range(5):
        await asyncio.sleep(0)


async def one_leased(
    factory: FakeKernels | None = None, **settings
) -> tuple[KernelPool[FakeKernel], FakeKernel]:
    """A pool of one kernel, leased."""
    pool = await started(factory, size=1, **settings)
    return pool, await pool.lease(1)


async def leased_and_waiting(
    factory: FakeKernels | None = None, **settings
) -> tuple[KernelPool[FakeKernel], FakeKernel, asyncio.Future[FakeKernel]]:
    """A pool of one kernel, leased, and a request waiting in line for it."""
    pool, kernel = await one_leased(factory, **settings)
    waiting = asyncio.ensure_future(pool.lease(30))
    await settle()
    return pool, kernel, waiting


async def test_a_returned_kernel_goes_to_the_request_waiting_for_it():
    pool, first, waiting = await leased_and_waiting(max_queue=2)
    assert not waiting.done(), "the only kernel is leased"
    assert pool.stats().busy == 1 and pool.stats().queued == 1
    pool.give_back(first, retire=None, seconds=0.1)
    assert await waiting is first
    assert first.renders == 1 and first.killed is None
    await pool.close(0)


async def test_a_full_line_is_refused_at_once_with_a_retry_estimate():
    pool, _, waiting = await leased_and_waiting(max_queue=1)
    with pytest.raises(PoolOverloaded) as refused:
        await pool.lease(30)
    assert refused.value.retry_after >= 1
    assert "all 1 kernels are rendering and 1 requests are waiting" in str(refused.value)
    assert not waiting.done(), "the refusal left the request in line alone"
    waiting.cancel()
    await pool.close(0)


async def test_a_lease_not_granted_before_its_deadline_times_out_and_leaves_the_line():
    pool, kernel = await one_leased(max_queue=4)
    with pytest.raises(TimeoutError):
        await pool.lease(0.05)
    assert pool.stats().queued == 0
    pool.give_back(kernel, retire=None)
    assert await pool.lease(0.05) is kernel, "the timed-out request took nothing with it"
    await pool.close(0)


async def test_a_request_cancelled_in_line_leaves_it():
    pool, kernel, waiting = await leased_and_waiting(max_queue=1)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert pool.stats().queued == 0
    pool.give_back(kernel, retire=None)
    assert pool.stats().idle == 1, "nobody is waiting: the kernel is idle"
    await pool.close(0)


@pytest.mark.parametrize("reason", ["custom_code", "memory"])
async def test_a_kernel_retired_after_a_render_is_killed_closed_and_replaced(reason):
    factory = FakeKernels()
    pool, kernel = await one_leased(factory)
    pool.give_back(kernel, retire=reason, seconds=0.1)
    await settle()
    assert kernel.killed == f"retired: {reason}" and kernel.closed
    assert pool.stats().restarts == {reason: 1}
    replacement = await pool.lease(1)
    assert replacement is factory.made[1] and replacement is not kernel
    await pool.close(0)


async def test_a_kernel_worn_by_max_renders_is_retired():
    pool, kernel = await one_leased(max_renders=2)
    pool.give_back(kernel, retire=None)
    assert await pool.lease(1) is kernel
    pool.give_back(kernel, retire=None)
    assert kernel.killed == "retired: max_renders"
    assert await pool.lease(1) is not kernel
    await pool.close(0)


async def test_a_kernel_grown_past_nine_tenths_of_its_memory_limit_is_retired():
    pool, kernel = await one_leased(memory_limit=1000)
    kernel.memory = 950
    pool.give_back(kernel, retire=None)
    assert kernel.killed == "retired: memory"
    assert pool.stats().restarts == {"memory": 1}
    await pool.close(0)


async def test_a_rendering_kernel_over_its_memory_limit_is_killed_at_once():
    pool, kernel = await one_leased(memory_limit=100 * 2**20)
    kernel.memory = 200 * 2**20
    await asyncio.sleep(0.4)  # the watch looks every 0.25 s
    assert kernel.killed == "it used 200 MiB, over its 100 MiB memory limit"
    assert not kernel.alive and pool.stats().restarts == {"memory": 1}
    await pool.close(0)


async def test_an_idle_kernel_that_dies_is_replaced():
    factory = FakeKernels()
    pool = await started(factory, size=1)
    factory.made[0].die()
    await settle()
    assert pool.stats().restarts == {"died": 1}
    assert factory.made[0].closed
    assert await pool.lease(1) is factory.made[1]
    await pool.close(0)


async def test_a_kernel_that_dies_mid_render_is_not_handed_out_again():
    factory = FakeKernels()
    pool, kernel = await one_leased(factory)
    kernel.die()
    await settle()
    pool.give_back(kernel, retire=None)  # the render learned of the death and returns it
    assert await pool.lease(1) is factory.made[1]
    assert pool.stats().restarts == {"died": 1}
    await pool.close(0)


async def test_kernels_that_fail_to_start_make_leases_fail_with_the_reason_until_one_starts():
    factory = FakeKernels()
    factory.failures = 1
    pool = fake_pool(factory, size=1)
    pool.start()
    await settle()
    assert not await pool.wait_ready(0.1)
    with pytest.raises(PoolUnavailable, match="No kernel is running: kernel k1 could not start"):
        await pool.lease(1)
    assert await pool.wait_ready(2), "the slot is tried again after its back-off"
    assert pool.stats().start_error is None
    assert await pool.lease(1) is factory.made[1]
    await pool.close(0)


async def test_an_abandoned_kernel_that_answers_the_interrupt_serves_again():
    pool, kernel = await one_leased()
    pool.abandon(kernel, retire_after=None)
    await settle()
    assert kernel.killed is None
    assert await pool.lease(1) is kernel
    await pool.close(0)


async def test_an_abandoned_kernel_that_ignores_the_interrupt_is_retired_as_unresponsive():
    factory = FakeKernels()
    pool, kernel = await one_leased(factory)
    kernel.answers_interrupt = False
    pool.abandon(kernel, retire_after=None)
    await settle()
    assert kernel.killed == "retired: unresponsive"
    assert pool.stats().restarts == {"unresponsive": 1}
    assert await pool.lease(1) is factory.made[1]
    await pool.close(0)


async def test_a_reused_kernel_is_swept_before_it_serves_again():
    factory = FakeKernels()
    pool, kernel = await one_leased(factory)
    pool.give_back(kernel, retire=None, sweep=True)
    assert pool.stats().idle == 0, "leased until the sweep is done"
    assert await pool.lease(1) is kernel
    assert factory.swept == [kernel.id]
    await pool.close(0)


async def test_a_kernel_that_cannot_be_swept_is_retired():
    factory = FakeKernels()
    factory.sweep_error = TimeoutError()
    pool, kernel = await one_leased(factory)
    pool.give_back(kernel, retire=None, sweep=True)
    assert await pool.lease(1) is factory.made[1]
    assert kernel.killed and "its processes could not be swept" in kernel.killed
    await pool.close(0)


async def test_close_refuses_the_line_and_stops_every_kernel_and_the_factory():
    factory = FakeKernels()
    pool, kernel, waiting = await leased_and_waiting(factory)
    closing = asyncio.ensure_future(pool.close(5))
    await settle()
    with pytest.raises(PoolClosed):
        await waiting
    pool.give_back(kernel, retire=None)  # the running render finishes within the grace
    await closing
    assert kernel.killed == "the server is shutting down" and kernel.closed
    assert factory.closed
    with pytest.raises(PoolClosed):
        await pool.lease(1)


async def test_a_burst_meeting_restarting_kernels_is_served_as_far_as_the_line_has_room():
    """The hardening issue's spurious 503s: pool 2, line 2, 10 requests at once while both
    kernels restart (after custom code). Two render on the kernels and two wait: 4 served,
    6 refused. Counting every waiter as excess served 2 and refused 8."""
    factory = FakeKernels()
    pool = await started(factory, size=2, max_queue=2)
    for kernel in [await pool.lease(1), await pool.lease(1)]:
        factory.hold = asyncio.Event()  # the replacements start slowly
        pool.give_back(kernel, retire="custom_code")
    await settle()
    assert pool.stats().starting == 2

    async def render() -> str:
        try:
            kernel = await pool.lease(5)
        except PoolOverloaded:
            return "503"
        await asyncio.sleep(0.01)
        pool.give_back(kernel, retire="custom_code")
        return "200"

    burst = [asyncio.ensure_future(render()) for _ in range(10)]
    await settle()
    factory.hold.set()
    factory.hold = None
    answers = await asyncio.gather(*burst)
    assert sorted(answers) == ["200"] * 4 + ["503"] * 6
    await pool.close(0)
