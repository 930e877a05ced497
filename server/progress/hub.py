"""The hub: fans progress events out from one source to any number of watchers.

Records arrive on the event loop (from the Kafka thread or the in-process bus) and
are parsed once. Each watcher has its own bounded queue, so a slow watcher never
slows the source or the other watchers:

- A watcher is either *live* (the dispatcher puts its run's events straight into its
  queue) or *catching up* (its own task reads older records from the source by offset
  until it reaches the live position, then turns live). History and resume are both
  catching up, from the partition's start or from just after the client's cursor.
- When a live watcher's queue is full, it is not dropped and nothing is lost silently:
  it turns to catching up from the first record it missed, and its stream gets a
  `Lagged` item first, saying so.
- Each delivered event carries its cursor (partition, offset); a watcher keeps its
  position in every partition and never gets an offset below it, so there are no
  duplicates, and catching up reads every offset in between, so there are no gaps.
- A run's records sit in one partition (its key's), its *home*. When partitions are
  added to the topic, Kafka's partitioner sends a run's later records to another
  partition: the live read picks new partitions up from their first offset, and a
  watcher follows its run there, because positions are kept per partition.

All watcher state is touched only on the loop, so the switch from catching up to live
is atomic with respect to the dispatcher.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from kfp_viz.events import Cursor, InvalidEvent, ProgressEvent, parse_json

from ..errors import ErrorKind, RequestFailed
from .runs import RunTable
from .source import Headers, Record, Source
from .step_names import StepNames

log = logging.getLogger(__name__)

SCAN_BATCH = 2000
"""Records read per step of catching up. Not bounded by the watcher's queue: delivering
waits for room in it, and most records scanned are other runs', skipped unparsed."""
SCAN_SLICE = 0.002
"""Longest a scan holds the event loop before letting it run other work (seconds): a
hundred watchers reading 100,000 records each must not stall `GET /` or live delivery."""
RETRY_DELAY = 0.2
RUN_HINTS = 10_000
RECENT_RECORDS = 20_000
RECENT_BYTES = 8 * 2**20
"""Bytes of recent records kept per partition, whatever their count (events may be large)."""
MALFORMED_LOG_INTERVAL = 1.0


@dataclass(slots=True)
class Delivered:
    """An event and where it sits; protocol layers cache their encoding of it here."""

    event: ProgressEvent
    cursor: Cursor
    encoded: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Lagged:
    """The watcher's queue overflowed; what follows is re-read from the source."""

    resume_from: Cursor
    queue_size: int


@dataclass(frozen=True)
class CaughtUp:
    """History is done; what follows is live. `events` = how many history events were sent."""

    events: int


@dataclass(frozen=True)
class Heartbeat:
    """Sent when a watcher has had nothing for a while: is the upstream reachable?"""

    upstream_reachable: bool
    detail: str
    upstream: str
    server_time: float


Item = Delivered | Lagged | CaughtUp


class RecordTap(Protocol):
    """Something that reads the live records beside the watchers (on the loop, first)."""

    def assigned(self, positions: dict[int, int]) -> None: ...

    def records(self, records: list[Record]) -> None: ...


class _Closed:
    """Queued when the server stops: the stream ends."""


_CLOSED: Any = _Closed()


class Watcher:
    """One client's view of one run (optionally one step), and where it stands in the log.

    The watcher owns its position: which offsets it has had, whether it is live or
    catching up (and the task doing that), what it must still be told (a lag, the end of
    history). The hub decides *when* (a record arrives, a scan finds events) and calls
    these methods; it never sets a watcher's state itself.
    """

    def __init__(
        self, run_id: str, node_id: str, namespace: str, queue_size: int, positions: dict[int, int]
    ) -> None:
        self.run_id = run_id
        self.node_id = node_id
        self.namespace = namespace
        self.queue: asyncio.Queue[Item] = asyncio.Queue(queue_size)
        self.live = False
        self.home: int | None = None
        """The partition catching up reads first: the run's, or the resume cursor's."""
        self.positions = positions
        """Partition → next offset: every offset below it was delivered or is not this
        watcher's. A partition missing here was added after the watch began: from 0."""
        self.full_scans: set[int] = set()
        """Partitions this watcher reads from offset 0 (their runs' first offsets are noted)."""
        self.resume_from: Cursor | None = None
        self.history_sent = 0
        self.caught_up = False
        self.lagged = False
        self.lag_count = 0
        self.task: asyncio.Task[None] | None = None

    def wants(self, event: ProgressEvent) -> bool:
        if self.namespace and event.namespace != self.namespace:
            return False
        # A step watcher still gets run-level statuses: they end its run too.
        return not self.node_id or event.node_id in (self.node_id, "")

    # -- live -------------------------------------------------------------------------

    def offer(self, delivered: Delivered, partition: int, offset: int) -> bool:
        """Take a live record's event if it is new to this watcher and its kind; False when
        the queue is full (the caller then has it fall behind, see `fall_behind`)."""
        if not self.live or offset < self.positions.get(partition, 0):
            return True
        if not self.wants(delivered.event):
            self.positions[partition] = offset + 1
            return True
        if self.queue.full():
            return False
        self.queue.put_nowait(delivered)  # one object for every watcher: encoded once
        self.positions[partition] = offset + 1
        return True

    def go_live_now(self) -> None:
        """No history asked for: live from the read's current position on."""
        self.live = True
        self.caught_up = True
        self.queue.put_nowait(CaughtUp(0))

    def fall_behind(self, live_position: dict[int, int], partition: int, missed: int) -> None:
        """Stop taking live events; catching up re-reads from the first record missed.

        It was live, so it was offered every record dispatched so far: in the other
        partitions it has missed nothing yet, and it resumes from where the read is.
        """
        self.live = False
        self.lagged = True
        self.lag_count += 1
        self.positions.update(live_position)
        self.positions[partition] = missed
        self.resume_from = Cursor(partition, missed)

    # -- catching up --------------------------------------------------------------------

    def start_history(self, home: int, home_start: int, resume_after: Cursor | None) -> None:
        """Where history starts: the run's home partition from `home_start` (its first
        known offset there), or just after the client's cursor."""
        if resume_after is None:
            self.home = home
            self.positions[home] = home_start
        else:
            self.home = resume_after.partition
            self.positions[resume_after.partition] = resume_after.offset + 1
            if home != resume_after.partition:
                # Partitions were added since the cursor was handed out: the run's later
                # records are in its new home, read whole (no gap; a rare, costly case).
                self.positions[home] = home_start
        self.full_scans.update(p for p, offset in self.positions.items() if offset == 0)

    def catch_up_with(self, work: Coroutine[Any, Any, None]) -> None:
        """Run the hub's catching up for this watcher as its own task."""
        self.task = asyncio.create_task(work)

    def lag_notice(self) -> Lagged | None:
        """The `Lagged` item owed after falling behind, once."""
        if not self.lagged or self.resume_from is None:
            return None
        self.lagged = False
        return Lagged(self.resume_from, self.queue.maxsize)

    def behind(self, live_position: dict[int, int]) -> int | None:
        """The first partition (the home one first) where the watcher is behind the live read."""
        order = sorted(live_position)
        if self.home is not None:
            order.insert(0, self.home)
        for partition in order:
            if self.positions.get(partition, 0) < live_position.get(partition, 0):
                return partition
        return None

    def position(self, partition: int) -> int:
        """The next offset of `partition` this watcher has not had."""
        return self.positions.get(partition, 0)

    def scans_whole(self, partition: int) -> bool:
        return partition in self.full_scans

    def advance(self, partition: int, offset: int) -> bool:
        """Move past `offset`; False when it was had already (so it is skipped)."""
        if offset < self.positions.get(partition, 0):
            return False
        self.positions[partition] = offset + 1
        return True

    def skip_to(self, partition: int, offset: int) -> None:
        """Offsets below `offset` hold no record (transaction markers, compaction)."""
        self.positions[partition] = offset

    def count_history(self) -> None:
        """One more event found by catching up; counted in CaughtUp until it is sent."""
        if not self.caught_up:
            self.history_sent += 1

    async def mark_caught_up(self) -> bool:
        """Queue `CaughtUp` once history is done. True when that meant waiting for room in
        the queue: the live read may have moved on meanwhile, so look again before going live."""
        if self.caught_up:
            return False
        marker = CaughtUp(self.history_sent)
        if self.queue.full():
            await self.queue.put(marker)
            self.caught_up = True
            return True
        self.queue.put_nowait(marker)
        self.caught_up = True
        return False

    def turn_live(self) -> None:
        """Caught up: live events from now on (atomic on the loop with the dispatcher)."""
        self.live = True
        self.full_scans.clear()  # a later resync starts mid-partition
        self.task = None

    # -- ending -------------------------------------------------------------------------

    def stop(self) -> None:
        """The client left: stop catching up."""
        if self.task is not None:
            self.task.cancel()

    def close(self) -> None:
        """The server stops: the stream ends after what it is reading now."""
        self.stop()
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(_CLOSED)

    async def next_items(self, limit: int, timeout: float) -> list[Item]:
        """Up to `limit` queued items; an empty list when nothing came within `timeout`."""
        try:
            first = self.queue.get_nowait()
        except asyncio.QueueEmpty:
            try:
                async with asyncio.timeout(timeout):  # a timer, not a task per wait (hot path)
                    first = await self.queue.get()
            except TimeoutError:
                return []
        items = [first]
        while len(items) < limit:
            try:
                items.append(self.queue.get_nowait())
            except asyncio.QueueEmpty:
                break
        return items


RecentRow = tuple[int, str | None, bytes, float]
"""A record as history scans read it: offset, key, value, timestamp (a plain tuple: the
cyclic garbage collector does not track it, and scanning it builds no object)."""


class RecentLog:
    """The newest records of one partition seen live, by offset.

    Catching up (after a lag, or the history of a recent run) reads from here when
    the offsets asked for are still held, instead of from Kafka; older offsets are
    fetched from the source. Records are kept as plain tuples of bytes, text and
    numbers, which the cyclic garbage collector does not track: tens of thousands of
    parsed objects held here made its full collections pause for ~100 ms.
    """

    def __init__(self, partition: int, size: int, size_bytes: int = RECENT_BYTES) -> None:
        self._partition = partition
        self._size = size
        self._size_bytes = size_bytes
        self._bytes = 0
        self._offsets: list[int] = []
        self._records: list[RecentRow] = []

    def append(self, record: Record) -> None:
        self._offsets.append(record.offset)
        self._records.append((record.offset, record.key, record.value, record.timestamp))
        self._bytes += len(record.value)
        if len(self._offsets) > 2 * self._size:  # trim in halves: amortised O(1)
            self._trim(len(self._offsets) - self._size)
        elif self._bytes > 2 * self._size_bytes:
            dropped, count = 0, 0
            while self._bytes - dropped > self._size_bytes:
                dropped += len(self._records[count][2])
                count += 1
            self._trim(count)

    def _trim(self, count: int) -> None:
        self._bytes -= sum(len(fields[2]) for fields in self._records[:count])
        del self._offsets[:count]
        del self._records[:count]

    def since(self, offset: int, until: int, limit: int) -> list[RecentRow]:
        """Rows from `offset` (below `until`), or [] when `offset` is older than held."""
        if not self._offsets or offset < self._offsets[0]:
            return []
        start = bisect.bisect_left(self._offsets, offset)
        stop = min(bisect.bisect_left(self._offsets, until, lo=start), start + limit)
        return self._records[start:stop]


@dataclass
class HubStats:
    """Counters for /metrics."""

    records: Counter[str] = field(default_factory=Counter)
    """Records consumed by outcome: ok, malformed, other_namespace, foreign_namespace (named
    another namespace than their run's owner: not delivered, with tenancy on)."""
    lagged: int = 0
    watchers: int = 0


class ProgressHub:
    """Reads a source, keeps watchers fed. Lives on the server's event loop."""

    def __init__(
        self,
        source: Source,
        *,
        namespace: str = "",
        queue_size: int = 1000,
        recent_size: int = RECENT_RECORDS,
        run_index: Any = None,
        owners_only: bool = False,
    ) -> None:
        self.source = source
        self.runs = RunTable()
        """Every run seen: its owner (first event's namespace), status and times (runs.py)."""
        self.names = StepNames()
        """The step each pod of a run belongs to, from the Argo source (step_names.py)."""
        self.owners_only = owners_only
        """Deliver a run's events only when they carry its owner's namespace (tenancy on)."""
        self.run_index = run_index
        """Where runs begin in the log, shared by every replica (run_index.py), or None."""
        self.namespace = namespace
        self.queue_size = queue_size
        self.recent_size = recent_size
        self._recent: dict[int, RecentLog] = {}
        self.stats = HubStats()
        self._live_position: dict[int, int] = {}
        self._assigned = asyncio.Event()
        self._by_run: dict[str, set[Watcher]] = {}
        self._closed = False
        self._malformed_logged_at = -MALFORMED_LOG_INTERVAL
        self._malformed_unlogged = 0
        self._scan_turn = asyncio.Lock()
        """Held by the one history scan working (see _read_some)."""
        self._first_offset: OrderedDict[tuple[int, str], int] = OrderedDict()
        """(partition, run id) → the offset of the run's first record there, from full scans."""
        self.taps: list[RecordTap] = []
        """What else reads every live record as it arrives (the batch ledger, dedupe.py)."""

    def start(self) -> None:
        self.source.start(self._on_assigned, self._on_records)

    async def close(self) -> None:
        """End every stream (clients resume by cursor elsewhere), then stop the source."""
        self._closed = True
        for watchers in list(self._by_run.values()):
            for watcher in list(watchers):
                watcher.close()
        await self.source.close()

    # -- the source's side ------------------------------------------------------------

    def _on_assigned(self, positions: dict[int, int]) -> None:
        """The live read starts (or gained partitions): where it delivers from in each."""
        for partition, offset in positions.items():
            self._live_position.setdefault(partition, offset)
        self._assigned.set()
        for tap in self.taps:
            tap.assigned(positions)

    def _on_records(self, records: list[Record]) -> None:
        for tap in self.taps:
            tap.records(records)
        for record in records:
            event = self._parse(record, "live")
            self._live_position[record.partition] = record.offset + 1
            self._recent_log(record.partition).append(record)
            if event is None:
                continue
            if not self._owned(event, record.cursor):
                self.stats.records["foreign_namespace"] += 1
                continue
            delivered = Delivered(event, record.cursor)
            for watcher in self._by_run.get(delivered.event.run_id, ()):
                if not watcher.offer(delivered, record.partition, record.offset):
                    self._lag(watcher, record.partition, record.offset)

    def _recent_log(self, partition: int) -> RecentLog:
        log = self._recent.get(partition)
        if log is None:
            log = self._recent[partition] = RecentLog(partition, self.recent_size)
        return log

    def _lag(self, watcher: Watcher, partition: int, missed_offset: int) -> None:
        """Stop feeding a full watcher; it re-reads from the first record it missed."""
        watcher.fall_behind(self._live_position, partition, missed_offset)
        self.stats.lagged += 1
        log.info(
            "progress: a watcher of run %s lagged (%d queued); resyncing from %d:%d",
            watcher.run_id, self.queue_size, partition, missed_offset,
        )  # fmt: skip
        watcher.catch_up_with(self._catch_up(watcher))

    def _parse(self, record: Record, path: str) -> ProgressEvent | None:
        try:
            event = parse_json(record.value, key=record.key, default_ts=record.timestamp)
        except InvalidEvent as error:
            if path == "live":
                self.stats.records["malformed"] += 1
                self._warn_malformed(record, error)
            return None
        if self.namespace and event.namespace != self.namespace:
            if path == "live":
                self.stats.records["other_namespace"] += 1
            return None
        if path == "live":
            self.stats.records["ok"] += 1
        return self.names.named(event)

    def _owned(self, event: ProgressEvent, cursor: Cursor) -> bool:
        """Note the event in its run's summary; False when it must not be delivered: it names
        another namespace than the run's owner (only when owners_only)."""
        if self.runs.observe(event, cursor):
            self.names.learn(event)  # only an owner's event says what its run's pods are
            return True
        return not self.owners_only

    def _warn_malformed(self, record: Record, error: InvalidEvent) -> None:
        """Log a skipped record, at most once per MALFORMED_LOG_INTERVAL: a producer writing
        garbage fast must not turn the loop into a logger (the metric counts every one)."""
        now = time.monotonic()
        if now - self._malformed_logged_at < MALFORMED_LOG_INTERVAL:
            self._malformed_unlogged += 1
            return
        more = self._malformed_unlogged
        self._malformed_logged_at, self._malformed_unlogged = now, 0
        log.warning(
            "progress: skipped malformed record at %s: %s%s", record.cursor.text(), error,
            f" (and {more} more since the last warning)" if more else "",
        )  # fmt: skip

    # -- the watchers' side -----------------------------------------------------------

    @contextlib.asynccontextmanager
    async def watch(
        self,
        run_id: str,
        *,
        node_id: str = "",
        namespace: str = "",
        from_beginning: bool = True,
        resume_after: Cursor | None = None,
    ) -> AsyncIterator[Watcher]:
        """Register a watcher; history (if asked) is queued first, then live events."""
        if self._closed:
            raise RequestFailed(ErrorKind.UNAVAILABLE, "the server is shutting down")
        if self.namespace and namespace and namespace != self.namespace:
            raise RequestFailed(
                ErrorKind.FORBIDDEN,
                f"this server serves namespace {self.namespace!r} only, not {namespace!r}",
            )
        # Other partitions than the run's are followed from now on; partitions not yet
        # known (added later, or all of them while the topic does not exist) from 0.
        watcher = Watcher(
            run_id, node_id, namespace or self.namespace, self.queue_size,
            positions=dict(self._live_position),
        )  # fmt: skip
        self._by_run.setdefault(run_id, set()).add(watcher)
        self.stats.watchers += 1
        try:
            if resume_after is not None or from_beginning:
                watcher.catch_up_with(self._start_history(watcher, resume_after))
            else:
                watcher.go_live_now()
            yield watcher
        finally:
            self.stats.watchers -= 1
            watcher.stop()
            runs = self._by_run.get(run_id)
            if runs is not None:
                runs.discard(watcher)
                if not runs:
                    del self._by_run[run_id]

    async def _start_history(self, watcher: Watcher, resume_after: Cursor | None) -> None:
        home = await self._partition(watcher.run_id)
        home_start = self._start_of(home, watcher.run_id)
        watcher.start_history(home, home_start, resume_after)

        await self._catch_up(watcher)

    def _start_of(self, partition: int, run_id: str) -> int:
        """An offset below which the run has no record in `partition`: from this replica's
        earlier scans, or from the shared run index."""
        known = self._first_offset.get((partition, run_id), 0)
        if self.run_index is not None:
            known = max(known, self.run_index.start_of(partition, run_id))
        return known

    async def _partition(self, run_id: str) -> int:
        while True:
            await self._assigned.wait()
            partition = self.source.partition_for(run_id)
            if partition is not None:
                return partition
            await asyncio.sleep(RETRY_DELAY)

    def check_cursor(self, run_id: str, cursor: Cursor) -> None:
        """Refuse a resume cursor of a partition the run was never in (a client mix-up).

        A cursor of another partition than the run's current one is accepted when the
        run was there before partitions were added to the topic.
        """
        partition = self.source.partition_for(run_id)
        if partition is None or cursor.partition == partition:
            return
        if cursor.partition not in self.source.homes(run_id):
            raise RequestFailed(
                ErrorKind.INVALID,
                f"resume_after {cursor.text()} is not on partition {partition}, "
                f"where run {run_id} is",
            )

    async def _catch_up(self, watcher: Watcher) -> None:
        """Read from the source until the live position, then turn live (atomically)."""
        lagged = watcher.lag_notice()
        if lagged is not None:
            await watcher.queue.put(lagged)
        while True:
            partition = watcher.behind(self._live_position)
            if partition is None:
                if await watcher.mark_caught_up():
                    continue  # the live position may have moved while we waited
                watcher.turn_live()
                return
            await self._read_some(watcher, partition)

    async def _read_some(self, watcher: Watcher, partition: int) -> None:
        """One batch of a partition's older records for a watcher catching up.

        Scans take turns (`_scan_turn`): one scan works at a time, and it gives the loop
        back every SCAN_SLICE while it keeps its turn, so however many watchers scan at
        once, the loop spends at most one slice on scanning between two of its turns (two
        hundred watchers opening a run delay a `GET /` by a slice, not by two hundred).
        """
        start = watcher.position(partition)
        until = self._live_position.get(partition, 0)
        records: list[Record] | None = None
        rows = self._recent_log(partition).since(start, until, SCAN_BATCH)
        if not rows:
            records, reached = await self.source.fetch(partition, start, until, SCAN_BATCH)
            if not records:
                if reached > start:
                    watcher.skip_to(partition, reached)
                else:
                    await asyncio.sleep(RETRY_DELAY)  # upstream away; heartbeats say so
                return
        turn = self._scan_turn
        held = False
        try:
            await turn.acquire()
            held = True
            if records is not None:
                rows = [(r.offset, r.key, r.value, r.timestamp) for r in records]
            index = 0
            while index < len(rows):
                index, found = self._scan(watcher, partition, rows, index)
                for delivered in found:
                    watcher.count_history()
                    if watcher.queue.full():  # wait for the reader without the turn
                        turn.release()
                        held = False
                        await watcher.queue.put(delivered)
                        await turn.acquire()
                        held = True
                    else:
                        watcher.queue.put_nowait(delivered)
                await asyncio.sleep(0)  # the loop's turn after every slice, the turn kept
        finally:
            if held:
                turn.release()

    def _scan(
        self, watcher: Watcher, partition: int, rows: list[RecentRow], index: int
    ) -> tuple[int, list[Delivered]]:
        """Scan `rows` (offset, key, value, timestamp) from `index` for at most SCAN_SLICE;
        return where it stopped and the watcher's events found."""
        full_scan = watcher.scans_whole(partition)
        slice_ends = time.monotonic() + SCAN_SLICE
        found: list[Delivered] = []
        run_id = watcher.run_id
        while index < len(rows):
            if index % 256 == 255 and time.monotonic() > slice_ends:
                break
            offset, key, value, timestamp = rows[index]
            index += 1
            if not watcher.advance(partition, offset):
                continue
            if full_scan and key is not None:
                self._remember_first(partition, key, offset)
            # An event whose record key is another run's is refused by parsing anyway:
            # skip other runs' records unparsed, the bulk of a scan.
            if key is not None and key != run_id:
                continue
            record = Record(partition, offset, key, value, timestamp)
            event = self._parse(record, "history")
            if event is None or event.run_id != run_id or not self._owned(event, record.cursor):
                continue
            if not watcher.wants(event):
                continue
            found.append(Delivered(event, record.cursor))
        return index, found

    def _remember_first(self, partition: int, run_id: str, offset: int) -> None:
        key = (partition, run_id)
        if key not in self._first_offset:
            self._first_offset[key] = offset
            if len(self._first_offset) > RUN_HINTS:
                self._first_offset.popitem(last=False)

    async def history(
        self, run_id: str, *, namespace: str = "", node_id: str = ""
    ) -> list[Delivered]:
        """Every event of a run up to now (for snapshot pages), in order."""
        async with self.watch(run_id, node_id=node_id, namespace=namespace) as watcher:
            events: list[Delivered] = []
            while True:
                for item in await watcher.next_items(1000, 3600):
                    if isinstance(item, CaughtUp):
                        return events
                    if isinstance(item, Delivered):
                        events.append(item)

    async def owner_of(self, run_id: str) -> str | None:
        """The namespace a run belongs to: the run table's, else its first event's in the log
        (read now); None when the log holds no event of the run."""
        known = self.runs.owner(run_id)
        if known is not None:
            return known
        async with self.watch(run_id) as watcher:
            while True:
                for item in await watcher.next_items(1, 3600):
                    if isinstance(item, Delivered):
                        return item.event.namespace
                    if isinstance(item, CaughtUp):
                        return self.runs.owner(run_id)

    def status(self) -> dict[str, Any]:
        """For /readyz: the source, whether it answers (and why not), the partitions read.

        Progress does not make the server unready: renders work without it, and a
        topic that does not exist yet is a normal state of a fresh cluster.
        """
        reachable, detail = self.source.reachable()
        return {
            "upstream": self.source.description,
            "reachable": reachable,
            "detail": detail,
            "partitions": sorted(self._live_position),
            "watchers": self.stats.watchers,
        }

    def heartbeat(self) -> Heartbeat:
        reachable, detail = self.source.reachable()
        return Heartbeat(reachable, detail, self.source.description, time.time())

    async def follow(
        self, watcher: Watcher, heartbeat_interval: float, batch: int = 256
    ) -> AsyncIterator[list[Item] | Heartbeat]:
        """A watcher's stream: batches of items, heartbeats when idle; ends after its run ends."""
        while True:
            items = await watcher.next_items(batch, heartbeat_interval)
            if not items:
                yield self.heartbeat()
                continue
            for index, item in enumerate(items):
                if item is _CLOSED:
                    if index:
                        yield items[:index]
                    return
                if isinstance(item, Delivered) and item.event.ends(watcher.node_id):
                    yield items[: index + 1]
                    return
            yield items

    # -- publishing -------------------------------------------------------------------

    async def publish(self, event: ProgressEvent, headers: Headers = ()) -> Cursor:
        return await self.source.publish(event.run_id, event.to_json(), headers)
