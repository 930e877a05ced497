"""The progress topic changing under a running server, against a real Kafka broker.

- Partitions added while the server runs (operators do): the server notices them and
  reads them from their first offset, and watchers follow a run whose records the
  producers' partitioner now sends to a new partition — no gap, no duplicate.
- The topic not existing yet when the server starts (fresh cluster): the server waits
  without spinning and without creating it, says so in /readyz and heartbeats, and
  serves once the topic appears (made by an operator, or auto-created by a first send).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewPartitions, NewTopic
from kafka.partitioner.default import murmur2
from kfp_viz.pb import kfpviz_progress_pb2 as pb
from kfp_viz.progress import Reporter
from progress_support import Watch, new_run, new_topic, progress_server
from services import KafkaBroker
from support import wait_until

pytestmark = pytest.mark.integration


def partition_of(run_id: str, partitions: int) -> int:
    """Kafka's default partitioner, as every producer applies it."""
    return (murmur2(run_id.encode()) & 0x7FFFFFFF) % partitions


def moving_run(before: int, after: int) -> str:
    """A run whose records go to an added partition once the topic has `after` partitions."""
    while True:
        run = new_run()
        if partition_of(run, after) >= before:
            return run


def log_event(run: str, message: str) -> bytes:
    return f'{{"v":1,"run_id":"{run}","node_id":"s","kind":"log","message":"{message}"}}'.encode()


def produce(bootstrap: str, topic: str, run: str, *messages: str) -> list[tuple[int, int]]:
    """Send with a new producer (fresh metadata, so the current partition count), keyed by run."""
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        sent = [producer.send(topic, key=run.encode(), value=log_event(run, m)) for m in messages]
        return [(f.get(30).partition, f.get(30).offset) for f in sent]
    finally:
        producer.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


def test_partitions_added_while_running_are_read_from_their_first_offset(kafka, start_server):
    topic = new_topic()
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        server = progress_server(start_server, kafka.bootstrap, topic)
        wait_until(lambda: server.ready()["progress"]["partitions"] == [0], timeout=20,
                   what="the server reading partition 0")  # fmt: skip
        run = moving_run(1, 3)
        home = partition_of(run, 3)
        produce(kafka.bootstrap, topic, "someone-else", "o1", "o2")  # partition 0 moves on
        before = produce(kafka.bootstrap, topic, run, "before-1", "before-2")
        assert {p for p, _ in before} == {0}
        history = Watch(server.grpc_target, run, from_beginning=True)
        wait_until(lambda: len(history.events) == 2, timeout=20, what="the events before")
        # Only now: history is read up to the live position, so the live read is past them.
        live = Watch(server.grpc_target, run, from_beginning=False)
        wait_until(lambda: "caught_up" in live.kinds(), timeout=20, what="the live watch")

        admin.create_partitions({topic: NewPartitions(total_count=3)})
        # Sent at once, before the server can have noticed the new partitions.
        after = produce(kafka.bootstrap, topic, run, "after-1", "after-2", "after-3")
        assert after == [(home, 0), (home, 1), (home, 2)], "not the new partition"
        expected_after = ["after-1", "after-2", "after-3"]
        wait_until(lambda: len(history.events) == 5, timeout=30, what="the new partition's events")
        wait_until(lambda: len(live.events) >= 3, timeout=10, what="them, live")
        assert server.ready()["progress"]["partitions"] == [0, 1, 2]

        late = Watch(server.grpc_target, run, from_beginning=True)  # begun after the change
        resumed = Watch(  # a client that had seen only the events on the old partition
            server.grpc_target, run,
            resume_after=pb.Cursor(partition=0, offset=before[-1][1]),
        )  # fmt: skip
        produce(kafka.bootstrap, topic, run, "after-4")
        wait_until(lambda: len(history.events) == 6, timeout=20, what="one more event")
        wait_until(lambda: len(late.events) == 4 and len(resumed.events) == 4, timeout=20,
                   what="the late and resumed watches")  # fmt: skip
        time.sleep(1.0)  # room for a duplicate to show up
        assert history.messages() == ["before-1", "before-2", *expected_after, "after-4"]
        assert live.messages() == [*expected_after, "after-4"]
        assert late.messages() == [*expected_after, "after-4"]
        assert resumed.messages() == [*expected_after, "after-4"]
        assert history.cursors()[2:] == [(home, 0), (home, 1), (home, 2), (home, 3)]
        for watch in (history, live, late, resumed):
            assert watch.error is None
            watch.cancel()
    finally:
        admin.close()


def test_a_topic_that_does_not_exist_yet_is_waited_for_then_served(kafka, start_server):
    topic, run = new_topic(), new_run()
    server = progress_server(start_server, kafka.bootstrap, topic)
    missing = f"topic {topic} does not exist yet"
    wait_until(lambda: server.ready()["progress"]["detail"] == missing, timeout=20,
               what="/readyz saying the topic is missing")  # fmt: skip
    state = server.ready()
    assert state["ready"] is True, "renders work without the topic: the server stays ready"
    assert state["progress"]["partitions"] == []
    watch = Watch(server.grpc_target, run, from_beginning=True)
    wait_until(lambda: len(watch.heartbeats) >= 2, timeout=10, what="heartbeats")
    assert watch.heartbeats[-1].detail == missing
    assert "caught_up" not in watch.kinds(), "no history can be known without the topic"

    spent = cpu_seconds(server.process.pid)
    time.sleep(5.0)
    spent = cpu_seconds(server.process.pid) - spent
    assert spent < 1.5, f"the waiting server used {spent:.2f} s of CPU in 5 s: it spins"
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    try:
        assert topic not in admin.list_topics(), "the server created the topic itself"
    finally:
        admin.close()
    assert server.log().count(f"topic {topic} does not exist yet") == 1, "warned more than once"
    started = time.monotonic()
    snapshot = server.post(type="progress", source=run, arguments="{}")
    assert snapshot.status_code == 200 and time.monotonic() - started < 10
    assert f"history incomplete: Kafka {kafka.bootstrap} topic {topic}" in snapshot.text
    assert missing in snapshot.text

    # A step's first send creates it (the broker auto-creates topics here).
    reporter = Reporter(run, "train", bootstrap_servers=kafka.bootstrap, topic=topic, namespace="")
    reporter.log("first")
    reporter.log("second")
    assert reporter.flush(30), "the SDK did not deliver"
    wait_until(lambda: len(watch.events) == 2, timeout=30, what="the events of the new topic")
    reporter.status("Succeeded", run_level=True)
    reporter.close()
    assert watch.ended.wait(20) and watch.error is None
    assert watch.messages() == ["first", "second", ""]
    assert "caught_up" in watch.kinds()
    status = server.ready()["progress"]
    assert status["detail"] == "" and status["reachable"] is True
    assert status["partitions"] == [0, 1, 2]


def test_waiting_for_the_topic_through_a_broker_outage(tmp_path, start_server):
    broker = KafkaBroker(tmp_path / "kafka")
    broker.start()
    try:
        topic, run = new_topic(), new_run()
        server = progress_server(start_server, broker.bootstrap, topic)
        missing = f"topic {topic} does not exist yet"
        wait_until(lambda: server.ready()["progress"]["detail"] == missing, timeout=20,
                   what="/readyz saying the topic is missing")  # fmt: skip
        watch = Watch(server.grpc_target, run, from_beginning=True)
        broker.stop()
        wait_until(lambda: server.ready()["progress"]["reachable"] is False, timeout=20,
                   what="/readyz saying Kafka is down")  # fmt: skip
        wait_until(lambda: any(not h.upstream_reachable for h in watch.heartbeats), timeout=10,
                   what="a heartbeat saying Kafka is down")  # fmt: skip
        assert broker.bootstrap in server.ready()["progress"]["detail"]
        broker.start()
        wait_until(lambda: server.ready()["progress"]["detail"] == missing, timeout=60,
                   what="the server waiting for the topic again")  # fmt: skip
        reporter = Reporter(run, "s", bootstrap_servers=broker.bootstrap, topic=topic, namespace="")
        reporter.log("made it")
        assert reporter.flush(30)
        reporter.close()
        wait_until(lambda: watch.messages() == ["made it"], timeout=30, what="the event")
        assert watch.heartbeats[-1].upstream_reachable
        watch.cancel()
    finally:
        broker.stop()
