"""kfp_viz.pages reassembles FetchVisualization chunks and refuses anything that does not match."""

from __future__ import annotations

import hashlib

import pytest
from kfp_viz.pages import PageIntegrityError, assemble
from kfp_viz.pb import kfpviz_pages_pb2 as pb

PAGE = b"<!DOCTYPE html>" + bytes(range(256)) * 10_000


def chunks(data: bytes = PAGE, size: int = 2**20, sha: str | None = None) -> list[pb.PageChunk]:
    digest = sha or hashlib.sha256(PAGE).hexdigest()
    reference = pb.PageReference(id=digest, sha256=digest, size=len(PAGE))
    parts = [
        pb.PageChunk(offset=start, data=data[start : start + size])
        for start in range(0, len(data), size)
    ]
    parts[0].reference.CopyFrom(reference)
    return parts


def test_reassembles_and_verifies():
    fetched = assemble(chunks(size=1000), expected_sha256=hashlib.sha256(PAGE).hexdigest())
    assert fetched.data == PAGE and fetched.reference.size == len(PAGE)


def test_a_flipped_byte_is_caught():
    corrupted = bytearray(PAGE)
    corrupted[12345] ^= 1
    with pytest.raises(PageIntegrityError, match="SHA-256"):
        assemble(chunks(bytes(corrupted)))


def test_a_missing_tail_is_caught():
    with pytest.raises(PageIntegrityError, match="reference says"):
        assemble(chunks()[:-1])


def test_chunks_out_of_order_are_caught():
    parts = chunks(size=1000)
    parts[1], parts[2] = parts[2], parts[1]
    with pytest.raises(PageIntegrityError, match="offset"):
        assemble(parts)


def test_the_id_asked_for_must_be_the_page_received():
    with pytest.raises(PageIntegrityError, match="not " + "0" * 64):
        assemble(chunks(), expected_sha256="0" * 64)


def test_the_proto_is_our_own_package():
    service = pb.DESCRIPTOR.services_by_name["Visualizations"]
    assert service.full_name == "kfpviz.v1.Visualizations"
    assert service.methods_by_name["FetchVisualization"].server_streaming
    assert not service.methods_by_name["CreateVisualization"].server_streaming
