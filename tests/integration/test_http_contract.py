"""The stock HTTP contract, byte for byte, against a real server with real kernels."""

from __future__ import annotations

import html
import http.client
import json
import re
import shutil
import subprocess
from urllib.parse import urlencode

import pytest
import requests
from support import RunningServer, custom_code


def raw_post(server: RunningServer, form: dict[str, str]) -> tuple[str, dict[str, str], bytes]:
    """POST with the standard library: the exact status line, headers and body bytes."""
    connection = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
    connection.request(
        "POST", "/", urlencode(form), {"Content-Type": "application/x-www-form-urlencoded"}
    )
    reply = connection.getresponse()
    status_line = f"{reply.status} {reply.reason}"
    headers = {k.lower(): v for k, v in reply.getheaders()}
    body = reply.read()
    connection.close()
    return status_line, headers, body


def stock_error_page(message: str) -> bytes:
    return f"<html><title>400: {message}</title><body>400: {message}</body></html>".encode()


def test_alive(custom_server):
    connection = http.client.HTTPConnection("127.0.0.1", custom_server.http_port, timeout=5)
    connection.request("GET", "/")
    reply = connection.getresponse()
    assert (reply.status, reply.read()) == (200, b"alive")


INVALID_JSON = (
    "Invalid JSON provided as arguments: "
    "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"source": "x", "arguments": "{a"}, "No type provided."),
        ({"type": "table", "source": "x", "arguments": "{a"}, INVALID_JSON),
        ({"type": "table", "arguments": "[1, 2]"}, "Invalid JSON provided as arguments!"),
        ({"type": "table", "arguments": "{}"}, "No source provided."),
        ({"type": "roc_curve", "source": "   "}, "No source provided."),
    ],
)
def test_stock_refusals_byte_for_byte(custom_server, form, message):
    status_line, headers, body = raw_post(custom_server, form)
    assert status_line == f"400 {message}"
    assert headers["content-type"] == "text/html; charset=UTF-8"
    assert body == stock_error_page(message)


def test_quotes_in_json_errors_are_escaped_like_tornado(custom_server):
    status_line, _, body = raw_post(custom_server, {"type": "test", "arguments": '{"a" 1}'})
    message = (
        "Invalid JSON provided as arguments: Expecting ':' delimiter: line 1 column 6 (char 5)"
    )
    assert status_line == f"400 {message}"
    assert body == stock_error_page(html.escape(message))


@pytest.mark.parametrize("name", ["../server", "/etc/passwd", "test.py", "types/test"])
def test_type_is_never_a_path(custom_server, name):
    status_line, _, body = raw_post(custom_server, {"type": name, "source": "x"})
    assert status_line == f"400 Unknown visualization type: {name}"
    assert b"Unknown visualization type" in body


def test_page_is_complete_offline_and_small(custom_server):
    reply = custom_server.post(type="test", source="gs://bucket/data.csv", arguments="{}")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "text/html; charset=UTF-8"
    page = reply.text
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert '<pre id="source">gs://bucket/data.csv</pre>' in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "page loads from net"
    assert len(reply.content) < 30 * 1024


def test_predefined_types_hide_what_they_print(custom_server):
    page = custom_server.post(type="test", source="s").text
    assert "the test type ran" not in page


def test_custom_shows_prints_and_rich_output(custom_server):
    arguments = custom_code(
        "print('to stdout')", "from IPython.display import HTML", "HTML('<b>rich</b>')"
    )
    page = custom_server.post(type="custom", arguments=arguments).text
    assert "to stdout" in page and "<b>rich</b>" in page


@pytest.mark.parametrize("arguments", ["{}", '{"code": []}'], ids=["missing", "empty"])
def test_custom_without_code_is_a_page_saying_so(start_server, arguments):
    """The stock server answers 200 (an empty page); so does this one, and says why."""
    server = start_server("--pool-size", "1", "--allow-custom-visualizations", unprivileged=True)
    reply = server.post(type="custom", arguments=arguments)
    assert reply.status_code == 200 and reply.text.startswith("<!DOCTYPE html>")
    assert "This custom visualization has no code" in reply.text
    assert server.ready()["restarts"] == {}  # no kernel was needed, none retired
    wrong = server.post(type="custom", arguments='{"code": "print(1)"}')
    assert wrong.status_code == 400 and "a list of lines" in wrong.reason


def test_code_errors_are_pages_not_http_errors(custom_server):
    reply = custom_server.post(
        type="custom", arguments=custom_code("raise ValueError('bad <input>')")
    )
    assert reply.status_code == 200
    assert "ValueError" in reply.text and "bad &lt;input&gt;" in reply.text


def test_multipart_forms_work_too(custom_server):
    files = {"type": (None, "test"), "source": (None, "multi"), "arguments": (None, "{}")}
    reply = requests.post(custom_server.url + "/", files=files, timeout=30)
    assert reply.status_code == 200 and '<pre id="source">multi</pre>' in reply.text


def test_stock_types_render_a_readable_error_for_a_missing_source(custom_server):
    reply = custom_server.post(type="tfma", source="/no/such/eval", arguments="{}")
    assert reply.status_code == 200
    assert "SourceNotFound" in reply.text and "/no/such/eval" in reply.text


def test_bad_timeout_header(custom_server):
    reply = custom_server.post(headers={"X-Visualization-Timeout": "soon"}, type="test", source="s")
    assert reply.status_code == 400
    assert reply.reason.startswith("Invalid X-Visualization-Timeout header")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_curl_example(custom_server):
    """The KFP form, posted with curl as the README shows, returns a page."""
    result = subprocess.run(
        ["curl", "-sS", "-f", "-X", "POST", custom_server.url + "/",
         "--data-urlencode", "type=test", "--data-urlencode", "source=gs://my-bucket/data.csv",
         "--data-urlencode", "arguments={}"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert "<!DOCTYPE html>" in result.stdout and "gs://my-bucket/data.csv" in result.stdout


def test_readyz_and_metrics(custom_server):
    custom_server.post(type="test", source="s")
    custom_server.post(type="nope", source="s")
    state = custom_server.ready()
    assert state["ready"] is True
    assert state["kernels"]["size"] == 2 and len(state["kernels"]["pids"]) == 2
    assert set(state["queue"]) == {"depth", "limit"}
    text = custom_server.metrics()
    assert re.search(r'kfp_viz_renders_total\{outcome="ok",type="test"\} [1-9]', text)
    assert re.search(r'kfp_viz_renders_total\{outcome="invalid",type="unknown"\} [1-9]', text)
    assert 'kfp_viz_render_seconds_bucket{le="0.05",type="test"}' in text
    assert "kfp_viz_queue_depth 0.0" in text
    assert 'kfp_viz_kernels{state="idle"}' in text
    assert json.loads(json.dumps(state))  # plain JSON
