"""The progress event: its JSON wire form, its validation, and the cursor that locates it.

One place for the schema. Kafka records, `POST /progress/<run_id>` bodies and gRPC
`PublishProgress` messages all become a `ProgressEvent` through `parse_event`, so a
bad field gets the same message on every path. A Kafka record that fails here is
counted and skipped by the hub; an HTTP or gRPC publish that fails gets the message
back (400 / INVALID_ARGUMENT).

Schema version 1 (`v`): `run_id`, `node_id` (the step; empty only for a run-level
`status`), `namespace`, `ts` (seconds since the epoch), `kind` (`progress` | `metric`
| `log` | `status`), `current`/`total` or `fraction`, `metrics` (name → number),
`message`, `status`, and for `metric` optionally `group` (the chart its metrics share;
without it the live page puts names such as `loss` and `val_loss` together). A `status`
may carry `started`, `finished` and `parents` (the DAG's edges into the step). Times (`ts`,
and a status' `started` and `finished`) must lie in the window `time_problem` names: from
2000-01-01 to a day past the reader's clock (a step pod's clock may run a little ahead), so
no event can make a page or a terminal print an absurd time or duration. Argo's node ids tie
a step's events from both sides: `argo_node_id`, the node id of the pod an event came from
(a step's SDK reads ARGO_NODE_ID), and `argo_nodes`, on a status from the server's Argo
source, the node ids of the pods that run the step; the hub then names an event of such a
pod by its step (server/progress/step_names.py). Unknown extra
fields are ignored so newer writers of version 1 stay readable; an unknown `v` is refused,
because its meaning cannot be guessed.

It lives in the SDK, and the server imports it from here: a step's Reporter, the `kfp-viz`
command and the server read and write the same fields, and the SDK needs nothing of the server.
Standard library only; `to_message` and `from_message` (the gRPC form) import the generated
protobuf module when first called, so only clients that speak gRPC need protobuf installed.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

from .safe_text import json_problem, printable

SCHEMA_VERSION = 1
KINDS = ("progress", "metric", "log", "status")
# KFP's node phases (v1 / Argo) and v2 task states, in one canonical spelling each.
STATUSES = (
    "Pending", "Running", "Succeeded", "Failed", "Error", "Skipped",
    "Cancelled", "Canceled", "Terminated", "Omitted",
)  # fmt: skip
TERMINAL_STATUSES = frozenset(STATUSES) - {"Pending", "Running"}
"""A step or run in one of these has ended: watching it is over."""
_STATUS_BY_LOWER = {s.lower(): s for s in STATUSES}

NAMESPACE = re.compile(r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)?$")
"""A Kubernetes namespace name, or "" (none): what events carry and servers are scoped to."""
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
"""KFP run ids are UUIDs; Argo workflow names and other ids also fit this."""
RESERVED_RUN_IDS = frozenset({"runs"})
"""Ids the server's paths take for themselves: `/progress/runs` is the run list."""
NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/()\[\] -]{0,252}$")
_NODE_ID_RULE = "a step name of letters, digits and ._:@/()[]- "
ARGO_NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
"""An Argo node id: the Workflow's name, `-`, a number (Kubernetes name characters)."""
_ARGO_NODE_ID_RULE = "an Argo node id (letters, digits and ._-)"
MAX_EVENT_BYTES = 256 * 1024
MAX_MESSAGE_CHARS = 16 * 1024
MAX_METRICS = 64
MAX_METRIC_NAME = 128
MAX_PARENTS = 64
EARLIEST_TS = 946_684_800.0
"""2000-01-01T00:00:00Z: an event's time before it is a clock that was never set (or a
time in milliseconds read as seconds the other way round)."""
MAX_TS_AHEAD = 86_400.0
"""How far past the reader's clock an event's time may be (seconds): clocks of step pods
drift by seconds, not days; a time past this is a unit mistake (milliseconds) or garbage."""


class InvalidEvent(ValueError):
    """An event that does not follow the schema; the message names the field and the problem."""


@dataclass(frozen=True, order=True, slots=True)
class Cursor:
    """Where an event sits: its Kafka partition and offset (the in-process bus mimics both).

    Text form `PARTITION:OFFSET` is what SSE ids and `resume_after` query strings carry.
    """

    partition: int
    offset: int

    def text(self) -> str:
        return f"{self.partition}:{self.offset}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        match = re.fullmatch(r"\s*(\d{1,6}):(\d{1,19})\s*", text or "")
        if match is None:
            raise InvalidEvent(
                f"resume_after must be PARTITION:OFFSET (two whole numbers), got {text[:40]!r}"
            )
        return cls(int(match[1]), int(match[2]))

    def to_message(self) -> Any:
        """As the gRPC `kfpviz.v1.Cursor` (needs protobuf: the SDK's `grpc` extra)."""
        return _pb().Cursor(partition=self.partition, offset=self.offset)

    @classmethod
    def from_message(cls, message: Any) -> Cursor:
        return cls(message.partition, message.offset)


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """One validated event. `to_json()` is the canonical wire form."""

    run_id: str
    node_id: str
    namespace: str
    ts: float
    kind: str
    current: float | None = None
    total: float | None = None
    fraction: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    message: str = ""
    status: str = ""
    started: float | None = None
    finished: float | None = None
    parents: tuple[str, ...] = ()
    group: str = ""
    argo_node_id: str = ""
    argo_nodes: tuple[str, ...] = ()
    v: int = SCHEMA_VERSION

    @property
    def is_run_level(self) -> bool:
        return not self.node_id

    def ends(self, node_id: str | None) -> bool:
        """Whether a watch of this run (or of `node_id` in it) is over once this event is seen."""
        if self.kind != "status" or self.status not in TERMINAL_STATUSES:
            return False
        return self.is_run_level or (bool(node_id) and self.node_id == node_id)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "v": self.v, "run_id": self.run_id, "node_id": self.node_id,
            "namespace": self.namespace, "ts": self.ts, "kind": self.kind,
        }  # fmt: skip
        for name in ("current", "total", "fraction", "started", "finished"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.parents:
            out["parents"] = list(self.parents)
        if self.argo_node_id:
            out["argo_node_id"] = self.argo_node_id
        if self.argo_nodes:
            out["argo_nodes"] = list(self.argo_nodes)
        if self.metrics:
            out["metrics"] = dict(self.metrics)
        if self.message:
            out["message"] = self.message
        if self.status:
            out["status"] = self.status
        if self.group:
            out["group"] = self.group
        return out

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False).encode()


def parse_json(
    data: bytes | str, *, key: str | None = None, default_ts: float | None = None
) -> ProgressEvent:
    """Decode and validate one event from its JSON text (a Kafka value or an HTTP body)."""
    if len(data) > MAX_EVENT_BYTES:
        raise InvalidEvent(f"event is {len(data)} bytes; the limit is {MAX_EVENT_BYTES}")
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidEvent(f"event is not valid JSON: {error}") from None
    except RecursionError:
        raise InvalidEvent("event is not valid JSON: nested too deeply") from None
    event = parse_event(obj, default_ts=default_ts)
    if key is not None and key != event.run_id:
        raise InvalidEvent(f"record key {key[:130]!r} differs from run_id {event.run_id!r}")
    return event


def new_event(**fields: Any) -> ProgressEvent:
    """A validated event stamped now, from its fields by name (None and "" mean "not given"),
    as a writer makes one: a message past the limit is cut short rather than refused, so
    a long traceback never costs a step its report."""
    obj: dict[str, Any] = {"v": SCHEMA_VERSION, "ts": time.time()}
    obj.update((name, value) for name, value in fields.items() if value not in (None, ""))
    if isinstance(obj.get("message"), str):
        obj["message"] = obj["message"][:MAX_MESSAGE_CHARS]
    return parse_event(obj)


def parse_event(obj: Any, *, default_ts: float | None = None) -> ProgressEvent:
    """Validate a decoded event object; `default_ts` fills a missing `ts` (e.g. receive time).

    An event accepted here can be delivered to every watcher: its text is Unicode (a lone
    surrogate, which JSON can escape, would fail every gRPC stream of its run).
    """
    if not isinstance(obj, dict):
        raise InvalidEvent(f"event must be a JSON object, got {type(obj).__name__}")
    problem = json_problem(obj)
    if problem:
        raise InvalidEvent(f"event is not deliverable: {problem}")
    version = obj.get("v", None)
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise InvalidEvent(
            f"unknown schema version v={version!r}; this server reads v={SCHEMA_VERSION}"
        )
    kind = obj.get("kind")
    if kind not in KINDS:
        raise InvalidEvent(f"kind must be one of {', '.join(KINDS)}; got {_show(kind)}")
    run_id = validate_run_id(obj.get("run_id"))
    node_id = _text(obj, "node_id", NODE_ID, _NODE_ID_RULE)
    namespace = _text(obj, "namespace", NAMESPACE, "a Kubernetes namespace name")
    ts = _number(obj, "ts")
    if ts is None:
        ts = time.time() if default_ts is None else default_ts
    _check_time("ts", ts)
    message = obj.get("message", "")
    if not isinstance(message, str):
        raise InvalidEvent(f"message must be a string; got {_show(message)}")
    if len(message) > MAX_MESSAGE_CHARS:
        raise InvalidEvent(
            f"message has {len(message)} characters; the limit is {MAX_MESSAGE_CHARS}"
        )
    current, total, fraction = _progress_fields(obj, kind)
    metrics = _metrics(obj.get("metrics"), required=kind == "metric")
    status = _status(obj.get("status"), required=kind == "status")
    parents = _ids(obj.get("parents"), "parents", NODE_ID, "a step id")
    argo_node_id = _text(obj, "argo_node_id", ARGO_NODE_ID, _ARGO_NODE_ID_RULE)
    argo_nodes = _ids(obj.get("argo_nodes"), "argo_nodes", ARGO_NODE_ID, _ARGO_NODE_ID_RULE)
    if kind != "status" and not node_id:
        raise InvalidEvent(
            f"node_id is required for {kind} events (only a status may be run-level)"
        )
    if kind == "log" and not message:
        raise InvalidEvent("log events need a non-empty message")
    group = _group(obj.get("group"), kind)
    return ProgressEvent(
        run_id=run_id, node_id=node_id, namespace=namespace, ts=ts, kind=kind,
        current=current, total=total, fraction=fraction, metrics=metrics,
        message=message, status=status, group=group, started=_time(obj, "started"),
        finished=_time(obj, "finished"), parents=parents, argo_node_id=argo_node_id,
        argo_nodes=argo_nodes,
    )  # fmt: skip


def validate_run_id(value: Any) -> str:
    """A run id as events, URLs and RPCs carry it: non-empty, at most 128 safe characters."""
    if not isinstance(value, str) or not value:
        raise InvalidEvent(f"run_id is required (a non-empty string); got {_show(value)}")
    if not RUN_ID.match(value):
        raise InvalidEvent(
            f"run_id {_show(value)} is not a run id: use up to 128 letters, digits and ._:@- "
            "starting with a letter or digit"
        )
    if value in RESERVED_RUN_IDS:
        raise InvalidEvent(
            f"run_id {_show(value)} is reserved: /progress/{value} is the server's run list; "
            "name the run otherwise"
        )
    return value


def validate_namespace(value: str) -> str:
    if not NAMESPACE.match(value):
        raise InvalidEvent(f"namespace {_show(value)} is not a Kubernetes namespace name")
    return value


def validate_node_id(value: Any) -> str:
    """A step name as events carry it ("" for the run itself)."""
    return _text({"node_id": value}, "node_id", NODE_ID, _NODE_ID_RULE)


# -- the gRPC form (kfpviz.v1.ProgressEvent) -----------------------------------------------
# The message has the schema's field names, so the conversion is by name both ways.

_UNSET_FIELDS: dict[str, Any] = {
    "v": SCHEMA_VERSION, "run_id": "", "node_id": "", "namespace": "", "kind": "",
    "message": "", "status": "", "metrics": {}, "group": "", "argo_node_id": "",
}  # fmt: skip
"""What a message's unset fields mean: v 0 is version 1; ts 0 (left out) is "now"."""


_LISTS = ("parents", "argo_nodes")


def _pb() -> Any:
    from .pb import kfpviz_progress_pb2

    return kfpviz_progress_pb2


def to_message(event: ProgressEvent) -> Any:
    """The event as a `kfpviz.v1.ProgressEvent` (needs protobuf: the SDK's `grpc` extra)."""
    return _pb().ProgressEvent(**event.to_dict())


def message_fields(message: Any) -> dict[str, Any]:
    """A `kfpviz.v1.ProgressEvent` as the JSON-shaped object `parse_event` validates, so a
    published message is checked exactly as a Kafka record or an HTTP body is."""
    fields = dict(_UNSET_FIELDS)
    for descriptor, value in message.ListFields():
        if descriptor.name == "metrics":
            value = dict(value)
        elif descriptor.name in _LISTS:  # a repeated field: a list, as in JSON
            value = list(value)
        fields[descriptor.name] = value
    return fields


def from_message(message: Any) -> ProgressEvent:
    """A streamed `kfpviz.v1.ProgressEvent` as an event, not validated again: the server that
    sent it did, and a newer server's statuses must not break an older client."""
    fields = message_fields(message)
    lists = {name: tuple(fields.get(name, ())) for name in _LISTS}
    return ProgressEvent(**{"ts": 0.0, **fields, **lists})


def from_streamed(obj: dict[str, Any]) -> ProgressEvent:
    """An event as a server streamed it in JSON (a server-sent `progress` event's data), not
    validated again, as `from_message`: its known fields, the rest (its `cursor`) ignored."""
    known = {name: obj[name] for name in _FIELD_NAMES if obj.get(name) is not None}
    lists = {name: tuple(known.get(name, ())) for name in _LISTS}
    return ProgressEvent(**{**_UNSET_FIELDS, "ts": 0.0, **known, **lists})


_FIELD_NAMES = tuple(ProgressEvent.__dataclass_fields__)


def _progress_fields(
    obj: dict[str, Any], kind: str
) -> tuple[float | None, float | None, float | None]:
    current, total, fraction = (
        _number(obj, "current"),
        _number(obj, "total"),
        _number(obj, "fraction"),
    )
    if current is not None and current < 0:
        raise InvalidEvent(f"current must be 0 or more; got {current:g}")
    if total is not None and total <= 0:
        raise InvalidEvent(f"total must be more than 0; got {total:g}")
    if fraction is not None and not 0 <= fraction <= 1:
        raise InvalidEvent(f"fraction must be between 0 and 1; got {fraction:g}")
    if kind == "progress" and fraction is None:
        if current is None or total is None:
            raise InvalidEvent("progress events need current and total, or fraction")
        fraction = min(1.0, current / total)
    return current, total, fraction


def _metrics(value: Any, *, required: bool) -> dict[str, float]:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise InvalidEvent(f"metrics must be an object of name → number; got {_show(value)}")
    if required and not value:
        raise InvalidEvent("metric events need at least one entry in metrics")
    if len(value) > MAX_METRICS:
        raise InvalidEvent(f"metrics has {len(value)} entries; the limit is {MAX_METRICS}")
    out = {}
    for name, number in value.items():
        if not name or len(name) > MAX_METRIC_NAME:
            raise InvalidEvent(f"metric names must have 1 to {MAX_METRIC_NAME} characters")
        if not _is_number(number) or not math.isfinite(number):
            raise InvalidEvent(f"metric {_show(name)} must be a finite number; got {_show(number)}")
        out[name] = float(number)
    return out


def _ids(value: Any, name: str, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
    """A list of ids: `parents` (the steps a step depends on, the DAG's edges into it) or
    `argo_nodes` (the Argo node ids of a step's pods)."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_PARENTS:
        raise InvalidEvent(f"{name} must be a list of at most {MAX_PARENTS} ids ({what})")
    for item in value:
        if not isinstance(item, str) or not pattern.match(item):
            raise InvalidEvent(f"{name}: {_show(item)} is not {what}")
    return tuple(value)


def _group(value: Any, kind: str) -> str:
    """The chart a metric event's values share: optional, a name like a metric's."""
    if value in (None, ""):
        return ""
    if kind != "metric":
        raise InvalidEvent(f"group names the chart of a metric event; this is a {kind} event")
    if not isinstance(value, str) or len(value) > MAX_METRIC_NAME or not value.isprintable():
        raise InvalidEvent(
            f"group must be printable text of 1 to {MAX_METRIC_NAME} characters; got {_show(value)}"
        )
    return value


def _status(value: Any, *, required: bool) -> str:
    if value in (None, ""):
        if required:
            raise InvalidEvent(f"status events need a status: one of {', '.join(STATUSES)}")
        return ""
    canonical = _STATUS_BY_LOWER.get(value.lower()) if isinstance(value, str) else None
    if canonical is None:
        raise InvalidEvent(f"status must be one of {', '.join(STATUSES)}; got {_show(value)}")
    return canonical


def _text(obj: dict[str, Any], name: str, pattern: re.Pattern[str], what: str) -> str:
    value = obj.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidEvent(f"{name} must be a string; got {_show(value)}")
    if value and not pattern.match(value):
        raise InvalidEvent(f"{name} {_show(value)} is not {what}")
    return value


def _number(obj: dict[str, Any], name: str) -> float | None:
    value = obj.get(name)
    if value is None:
        return None
    if not _is_number(value) or not math.isfinite(value):
        raise InvalidEvent(f"{name} must be a finite number; got {_show(value)}")
    return float(value)


def time_problem(value: float, now: float | None = None) -> str | None:
    """Why `value` is no event time (seconds since the epoch), or None: it must lie between
    EARLIEST_TS and MAX_TS_AHEAD past `now` (this machine's clock when not given). The
    window only widens as time passes, so an event accepted once stays valid when read
    again from the log later."""
    latest = (time.time() if now is None else now) + MAX_TS_AHEAD
    if EARLIEST_TS <= value <= latest:
        return None
    return (
        f"must be seconds since the epoch between {_utc(EARLIEST_TS)} and a day from now "
        f"({_utc(latest)}); got {value:g}"
    )


def _check_time(name: str, value: float) -> None:
    problem = time_problem(value)
    if problem:
        raise InvalidEvent(f"{name} {problem}")


def _time(obj: dict[str, Any], name: str) -> float | None:
    value = _number(obj, name)
    if value is not None:
        _check_time(name, value)
    return value


def _utc(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show(value: Any) -> str:
    """A value quoted in an error: short, and escaped as HTTP reason phrases need it (else
    Tornado sends "Unknown" instead of a reason with `<` or a character past Latin-1)."""
    text = repr(value)
    return printable(text if len(text) <= 60 else text[:57] + "...")
