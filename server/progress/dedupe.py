"""Exactly once: a batch its sender posts again is acknowledged, not applied again.

A publisher that names its batches (kfp_viz.batch_id: a sender, a sequence number, the
attempt) gets each of a batch's events into the log once, however often it posts the
batch: when a connection dropped after the server took it, when the server died halfway
through it, also when the server restarted in between (with Kafka behind it).

How: every record published from a named batch carries its place in Kafka's record headers
(`kfpviz-batch`: sender, sequence, index in the batch). The ledger keeps, per sender, the
newest (sequence, index) the log holds, learned from what this replica publishes, from
every record the hub reads live (any replica's), and, at start, from the log's recent past:
the records of the last `window` seconds (found by time), since a sender retries for a
bounded time (the SDK: ten minutes). Then, for a batch:

- a sequence above the sender's newest: a new batch, applied whole;
- the newest sequence: its events past the newest index are applied (the first ones are in
  the log already: a server that failed halfway), the others acknowledged;
- an older sequence: acknowledged, nothing applied.

A first attempt is new by definition and applied at once. A later attempt first waits until
the ledger has read the run's partition to its end as the log says now (and read the recent
past, after a start), so a batch another replica took, or this one took before a restart,
is known before it is judged. Requests of one sender are judged one at a time.

Bounds: at most MAX_SENDERS senders are remembered (the least recently active forgotten:
a sender that has been quiet that long no longer retries). Limit: a retry that reaches one
replica while another is still publishing the same batch (a first request slower than the
sender's timeout) may apply its events twice; the SDK's timeout (10 s) makes that rare.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from kfp_viz.batch_id import RECORD_HEADER, BatchId, parse_record_header
from kfp_viz.events import Cursor, ProgressEvent

from ..errors import ErrorKind, RequestFailed
from .source import Headers, Record, Source

log = logging.getLogger(__name__)

MAX_SENDERS = 100_000
CURRENT_WAIT = 10.0
"""Longest a retried batch waits for the ledger to read its partition to the end (seconds);
past it the sender is told to try again later (503)."""
SLICE = 200
"""Events published between two turns of the event loop."""
READ_BATCH = 20_000
"""Records asked for at once when reading the recent past at start: a fetch positions its
reader anew, so small ones spend their time seeking (2,000 at a time read 20,000 a second)."""

Publish = Callable[[ProgressEvent, Headers], Awaitable[Cursor]]


@dataclass
class Taken:
    """What a batch's publish did: the cursors of the events it applied, and how many of the
    batch's events the log held already (acknowledged, not applied again)."""

    cursors: list[Cursor] = field(default_factory=list)
    already_applied: int = 0


class BatchLedger:
    """The newest (sequence, index) per sender in the log; applies a batch's new events."""

    name = "dedupe"

    def __init__(self, source: Source, window: float, max_senders: int = MAX_SENDERS) -> None:
        self._source = source
        self._window = window
        self._max_senders = max_senders
        self._newest: OrderedDict[str, tuple[int, int]] = OrderedDict()
        """Sender → (sequence, index) of its newest event in the log."""
        self._read: dict[int, int] = {}
        """Partition → the offset the live read has reached (what the ledger has seen)."""
        self._recovered = asyncio.Event()
        self._recovery: asyncio.Task[None] | None = None
        self._busy: dict[str, tuple[asyncio.Lock, int]] = {}
        """Sender → its lock and the requests holding or waiting for it."""
        self.recovered_records = 0
        self.acknowledged = 0
        """Events a sender posted again and the log held already (not applied again)."""

    # -- the hub's live read (RecordTap) ------------------------------------------------

    def assigned(self, positions: dict[int, int]) -> None:
        """The live read starts at `positions`; before them, the recent past is read once."""
        first = not self._read
        for partition, offset in positions.items():
            self._read.setdefault(partition, offset)
        if first:
            past = {p: o for p, o in positions.items() if o > 0}
            if past:
                self._recovery = asyncio.get_running_loop().create_task(self._recover(past))
            else:
                self._recovered.set()

    def records(self, records: list[Record]) -> None:
        for record in records:
            self._read[record.partition] = record.offset + 1
            if record.headers:
                self._take(record)

    # -- judging and publishing a batch --------------------------------------------------

    async def publish_once(
        self, batch: BatchId, events: Sequence[ProgressEvent], publish: Publish
    ) -> Taken:
        """Publish the batch's events the log does not hold yet, each with its place."""
        lock = self._enter(batch.sender)
        try:
            async with lock:
                if batch.attempt > 1:
                    await self._current({event.run_id for event in events})
                start = self._first_new(batch, len(events))
                taken = Taken(already_applied=start)
                self.acknowledged += start
                for index in range(start, len(events)):
                    cursor = await publish(events[index], (batch.record_header(index),))
                    self._note(batch.sender, batch.sequence, index)
                    taken.cursors.append(cursor)
                    if index % SLICE == SLICE - 1:
                        await asyncio.sleep(0)
                return taken
        finally:
            self._leave(batch.sender)

    def _first_new(self, batch: BatchId, size: int) -> int:
        """The index of the batch's first event the log does not hold."""
        sequence, index = self._newest.get(batch.sender, (0, -1))
        if batch.sequence > sequence:
            return 0
        if batch.sequence == sequence:
            return min(size, index + 1)
        return size

    async def _current(self, run_ids: set[str]) -> None:
        """Wait until the ledger holds every record in the runs' partitions as of now."""
        try:
            async with asyncio.timeout(CURRENT_WAIT):
                await self._recovered.wait()
                partitions = {self._source.partition_for(run_id) for run_id in run_ids}
                for partition in partitions - {None}:  # None: no topic yet, nothing published
                    assert partition is not None
                    end = await self._source.end_offset(partition)
                    while self._read.get(partition, 0) < end:
                        await asyncio.sleep(0.01)
        except TimeoutError:
            raise RequestFailed(
                ErrorKind.UNAVAILABLE,
                "cannot tell yet whether this batch was taken (the log is still being read); "
                "post it again",
            ) from None
        except Exception as error:  # the broker away: the sender tries again later
            raise RequestFailed(
                ErrorKind.UNAVAILABLE, f"cannot tell whether this batch was taken: {error}"
            ) from None

    # -- what the log holds --------------------------------------------------------------

    def _take(self, record: Record) -> None:
        for name, value in record.headers:
            if name == RECORD_HEADER:
                place = parse_record_header(value)
                if place is not None:
                    self._note(*place)

    def _note(self, sender: str, sequence: int, index: int) -> None:
        newest = self._newest.get(sender)
        if newest is None or (sequence, index) > newest:
            self._newest[sender] = (sequence, index)
        self._newest.move_to_end(sender)
        if len(self._newest) > self._max_senders:
            self._newest.popitem(last=False)

    async def _recover(self, until: dict[int, int]) -> None:
        """Read each partition's records of the last `window` seconds, up to where the live
        read began, for the batches they came from."""
        since = time.time() - self._window
        try:
            for partition, end in until.items():
                offset = await self._retrying(partition, since)
                while offset < end:
                    records, reached = await self._source.fetch(partition, offset, end, READ_BATCH)
                    for record in records:
                        if record.headers:
                            self._take(record)
                    self.recovered_records += len(records)
                    if reached <= offset:
                        await asyncio.sleep(0.2)  # the broker did not answer in time
                    offset = max(offset, reached)
        finally:
            self._recovered.set()
        log.info("progress: read %d recent records for batches sent again", self.recovered_records)

    async def _retrying(self, partition: int, since: float) -> int:
        """The partition's first offset from `since`, asked until the log answers (the
        broker may be starting)."""
        while True:
            try:
                return await self._source.offset_at(partition, since)
            except Exception as error:
                log.warning("progress: reading the recent past for batches failed: %s", error)
                await asyncio.sleep(1.0)

    def _enter(self, sender: str) -> asyncio.Lock:
        lock, users = self._busy.get(sender, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._busy[sender] = (lock, users + 1)
        return lock

    def _leave(self, sender: str) -> None:
        lock, users = self._busy[sender]
        if users == 1:
            del self._busy[sender]
        else:
            self._busy[sender] = (lock, users - 1)

    def status(self) -> dict[str, object]:
        return {
            "senders": len(self._newest),
            "recovered": self._recovered.is_set(),
            "recovered_records": self.recovered_records,
            "acknowledged": self.acknowledged,
        }

    def start(self) -> None:
        """Nothing to start: the hub's live read feeds the ledger (a RecordTap)."""

    async def close(self) -> None:
        if self._recovery is not None:
            self._recovery.cancel()
