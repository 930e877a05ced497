"""Client helper for pages past KFP's 4 MiB cap: render, fetch stored pages, verify them.

kfp-viz-server stores a page that does not fit KFP's gRPC reply and hands back a
reference; its own gRPC service (`kfpviz.v1.Visualizations`) streams the stored
page in chunks of at most 1 MiB. This module reassembles those chunks and checks
them against the page's SHA-256, so a caller gets the whole page or an error,
never a truncated or corrupted one.

    import grpc
    from kfp_viz.pages import create_page, fetch_page

    channel = grpc.insecure_channel("ml-pipeline-visualizationserver:8887")
    html = create_page(channel, "table", source="gs://bucket/data/*.csv")  # inline or fetched
    page = fetch_page(channel, "<sha256 from a reference>")                   # bytes, verified
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import grpc

from kfp_viz.pb import kfpviz_pages_pb2 as pb
from kfp_viz.pb import kfpviz_pages_pb2_grpc, visualization_pb2


class PageIntegrityError(Exception):
    """The assembled page differs from its reference (size, SHA-256), or chunks came misordered."""


@dataclass(frozen=True)
class FetchedPage:
    """A stored page, reassembled and verified, with the reference the server sent."""

    data: bytes
    reference: pb.PageReference

    @property
    def html(self) -> str:
        return self.data.decode("utf-8")


def fetch_page(
    channel: grpc.Channel, page_id: str, timeout: float | None = 120.0, namespace: str = ""
) -> FetchedPage:
    """Stream a stored page by id (its SHA-256), reassemble it and verify it.

    `namespace`: the reference's, for a page a server serving every profile namespace
    stored as that namespace's. Raises grpc.RpcError for what the server refuses
    (NOT_FOUND, UNAVAILABLE, ...) and PageIntegrityError when the bytes do not match the
    reference.
    """
    stub = kfpviz_pages_pb2_grpc.VisualizationsStub(channel)
    request = pb.FetchVisualizationRequest(id=page_id, namespace=namespace)
    chunks = stub.FetchVisualization(request, timeout=timeout)
    return assemble(chunks, expected_sha256=page_id)


def assemble(chunks: Iterable[pb.PageChunk], expected_sha256: str | None = None) -> FetchedPage:
    """Join FetchVisualization's chunks, checking order, size and SHA-256 as they arrive."""
    reference: pb.PageReference | None = None
    digest = hashlib.sha256()
    parts: list[bytes] = []
    offset = 0
    for chunk in chunks:
        if reference is None:
            if not chunk.HasField("reference"):
                raise PageIntegrityError("the first chunk carries no page reference")
            reference = chunk.reference
        if chunk.offset != offset:
            raise PageIntegrityError(f"chunk at offset {chunk.offset}, expected {offset}")
        digest.update(chunk.data)
        parts.append(chunk.data)
        offset += len(chunk.data)
    if reference is None:
        raise PageIntegrityError("the server sent no chunk at all")
    if offset != reference.size:
        raise PageIntegrityError(f"got {offset} bytes, the reference says {reference.size}")
    actual = digest.hexdigest()
    for expected in (reference.sha256, expected_sha256):
        if expected and actual != expected:
            raise PageIntegrityError(f"SHA-256 of the assembled page is {actual}, not {expected}")
    return FetchedPage(b"".join(parts), reference)


def create_page(
    channel: grpc.Channel,
    type_name: str,
    source: str = "",
    arguments: dict[str, Any] | str | None = None,
    timeout: float | None = 120.0,
) -> str:
    """Render a visualization through `kfpviz.v1.Visualizations` and return the whole page.

    `type_name` is any registered type by its HTTP name (`table`, `confusion_matrix`, ...).
    A page the server stored is fetched and verified. The visualization's own
    exception, if it raised, shows in the page (as in KFP).
    """
    if isinstance(arguments, dict):
        arguments = json.dumps(arguments)
    stub = kfpviz_pages_pb2_grpc.VisualizationsStub(channel)
    reply: pb.CreateVisualizationResponse = stub.CreateVisualization(
        pb.CreateVisualizationRequest(
            visualization=visualization_pb2.Visualization(source=source, arguments=arguments or ""),
            type_name=type_name,
        ),
        timeout=timeout,
    )
    if reply.WhichOneof("page") == "reference":
        return fetch_page(channel, reply.reference.id, timeout=timeout).html
    return reply.html
