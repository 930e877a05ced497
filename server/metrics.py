"""Prometheus metrics, served as text on GET /metrics.

Render counts and latency are recorded by the service as renders finish; the
pool's state (queue depth, kernels by state, restarts by reason) is read from
the pool at scrape time, so the core keeps plain counters and knows nothing
about Prometheus. Each server owns its registry, so several servers can live
in one process (tests) without clashing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from kfp_viz_kernels import REGISTRY, KernelPool
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class Metrics:
    """The server's metrics registry."""

    def __init__(self, pool: KernelPool[Any], type_names: Collection[str] = REGISTRY) -> None:
        self._type_names = type_names
        """Types the server routes (server/routing.py): other names share one label."""
        disable_created_metrics()  # the *_created series only add noise to scrapes
        self.registry = CollectorRegistry(auto_describe=True)
        self._renders = Counter(
            "kfp_viz_renders",
            "Visualization requests by type and outcome (ok, viz_error, or the failure kind).",
            ["type", "outcome"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "kfp_viz_render_seconds",
            "Time from a valid request to its page or failure, by type.",
            ["type"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_PoolCollector(pool))

    def record(self, type_name: str, outcome: str, seconds: float | None = None) -> None:
        """Count one request; unknown type names share one label to bound cardinality."""
        label = type_name if type_name in self._type_names else "unknown"
        self._renders.labels(type=label, outcome=outcome).inc()
        if seconds is not None:
            self._latency.labels(type=label).observe(seconds)

    def watch_progress(self, hub: Any) -> None:
        """Also export the progress hub's counters (server/progress/hub.py: HubStats)."""
        self.registry.register(_ProgressCollector(hub))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _PoolCollector(Collector):
    """Reads the pool's live state at scrape time."""

    def __init__(self, pool: KernelPool[Any]) -> None:
        self._pool = pool

    def collect(self) -> Iterator[Metric]:
        stats = self._pool.stats()
        yield GaugeMetricFamily(
            "kfp_viz_queue_depth", "Requests waiting for a free kernel.", value=stats.queued
        )
        yield GaugeMetricFamily(
            "kfp_viz_queue_limit",
            "Most requests that may wait (--max-queue).",
            value=stats.max_queue,
        )
        kernels = GaugeMetricFamily("kfp_viz_kernels", "Kernels by state.", labels=["state"])
        for state, count in (
            ("idle", stats.idle),
            ("busy", stats.busy),
            ("starting", stats.starting),
        ):
            kernels.add_metric([state], count)
        yield kernels
        restarts = CounterMetricFamily(
            "kfp_viz_kernel_restarts",
            "Kernels replaced, by reason (died, unresponsive, memory, max_renders, custom_code).",
            labels=["reason"],
        )
        for reason, count in sorted(stats.restarts.items()):
            restarts.add_metric([reason], count)
        yield restarts
        sandbox = self._pool.sandbox_status
        yield GaugeMetricFamily(
            "kfp_viz_kernel_sandbox_landlock_abi",
            "Landlock ABI the kernel sandbox uses (0: none, kernels run with the server's rights).",
            value=sandbox.abi,
        )
        enforced = GaugeMetricFamily(
            "kfp_viz_kernel_sandbox_enforced",
            "1 when the kernel sandbox enforces this part on this machine, else 0.",
            labels=["feature"],
        )
        for feature, on in sandbox.features().items():
            enforced.add_metric([feature], 1 if on else 0)
        yield enforced


class _ProgressCollector(Collector):
    """Reads the progress hub's counters at scrape time."""

    def __init__(self, hub: Any) -> None:
        self._hub = hub

    def collect(self) -> Iterator[Metric]:
        stats = self._hub.stats
        records = CounterMetricFamily(
            "kfp_viz_progress_records",
            "Progress records consumed live, by outcome (ok, malformed, other_namespace; and of "
            "the ok, foreign_namespace: naming another namespace than their run's owner).",
            labels=["outcome"],
        )
        for outcome in ("ok", "malformed", "other_namespace", "foreign_namespace"):
            records.add_metric([outcome], stats.records[outcome])
        yield records
        yield GaugeMetricFamily(
            "kfp_viz_progress_watchers", "Progress streams open (gRPC, SSE).", value=stats.watchers
        )
        yield CounterMetricFamily(
            "kfp_viz_progress_lagged_resyncs",
            "Times a watcher's queue overflowed and it was resynced from the log.",
            value=stats.lagged,
        )
        dropped = getattr(self._hub.source, "dropped", None)  # the in-process bus's retention
        if dropped is not None:
            events = CounterMetricFamily(
                "kfp_viz_progress_bus_dropped_events",
                "Events the in-process bus dropped to stay within its retention, by reason "
                "(count: --progress-bus-retention, bytes: --progress-bus-bytes).",
                labels=["reason"],
            )
            for reason in ("count", "bytes"):
                events.add_metric([reason], dropped[reason])
            yield events
            yield CounterMetricFamily(
                "kfp_viz_progress_bus_dropped_bytes",
                "Bytes of events the in-process bus dropped to stay within its retention.",
                value=dropped["bytes"],
            )
        reachable, _ = self._hub.source.reachable()
        yield GaugeMetricFamily(
            "kfp_viz_progress_upstream_up",
            "1 when the progress source (Kafka) answers, else 0.",
            value=1 if reachable else 0,
        )
