from google.protobuf import wrappers_pb2 as _wrappers_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubKey(_message.Message):
    __slots__ = ("class_id", "k", "top_k")
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    class_id: _wrappers_pb2.Int32Value
    k: _wrappers_pb2.Int32Value
    top_k: _wrappers_pb2.Int32Value
    def __init__(self, class_id: _Optional[_Union[_wrappers_pb2.Int32Value, _Mapping]] = ..., k: _Optional[_Union[_wrappers_pb2.Int32Value, _Mapping]] = ..., top_k: _Optional[_Union[_wrappers_pb2.Int32Value, _Mapping]] = ...) -> None: ...

class MetricKey(_message.Message):
    __slots__ = ("name", "model_name", "output_name", "sub_key")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_NAME_FIELD_NUMBER: _ClassVar[int]
    SUB_KEY_FIELD_NUMBER: _ClassVar[int]
    name: str
    model_name: str
    output_name: str
    sub_key: SubKey
    def __init__(self, name: _Optional[str] = ..., model_name: _Optional[str] = ..., output_name: _Optional[str] = ..., sub_key: _Optional[_Union[SubKey, _Mapping]] = ...) -> None: ...

class UnknownType(_message.Message):
    __slots__ = ("error", "value")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    error: str
    value: bytes
    def __init__(self, error: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...

class BoundedValue(_message.Message):
    __slots__ = ("lower_bound", "upper_bound", "value")
    LOWER_BOUND_FIELD_NUMBER: _ClassVar[int]
    UPPER_BOUND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    lower_bound: _wrappers_pb2.DoubleValue
    upper_bound: _wrappers_pb2.DoubleValue
    value: _wrappers_pb2.DoubleValue
    def __init__(self, lower_bound: _Optional[_Union[_wrappers_pb2.DoubleValue, _Mapping]] = ..., upper_bound: _Optional[_Union[_wrappers_pb2.DoubleValue, _Mapping]] = ..., value: _Optional[_Union[_wrappers_pb2.DoubleValue, _Mapping]] = ...) -> None: ...

class TDistributionValue(_message.Message):
    __slots__ = ("sample_mean", "sample_standard_deviation", "sample_degrees_of_freedom", "unsampled_value")
    SAMPLE_MEAN_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_STANDARD_DEVIATION_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_DEGREES_OF_FREEDOM_FIELD_NUMBER: _ClassVar[int]
    UNSAMPLED_VALUE_FIELD_NUMBER: _ClassVar[int]
    sample_mean: _wrappers_pb2.DoubleValue
    sample_standard_deviation: _wrappers_pb2.DoubleValue
    sample_degrees_of_freedom: _wrappers_pb2.Int64Value
    unsampled_value: _wrappers_pb2.DoubleValue
    def __init__(self, sample_mean: _Optional[_Union[_wrappers_pb2.DoubleValue, _Mapping]] = ..., sample_standard_deviation: _Optional[_Union[_wrappers_pb2.DoubleValue, _Mapping]] = ..., sample_degrees_of_freedom: _Optional[_Union[_wrappers_pb2.Int64Value, _Mapping]] = ..., unsampled_value: _Optional[_Union[_wrappers_pb2.DoubleValue, _Mapping]] = ...) -> None: ...

class ValueAtCutoffs(_message.Message):
    __slots__ = ("values",)
    class ValueCutoffPair(_message.Message):
        __slots__ = ("cutoff", "value", "bounded_value")
        CUTOFF_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        BOUNDED_VALUE_FIELD_NUMBER: _ClassVar[int]
        cutoff: int
        value: float
        bounded_value: BoundedValue
        def __init__(self, cutoff: _Optional[int] = ..., value: _Optional[float] = ..., bounded_value: _Optional[_Union[BoundedValue, _Mapping]] = ...) -> None: ...
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[ValueAtCutoffs.ValueCutoffPair]
    def __init__(self, values: _Optional[_Iterable[_Union[ValueAtCutoffs.ValueCutoffPair, _Mapping]]] = ...) -> None: ...

class ConfusionMatrixAtThresholds(_message.Message):
    __slots__ = ("matrices",)
    class ConfusionMatrixAtThreshold(_message.Message):
        __slots__ = ("threshold", "false_negatives", "true_negatives", "false_positives", "true_positives", "precision", "recall")
        THRESHOLD_FIELD_NUMBER: _ClassVar[int]
        FALSE_NEGATIVES_FIELD_NUMBER: _ClassVar[int]
        TRUE_NEGATIVES_FIELD_NUMBER: _ClassVar[int]
        FALSE_POSITIVES_FIELD_NUMBER: _ClassVar[int]
        TRUE_POSITIVES_FIELD_NUMBER: _ClassVar[int]
        PRECISION_FIELD_NUMBER: _ClassVar[int]
        RECALL_FIELD_NUMBER: _ClassVar[int]
        threshold: float
        false_negatives: float
        true_negatives: float
        false_positives: float
        true_positives: float
        precision: float
        recall: float
        def __init__(self, threshold: _Optional[float] = ..., false_negatives: _Optional[float] = ..., true_negatives: _Optional[float] = ..., false_positives: _Optional[float] = ..., true_positives: _Optional[float] = ..., precision: _Optional[float] = ..., recall: _Optional[float] = ...) -> None: ...
    MATRICES_FIELD_NUMBER: _ClassVar[int]
    matrices: _containers.RepeatedCompositeFieldContainer[ConfusionMatrixAtThresholds.ConfusionMatrixAtThreshold]
    def __init__(self, matrices: _Optional[_Iterable[_Union[ConfusionMatrixAtThresholds.ConfusionMatrixAtThreshold, _Mapping]]] = ...) -> None: ...

class ArrayValue(_message.Message):
    __slots__ = ("data_type", "shape", "bytes_values", "int32_values", "int64_values", "float32_values", "float64_values")
    class DataType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[ArrayValue.DataType]
        BYTES: _ClassVar[ArrayValue.DataType]
        INT32: _ClassVar[ArrayValue.DataType]
        INT64: _ClassVar[ArrayValue.DataType]
        FLOAT32: _ClassVar[ArrayValue.DataType]
        FLOAT64: _ClassVar[ArrayValue.DataType]
    UNKNOWN: ArrayValue.DataType
    BYTES: ArrayValue.DataType
    INT32: ArrayValue.DataType
    INT64: ArrayValue.DataType
    FLOAT32: ArrayValue.DataType
    FLOAT64: ArrayValue.DataType
    DATA_TYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    BYTES_VALUES_FIELD_NUMBER: _ClassVar[int]
    INT32_VALUES_FIELD_NUMBER: _ClassVar[int]
    INT64_VALUES_FIELD_NUMBER: _ClassVar[int]
    FLOAT32_VALUES_FIELD_NUMBER: _ClassVar[int]
    FLOAT64_VALUES_FIELD_NUMBER: _ClassVar[int]
    data_type: ArrayValue.DataType
    shape: _containers.RepeatedScalarFieldContainer[int]
    bytes_values: _containers.RepeatedScalarFieldContainer[bytes]
    int32_values: _containers.RepeatedScalarFieldContainer[int]
    int64_values: _containers.RepeatedScalarFieldContainer[int]
    float32_values: _containers.RepeatedScalarFieldContainer[float]
    float64_values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, data_type: _Optional[_Union[ArrayValue.DataType, str]] = ..., shape: _Optional[_Iterable[int]] = ..., bytes_values: _Optional[_Iterable[bytes]] = ..., int32_values: _Optional[_Iterable[int]] = ..., int64_values: _Optional[_Iterable[int]] = ..., float32_values: _Optional[_Iterable[float]] = ..., float64_values: _Optional[_Iterable[float]] = ...) -> None: ...

class MetricValue(_message.Message):
    __slots__ = ("double_value", "bounded_value", "t_distribution_value", "value_at_cutoffs", "confusion_matrix_at_thresholds", "unknown_type", "bytes_value", "array_value", "debug_message")
    DOUBLE_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOUNDED_VALUE_FIELD_NUMBER: _ClassVar[int]
    T_DISTRIBUTION_VALUE_FIELD_NUMBER: _ClassVar[int]
    VALUE_AT_CUTOFFS_FIELD_NUMBER: _ClassVar[int]
    CONFUSION_MATRIX_AT_THRESHOLDS_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_TYPE_FIELD_NUMBER: _ClassVar[int]
    BYTES_VALUE_FIELD_NUMBER: _ClassVar[int]
    ARRAY_VALUE_FIELD_NUMBER: _ClassVar[int]
    DEBUG_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    double_value: _wrappers_pb2.DoubleValue
    bounded_value: BoundedValue
    t_distribution_value: TDistributionValue
    value_at_cutoffs: ValueAtCutoffs
    confusion_matrix_at_thresholds: ConfusionMatrixAtThresholds
    unknown_type: UnknownType
    bytes_value: bytes
    array_value: ArrayValue
    debug_message: str
    def __init__(self, double_value: _Optional[_Union[_wrappers_pb2.DoubleValue, _Mapping]] = ..., bounded_value: _Optional[_Union[BoundedValue, _Mapping]] = ..., t_distribution_value: _Optional[_Union[TDistributionValue, _Mapping]] = ..., value_at_cutoffs: _Optional[_Union[ValueAtCutoffs, _Mapping]] = ..., confusion_matrix_at_thresholds: _Optional[_Union[ConfusionMatrixAtThresholds, _Mapping]] = ..., unknown_type: _Optional[_Union[UnknownType, _Mapping]] = ..., bytes_value: _Optional[bytes] = ..., array_value: _Optional[_Union[ArrayValue, _Mapping]] = ..., debug_message: _Optional[str] = ...) -> None: ...

class SingleSliceKey(_message.Message):
    __slots__ = ("column", "bytes_value", "float_value", "int64_value")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    BYTES_VALUE_FIELD_NUMBER: _ClassVar[int]
    FLOAT_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT64_VALUE_FIELD_NUMBER: _ClassVar[int]
    column: str
    bytes_value: bytes
    float_value: float
    int64_value: int
    def __init__(self, column: _Optional[str] = ..., bytes_value: _Optional[bytes] = ..., float_value: _Optional[float] = ..., int64_value: _Optional[int] = ...) -> None: ...

class SliceKey(_message.Message):
    __slots__ = ("single_slice_keys",)
    SINGLE_SLICE_KEYS_FIELD_NUMBER: _ClassVar[int]
    single_slice_keys: _containers.RepeatedCompositeFieldContainer[SingleSliceKey]
    def __init__(self, single_slice_keys: _Optional[_Iterable[_Union[SingleSliceKey, _Mapping]]] = ...) -> None: ...

class MetricsForSlice(_message.Message):
    __slots__ = ("slice_key", "metric_keys_and_values", "metrics")
    class MetricKeyAndValue(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: MetricKey
        value: MetricValue
        def __init__(self, key: _Optional[_Union[MetricKey, _Mapping]] = ..., value: _Optional[_Union[MetricValue, _Mapping]] = ...) -> None: ...
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: MetricValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[MetricValue, _Mapping]] = ...) -> None: ...
    SLICE_KEY_FIELD_NUMBER: _ClassVar[int]
    METRIC_KEYS_AND_VALUES_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    slice_key: SliceKey
    metric_keys_and_values: _containers.RepeatedCompositeFieldContainer[MetricsForSlice.MetricKeyAndValue]
    metrics: _containers.MessageMap[str, MetricValue]
    def __init__(self, slice_key: _Optional[_Union[SliceKey, _Mapping]] = ..., metric_keys_and_values: _Optional[_Iterable[_Union[MetricsForSlice.MetricKeyAndValue, _Mapping]]] = ..., metrics: _Optional[_Mapping[str, MetricValue]] = ...) -> None: ...
