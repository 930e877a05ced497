"""The page store against real MinIO processes: failure, recovery, credentials, dedup, retention.

Tests that stop MinIO start their own `MinioServer`; the others use the session one, each with
its own bucket so their objects never mix.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time

import grpc
import pytest
import requests
from kfp_viz.pages import fetch_page
from kfp_viz.pb.visualization_pb2 import Visualization
from kfp_viz_server.page_bytes import KFP_REPLY_CAP, REPLY_MARGIN
from minio import Minio
from minio.commonconfig import ENABLED, Filter
from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule
from services import MinioServer
from stored_pages import reference_of
from support import custom_code, wait_until

FLAGS = (
    "--pool-size", "2", "--allow-custom-visualizations", "--reuse-custom-kernels",
    "--max-output-size", "256Mi",  # pages of 120 MB are made here
)  # fmt: skip
# A page of about `int(source)` bytes that gzip cannot shrink under the cap, different each time.
BIG = custom_code(
    "import base64, os",
    "from IPython.display import HTML, display",
    "display(HTML('<pre>' + base64.encodebytes(os.urandom(int(source) * 3 // 4)).decode() "
    "+ '</pre>'))",
)
SAME = custom_code("from IPython.display import HTML, display", "display(HTML('y' * int(source)))")


def client(minio: MinioServer, secret: str | None = None) -> Minio:
    return Minio(minio.endpoint, minio.access_key, secret or minio.secret_key, secure=False)


def objects(minio: MinioServer, bucket: str) -> list[str]:
    return [o.object_name for o in client(minio).list_objects(bucket, recursive=True)]


def big_page(server, size: int = 6_000_000, timeout: float = 120):
    return server.post(type="custom", source=str(size), arguments=BIG, timeout=timeout)


def test_store_down_and_back_without_a_restart(start_server, tmp_path):
    own = MinioServer(tmp_path / "own-minio")
    own.start()
    try:
        server = start_server(*FLAGS, env=own.server_env("flaky"))
        before = big_page(server)
        assert before.status_code == 200, before.reason
        kept = reference_of(before.text)

        own.stop()
        small = server.post(type="test", source="still fine")
        assert small.status_code == 200 and "still fine" in small.text

        started = time.monotonic()
        refused = big_page(server)
        assert refused.status_code == 503
        assert time.monotonic() - started < 15  # the render (~1 s) and a refused connection
        assert own.endpoint in refused.reason and "cannot connect" in refused.reason
        assert "over the inline limit" in refused.reason

        with pytest.raises(grpc.RpcError) as caught:
            server.create_visualization(Visualization.CUSTOM, "6000000", BIG, timeout=120)
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
        assert own.endpoint in caught.value.details()

        ready = requests.get(server.url + "/readyz", timeout=5)
        assert ready.status_code == 200  # small pages still render: the pod stays in service
        store = ready.json()["store"]
        assert store["ok"] is False and own.endpoint in store["error"]
        gone = requests.get(kept["http_url"], timeout=10)
        assert gone.status_code == 503 and own.endpoint in gone.reason
        with pytest.raises(grpc.RpcError) as caught:
            fetch_page(server.channel, kept["id"])
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
        assert "kfp_viz_store_up" in server.metrics()
        assert 'kfp_viz_pages_total{delivery="failed"} 2.0' in server.metrics()

        own.start()
        after = big_page(server)
        assert after.status_code == 200, after.reason
        assert server.ready()["store"]["ok"] is True
        again = requests.get(kept["http_url"], timeout=60)
        assert hashlib.sha256(again.content).hexdigest() == kept["sha256"]
    finally:
        own.stop()


def test_minio_stopped_during_a_large_page_never_leaves_a_partial_reference(start_server, tmp_path):
    """Stop MinIO while a large page's multipart upload is under way.

    The request must then fail with 503, and once MinIO is back no object holds the page:
    a reference to a missing or partial object is never handed out.
    """
    own = MinioServer(tmp_path / "own-minio")
    own.start()
    multipart = own.workdir / "data" / ".minio.sys" / "multipart"
    try:
        server = start_server(*FLAGS, env=own.server_env("midway"))
        replies = []
        request = threading.Thread(target=lambda: replies.append(big_page(server, 120_000_000)))
        request.start()
        wait_until(lambda: any(multipart.rglob("*")), 120, "a multipart upload under way")
        own.stop()
        request.join(120)
        own.start()
        reply = replies[0]
        assert reply.status_code == 503 and own.endpoint in reply.reason
        assert objects(own, "midway") == []
        assert "kfp-viz-reference" not in reply.text
    finally:
        own.stop()


def test_wrong_credentials_fail_large_pages_only_and_say_why(start_server, minio):
    env = {**minio.server_env("creds"), "OBJECTSTORECONFIG_SECRETACCESSKEY": "wrong-secret"}
    server = start_server(*FLAGS, env=env)
    assert server.post(type="test", source="small").status_code == 200
    refused = big_page(server)
    assert refused.status_code == 503
    assert minio.endpoint in refused.reason and "refused the credentials" in refused.reason
    wait_until(lambda: server.ready()["store"]["ok"] is False, 15, "readyz reports the store")
    assert "SignatureDoesNotMatch" in server.ready()["store"]["error"]


def test_identical_pages_are_stored_once(start_server, minio):
    server = start_server(*FLAGS, env=minio.server_env("dedup"))
    first = server.post(type="custom", source="5000000", arguments=SAME)
    second = server.post(type="custom", source="5000000", arguments=SAME)
    assert reference_of(first.text)["id"] == reference_of(second.text)["id"]
    assert objects(minio, "dedup") == [f"visualizations/{reference_of(first.text)['id']}.html"]
    metrics = server.metrics()
    assert 'kfp_viz_stored_pages_total{outcome="uploaded"} 1.0' in metrics
    assert 'kfp_viz_stored_pages_total{outcome="deduplicated"} 1.0' in metrics


def test_retention_is_a_lifecycle_rule_that_keeps_other_rules(start_server, minio):
    admin = client(minio)
    if not admin.bucket_exists("retention"):
        admin.make_bucket("retention")
    theirs = Rule(ENABLED, rule_filter=Filter(prefix="logs/"), rule_id="theirs",
                  expiration=Expiration(days=3))  # fmt: skip
    admin.set_bucket_lifecycle("retention", LifecycleConfig([theirs]))

    server = start_server(
        *FLAGS, "--store-retention-days", "7", "--store-prefix", "viz/",
        env=minio.server_env("retention"),
    )  # fmt: skip
    wait_until(lambda: server.ready()["store"]["retention"], 15, "retention applied")
    rules = {rule.rule_id: rule for rule in admin.get_bucket_lifecycle("retention").rules}
    assert set(rules) == {"theirs", "kfp-viz-server-retention"}
    ours = rules["kfp-viz-server-retention"]
    assert ours.rule_filter.prefix == "viz/" and ours.expiration.days == 7
    assert "expire after 7 days" in server.ready()["store"]["retention"]
    assert reference_of(big_page(server).text)["uri"].startswith("s3://retention/viz/")


def test_without_an_object_store_pages_go_to_a_local_folder(start_server, tmp_path):
    folder = tmp_path / "pages"
    server = start_server(*FLAGS, env={"STORE_FOLDER": str(folder)})
    reply = server.post(type="custom", source="5000000", arguments=SAME)
    reference = reference_of(reply.text)
    path = folder / "visualizations" / f"{reference['sha256']}.html"
    assert reference["uri"] == path.as_uri() and path.stat().st_size == reference["size"]
    assert reference["presigned_url"] is None and "presigned" not in reply.text.split("<body>")[1]
    stored = requests.get(reference["http_url"], timeout=30)
    assert hashlib.sha256(stored.content).hexdigest() == reference["sha256"]
    store = server.ready()["store"]
    assert store["kind"] == "folder" and store["ok"] is True
    assert not [p for p in path.parent.iterdir() if re.match(r"\.partial-", p.name)]


def test_an_explicit_inline_limit_is_honoured(start_server, tmp_path):
    server = start_server(*FLAGS, "--inline-limit", "10Ki", env={"STORE_FOLDER": str(tmp_path)})
    small = server.post(type="custom", source="1000", arguments=SAME)
    assert "kfp-viz-reference" not in small.text
    large = server.post(type="custom", source="20000", arguments=SAME)
    assert reference_of(large.text)["size"] > 20_000 and len(large.content) <= 10 * 1024


def test_an_explicit_limit_under_the_cap_never_overrides_the_cap(start_server, tmp_path):
    """Only the cap (less the echoed fields) bounds the reply; `--inline-limit` only lowers it."""
    server = start_server(*FLAGS, "--inline-limit", "2Ki", env={"STORE_FOLDER": str(tmp_path)})
    # The reference page is over 2 KiB but well within the cap: sent.
    over = server.post(type="custom", source="20000", arguments=BIG)
    assert over.status_code == 200, over.reason
    assert reference_of(over.text)["delivery"] == "reference" and len(over.content) > 2048

    # A page under 2 KiB, but `arguments` leave it only about 1 KB of the cap: not sent inline
    # (KFP would fail the reply), stored, and refused since not even the reference page fits.
    filler = "#" + "p" * (KFP_REPLY_CAP - REPLY_MARGIN - 1000)
    arguments = custom_code(
        filler, "from IPython.display import HTML, display", "display(HTML('y' * 300))"
    )
    refused = server.post(type="custom", source="300", arguments=arguments, timeout=120)
    assert refused.status_code == 413
    assert refused.reason.startswith("No room for this page in KFP's 4194304-byte reply")
    page_id = refused.reason[-64:]
    stored = (tmp_path / "visualizations" / f"{page_id}.html").read_text()
    assert len(stored.encode()) < 2048 and "y" * 300 in stored
