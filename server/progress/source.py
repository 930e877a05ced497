"""Where progress records come from: the interface the hub reads, and the in-process bus.

A source is a partitioned, offset-addressed log, like a Kafka topic: the hub asks it
for live records as they arrive (`start`), for older ones by position (`fetch`), and
hands it events to append (`publish`). `KafkaSource` (kafka_source.py) is the real one;
`LocalBus` keeps the same semantics in memory for servers with no broker configured,
so cursors, history, resume and lag work the same way in a local demo.
"""

from __future__ import annotations

import bisect
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from kfp_viz.events import Cursor

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class Record:
    """One raw record: where it sits, its key (the run id) and value (event JSON)."""

    partition: int
    offset: int
    key: str | None
    value: bytes
    timestamp: float
    """Seconds since the epoch, the log's own time (fills a missing `ts`)."""
    headers: Headers = ()
    """The record's headers (Kafka's): where a published batch's event came from (dedupe.py)."""

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.partition, self.offset)


OnAssigned = Callable[[dict[int, int]], None]
"""Called once the live read starts: partition → first offset it will deliver."""
OnRecords = Callable[[list[Record]], None]
"""Called with live records in offset order per partition."""


class Source(Protocol):
    """What the hub needs from a log. Callbacks are always invoked on the hub's event loop."""

    description: str

    def start(self, on_assigned: OnAssigned, on_records: OnRecords) -> None: ...

    def reachable(self) -> tuple[bool, str]:
        """Whether the upstream answers now, and a few words on why not."""
        ...

    def partition_for(self, run_id: str) -> int | None:
        """The partition a run's records go to; None while the log's layout is unknown."""
        ...

    def homes(self, run_id: str) -> set[int]:
        """Every partition a run's records may be in: its partition now, and the one it had
        under each smaller partition count (partitions are only ever added, which moves keys)."""
        ...

    async def fetch(
        self, partition: int, offset: int, until: int, limit: int
    ) -> tuple[list[Record], int]:
        """Records at `offset` and after (never at or past `until`), at most `limit`, and
        the offset the read reached (past offsets that hold no record, such as Kafka's
        transaction markers). No records and no progress: the upstream did not answer in
        time, and the caller retries.
        """
        ...

    async def publish(self, run_id: str, value: bytes, headers: Headers = ()) -> Cursor: ...

    async def offset_at(self, partition: int, ts: float) -> int:
        """The first offset of `partition` whose record is from `ts` (seconds since the
        epoch) or later; the partition's end when there is none."""
        ...

    async def end_offset(self, partition: int) -> int:
        """The offset the next record of `partition` will get, as the log says now."""
        ...

    async def close(self) -> None: ...


class LocalBus:
    """The embedded default: an in-memory log with Kafka's partition/offset semantics.

    Appends happen on the event loop (publish is called by HTTP and gRPC handlers),
    so live delivery is a direct call. Each partition keeps its newest `retention`
    records, and all partitions together at most `retention_bytes` of them (anyone who
    can POST an event can fill it, so count alone is no bound: 100,000 events of 16 KB
    are 1.6 GB); the oldest records go first, and `dropped` counts them. Older offsets
    are gone, as after Kafka's retention, and a fetch from them starts at the oldest one
    kept.
    """

    description = "in-process bus"

    def __init__(
        self, partitions: int = 3, retention: int = 100_000, retention_bytes: int = 32 * 2**20
    ) -> None:
        self._logs: list[list[Record]] = [[] for _ in range(partitions)]
        self._first = [0] * partitions  # index of each log's first kept record
        self._base = [0] * partitions  # offset of each log's first kept record
        self._retention = retention
        self._retention_bytes = retention_bytes
        self._bytes = 0
        self.dropped: Counter[str] = Counter()
        """Records dropped by retention, by reason (`count`, `bytes`), and `bytes` dropped."""
        self._on_records: OnRecords | None = None
        self._on_assigned: OnAssigned | None = None

    def start(self, on_assigned: OnAssigned, on_records: OnRecords) -> None:
        self._on_records = on_records
        self._on_assigned = on_assigned
        on_assigned({p: self._next(p) for p in range(len(self._logs))})

    def add_partitions(self, count: int) -> None:
        """Grow to `count` partitions, as `kafka-topics --alter` does: runs may move."""
        if count <= len(self._logs):
            raise ValueError(f"the bus has {len(self._logs)} partitions; {count} adds none")
        added = range(len(self._logs), count)
        self._logs += [[] for _ in added]
        self._first += [0 for _ in added]
        self._base += [0 for _ in added]
        if self._on_assigned is not None:
            self._on_assigned(dict.fromkeys(added, 0))

    def reachable(self) -> tuple[bool, str]:
        return True, ""

    def partition_for(self, run_id: str) -> int:
        return zlib.crc32(run_id.encode()) % len(self._logs)

    def homes(self, run_id: str) -> set[int]:
        return {zlib.crc32(run_id.encode()) % n for n in range(1, len(self._logs) + 1)}

    async def fetch(
        self, partition: int, offset: int, until: int, limit: int
    ) -> tuple[list[Record], int]:
        log, base, first = self._logs[partition], self._base[partition], self._first[partition]
        start = first + max(offset, base) - base
        stop = min(first + until - base, start + limit)
        records = log[start:stop]
        return records, records[-1].offset + 1 if records else max(offset, min(base, until))

    async def publish(self, run_id: str, value: bytes, headers: Headers = ()) -> Cursor:
        partition = self.partition_for(run_id)
        record = Record(partition, self._next(partition), run_id, value, time.time(), headers)
        self._logs[partition].append(record)
        self._bytes += _size(record)
        if self._kept(partition) > self._retention:
            self._drop_oldest(partition, "count")
        while self._bytes > self._retention_bytes:
            self._drop_oldest(self._oldest_partition(), "bytes")
        if self._on_records is not None:
            self._on_records([record])
        return record.cursor

    async def offset_at(self, partition: int, ts: float) -> int:
        log, first = self._logs[partition], self._first[partition]
        index = bisect.bisect_left(log, ts, lo=first, key=lambda record: record.timestamp)
        return self._base[partition] + index - first

    async def end_offset(self, partition: int) -> int:
        return self._next(partition)

    async def close(self) -> None:
        self._on_records = None

    def _kept(self, partition: int) -> int:
        return len(self._logs[partition]) - self._first[partition]

    def _next(self, partition: int) -> int:
        return self._base[partition] + self._kept(partition)

    def _oldest_partition(self) -> int:
        heads = [
            (log[first].timestamp, partition)
            for partition, (log, first) in enumerate(zip(self._logs, self._first, strict=True))
            if first < len(log)
        ]
        return min(heads)[1]

    def _drop_oldest(self, partition: int, reason: str) -> None:
        """Forget a partition's oldest record; the list is compacted in halves (amortised
        O(1), where deleting its head every time would move every pointer in it)."""
        log, first = self._logs[partition], self._first[partition]
        self._bytes -= _size(log[first])
        self.dropped[reason] += 1
        self.dropped["bytes"] += len(log[first].value)
        first += 1
        self._base[partition] += 1
        if first > 1024 and first * 2 > len(log):
            del log[:first]
            first = 0
        self._first[partition] = first


RECORD_OVERHEAD = 200
"""Bytes a record costs beyond its value (the Record, its key, list slots)."""


def _size(record: Record) -> int:
    return len(record.value) + RECORD_OVERHEAD
