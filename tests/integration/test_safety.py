"""Hostile input: data stays data, code needs permission, oversized bodies are cut off early."""

from __future__ import annotations

import html
import json
import re
import socket
import time
from urllib.parse import urlencode

import pytest
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
