"""The progress settings: defaults, environment names, and refusals that name the setting."""

from __future__ import annotations

import pytest
from kfp_viz_server.config import ConfigError, load_config


def test_defaults_mean_the_in_process_bus():
    config = load_config([], environ={})
    assert config.kafka_bootstrap_servers == ""
    assert config.kafka_progress_topic == "kfp-progress"
    assert (config.namespace, config.progress_queue_size, config.progress_heartbeat) == (
        "",
        1000,
        5.0,
    )
    assert config.public_url == ""


def test_environment_names():
    config = load_config([], environ={
        "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "KAFKA_PROGRESS_TOPIC": "runs.progress",
        "PROGRESS_NAMESPACE": "team-a", "PUBLIC_URL": "https://viz.example.com/",
    })  # fmt: skip
    assert config.kafka_bootstrap_servers == "kafka:9092"
    assert config.kafka_progress_topic == "runs.progress"
    assert config.namespace == "team-a"
    assert config.public_url == "https://viz.example.com"


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--kafka-progress-topic", "bad topic"], "--kafka-progress-topic / KAFKA_PROGRESS_TOPIC"),
        (["--namespace", "Team_A"], "--namespace / PROGRESS_NAMESPACE"),
        (["--progress-queue-size", "0"], "--progress-queue-size / PROGRESS_QUEUE_SIZE"),
        (["--progress-heartbeat", "-1"], "--progress-heartbeat / PROGRESS_HEARTBEAT_INTERVAL"),
        (["--public-url", "javascript:alert(1)"], "--public-url"),
    ],
)
def test_bad_values_name_the_setting(flags, named):
    with pytest.raises(ConfigError) as caught:
        load_config(flags, environ={})
    assert named in str(caught.value)
