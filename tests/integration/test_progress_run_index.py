"""Old runs found fast: the run index (server/progress/run_index.py) on a real Kafka broker.

A partition holds many other runs' records before an old run's first one. The first server
indexes the topic once into a compacted topic; a replica started later reads that index
instead of the progress topic, and both serve the old run's whole history, in order.
"""

from __future__ import annotations

import json
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from progress_support import Watch, new_run, new_topic
from support import wait_until

pytestmark = pytest.mark.integration

OTHERS = 30_000


def fill(bootstrap: str, topic: str, old_run: str) -> int:
    """OTHERS records of 500 other runs, then the old run's 5 events, 1,000 more others,
    its 5 last; returns the offset of the old run's first record."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=2**18)

    def send(run_id: str, message: str) -> None:
        event = {"v": 1, "run_id": run_id, "node_id": "train", "kind": "log", "message": message}
        producer.send(topic, key=run_id.encode(), value=json.dumps(event).encode())

    for i in range(OTHERS):
        send(f"other-{i % 500:03d}", f"event {i}")
    for i in range(5):
        send(old_run, f"early {i}")
    for i in range(1000):
        send(f"other-{i % 500:03d}", "later")
    for i in range(5):
        send(old_run, f"late {i}")
    producer.flush(60)
    producer.close()
    return OTHERS


def index_of(server) -> dict:
    return server.ready()["progress"]["run_index"]


def index_topic_entries(bootstrap: str, topic: str) -> dict[str, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    end = consumer.end_offsets([tp])[tp]
    found = {}
    while consumer.position(tp) < end:
        for message in consumer.poll(timeout_ms=500).get(tp, ()):
            found[message.key.decode()] = int(message.value)
    consumer.close()
    return found


def test_an_old_runs_history_starts_at_its_first_record_on_every_replica(kafka, start_server):
    topic, old_run = new_topic(), new_run()
    first = fill(kafka.bootstrap, topic, old_run)
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "KAFKA_PROGRESS_TOPIC": topic}
    server = start_server("--pool-size", "1", env=env)
    end = OTHERS + 1010
    wait_until(lambda: index_of(server)["covered"].get("0", 0) >= end, timeout=120,
               what="the first server indexing the topic")  # fmt: skip
    watch = Watch(server.grpc_target, old_run, from_beginning=True)
    wait_until(lambda: "caught_up" in watch.kinds(), timeout=30, what="caught_up")
    expected = [f"early {i}" for i in range(5)] + [f"late {i}" for i in range(5)]
    assert watch.messages() == expected
    assert watch.cursors()[0] == (0, first)
    watch.cancel()

    # The index topic: compacted, one entry per run, the old run's at its first record.
    index_topic = f"{topic}.runs"
    wait_until(lambda: index_topic_entries(kafka.bootstrap, index_topic).get("0:", 0) >= end,
               timeout=30, what="the watermark")  # fmt: skip
    entries = index_topic_entries(kafka.bootstrap, index_topic)
    assert entries[f"0:{old_run}"] == first
    assert len([k for k in entries if not k.endswith(":")]) == 501
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, index_topic)])
    admin.close()
    assert described["topic"][index_topic]["cleanup.policy"]["value"] == "compact"

    # A replica started later reads the index, not the 31,000 records of the progress topic.
    replica = start_server("--pool-size", "1", env=env)
    wait_until(lambda: index_of(replica)["state"] == "indexing", timeout=60, what="loaded")
    assert index_of(replica)["loaded"] == 501
    time.sleep(1)
    assert index_of(replica)["indexed"] < 100
    again = Watch(replica.grpc_target, old_run, from_beginning=True)
    wait_until(lambda: "caught_up" in again.kinds(), timeout=30, what="caught_up")
    assert again.messages() == expected
    again.cancel()


def test_an_index_topic_that_is_not_compacted_is_not_used(kafka, start_server):
    """Its entries could expire before their runs: the server says so and reads from the start."""
    topic, old_run = new_topic(), new_run()
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    admin.create_topics(
        [NewTopic(f"{topic}.runs", 1, 1, topic_configs={"cleanup.policy": "delete"})]
    )
    admin.close()
    fill(kafka.bootstrap, topic, old_run)
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "KAFKA_PROGRESS_TOPIC": topic}
    server = start_server("--pool-size", "1", env=env)
    wait_until(lambda: index_of(server)["state"] == "off", timeout=30, what="the index off")
    assert "not compact" in index_of(server)["detail"]
    watch = Watch(server.grpc_target, old_run, from_beginning=True)
    wait_until(lambda: "caught_up" in watch.kinds(), timeout=60, what="caught_up")
    assert len(watch.messages()) == 10
    watch.cancel()
