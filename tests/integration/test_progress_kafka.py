"""Live progress against a real Kafka broker (one KRaft node), real servers, real gRPC clients.

Events are produced the way pipeline steps produce them: with the SDK (`kfp_viz.progress`)
or, for hostile records, with a plain kafka-python producer. Each test uses its own topic.
"""

from __future__ import annotations

import json
import time

import grpc
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kfp_viz.pb import kfpviz_progress_pb2 as pb
from kfp_viz.progress import Reporter
from progress_support import SMALL_WINDOW, Watch, new_run, new_topic, progress_server
from services import KafkaBroker
from support import wait_until

pytestmark = pytest.mark.integration


def reporter(bootstrap: str, topic: str, run_id: str, node_id: str = "train", **kw) -> Reporter:
    return Reporter(run_id, node_id, bootstrap_servers=bootstrap, topic=topic, namespace="", **kw)


def emit_logs(rep: Reporter, *messages: str) -> None:
    for message in messages:
        rep.log(message)
    assert rep.flush(30), "the SDK did not deliver to a running broker"


def wait_topic(bootstrap: str, topic: str) -> None:
    """Create the topic (auto-create on first produce) so a server reads it from the start."""
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    producer.send(topic, key=b"warm-up", value=b"not an event")
    producer.flush(30)
    producer.close()


def test_history_then_live_in_order_and_end_at_terminal_status(kafka, start_server):
    topic, run = new_topic(), new_run()
    rep = reporter(kafka.bootstrap, topic, run)
    emit_logs(rep, "h1", "h2", "h3")
    server = progress_server(start_server, kafka.bootstrap, topic)  # starts after the history
    watch = Watch(server.grpc_target, run, from_beginning=True)
    wait_until(lambda: "caught_up" in watch.kinds(), timeout=20, what="history")
    emit_logs(rep, "l1", "l2")
    rep.status("Succeeded", run_level=True)
    rep.close()
    assert watch.ended.wait(20), "the stream did not end after the run's terminal status"
    assert watch.error is None
    assert watch.messages() == ["h1", "h2", "h3", "l1", "l2", ""]
    before_live = watch.replies[: watch.kinds().index("caught_up")]
    assert [e.event.message for r in before_live for e in r.events] == ["h1", "h2", "h3"]
    caught_up = next(r.caught_up for r in watch.replies if r.HasField("caught_up"))
    assert caught_up.events == 3
    cursors = watch.cursors()
    assert len({p for p, _ in cursors}) == 1, "a run's events share one partition"
    assert [o for _, o in cursors] == sorted({o for _, o in cursors}), "strictly increasing"
    assert watch.events[-1].event.status == "Succeeded"


def test_resume_after_a_cursor_gives_no_gap_and_no_duplicate(kafka, start_server):
    topic, run = new_topic(), new_run()
    wait_topic(kafka.bootstrap, topic)
    server = progress_server(start_server, kafka.bootstrap, topic)
    rep = reporter(kafka.bootstrap, topic, run)
    first = Watch(server.grpc_target, run, from_beginning=True)
    emit_logs(rep, *[f"a{i}" for i in range(5)])
    wait_until(lambda: len(first.events) == 5, timeout=20, what="first five events")
    last = first.events[-1].cursor
    first.cancel()
    emit_logs(rep, *[f"b{i}" for i in range(7)])  # while nobody watches
    second = Watch(
        server.grpc_target, run,
        resume_after=pb.Cursor(partition=last.partition, offset=last.offset),
    )  # fmt: skip
    emit_logs(rep, "c0")
    wait_until(lambda: len(second.events) >= 8, timeout=20, what="resumed events")
    time.sleep(0.5)
    assert second.messages() == [f"b{i}" for i in range(7)] + ["c0"]
    assert all(c[1] > last.offset for c in second.cursors())
    second.cancel()
    rep.close()


def test_malformed_and_unknown_version_records_are_counted_and_skipped(kafka, start_server):
    topic, run = new_topic(), new_run()
    wait_topic(kafka.bootstrap, topic)
    server = progress_server(start_server, kafka.bootstrap, topic)
    watch = Watch(server.grpc_target, run, from_beginning=True)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    good = {"v": 1, "run_id": run, "node_id": "s", "kind": "log", "message": "ok"}
    hostile = [
        b"{not json",
        json.dumps({**good, "v": 2}).encode(),
        json.dumps({**good, "kind": "progress"}).encode(),  # no current/total/fraction
        json.dumps({**good, "run_id": "someone-else"}).encode(),  # key says another run
        b"\xff\xfe\x00",
    ]
    for value in [*hostile, json.dumps(good).encode()]:
        producer.send(topic, key=run.encode(), value=value)
    producer.flush(30)
    producer.close()
    wait_until(lambda: len(watch.events) == 1, timeout=20, what="the good event")
    assert watch.messages() == ["ok"]
    wait_until(
        lambda: 'kfp_viz_progress_records_total{outcome="malformed"} 5.0' in server.metrics(),
        timeout=10,
        what="malformed count",
    )
    assert 'kfp_viz_progress_records_total{outcome="ok"} 1.0' in server.metrics()
    watch.cancel()


def test_a_slow_watcher_lags_and_resyncs_without_slowing_a_fast_one(kafka, start_server):
    topic, run = new_topic(), new_run()
    wait_topic(kafka.bootstrap, topic)
    server = progress_server(start_server, kafka.bootstrap, topic, "--progress-queue-size", "1000")
    fast = Watch(server.grpc_target, run, from_beginning=False)
    slow = Watch(server.grpc_target, run, from_beginning=False, paused=True, options=SMALL_WINDOW)
    wait_until(lambda: "kfp_viz_progress_watchers 2.0" in server.metrics(), what="two watchers")
    rep = reporter(kafka.bootstrap, topic, run, buffer_size=100_000)
    padding = "x" * 400  # fills the slow client's flow-control window sooner
    count, chunk = 6000, 500
    sent_at = time.time()
    # Sent in chunks of half the queue, the next once the fast watcher has the last: on a
    # loaded machine this test's own reading thread may fall behind the server by a whole
    # queue (its events are read here, in Python), which is that watcher being slow, not
    # the hub slowing it. The slow watcher reads nothing meanwhile, so it still overflows.
    for start in range(0, count, chunk):
        for i in range(start, start + chunk):
            rep.log(f"{i:05d} {padding}")
        assert rep.flush(60)
        wait_until(lambda n=start + chunk: len(fast.events) == n, timeout=60,
                   what=f"fast watcher has the first {start + chunk}")  # fmt: skip
    fast_done = max(fast.arrived) - sent_at
    assert len(slow.events) < count  # the slow one has not read yet
    slow.resume_reading()
    wait_until(lambda: len(slow.events) == count, timeout=60, what="slow watcher has all")
    expected = [f"{i:05d} {padding}" for i in range(count)]
    assert fast.messages() == expected, "the fast watcher lost or repeated events"
    assert slow.messages() == expected, "the slow watcher lost or repeated events"
    assert "lagged" in slow.kinds(), "the slow watcher was not told it lagged"
    assert "lagged" not in fast.kinds()
    lagged = next(r.lagged for r in slow.replies if r.HasField("lagged"))
    assert lagged.queue_size == 1000
    assert "kfp_viz_progress_lagged_resyncs_total 0.0" not in server.metrics()
    print(f"fast watcher had all {count} events {fast_done:.2f} s after the first was sent")
    fast.cancel()
    slow.cancel()
    rep.close()


def test_broker_restart_mid_stream(tmp_path, start_server):
    broker = KafkaBroker(tmp_path / "kafka")
    broker.start()
    try:
        topic, run = new_topic(), new_run()
        wait_topic(broker.bootstrap, topic)
        server = progress_server(start_server, broker.bootstrap, topic)
        watch = Watch(server.grpc_target, run, from_beginning=True)
        rep = reporter(broker.bootstrap, topic, run)
        emit_logs(rep, "before-1", "before-2")
        wait_until(lambda: len(watch.events) == 2, timeout=20, what="events before the stop")
        broker.stop()
        wait_until(
            lambda: any(not h.upstream_reachable for h in watch.heartbeats),
            timeout=20, what="a heartbeat saying Kafka is down",
        )  # fmt: skip
        down = next(h for h in watch.heartbeats if not h.upstream_reachable)
        assert broker.bootstrap in down.upstream and topic in down.upstream
        for i in range(5):
            rep.log(f"during-{i}")  # the SDK holds them while the broker is away
        assert not rep.flush(1.0)
        assert not watch.ended.is_set(), "the stream ended when the broker stopped"
        started = time.monotonic()
        snapshot = server.post(type="progress", source=run, arguments="{}")
        assert snapshot.status_code == 200 and time.monotonic() - started < 10
        # served from the hub's log of recent records, saying Kafka is away
        assert '"message": "before-2"' in snapshot.text
        assert f"Kafka {broker.bootstrap} topic {topic} is unreachable" in snapshot.text
        broker.start()
        assert rep.flush(60), "the SDK did not deliver after the broker came back"
        emit_logs(rep, "after")
        wait_until(lambda: len(watch.events) == 8, timeout=60, what="every event, once")
        time.sleep(1.0)
        assert watch.messages() == [
            "before-1", "before-2", *[f"during-{i}" for i in range(5)], "after",
        ]  # fmt: skip
        wait_until(lambda: watch.heartbeats[-1].upstream_reachable, timeout=20, what="up again")
        watch.cancel()
        rep.close()
    finally:
        broker.stop()


def test_sdk_never_blocks_or_raises_while_kafka_is_away(tmp_path, caplog):
    broker = KafkaBroker(tmp_path / "kafka")  # not started yet: nothing listens on its port
    topic, run = new_topic(), new_run()
    rep = reporter(broker.bootstrap, topic, run, buffer_size=50)
    started = time.monotonic()
    rep.status("Running")
    for i in range(200):
        rep.progress(i, 200)
    rep.metric(loss=0.5, step=1)
    elapsed = time.monotonic() - started
    assert elapsed < 0.5, f"200 calls took {elapsed:.2f} s with Kafka away"
    assert rep.dropped == 152, "the buffer is bounded at 50: the oldest ticks are dropped"
    wait_until(lambda: "reachable" in caplog.text or "Kafka at" in caplog.text, timeout=15,
               what="a warning")  # fmt: skip
    started = time.monotonic()
    assert rep.flush(0.5) is False
    assert time.monotonic() - started < 1.0
    broker.start()
    try:
        assert rep.flush(60), "the buffered events were not sent once Kafka came up"
        rep.close()
        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest")
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(tps)
        values = []
        deadline = time.monotonic() + 20
        while len(values) < 50 and time.monotonic() < deadline:
            for records in consumer.poll(500).values():
                values += [json.loads(r.value) for r in records]
        consumer.close()
        assert values[0]["status"] == "Running", "a status is never dropped for a tick"
        assert [v.get("current") for v in values[1:-1]] == list(range(152, 200))
        assert values[-1]["metrics"] == {"loss": 0.5}
    finally:
        broker.stop()
    started = time.monotonic()
    rep2 = reporter(broker.bootstrap, topic, run)  # broker gone again
    rep2.log("lost")
    rep2.close(timeout=1.0)
    assert time.monotonic() - started < 3.0, "close() must not hang when Kafka is away"


def test_namespace_scoping(kafka, start_server):
    topic, run_a, run_b = new_topic(), new_run(), new_run()
    wait_topic(kafka.bootstrap, topic)
    scoped = progress_server(start_server, kafka.bootstrap, topic, "--namespace", "team-a")
    a = Reporter(run_a, "s", bootstrap_servers=kafka.bootstrap, topic=topic, namespace="team-a")
    b = Reporter(run_b, "s", bootstrap_servers=kafka.bootstrap, topic=topic, namespace="team-b")
    watch_a = Watch(scoped.grpc_target, run_a, from_beginning=True)
    watch_b = Watch(scoped.grpc_target, run_b, from_beginning=True)
    emit_logs(a, "for a")
    emit_logs(b, "for b")
    mixed = Reporter(run_a, "s", bootstrap_servers=kafka.bootstrap, topic=topic, namespace="team-b")
    emit_logs(mixed, "team-b event in run a")
    emit_logs(a, "for a again")
    wait_until(lambda: len(watch_a.events) == 2, timeout=20, what="team-a events")
    time.sleep(1.0)
    assert watch_a.messages() == ["for a", "for a again"]
    assert watch_b.events == [], "a team-b run leaked through a team-a server"
    assert 'kfp_viz_progress_records_total{outcome="other_namespace"} 2.0' in scoped.metrics()
    other = Watch(scoped.grpc_target, run_b, namespace="team-b")
    assert other.ended.wait(10)
    assert other.error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "team-a" in other.error.details()
    refused = scoped.post_progress(run_a, {"node_id": "s", "kind": "log", "message": "x",
                                           "namespace": "team-b"})  # fmt: skip
    assert refused.status_code == 403 and "team-a" in refused.json()["error"]
    for watch in (watch_a, watch_b):
        watch.cancel()
    for rep in (a, b, mixed):
        rep.close()


def test_two_servers_serve_the_same_run(kafka, start_server):
    topic, run = new_topic(), new_run()
    wait_topic(kafka.bootstrap, topic)
    one = progress_server(start_server, kafka.bootstrap, topic)
    two = progress_server(start_server, kafka.bootstrap, topic)
    watches = [Watch(s.grpc_target, run, from_beginning=True) for s in (one, two)]
    rep = reporter(kafka.bootstrap, topic, run)
    emit_logs(rep, *[f"e{i}" for i in range(20)])
    published = one.post_progress(run, {"node_id": "s", "kind": "log", "message": "via http"})
    assert published.status_code == 200
    rep.status("Failed", "boom", run_level=True)
    rep.close()
    for watch in watches:
        assert watch.ended.wait(30), "a stream did not end at the run's terminal status"
        assert watch.error is None
    assert watches[0].cursors() == watches[1].cursors()
    assert watches[0].messages() == [*[f"e{i}" for i in range(20)], "via http", "boom"]
    assert watches[1].messages() == watches[0].messages()


def test_unknown_run_and_bad_requests_get_clear_answers(kafka, start_server):
    topic = new_topic()
    wait_topic(kafka.bootstrap, topic)
    server = progress_server(start_server, kafka.bootstrap, topic)
    unknown = Watch(server.grpc_target, new_run(), from_beginning=True)
    wait_until(lambda: "heartbeat" in unknown.kinds(), timeout=20, what="a heartbeat")
    assert unknown.kinds()[0] == "caught_up"
    assert unknown.replies[0].caught_up.events == 0
    assert unknown.heartbeats[0].upstream_reachable
    unknown.cancel()
    bad = Watch(server.grpc_target, "../etc/passwd")
    assert bad.ended.wait(10)
    assert bad.error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "run_id" in bad.error.details()
    reply = server.post_progress("r1", "{nope", raw=True)
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("Invalid progress event: body is not valid JSON")


def test_the_live_reads_fetch_pacing_reaches_a_real_kafka_python_consumer(kafka):
    """FetchPacing changes kafka-python's private fetcher config: fail loudly if it moves."""
    from kfp_viz_server.progress.kafka_source import BUSY_BATCH_MS, FetchPacing

    topic = new_topic()
    wait_topic(kafka.bootstrap, topic)
    consumer = KafkaConsumer(
        bootstrap_servers=kafka.bootstrap, fetch_min_bytes=2**20,
        fetch_max_wait_ms=BUSY_BATCH_MS, auto_offset_reset="earliest",
    )  # fmt: skip
    try:
        partitions = consumer.partitions_for_topic(topic)
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        pacing = FetchPacing(consumer)
        assert consumer._fetcher.config["fetch_min_bytes"] == 1, "pacing did not take effect"
        deadline, records = time.monotonic() + 20, []
        while not records and time.monotonic() < deadline:  # an eager fetch brings the record
            records = [m for ms in consumer.poll(timeout_ms=pacing.poll_ms).values() for m in ms]
        assert [m.value for m in records] == [b"not an event"]
    finally:
        consumer.close()
