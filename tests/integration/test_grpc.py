"""KFP's gRPC API through a real gRPC client: same validation as HTTP, mapped to status codes."""

from __future__ import annotations

import concurrent.futures
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kfp_viz.pb.visualization_pb2 import Visualization
from support import custom_code, reflect, wait_until

CUSTOM, TABLE, ROC_CURVE, TFMA = (
    Visualization.CUSTOM,
    Visualization.TABLE,
    Visualization.ROC_CURVE,
    Visualization.TFMA,
)


def rpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def test_custom_visualization_round_trip(custom_server):
    arguments = custom_code("print('hello from grpc')")
    reply = custom_server.create_visualization(CUSTOM, arguments=arguments)
    assert reply.type == CUSTOM and reply.arguments == arguments and reply.source == ""
    assert reply.html.startswith("<!DOCTYPE html>") and "hello from grpc" in reply.html
    assert reply.error == ""


def test_code_errors_fill_the_error_field_and_the_page(custom_server):
    reply = custom_server.create_visualization(CUSTOM, arguments=custom_code("1/0"))
    assert reply.error == "ZeroDivisionError: division by zero"
    assert "ZeroDivisionError" in reply.html


@pytest.mark.parametrize(
    ("viz_type", "source", "arguments", "message"),
    [
        (TABLE, "gs://x", "{a", "Invalid JSON provided as arguments: "
         "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (TABLE, "gs://x", "[]", "Invalid JSON provided as arguments!"),
        (TABLE, "", "{}", "No source provided."),
        (ROC_CURVE, "", "", "No source provided."),
        (7, "gs://x", "{}", "Unknown visualization type: 7"),
        (CUSTOM, "", '{"code": "print(1)"}',
         'Custom visualizations need arguments "code": a list of lines of Python'),
    ],
)  # fmt: skip
def test_invalid_arguments_match_http(custom_server, viz_type, source, arguments, message):
    error = rpc_error(lambda: custom_server.create_visualization(viz_type, source, arguments))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == message


def test_same_message_over_http(custom_server):
    reply = custom_server.post(type="table", source="gs://x", arguments="[]")
    grpc_error = rpc_error(lambda: custom_server.create_visualization(TABLE, "gs://x", "[]"))
    assert reply.reason == grpc_error.details()


def test_stock_types_answer_a_bad_source_with_the_error_field(custom_server):
    reply = custom_server.create_visualization(TFMA, "gs://x", "{}")
    assert reply.error.startswith("SourceError: ") and "gcsfs" in reply.error


def test_deadline_is_the_render_timeout(custom_server):
    started = time.monotonic()
    error = rpc_error(
        lambda: custom_server.create_visualization(
            CUSTOM, arguments=custom_code("import time", "time.sleep(30)"), timeout=1.5
        )
    )
    assert error.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 10
    # The server stopped the render too: its kernels come back, nothing waits 30 s.
    wait_until(lambda: custom_server.ready()["kernels"]["idle"] == 2, what="kernels back")


def test_message_over_the_size_limit(start_server):
    server = start_server("--pool-size", "1", "--max-body-size", "64Ki")
    error = rpc_error(lambda: server.create_visualization(TABLE, "x" * 100_000, "{}"))
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_custom_switched_off(start_server):
    server = start_server("--pool-size", "1")
    error = rpc_error(lambda: server.create_visualization(CUSTOM, arguments=custom_code("1")))
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "ALLOW_CUSTOM_VISUALIZATIONS=true" in error.details()


def test_health_checking(custom_server):
    stub = health_pb2_grpc.HealthStub(custom_server.channel)
    for service in ("", "api.VisualizationService"):
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_and_describes_the_service(custom_server):
    names, files = reflect(custom_server.channel, "api.VisualizationService")
    assert {"api.VisualizationService", "grpc.health.v1.Health"} <= names
    assert files


def test_overloaded_server_says_when_to_retry(start_server):
    server = start_server("--pool-size", "1", "--max-queue", "0", "--allow-custom-visualizations")
    with concurrent.futures.ThreadPoolExecutor(1) as clients:
        busy = clients.submit(
            server.post, type="custom", arguments=custom_code("import time", "time.sleep(2)")
        )
        wait_until(lambda: server.ready()["kernels"]["busy"] == 1, what="a busy kernel")
        error = rpc_error(lambda: server.create_visualization(CUSTOM, arguments=custom_code("1")))
        assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert error.details().startswith("Server busy")
        assert int(dict(error.trailing_metadata())["retry-after"]) >= 1
        assert busy.result().status_code == 200
