"""The `metrics` type: KFP's metrics JSON as a table of scalar metrics.

`source` names one or more files (a pattern) in the format a KFP v1 step
writes to `/mlpipeline-metrics.json`:
`{"metrics": [{"name": "accuracy-score", "numberValue": 0.9, "format": "PERCENTAGE"}]}`.
`format` is `RAW` (default) or `PERCENTAGE` (shown times 100, with %).
"""

from __future__ import annotations

import json
import math
from typing import Any

from kfp_viz_kernels import sources
from kfp_viz_kernels.viz_errors import DataError
from kfp_viz_kernels.widgets import esc, number, show, unknown_arguments

FORMATS = ("RAW", "PERCENTAGE")
ARGUMENTS: tuple[str, ...] = ()


def render(variables: dict[str, Any], source: str) -> None:
    rows: list[tuple[str, str, float, str]] = []
    for location in sources.match(source):
        metrics = parse_metrics(sources.read_text(location), location)
        rows.extend((location, *metric) for metric in metrics)
    show(metrics_html(rows, title=source), "metrics", notes=unknown_arguments(variables, ARGUMENTS))


def parse_metrics(text: str, location: str) -> list[tuple[str, float, str]]:
    """(name, value, format) of every metric in one metrics JSON document."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"{location!r} is not valid JSON: {error}") from None
    items = document.get("metrics") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise DataError(f'{location!r} must be an object with a "metrics" list')
    metrics = []
    for index, item in enumerate(items):
        where = f"metrics[{index}] in {location!r}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise DataError(f'{where} needs a "name" string')
        value = item.get("numberValue")
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                value = None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise DataError(f'{where} ({item["name"]}) needs a number "numberValue"')
        fmt = str(item.get("format") or "RAW").upper()
        if fmt not in FORMATS:
            raise DataError(f"{where} has format {fmt!r}; expected one of {', '.join(FORMATS)}")
        metrics.append((item["name"], float(value), fmt))
    return metrics


def _shown(value: float, fmt: str) -> str:
    if fmt == "PERCENTAGE" and math.isfinite(value):
        return f"{value * 100:.2f}%"
    return number(value, digits=6)


def metrics_html(rows: list[tuple[str, str, float, str]], title: str = "") -> str:
    several = len({r[0] for r in rows}) > 1
    head = ('<th class="kv-text">file</th>' if several else "") + (
        '<th class="kv-text">metric</th><th>value</th>'
    )
    body = "".join(
        "<tr>"
        + (f'<td class="kv-text">{esc(location)}</td>' if several else "")
        + f'<td class="kv-text">{esc(name)}</td>'
        + f'<td data-value="{value!r}">{_shown(value, fmt)}</td>'
        "</tr>"
        for location, name, value, fmt in rows
    )
    empty = "" if rows else '<p class="kv-note">The metrics list is empty.</p>'
    return (
        (f'<p class="kv-note">{esc(title)}</p>' if title else "")
        + f'<table class="kv-metrics"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        + empty
    )
