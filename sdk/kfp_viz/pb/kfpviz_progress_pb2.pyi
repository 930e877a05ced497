from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Cursor(_message.Message):
    __slots__ = ("partition", "offset")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    partition: int
    offset: int
    def __init__(self, partition: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class ProgressEvent(_message.Message):
    __slots__ = ("v", "run_id", "node_id", "namespace", "ts", "kind", "current", "total", "fraction", "metrics", "message", "status", "group", "started", "finished", "parents", "argo_node_id", "argo_nodes")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    V_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    ARGO_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ARGO_NODES_FIELD_NUMBER: _ClassVar[int]
    v: int
    run_id: str
    node_id: str
    namespace: str
    ts: float
    kind: str
    current: float
    total: float
    fraction: float
    metrics: _containers.ScalarMap[str, float]
    message: str
    status: str
    group: str
    started: float
    finished: float
    parents: _containers.RepeatedScalarFieldContainer[str]
    argo_node_id: str
    argo_nodes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, v: _Optional[int] = ..., run_id: _Optional[str] = ..., node_id: _Optional[str] = ..., namespace: _Optional[str] = ..., ts: _Optional[float] = ..., kind: _Optional[str] = ..., current: _Optional[float] = ..., total: _Optional[float] = ..., fraction: _Optional[float] = ..., metrics: _Optional[_Mapping[str, float]] = ..., message: _Optional[str] = ..., status: _Optional[str] = ..., group: _Optional[str] = ..., started: _Optional[float] = ..., finished: _Optional[float] = ..., parents: _Optional[_Iterable[str]] = ..., argo_node_id: _Optional[str] = ..., argo_nodes: _Optional[_Iterable[str]] = ...) -> None: ...

class WatchProgressRequest(_message.Message):
    __slots__ = ("run_id", "node_id", "from_beginning", "resume_after", "namespace")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_BEGINNING_FIELD_NUMBER: _ClassVar[int]
    RESUME_AFTER_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    node_id: str
    from_beginning: bool
    resume_after: Cursor
    namespace: str
    def __init__(self, run_id: _Optional[str] = ..., node_id: _Optional[str] = ..., from_beginning: _Optional[bool] = ..., resume_after: _Optional[_Union[Cursor, _Mapping]] = ..., namespace: _Optional[str] = ...) -> None: ...

class StreamedEvent(_message.Message):
    __slots__ = ("event", "cursor")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    event: ProgressEvent
    cursor: Cursor
    def __init__(self, event: _Optional[_Union[ProgressEvent, _Mapping]] = ..., cursor: _Optional[_Union[Cursor, _Mapping]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("upstream_reachable", "upstream", "detail", "server_time")
    UPSTREAM_REACHABLE_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    upstream_reachable: bool
    upstream: str
    detail: str
    server_time: float
    def __init__(self, upstream_reachable: _Optional[bool] = ..., upstream: _Optional[str] = ..., detail: _Optional[str] = ..., server_time: _Optional[float] = ...) -> None: ...

class Lagged(_message.Message):
    __slots__ = ("resume_from", "queue_size")
    RESUME_FROM_FIELD_NUMBER: _ClassVar[int]
    QUEUE_SIZE_FIELD_NUMBER: _ClassVar[int]
    resume_from: Cursor
    queue_size: int
    def __init__(self, resume_from: _Optional[_Union[Cursor, _Mapping]] = ..., queue_size: _Optional[int] = ...) -> None: ...

class CaughtUp(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: int
    def __init__(self, events: _Optional[int] = ...) -> None: ...

class WatchProgressResponse(_message.Message):
    __slots__ = ("events", "heartbeat", "lagged", "caught_up")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    LAGGED_FIELD_NUMBER: _ClassVar[int]
    CAUGHT_UP_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[StreamedEvent]
    heartbeat: Heartbeat
    lagged: Lagged
    caught_up: CaughtUp
    def __init__(self, events: _Optional[_Iterable[_Union[StreamedEvent, _Mapping]]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., lagged: _Optional[_Union[Lagged, _Mapping]] = ..., caught_up: _Optional[_Union[CaughtUp, _Mapping]] = ...) -> None: ...

class PublishProgressRequest(_message.Message):
    __slots__ = ("events", "sender", "sequence", "attempt")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[ProgressEvent]
    sender: str
    sequence: int
    attempt: int
    def __init__(self, events: _Optional[_Iterable[_Union[ProgressEvent, _Mapping]]] = ..., sender: _Optional[str] = ..., sequence: _Optional[int] = ..., attempt: _Optional[int] = ...) -> None: ...

class PublishProgressResponse(_message.Message):
    __slots__ = ("cursors", "already_applied")
    CURSORS_FIELD_NUMBER: _ClassVar[int]
    ALREADY_APPLIED_FIELD_NUMBER: _ClassVar[int]
    cursors: _containers.RepeatedCompositeFieldContainer[Cursor]
    already_applied: int
    def __init__(self, cursors: _Optional[_Iterable[_Union[Cursor, _Mapping]]] = ..., already_applied: _Optional[int] = ...) -> None: ...
