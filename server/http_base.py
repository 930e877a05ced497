"""What every HTTP handler of ours shares: failures replied one way, bodies taken within a limit.

- `EdgeHandler.fail(failure)` answers a `RequestFailed`: its kind's status, its message as
  the reason phrase (all a KFP UI user sees), `Retry-After` when it carries a retry hint,
  and Tornado's standard error page as the body, as the stock server sends it. Handlers of
  JSON endpoints (live progress) set `json_errors`: the body is `{"error": <the message in
  full>}` instead, for scripts to read.
- `StreamedBodyHandler` takes a streamed body (`tornado.web.stream_request_body`): counted
  as it arrives, refused with 413 once it is announced or found larger than `body_limit`
  (answered at once, the rest read and dropped: server/http_limits.py says why), handed
  over once by `take_body()`.
"""

from __future__ import annotations

import json
from typing import Any

import tornado.web

from .errors import ErrorKind, RequestFailed
from .http_limits import LingeringRefusal

HandlerRule = tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]
"""A Tornado URL rule: path pattern, handler class, the arguments of its initialize()."""


class EdgeHandler(tornado.web.RequestHandler):
    """A handler whose failures are `RequestFailed`s, replied as the class says."""

    json_errors = False

    def fail(self, failure: RequestFailed) -> None:
        if self.json_errors:
            self.set_status(failure.kind.http_status, reason=failure.message)
            self._retry_after(failure.retry_after)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"error": failure.detail}))
            return
        self.send_error(
            failure.kind.http_status, reason=failure.message, retry_after=failure.retry_after
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self._retry_after(kwargs.get("retry_after"))
        super().write_error(status_code, **kwargs)

    def _retry_after(self, seconds: int | None) -> None:
        if seconds:
            self.set_header("Retry-After", str(seconds))


class StreamedBodyHandler(EdgeHandler, LingeringRefusal):
    """A handler that streams its body in, up to `body_limit` bytes (set by `initialize`)."""

    body_limit = 0
    _body: bytearray

    def prepare(self) -> None:
        self._body = bytearray()
        declared = self.request.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self.body_limit:
            self._refuse_too_large(int(declared))

    def data_received(self, chunk: bytes) -> None:
        if self.refused:
            self.drop(chunk)
            return
        self._body += chunk
        if len(self._body) > self.body_limit:
            self._refuse_too_large(len(self._body))

    def too_large(self, size: int) -> RequestFailed:
        """The refusal of a body of `size` bytes; handlers may name their setting in it."""
        return RequestFailed(
            ErrorKind.TOO_LARGE,
            f"Request body too large: {size} bytes, the limit is {self.body_limit} bytes",
        )

    def take_body(self) -> bytes:
        """The body as received; the buffer is let go as soon as it is copied."""
        body = bytes(self._body)
        self._body = bytearray()
        return body

    def _refuse_too_large(self, size: int) -> None:
        self._body = bytearray()
        failure = self.too_large(size)
        self.refuse_body(failure.kind.http_status, failure.message)
