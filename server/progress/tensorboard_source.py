"""Metrics with no code in the steps: TensorBoard event files become `metric` events.

Most training steps already write TensorBoard logs (Keras' TensorBoard callback,
`torch.utils.tensorboard`, Lightning's default logger, HF's `report_to="tensorboard"`),
often into KFP's object store for its TensorBoard viewer. With `--tensorboard-logs
PATTERN` (e.g. `minio://mlpipeline/tb/{run_id}/`), the publishing replica (leadership.py)
lists what is below the pattern's fixed part every POLL_INTERVAL, and reads each
`events.out.tfevents.*` file's new bytes as it grows:

- Framing is TFRecord (kernels/tfrecord.py); a partly written last record is left for the
  next read. Each record is a TensorBoard `Event` (the `tensorboard` package's protos, no
  TensorFlow): its scalar summaries (`simple_value`, as tensorboardX/torch write them, or
  a scalar tensor of the `scalars` plugin, as Keras/TF2 write them) become one `metric`
  event of step `node_id` "tensorboard": tag → value, `current` = the step, `ts` = the
  event's wall time.
- Folders below the run's folder name the metrics: `train/events...` with tag `loss`
  gives `train/loss`; `validation/...` gives `validation/loss`.
- Object stores have no append: writers (TensorFlow's and TensorBoard's S3 file systems,
  tensorboardX) upload the whole file again at each flush, and the file is read on from
  where the last read stopped.
- Nothing is published twice: a metric's value is published only for a step past the
  last one published for that name. At the start of a term (a new publisher) those steps
  are read from the log first, so a handover repeats nothing. A step counter that goes
  back (a training restarted from scratch in the same folder) is therefore not
  published until it passes the old one.
- Files not modified in ACTIVE_WINDOW when first seen in a term are taken as read: a
  restart does not re-read every old run's logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import re
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kfp_viz.events import (
    MAX_METRIC_NAME,
    MAX_METRICS,
    RESERVED_RUN_IDS,
    RUN_ID,
    InvalidEvent,
    parse_event,
)
from kfp_viz_kernels.tfrecord import TFRecordError, complete_records

from .argo_source import History, Publish, publish_until_done
from .leadership import Leadership, short_error
from .threaded_feed import ThreadedFeed

log = logging.getLogger(__name__)

NODE_ID = "tensorboard"
POLL_INTERVAL = 0.5
ACTIVE_WINDOW = 3600.0
READ_CHUNK = 8 * 2**20
SEED_TIMEOUT = 10.0
RUNS_KEPT = 10_000
EVENT_FILE = re.compile(r"(^|/)events\.out\.tfevents\.[^/]*$")


@dataclass(frozen=True)
class LogPattern:
    """`--tensorboard-logs` split: where to list, and how a found file names its run."""

    scheme: str
    """"local", "minio" or "s3"."""
    bucket: str
    base: str
    """Everything before `{run_id}`: the prefix (or folder) listed."""
    rest: str
    """What follows the run id up to the log folder (e.g. "/" or "/logs/")."""

    @classmethod
    def parse(cls, text: str) -> LogPattern:
        text = text.removesuffix("**")
        before, _, after = text.partition("{run_id}")
        after = after if after.endswith("/") else after + "/"
        if "://" in before:
            scheme, _, path = before.partition("://")
            bucket, _, base = path.partition("/")
            return cls(scheme, bucket, base, after)
        return cls("local", "", before, after)

    def run_of(self, key: str) -> tuple[str, str] | None:
        """(run id, the file's folder below the run's log folder) for a found key, or None."""
        if not key.startswith(self.base) or not EVENT_FILE.search(key):
            return None
        run_id, _, below = key[len(self.base) :].partition("/")
        below = "/" + below
        if not RUN_ID.match(run_id) or run_id in RESERVED_RUN_IDS:
            return None
        if not below.startswith(self.rest):
            return None
        return run_id, os.path.dirname(below[len(self.rest) :])


@dataclass
class Found:
    """A listed event file."""

    key: str
    size: int
    modified: float


class LocalFolder:
    """Event files on a local (or mounted) file system."""

    def __init__(self, pattern: LogPattern) -> None:
        self.pattern = pattern
        self.description = f"folder {pattern.base}"

    def list(self) -> Iterator[Found]:
        top = (
            self.pattern.base
            if self.pattern.base.endswith("/")
            else os.path.dirname(self.pattern.base)
        )
        for folder, _, names in os.walk(top):
            for name in names:
                path = os.path.join(folder, name)
                with contextlib.suppress(OSError):
                    stat = os.stat(path)
                    yield Found(path, stat.st_size, stat.st_mtime)

    def read(self, key: str, start: int, end: int) -> bytes:
        with open(key, "rb") as file:
            file.seek(start)
            return file.read(end - start)


class ObjectFolder:
    """Event files in an object store (KFP's, through the server's store settings)."""

    def __init__(self, pattern: LogPattern, client: Any) -> None:
        self.pattern = pattern
        self.client = client
        self.description = f"{pattern.scheme}://{pattern.bucket}/{pattern.base}"

    def list(self) -> Iterator[Found]:
        objects = self.client.list_objects(
            self.pattern.bucket, prefix=self.pattern.base, recursive=True
        )
        for item in objects:
            if not item.is_dir:
                modified = item.last_modified.timestamp() if item.last_modified else time.time()
                yield Found(item.object_name, item.size or 0, modified)

    def read(self, key: str, start: int, end: int) -> bytes:
        reply = self.client.get_object(self.pattern.bucket, key, offset=start, length=end - start)
        try:
            return bytes(reply.read())
        finally:
            reply.close()
            reply.release_conn()


Scalars = tuple[str, float, float, dict[str, float]]
"""(run id, step, wall time, metric name → value) from one TensorBoard event."""


def scalars_of(payload: bytes, prefix: str) -> tuple[float, float, dict[str, float]] | None:
    """(step, wall time, name → value) of one `Event` record's scalar summaries, or None."""
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto.event_pb2 import Event

    try:
        event = Event.FromString(payload)
    except DecodeError:
        return None
    if not event.HasField("summary"):
        return None
    values: dict[str, float] = {}
    for value in event.summary.value:
        number = _scalar(value)
        if number is not None and math.isfinite(number):
            name = f"{prefix}/{value.tag}" if prefix else value.tag
            values[name[:MAX_METRIC_NAME]] = number
    return (float(event.step), event.wall_time, values) if values else None


def _scalar(value: Any) -> float | None:
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return float(value.simple_value)
    if kind == "tensor" and value.metadata.plugin_data.plugin_name == "scalars":
        from tensorboard.util import tensor_util

        with contextlib.suppress(Exception):
            array = tensor_util.make_ndarray(value.tensor)
            if array.size == 1:
                return float(array.reshape(()))
    return None


class TensorBoardLogs(ThreadedFeed[tuple[int, list[Scalars]]]):
    """Tails runs' event files in a thread; publishes their scalars from the loop."""

    name = "tensorboard"
    thread_name = "tb-logs"
    join_timeout = 5.0

    def __init__(
        self,
        folder: LocalFolder | ObjectFolder,
        publish: Publish,
        leadership: Leadership,
        *,
        namespace: str,
        history: History | None = None,
    ) -> None:
        self.folder = folder
        self.namespace = namespace
        self.leadership = leadership
        self._publish = publish
        self._history = history
        super().__init__()
        self._positions: dict[str, int] = {}
        """Event file → bytes read (whole records), in the current term."""
        self._last: OrderedDict[str, dict[str, float]] = OrderedDict()
        """Run → metric name → the last step published (this term)."""
        self._term = 0

    def start(self) -> None:
        self._start_reading()
        log.info("progress: reading TensorBoard logs in %s", self.folder.description)

    def status(self) -> dict[str, Any]:
        return {
            "logs": self.folder.description,
            "files": len(self._positions),
            "detail": self.detail,
            "published": self.published,
        }

    # -- reading (its own thread) -------------------------------------------------

    def _read_forever(self) -> None:
        term = 0
        while not self._stop.wait(POLL_INTERVAL):
            if not self.leadership.leading.is_set():
                continue
            if term != self.leadership.term:
                term = self.leadership.term
                self._positions = {}
            try:
                self._poll(term)
                self.detail = ""
            except Exception as error:  # the store away, or refusing the keys
                self.detail = short_error(error)
                log.warning("progress: reading TensorBoard logs failed: %s", self.detail)
                self._stop.wait(2.0)

    def _poll(self, term: int) -> None:
        listed: dict[str, int] = {}
        for found in self.folder.list():
            matched = self.folder.pattern.run_of(found.key)
            if matched is None:
                continue
            run_id, prefix = matched
            listed[found.key] = position = self._positions.get(found.key, -1)
            if position < 0:  # first seen this term
                old = time.time() - found.modified > ACTIVE_WINDOW
                position = found.size if old else 0
            elif found.size < position:  # replaced by a shorter file: a new one
                position = 0
            if found.size > position:
                position = self._read(found, position, run_id, prefix, term)
            listed[found.key] = position
        self._positions = listed

    def _read(self, found: Found, position: int, run_id: str, prefix: str, term: int) -> int:
        """Hand the scalars of the whole records from `position` on; return where they end."""
        while position < found.size:
            end = min(found.size, position + READ_CHUNK)
            data = self.folder.read(found.key, position, end)
            try:
                records, used = complete_records(data)
            except TFRecordError as error:
                log.warning("progress: %s is not a TensorBoard log: %s", found.key, error)
                return found.size  # skip it until it is replaced
            if not records:
                needed = _record_size(data)
                if needed is None or position + needed > found.size:
                    break  # the last record is still being written
                data = self.folder.read(found.key, position, position + needed)
                records, used = complete_records(data)
            scalars = [(run_id, *found_scalars) for r in records
                       if (found_scalars := scalars_of(r, prefix)) is not None]  # fmt: skip
            if scalars:
                self._hand((term, scalars))
            position += used
        return position

    # -- publishing (on the loop) -------------------------------------------------

    async def _take(self, item: tuple[int, list[Scalars]]) -> None:
        term, scalars = item
        if term != self.leadership.term or not self.leadership.leading.is_set():
            return  # read in an earlier term: the new one reads again
        if self._term != term:
            self._term = term
            self._last.clear()
        for run_id, step, wall_time, values in scalars:
            await self._publish_new(run_id, step, wall_time, values)

    async def _publish_new(
        self, run_id: str, step: float, wall_time: float, values: dict[str, float]
    ) -> None:
        last = self._last.get(run_id)
        if last is None:
            last = await self._seed(run_id)
            self._last[run_id] = last
            while len(self._last) > RUNS_KEPT:
                self._last.popitem(last=False)
        self._last.move_to_end(run_id)
        new = {n: v for n, v in values.items() if step > last.get(n, -math.inf)}
        names = list(new)
        for start in range(0, len(names), MAX_METRICS):
            metrics = {n: new[n] for n in names[start : start + MAX_METRICS]}
            event = {
                "v": 1, "run_id": run_id, "node_id": NODE_ID, "namespace": self.namespace,
                "kind": "metric", "metrics": metrics, "current": step, "ts": wall_time,
            }  # fmt: skip
            try:
                await publish_until_done(self._publish, parse_event(event), self)
            except InvalidEvent as error:
                log.warning("progress: TensorBoard scalars of run %s skipped: %s", run_id, error)
            for name in metrics:
                last[name] = step

    async def _seed(self, run_id: str) -> dict[str, float]:
        """The last step the log holds per metric of a run (another replica's, or ours)."""
        if self._history is None:
            return {}
        try:
            delivered = await asyncio.wait_for(self._history(run_id, self.namespace), SEED_TIMEOUT)
        except Exception as error:  # the log away: publish as if new (a repeat, not a loss)
            log.warning("progress: could not read run %s's history: %s", run_id, error)
            return {}
        last: dict[str, float] = {}
        for item in delivered:
            event = item.event
            if event.kind == "metric" and event.node_id == NODE_ID and event.current is not None:
                for name in event.metrics:
                    last[name] = max(last.get(name, -math.inf), event.current)
        return last


def _record_size(data: bytes) -> int | None:
    """The whole size of the record starting `data` (header, payload, footer), if readable."""
    if len(data) < 12:
        return None
    return int.from_bytes(data[:8], "little") + 16
