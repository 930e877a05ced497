"""The TFMA messages a `tfma` render reads, defined here so no TensorFlow (or TFMA) is needed.

TensorFlow Model Analysis writes its evaluation's metrics as a TFRecord of
`tensorflow_model_analysis.MetricsForSlice`. TFMA itself cannot be installed
without TensorFlow, so this module declares the part of its
`metrics_for_slice.proto` that carries slicing metrics — the same package,
message names, field numbers and types (the wire facts) — into a private
descriptor pool. Fields left out (plots, confidence intervals, attributions)
are skipped by the parser as unknown fields.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

PACKAGE = "tensorflow_model_analysis"
_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "double": _F.TYPE_DOUBLE, "float": _F.TYPE_FLOAT, "int32": _F.TYPE_INT32,
    "int64": _F.TYPE_INT64, "string": _F.TYPE_STRING, "bytes": _F.TYPE_BYTES,
    "bool": _F.TYPE_BOOL,
}  # fmt: skip

# message -> [(field, number, type, repeated, oneof)]; a type not in _SCALARS is a message.
MESSAGES: dict[str, list[tuple[str, int, str, bool, str | None]]] = {
    "UnknownType": [("error", 1, "string", False, None), ("value", 2, "bytes", False, None)],
    "BoundedValue": [
        ("lower_bound", 1, ".google.protobuf.DoubleValue", False, None),
        ("upper_bound", 2, ".google.protobuf.DoubleValue", False, None),
        ("value", 3, ".google.protobuf.DoubleValue", False, None),
    ],
    "ValueAtCutoffs": [("values", 1, "ValueCutoffPair", True, None)],
    "ValueCutoffPair": [
        ("cutoff", 1, "int32", False, None),
        ("value", 2, "double", False, None),
        ("bounded_value", 3, "BoundedValue", False, None),
    ],
    "ConfusionMatrixAtThresholds": [("matrices", 1, "ConfusionMatrixAtThreshold", True, None)],
    "ConfusionMatrixAtThreshold": [
        ("threshold", 1, "double", False, None),
        ("false_negatives", 2, "double", False, None),
        ("true_negatives", 3, "double", False, None),
        ("false_positives", 4, "double", False, None),
        ("true_positives", 5, "double", False, None),
        ("precision", 6, "double", False, None),
        ("recall", 7, "double", False, None),
    ],
    "ArrayValue": [
        ("data_type", 1, "int32", False, None),  # an enum on the wire: varint, same encoding
        ("shape", 2, "int32", True, None),
        ("bytes_values", 3, "bytes", True, None),
        ("int32_values", 4, "int32", True, None),
        ("int64_values", 5, "int64", True, None),
        ("float32_values", 6, "float", True, None),
        ("float64_values", 7, "double", True, None),
    ],
    "MetricValue": [
        ("double_value", 1, ".google.protobuf.DoubleValue", False, "type"),
        ("bounded_value", 2, "BoundedValue", False, "type"),
        ("unknown_type", 3, "UnknownType", False, "type"),
        ("value_at_cutoffs", 4, "ValueAtCutoffs", False, "type"),
        ("confusion_matrix_at_thresholds", 5, "ConfusionMatrixAtThresholds", False, "type"),
        ("bytes_value", 6, "bytes", False, "type"),
        ("array_value", 7, "ArrayValue", False, "type"),
        ("t_distribution_value", 9, "TDistributionValue", False, "type"),
        ("debug_message", 10, "string", False, "type"),
    ],
    "TDistributionValue": [
        ("sample_mean", 1, ".google.protobuf.DoubleValue", False, None),
        ("sample_standard_deviation", 2, ".google.protobuf.DoubleValue", False, None),
        ("sample_degrees_of_freedom", 3, ".google.protobuf.Int64Value", False, None),
        ("unsampled_value", 4, ".google.protobuf.DoubleValue", False, None),
    ],
    "SingleSliceKey": [
        ("column", 1, "string", False, None),
        ("bytes_value", 2, "bytes", False, "kind"),
        ("float_value", 3, "float", False, "kind"),
        ("int64_value", 4, "int64", False, "kind"),
    ],
    "SliceKey": [("single_slice_keys", 1, "SingleSliceKey", True, None)],
    "SubKey": [
        ("class_id", 1, ".google.protobuf.Int32Value", False, "type"),
        ("k", 2, ".google.protobuf.Int32Value", False, "type"),
        ("top_k", 3, ".google.protobuf.Int32Value", False, "type"),
    ],
    "MetricKey": [
        ("name", 1, "string", False, None),
        ("output_name", 2, "string", False, None),
        ("sub_key", 3, "SubKey", False, None),
        ("model_name", 4, "string", False, None),
    ],
    "MetricKeyAndValue": [
        ("key", 1, "MetricKey", False, None),
        ("value", 2, "MetricValue", False, None),
    ],
    "MetricsForSlice": [
        ("slice_key", 1, "SliceKey", False, None),
        ("metrics", 2, "MetricsEntry", True, None),  # map<string, MetricValue>
        ("metric_keys_and_values", 51, "MetricKeyAndValue", True, None),
    ],
}
# Nested types that TFMA declares inside another message.
NESTED = {
    "ValueCutoffPair": "ValueAtCutoffs",
    "ConfusionMatrixAtThreshold": "ConfusionMatrixAtThresholds",
    "MetricKeyAndValue": "MetricsForSlice",
}


def _full_name(type_name: str) -> str:
    if type_name.startswith("."):
        return type_name
    if type_name in NESTED:
        return f".{PACKAGE}.{NESTED[type_name]}.{type_name}"
    if type_name == "MetricsEntry":
        return f".{PACKAGE}.MetricsForSlice.MetricsEntry"
    return f".{PACKAGE}.{type_name}"


def _message(name: str) -> descriptor_pb2.DescriptorProto:
    proto = descriptor_pb2.DescriptorProto(name=name)
    oneofs: list[str] = []
    for field_name, number, type_name, repeated, oneof in MESSAGES[name]:
        field = proto.field.add(name=field_name, number=number, json_name=_camel(field_name))
        field.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
        if type_name in _SCALARS:
            field.type = _SCALARS[type_name]
        else:
            field.type = _F.TYPE_MESSAGE
            field.type_name = _full_name(type_name)
        if oneof is not None:
            if oneof not in oneofs:
                oneofs.append(oneof)
                proto.oneof_decl.add(name=oneof)
            field.oneof_index = oneofs.index(oneof)
    for nested, outer in NESTED.items():
        if outer == name:
            proto.nested_type.append(_message(nested))
    if name == "MetricsForSlice":
        entry = proto.nested_type.add(name="MetricsEntry")
        entry.options.map_entry = True
        entry.field.add(name="key", number=1, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
        entry.field.add(
            name="value", number=2, type=_F.TYPE_MESSAGE, label=_F.LABEL_OPTIONAL,
            type_name=_full_name("MetricValue"),
        )  # fmt: skip
    return proto


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _build() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)
    file = descriptor_pb2.FileDescriptorProto(
        name="kfp_viz/tfma_metrics_for_slice.proto",
        package=PACKAGE,
        syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
    )
    for name in MESSAGES:
        if name not in NESTED:
            file.message_type.append(_message(name))
    pool.Add(file)
    return pool


POOL = _build()
MetricsForSlice = message_factory.GetMessageClass(
    POOL.FindMessageTypeByName(f"{PACKAGE}.MetricsForSlice")
)
