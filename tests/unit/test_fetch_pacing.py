"""FetchPacing: the live Kafka read's switch between eager and batched fetches."""

from __future__ import annotations

from types import SimpleNamespace

from kfp_viz_server.progress.kafka_source import BUSY_BATCH_MS, POLL_MS, FetchPacing

BATCHED = {"fetch_min_bytes": 2**20, "fetch_max_wait_ms": BUSY_BATCH_MS}
EAGER = {"fetch_min_bytes": 1, "fetch_max_wait_ms": POLL_MS}


def consumer() -> SimpleNamespace:
    """What FetchPacing touches of a KafkaConsumer made batched, as the live read makes it."""
    return SimpleNamespace(_fetcher=SimpleNamespace(config=dict(BATCHED, client_id="x")))


def settings(c: SimpleNamespace) -> dict:
    return {key: c._fetcher.config[key] for key in EAGER}


def test_a_quiet_topic_is_fetched_eagerly():
    c = consumer()
    pacing = FetchPacing(c)
    assert settings(c) == EAGER and not pacing.busy and pacing.poll_ms == POLL_MS
    pacing.update(True, now=10.0)
    pacing.update(True, now=10.0 + 2 * BUSY_BATCH_MS / 1000)  # records further apart
    assert settings(c) == EAGER
    assert c._fetcher.config["client_id"] == "x", "other settings are left alone"


def test_records_coming_back_quickly_turn_batching_on_until_a_poll_finds_nothing():
    c = consumer()
    pacing = FetchPacing(c)
    pacing.update(True, now=10.0)
    pacing.update(True, now=10.0 + BUSY_BATCH_MS / 2000)
    assert settings(c) == BATCHED and pacing.busy and pacing.poll_ms == 2 * BUSY_BATCH_MS
    pacing.update(True, now=11.0)  # held fetches come back at the batch period: still busy
    assert settings(c) == BATCHED
    pacing.update(False, now=11.1)
    assert settings(c) == EAGER and pacing.poll_ms == POLL_MS


def test_without_kafka_pythons_fetcher_config_every_fetch_stays_batched():
    c = SimpleNamespace()  # a kafka-python that moved its fetcher's settings
    pacing = FetchPacing(c)
    for now in (1.0, 1.001, 1.002):
        pacing.update(True, now=now)
    pacing.update(False, now=2.0)
    assert pacing.busy and pacing.poll_ms == POLL_MS
