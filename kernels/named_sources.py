"""Several sources on one page: `source` plus the `compare` argument, each with a short name.

KFP's request has a single `source`; a page that compares runs (ROC curves of two
models, training against evaluation statistics) takes the others from `arguments`:
`"compare": ["minio://.../run-2/predictions", {"source": "...", "name": "baseline"}]`,
and `"name"` for the main source's own label. Unnamed sources are labelled by what tells
them apart: their paths without the folders they share at the start and the end
(`runs/a/predictions` and `runs/b/predictions` become `a` and `b`).
"""

from __future__ import annotations

from typing import Any

from .viz_errors import DataError

PATTERN_CHARS = "*?["


def named_sources(source: str, variables: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, source) for `source` and every source in `compare`, in that order."""
    compare = variables.get("compare", [])
    if isinstance(compare, str | dict):
        compare = [compare]
    if not isinstance(compare, list):
        raise DataError('"compare" must be a list of sources (or {"source": ..., "name": ...})')
    given: list[tuple[str | None, str]] = [(_name(variables.get("name"), '"name"'), source)]
    for index, item in enumerate(compare):
        if isinstance(item, str) and item:
            given.append((None, item))
        elif isinstance(item, dict) and isinstance(item.get("source"), str) and item["source"]:
            given.append((_name(item.get("name"), f'"compare"[{index}].name'), item["source"]))
        else:
            raise DataError(
                f'"compare"[{index}] must be a source or {{"source": ..., "name": ...}}; '
                f"it is {item!r}"
            )
    labels = short_names([s for _, s in given])
    return [(name or label, s) for (name, s), label in zip(given, labels, strict=True)]


def _name(value: object, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{what} must be a non-empty string")
    return value.strip()


def short_names(sources: list[str]) -> list[str]:
    """Labels for `sources`: what differs between their paths, or one source's last part."""
    parts = [[p for p in s.rstrip("/").split("/") if p] or [s] for s in sources]
    if len(sources) == 1:
        plain = [p for p in parts[0] if not any(c in p for c in PATTERN_CHARS)]
        return [plain[-1] if plain else parts[0][-1]]
    lead = _shared(parts)
    trail = _shared([list(reversed(p[lead:])) for p in parts])
    labels = ["/".join(p[lead : len(p) - trail] or p[-1:]) for p in parts]
    return labels if len(set(labels)) == len(labels) else list(sources)


def _shared(lists: list[list[str]]) -> int:
    """How many leading items every list has in common, leaving each at least one."""
    count = 0
    while (
        all(len(items) > count + 1 for items in lists)
        and len({items[count] for items in lists}) == 1
    ):
        count += 1
    return count
