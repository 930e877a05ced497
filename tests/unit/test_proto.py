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


def test_generated_code_matches_proto_sources(tmp_path):
    spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "scripts" / "gen_proto.py")
    gen_proto = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_proto)
    gen_proto.generate(tmp_path)
    for generated in sorted(tmp_path.glob("*_pb2.py")):
        committed = ROOT / "sdk" / "kfp_viz" / "pb" / generated.name
        assert committed.exists(), f"{generated.name} is not committed; run scripts/gen_proto.py"
        assert _descriptor(generated) == _descriptor(committed), (
            f"sdk/kfp_viz/pb/{generated.name} is stale; run scripts/gen_proto.py"
        )


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
