"""The hub's semantics on the in-process bus: history then live, resume, lag and resync,
namespace scoping, shutdown. The bus is the embedded default, not a fake of Kafka; the
same behaviour against a real broker is in tests/integration/test_progress_kafka.py."""

from __future__ import annotations

import asyncio

import pytest
from kfp_viz.events import Cursor, parse_event
from kfp_viz_server.errors import ErrorKind, RequestFailed
from kfp_viz_server.progress.hub import (
    CaughtUp,
    Delivered,
    Heartbeat,
    Lagged,
    ProgressHub,
)
from kfp_viz_server.progress.source import LocalBus, Record


def log_event(run: str, message: str, namespace: str = "", node: str = "s"):
    return parse_event({"v": 1, "run_id": run, "node_id": node, "kind": "log",
                        "message": message, "namespace": namespace})  # fmt: skip


def end_event(run: str):
    return parse_event({"v": 1, "run_id": run, "kind": "status", "status": "Succeeded"})


async def drain(hub: ProgressHub, watcher, until_messages: int, timeout: float = 5.0) -> list:
    items: list = []

    async def collect():
        while sum(isinstance(i, Delivered) for i in items) < until_messages:
            items.extend(await watcher.next_items(100, 1.0))

    await asyncio.wait_for(collect(), timeout)
    return items


def messages(items) -> list[str]:
    return [i.event.message for i in items if isinstance(i, Delivered)]


async def make_hub(**kw) -> ProgressHub:
    hub = ProgressHub(LocalBus(), **kw)
    hub.start()
    return hub


@pytest.mark.asyncio
async def test_history_first_then_caught_up_then_live():
    hub = await make_hub()
    for i in range(3):
        await hub.publish(log_event("r", f"h{i}"))
    await hub.publish(log_event("other", "not mine"))
    async with hub.watch("r") as watcher:
        items = await drain(hub, watcher, 3)
        assert messages(items) == ["h0", "h1", "h2"]
        items += await watcher.next_items(10, 0.5)
        assert any(isinstance(i, CaughtUp) and i.events == 3 for i in items)
        await hub.publish(log_event("r", "live"))
        assert messages(await drain(hub, watcher, 1)) == ["live"]
    assert hub.stats.watchers == 0


@pytest.mark.asyncio
async def test_resume_after_cursor_skips_exactly_what_was_seen():
    hub = await make_hub()
    cursors = [await hub.publish(log_event("r", f"m{i}")) for i in range(6)]
    async with hub.watch("r", resume_after=cursors[2]) as watcher:
        assert messages(await drain(hub, watcher, 3)) == ["m3", "m4", "m5"]


@pytest.mark.asyncio
async def test_live_only_watch_sees_no_history():
    hub = await make_hub()
    await hub.publish(log_event("r", "old"))
    async with hub.watch("r", from_beginning=False) as watcher:
        await hub.publish(log_event("r", "new"))
        assert messages(await drain(hub, watcher, 1)) == ["new"]


@pytest.mark.asyncio
async def test_overflow_marks_lagged_and_resyncs_every_event_once():
    hub = await make_hub(queue_size=5)
    async with hub.watch("r", from_beginning=False) as slow, hub.watch("r") as fast:
        for i in range(40):
            await hub.publish(log_event("r", f"e{i}"))
            if i % 3 == 0:
                await asyncio.sleep(0)  # let the fast watcher drain now and then
        fast_items = await drain(hub, fast, 40)
        slow_items = await drain(hub, slow, 40)
    expected = [f"e{i}" for i in range(40)]
    assert messages(slow_items) == expected
    assert messages(fast_items) == expected
    lagged = [i for i in slow_items if isinstance(i, Lagged)]
    # its queue of 5 held the caught-up marker and e0..e3: e4 (offset 4) was the first missed
    assert lagged and lagged[0].resume_from == Cursor(lagged[0].resume_from.partition, 4)
    assert slow_items.index(lagged[0]) == 5, "the notice comes after what was queued"
    assert hub.stats.lagged >= 1


@pytest.mark.asyncio
async def test_namespace_scoping():
    hub = await make_hub(namespace="team-a")
    await hub.publish(log_event("r", "a", namespace="team-a"))
    await hub.publish(log_event("r", "b", namespace="team-b"))
    async with hub.watch("r") as watcher:
        items = await drain(hub, watcher, 1)
        items += await watcher.next_items(10, 0.3)
        assert messages(items) == ["a"]
    with pytest.raises(RequestFailed) as refused:
        async with hub.watch("r", namespace="team-b"):
            pass
    assert refused.value.kind is ErrorKind.FORBIDDEN


@pytest.mark.asyncio
async def test_follow_ends_at_terminal_status_and_heartbeats_when_idle():
    hub = await make_hub()
    async with hub.watch("r") as watcher:
        stream = hub.follow(watcher, heartbeat_interval=0.05)
        first = await anext(stream)  # caught up, nothing yet
        assert isinstance(first[0], CaughtUp) and first[0].events == 0
        heartbeat = await anext(stream)
        assert isinstance(heartbeat, Heartbeat) and heartbeat.upstream_reachable
        await hub.publish(log_event("r", "x"))
        await hub.publish(end_event("r"))
        await hub.publish(log_event("r", "after the end"))
        last = await anext(stream)
        while isinstance(last, Heartbeat) or len(last) < 2:
            last += await anext(stream) if not isinstance(last, Heartbeat) else []
            if isinstance(last, Heartbeat):
                last = await anext(stream)
        assert [i.event.kind for i in last] == ["log", "status"]
        with pytest.raises(StopAsyncIteration):
            await anext(stream)


@pytest.mark.asyncio
async def test_close_ends_open_streams():
    hub = await make_hub()
    async with hub.watch("r") as watcher:
        stream = hub.follow(watcher, heartbeat_interval=5)
        await anext(stream)
        await hub.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(stream), 1)
    with pytest.raises(RequestFailed) as refused:
        async with hub.watch("r"):
            pass
    assert refused.value.kind is ErrorKind.UNAVAILABLE


@pytest.mark.asyncio
async def test_bus_retention_drops_oldest():
    bus = LocalBus(partitions=1, retention=3)
    hub = ProgressHub(bus, recent_size=1)  # so the watch reads the bus itself
    hub.start()
    for i in range(5):
        await hub.publish(log_event("r", f"m{i}"))
    async with hub.watch("r") as watcher:
        assert messages(await drain(hub, watcher, 3)) == ["m2", "m3", "m4"]


@pytest.mark.asyncio
async def test_bus_retention_is_bounded_in_bytes_too_and_counts_what_it_drops():
    bus = LocalBus(partitions=3, retention=1000, retention_bytes=64 * 1024)
    hub = ProgressHub(bus, recent_size=1)
    hub.start()
    for i in range(200):  # ~2 KB each: 400 KB offered, 64 KB kept in all partitions
        await hub.publish(log_event(f"r{i % 5}", f"{i:04d}" + "x" * 2000))
    assert bus.dropped["bytes"] > 300_000 and bus.dropped["count"] == 0
    kept = bus.dropped["bytes"]
    assert 150 < bus.dropped["bytes"] // 2000 < 200
    async with hub.watch("r4") as watcher:
        items = await drain(hub, watcher, 1)
        items += await watcher.next_items(100, 0.5)
    newest = messages(items)
    assert newest and newest[-1].startswith("0199") and len(newest) < 10
    assert kept == bus.dropped["bytes"]


@pytest.mark.asyncio
async def test_history_scans_take_turns_and_leave_the_loop_free():
    """Fifty watchers scanning 30,000 records each: between two turns of the loop, one slice
    of one scan runs (each slice is time-bounded), never fifty, never a whole partition."""
    bus = LocalBus(partitions=1)
    hub = ProgressHub(bus, recent_size=1)
    hub.start()
    for i in range(30_000):
        await bus.publish(f"busy-{i % 10}", log_event(f"busy-{i % 10}", "m").to_json())
    slices = 0
    scan = hub._scan

    def counted(*args):
        nonlocal slices
        slices += 1
        return scan(*args)

    hub._scan = counted
    per_turn: list[int] = []

    async def monitor() -> None:
        while True:
            before = slices
            await asyncio.sleep(0)
            per_turn.append(slices - before)

    async def watch() -> list:
        async with hub.watch("new-run") as watcher:
            return await watcher.next_items(10, 30)

    probe = asyncio.create_task(monitor())
    results = await asyncio.gather(*(watch() for _ in range(50)))
    probe.cancel()
    assert all(isinstance(items[0], CaughtUp) and items[0].events == 0 for items in results)
    assert slices >= 50 * 30_000 // 2000 and max(per_turn) <= 1, max(per_turn)


def moving_run(before: int, after: int) -> str:
    """A run id whose partition differs between `before` and `after` partitions."""
    for i in range(1000):
        run = f"mover-{i}"
        if LocalBus(after).partition_for(run) >= before:  # moves onto an added partition
            return run
    raise AssertionError("no such run id")


async def bus_hub(partitions: int, **kw) -> tuple[LocalBus, ProgressHub]:
    bus = LocalBus(partitions)
    hub = ProgressHub(bus, **kw)
    hub.start()
    return bus, hub


@pytest.mark.asyncio
async def test_a_watcher_follows_its_run_onto_an_added_partition():
    bus, hub = await bus_hub(1)
    run = moving_run(1, 3)
    for i in range(3):
        await hub.publish(log_event("other", f"o{i}"))  # partition 0 is past offset 0
    await hub.publish(log_event(run, "old home"))
    async with hub.watch(run) as history, hub.watch(run, from_beginning=False) as live:
        assert messages(await drain(hub, history, 1)) == ["old home"]
        bus.add_partitions(3)
        assert hub.status()["partitions"] == [0, 1, 2]
        cursors = [await hub.publish(log_event(run, f"new home {i}")) for i in range(3)]
        assert {c.partition for c in cursors} == {bus.partition_for(run)} != {0}
        expected = [f"new home {i}" for i in range(3)]
        assert messages(await drain(hub, history, 3)) == expected
        assert messages(await drain(hub, live, 3)) == expected
        late = hub.watch(run)  # a watch begun after the change reads the new home
        async with late as watcher:
            assert messages(await drain(hub, watcher, 3)) == expected


@pytest.mark.asyncio
async def test_resume_with_a_cursor_of_the_old_home_misses_nothing_of_the_new():
    bus, hub = await bus_hub(1)
    run = moving_run(1, 2)
    first = await hub.publish(log_event(run, "a"))
    await hub.publish(log_event(run, "b"))
    bus.add_partitions(2)
    await hub.publish(log_event(run, "c"))
    hub.check_cursor(run, first)  # partition 0 still exists: accepted
    async with hub.watch(run, resume_after=first) as watcher:
        items = await drain(hub, watcher, 2)
        assert messages(items) == ["b", "c"]
        items += await watcher.next_items(10, 0.2)
        assert messages(items) == ["b", "c"], "no duplicate"
    with pytest.raises(RequestFailed, match=f"not on partition 1, where run {run} is"):
        hub.check_cursor(run, Cursor(7, 0))


@pytest.mark.asyncio
async def test_a_lagged_watcher_resyncs_across_partitions_without_gap_or_duplicate():
    bus, hub = await bus_hub(1, queue_size=4)
    run = moving_run(1, 2)
    async with hub.watch(run, from_beginning=False) as slow:
        for i in range(10):
            await hub.publish(log_event(run, f"p0-{i}"))
        bus.add_partitions(2)
        for i in range(10):
            await hub.publish(log_event(run, f"p1-{i}"))
        items = await drain(hub, slow, 20)
        items += await slow.next_items(100, 0.2)
    assert messages(items) == [f"p0-{i}" for i in range(10)] + [f"p1-{i}" for i in range(10)]
    assert any(isinstance(i, Lagged) for i in items)


@pytest.mark.asyncio
async def test_history_skips_other_runs_records_unparsed_and_learns_first_offsets():
    _, hub = await bus_hub(1)
    for i in range(50):
        await hub.publish(log_event("other", f"o{i}"))
    await hub.publish(log_event("r", "mine"))
    async with hub.watch("r") as watcher:
        assert messages(await drain(hub, watcher, 1)) == ["mine"]
    assert hub._first_offset[(0, "r")] == 50 and hub._first_offset[(0, "other")] == 0
    assert hub.stats.records["malformed"] == 0


@pytest.mark.asyncio
async def test_a_flood_of_malformed_records_is_counted_each_and_logged_sparingly(caplog):
    bus, hub = await bus_hub(1)
    caplog.set_level("WARNING", logger="server.progress.hub")
    for i in range(500):
        bus._on_records([Record(0, i, "r", b"{not json", 0.0)])
    await hub.publish(log_event("r", "good"))
    assert hub.stats.records["malformed"] == 500
    assert hub.stats.records["ok"] == 1
    warnings = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert warnings and len(warnings) <= 2, warnings
    assert "skipped malformed record at 0:0: event is not valid JSON" in warnings[0]


@pytest.mark.asyncio
async def test_a_runs_history_starts_where_the_run_index_says_it_begins():
    """With a run index (run_index.py), the first watch of a run reads from the run's first
    record on, not through the other runs' records before it."""

    class Index:
        def start_of(self, partition: int, run_id: str) -> int:
            return first if run_id == "r" else 0

    bus = LocalBus(partitions=1)
    fetched: list[int] = []
    fetch = bus.fetch

    async def counting_fetch(partition, offset, until, limit):
        records, reached = await fetch(partition, offset, until, limit)
        fetched.extend(r.offset for r in records)
        return records, reached

    bus.fetch = counting_fetch
    hub = ProgressHub(bus, run_index=Index(), recent_size=1)
    for i in range(50):
        await hub.publish(log_event(f"other{i}", "not mine"))
    first = (await hub.publish(log_event("r", "first"))).offset
    await hub.publish(log_event("r", "second"))
    hub.start()  # the bus's records are all older than the live read: history fetches them
    async with hub.watch("r") as watcher:
        assert messages(await drain(hub, watcher, 2)) == ["first", "second"]
    assert min(fetched) == first == 50
