"""Page delivery's pure parts: the inline limit's arithmetic, sizes, gzip budget, the small page."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import re

import pytest
from kfp_viz.pb.visualization_pb2 import Visualization
from kfp_viz_server.errors import reason_phrase
from kfp_viz_server.page_bytes import (
    KFP_REPLY_CAP,
    REPLY_MARGIN,
    encoded_chunks,
    gzip_within,
    kfp_inline_limit,
    sha256_hex,
    utf8_size,
)
from kfp_viz_server.stored_page import StoredPage, StoredPageTemplate, valid_page_id


@pytest.mark.parametrize(
    ("source", "arguments", "error"),
    [
        ("", "", ""),
        ("gs://bucket/file.csv", '{"headers": ["a", "b"]}', ""),
        ("s" * 200_000, '{"code": ["' + "x" * 3_000_000 + '"]}', "ValueError: bad"),
        ("é" * 1000, "{}", ""),
    ],
)
def test_a_page_at_the_limit_fills_the_reply_exactly(source, arguments, error):
    echoed = [len(text.encode()) for text in (source, arguments, error)]
    limit = kfp_inline_limit(*echoed)
    reply = Visualization(
        type=Visualization.CUSTOM, source=source, arguments=arguments, html="x" * limit, error=error
    )
    assert reply.ByteSize() == KFP_REPLY_CAP - REPLY_MARGIN
    reply.html += "x"
    assert reply.ByteSize() > KFP_REPLY_CAP - REPLY_MARGIN


def test_echoed_fields_that_fill_the_cap_leave_no_room_at_all():
    assert kfp_inline_limit(KFP_REPLY_CAP) == 0


def test_utf8_size_counts_bytes_without_a_copy():
    assert utf8_size("abc") == 3
    text = "é€😀" * 2_000_000
    assert utf8_size(text) == len(text.encode())
    assert b"".join(encoded_chunks(text, chars=7)) == text.encode()
    assert sha256_hex(text) == hashlib.sha256(text.encode()).hexdigest()


def test_gzip_gives_up_once_over_budget():
    page = "<tr><td>1</td></tr>" * 100_000
    packed = gzip_within(page, 1_000_000)
    assert packed is not None and gzip.decompress(packed).decode() == page
    noise = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(100_000))
    assert gzip_within(noise, 100_000) is None
    assert gzip_within(page, 0) is None


def stored(presigned: bool = True) -> StoredPage:
    digest = hashlib.sha256(b"page").hexdigest()
    return StoredPage(
        id=digest,
        uri=f"s3://mlpipeline/visualizations/{digest}.html",
        size=60_000_000,
        sha256=digest,
        content_type="text/html; charset=utf-8",
        presigned_url="http://minio:9000/x?X-Amz-Signature=<\"'>&b=1" if presigned else None,
        presigned_expires=dt.datetime(2030, 1, 2, 3, 4, tzinfo=dt.UTC) if presigned else None,
        deduplicated=False,
    )


def reference_json(page: str) -> dict:
    found = re.search(r'id="kfp-viz-reference">(.*?)</script>', page)
    return json.loads(found[1])


def test_reference_page_names_the_stored_page_and_escapes_what_it_shows():
    page = StoredPageTemplate.default().render(stored(), "http://viz:8888/")
    reference = reference_json(page)
    assert reference["delivery"] == "reference" and reference["size"] == 60_000_000
    assert reference["http_url"] == f"http://viz:8888/visualizations/{stored().id}"
    assert reference["presigned_url_expires"] == "2030-01-02T03:04:00+00:00"
    assert "X-Amz-Signature=&lt;&quot;&#x27;&gt;&amp;b=1" in page  # the link, escaped
    assert "<script>" not in page  # no unpacking without a payload
    assert len(page) < 8192


def test_compressed_page_carries_the_payload_and_the_unpacker():
    payload = base64.b64encode(gzip.compress(b"<p>hi</p>")).decode()
    page = StoredPageTemplate.default().render(stored(False), "http://viz:8888", payload)
    assert reference_json(page)["delivery"] == "compressed"
    assert f'id="kfp-viz-payload">{payload}</script>' in page
    assert "DecompressionStream" in page and "kfp-viz-presigned" not in page


def test_a_script_end_tag_in_a_reference_cannot_close_the_json_block():
    page = stored()
    hostile = StoredPage(**{**page.__dict__, "uri": "s3://b/</script><script>alert(1)"})
    text = StoredPageTemplate.default().render(hostile, "http://viz")
    assert reference_json(text)["uri"] == "s3://b/</script><script>alert(1)"
    assert "<script>alert(1)" not in text


@pytest.mark.parametrize(
    ("page_id", "valid"),
    [("a" * 64, True), ("A" * 64, False), ("a" * 63, False), ("../" + "a" * 61, False)],
)
def test_page_ids_are_sha256_hex(page_id, valid):
    assert valid_page_id(page_id) is valid


def test_reasons_are_one_printable_line():
    assert reason_phrase("a\r\nb\té<") == "a  b \\xe9\\x3c"
    assert len(reason_phrase("x" * 1000)) == 400
