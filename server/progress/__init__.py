"""Live pipeline progress: events from Kafka (or an in-process bus) to watchers.

(the event schema and its cursor are the SDK's: kfp_viz.events)
source.py        what the hub reads (interface) and the in-process bus
kafka_source.py  the Kafka topic, read in background threads (every partition, no group)
hub.py           fan-out to watchers with bounded queues, history, resume, lag and resync
runs.py          the runs seen: owner (first event's namespace, or its Workflow's), status, times
access.py        whose run it is, and may this caller write into it or read it (tenancy)
http_access.py   what progress HTTP handlers share: JSON errors, the checks, CORS
publish.py       taking events in (namespace rule, upstream failures)
checks.py        schema errors as refusals; watch requests checked once for both protocols
grpc_service.py  kfpviz.v1.Progress: WatchProgress, PublishProgress
http_routes.py   POST /progress/<run>, GET /progress/<run> (live page), .../events (SSE)
compare.py       GET /progress?runs=A,B: several runs overlaid (the runs checked); without
                 runs, the run list page
run_list.py      GET /progress/runs (JSON): the runs the caller may read, newest first,
                 filtered; /progress/runs/<run>: one run, or 404 while none is known
urls.py          where the pages' links and streams lead: relative to the page (any path
                 prefix), or under PUBLIC_URL for the snapshot
page.py          the pages' templates (live page, comparison, the `progress` snapshot:
                 templates/live.js, live.css and uPlot inlined; the run list: runs.html,
                 runs.js, live.css)
view.py          the `progress` visualization type through KFP's stock request shape (its
                 route, server/routing.py, also takes `progress://RUN` sources of any type)
argo_workflow.py what an Argo Workflow says about its steps (pure)
argo_source.py   zero-code step status: watching Workflows
leadership.py    which replica publishes what the server observes (a Lease, with Kafka)
tensorboard_source.py  zero-code metrics: tailing runs' TensorBoard event files
run_index.py     where each run begins in the topic, in a compacted topic all replicas read
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc

from ..auth import Tenancy, tenancy_from_config
from ..config import Config
from ..http_base import HandlerRule
from ..object_broker import object_store_client
from ..routing import Route
from .access import KubeWorkflows, RunAccess
from .argo_source import ArgoStatus
from .grpc_service import SERVICE_NAME, ProgressServicer, add_to_server
from .http_routes import routes
from .hub import Delivered, ProgressHub
from .kafka_source import KafkaSource
from .leadership import Leadership, own_namespace
from .page import LivePage
from .publish import Publisher
from .run_index import RunIndex
from .run_list import run_list_routes
from .source import LocalBus, Source
from .tensorboard_source import LocalFolder, LogPattern, ObjectFolder, TensorBoardLogs
from .view import PROGRESS, SCHEME, ProgressView

__all__ = ["Progress", "ProgressHub"]


class Feed(Protocol):
    """Something the progress feature runs beside the hub (the run index, the Lease, the
    sources the server publishes from): started and stopped with it, reported in /readyz."""

    name: str

    def start(self) -> None: ...

    async def close(self) -> None: ...

    def status(self) -> dict[str, Any]: ...


@dataclass
class Progress:
    """Everything the progress feature adds to the server, wired from the config."""

    hub: ProgressHub
    publisher: Publisher
    view: ProgressView
    servicer: ProgressServicer
    http_routes: list[HandlerRule]
    access: RunAccess
    feeds: list[Feed] = field(default_factory=list)
    """Sources the server itself publishes from (Argo, TensorBoard logs); started with it."""

    @classmethod
    def from_config(cls, config: Config, tenancy: Tenancy | None = None) -> Progress:
        tenancy = tenancy or tenancy_from_config(config)
        source: Source
        index = None
        if config.kafka_bootstrap_servers:
            source = KafkaSource(config.kafka_bootstrap_servers, config.kafka_progress_topic)
            index_topic = config.kafka_run_index_topic.format(topic=config.kafka_progress_topic)
            if index_topic != "off":
                index = RunIndex(source.bootstrap, source.topic, index_topic)
        else:
            source = LocalBus(
                retention=config.progress_bus_retention,
                retention_bytes=config.progress_bus_bytes,
            )
        hub = ProgressHub(
            source,
            namespace=config.namespace,
            queue_size=config.progress_queue_size,
            run_index=index,
            owners_only=not tenancy.open,
        )
        publisher = Publisher(hub)
        page = LivePage()
        workflows = None
        if config.argo_workflows and not tenancy.open:  # the Workflow names the run's owner
            workflows = KubeWorkflows(own_namespace(config.namespace))
        access = RunAccess(tenancy, hub, workflows)
        heartbeat = config.progress_heartbeat
        return cls(
            hub=hub,
            publisher=publisher,
            view=ProgressView(
                hub, page, config.public_url, access, own_namespace(config.namespace)
            ),
            servicer=ProgressServicer(hub, publisher, heartbeat, access),
            http_routes=[
                *run_list_routes(hub, access),  # before `/progress/<run>`
                *routes(hub, publisher, page, heartbeat, access),
            ],
            access=access,
            feeds=([index] if index else []) + feeds(config, hub),
        )

    def start(self) -> None:
        self.hub.start()
        for feed in self.feeds:
            feed.start()

    async def close(self) -> None:
        for feed in self.feeds:
            await feed.close()
        await self.hub.close()

    def status(self) -> dict[str, Any]:
        """For /readyz: the hub, and each feed the server publishes from."""
        return {
            **self.hub.status(),
            "tenancy": self.access.tenancy.status(),
            **{feed.name: feed.status() for feed in self.feeds},
        }

    def route(self) -> Route:
        """The `progress` type, rendered by the view (and `progress://` sources of any type)."""
        return Route(PROGRESS, self.view.render, scheme=SCHEME)

    def grpc_service(self) -> tuple[str, Callable[[grpc.aio.Server], None]]:
        """(full service name, function adding it to a grpc.aio server)."""
        return SERVICE_NAME, lambda server: add_to_server(self.servicer, server)


def feeds(config: Config, hub: ProgressHub) -> list[Feed]:
    """The sources the server publishes from itself, as the settings ask (the first one says
    whether this replica publishes)."""
    if not (config.argo_workflows or config.tensorboard_logs):
        return []
    # With Kafka, replicas share the log: one publishes, after reading what is there.
    shared_log = bool(config.kafka_bootstrap_servers)
    namespace = own_namespace(config.namespace)
    leadership = Leadership(elect=shared_log, namespace=namespace)

    def history(run_id: str, run_namespace: str) -> Awaitable[list[Delivered]]:
        return hub.history(run_id, namespace=run_namespace)

    seen = history if shared_log else None
    found: list[Feed] = [leadership]
    if config.argo_workflows:
        found.append(ArgoStatus(hub.publish, leadership, namespace=namespace, history=seen))
    if config.tensorboard_logs:
        pattern = LogPattern.parse(config.tensorboard_logs)
        folder = (
            LocalFolder(pattern)
            if pattern.scheme == "local"
            else ObjectFolder(pattern, object_store_client(config, pattern.scheme))
        )
        found.append(
            TensorBoardLogs(folder, hub.publish, leadership, namespace=namespace, history=seen)
        )
    return found
