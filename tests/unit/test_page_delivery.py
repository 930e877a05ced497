"""Page delivery's decisions (server/replies.py over server/page_store.py), on a real folder
store (and a store that is down, faked)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import threading

import pytest
from kfp_viz_server.config import load_config
from kfp_viz_server.errors import ErrorKind, RequestFailed
from kfp_viz_server.inline_policy import InlinePolicy
from kfp_viz_server.page_bytes import KFP_REPLY_CAP, kfp_inline_limit
from kfp_viz_server.page_store import PageStore
from kfp_viz_server.replies import Replies
from kfp_viz_server.store import FolderStore, S3Store, StoreUnavailable
from kfp_viz_server.stored_page import StoredPage
from minio.error import S3Error


def delivery(tmp_path, *flags: str, store=None) -> Replies:
    config = load_config(["--store-folder", str(tmp_path), *flags], {})
    return Replies(
        InlinePolicy(config.inline_limit), PageStore(config, store or FolderStore(tmp_path))
    )


def reference(page: str) -> dict:
    return json.loads(re.search(r'id="kfp-viz-reference">(.*?)</script>', page)[1])


def test_pages_at_or_under_the_limit_go_inline(tmp_path):
    page = "<p>" + "é" * 100 + "</p>"
    deliver = delivery(tmp_path, "--inline-limit", str(len(page.encode())))
    sent = asyncio.run(deliver.for_kfp(page, (), "http://viz"))
    assert sent is page and not any(tmp_path.iterdir())


def test_compressible_pages_travel_compressed_incompressible_ones_as_references(tmp_path):
    deliver = delivery(tmp_path, "--inline-limit", "100000")
    table = "<tr><td>1</td></tr>" * 50_000
    noise = os.urandom(300_000).hex()

    async def both() -> tuple[str, str]:
        return (
            await deliver.for_kfp(table, (), "http://viz"),
            await deliver.for_kfp(noise, (), "http://viz"),
        )

    small_table, small_noise = asyncio.run(both())
    assert reference(small_table)["delivery"] == "compressed" and len(small_table) <= 100_000
    assert reference(small_noise)["delivery"] == "reference" and len(small_noise) < 8192
    for page, sent in ((table, small_table), (noise, small_noise)):
        digest = hashlib.sha256(page.encode()).hexdigest()
        assert reference(sent)["id"] == digest
        assert (tmp_path / "visualizations" / f"{digest}.html").read_text() == page


def test_typed_delivery_returns_a_reference_and_stores_once(tmp_path):
    deliver = delivery(tmp_path)
    page = "x" * 5000

    async def twice() -> tuple:
        return await deliver.for_typed(page, 1000), await deliver.for_typed(page, 1000)

    first, second = asyncio.run(twice())
    assert isinstance(first, StoredPage) and first.id == second.id
    assert not first.deduplicated and second.deduplicated
    assert first.size == 5000 and first.presigned_url is None  # a folder has no presigning


class DownStore(FolderStore):
    def stat(self, key):
        raise StoreUnavailable(
            "http://minio:9000/mlpipeline", "cannot connect (connection refused)"
        )


def test_a_store_that_is_down_fails_large_pages_with_its_endpoint(tmp_path):
    deliver = delivery(tmp_path, "--inline-limit", "100", store=DownStore(tmp_path))
    assert asyncio.run(deliver.for_kfp("small", (), "http://viz")) == "small"
    with pytest.raises(RequestFailed) as caught:
        asyncio.run(deliver.for_kfp("y" * 1000, (), "http://viz"))
    assert caught.value.kind is ErrorKind.UNAVAILABLE
    assert "http://minio:9000/mlpipeline" in caught.value.message
    assert "connection refused" in caught.value.message
    assert deliver.pages.status()["ok"] is False


def test_an_explicit_inline_limit_replaces_the_computed_one(tmp_path):
    assert delivery(tmp_path, "--inline-limit", "16Mi").policy.limit_for(4_000_000) == 16 * 2**20
    assert delivery(tmp_path, "--inline-limit", "16Mi").policy.room_for(4_000_000) == 16 * 2**20
    assert delivery(tmp_path).policy.limit_for(4_000_000) < 200_000


def test_an_explicit_limit_under_the_cap_only_lowers_it(tmp_path):
    lowered = delivery(tmp_path, "--inline-limit", "1000").policy
    assert lowered.limit_for(10) == 1000
    assert lowered.room_for(10) == kfp_inline_limit(10)  # the small page may use the cap
    assert lowered.limit_for(KFP_REPLY_CAP - 600) == kfp_inline_limit(KFP_REPLY_CAP - 600) < 1000


def test_a_small_limit_still_sends_a_reference_page_over_it_but_within_the_cap(tmp_path):
    deliver = delivery(tmp_path, "--inline-limit", "100")
    sent = asyncio.run(deliver.for_kfp(os.urandom(5000).hex(), (10, 2), "http://viz"))
    assert reference(sent)["delivery"] == "reference" and len(sent) > 100


def test_no_room_for_even_the_reference_page_is_refused_and_the_page_kept(tmp_path):
    deliver = delivery(tmp_path)
    echoed = (KFP_REPLY_CAP - 2500, 2)  # leaves about 1.4 KB, under the reference page
    page = "<p>" + "z" * 10_000 + "</p>"
    with pytest.raises(RequestFailed) as caught:
        asyncio.run(deliver.for_kfp(page, echoed, "http://viz"))
    digest = hashlib.sha256(page.encode()).hexdigest()
    assert caught.value.kind is ErrorKind.TOO_LARGE
    message = caught.value.message
    assert message.startswith("No room for this page in KFP's 4194304-byte reply")
    assert f"take {sum(echoed)} bytes, leaving {kfp_inline_limit(*echoed)}" in message
    assert message.endswith(f"The 10007-byte page was stored: http://viz/visualizations/{digest}")
    assert (tmp_path / "visualizations" / f"{digest}.html").read_text() == page


class NoLifecycleClient:
    """A bucket that answers, but not to lifecycle calls (as some S3 stores do)."""

    def bucket_exists(self, bucket: str) -> bool:
        return True

    def get_bucket_lifecycle(self, bucket: str):
        raise S3Error(None, "NotImplemented", "lifecycle is not implemented", "/", "1", "h")


def test_a_store_without_lifecycle_leaves_retention_to_the_operator(tmp_path, caplog):
    store = S3Store("s3.example", 443, secure=True, bucket="kfp", access_key="a",
                    secret_key="s", region="us-east-1")  # fmt: skip
    store.client = NoLifecycleClient()
    deliver = delivery(tmp_path, "--store-retention-days", "9", store=store)

    async def apply() -> None:
        await deliver.pages._apply_retention()

    asyncio.run(apply())
    retention = deliver.pages.status()["retention"]
    assert "NotImplemented" in retention and "operator's job" in retention
    assert "visualizations/" in retention and "9 days" in retention
    assert "operator's job" in caplog.text


class SlowStore(FolderStore):
    """A store whose second read blocks until released, and which notes when it is closed."""

    def __init__(self, folder) -> None:
        super().__init__(folder)
        self.release = threading.Event()
        self.closed = threading.Event()

    def read(self, key):
        def chunks():
            try:
                yield b"first"
                self.release.wait(10)
                yield b"second"
            finally:
                self.closed.set()

        return chunks()


def test_a_fetch_hands_out_no_byte_before_the_whole_page_is_verified(tmp_path):
    store = SlowStore(tmp_path)
    deliver = delivery(tmp_path, "--inline-limit", "10", store=store)

    async def fetch() -> list[bytes]:
        page = await deliver.for_typed("firstsecond", 10)
        opening = asyncio.ensure_future(deliver.pages.open(page.id, via="http"))
        await asyncio.sleep(0.2)  # the store's first chunk is read, the second is held back
        assert not opening.done()
        store.release.set()
        reference, chunks = await opening
        assert store.closed.is_set() and reference.size == len("firstsecond")
        return [chunk async for chunk in chunks]

    assert b"".join(asyncio.run(fetch())) == b"firstsecond"


def test_a_page_changed_in_the_store_is_never_served_and_is_stored_again(tmp_path):
    deliver = delivery(tmp_path, "--inline-limit", "10")
    page = "<p>" + "a" * 100 + "</p>"
    stored = asyncio.run(deliver.for_typed(page, 10))
    path = tmp_path / "visualizations" / f"{stored.id}.html"
    path.write_text(page.replace("a", "b", 1))  # same size, other bytes, same name

    with pytest.raises(RequestFailed) as refused:
        asyncio.run(deliver.pages.open(stored.id, via="http"))
    assert refused.value.kind is ErrorKind.CORRUPT
    assert "does not match its SHA-256" in refused.value.message
    assert hashlib.sha256(page.replace("a", "b", 1).encode()).hexdigest() in refused.value.message

    again = asyncio.run(deliver.for_typed(page, 10))  # dedup by digest: not by size
    assert again.id == stored.id and not again.deduplicated
    assert path.read_text() == page

    async def read() -> bytes:
        _, chunks = await deliver.pages.open(stored.id, via="http")
        return b"".join([chunk async for chunk in chunks])

    assert asyncio.run(read()) == page.encode()
