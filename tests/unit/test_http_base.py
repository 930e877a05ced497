"""The Tornado handler base (server/http_base.py): one failure reply, one body limit.

A real Tornado server on loopback with the smallest handlers built on it; the server's own
handlers (KFP's form, progress publishing) are driven end to end in tests/integration.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import tornado.httpclient
import tornado.httpserver
import tornado.testing
import tornado.web
from kfp_viz_server.errors import ErrorKind, RequestFailed
from kfp_viz_server.http_base import EdgeHandler, StreamedBodyHandler

BUSY = RequestFailed(ErrorKind.OVERLOADED, "busy <now>, ça va", retry_after=4)


@tornado.web.stream_request_body
class Echo(StreamedBodyHandler):
    body_limit = 10

    def post(self) -> None:
        if self.refused:
            self.end_lingering()
            return
        self.write(self.take_body())


class Refuse(EdgeHandler):
    def get(self) -> None:
        self.fail(BUSY)


class RefuseJson(Refuse):
    json_errors = True


def call(method: str, path: str, body: bytes | None = None) -> tornado.httpclient.HTTPResponse:
    async def run() -> tornado.httpclient.HTTPResponse:
        app = tornado.web.Application([("/echo", Echo), ("/html", Refuse), ("/json", RefuseJson)])
        sock, port = tornado.testing.bind_unused_port()
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets([sock])
        client = tornado.httpclient.AsyncHTTPClient()
        try:
            return await client.fetch(
                f"http://127.0.0.1:{port}{path}", method=method, body=body, raise_error=False
            )
        finally:
            server.stop()
            await server.close_all_connections()

    return asyncio.run(run())


def test_a_failure_is_the_stock_error_page_with_its_reason_and_retry_after():
    reply = call("GET", "/html")
    reason = "busy \\x3cnow\\x3e, \\xe7a va"
    assert (reply.code, reply.reason) == (503, reason)
    assert reply.headers["Retry-After"] == "4"
    assert reply.headers["Content-Type"] == "text/html; charset=UTF-8"
    page = f"<html><title>503: {reason}</title><body>503: {reason}</body></html>"
    assert reply.body.decode() == page


def test_a_json_endpoints_failure_carries_the_whole_message_in_its_body():
    reply = call("GET", "/json")
    assert (reply.code, reply.headers["Retry-After"]) == (503, "4")
    assert reply.headers["Content-Type"] == "application/json"
    assert json.loads(reply.body) == {"error": "busy <now>, ça va"}


def test_a_body_within_the_limit_is_handed_over_whole():
    reply = call("POST", "/echo", b"0123456789")
    assert (reply.code, reply.body) == (200, b"0123456789")


@pytest.mark.parametrize("size", [11, 100_000])
def test_a_body_over_the_limit_is_refused_with_its_size(size):
    reply = call("POST", "/echo", b"x" * size)
    assert reply.code == 413
    assert reply.reason == f"Request body too large: {size} bytes, the limit is 10 bytes"
