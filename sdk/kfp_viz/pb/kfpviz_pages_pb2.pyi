import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from . import visualization_pb2 as _visualization_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateVisualizationRequest(_message.Message):
    __slots__ = ("visualization", "namespace", "type_name")
    VISUALIZATION_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    visualization: _visualization_pb2.Visualization
    namespace: str
    type_name: str
    def __init__(self, visualization: _Optional[_Union[_visualization_pb2.Visualization, _Mapping]] = ..., namespace: _Optional[str] = ..., type_name: _Optional[str] = ...) -> None: ...

class CreateVisualizationResponse(_message.Message):
    __slots__ = ("html", "reference", "error")
    HTML_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    html: str
    reference: PageReference
    error: str
    def __init__(self, html: _Optional[str] = ..., reference: _Optional[_Union[PageReference, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class PageReference(_message.Message):
    __slots__ = ("id", "uri", "size", "sha256", "content_type", "presigned_url", "presigned_url_expires", "http_url", "namespace")
    ID_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PRESIGNED_URL_FIELD_NUMBER: _ClassVar[int]
    PRESIGNED_URL_EXPIRES_FIELD_NUMBER: _ClassVar[int]
    HTTP_URL_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    id: str
    uri: str
    size: int
    sha256: str
    content_type: str
    presigned_url: str
    presigned_url_expires: _timestamp_pb2.Timestamp
    http_url: str
    namespace: str
    def __init__(self, id: _Optional[str] = ..., uri: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ..., content_type: _Optional[str] = ..., presigned_url: _Optional[str] = ..., presigned_url_expires: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., http_url: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class FetchVisualizationRequest(_message.Message):
    __slots__ = ("id", "namespace")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    id: str
    namespace: str
    def __init__(self, id: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class PageChunk(_message.Message):
    __slots__ = ("reference", "offset", "data")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    reference: PageReference
    offset: int
    data: bytes
    def __init__(self, reference: _Optional[_Union[PageReference, _Mapping]] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...
