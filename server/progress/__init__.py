"""Live pipeline progress: events from Kafka (or an in-process bus) to watchers.

(the event schema and its cursor are the SDK's: kfp_viz.events)
source.py        what the hub reads (interface) and the in-process bus
kafka_source.py  the Kafka topic, read in background threads (every partition, no group)
hub.py           fan-out to watchers with bounded queues, history, resume, lag and resync
publish.py       taking events in (namespace rule, upstream failures)
checks.py        schema errors as refusals; watch requests checked once for both protocols
grpc_service.py  kfpviz.v1.Progress: WatchProgress, PublishProgress
http_routes.py   POST /progress/<run>, GET /progress/<run> (live page), .../events (SSE)
compare.py       GET /progress?runs=A,B: several runs overlaid (the runs checked)
page.py          the pages' template (live page, comparison, the `progress` snapshot) with
                 templates/live.js, live.css and uPlot inlined
view.py          the `progress` visualization type through KFP's stock request shape (its
                 route, server/routing.py, also takes `progress://RUN` sources of any type)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import grpc

from ..config import Config
from ..http_base import HandlerRule
from ..routing import Route
from .grpc_service import SERVICE_NAME, ProgressServicer, add_to_server
from .http_routes import routes
from .hub import ProgressHub
from .kafka_source import KafkaSource
from .page import LivePage
from .publish import Publisher
from .source import LocalBus, Source
from .view import PROGRESS, SCHEME, ProgressView

__all__ = ["Progress", "ProgressHub"]


@dataclass
class Progress:
    """Everything the progress feature adds to the server, wired from the config."""

    hub: ProgressHub
    publisher: Publisher
    view: ProgressView
    servicer: ProgressServicer
    http_routes: list[HandlerRule]

    @classmethod
    def from_config(cls, config: Config) -> Progress:
        source: Source
        if config.kafka_bootstrap_servers:
            source = KafkaSource(config.kafka_bootstrap_servers, config.kafka_progress_topic)
        else:
            source = LocalBus(
                retention=config.progress_bus_retention,
                retention_bytes=config.progress_bus_bytes,
            )
        hub = ProgressHub(source, namespace=config.namespace, queue_size=config.progress_queue_size)
        publisher = Publisher(hub)
        page = LivePage()
        return cls(
            hub=hub,
            publisher=publisher,
            view=ProgressView(hub, page, config.public_url),
            servicer=ProgressServicer(hub, publisher, config.progress_heartbeat),
            http_routes=routes(hub, publisher, page, config.progress_heartbeat),
        )

    def route(self) -> Route:
        """The `progress` type, rendered by the view (and `progress://` sources of any type)."""
        return Route(PROGRESS, self.view.render, scheme=SCHEME)

    def grpc_service(self) -> tuple[str, Callable[[grpc.aio.Server], None]]:
        """(full service name, function adding it to a grpc.aio server)."""
        return SERVICE_NAME, lambda server: add_to_server(self.servicer, server)
