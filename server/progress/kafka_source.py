"""Progress records from a Kafka topic, read in background threads with kafka-python.

Every server replica reads every partition of the topic: partitions are assigned by
hand (no consumer group, no offsets committed), so any replica can serve any run and
adding a replica changes nothing for the others.

- The live thread owns one consumer positioned at the end of each partition when the
  server starts (at the beginning when the topic does not exist yet, so nothing
  produced while it is being created is missed). It hands records to the hub's loop.
  While the topic does not exist it asks the broker again every TOPIC_WAIT seconds
  (with the same consumer: no reconnect churn), and says so in heartbeats and /readyz.
  Its fetches are eager while the topic is quiet and batched while it is busy
  (FetchPacing), so a sporadic event is not held back and a busy run costs few messages.
- Partitions added to the topic while the server runs are noticed within
  PARTITION_CHECK seconds (the live consumer's metadata refresh period) and read
  from their first offset, so every record produced to them is delivered once.
  It keeps its position across broker outages: kafka-python reconnects and the next
  fetch continues where the last one stopped, so nothing produced meanwhile is lost.
- History reads (`fetch`) run on a small thread pool, each with its own consumer,
  kept for reuse, positioned wherever the hub asks.
- Reachability is a TCP probe of the bootstrap servers every PROBE_INTERVAL, made by
  a thread of its own (so it stays true while the live thread waits on the broker),
  combined with what the live read last met (an error, a missing topic); heartbeats
  and /readyz report it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypedDict, cast

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.partitioner.default import murmur2
from kafka.producer.future import RecordMetadata
from kfp_viz.events import Cursor

from ..addresses import split_host_port
from .source import Headers, OnAssigned, OnRecords, Record

log = logging.getLogger(__name__)


class FetchSettings(TypedDict):
    """The KafkaConsumer settings FetchPacing changes on a live consumer."""

    fetch_min_bytes: int
    fetch_max_wait_ms: int


POLL_MS = 100
BUSY_BATCH_MS = 5
"""While a topic is busy, the live read lets the broker gather records this long per fetch."""
BATCHED_FETCH: FetchSettings = {"fetch_min_bytes": 2**20, "fetch_max_wait_ms": BUSY_BATCH_MS}
"""The broker answers after BUSY_BATCH_MS, or once it holds 1 MiB."""
EAGER_FETCH: FetchSettings = {"fetch_min_bytes": 1, "fetch_max_wait_ms": POLL_MS}
"""The broker answers as soon as it holds a record (or after POLL_MS with none)."""
PROBE_INTERVAL = 1.0
RETRY_DELAY = 1.0
TOPIC_WAIT = 1.0
PARTITION_CHECK = 5.0
FETCH_DEADLINE = 1.0
HISTORY_THREADS = 4


class PublishFailed(RuntimeError):
    """The broker did not take an event in time."""


class KafkaSource:
    """A Kafka topic as the hub's source. Thread-safe; callbacks go through the loop."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self.bootstrap = [s.strip() for s in bootstrap_servers.split(",") if s.strip()]
        self.topic = topic
        self.description = f"Kafka {','.join(self.bootstrap)} topic {topic}"
        self._partitions: list[int] = []
        self._topic_was_missing = False
        self._topic_missing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._read_state = (False, "not connected yet")
        """What the live read last met: (True, "") when reading; set by the live thread."""
        self._broker_state = (True, "")
        """The TCP probe's verdict; set by the probe thread."""
        self._prober: threading.Thread | None = None
        self._history = ThreadPoolExecutor(HISTORY_THREADS, thread_name_prefix="kafka-history")
        self._idle_readers: queue.SimpleQueue[KafkaConsumer] = queue.SimpleQueue()
        self._producer: KafkaProducer | None = None
        self._producer_lock = threading.Lock()

    # -- the live read --------------------------------------------------------------

    def start(self, on_assigned: OnAssigned, on_records: OnRecords) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(
            target=self._live, args=(on_assigned, on_records), name="kafka-live", daemon=True
        )
        self._thread.start()
        self._prober = threading.Thread(target=self._probe_forever, name="kafka-probe", daemon=True)
        self._prober.start()

    def _live(self, on_assigned: OnAssigned, on_records: OnRecords) -> None:
        positions: dict[int, int] | None = None  # None until the first assignment
        while not self._stop.is_set():
            consumer = None
            try:
                consumer = self._consumer("live")
                positions = self._assign(consumer, positions, on_assigned)
                while positions is None and not self._stop.is_set():  # no topic yet
                    self._pause(TOPIC_WAIT)
                    positions = self._assign(consumer, positions, on_assigned)
                if positions is not None:
                    self._poll_forever(consumer, positions, on_assigned, on_records)
            except Exception as error:  # the broker went away mid-call, or kafka-python raised
                if not self._stop.is_set():
                    self._read_state = (False, f"{type(error).__name__}: {error}")
                    log.warning("progress: Kafka live read failed, retrying: %s", error)
                    self._pause(RETRY_DELAY)
            finally:
                if consumer is not None:
                    with contextlib.suppress(Exception):
                        consumer.close(autocommit=False)

    def _assign(
        self, consumer: KafkaConsumer, positions: dict[int, int] | None, on_assigned: OnAssigned
    ) -> dict[int, int] | None:
        """Assign every partition: at the end the first time, else where the read stopped.

        Returns None while the topic does not exist; it is then read from its first
        record once it appears, so nothing produced while it is created is missed.
        Partitions not read before (all, the first time; added ones later) are
        announced to the hub before any of their records.
        """
        partitions = sorted(consumer.partitions_for_topic(self.topic) or ())
        if not partitions:
            if not self._topic_missing:
                log.warning(
                    "progress: topic %s does not exist yet on %s; waiting for it",
                    self.topic, ",".join(self.bootstrap),
                )  # fmt: skip
            self._read_state = (True, f"topic {self.topic} does not exist yet")
            self._topic_was_missing = self._topic_missing = True
            return positions
        self._topic_missing = False
        tps = [TopicPartition(self.topic, p) for p in partitions]
        consumer.assign(tps)
        new = [p for p in partitions if positions is None or p not in positions]
        if positions is None:
            if self._topic_was_missing:
                positions = dict.fromkeys(partitions, 0)
            else:
                ends = consumer.end_offsets(tps)
                positions = {tp.partition: ends[tp] for tp in tps}
        for p in partitions:
            positions.setdefault(p, 0)  # added since the last assignment: from its start
            consumer.seek(TopicPartition(self.topic, p), positions[p])
        self._partitions = partitions
        self._read_state = (True, "")
        if new:
            self._call(on_assigned, {p: positions[p] for p in new})
            log.info("progress: reading %s partitions %s from %s", self.topic, new, positions)
        return positions

    def _poll_forever(
        self,
        consumer: KafkaConsumer,
        positions: dict[int, int],
        on_assigned: OnAssigned,
        on_records: OnRecords,
    ) -> None:
        next_check = time.monotonic() + PARTITION_CHECK
        pacing = FetchPacing(consumer)
        while not self._stop.is_set():
            batch = consumer.poll(timeout_ms=pacing.poll_ms)
            records = []
            for tp, messages in batch.items():
                for message in messages:
                    records.append(_record(message))
                positions[tp.partition] = messages[-1].offset + 1
            if records:
                self._call(on_records, records)
            now = time.monotonic()
            pacing.update(bool(records), now)
            if now >= next_check:
                next_check = now + PARTITION_CHECK
                self._add_partitions(consumer, positions, on_assigned)

    def _add_partitions(
        self, consumer: KafkaConsumer, positions: dict[int, int], on_assigned: OnAssigned
    ) -> None:
        """Start reading partitions the topic gained (known from the periodic metadata)."""
        known = consumer.partitions_for_topic(self.topic) or set()
        if known - positions.keys():
            self._assign(consumer, positions, on_assigned)

    def _probe_forever(self) -> None:
        while True:
            self._broker_state = self._probe()
            if self._stop.wait(PROBE_INTERVAL):
                return

    def _probe(self) -> tuple[bool, str]:
        for server in self.bootstrap:
            try:
                socket.create_connection(split_host_port(server), 0.5).close()
                return True, ""
            except (OSError, ValueError) as error:
                reason = f"{server}: {getattr(error, 'strerror', None) or error}"
        return False, reason

    def reachable(self) -> tuple[bool, str]:
        broker = self._broker_state
        return self._read_state if broker[0] else broker

    def partition_for(self, run_id: str) -> int | None:
        """Kafka's default partitioner (murmur2 of the key), as producers use it."""
        partitions = self._partitions
        if not partitions:
            return None
        return partitions[(murmur2(run_id.encode()) & 0x7FFFFFFF) % len(partitions)]

    def homes(self, run_id: str) -> set[int]:
        hashed = murmur2(run_id.encode()) & 0x7FFFFFFF
        return {hashed % n for n in range(1, len(self._partitions) + 1)}

    # -- history --------------------------------------------------------------------

    async def fetch(
        self, partition: int, offset: int, until: int, limit: int
    ) -> tuple[list[Record], int]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._history, self._fetch, partition, offset, until, limit
        )

    def _fetch(
        self, partition: int, offset: int, until: int, limit: int
    ) -> tuple[list[Record], int]:
        try:
            reader = self._idle_readers.get_nowait()
        except queue.Empty:
            try:
                reader = self._consumer("history")
            except Exception as error:
                log.debug("progress: no history reader: %s", error)
                time.sleep(0.2)
                return [], offset
        tp = TopicPartition(self.topic, partition)
        records: list[Record] = []
        reached = offset
        try:
            reader.assign([tp])
            reader.seek(tp, offset)
            deadline = time.monotonic() + FETCH_DEADLINE
            while time.monotonic() < deadline:
                batch = reader.poll(timeout_ms=POLL_MS, max_records=limit - len(records))
                for message in batch.get(tp, ()):
                    if message.offset < until:
                        records.append(_record(message))
                # The seek above set the position: kafka-python's None (no position) cannot be.
                if len(records) >= limit or cast(int, reader.position(tp)) >= until:
                    if not records:
                        reached = until  # only markers or compacted-away offsets were left
                    break
                if records and not batch:
                    break  # all the broker had at hand: hand it over, the hub asks again
        except Exception as error:
            log.debug("progress: history fetch failed: %s", error)
            with contextlib.suppress(Exception):
                reader.close(autocommit=False)
            return records, records[-1].offset + 1 if records else offset
        self._idle_readers.put(reader)
        return records, records[-1].offset + 1 if records else reached

    # -- publishing -----------------------------------------------------------------

    async def publish(self, run_id: str, value: bytes, headers: Headers = ()) -> Cursor:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._history, self._publish, run_id, value, headers)

    def _publish(self, run_id: str, value: bytes, headers: Headers) -> Cursor:
        try:
            with self._producer_lock:
                if self._producer is None:
                    self._producer = KafkaProducer(
                        bootstrap_servers=self.bootstrap,
                        client_id="kfp-viz-server",
                        # Idempotent: the broker drops a record the producer sent again
                        # after a lost acknowledgement (it needs acks=all).
                        enable_idempotence=True,
                        acks="all",
                        linger_ms=0,
                        max_block_ms=5000,
                        request_timeout_ms=5000,
                        delivery_timeout_ms=10000,
                        max_in_flight_requests_per_connection=1,
                    )
            metadata: RecordMetadata = self._producer.send(
                self.topic, key=run_id.encode(), value=value, headers=list(headers) or None
            ).get(10)
        except Exception as error:
            raise PublishFailed(
                f"Kafka at {','.join(self.bootstrap)} did not take the event: "
                f"{type(error).__name__}: {error}"
            ) from None
        return Cursor(metadata.partition, metadata.offset)

    # -- positions by time and at the end ---------------------------------------------

    async def offset_at(self, partition: int, ts: float) -> int:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._history, self._offset_at, partition, ts)

    async def end_offset(self, partition: int) -> int:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._history, self._end_offset, partition)

    def _offset_at(self, partition: int, ts: float) -> int:
        tp = TopicPartition(self.topic, partition)
        with self._reader() as reader:
            found = reader.offsets_for_times({tp: int(ts * 1000)}).get(tp)
            return found.offset if found is not None else self._ends(reader, tp)

    def _end_offset(self, partition: int) -> int:
        with self._reader() as reader:
            return self._ends(reader, TopicPartition(self.topic, partition))

    @staticmethod
    def _ends(reader: KafkaConsumer, tp: TopicPartition) -> int:
        return int(reader.end_offsets([tp])[tp])

    @contextlib.contextmanager
    def _reader(self) -> Iterator[KafkaConsumer]:
        """An idle history reader (or a new one), given back after use unless it failed."""
        try:
            reader = self._idle_readers.get_nowait()
        except queue.Empty:
            reader = self._consumer("history")
        try:
            yield reader
        except Exception:
            with contextlib.suppress(Exception):
                reader.close(autocommit=False)
            raise
        self._idle_readers.put(reader)

    # -- plumbing -------------------------------------------------------------------

    def _consumer(self, role: str) -> KafkaConsumer:
        live = role == "live"
        return KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id=f"kfp-viz-server-{role}",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # Live: batched, until FetchPacing makes fetches eager while the topic is quiet.
            **(BATCHED_FETCH if live else EAGER_FETCH),
            # Live: refresh the topic's metadata this often, to notice added partitions.
            metadata_max_age_ms=int(PARTITION_CHECK * 1000) if live else 300_000,
            # With the `crc32c` package installed kafka-python checks CRCs in native code, a
            # negligible cost per batch (bench/crc_bench.py); in pure Python it cost more than
            # all else the server does per event.
            check_crcs=True,
            request_timeout_ms=5000,
            reconnect_backoff_max_ms=1000,
        )

    def _call(self, callback: Any, *args: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop closed while we were reading
            self._loop.call_soon_threadsafe(callback, *args)

    def _pause(self, seconds: float) -> None:
        self._stop.wait(seconds)

    async def close(self) -> None:
        self._stop.set()
        loop = asyncio.get_running_loop()
        if self._thread is not None:
            await loop.run_in_executor(None, self._thread.join, 5.0)
        await loop.run_in_executor(None, self._close_clients)

    def _close_clients(self) -> None:
        self._history.shutdown(wait=True, cancel_futures=True)
        while True:
            try:
                self._idle_readers.get_nowait().close(autocommit=False)
            except queue.Empty:
                break
            except Exception:
                continue
        if self._producer is not None:
            with contextlib.suppress(Exception):
                self._producer.close(timeout=2)


class FetchPacing:
    """Eager fetches while the topic is quiet, batched ones while it is busy.

    Why: every fetch the live read makes is one dispatch to every watcher of the runs in
    it, so with 100 watchers of a run each fetch costs 100 gRPC messages. Letting the
    broker hold each fetch for BUSY_BATCH_MS (or 1 MiB) bounds that cost whatever the
    event rate, but holds every event for half of it on average, and for nothing when
    events come in bursts further apart (a step's SDK batches its sends). So a fetch is
    answered as soon as the broker has a record, until records come back less than
    BUSY_BATCH_MS apart; then fetches are held, until a poll of two batch periods
    finds nothing.

    kafka-python reads the fetch settings from its fetcher's config for every request it
    builds, but offers no public way to change them on a live consumer; where that
    private config is missing, fetches stay batched all the time (the safe choice).
    """

    def __init__(self, consumer: KafkaConsumer) -> None:
        fetcher = getattr(consumer, "_fetcher", None)
        config = getattr(fetcher, "config", None)
        self._config: dict[str, Any] | None = config if isinstance(config, dict) else None
        if self._config is None:
            log.warning("progress: cannot pace kafka-python's fetches; batching all of them")
        self._last_records = -1.0
        self.busy = True  # as the consumer was made
        if self._config is not None:
            self._apply(busy=False)

    @property
    def poll_ms(self) -> int:
        """A busy topic's quiet spell is noticed after two empty batch periods."""
        return 2 * BUSY_BATCH_MS if self.busy and self._config is not None else POLL_MS

    def update(self, got_records: bool, now: float) -> None:
        """After each poll: whether it brought records, and when it returned."""
        if self._config is None:
            return
        if got_records:
            busy = self.busy or now - self._last_records < BUSY_BATCH_MS / 1000
            self._last_records = now
        else:
            busy = False
        if busy != self.busy:
            self._apply(busy)

    def _apply(self, busy: bool) -> None:
        assert self._config is not None
        self.busy = busy
        self._config.update(BATCHED_FETCH if busy else EAGER_FETCH)


def _record(message: Any) -> Record:
    key = message.key.decode("utf-8", "replace") if message.key is not None else None
    return Record(
        message.partition,
        message.offset,
        key,
        message.value if message.value is not None else b"",
        message.timestamp / 1000 if message.timestamp and message.timestamp > 0 else time.time(),
        tuple(message.headers) if message.headers else (),
    )
