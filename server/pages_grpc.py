"""gRPC: our own `kfpviz.v1.Visualizations` service for pages past KFP's 4 MiB cap.

`CreateVisualization` renders through the same validation and render path as
KFP's `CreateVisualizationV1`, then answers with the page itself when it fits
the inline limit, or with a typed reference to the stored page.
`FetchVisualization` streams a stored page in chunks of at most 1 MiB, the
reference first, so `kfp_viz.pages` can reassemble it and check its SHA-256.
With --serve-profiles both take the request's `namespace`: a profile namespace's page is
stored, and fetched, in that namespace's own folder with its own keys.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from google.protobuf import timestamp_pb2
from kfp_viz.pb import kfpviz_pages_pb2 as pb
from kfp_viz.pb import kfpviz_pages_pb2_grpc

from .addresses import own_base_url
from .errors import ErrorKind, RequestFailed
from .grpc_support import abort, service_name, type_name
from .page_bytes import utf8_size
from .profiles import check_namespace
from .service import VisualizationService
from .store import READ_CHUNK
from .stored_page import StoredPage
from .validation import validate_page_id

SERVICE_NAME = service_name(pb, "Visualizations")
MAX_CHUNK = 2**20


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
        namespace=page.namespace,
    )


class VisualizationsServicer(kfpviz_pages_pb2_grpc.VisualizationsServicer):
    """Typed references and chunked fetches on top of the shared service."""

    def __init__(self, service: VisualizationService) -> None:
        self._service = service
        config = service.config
        self._base_url = own_base_url(config.public_url, config.http_port)

    async def CreateVisualization(
        self,
        request: pb.CreateVisualizationRequest,
        context: grpc.aio.ServicerContext[
            pb.CreateVisualizationRequest, pb.CreateVisualizationResponse
        ],
    ) -> pb.CreateVisualizationResponse:
        visualization = request.visualization
        replies = self._service.replies
        namespace = self._service.namespaces.from_field(request.namespace)
        try:
            render_request = await self._service.request(
                request.type_name or type_name(visualization.type),
                visualization.source,
                visualization.arguments or "{}",
                self._service.timeout_from_deadline(context.time_remaining()),
                namespace,
            )
            result = await self._service.render(render_request, via="grpc")
            error = result.error or ""
            page: str | StoredPage = result.html
            if replies is not None:
                limit = replies.policy.limit_for(utf8_size(error))
                page = await replies.for_typed(result.html, limit, namespace)
        except RequestFailed as failure:
            await abort(context, failure)
        if isinstance(page, str):
            return pb.CreateVisualizationResponse(html=page, error=error)
        reference = reference_message(page, self._base_url)
        return pb.CreateVisualizationResponse(reference=reference, error=error)

    async def FetchVisualization(
        self,
        request: pb.FetchVisualizationRequest,
        context: grpc.aio.ServicerContext[pb.FetchVisualizationRequest, pb.PageChunk],
    ) -> AsyncIterator[pb.PageChunk]:
        replies = self._service.replies
        try:
            validate_page_id(request.id)
            if replies is None:
                raise RequestFailed(ErrorKind.NOT_FOUND, "This server stores no pages")
            namespace = self._service.namespaces.from_field(request.namespace)
            check_namespace(namespace)
            reference, chunks = await replies.pages.open(request.id, "grpc", namespace)
        except RequestFailed as failure:
            await abort(context, failure)
        first: pb.PageReference | None = reference_message(reference, self._base_url)
        offset = 0
        try:
            async for chunk in chunks:
                for start in range(0, len(chunk), MAX_CHUNK):
                    data = chunk[start : start + MAX_CHUNK]
                    yield pb.PageChunk(reference=first, offset=offset, data=data)
                    first = None
                    offset += len(data)
        except RequestFailed as failure:  # the store went away mid-page
            await abort(context, failure)
        if first is not None:  # an empty page still tells the client what it is
            yield pb.PageChunk(reference=first, offset=0, data=b"")


assert READ_CHUNK <= MAX_CHUNK, "store chunks must fit a FetchVisualization message"
