"""Progress events to the server's HTTP port (`POST /progress/<run_id>`), standard library only.

For clusters without Kafka: the server takes a JSON array of events per request and checks them
with the same schema a Reporter already applied. One background thread posts what has arrived
since its last request as one batch, over one kept-alive connection, so a step's events reach the
server in the order they were made. While the server is away (refused, reset, timed out, a 5xx, a
429) the same batch is posted again with growing pauses (0.1 s doubling to 5 s) for up to
`delivery_timeout` seconds, as the Kafka producer keeps trying for ten minutes; what the server
refuses outright (another 4xx: a wrong URL, a body it will not take) is reported as not delivered
at once, since posting it again would fail again.

Each request carries the pod's ServiceAccount token (`kfp_viz.sa_token`: the file
`KF_PIPELINES_SA_TOKEN_PATH` names, else KFP's default path) as `Authorization: Bearer`, read
again when the kubelet rotates it; no file, no header. A 401 makes the transport read the file
again and, when the token changed, post the batch once more; a 401 that remains, or a 403,
fails the batch (`Unauthenticated`, `Forbidden`: with the server's reason and the token file
used), which the Reporter counts as not delivered and warns about once per kind. The next
batch is posted as usual, so a token mounted late or rights granted later take effect
without a restart.

The queue in here is small (`max_pending` events): when it is full, `send` waits, so what the
server cannot take stays in the Reporter's buffer, where overflow drops progress ticks before
statuses.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.parse
from collections import deque

from .sa_token import TokenFile
from .transport import Done

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
"""Answers that mean "not now" rather than "never": the batch is posted again."""

MAX_BATCH_EVENTS = 500
MAX_BATCH_BYTES = 1 << 20
"""A quarter of the server's 4 MiB body limit: one request never comes near it."""


class ServerRefused(Exception):
    """The server answered a batch with an error that posting it again would not change."""


class AuthRefused(ServerRefused):
    """The server refused the sender (with AUTH=kubeflow)."""


class Unauthenticated(AuthRefused):
    """401: no token, or one the server does not accept (expired, another audience)."""


class Forbidden(AuthRefused):
    """403: the token's namespace may not publish into this run."""


class HttpTransport:
    """Posts a Reporter's events to `<server_url>/progress/<run_id>` in batches, in order."""

    def __init__(
        self,
        server_url: str,
        *,
        request_timeout: float = 10.0,
        delivery_timeout: float = 600.0,
        max_pending: int = 1000,
        backoff: tuple[float, float] = (0.1, 5.0),
        token: TokenFile | None = None,
    ) -> None:
        """`token`: where the ServiceAccount token is (default: `KF_PIPELINES_SA_TOKEN_PATH`,
        else /var/run/secrets/kubeflow/pipelines/token)."""
        parts = urllib.parse.urlsplit(server_url if "://" in server_url else f"http://{server_url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"server URL {server_url!r} is not an http:// or https:// address "
                "(e.g. http://ml-pipeline-visualizationserver.kubeflow:8888)"
            )
        self._parts = parts
        self._prefix = parts.path.rstrip("/")
        self.target = f"the server at {parts.scheme}://{parts.netloc}{self._prefix}"
        self.request_timeout = request_timeout
        self.delivery_timeout = delivery_timeout
        self.backoff = backoff
        self.token = token or TokenFile()
        self._max_pending = max_pending
        self._pending: deque[tuple[bytes, bytes, Done]] = deque()
        self._busy = 0  # events taken by the poster and not yet reported
        self._lock = threading.Condition()
        self._stopping = False
        self._connection: http.client.HTTPConnection | None = None
        self._thread: threading.Thread | None = None

    # -- the Transport interface (called from the Reporter's sending thread) -------------

    def connect(self) -> None:
        """Start the posting thread; the server is reached, and retried, from there."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._post_loop, name="kfp-viz-http", daemon=True
            )
            self._thread.start()

    def send(self, key: bytes, value: bytes, done: Done) -> None:
        """Queue one event; waits while `max_pending` events are queued (the server is slow or
        away), which keeps the rest in the Reporter's buffer."""
        with self._lock:
            while len(self._pending) >= self._max_pending and not self._stopping:
                self._lock.wait(0.5)
            if self._stopping:
                raise RuntimeError(f"{self.target}: the transport is closed")
            self._pending.append((key, value, done))
            self._lock.notify_all()

    def close(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for what is queued to be delivered; what is left is
        reported as not delivered."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while (self._pending or self._busy) and time.monotonic() < deadline:
                self._lock.wait(min(0.05, max(0.0, deadline - time.monotonic())))
            self._stopping = True
            left = list(self._pending)
            self._pending.clear()
            self._lock.notify_all()
        for _, _, done in left:
            done(TimeoutError(f"{self.target}: not delivered before close"))
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()) + 0.1)

    # -- the posting thread ------------------------------------------------------------

    def _post_loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                break
            error = self._deliver(batch)
            for _, _, done in batch:
                done(error)
            with self._lock:
                self._busy = 0
                self._lock.notify_all()
        self._disconnect()

    def _next_batch(self) -> list[tuple[bytes, bytes, Done]] | None:
        """The oldest queued events of one run, up to a batch's size; None once stopping."""
        with self._lock:
            while not self._pending and not self._stopping:
                self._lock.wait()
            if self._stopping:
                return None
            batch = [self._pending.popleft()]
            size = len(batch[0][1])
            while self._pending and len(batch) < MAX_BATCH_EVENTS:
                key, value, _ = self._pending[0]
                if key != batch[0][0] or size + len(value) + 1 > MAX_BATCH_BYTES:
                    break
                batch.append(self._pending.popleft())
                size += len(value) + 1
            self._busy = len(batch)
            self._lock.notify_all()  # room for the sender
            return batch

    def _deliver(self, batch: list[tuple[bytes, bytes, Done]]) -> Exception | None:
        """Post `batch` until it is taken, refused, or `delivery_timeout` has passed."""
        run_id = batch[0][0].decode()
        body = b"[" + b",".join(value for _, value, _ in batch) + b"]"
        path = f"{self._prefix}/progress/{urllib.parse.quote(run_id, safe=':@')}"
        give_up = time.monotonic() + self.delivery_timeout
        pause = self.backoff[0]
        while True:
            try:
                self._post(path, body)
                return None
            except ServerRefused as refused:
                return refused
            except (OSError, http.client.HTTPException, RetryLater) as error:
                self._disconnect()
                if time.monotonic() + pause > give_up or self._stopping:
                    return TimeoutError(f"{self.target}: {error}")
            with self._lock:
                self._lock.wait(pause)  # close() wakes this early
            pause = min(pause * 2, self.backoff[1])

    def _post(self, path: str, body: bytes) -> None:
        status, reason = self._request(path, body)
        if status == 401 and self.token.reread():
            status, reason = self._request(path, body)  # the kubelet had rotated the token
        if status == 200:
            return
        message = f"HTTP {status} from {self.target}{path}: {reason}"
        if status in (401, 403):
            refused = Unauthenticated if status == 401 else Forbidden
            raise refused(f"{message} (sent {self.token.describe()})")
        if status in RETRY_STATUSES:
            raise RetryLater(message)
        raise ServerRefused(message)

    def _request(self, path: str, body: bytes) -> tuple[int, str]:
        """One POST with the current token; the status and the server's reason."""
        headers = {"Content-Type": "application/json"}
        authorization = self.token.header()
        if authorization:
            headers["Authorization"] = authorization
        connection = self._connection or self._open()
        connection.request("POST", path, body=body, headers=headers)
        reply = connection.getresponse()
        text = reply.read()
        return reply.status, "" if reply.status == 200 else (_error_text(text) or reply.reason)

    def _open(self) -> http.client.HTTPConnection:
        https = self._parts.scheme == "https"
        kind = http.client.HTTPSConnection if https else http.client.HTTPConnection
        self._connection = kind(
            self._parts.hostname or "", self._parts.port, timeout=self.request_timeout
        )
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class RetryLater(Exception):
    """The server answered "not now" (a 5xx, 429, 408): the batch is posted again."""


def _error_text(body: bytes) -> str:
    """The server's reason from its JSON error body (`{"error": ...}`), else the text."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body.decode("utf-8", "replace").strip()[:500]
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return str(data["error"])[:500]
    return ""
