"""The part of a Reporter that moves bytes: one small interface, one implementation per way.

A `Reporter` (kfp_viz.progress) owns what every way of sending shares: the schema, the
bounded buffer, the order of events, the warnings, flush and close. A transport only
connects, starts sending one serialized event, and closes. There are three: HTTP to the
server (`kfp_viz.http_transport`), Kafka (`kfp_viz.kafka_transport`), and `NullTransport`
below, for a step with nowhere to send; another is a class with these three methods, passed
as `Reporter(transport=...)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Done = Callable[[Exception | None], None]
"""Called once per sent event, from any thread: None when delivered, else why it was not."""


class Transport(Protocol):
    """Where a Reporter's events go. Its methods are called from the Reporter's one sending
    thread, never concurrently."""

    target: str
    """The destination as warnings name it, e.g. "Kafka at 10.0.0.5:9092"."""

    def connect(self) -> None:
        """Get ready to send; raise when the destination is out of reach (the Reporter
        warns once and tries again a second later)."""

    def send(self, key: bytes, value: bytes, done: Done) -> None:
        """Start delivering one event (`key` is its run id, `value` its JSON) without
        blocking for long, and call `done` when it is delivered or given up; may raise."""

    def close(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for what was started, then let go; may raise."""


NOTHING_SET = "neither KFP_VIZ_SERVER_URL nor KAFKA_BOOTSTRAP_SERVERS is set"


class NullTransport:
    """Nowhere to send: no server URL and no Kafka are configured. A Reporter with this one
    still checks every call (a wrong call raises the same as anywhere), then lets the event
    go, so a step run outside a cluster, or on a cluster without kfp-viz, works unchanged."""

    def __init__(self, why: str = NOTHING_SET) -> None:
        self.target = f"nowhere ({why})"

    def connect(self) -> None:
        """Nothing to reach."""

    def send(self, key: bytes, value: bytes, done: Done) -> None:
        """Let the event go; a Reporter does not hand it over in the first place."""
        done(None)

    def close(self, timeout: float) -> None:
        """Nothing to wait for."""
