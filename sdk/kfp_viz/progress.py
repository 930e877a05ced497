"""Report a pipeline step's progress to kfp-viz-server (over HTTP, or through Kafka).

    from kfp_viz.progress import Reporter

    with Reporter() as report:   # status Running now; Succeeded, or Failed, at the end
        for batch in report.track(batches, total=len(batches)):
            loss = train(batch)
            report.metric(loss=loss)

Events follow the one schema (`kfp_viz.events`): a call that would make an invalid event
raises ReporterError at once, with the reason the server would give. Where events go (the
first that is set): `transport=`; `server_url=` or `bootstrap_servers=`; the environment's
KFP_VIZ_SERVER_URL (HTTP to the server, standard library only) or KAFKA_BOOTSTRAP_SERVERS
(Kafka, the `kafka` extra); else nowhere, with one warning per process (a step never fails
because progress cannot be sent). Sending never blocks the step for long and never raises
because the server or Kafka is away: events go into a bounded buffer that a background
thread sends; when the buffer is full the oldest waiting event that is not a status is
dropped (a step's Running/Succeeded/Failed outlives its progress ticks) and a warning is
logged once. `flush()` / `close()` wait at most the time they are given.

Defaults from the environment (a KFP step pod), else required as arguments:
  run_id     KFP_RUN_ID, else the `--run_id` of KFP v2's launcher, the step's parent process
             (kfp_viz.step_pod); else pass `dsl.PIPELINE_JOB_ID_PLACEHOLDER`. Not required
             when there is nowhere to send ("local").
  node_id    KFP_NODE_ID, else the task's name in KFP v2 (read from its launcher, as the
             run id is), else ARGO_NODE_ID (set by Argo in every step pod), else
             KFP_POD_NAME (set by KFP v2's launcher), else HOSTNAME. Outside a pod, set
             KFP_NODE_ID (or pass node_id=) to the step's name as the live page shows it.
             A step named automatically in an Argo pod also sends ARGO_NODE_ID as
             `argo_node_id`: with the server's Argo source on, its events are then shown
             under the step's name as Argo shows it (a ParallelFor's `task[i]`, KFP v1's
             display name), in one row with Argo's own status.
  namespace  KFP_NAMESPACE, else the pod's service-account namespace file
  server     KFP_VIZ_SERVER_URL, e.g. http://ml-pipeline-visualizationserver.kubeflow:8888
  brokers    KAFKA_BOOTSTRAP_SERVERS;  topic KAFKA_PROGRESS_TOPIC (default kfp-progress)
"""

from __future__ import annotations

import atexit
import collections
import importlib.util
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sized
from pathlib import Path
from typing import Any, TypeVar

from .events import (
    ARGO_NODE_ID,
    InvalidEvent,
    new_event,
    validate_namespace,
    validate_node_id,
    validate_run_id,
)
from .http_transport import HttpTransport
from .kafka_transport import KafkaTransport
from .step_pod import LauncherStep, launcher_step
from .transport import NOTHING_SET, NullTransport, Transport

log = logging.getLogger("kfp_viz.progress")

DEFAULT_TOPIC = "kfp-progress"
LOCAL_RUN_ID = "local"
"""The run id of a Reporter with nowhere to send and no run id given."""
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


def _argo_node_id() -> str:
    """ARGO_NODE_ID when it is an Argo node id (else "": a bad value must not cost a step
    its events)."""
    value = _env_first("ARGO_NODE_ID")
    return value if ARGO_NODE_ID.match(value) else ""


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
        transport: Transport | None = None,
        server_url: str | None = None,
    ) -> None:
        self.transport = transport or _transport(
            server_url, bootstrap_servers, topic, producer_config
        )
        self._discard = isinstance(self.transport, NullTransport)
        self.run_id, self.node_id, self.namespace = _identity(
            run_id, node_id, namespace, required=not self._discard
        )
        self.argo_node_id = "" if node_id or _env_first("KFP_NODE_ID") else _argo_node_id()
        """The pod's Argo node id, sent with the step's events when the step was named
        automatically (a name given is kept as given)."""
        self._key = self.run_id.encode()
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

    @property
    def bootstrap_servers(self) -> list[str]:
        """Kafka's brokers, when events go to Kafka; else []."""
        kafka = self.transport
        return kafka.bootstrap_servers if isinstance(kafka, KafkaTransport) else []

    @property
    def topic(self) -> str:
        """Kafka's topic, when events go to Kafka; else ""."""
        kafka = self.transport
        return kafka.topic if isinstance(kafka, KafkaTransport) else ""

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
        self.emit("progress", current=current, total=total, fraction=fraction, message=message)

    def metric(
        self, name: str | None = None, value: float | None = None, *, step: float | None = None,
        group: str = "", **metrics: float,
    ) -> None:  # fmt: skip
        """Numbers to plot, e.g. `metric("loss", 0.3)` or `metric(loss=0.3, acc=0.9, step=10)`.
        `group` names the chart these values share (`metric(top1=.7, top5=.9, group="acc")`);
        without it the live page pairs names like `loss`/`val_loss` itself."""
        given: dict[str, object] = dict(metrics)
        if name is not None:
            given[name] = value
        if not given:
            raise ReporterError("metric() needs at least one name and value")
        numbers: dict[str, float] = {}
        for key, number in given.items():
            if not isinstance(number, (int, float)) or isinstance(number, bool):
                raise ReporterError(f"metric {key!r} must be a number, got {number!r}")
            if not math.isfinite(number):
                return  # a NaN or infinite loss is not plottable; skip it rather than crash
            numbers[key] = float(number)
        self.emit("metric", metrics=numbers, current=step, group=group)

    def log(self, message: str) -> None:
        """A line of text shown with the step."""
        self.emit("log", message=str(message))

    def status(self, status: str, message: str = "", *, run_level: bool = False) -> None:
        """The step's status (Running, Succeeded, Failed, ...); `run_level` for the whole run."""
        self.emit("status", status=status, message=message, run_level=run_level)

    def track(
        self, iterable: Iterable[T], total: int | None = None, *, every: float = 0.5,
        message: str = "",
    ) -> Iterator[T]:  # fmt: skip
        """Yield from `iterable`; report progress at most every `every` seconds, and at the end."""
        if total is None:
            try:
                total = len(iterable) if isinstance(iterable, Sized) else None
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

    def emit(self, kind: str, *, run_level: bool = False, **fields: Any) -> None:
        """Send any event of this step (or of the whole run: `run_level`) by its schema
        fields, e.g. `emit("log", message="hi")`; the methods above come down to this."""
        try:
            event = new_event(
                kind=kind, run_id=self.run_id, node_id="" if run_level else self.node_id,
                namespace=self.namespace, argo_node_id="" if run_level else self.argo_node_id,
                **fields,
            )  # fmt: skip
        except InvalidEvent as error:
            raise ReporterError(str(error)) from None
        self._enqueue(kind, event.to_json())

    def _enqueue(self, kind: str, value: bytes) -> None:
        if self._discard:
            return  # checked, and nowhere to go
        with self._lock:
            if self._closed:
                self._warn_once("closed", "progress event after close() is not sent")
                return
            if len(self._buffer) >= self._buffer_size:
                self._drop_one()
                self.dropped += 1
                self._warn_once(
                    "full",
                    f"progress buffer full ({self._buffer_size} events; is "
                    f"{self.transport.target} reachable?): dropping the oldest",
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
        connected = False
        while True:
            with self._lock:
                while not self._buffer and not self._closed:
                    self._lock.wait()
                if not self._buffer and self._closed:
                    break
            if not connected:
                connected = self._connect()
                if not connected:
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
                self._send(value)
        if connected:
            try:
                self.transport.close(max(0.0, self._close_deadline - time.monotonic()))
            except Exception as error:
                self._warn_once("close", f"progress events not delivered at close: {error}")

    _give_up = False
    _close_deadline = 0.0

    def _connect(self) -> bool:
        try:
            self.transport.connect()
        except Exception as error:
            self._warn_once("connect", f"{self.transport.target}: {error}")
            return False
        return True

    def _send(self, value: bytes) -> None:
        try:
            self.transport.send(self._key, value, self._delivered)
        except Exception as error:
            self._delivered(error)

    def _delivered(self, error: Exception | None) -> None:
        with self._lock:
            if error is None:
                self.sent += 1
            else:
                self.failed += 1
            self._in_flight -= 1
            self._lock.notify_all()
        if error is not None:
            # Once per kind of failure: a refused token is still told after a time-out was.
            self._warn_once(
                f"send:{type(error).__name__}", f"a progress event was not delivered: {error}"
            )

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
        """Deliver what is waiting for up to `timeout` seconds, then stop; never raises.

        Events the transport gives up while closing (the HTTP transport's queue, Kafka's
        unsent batches) count as not delivered, as do those that never left the buffer."""
        if self._closed:
            return
        failed_before = self.failed
        delivered = self.flush(timeout)
        with self._lock:
            self._closed = True
            self._give_up = True
            self._close_deadline = time.monotonic() + (0.5 if not delivered else 0)
            self._lock.notify_all()
        self._thread.join(1.0)
        if not delivered:
            with self._lock:  # given up while closing (counted in failed too), and left over
                lost = self.failed - failed_before + len(self._buffer) + self._in_flight
            target = self.transport.target
            if lost:
                self._warn_once("close", f"{lost} progress events were not delivered to "
                                f"{target} within close()'s {timeout:g} s")  # fmt: skip
        _open_reporters.discard(self)

    def _warn_once(self, what: str, message: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            log.warning("kfp_viz.progress: %s", message)


def _identity(
    run_id: str | None, node_id: str | None, namespace: str | None, *, required: bool = True
) -> tuple[str, str, str]:
    """Which run, step and namespace the events are of: the arguments, else the step pod's.
    Without anywhere to send (`required` false), a missing run or step is no error."""
    run_id = run_id or _env_first("KFP_RUN_ID")
    node_id = node_id or _env_first("KFP_NODE_ID")
    launcher = LauncherStep() if run_id and node_id else launcher_step()
    run_id = run_id or launcher.run_id
    node_id = (
        node_id or launcher.task_name or _env_first("ARGO_NODE_ID", "KFP_POD_NAME", "HOSTNAME")
    )
    if not required:
        run_id, node_id = run_id or LOCAL_RUN_ID, node_id or "step"
    if not run_id:
        raise ReporterError(
            "run_id is required: pass Reporter(run_id=...) (in KFP v2, a component argument "
            "given dsl.PIPELINE_JOB_ID_PLACEHOLDER) or set KFP_RUN_ID"
        )
    if not node_id:
        raise ReporterError("node_id is required: pass Reporter(node_id=...) or set KFP_NODE_ID")
    namespace = default_namespace() if namespace is None else namespace
    try:
        return validate_run_id(run_id), validate_node_id(node_id), validate_namespace(namespace)
    except InvalidEvent as error:
        raise ReporterError(str(error)) from None


def _transport(
    server_url: str | None,
    bootstrap_servers: str | None,
    topic: str | None,
    producer_config: Mapping[str, Any] | None,
) -> Transport:
    """Where events go when no transport is given: what the arguments name, else what the
    step's environment names (the server's URL before Kafka: it is kfp-viz's own setting,
    while Kafka's may be set for other programs), else nowhere, with one warning."""
    if server_url and bootstrap_servers:
        raise ReporterError("give server_url or bootstrap_servers, not both")
    if server_url or (not bootstrap_servers and _env_first("KFP_VIZ_SERVER_URL")):
        url = server_url or _env_first("KFP_VIZ_SERVER_URL")
        try:
            return HttpTransport(url)
        except ValueError as error:
            raise ReporterError(str(error)) from None
    servers = bootstrap_servers or _env_first("KAFKA_BOOTSTRAP_SERVERS")
    if servers:
        return _kafka(servers, topic, producer_config, named=bool(bootstrap_servers))
    return _nowhere(NOTHING_SET)


_nowhere_warned = threading.Lock()


def _nowhere(why: str) -> NullTransport:
    """Nowhere to send, and why: warned once per process, since every tqdm bar or callback
    of a step may make a Reporter."""
    transport = NullTransport(why)
    if _nowhere_warned.acquire(blocking=False):
        log.warning("kfp_viz.progress: progress is not sent: %s", transport.target)
    return transport


def _kafka(
    servers: str, topic: str | None, producer_config: Mapping[str, Any] | None, *, named: bool
) -> Transport:
    """Kafka's transport; without kafka-python installed, an error when the caller named
    the brokers, else (they came from the environment) nowhere, with one warning."""
    if importlib.util.find_spec("kafka") is None:
        missing = "sending to Kafka needs kafka-python: pip install 'kfp-viz[kafka]'"
        if named:
            raise ReporterError(missing)
        return _nowhere(f"KAFKA_BOOTSTRAP_SERVERS is set, but {missing}")
    return KafkaTransport(
        [s.strip() for s in servers.split(",") if s.strip()],
        topic or _env_first("KAFKA_PROGRESS_TOPIC") or DEFAULT_TOPIC,
        producer_config,
    )


_open_reporters: weakref.WeakSet[Reporter] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    """A step that forgot close(): give its last events two seconds to leave."""
    for reporter in list(_open_reporters):
        reporter.close(timeout=2.0)
