"""Progress events to Kafka, as the server's hub reads them: keyed by run id, in order, once.

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

        self._producer = KafkaProducer(**producer_settings(self.bootstrap_servers, self._config))

    def send(self, key: bytes, value: bytes, done: Done) -> None:
        future = self._producer.send(self.topic, key=key, value=value)
        future.add_callback(lambda _: done(None))
        future.add_errback(done)

    def close(self, timeout: float) -> None:
        if self._producer is not None:
            self._producer.flush(timeout=timeout)
            self._producer.close(timeout=0)


def producer_settings(bootstrap_servers: Sequence[str], given: Mapping[str, Any]) -> dict[str, Any]:
    """The producer's settings: ours, then what the caller gave (`producer_config`).

    Idempotent (kafka-python 3.0 does it with acks=all): a record sent again after a lost
    acknowledgement, while Kafka is away for minutes, is written once. A caller who asks
    for other acks without naming idempotence gets those acks, without it, rather than
    kafka-python's refusal of the mix.
    """
    settings: dict[str, Any] = {
        "bootstrap_servers": list(bootstrap_servers),
        "client_id": "kfp-viz-progress",
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 5,
        "max_in_flight_requests_per_connection": 1,  # keep a step's events in order
        "retries": 2**31 - 1,
        "delivery_timeout_ms": 600_000,  # keep trying for ten minutes while Kafka is away
        "request_timeout_ms": 10_000,
        "max_block_ms": 2_000,
        "reconnect_backoff_max_ms": 2_000,
        **given,
    }
    if settings["acks"] not in ("all", -1) and "enable_idempotence" not in given:
        settings["enable_idempotence"] = False
    return settings
