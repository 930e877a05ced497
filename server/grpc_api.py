"""gRPC: KFP's `api.VisualizationService`, wire-identical, plus health checking and reflection.

`CreateVisualizationV1` goes through the same validation and render path as
HTTP; with --serve-profiles the request's `namespace` says whose render it is.
Failures become status codes (see `kfp_viz_server.errors`) with the same message
HTTP puts in its reason phrase. The call's deadline is the render's timeout.
When the visualization's own code raises, the reply still carries the page
(with the traceback) and `error` holds the exception.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from kfp_viz.pb import kfpviz_pages_pb2_grpc, visualization_pb2, visualization_pb2_grpc

from .addresses import host_port, own_base_url
from .errors import RequestFailed
from .grpc_support import abort, service_name, type_name
from .page_bytes import utf8_size
from .pages_grpc import SERVICE_NAME as PAGES_SERVICE_NAME
from .pages_grpc import VisualizationsServicer
from .service import VisualizationService

SERVICE_NAME = service_name(visualization_pb2, "VisualizationService")


class VisualizationServicer(visualization_pb2_grpc.VisualizationServiceServicer):
    """KFP's visualization RPC on top of the shared service."""

    def __init__(self, service: VisualizationService) -> None:
        self._service = service
        config = service.config
        self._base_url = own_base_url(config.public_url, config.http_port)

    async def CreateVisualizationV1(
        self,
        request: visualization_pb2.CreateVisualizationRequest,
        context: grpc.aio.ServicerContext[
            visualization_pb2.CreateVisualizationRequest, visualization_pb2.Visualization
        ],
    ) -> visualization_pb2.Visualization:
        visualization = request.visualization
        namespace = self._service.namespaces.from_field(request.namespace)
        try:
            render_request = await self._service.request(
                type_name(visualization.type),
                visualization.source,
                visualization.arguments or "{}",  # what KFP's API server sends when empty
                self._service.timeout_from_deadline(context.time_remaining()),
                namespace,
            )
            result = await self._service.render(render_request, via="grpc")
            page = await self._deliver(visualization, result.html, result.error or "", namespace)
        except RequestFailed as failure:
            await abort(context, failure)
        return visualization_pb2.Visualization(
            type=visualization.type,
            source=visualization.source,
            arguments=visualization.arguments,
            html=page,
            error=result.error or "",
        )

    async def _deliver(
        self, visualization: visualization_pb2.Visualization, page: str, error: str, namespace: str
    ) -> str:
        """The page, or (past the inline limit) the small page standing in for the stored one."""
        replies = self._service.replies
        if replies is None:
            return page
        echoed = (visualization.source, visualization.arguments, error)
        sizes = [utf8_size(text) for text in echoed]
        return await replies.for_kfp(page, sizes, self._base_url, namespace)


class GrpcServer:
    """The gRPC server: our services, standard health checking, reflection."""

    def __init__(
        self,
        service: VisualizationService,
        max_message_size: int,
        extra_services: Sequence[tuple[str, Callable[[grpc.aio.Server], None]]] = (),
    ) -> None:
        self.server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", max_message_size),
                ("grpc.max_send_message_length", -1),
                ("grpc.so_reuseport", 0),  # a taken port must fail loudly, not be shared
            ]
        )
        visualization_pb2_grpc.add_VisualizationServiceServicer_to_server(
            VisualizationServicer(service), self.server
        )
        kfpviz_pages_pb2_grpc.add_VisualizationsServicer_to_server(
            VisualizationsServicer(service), self.server
        )
        for _, add_to_server in extra_services:  # our own services (kfpviz.v1.*)
            add_to_server(self.server)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, PAGES_SERVICE_NAME, *[name for name, _ in extra_services],
             health.SERVICE_NAME, reflection.SERVICE_NAME),
            self.server,
        )  # fmt: skip

    def bind(self, host: str, port: int) -> int:
        """Listen on host:port; return the port actually bound."""
        address = host_port(host, port)
        try:
            bound = self.server.add_insecure_port(address)
        except RuntimeError:
            bound = 0
        if not bound:
            raise OSError(f"gRPC could not listen on {address}")
        return bound

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", SERVICE_NAME):
            await self.health.set(name, status)
