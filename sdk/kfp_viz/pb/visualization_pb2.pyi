from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateVisualizationRequest(_message.Message):
    __slots__ = ("visualization", "namespace")
    VISUALIZATION_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    visualization: Visualization
    namespace: str
    def __init__(self, visualization: _Optional[_Union[Visualization, _Mapping]] = ..., namespace: _Optional[str] = ...) -> None: ...

class Visualization(_message.Message):
    __slots__ = ("type", "source", "arguments", "html", "error")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ROC_CURVE: _ClassVar[Visualization.Type]
        TFDV: _ClassVar[Visualization.Type]
        TFMA: _ClassVar[Visualization.Type]
        TABLE: _ClassVar[Visualization.Type]
        CUSTOM: _ClassVar[Visualization.Type]
    ROC_CURVE: Visualization.Type
    TFDV: Visualization.Type
    TFMA: Visualization.Type
    TABLE: Visualization.Type
    CUSTOM: Visualization.Type
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    HTML_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    type: Visualization.Type
    source: str
    arguments: str
    html: str
    error: str
    def __init__(self, type: _Optional[_Union[Visualization.Type, str]] = ..., source: _Optional[str] = ..., arguments: _Optional[str] = ..., html: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...
