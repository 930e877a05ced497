"""Wiring and lifecycle: one asyncio loop carries the kernel pool, HTTP and gRPC.

Start: both ports listen at once (so `GET /` answers while kernels warm up;
/readyz and gRPC health say when rendering can start), and the pool starts its
kernels in the background.

Stop (SIGTERM or SIGINT): health turns NOT_SERVING and the HTTP listener closes;
renders already running get --shutdown-grace seconds to finish, queued ones
are refused with 503 / UNAVAILABLE, then every kernel and the kernel factory
are killed and the runtime folder removed. No kernel process outlives the
server, even one killed with SIGKILL (kernels die with their parent).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import platform
import signal
import socket
import time
from typing import Any

import tornado.httpserver
import tornado.netutil
from kfp_viz_kernels import KernelPool, PoolSettings, ProcessKernels, Renderer
from kfp_viz_kernels.sandbox import not_dumpable

from .addresses import host_port
from .config import Config, container_limits, kernel_connect_ports, kernel_environment
from .grpc_api import GrpcServer
from .http_api import InFlight, make_app
from .http_limits import HEADER_READ_LIMIT, HeaderLimit
from .inline_policy import InlinePolicy
from .metrics import Metrics
from .object_broker import ObjectBroker
from .page_store import PageStore, build_store
from .profile_services import ProfileServices
from .profile_stores import ProfileStores
from .profiles import ProfileRouting
from .progress import Progress
from .progress.leadership import own_namespace
from .replies import Replies
from .routing import Routes, kernel_routes
from .sdk_index import sdk_index_routes
from .service import VisualizationService

log = logging.getLogger(__name__)

READY_LOG_TIMEOUT = 300.0
BACKLOG = 2048
"""Connections waiting to be accepted. Tornado's 128 overflows when a burst of clients (200
progress streams opening at once) meets a busy loop; the kubelet's probe then waits out
TCP's one-then-three-second SYN retries instead of being answered."""
LARGE_BLOCK = 2**20
_M_MMAP_THRESHOLD = -3


def return_large_blocks_to_the_system() -> None:
    """Give every block of LARGE_BLOCK or more its own mapping, so freeing it returns it.

    glibc raises its mmap threshold each time a large mapped block is freed (up to 32
    MiB), after which blocks of that size come from the heap, and memory freed there
    mostly stays with the process: after three 30 MB forms the server kept 170 MB it no
    longer used. A fixed threshold keeps what a large request took for that request only.
    """
    if platform.system() == "Linux":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK)


def pool_settings(config: Config) -> PoolSettings:
    return PoolSettings(
        size=config.pool_size,
        max_queue=config.max_queue,
        max_renders=config.max_renders,
        memory_limit=config.kernel_memory_limit,
        reuse_custom_kernels=config.reuse_custom_kernels,
        environment=kernel_environment(config),
        passed_variables=config.kernel_env,
        max_output=config.max_output_size,
        sandbox=config.kernel_sandbox,
        private_folders=(config.store_folder,),
        connect_ports=kernel_connect_ports(config),
    )


class VizServer:
    """The whole server process: pool, service, HTTP and gRPC endpoints."""

    def __init__(self, config: Config) -> None:
        self.config = config
        # One server for every profile namespace (server/profiles.py), when asked.
        namespace = own_namespace("")
        self.namespaces = ProfileRouting(config.serve_profiles, namespace)
        profiles = ProfileStores(config, config.profile_keys_ttl) if config.serve_profiles else None
        self.profile_services = None
        if config.profile_services:
            self.profile_services = ProfileServices(
                own_namespace=namespace, target=config.profile_service_target
            )
        self.objects = ObjectBroker(config, profiles)
        settings = pool_settings(config)
        kernels = ProcessKernels(settings, object_access=self.objects.listen)
        self.pool = KernelPool(settings, kernels)
        self.progress = Progress.from_config(config)
        # Every type and what renders it, fixed here (server/routing.py).
        routes = Routes([*kernel_routes(Renderer(self.pool).render), self.progress.route()])
        self.metrics = Metrics(self.pool, type_names=routes)
        self.metrics.watch_progress(self.progress.hub)
        self.pages = PageStore(config, build_store(config), self.metrics.registry, profiles)
        replies = Replies(InlinePolicy(config.inline_limit), self.pages, self.metrics.registry)
        self.service = VisualizationService(
            config, routes, self.metrics, replies, self.namespaces, profiles
        )
        self.grpc = GrpcServer(
            self.service, config.max_body_size, extra_services=[self.progress.grpc_service()]
        )
        self._http: tornado.httpserver.HTTPServer | None = None
        self._in_flight = InFlight()
        self._watcher: asyncio.Task[None] | None = None
        self._started = time.monotonic()

    async def start(self) -> None:
        """Listen on both ports (failing fast if one is taken), then start the kernels."""
        self._started = time.monotonic()
        try:
            sockets = tornado.netutil.bind_sockets(
                self.config.http_port, self.config.host, family=socket.AF_UNSPEC, backlog=BACKLOG
            )
        except OSError as error:
            address = host_port(self.config.host, self.config.http_port)
            raise OSError(f"HTTP cannot listen on {address}: {error.strerror}") from error
        app = make_app(
            self.service,
            self.pool,
            self.metrics,
            self.config.max_body_size,
            self._in_flight,
            # live progress (server/progress), the SDK's package index (server/sdk_index.py)
            extra_routes=[*self.progress.http_routes, *sdk_index_routes(self.config.sdk_dist_dir)],
            progress_status=self.progress.status,
            sizing=sizing_report(self.config),
            profiles_status=self.profiles_status,
        )
        self._http = tornado.httpserver.HTTPServer(
            HeaderLimit(app),  # 431 for oversized headers (server/http_limits.py)
            # Bodies are limited (with a 413) by the handlers themselves, which stream them.
            max_body_size=2**62,
            max_header_size=HEADER_READ_LIMIT,
        )
        self._http.add_sockets(sockets)
        grpc_port = self.grpc.bind(self.config.host, self.config.grpc_port)
        self.progress.start()
        if self.profile_services is not None:
            self.profile_services.start()
        sandbox = self.pool.sandbox_status
        (log.info if sandbox.files and sandbox.scopes else log.warning)(
            "kernel sandbox: %s", sandbox.describe()
        )
        self.pool.start()
        self.pages.start()
        await self.grpc.set_serving(False)
        await self.grpc.server.start()
        http_port = sockets[0].getsockname()[1]
        log.info(
            "listening: HTTP %s:%d, gRPC %s:%d; starting %d kernels",
            self.config.host,
            http_port,
            self.config.host,
            grpc_port,
            self.config.pool_size,
        )
        sizing = sizing_report(self.config)
        log.info(
            "pool size %d (%s); kernel memory limit %s (%s); container: %s",
            self.config.pool_size,
            sizing["pool_size"],
            sizing["kernel_memory_limit"]["value"],
            sizing["kernel_memory_limit"]["origin"],
            sizing["container"],
        )
        self._watcher = asyncio.create_task(self._watch_readiness())
        # Everything imported and built so far lives as long as the process: keep it out of
        # the cyclic GC's full collections, whose pauses otherwise reach 100 ms and show as
        # latency spikes (measured with live progress, bench/progress_bench.py).
        gc.freeze()

    async def stop(self) -> None:
        grace = self.config.shutdown_grace
        log.info("shutting down: running renders get up to %g s", grace)
        if self._watcher is not None:
            self._watcher.cancel()
        await self.grpc.set_serving(False)
        if self._http is not None:
            self._http.stop()
        await self.progress.close()  # ends progress streams, which would hold up the stop
        if self.profile_services is not None:
            await self.profile_services.close()
        await asyncio.gather(self.pool.close(grace), self.grpc.server.stop(grace))
        await self._in_flight.wait_idle(timeout=5.0)  # replies of renders that just ended
        await self.pages.close()
        self.objects.close()
        if self._http is not None:
            await self._http.close_all_connections()
        log.info("stopped")

    def profiles_status(self) -> dict[str, Any] | None:
        """The shared layout's state, for /readyz (None when --serve-profiles is off)."""
        if not self.namespaces.enabled:
            return None
        services = self.profile_services.status() if self.profile_services else None
        return {"own_namespace": self.namespaces.own_namespace, "services": services}

    async def _watch_readiness(self) -> None:
        """Log time-to-ready once, and keep gRPC health in step with the pool."""
        if await self.pool.wait_ready(READY_LOG_TIMEOUT):
            log.info("ready: first kernel up %.2f s after start", time.monotonic() - self._started)
        serving = None
        while True:
            ready = self.pool.stats().ready
            if ready != serving:
                await self.grpc.set_serving(ready)
                serving = ready
            await asyncio.sleep(0.5)


def sizing_report(config: Config) -> dict[str, Any]:
    """How the pool and each kernel were sized, and what the container allows (for /readyz)."""
    memory = config.kernel_memory_limit
    return {
        "pool_size": config.origins.get("pool_size", "default"),
        "kernel_memory_limit": {
            "value": f"{memory // 2**20} MiB" if memory else "none",
            "origin": config.origins.get("kernel_memory_limit", "default"),
        },
        "container": container_limits().describe(),
    }


async def serve(config: Config) -> None:
    """Run until SIGTERM or SIGINT, then stop cleanly; a repeated signal does not cut it short."""
    not_dumpable()  # the object store's keys are in this process: no same-uid process reads it
    return_large_blocks_to_the_system()
    server = VizServer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await server.start()
        await stop.wait()
    finally:
        await server.stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            # Stopped: ignore further signals up to exit. Merely removing the handler would
            # restore the default action, and a late second SIGTERM would then kill the
            # process during its last steps with status -15 instead of a clean 0.
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)
            signal.signal(signum, signal.SIG_IGN)
