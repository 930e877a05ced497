"""The part of a Reporter that moves bytes: one small interface, one implementation per way.

A `Reporter` (kfp_viz.progress) owns what every way of sending shares: the schema, the
bounded buffer, the order of events, the warnings, flush and close. A transport only
connects, starts sending one serialized event, and closes. Kafka is the one there is
(`kfp_viz.kafka_transport`); another (e.g. HTTP to the server) is a class with these
three methods, passed as `Reporter(transport=...)`.
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
