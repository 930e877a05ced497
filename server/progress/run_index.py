"""Where each run begins in the progress topic, kept in a compacted Kafka topic every replica reads.

Without it, the first watch of an old run reads the run's partition from its first record,
through every other run's records before the run's first one (about 110,000 records a
second: 90 s for a partition holding a week of 10 million events). With it, that watch
starts at the run's first record.

The index topic (`<topic>.runs` by default; compacted, one partition, made by the
server when missing) holds one record per (partition, run): key `PARTITION:RUN`, value
the offset of the run's first record there, and per partition a *watermark* (key
`PARTITION:`): every run with a record below it has its entry before the watermark in the
index topic. Every replica:

1. reads the index topic to its end (entries and the latest watermarks);
2. reads the progress topic from each partition's watermark (from its first record when
   there is none), keys only, in a thread of its own, writing an entry for every run it
   meets that has none, and every WATERMARK_INTERVAL the offset it has read up to;
3. answers `start_of(partition, run)`: the run's entry, else (no record of the run below
   what was read) the offset read up to.

Entries are facts (a run's first offset), so replicas writing the same entry write the
same value, and compaction keeps one. A watermark is written only after the entries below
it (one partition, produced in order), so whatever watermark compaction keeps, the
entries below it are in the topic. The first replica after a gap (all replicas down)
reads what was produced meanwhile once; the first ever reads the topic once.

A topic that exists without compaction is not used (its entries could expire before
their runs), and the server says so in /readyz; watches then read from the start.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)

WATERMARK_INTERVAL = 2.0
POLL_MS = 200
RETRY_DELAY = 2.0
MAX_RETRY_DELAY = 60.0
"""A broker refusing the index topic (no right to create it) is asked again at most this often."""


class RunIndex:
    """The first offset of every run per partition, learned once for the whole cluster."""

    name = "run_index"

    def __init__(self, bootstrap: list[str], topic: str, index_topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.index_topic = index_topic
        self._first: dict[tuple[int, str], int] = {}
        self._covered: dict[int, int] = {}
        """Partition → offset read up to: every run with a record below it is in _first."""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.state = "starting"
        self.detail = ""
        self.loaded = 0
        """Entries read from the index topic at start."""
        self.indexed = 0
        """Records of the progress topic this replica read to index them."""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="run-index", daemon=True)
        self._thread.start()

    async def close(self) -> None:
        import asyncio

        self._stop.set()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 5.0)

    def start_of(self, partition: int, run_id: str) -> int:
        """An offset below which `run_id` has no record in `partition` (0 when unknown)."""
        with self._lock:
            found = self._first.get((partition, run_id))
            return found if found is not None else self._covered.get(partition, 0)

    def status(self) -> dict[str, Any]:
        return {
            "topic": self.index_topic,
            "state": self.state,
            "detail": self.detail,
            "runs": len(self._first),
            "loaded": self.loaded,
            "indexed": self.indexed,
            "covered": dict(self._covered),
        }

    # -- the thread -----------------------------------------------------------------

    def _run(self) -> None:
        delay = RETRY_DELAY
        while not self._stop.is_set():
            try:
                if not self._usable():
                    return
                watermarks = self._load()
                self._follow(watermarks)
                return
            except Exception as error:  # the broker away, or refusing: start over (no loss)
                self.detail = f"{type(error).__name__}: {error}"
                log.warning("progress: run index: %s; retrying in %g s", self.detail, delay)
                self._stop.wait(delay)
                delay = min(2 * delay, MAX_RETRY_DELAY)

    def _usable(self) -> bool:
        """Make the index topic (compacted) if missing; refuse one that is not compacted."""
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="kfp-viz-server-index")
        try:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(self.index_topic, 1, 1, topic_configs={
                    "cleanup.policy": "compact"})])  # fmt: skip
            resource = ConfigResource(ConfigResourceType.TOPIC, self.index_topic)
            described = admin.describe_configs([resource])  # settings not at their default
            policy = _setting(described, self.index_topic, "cleanup.policy") or "delete"
        finally:
            admin.close()
        if "compact" not in policy:
            self.state = "off"
            self.detail = (
                f"topic {self.index_topic} has cleanup.policy={policy}, not compact: its "
                "entries could expire; set it to compact (or delete the topic) to use it"
            )
            log.warning("progress: run index off: %s", self.detail)
            return False
        return True

    def _load(self) -> dict[int, int]:
        """Every entry and the latest watermarks of the index topic, read to its end."""
        self.state = "loading"
        consumer = _consumer(self.bootstrap, "index-load")
        try:
            tp = TopicPartition(self.index_topic, 0)
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            end = consumer.end_offsets([tp])[tp]
            watermarks: dict[int, int] = {}
            while (consumer.position(tp) or 0) < end and not self._stop.is_set():
                for message in consumer.poll(timeout_ms=POLL_MS).get(tp, ()):
                    self._take(message.key, message.value, watermarks)
        finally:
            consumer.close(autocommit=False)
        self.loaded = len(self._first)
        return watermarks

    def _take(self, key: bytes | None, value: bytes | None, watermarks: dict[int, int]) -> None:
        if not key or not value:
            return
        partition, _, run_id = key.decode("utf-8", "replace").partition(":")
        with contextlib.suppress(ValueError):
            if run_id:
                self._first.setdefault((int(partition), run_id), int(value))
            else:
                watermarks[int(partition)] = max(watermarks.get(int(partition), 0), int(value))

    def _follow(self, watermarks: dict[int, int]) -> None:
        """Read the progress topic from the watermarks on, keys only, indexing new runs."""
        consumer = _consumer(self.bootstrap, "index")
        producer = KafkaProducer(
            bootstrap_servers=self.bootstrap, client_id="kfp-viz-server-index", acks="all",
            linger_ms=50, max_in_flight_requests_per_connection=1, retries=2**31 - 1,
        )  # fmt: skip
        try:
            partitions: list[int] = []
            written = time.monotonic()
            self.state = "indexing"
            while not self._stop.is_set():
                known = sorted(consumer.partitions_for_topic(self.topic) or ())
                if known != partitions:  # the topic appeared, or gained partitions
                    partitions = known
                    tps = [TopicPartition(self.topic, p) for p in partitions]
                    consumer.assign(tps)
                    for tp in tps:
                        start = self._covered.get(tp.partition, watermarks.get(tp.partition, 0))
                        consumer.seek(tp, start)
                        with self._lock:
                            self._covered.setdefault(tp.partition, start)
                if not partitions:
                    self._stop.wait(1.0)
                    continue
                self._index(consumer.poll(timeout_ms=POLL_MS, max_records=5000), producer)
                if time.monotonic() - written > WATERMARK_INTERVAL:
                    self._write_watermarks(consumer, producer, watermarks)
                    written = time.monotonic()
        finally:
            consumer.close(autocommit=False)
            producer.close(timeout=2)

    def _index(
        self, batch: dict[TopicPartition, list[ConsumerRecord]], producer: KafkaProducer
    ) -> None:
        for tp, messages in batch.items():
            for message in messages:
                if message.key is None:
                    continue
                run_id = message.key.decode("utf-8", "replace")
                entry = (tp.partition, run_id)
                if entry not in self._first:
                    with self._lock:
                        self._first[entry] = message.offset
                    producer.send(self.index_topic, key=f"{tp.partition}:{run_id}".encode(),
                                  value=str(message.offset).encode())  # fmt: skip
            self.indexed += len(messages)
            with self._lock:
                self._covered[tp.partition] = messages[-1].offset + 1

    def _write_watermarks(
        self, consumer: KafkaConsumer, producer: KafkaProducer, written: dict[int, int]
    ) -> None:
        """Each partition's read position, once the entries below it are in the topic."""
        positions = {
            p: consumer.position(TopicPartition(self.topic, p)) or 0 for p in self._covered
        }
        with self._lock:
            self._covered.update(positions)
        changed = {p: o for p, o in positions.items() if written.get(p) != o}
        if not changed:
            return
        producer.flush(timeout=30)  # entries first: a watermark only covers what is written
        for partition, offset in changed.items():
            producer.send(self.index_topic, key=f"{partition}:".encode(),
                          value=str(offset).encode())  # fmt: skip
        producer.flush(timeout=30)
        written.update(changed)
        self.detail = ""


def _consumer(bootstrap: list[str], role: str) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id=f"kfp-viz-server-{role}",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # a watermark below the retention: from the first kept
        check_crcs=True,  # as the live read (kafka_source.py): native CRC-32C, cheap
        request_timeout_ms=5000,
        fetch_max_bytes=16 * 2**20,
        max_partition_fetch_bytes=4 * 2**20,
    )


def _setting(described: dict[str, Any], topic: str, name: str) -> str | None:
    """A topic's setting from kafka-python's DescribeConfigs result (None: the default)."""
    found = (described.get("topic") or {}).get(topic, {}).get(name)
    return found.get("value") if isinstance(found, dict) else None
