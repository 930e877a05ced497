"""What every protocol handler shares, written once: addresses and base URLs, protobuf's
varint, the gRPC helpers, and the escaping of a request's own text."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from kfp_viz.pb import kfpviz_pages_pb2, visualization_pb2
from kfp_viz.safe_text import printable
from kfp_viz_server.addresses import base_url, host_port, own_base_url, split_host_port
from kfp_viz_server.errors import ErrorKind, RequestFailed, reason_phrase
from kfp_viz_server.grpc_support import abort, service_name, type_name
from kfp_viz_server.wire import field_size, length_delimited, varint, varint_size


@pytest.mark.parametrize(
    ("host", "port", "text"),
    [("localhost", 80, "localhost:80"), ("::1", 8887, "[::1]:8887"), ("10.0.0.1", 0, "10.0.0.1:0")],
)
def test_host_port_round_trips(host, port, text):
    assert host_port(host, port) == text
    assert split_host_port(text) == (host, port)


def test_split_host_port_defaults_the_host_and_refuses_a_missing_port():
    assert split_host_port(":9092") == ("localhost", 9092)
    with pytest.raises(ValueError):
        split_host_port("broker")


def test_base_url_prefers_the_public_url():
    assert base_url("", "https", "viz.example:8888") == "https://viz.example:8888"
    assert base_url("https://viz.example/ui", "http", "ignored") == "https://viz.example/ui"
    assert own_base_url("https://p.example", 8888) == "https://p.example"
    assert own_base_url("", 8123).startswith("http://") and own_base_url("", 8123).endswith(":8123")


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16_383, 16_384, 2**21, 2**35, 2**63 - 1])
def test_varint_is_protobufs(value):
    message = kfpviz_pages_pb2.PageChunk(offset=value)  # field 2, varint
    expected = b"\x10" + varint(value) if value else b""  # proto3 omits a zero
    assert message.SerializeToString() == expected
    assert varint_size(value) == len(varint(value))


@pytest.mark.parametrize("length", [0, 1, 127, 128, 70_000])
def test_field_size_matches_protobufs_own_count(length):
    message = visualization_pb2.Visualization(html="x" * length)
    assert field_size(length) == message.ByteSize()
    if length:
        assert length_delimited(b"\x22", b"x" * length) == message.SerializeToString()


def test_type_names_follow_the_form_and_unknown_numbers_stay_numbers():
    assert type_name(visualization_pb2.Visualization.ROC_CURVE) == "roc_curve"
    assert type_name(visualization_pb2.Visualization.CUSTOM) == "custom"
    assert type_name(42) == "42"
    assert service_name(visualization_pb2, "VisualizationService") == "api.VisualizationService"
    assert service_name(kfpviz_pages_pb2, "Visualizations") == "kfpviz.v1.Visualizations"


class Context:
    """Records what a grpc.aio servicer context is told; `abort` raises, as grpc.aio's does."""

    def __init__(self) -> None:
        self.trailers: tuple = ()
        self.ended: tuple | None = None

    def set_trailing_metadata(self, trailers: tuple) -> None:
        self.trailers = trailers

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.ended = (code, details)
        raise grpc.aio.AbortError()


def test_abort_carries_the_kinds_code_the_message_and_retry_after():
    context = Context()
    failure = RequestFailed(ErrorKind.OVERLOADED, "busy <now>\n", retry_after=3)
    with pytest.raises(grpc.aio.AbortError):
        asyncio.run(abort(context, failure))  # type: ignore[arg-type]
    assert context.ended == (grpc.StatusCode.RESOURCE_EXHAUSTED, "busy \\x3cnow\\x3e ")
    assert context.trailers == (("retry-after", "3"),)
    plain = Context()
    with pytest.raises(grpc.aio.AbortError):
        asyncio.run(abort(plain, RequestFailed(ErrorKind.NOT_FOUND, "gone")))  # type: ignore[arg-type]
    assert plain.ended == (grpc.StatusCode.NOT_FOUND, "gone") and plain.trailers == ()


def test_one_escaping_for_reasons_and_echoed_text():
    assert reason_phrase("a\r\nb\tc é <x>") == "a  b c \\xe9 \\x3cx\\x3e"
    assert printable("a\nb") == "a\\x0ab"  # an echoed value keeps its line break visible
    assert printable("x" * 100) == "x" * 64 + "..."
    assert len(reason_phrase("y" * 1000)) == 400


def test_a_failure_keeps_its_text_whole_beside_the_reason():
    failure = RequestFailed(ErrorKind.INVALID, "bad é\nline")
    assert failure.message == "bad \\xe9 line"
    assert failure.detail == "bad é\nline"
