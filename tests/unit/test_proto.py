"""The gRPC wire contract: KFP's names and numbers, and generated code that matches proto/."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import grpc
from google.protobuf import descriptor_pb2
from kfp_viz.pb import visualization_pb2
from kfp_viz_server.errors import ErrorKind

ROOT = Path(__file__).resolve().parents[2]


def test_wire_identical_with_kfp():
    file = visualization_pb2.DESCRIPTOR
    assert file.package == "api"
    service = file.services_by_name["VisualizationService"]
    method = service.methods_by_name["CreateVisualizationV1"]
    assert method.full_name == "api.VisualizationService.CreateVisualizationV1"
    assert method.input_type.full_name == "api.CreateVisualizationRequest"
    assert method.output_type.full_name == "api.Visualization"
    numbers = lambda message: {f.name: (f.number, f.type) for f in message.fields}  # noqa: E731
    fd = descriptor_pb2.FieldDescriptorProto
    assert numbers(method.input_type) == {
        "visualization": (1, fd.TYPE_MESSAGE),
        "namespace": (2, fd.TYPE_STRING),
    }
    assert numbers(method.output_type) == {
        "type": (1, fd.TYPE_ENUM),
        "source": (2, fd.TYPE_STRING),
        "arguments": (3, fd.TYPE_STRING),
        "html": (4, fd.TYPE_STRING),
        "error": (5, fd.TYPE_STRING),
    }
    enum = visualization_pb2.Visualization.Type
    assert dict(enum.items()) == {"ROC_CURVE": 0, "TFDV": 1, "TFMA": 2, "TABLE": 3, "CUSTOM": 4}


def _gen_proto():
    spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "scripts" / "gen_proto.py")
    gen_proto = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_proto)
    return gen_proto


def test_generated_code_matches_proto_sources(tmp_path):
    _gen_proto().generate(tmp_path)
    for generated in sorted(tmp_path.glob("*_pb2.py")):
        committed = ROOT / "sdk" / "kfp_viz" / "pb" / generated.name
        assert committed.exists(), f"{generated.name} is not committed; run scripts/gen_proto.py"
        assert _descriptor(generated) == _descriptor(committed), (
            f"sdk/kfp_viz/pb/{generated.name} is stale; run scripts/gen_proto.py"
        )


def test_vendored_tfma_messages_match_their_trimmed_proto(tmp_path):
    written = _gen_proto().generate_vendored(tmp_path)
    assert [path.name for path in written] == ["tfma_metrics_pb2.py", "tfma_metrics_pb2.pyi"]
    committed = ROOT / "kernels" / "tfma_metrics_pb2.py"
    assert _descriptor(written[0]) == _descriptor(committed), (
        "kernels/tfma_metrics_pb2.py is stale; run scripts/gen_proto.py"
    )


def test_tfma_messages_keep_tfmas_names_and_numbers():
    """The wire facts of TFMA's metrics_for_slice.proto the `tfma` type reads."""
    from kfp_viz_kernels.tfma_metrics_pb2 import MetricsForSlice

    message = MetricsForSlice.DESCRIPTOR
    assert message.full_name == "tensorflow_model_analysis.MetricsForSlice"
    numbers = {f.name: f.number for f in message.fields}
    assert numbers == {"slice_key": 1, "metrics": 2, "metric_keys_and_values": 51}
    value = message.fields_by_name["metrics"].message_type.fields_by_name["value"].message_type
    assert {f.name: f.number for f in value.oneofs_by_name["type"].fields} == {
        "double_value": 1, "bounded_value": 2, "unknown_type": 3, "value_at_cutoffs": 4,
        "confusion_matrix_at_thresholds": 5, "bytes_value": 6, "array_value": 7,
        "t_distribution_value": 9, "debug_message": 10,
    }  # fmt: skip


def _descriptor(path: Path) -> bytes:
    """The serialized FileDescriptorProto embedded in a generated module."""
    text = path.read_text()
    start = text.index("AddSerializedFile(") + len("AddSerializedFile(")
    return eval(text[start : text.index(")\n", start)], {})  # a bytes literal protoc wrote


def test_every_error_kind_has_distinct_meaning():
    pairs = {(kind.http_status, kind.grpc_code) for kind in ErrorKind}
    assert len(pairs) == len(ErrorKind)
    assert ErrorKind.TIMEOUT.http_status == 504 and ErrorKind.KERNEL_DIED.http_status == 500
    assert grpc.StatusCode.DEADLINE_EXCEEDED is ErrorKind.TIMEOUT.grpc_code
