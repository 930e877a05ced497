"""gRPC: our own `kfpviz.v1.Visualizations` service for pages past KFP's 4 MiB cap.

`CreateVisualization` renders through the same validation and render path as
KFP's `CreateVisualizationV1`, then answers with the page itself when it fits
the inline limit, or with a typed reference to the stored page.
`FetchVisualization` streams a stored page in chunks of at most 1 MiB, the
reference first, so `kfp_viz.pages` can reassemble it and check its SHA-256.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import grpc
from google.protobuf import timestamp_pb2
from kfp_viz.pb import kfpviz_pages_pb2 as pb
from kfp_viz.pb import kfpviz_pages_pb2_grpc

from .errors import ErrorKind, RequestFailed
from .page_bytes import utf8_size
from .service import VisualizationService
from .store import READ_CHUNK
from .stored_page import StoredPage
from .validation import validate_page_id

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Visualizations"].full_name
MAX_CHUNK = 2**20


def grpc_base_url(service: VisualizationService) -> str:
    """Where browsers reach this server's HTTP port, for references handed out over gRPC."""
    config = service.config
    return config.public_url or f"http://{socket.gethostname()}:{config.http_port}"


def reference_message(page: StoredPage, base_url: str) -> pb.PageReference:
    expires = None
    if page.presigned_expires is not None:
        expires = timestamp_pb2.Timestamp()
        expires.FromDatetime(page.presigned_expires)
    return pb.PageReference(
        id=page.id,
        uri=page.uri,
        size=page.size,
        sha256=page.sha256,
        content_type=page.content_type,
        presigned_url=page.presigned_url or "",
        presigned_url_expires=expires,
        http_url=page.http_url(base_url),
    )


class VisualizationsServicer(kfpviz_pages_pb2_grpc.VisualizationsServicer):
    """Typed references and chunked fetches on top of the shared service."""

    def __init__(self, service: VisualizationService) -> None:
        self._service = service

    async def CreateVisualization(
        self, request: pb.CreateVisualizationRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateVisualizationResponse:
        from .grpc_api import type_name  # the enum-to-name rule lives with KFP's servicer

        visualization = request.visualization
        delivery = self._service.delivery
        try:
            render_request = await self._service.request(
                request.type_name or type_name(visualization.type),
                visualization.source,
                visualization.arguments or "{}",
                self._service.timeout_from_deadline(context.time_remaining()),
            )
            result = await self._service.render(render_request, via="grpc")
            error = result.error or ""
            page: str | StoredPage = result.html
            if delivery is not None:
                page = await delivery.for_typed(result.html, delivery.limit_for(utf8_size(error)))
        except RequestFailed as failure:
            if failure.retry_after:
                context.set_trailing_metadata((("retry-after", str(failure.retry_after)),))
            await context.abort(failure.kind.grpc_code, failure.message)
        if isinstance(page, str):
            return pb.CreateVisualizationResponse(html=page, error=error)
        reference = reference_message(page, grpc_base_url(self._service))
        return pb.CreateVisualizationResponse(reference=reference, error=error)

    async def FetchVisualization(
        self, request: pb.FetchVisualizationRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.PageChunk]:
        delivery = self._service.delivery
        try:
            validate_page_id(request.id)
            if delivery is None:
                raise RequestFailed(ErrorKind.NOT_FOUND, "This server stores no pages")
            reference, chunks = await delivery.open(request.id, via="grpc")
        except RequestFailed as failure:
            await context.abort(failure.kind.grpc_code, failure.message)
        first = reference_message(reference, grpc_base_url(self._service))
        offset = 0
        try:
            async for chunk in chunks:
                for start in range(0, len(chunk), MAX_CHUNK):
                    data = chunk[start : start + MAX_CHUNK]
                    yield pb.PageChunk(reference=first, offset=offset, data=data)
                    first = None
                    offset += len(data)
        except RequestFailed as failure:  # the store went away mid-page
            await context.abort(failure.kind.grpc_code, failure.message)
        if first is not None:  # an empty page still tells the client what it is
            yield pb.PageChunk(reference=first, offset=0, data=b"")


assert READ_CHUNK <= MAX_CHUNK, "store chunks must fit a FetchVisualization message"
