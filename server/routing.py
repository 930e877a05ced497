"""Which code renders which visualization type: a table built when the server is wired.

Every type of the kernels' registry renders on the kernel pool; edge types (`progress`,
from the progress hub) render in the server itself. The service looks a request's type up
here and nowhere else, so no type name is a special case on the request path, and a type
the table does not hold is refused by validation like any unknown name.

A route may also claim a source scheme: a request of any predefined type (not `custom`,
which stays custom code) whose source starts with it is routed to the route's type. That is
how the KFP UI, which offers only KFP's enum types, reaches an edge type:
`type=table, source=progress://RUN_ID`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from kfp_viz_kernels import CUSTOM, REGISTRY, RenderRequest, RenderResult, VisualizationType

RenderFunction = Callable[[RenderRequest], Awaitable[RenderResult]]
"""Renders a validated request into a page; RenderError or RequestFailed when it cannot."""


@dataclass(frozen=True)
class Route:
    """A type and what renders it."""

    type: VisualizationType
    render: RenderFunction
    scheme: str | None = None
    """A source prefix (`progress://`) that routes a request of any predefined type here."""


class Routes(Mapping[str, Route]):
    """The routes by type name; built once, read on every request."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._by_name: dict[str, Route] = {}
        for route in routes:
            if route.type.name in self._by_name:
                raise ValueError(f"two routes for the type {route.type.name!r}")
            self._by_name[route.type.name] = route
        self._schemes = [route for route in self._by_name.values() if route.scheme]

    def __getitem__(self, name: str) -> Route:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def type_named(self, name: str) -> VisualizationType | None:
        """The routed type called `name`, or None (validation refuses it)."""
        route = self._by_name.get(name)
        return route.type if route is not None else None

    def alias(self, type_name: str | None, source: str | None) -> tuple[str | None, str | None]:
        """The type and source a request really asks for, after source schemes."""
        requested = (type_name or "").strip()
        if requested in ("", CUSTOM):
            return type_name, source
        stripped = (source or "").strip()
        for route in self._schemes:
            assert route.scheme is not None
            if stripped.startswith(route.scheme):
                return route.type.name, stripped[len(route.scheme) :]
        return type_name, source


def kernel_routes(
    render: RenderFunction, types: Mapping[str, VisualizationType] = REGISTRY
) -> list[Route]:
    """Every registered kernel type, rendered by `render` (the kernel pool's renderer)."""
    return [Route(viz_type, render) for viz_type in types.values()]
