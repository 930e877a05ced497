"""Report a pipeline step's progress to kfp-viz-server through Kafka.

    from kfp_viz.progress import Reporter

    with Reporter() as report:   # status Running now; Succeeded, or Failed, at the end
        for batch in report.track(batches, total=len(batches)):
            loss = train(batch)
            report.metric(loss=loss)

The only dependency is kafka-python (and only once something is sent). Sending never
blocks the step for long and never raises because Kafka is away: events go into a
bounded buffer that a background thread sends; when the buffer is full the oldest
waiting event that is not a status is dropped (a step's Running/Succeeded/Failed
outlives its progress ticks) and a warning is logged once. `flush()` / `close()` wait at
most the time they are given.

Defaults from the environment (a KFP step pod), else required as arguments:
  run_id     KFP_RUN_ID (set it from `dsl.PIPELINE_JOB_ID_PLACEHOLDER` or the pod label
             `pipeline/runid`; KFP itself does not export the run id to steps)
  node_id    KFP_NODE_ID, else ARGO_NODE_ID (set by Argo in every step pod), else
             KFP_POD_NAME (set by KFP v2's launcher), else HOSTNAME
  namespace  KFP_NAMESPACE, else the pod's service-account namespace file
  brokers    KAFKA_BOOTSTRAP_SERVERS;  topic KAFKA_PROGRESS_TOPIC (default kfp-progress)
"""

from __future__ import annotations

import atexit
import collections
import json
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger("kfp_viz.progress")

DEFAULT_TOPIC = "kfp-progress"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
T = TypeVar("T")


class ReporterError(ValueError):
    """A Reporter was set up or called wrongly (a programming error, not a Kafka problem)."""


def _env_first(*names: str) -> str:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return ""


def default_namespace() -> str:
    found = _env_first("KFP_NAMESPACE", "POD_NAMESPACE")
    if found:
        return found
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    except OSError:
        return ""


class Reporter:
    """Sends progress events of one step of one run; safe to call from any thread."""

    def __init__(
        self,
        run_id: str | None = None,
        node_id: str | None = None,
        *,
        namespace: str | None = None,
        bootstrap_servers: str | None = None,
        topic: str | None = None,
        buffer_size: int = 10_000,
        producer_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.run_id = run_id or _env_first("KFP_RUN_ID")
        self.node_id = node_id or _env_first(
            "KFP_NODE_ID", "ARGO_NODE_ID", "KFP_POD_NAME", "HOSTNAME"
        )
        if not self.run_id:
            raise ReporterError("run_id is required: pass Reporter(run_id=...) or set KFP_RUN_ID")
        if not self.node_id:
            raise ReporterError(
                "node_id is required: pass Reporter(node_id=...) or set KFP_NODE_ID"
            )
        self.namespace = default_namespace() if namespace is None else namespace
        servers = bootstrap_servers or _env_first("KAFKA_BOOTSTRAP_SERVERS")
        if not servers:
            raise ReporterError(
                "Kafka is not configured: pass bootstrap_servers=... or set KAFKA_BOOTSTRAP_SERVERS"
            )
        self.bootstrap_servers = [s.strip() for s in servers.split(",") if s.strip()]
        self.topic = topic or _env_first("KAFKA_PROGRESS_TOPIC") or DEFAULT_TOPIC
        self._producer_config = dict(producer_config or {})
        self._buffer: collections.deque[tuple[str, bytes]] = collections.deque()
        self._buffer_size = buffer_size
        self._lock = threading.Condition()
        self._in_flight = 0
        self._closed = False
        self.dropped = 0
        self.failed = 0
        self.sent = 0
        self._warned: set[str] = set()
        self._thread = threading.Thread(
            target=self._send_loop, name="kfp-viz-progress", daemon=True
        )
        self._thread.start()
        _open_reporters.add(self)

    # -- what a step calls ------------------------------------------------------------

    def progress(
        self,
        current: float | None = None,
        total: float | None = None,
        *,
        fraction: float | None = None,
        message: str = "",
    ) -> None:
        """How far the step is: `current` of `total` items, or a `fraction` from 0 to 1."""
        if fraction is None and (current is None or total is None):
            raise ReporterError("progress() needs current and total, or fraction")
        self._emit("progress", current=current, total=total, fraction=fraction, message=message)

    def metric(
        self, name: str | None = None, value: float | None = None, *, step: float | None = None,
        **metrics: float,
    ) -> None:  # fmt: skip
        """Numbers to plot, e.g. `metric("loss", 0.3)` or `metric(loss=0.3, acc=0.9, step=10)`."""
        if name is not None:
            metrics[name] = value  # type: ignore[assignment]
        if not metrics:
            raise ReporterError("metric() needs at least one name and value")
        for key, number in metrics.items():
            if not isinstance(number, (int, float)) or isinstance(number, bool):
                raise ReporterError(f"metric {key!r} must be a number, got {number!r}")
            if not math.isfinite(number):
                return  # a NaN or infinite loss is not plottable; skip it rather than crash
        self._emit("metric", metrics={k: float(v) for k, v in metrics.items()}, current=step)

    def log(self, message: str) -> None:
        """A line of text shown with the step."""
        self._emit("log", message=str(message))

    def status(self, status: str, message: str = "", *, run_level: bool = False) -> None:
        """The step's status (Running, Succeeded, Failed, ...); `run_level` for the whole run."""
        self._emit("status", status=status, message=message, run_level=run_level)

    def track(
        self, iterable: Iterable[T], total: int | None = None, *, every: float = 0.5,
        message: str = "",
    ) -> Iterator[T]:  # fmt: skip
        """Yield from `iterable`; report progress at most every `every` seconds, and at the end."""
        if total is None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except TypeError:
                total = None
        last = 0.0
        done = 0
        for item in iterable:
            yield item
            done += 1
            now = time.monotonic()
            if now - last >= every:
                last = now
                self._loop_progress(done, total, message)
        self._loop_progress(done, total if total is not None else done, message)

    def _loop_progress(self, done: int, total: int | None, message: str) -> None:
        if total:
            self.progress(min(done, total), total, message=message)
        else:
            self.log(f"{done} items done")

    def __enter__(self) -> Reporter:
        self.status("Running")
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, tb: Any) -> None:
        if error is None:
            self.status("Succeeded")
        else:
            self.status("Failed", f"{kind.__name__}: {error}"[:1000] if kind else "")
        self.close()

    # -- delivery ---------------------------------------------------------------------

    def _emit(self, kind: str, run_level: bool = False, **fields: Any) -> None:
        event: dict[str, Any] = {
            "v": 1, "run_id": self.run_id, "node_id": "" if run_level else self.node_id,
            "namespace": self.namespace, "ts": time.time(), "kind": kind,
        }  # fmt: skip
        event.update({k: v for k, v in fields.items() if v not in (None, "")})
        value = json.dumps(event, separators=(",", ":")).encode()
        with self._lock:
            if self._closed:
                self._warn_once("closed", "progress event after close() is not sent")
                return
            if len(self._buffer) >= self._buffer_size:
                self._drop_one()
                self.dropped += 1
                self._warn_once(
                    "full",
                    f"progress buffer full ({self._buffer_size} events; is Kafka at "
                    f"{','.join(self.bootstrap_servers)} reachable?): dropping the oldest",
                )
            self._buffer.append((kind, value))
            self._lock.notify()

    def _drop_one(self) -> None:
        """Make room by dropping the oldest event that is not a status: statuses are few, and
        the terminal one is what ends every watcher's stream."""
        for index, (kind, _) in enumerate(self._buffer):
            if kind != "status":
                del self._buffer[index]
                return
        self._buffer.popleft()

    def _send_loop(self) -> None:
        producer = None
        while True:
            with self._lock:
                while not self._buffer and not self._closed:
                    self._lock.wait()
                if not self._buffer and self._closed:
                    break
            if producer is None:
                producer = self._connect()
                if producer is None:
                    with self._lock:
                        self._lock.wait(1.0)  # retry the connection; close() wakes us
                        if self._closed and self._give_up:
                            break
                    continue
            with self._lock:
                batch = [value for _, value in self._buffer]
                self._buffer.clear()
                self._in_flight += len(batch)
            for value in batch:
                self._send(producer, value)
        if producer is not None:
            try:
                producer.flush(timeout=max(0.0, self._close_deadline - time.monotonic()))
                producer.close(timeout=0)
            except Exception as error:
                self._warn_once("close", f"progress events not delivered at close: {error}")

    _give_up = False
    _close_deadline = 0.0

    def _connect(self) -> Any:
        try:
            from kafka import KafkaProducer

            return KafkaProducer(
                bootstrap_servers=self.bootstrap_servers,
                client_id="kfp-viz-progress",
                acks=1,
                linger_ms=5,
                max_in_flight_requests_per_connection=1,  # keep a step's events in order
                retries=2**31 - 1,
                delivery_timeout_ms=600_000,  # keep trying for ten minutes while Kafka is away
                request_timeout_ms=10_000,
                max_block_ms=2_000,
                reconnect_backoff_max_ms=2_000,
                **self._producer_config,
            )
        except Exception as error:
            self._warn_once("connect", f"Kafka at {','.join(self.bootstrap_servers)}: {error}")
            return None

    def _send(self, producer: Any, value: bytes) -> None:
        def done(_: Any) -> None:
            with self._lock:
                self.sent += 1
                self._in_flight -= 1
                self._lock.notify_all()

        def failed(error: Exception) -> None:
            with self._lock:
                self.failed += 1
                self._in_flight -= 1
                self._lock.notify_all()
            self._warn_once("send", f"a progress event was not delivered: {error}")

        try:
            future = producer.send(self.topic, key=self.run_id.encode(), value=value)
            future.add_callback(done)
            future.add_errback(failed)
        except Exception as error:
            failed(error)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait up to `timeout` seconds until every event so far is delivered; True if so."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._buffer or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, 0.05))
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is waiting for up to `timeout` seconds, then stop; never raises."""
        if self._closed:
            return
        delivered = self.flush(timeout)
        with self._lock:
            self._closed = True
            self._give_up = True
            self._close_deadline = time.monotonic() + (0.5 if not delivered else 0)
            self._lock.notify_all()
        self._thread.join(1.0)
        if not delivered:
            self._warn_once("close", f"{len(self._buffer) + self._in_flight} progress events "
                            "were not delivered before close()")  # fmt: skip
        _open_reporters.discard(self)

    def _warn_once(self, what: str, message: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            log.warning("kfp_viz.progress: %s", message)


_open_reporters: weakref.WeakSet[Reporter] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    """A step that forgot close(): give its last events two seconds to leave."""
    for reporter in list(_open_reporters):
        reporter.close(timeout=2.0)
