"""A watcher owns its catch-up state (server/progress/hub.py `Watcher`); the hub only says
when. These drive it directly, without a hub: what it takes live, how it falls behind and
what it is owed afterwards, where history starts."""

from __future__ import annotations

import asyncio

import pytest
from kfp_viz.events import Cursor, parse_event
from kfp_viz_server.progress import hub
from kfp_viz_server.progress.hub import CaughtUp, Delivered, Lagged, Watcher


def delivered(offset: int, node: str = "s", partition: int = 0) -> Delivered:
    event = parse_event({"v": 1, "run_id": "r", "node_id": node, "kind": "log",
                         "message": f"m{offset}"})  # fmt: skip
    return Delivered(event, Cursor(partition, offset))


def live_watcher(queue_size: int = 2, node: str = "") -> Watcher:
    watcher = Watcher("r", node, "", queue_size, positions={0: 5})
    watcher.go_live_now()
    watcher.queue.get_nowait()  # its CaughtUp(0)
    return watcher


def test_going_live_at_once_says_so_and_takes_only_new_offsets():
    watcher = Watcher("r", "", "", 4, positions={0: 5})
    watcher.go_live_now()
    assert watcher.queue.get_nowait() == CaughtUp(0)
    assert watcher.offer(delivered(4), 0, 4)  # already past it: nothing queued
    assert watcher.queue.empty()
    assert watcher.offer(delivered(5), 0, 5)
    assert watcher.queue.get_nowait().cursor == Cursor(0, 5)
    assert watcher.position(0) == 6


def test_a_step_watcher_skips_other_steps_but_moves_past_them():
    watcher = live_watcher(node="train")
    assert watcher.offer(delivered(5, node="eval"), 0, 5)
    assert watcher.queue.empty() and watcher.position(0) == 6


def test_a_full_queue_refuses_and_falling_behind_owes_one_lag_notice():
    watcher = live_watcher(queue_size=1)
    assert watcher.offer(delivered(5), 0, 5)
    assert not watcher.offer(delivered(6), 0, 6), "a full queue must be reported"
    assert watcher.position(0) == 6  # the refused record was not counted as had
    watcher.fall_behind({0: 7, 1: 3}, partition=0, missed=6)
    assert not watcher.live and watcher.lag_count == 1
    assert watcher.position(1) == 3, "other partitions resume where the live read is"
    assert watcher.lag_notice() == Lagged(Cursor(0, 6), 1)
    assert watcher.lag_notice() is None, "the notice is owed once"
    assert watcher.behind({0: 7, 1: 3}) == 0
    assert watcher.offer(delivered(7), 0, 7) and watcher.queue.qsize() == 1, "not live: ignored"


def test_history_starts_at_the_runs_first_offset_or_after_the_cursor():
    fresh = Watcher("r", "", "", 4, positions={0: 9, 1: 4})
    fresh.start_history(home=0, home_start=0, resume_after=None)
    assert fresh.position(0) == 0 and fresh.scans_whole(0) and not fresh.scans_whole(1)
    assert fresh.behind({0: 9, 1: 4}) == 0

    resumed = Watcher("r", "", "", 4, positions={0: 9, 1: 4})
    resumed.start_history(home=0, home_start=2, resume_after=Cursor(1, 1))
    assert (resumed.position(1), resumed.position(0)) == (2, 2), "old home, then the new one"
    assert resumed.behind({0: 9, 1: 4}) == 1, "the cursor's partition is read first"


def test_catching_up_advances_skips_and_counts_then_turns_live_once():
    async def run() -> list:
        watcher = Watcher("r", "", "", 4, positions={0: 0})
        watcher.start_history(home=0, home_start=0, resume_after=None)
        assert watcher.advance(0, 0) and not watcher.advance(0, 0)
        watcher.count_history()
        watcher.skip_to(0, 3)
        assert watcher.behind({0: 3}) is None
        assert not await watcher.mark_caught_up()
        assert not await watcher.mark_caught_up(), "CaughtUp is queued once"
        watcher.count_history()  # after the end of history: not counted
        watcher.turn_live()
        assert watcher.live and not watcher.scans_whole(0)
        return [watcher.queue.get_nowait() for _ in range(watcher.queue.qsize())]

    assert asyncio.run(run()) == [CaughtUp(1)]


def test_closing_cancels_the_catch_up_and_ends_the_stream():
    async def run() -> None:
        watcher = Watcher("r", "", "", 2, positions={})
        watcher.catch_up_with(asyncio.sleep(60))
        task = watcher.task
        assert task is not None
        watcher.queue.put_nowait(CaughtUp(0))
        watcher.close()
        await asyncio.sleep(0)
        assert task.cancelled()
        assert await watcher.next_items(10, 0.1) == [hub._CLOSED], "queued items are dropped"

    asyncio.run(run())


@pytest.mark.parametrize("queue_size", [1, 3])
def test_waiting_for_room_for_caught_up_asks_to_look_again(queue_size):
    async def run() -> bool:
        watcher = Watcher("r", "", "", queue_size, positions={})
        for offset in range(queue_size):
            watcher.queue.put_nowait(delivered(offset))
        marking = asyncio.ensure_future(watcher.mark_caught_up())
        await asyncio.sleep(0.01)
        assert not marking.done(), "a full queue makes it wait for the reader"
        watcher.queue.get_nowait()
        return await marking

    assert asyncio.run(run()) is True
