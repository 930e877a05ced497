"""A batch posted again is applied once: the ledger's rules on the in-process bus (new, the
same, part of it, an older one), what it learns from the log's records (another replica's,
or before a restart), and how a batch names itself. Against a real server through a proxy
that drops answers, and with Kafka across a restart: tests/integration/test_exactly_once.py."""

from __future__ import annotations

import asyncio

import pytest
from kfp_viz.batch_id import RECORD_HEADER, BatchId, parse_record_header
from kfp_viz.events import InvalidEvent, parse_event
from kfp_viz_server.errors import ErrorKind, RequestFailed
from kfp_viz_server.progress.dedupe import BatchLedger
from kfp_viz_server.progress.hub import Delivered, ProgressHub
from kfp_viz_server.progress.publish import Publisher
from kfp_viz_server.progress.source import LocalBus


def log(run: str, message: str):
    return parse_event({"v": 1, "run_id": run, "node_id": "s", "kind": "log", "message": message})


def server(bus: LocalBus | None = None) -> tuple[ProgressHub, Publisher, BatchLedger]:
    bus = bus or LocalBus(partitions=1)
    hub = ProgressHub(bus)
    ledger = BatchLedger(bus, window=900)
    hub.taps.append(ledger)
    hub.start()
    return hub, Publisher(hub, ledger), ledger


async def in_log(hub: ProgressHub, run: str) -> list[str]:
    return [d.event.message for d in await hub.history(run) if isinstance(d, Delivered)]


@pytest.mark.asyncio
async def test_a_batch_posted_again_is_acknowledged_not_applied():
    hub, publisher, _ = server()
    batch = [log("r", f"m{i}") for i in range(3)]
    first = await publisher.publish_all(batch, BatchId("sender-1", 1))
    again = await publisher.publish_all(batch, BatchId("sender-1", 1, attempt=2))
    assert (len(first.cursors), first.already_applied) == (3, 0)
    assert (again.cursors, again.already_applied) == ([], 3)
    nxt = await publisher.publish_all([log("r", "m3")], BatchId("sender-1", 2))
    older = await publisher.publish_all([log("r", "old")], BatchId("sender-1", 1, attempt=3))
    other = await publisher.publish_all([log("r", "theirs")], BatchId("sender-2", 1))
    unnamed = await publisher.publish_all([log("r", "m0")])
    assert [len(t.cursors) for t in (nxt, older, other, unnamed)] == [1, 0, 1, 1]
    assert older.already_applied == 1, "an older batch is over: acknowledged whole"
    assert await in_log(hub, "r") == ["m0", "m1", "m2", "m3", "theirs", "m0"]


@pytest.mark.asyncio
async def test_a_batch_that_failed_halfway_gets_only_its_missing_events():
    hub, publisher, ledger = server()

    calls = 0

    async def fails_on_the_third(event, headers):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RequestFailed(ErrorKind.UNAVAILABLE, "the broker went away mid-batch")
        return await publisher.publish(event, headers)

    batch = [log("r", f"m{i}") for i in range(5)]
    with pytest.raises(RequestFailed):
        await ledger.publish_once(BatchId("s", 1), batch, fails_on_the_third)
    taken = await publisher.publish_all(batch, BatchId("s", 1, attempt=2))
    assert taken.already_applied == 2 and len(taken.cursors) == 3
    assert await in_log(hub, "r") == [f"m{i}" for i in range(5)]


@pytest.mark.asyncio
async def test_what_another_replica_published_is_known_from_the_log():
    """The log is shared: a batch published by another replica (here, straight into the
    bus with its record headers) is known before a retry reaches this one."""
    bus = LocalBus(partitions=1)
    hub, publisher, _ = server(bus)
    batch = [log("r", f"m{i}") for i in range(2)]
    for index, event in enumerate(batch):
        await bus.publish("r", event.to_json(), (BatchId("s", 7).record_header(index),))
    taken = await publisher.publish_all(batch, BatchId("s", 7, attempt=2))
    assert taken.already_applied == 2 and await in_log(hub, "r") == ["m0", "m1"]


@pytest.mark.asyncio
async def test_after_a_restart_the_recent_past_is_read_before_a_retry_is_judged():
    """A server that starts on a log that already holds records (Kafka) reads the records
    of its window before it judges a retry; a first attempt does not wait for that."""
    bus = LocalBus(partitions=1)
    batch = [log("r", f"m{i}") for i in range(3)]
    for index, event in enumerate(batch):
        await bus.publish("r", event.to_json(), (BatchId("s", 1).record_header(index),))
    for i in range(3000):  # other senders' records: the read takes more than one fetch
        await bus.publish("x", log("x", "noise").to_json(), (BatchId(f"n{i}", 1).record_header(0),))
    hub, publisher, ledger = server(bus)
    taken = await publisher.publish_all(batch, BatchId("s", 1, attempt=2))
    assert taken.already_applied == 3 and taken.cursors == []
    assert ledger.status()["recovered_records"] == 3003
    fresh = await publisher.publish_all([log("r", "new")], BatchId("t", 1))
    assert len(fresh.cursors) == 1
    assert await in_log(hub, "r") == ["m0", "m1", "m2", "new"]


@pytest.mark.asyncio
async def test_requests_of_one_sender_are_judged_one_at_a_time():
    hub, publisher, _ = server()
    batch = [log("r", f"m{i}") for i in range(400)]
    results = await asyncio.gather(
        publisher.publish_all(batch, BatchId("s", 1)),
        publisher.publish_all(batch, BatchId("s", 1, attempt=2)),
    )
    assert sorted(len(t.cursors) for t in results) == [0, 400]
    assert len(await in_log(hub, "r")) == 400


def test_a_batch_names_itself_in_checked_words():
    assert BatchId.check("", "") is None, "no sender: published as before"
    assert BatchId.check("abc-1", "12", "") == BatchId("abc-1", 12, 1)
    assert BatchId.check("abc-1", 12, 3) == BatchId("abc-1", 12, 3)
    refusals = {
        ("", "3", ""): "needs its sender",
        ("bad sender", "1", ""): "is not 1 to 64 letters",
        ("s" * 65, "1", ""): "is not 1 to 64 letters",
        ("s", "", ""): "sequence must be a whole number from 1",
        ("s", "0", ""): "sequence must be a whole number from 1",
        ("s", "-1", ""): "sequence must be a whole number from 1",
        ("s", "1", "x"): "attempt must be a whole number from 1",
        ("s", "99999999999999999999", ""): "sequence must be a whole number",
    }
    for given, words in refusals.items():
        with pytest.raises(InvalidEvent, match=words):
            BatchId.check(*given)
    name, value = BatchId("s", 5).record_header(2)
    assert name == RECORD_HEADER and parse_record_header(value) == ("s", 5, 2)
    assert parse_record_header(b"garbage") is None and parse_record_header(b"\xff 1 2") is None
