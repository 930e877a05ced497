"""The real services the integration tests drive: each one starts, serves, and survives a restart.

These guard the harness itself (scripts/lib/deps.sh, services.py, browser.py), so a failure in a
feature test is never a broken MinIO, broker or browser in disguise.
"""

from __future__ import annotations

import io

from browser import BLOCKED, show_in_kfp_iframe
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from minio import Minio
from services import KafkaBroker


def test_minio_stores_and_returns_an_object(minio):
    client = Minio(minio.endpoint, minio.access_key, minio.secret_key, secure=False)
    if not client.bucket_exists("harness"):
        client.make_bucket("harness")
    client.put_object("harness", "a/b.txt", io.BytesIO(b"hello"), 5)
    reply = client.get_object("harness", "a/b.txt")
    try:
        assert reply.read() == b"hello"
    finally:
        reply.close()
        reply.release_conn()


def test_kafka_keeps_messages_across_a_restart(kafka):
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    producer.send("harness", key=b"run", value=b"before").get(timeout=30)
    producer.close()
    kafka.stop()
    kafka.start()
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    meta = producer.send("harness", key=b"run", value=b"after").get(timeout=60)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap, consumer_timeout_ms=10_000)
    partition = TopicPartition("harness", meta.partition)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    values = [record.value for record in consumer]
    consumer.close()
    assert values == [b"before", b"after"]


def test_kafka_storage_formats_with_a_cluster_id_that_starts_with_a_dash(tmp_path):
    """One random id in 64 does; the format tool once took it for an option."""
    KafkaBroker(tmp_path, cluster_id="-FPFEAEETXygpwojSGXBgA")  # formats, or raises
    meta = (tmp_path / "data" / "meta.properties").read_text()
    assert "cluster.id=-FPFEAEETXygpwojSGXBgA" in meta


def test_browser_runs_scripts_in_a_sandboxed_frame_with_network_blocked(browser, minio):
    live = f"http://{minio.endpoint}/minio/health/live"  # a loopback URL that does answer
    html = (
        "<html><body><p id='out'>static</p><p id='fetch'>pending</p>"
        "<img src='https://example.com/tracker.png'>"
        "<script>document.getElementById('out').textContent = 'scripted';"
        f"fetch('{live}').then(r => 'reached ' + r.status, e => 'refused')"
        ".then(t => { document.getElementById('fetch').textContent = t; });</script>"
        "</body></html>"
    )
    shown = show_in_kfp_iframe(browser, html)
    try:
        assert shown.frame.inner_text("#out") == "scripted"
        assert shown.frame.evaluate("window.origin") == "null"  # opaque, as in the KFP UI
        shown.frame.wait_for_function("document.getElementById('fetch').textContent != 'pending'")
        assert shown.frame.inner_text("#fetch") == "refused"
        assert any(BLOCKED in error for error in shown.errors), shown.errors
    finally:
        shown.page.context.close()
