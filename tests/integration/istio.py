"""Istio for the deploy tests: its real CRDs in the kube-apiserver, and which requests a set of
AuthorizationPolicies admits.

The CRDs are Istio's own (`kubernetes/customresourcedefinitions.gen.yaml` of the Go module
istio.io/api, fetched by scripts/lib/deps.sh), so the API server checks our VirtualService and
AuthorizationPolicies against Istio's schemas and validation rules, as a cluster would.

No Istio proxy runs here, so `admits` restates the part of Istio's ALLOW semantics the
manifests use (istio.io/latest/docs/reference/config/security/authorization-policy): a request
is admitted when any rule of any ALLOW policy selecting the workload matches it; a rule
matches when one of its `from` sources, one of its `to` operations and every `when`
condition match (a missing part matches anything); a path or value is exact, `prefix*`,
`*suffix`, or `*` (present).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services import KubeApiServer, cached_tool

_installed: set[str] = set()


def install_crds(kube: KubeApiServer) -> None:
    """Istio's CRDs, applied once per API server (server-side: they are too large for the
    last-applied annotation) and waited for until the API server serves them."""
    if kube.url in _installed:
        return
    path = cached_tool("KFP_VIZ_ISTIO_CRDS", "istio-api-*/customresourcedefinitions.gen.yaml")
    kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", path)
    kube.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", path)
    _installed.add(kube.url)


@dataclass(frozen=True)
class Request:
    """A request as an AuthorizationPolicy sees it (headers by lower-case name)."""

    method: str
    path: str
    principal: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def admits(policies: list[dict[str, Any]], labels: dict[str, str], request: Request) -> bool:
    """Whether the ALLOW policies among `policies` that select a pod with `labels` admit
    `request`. (The manifests tested here use ALLOW only: a DENY would be an error here.)"""
    selecting = [p for p in policies if _selects(p, labels)]
    assert all(p["spec"].get("action", "ALLOW") == "ALLOW" for p in selecting), selecting
    return any(_rule(rule, request) for p in selecting for rule in p["spec"].get("rules", []))


def _selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = policy["spec"].get("selector", {}).get("matchLabels", {})
    return all(labels.get(key) == value for key, value in wanted.items())


def _rule(rule: dict[str, Any], request: Request) -> bool:
    sources = [item["source"] for item in rule.get("from", [])]
    operations = [item["operation"] for item in rule.get("to", [])]
    return (
        (not sources or any(_source(s, request) for s in sources))
        and (not operations or any(_operation(o, request) for o in operations))
        and all(_condition(c, request) for c in rule.get("when", []))
    )


def _source(source: dict[str, Any], request: Request) -> bool:
    unknown = set(source) - {"principals"}
    assert not unknown, f"not restated here: source fields {unknown}"
    return _any(source.get("principals"), request.principal)


def _operation(operation: dict[str, Any], request: Request) -> bool:
    unknown = set(operation) - {"methods", "paths"}
    assert not unknown, f"not restated here: operation fields {unknown}"
    return _any(operation.get("methods"), request.method) and _any(
        operation.get("paths"), request.path
    )


def _condition(condition: dict[str, Any], request: Request) -> bool:
    key = condition["key"]
    assert key.startswith("request.headers[") and key.endswith("]"), f"not restated: {key}"
    value = request.headers.get(key[len("request.headers[") : -1].lower())
    if value is None:
        return "values" not in condition  # a missing header matches only notValues
    matched = any(_match(p, value) for p in condition.get("values", ["*"]))
    excluded = any(_match(p, value) for p in condition.get("notValues", []))
    return matched and not excluded


def _any(patterns: list[str] | None, value: str) -> bool:
    return patterns is None or any(_match(p, value) for p in patterns)


def _match(pattern: str, value: str) -> bool:
    if pattern == "*":
        return bool(value)
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern
