"""Explicit routing (server/routing.py): every type and what renders it, fixed at wiring time;
the service and validation know types only through it."""

from __future__ import annotations

import asyncio

import pytest
from kfp_viz_kernels import REGISTRY, RenderRequest, RenderResult, VisualizationType
from kfp_viz_server.config import load_config
from kfp_viz_server.errors import ErrorKind, RequestFailed
from kfp_viz_server.routing import Route, Routes, kernel_routes
from kfp_viz_server.service import VisualizationService

EDGE = VisualizationType("edge", module=None, implemented=True)


class Recorder:
    """A render function that says which route it is and remembers what it was given."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests: list[RenderRequest] = []

    async def __call__(self, request: RenderRequest) -> RenderResult:
        self.requests.append(request)
        return RenderResult(f"<p>{self.name}</p>", None, None, 0.01)


class Counted:
    """Stands in for server.metrics.Metrics: the service only records outcomes."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str]] = []

    def record(self, type_name: str, outcome: str, seconds: float | None = None) -> None:
        self.records.append((type_name, outcome))


def service(routes: Routes, *flags: str) -> tuple[VisualizationService, Counted]:
    metrics = Counted()
    return VisualizationService(load_config(list(flags), {}), routes, metrics), metrics  # type: ignore[arg-type]


def test_every_registered_type_is_routed_to_the_kernels_and_no_edge_type_is():
    kernels = Recorder("kernels")
    routes = Routes(kernel_routes(kernels))
    assert set(routes) == set(REGISTRY)
    assert "progress" not in routes  # the edge type is the progress hub's route, not the core's
    assert all(routes[name].render is kernels for name in routes)


def test_two_routes_for_one_type_are_refused_at_wiring():
    with pytest.raises(ValueError, match="two routes for the type 'edge'"):
        Routes([Route(EDGE, Recorder("a")), Route(EDGE, Recorder("b"))])


def test_a_request_goes_to_its_types_route_and_nowhere_else():
    kernels, edge = Recorder("kernels"), Recorder("edge")
    viz, metrics = service(Routes([*kernel_routes(kernels), Route(EDGE, edge)]))

    async def run(type_name: str) -> RenderResult:
        request = await viz.request(type_name, "src", "{}", 5.0)
        return await viz.render(request, via="test")

    assert asyncio.run(run("edge")).html == "<p>edge</p>"
    assert asyncio.run(run("test")).html == "<p>kernels</p>"
    assert [r.type.name for r in edge.requests] == ["edge"]
    assert [r.type.name for r in kernels.requests] == ["test"]
    assert metrics.records == [("edge", "ok"), ("test", "ok")]


def test_a_type_without_a_route_is_unknown_like_any_other_name():
    viz, metrics = service(Routes(kernel_routes(Recorder("kernels"))))
    with pytest.raises(RequestFailed) as refused:
        asyncio.run(viz.request("edge", "src", "{}", 5.0))
    assert refused.value.kind is ErrorKind.INVALID
    assert refused.value.message == "Unknown visualization type: edge"
    assert metrics.records == [("edge", "invalid")]


def test_a_scheme_routes_any_predefined_type_but_never_custom():
    routes = Routes([*kernel_routes(Recorder("k")), Route(EDGE, Recorder("e"), "edge://")])
    assert routes.alias("table", " edge://run-1?x=1 ") == ("edge", "run-1?x=1")
    assert routes.alias("roc_curve", "edge://r") == ("edge", "r")
    assert routes.alias("custom", "edge://r") == ("custom", "edge://r")
    assert routes.alias("table", "gs://bucket/edge://") == ("table", "gs://bucket/edge://")
    assert routes.alias(None, "edge://r") == (None, "edge://r")


def test_each_type_declares_its_code_arguments():
    assert REGISTRY["roc_curve"].code_arguments == ("target_lambda",)
    assert REGISTRY["roc_curve"].code_given({"target_lambda": "lambda r: 1"}) == "target_lambda"
    assert REGISTRY["roc_curve"].code_given({"target_lambda": ""}) is None
    assert all(not t.code_arguments for name, t in REGISTRY.items() if name != "roc_curve")


def test_a_declared_code_argument_of_any_type_needs_custom_code_on():
    scripted = VisualizationType("scripted", "x.scripted", True, code_arguments=("rule",))
    routes = Routes([*kernel_routes(Recorder("k")), Route(scripted, Recorder("s"))])
    viz, _ = service(routes)
    with pytest.raises(RequestFailed) as refused:
        asyncio.run(viz.request("scripted", "src", '{"rule": "1"}', 5.0))
    assert refused.value.kind is ErrorKind.FORBIDDEN
    assert refused.value.message.startswith("scripted's rule is Python code")
    allowed, _ = service(routes, "--allow-custom-visualizations")
    request = asyncio.run(allowed.request("scripted", "src", '{"rule": "1"}', 5.0))
    assert request.variables == {"rule": "1"}
