"""Progress events to Kafka, as the server's hub reads them: keyed by run id, in order.

kafka-python is imported on `connect()`, the first time a Reporter has something to send, so
`import kfp_viz.progress` works without it (it comes with the SDK's `kafka` extra).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .transport import Done


class KafkaTransport:
    """One kafka-python producer, tuned to outlast a broker that is away for minutes."""

    def __init__(
        self,
        bootstrap_servers: Sequence[str],
        topic: str,
        producer_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap_servers = list(bootstrap_servers)
        self.topic = topic
        self.target = f"Kafka at {','.join(self.bootstrap_servers)}"
        self._config = dict(producer_config or {})
        self._producer: Any = None

    def connect(self) -> None:
        from kafka import KafkaProducer

        self._producer = KafkaProducer(
            **{
                "bootstrap_servers": self.bootstrap_servers,
                "client_id": "kfp-viz-progress",
                "acks": 1,
                "linger_ms": 5,
                "max_in_flight_requests_per_connection": 1,  # keep a step's events in order
                "retries": 2**31 - 1,
                "delivery_timeout_ms": 600_000,  # keep trying for ten minutes while Kafka is away
                "request_timeout_ms": 10_000,
                "max_block_ms": 2_000,
                "reconnect_backoff_max_ms": 2_000,
                **self._config,
            }
        )

    def send(self, key: bytes, value: bytes, done: Done) -> None:
        future = self._producer.send(self.topic, key=key, value=value)
        future.add_callback(lambda _: done(None))
        future.add_errback(done)

    def close(self, timeout: float) -> None:
        if self._producer is not None:
            self._producer.flush(timeout=timeout)
            self._producer.close(timeout=0)
