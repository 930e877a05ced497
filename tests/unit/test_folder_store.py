"""The local folder store and the upload reader (S3 is tested against real MinIO in integration)."""

from __future__ import annotations

import os
import time

import pytest
from kfp_viz_server.config import ConfigError, load_config
from kfp_viz_server.store import ChunkReader, FolderStore, PageNotFound, StoreUnavailable


def test_chunk_reader_returns_exactly_what_is_asked():
    reader = ChunkReader(iter([b"abc", b"defgh", b"", b"ij"]))
    assert reader.read(4) == b"abcd"
    assert reader.read(5) == b"efghi"
    assert reader.read(5) == b"j"
    assert reader.read(5) == b""


def test_folder_store_round_trip_and_atomic_put(tmp_path):
    store = FolderStore(tmp_path)
    store.check()
    key = "visualizations/" + "a" * 64 + ".html"
    assert store.stat(key) is None
    store.put(key, iter([b"<html>", b"</html>"]), 13)
    assert store.stat(key).size == 13
    assert b"".join(store.read(key)) == b"<html></html>"
    assert store.uri(key) == (tmp_path / key).as_uri()
    with pytest.raises(StoreUnavailable, match="wrote 3 bytes, expected 4"):
        store.put("visualizations/short.html", iter([b"abc"]), 4)
    assert sorted(p.name for p in (tmp_path / "visualizations").iterdir()) == [key.split("/")[1]]
    with pytest.raises(PageNotFound):
        store.read("visualizations/" + "b" * 64 + ".html")


def test_folder_store_prunes_only_what_retention_expired(tmp_path):
    store = FolderStore(tmp_path)
    assert store.prune("visualizations/", 7) == 0  # nothing stored yet
    old, new = "visualizations/old.html", "visualizations/new.html"
    for key in (old, new):
        store.put(key, iter([b"x"]), 1)
    ten_days_ago = time.time() - 10 * 86400
    os.utime(tmp_path / old, (ten_days_ago, ten_days_ago))
    assert store.prune("visualizations/", 0) == 0  # 0 days: keep forever
    assert store.prune("visualizations/", 7) == 1
    assert store.stat(old) is None and store.stat(new) is not None


def test_unwritable_folder_is_unavailable_with_the_reason(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreUnavailable) as caught:
        FolderStore(blocker / "pages").check()
    assert str(blocker / "pages") in str(caught.value)


def test_store_settings_use_kfps_names():
    config = load_config(
        [],
        {
            "OBJECTSTORECONFIG_HOST": "minio-service.kubeflow",
            "OBJECTSTORECONFIG_PORT": "9000",
            "OBJECTSTORECONFIG_SECURE": "false",
            "OBJECTSTORECONFIG_BUCKETNAME": "pipelines",
            "OBJECTSTORECONFIG_ACCESSKEY": "minio",
            "OBJECTSTORECONFIG_SECRETACCESSKEY": "minio123",
            "OBJECTSTORECONFIG_REGION": "us-east-1",
        },
    )
    assert (config.store_host, config.store_port, config.store_secure) == (
        "minio-service.kubeflow", 9000, False,
    )  # fmt: skip
    assert (config.store_bucket, config.store_access_key) == ("pipelines", "minio")
    assert (config.store_secret_key, config.store_region) == ("minio123", "us-east-1")
    defaults = load_config([], {})
    assert defaults.store_host == "" and defaults.store_bucket == "mlpipeline"
    assert defaults.store_prefix == "visualizations/" and defaults.inline_limit is None
    assert defaults.store_retention_days == 30


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"INLINE_LIMIT": "big"}, "INLINE_LIMIT"),
        ({"STORE_PREFIX": "/abs/"}, "STORE_PREFIX"),
        ({"STORE_PREFIX": "a/../b/"}, "STORE_PREFIX"),
        ({"STORE_RETENTION_DAYS": "-1"}, "STORE_RETENTION_DAYS"),
        ({"PRESIGN_EXPIRY": "700000"}, "PRESIGN_EXPIRY"),
        ({"OBJECTSTORECONFIG_PORT": "99999"}, "OBJECTSTORECONFIG_PORT"),
    ],
)
def test_bad_store_settings_are_named(env, named):
    with pytest.raises(ConfigError, match=named):
        load_config([], env)


def test_inline_limit_is_auto_or_a_size():
    assert load_config(["--inline-limit", "auto"], {}).inline_limit is None
    assert load_config(["--inline-limit", "1Mi"], {}).inline_limit == 2**20
