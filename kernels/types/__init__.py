"""The registry of visualization types: the only names a request's `type` may take.

A request's `type` never becomes a path or an import by itself: it is looked up
here, and only a registered name reaches a kernel. Each built-in type is a
module in this package with `render(variables, source)`; the kernel factory
imports all of them once (see `kfp_viz_kernels.zygote`), so their libraries are loaded
before the first request. `custom` has no module: its cell is the user's code.

The stock type names are registered even before their module exists, so
requests for them are validated exactly like the stock server's; a render of
one that has no module yet is refused as not implemented.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

CUSTOM = "custom"

# Names of KFP's `Visualization.Type` enum, lower-cased, as the API server sends them,
# plus `test`, the stock server's dependency-free type.
STOCK_TYPES = ("roc_curve", "tfdv", "tfma", "table", CUSTOM, "test")

# Built-in types beyond the stock set: HTTP `type` names only (KFP's enum stays as it is).
EXTRA_TYPES = ("confusion_matrix", "markdown", "metrics", "html")

# Arguments of built-in types that are code the kernel runs (`eval`), not data: allowed only
# where custom code is (ALLOW_CUSTOM_VISUALIZATIONS).
CODE_ARGUMENTS = {"roc_curve": ("target_lambda",)}


@dataclass(frozen=True)
class VisualizationType:
    """One registered type and how a kernel runs it."""

    name: str
    module: str | None
    """Dotted module path holding `render(variables, source)`; None for `custom` (its cell
    is the user's code) and for types the server renders itself, never in a kernel."""
    implemented: bool
    """False for a stock name whose module this build does not have yet."""
    code_arguments: tuple[str, ...] = ()
    """Arguments whose value is code the type runs (roc_curve's `target_lambda`)."""

    @property
    def is_custom(self) -> bool:
        return self.name == CUSTOM

    def code_given(self, variables: dict[str, Any]) -> str | None:
        """The first argument of `variables` that is code this type would run, or None."""
        return next((name for name in self.code_arguments if variables.get(name)), None)

    @property
    def shows_streams(self) -> bool:
        """Stock semantics: only `custom` shows what the code prints."""
        return self.is_custom

    def cell(self, variables: dict[str, Any]) -> str:
        """The code cell a kernel runs: fixed text for built-ins, the user's lines for custom."""
        if self.is_custom:
            return "\n".join(variables.get("code", []))
        return f"import {self.module} as _viz_type\n_viz_type.render(variables, source)"


def _build_registry() -> dict[str, VisualizationType]:
    registry = {}
    for name in (*STOCK_TYPES, *EXTRA_TYPES):
        module = None if name == CUSTOM else f"{__name__}.{name}"
        implemented = module is None or importlib.util.find_spec(module) is not None
        code = CODE_ARGUMENTS.get(name, ())
        registry[name] = VisualizationType(name, module, implemented, code_arguments=code)
    return registry


REGISTRY: dict[str, VisualizationType] = _build_registry()


def lookup(name: str) -> VisualizationType | None:
    """The registered type called `name`, or None: never a path, never an import."""
    return REGISTRY.get(name)


def implemented_modules() -> list[str]:
    """Modules of the built-in types that exist in this build, for preloading."""
    return [t.module for t in REGISTRY.values() if t.module and t.implemented]
