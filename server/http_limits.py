"""HTTP/1 protections Tornado leaves to the application: 431, readable 413s, page policies.

- Stored pages carry `Content-Security-Policy: sandbox allow-scripts` (PAGE_POLICY): their
  scripts run in an opaque origin, as inside KFP's `<iframe sandbox="allow-scripts">`, never
  as this server's origin. A stored page is whatever a render produced.
- The pages the server writes itself (the progress pages: live page, comparison, run list)
  carry `own_page_policy(nonce)`: only their own inline scripts run (each response's nonce),
  they may connect to their own origin only, load nothing else, and be framed only by it.
  They keep the server's origin, so behind Kubeflow's gateway their requests carry the
  user's session and reach the server as that user (a sandboxed page's would carry none).
  Whatever text events hold is drawn as text (never as markup), and even markup that got in
  could run no script.

- Headers: Tornado closes a connection whose header block passes its limit without a
  word. Here Tornado reads up to HEADER_READ_LIMIT, and a request whose header block
  is over MAX_HEADER_SIZE gets `431 Request headers too large: N bytes, the limit is M`
  before anything else sees it. Past HEADER_READ_LIMIT the connection is still closed
  unanswered: reading more to answer would let one client hold that much memory.
- Refusing a body early (413): most clients, Python's urllib and Go's `http.PostForm`
  (KFP's API server) among them, send the whole body before reading the answer. Closing
  at once while it is in flight makes their kernel reset the connection, and they report
  "connection reset" or "broken pipe" instead of the 413. So the answer is written
  (with `Connection: close`) and the rest of the body is read and dropped — a lingering
  close — until the client stops sending for LINGER_IDLE seconds, has sent LINGER_BYTES
  more, or LINGER_LIMIT seconds have passed; then the connection is closed.
"""

from __future__ import annotations

import secrets
from typing import Any, cast

import tornado.ioloop
import tornado.web
from tornado import escape, httputil
from tornado.http1connection import HTTP1Connection

PAGE_POLICY = "sandbox allow-scripts"


def page_nonce() -> str:
    """A fresh nonce for one response of a page of our own (`own_page_policy`)."""
    return secrets.token_urlsafe(18)


def own_page_policy(nonce: str) -> str:
    """The Content-Security-Policy of a page the server writes itself, for this nonce."""
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
        "img-src data: blob:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'self'"
    )


MAX_HEADER_SIZE = 64 * 1024
HEADER_READ_LIMIT = 1024 * 1024
LINGER_IDLE = 2.0
LINGER_LIMIT = 60.0
LINGER_BYTES = 1024 * 2**20


class HeaderLimit(httputil.HTTPServerConnectionDelegate):
    """Wraps the application: requests whose headers are too large get 431 instead."""

    def __init__(self, application: httputil.HTTPServerConnectionDelegate) -> None:
        self._application = application

    def start_request(
        self, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> httputil.HTTPMessageDelegate:
        inner = self._application.start_request(server_conn, request_conn)
        return _CheckedRequest(inner, request_conn)

    def on_close(self, server_conn: object) -> None:
        self._application.on_close(server_conn)


class _CheckedRequest(httputil.HTTPMessageDelegate):
    def __init__(self, inner: httputil.HTTPMessageDelegate, conn: httputil.HTTPConnection) -> None:
        self._inner = inner
        self._conn = conn
        self._refused = False

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Any:
        request_line = cast(httputil.RequestStartLine, start_line)  # a server gets requests
        size = sum(len(part) + 1 for part in request_line) + sum(
            len(name) + len(value) + 4 for name, value in headers.get_all()
        )
        if size <= MAX_HEADER_SIZE:
            return self._inner.headers_received(start_line, headers)
        self._refused = True
        reason = f"Request headers too large: {size} bytes, the limit is {MAX_HEADER_SIZE} bytes"
        body = error_page(431, reason)
        self._conn.write_headers(
            httputil.ResponseStartLine("HTTP/1.1", 431, reason),
            httputil.HTTPHeaders(
                {
                    "Content-Type": "text/html; charset=UTF-8",
                    "Content-Length": str(len(body)),
                    "Connection": "close",
                }
            ),
            body,
        )
        self._conn.finish()
        return None

    def data_received(self, chunk: bytes) -> Any:
        if not self._refused:
            return self._inner.data_received(chunk)
        return None

    def finish(self) -> None:
        if not self._refused:
            self._inner.finish()

    def on_connection_close(self) -> None:
        if not self._refused:
            self._inner.on_connection_close()


def error_page(status: int, reason: str) -> bytes:
    """Tornado's standard error page, as the stock server sends it."""
    message = escape.xhtml_escape(reason)
    return (
        f"<html><title>{status}: {message}</title><body>{status}: {message}</body></html>"
    ).encode()


class LingeringRefusal(tornado.web.RequestHandler):
    """A streamed-body handler that can refuse its body early and still be heard."""

    _refused_at: float | None = None
    _dropped = 0
    _linger_timer: object | None = None

    @property
    def refused(self) -> bool:
        return self._refused_at is not None

    def refuse_body(self, status: int, reason: str) -> None:
        """Answer now with the error page; read and drop the rest of the body (see above)."""
        if self.refused or self._finished:
            return
        loop = tornado.ioloop.IOLoop.current()
        self._refused_at = loop.time()
        self.clear()
        self.set_status(status, reason=reason)
        body = error_page(status, self._reason)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Content-Length", str(len(body)))
        self.set_header("Connection", "close")
        self.write(body)
        self.flush()  # on the wire; the request stays open so the body keeps being read
        self._arm_linger()

    def drop(self, chunk: bytes) -> None:
        """A piece of a refused body: dropped; the connection closes once the client is done."""
        self._dropped += len(chunk)
        loop = tornado.ioloop.IOLoop.current()
        assert self._refused_at is not None
        if self._dropped > LINGER_BYTES or loop.time() - self._refused_at > LINGER_LIMIT:
            self.end_lingering()
        else:
            self._arm_linger()

    def end_lingering(self) -> None:
        """Finish the refused request and close the connection."""
        if self._linger_timer is not None:
            tornado.ioloop.IOLoop.current().remove_timeout(self._linger_timer)
            self._linger_timer = None
        if not self._finished:
            self.finish()
        # Typed as the abstract HTTPConnection; Tornado's HTTP/1 server gives an HTTP1Connection.
        cast(HTTP1Connection, self.request.connection).close()

    def _arm_linger(self) -> None:
        loop = tornado.ioloop.IOLoop.current()
        if self._linger_timer is not None:
            loop.remove_timeout(self._linger_timer)
        self._linger_timer = loop.call_later(LINGER_IDLE, self.end_lingering)

    def on_connection_close(self) -> None:
        if self._linger_timer is not None:
            tornado.ioloop.IOLoop.current().remove_timeout(self._linger_timer)
            self._linger_timer = None
        super().on_connection_close()
