"""Hostile input: data stays data, code needs permission, oversized bodies are cut off early."""

from __future__ import annotations

import html
import json
import re
import socket
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import grpc
import pytest
import requests
from kfp_viz.pb import kfpviz_progress_pb2 as pb
from kfp_viz.pb import kfpviz_progress_pb2_grpc as pb_grpc
from kfp_viz.pb.visualization_pb2 import Visualization
from support import custom_code

HOSTILE = [
    'x"); import os; os._exit(1); ("',
    '"""; import os; os._exit(1); """',
    "'''\nimport os\nos._exit(1)\n'''",
    "\\\"\\'\\\\n\\x00\n\r\t",
    "{source}{variables}%s%(x)s",
    "</pre><script>alert(1)</script>",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_source_reaches_the_kernel_as_data(custom_server, source):
    reply = custom_server.post(type="test", source=source, arguments="{}")
    assert reply.status_code == 200
    shown = re.search(r'<pre id="source">(.*?)</pre>', reply.text, re.S)[1]
    # Tornado replaces control characters in form fields with spaces and strips the ends,
    # exactly as the stock server receives them.
    expected = re.sub(r"[\x00-\x08\x0e-\x1f]", " ", source).strip()
    assert html.unescape(shown) == expected
    assert "<script>alert" not in reply.text


def test_crafted_source_runs_nothing_with_custom_code_off(start_server):
    server = start_server("--pool-size", "1")
    pids = server.ready()["kernels"]["pids"]
    for source in HOSTILE[:3]:
        assert server.post(type="test", source=source).status_code == 200
    state = server.ready()
    assert state["restarts"] == {} and state["kernels"]["pids"] == pids  # no os._exit ran


def test_arguments_reach_the_kernel_as_data(custom_server):
    arguments = {k: k for k in HOSTILE} | {"nested": {"list": HOSTILE, "n": 1.5}}
    reply = custom_server.post(type="test", source="s", arguments=json.dumps(arguments))
    shown = re.search(r'<pre id="variables">(.*?)</pre>', reply.text, re.S)[1]
    assert json.loads(html.unescape(shown)) == arguments


def test_custom_code_is_refused_when_switched_off(start_server):
    server = start_server("--pool-size", "1")
    reply = server.post(type="custom", arguments=custom_code("import os", "os._exit(1)"))
    assert reply.status_code == 403
    assert "ALLOW_CUSTOM_VISUALIZATIONS=true" in reply.reason
    lam = server.post(type="roc_curve", source="s", arguments='{"target_lambda": "lambda x: 1"}')
    assert lam.status_code == 403 and "target_lambda" in lam.reason
    assert server.ready()["restarts"] == {}


def test_body_over_the_limit_by_content_length(start_server):
    server = start_server("--pool-size", "1", "--max-body-size", "1Mi")
    form = {"type": "test", "source": "x" * (2 * 2**20)}
    reply = server.post(**form)
    assert reply.status_code == 413
    size = len(urlencode(form))
    assert reply.reason == (
        f"Request body too large: {size} bytes, the limit is 1048576 bytes (--max-body-size)"
    )
    assert server.post(type="test", source="small").status_code == 200


def raw_post_head(server, framing: bytes, body_start: bytes = b"") -> socket.socket:
    """A socket that has sent a form POST's head (and maybe the body's start), nothing more."""
    sock = socket.create_connection(("127.0.0.1", server.http_port), timeout=10)
    sock.sendall(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        + framing
        + b"\r\n\r\n"
        + body_start
    )
    return sock


def test_413_comes_before_the_body_is_read(start_server):
    server = start_server("--pool-size", "1", "--max-body-size", "1Mi")
    with raw_post_head(server, b"Content-Length: 10000000000", b"type=test&source=") as sock:
        started = time.monotonic()
        head = sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 413 Request body too large: 10000000000 bytes")
        assert time.monotonic() - started < 5


def test_chunked_body_over_the_limit(start_server):
    server = start_server("--pool-size", "1", "--max-body-size", "64Ki")
    with raw_post_head(server, b"Transfer-Encoding: chunked") as sock:
        chunk = b"a" * 16384
        reply = b""
        try:
            for _ in range(64):  # up to 1 MiB, far past the limit
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(5)
        try:
            while data := sock.recv(4096):
                reply += data
        except ConnectionResetError:
            pass
        assert reply.startswith(b"HTTP/1.1 413 Request body too large")
    assert server.post(type="test", source="small").status_code == 200


# -- every malformed input a 4xx with a reason (issue 11); servers run as KFP runs them --------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """One unprivileged server (uid 1000, as in KFP's pod) for malformed requests."""
    from support import RunningServer

    log = tmp_path_factory.mktemp("hostile") / "server.log"
    server = RunningServer(
        ["--pool-size", "1", "--allow-custom-visualizations"], {}, log, unprivileged=True
    )
    server.wait_ready()
    yield server
    assert server.stop() == 0, server.log()


BAD_ARGUMENTS = [
    ("[" * 100_000, "nested deeper than 100 levels"),
    ('{"a":' * 50_000, "nested deeper than 100 levels"),
    ('{"a": ' + "[" * 150 + "]" * 150 + "}", "nested deeper than 100 levels"),
    ('{"a":"\\ud800"}', "lone surrogate \\ud800"),
    ('{"\\udfff": 1}', "lone surrogate \\udfff"),
]


@pytest.mark.parametrize(
    "arguments,why", BAD_ARGUMENTS, ids=["list", "object", "150", "ud800", "key"]
)
def test_json_arguments_of_any_depth_or_encoding_get_a_400(hostile, arguments, why):
    reply = hostile.post(type="test", source="s", arguments=arguments)
    assert reply.status_code == 400
    assert reply.reason.startswith("Invalid JSON provided as arguments: ") and why in reply.reason
    with pytest.raises(grpc.RpcError) as refused:
        hostile.create_visualization(Visualization.TABLE, source="s", arguments=arguments)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details() == reply.reason


def test_a_progress_post_nested_too_deeply_gets_a_400(hostile):
    reply = hostile.post_progress("run-deep", "[" * 100_000, raw=True)
    assert reply.status_code == 400 and "nested too deeply" in reply.reason


def multipart(parts: bytes, boundary: str = "b") -> dict:
    return {"data": parts, "headers": {"Content-Type": f"multipart/form-data; boundary={boundary}"}}


MALFORMED_FORMS = [
    (
        "20000 fields",
        {"data": "&".join(f"f{i}=1" for i in range(20_000)),
         "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        "Max number of fields exceeded",
    ),
    (
        "500 parts",
        multipart(b"".join(b"--b\r\nContent-Disposition: form-data; name=f%d\r\n\r\nv\r\n" % i
                           for i in range(500)) + b"--b--\r\n"),
        "too many parts",
    ),
    ("no boundary", {"data": b"x", "headers": {"Content-Type": "multipart/form-data"}},
     "boundary not found"),
    ("no disposition", multipart(b"--b\r\nfoo: bar\r\n\r\nv\r\n--b--\r\n"),
     "Invalid multipart/form-data"),
    ("unterminated", multipart(b"--b\r\nContent-Disposition: form-data; name=type\r\n\r\ntest"),
     "no final boundary"),
    ("not utf-8", {"data": b"type=test&source=%FF%FE",
                   "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
     "Form field source is not UTF-8 text"),
]  # fmt: skip


@pytest.mark.parametrize(
    "form,why", [c[1:] for c in MALFORMED_FORMS], ids=[c[0] for c in MALFORMED_FORMS]
)
def test_malformed_forms_get_a_400_saying_what_is_wrong(hostile, form, why):
    reply = requests.post(hostile.url + "/", timeout=30, **form)
    assert reply.status_code == 400, reply.reason
    assert why in reply.reason, reply.reason
    assert hostile.post(type="test", source="still fine").status_code == 200


def test_oversized_headers_get_a_431(hostile):
    reply = requests.get(hostile.url + "/", headers={"X-Big": "a" * 100_000}, timeout=30)
    assert reply.status_code == 431
    assert reply.reason.startswith("Request headers too large: ") and "65536" in reply.reason
    assert requests.get(hostile.url + "/", timeout=5).text == "alive"


def test_an_event_that_could_not_be_delivered_is_refused_and_watchers_go_on(hostile):
    run = "run-surrogate"
    bad = json.dumps({"kind": "log", "node_id": "a", "message": "\ud800"})
    reply = hostile.post_progress(run, bad, raw=True)
    assert reply.status_code == 400 and "lone surrogate \\ud800" in reply.reason
    good = {"kind": "status", "status": "Succeeded", "node_id": ""}
    assert hostile.post_progress(run, good).status_code == 200
    stub = pb_grpc.ProgressStub(hostile.channel)
    replies = list(
        stub.WatchProgress(pb.WatchProgressRequest(run_id=run, from_beginning=True), timeout=30)
    )
    events = [e for r in replies for e in r.events]
    assert [e.event.status for e in events] == ["Succeeded"]


@pytest.mark.parametrize(
    "path,body",
    [
        ("/progress/run1", {"run_id": "év<il>", "kind": "log", "node_id": "a", "message": "x"}),
        ("/progress/run1", {"kind": "log", "node_id": "év<il>", "message": "x"}),
        ("/progress/run1/events?resume_after=<é>", None),
        ("/progress/run1/events?namespace=é<x>", None),
    ],
    ids=["run_id", "node_id", "resume_after", "namespace"],
)
def test_reasons_are_readable_whatever_a_request_echoes(hostile, path, body):
    if body is None:
        reply = requests.get(hostile.url + path, timeout=30)
    else:
        reply = requests.post(hostile.url + path, data=json.dumps(body), timeout=30)
    assert reply.status_code == 400
    assert reply.reason != "Unknown" and reply.reason.isascii()
    assert "\\xe9" in reply.reason or "\\x3c" in reply.reason, reply.reason


def test_a_client_that_sends_a_large_body_anyway_reads_the_413(start_server):
    """Python's urllib and Go's http.PostForm (KFP's API server) send the whole body before
    reading: they must get the 413, not a connection reset."""
    server = start_server("--pool-size", "1", unprivileged=True)
    body = urlencode({"type": "test", "source": "x" * (64 * 2**20)}).encode()
    request = urllib.request.Request(server.url + "/", data=body, method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 413
    assert refused.value.reason.startswith("Request body too large: ")
    assert server.post(type="test", source="small").status_code == 200
