"""The `tfma` type: slicing metrics from a TensorFlow Model Analysis evaluation, no TensorFlow.

`source` is TFMA's output folder (or one metrics file in it, or a pattern).
TFMA writes the metrics as a TFRecord of `MetricsForSlice` (file `metrics`,
or sharded `metrics-*`, maybe gzip-compressed); JSON versions of the same
messages (one object, a list, or one per line) are read too. Parquet output
needs pyarrow, which this server does not ship: the page says so.

Stock semantics: without `slicing_column` the Overall slice is shown; with it,
every slice on that column (the page lists the columns there are), after the
Overall slice for reference. The slices are a sortable, filterable table (the
`table` type's widget) with each slice's example count beside its metrics, under
a chart of one chosen metric across the slices, each slice labelled with its
example count. The chart's value axis fits the values (slices of 0.90–0.96 look
different), with the zero baseline a switch away; a metric with confidence
intervals in the input (a `bounded_value`'s bounds, or a `t_distribution_value`'s
95% interval: its value ± Student's t quantile × the bootstrap samples' standard
deviation) shows them as whiskers and in the table. Slices with fewer examples than
`min_examples` (default 100) are flagged, in the chart and above it: a slice of 57
examples at the top of the ranking is more likely luck than a finding.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
from google.protobuf import json_format
from kfp_viz_kernels import sources, tfrecord
from kfp_viz_kernels.columns import frame_formats
from kfp_viz_kernels.tfma_metrics_pb2 import MetricKey, MetricsForSlice, MetricValue
from kfp_viz_kernels.viz_errors import DataError
from kfp_viz_kernels.widgets import (
    assets_of,
    data_table,
    esc,
    finite_or_none,
    json_script,
    number,
    scripts,
    show,
    unknown_arguments,
)
from scipy import stats  # type: ignore[import-untyped]

OVERALL = "Overall"
ARGUMENTS = ("slicing_column", "min_examples")
DEFAULT_MIN_EXAMPLES = 100
CONFIDENCE = 0.95
COUNT_METRICS = ("example_count", "weighted_example_count")
METRICS_PATTERNS = ("metrics", "metrics-*", "metrics.*", "metrics_*")


def render(variables: dict[str, Any], source: str) -> None:
    minimum = _min_examples(variables.get("min_examples"))
    slices = load(source)
    column = variables.get("slicing_column")
    page = slices_html(slices, column, title=source, min_examples=minimum)
    show(page, "tfma", notes=unknown_arguments(variables, ARGUMENTS))


def _min_examples(value: object) -> int:
    if value is None:
        return DEFAULT_MIN_EXAMPLES
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < 1e15:
        raise DataError('"min_examples" must be a number of examples (0 to flag none)')
    return int(value)


def load(source: str) -> list[MetricsForSlice]:
    """Every MetricsForSlice in the evaluation output `source` names."""
    locations = _metrics_files(source)
    found: list[MetricsForSlice] = []
    for location in locations:
        found.extend(_read(location))
    if not found:
        raise DataError(f"The TFMA metrics in {source!r} hold no slices")
    return found


def _metrics_files(source: str) -> list[str]:
    if sources.has_pattern(source):
        return sources.match(source)
    try:
        return sources.match(source)
    except sources.SourceNotFound:
        pass  # a folder, or nothing by that name: look for TFMA's metrics file(s) inside
    for name in METRICS_PATTERNS:
        try:
            return sources.match(sources.join(source, name))
        except sources.SourceNotFound:
            continue
    raise sources.SourceNotFound(
        f"No TFMA metrics file in {source!r}: expected TFMA's evaluation output folder, holding "
        "'metrics' (TFRecord of MetricsForSlice) or 'metrics-*' shards"
    )


def _read(location: str) -> list[MetricsForSlice]:
    name = location.rsplit("/", 1)[-1]
    if name.endswith(".parquet"):
        raise DataError(
            f"{location!r} is TFMA output in Parquet format; reading it needs pyarrow, which this "
            "server does not include. Write the evaluation with TFMA's default TFRecord output"
        )
    data = tfrecord.maybe_gunzip(sources.read_bytes(location))
    if tfrecord.looks_like_tfrecord(data):
        try:
            return [MetricsForSlice.FromString(r) for r in tfrecord.records(data)]
        except Exception as error:
            raise DataError(f"{location!r} is not a TFRecord of MetricsForSlice: {error}") from None
    stripped = data.lstrip()
    if stripped[:1] in (b"{", b"["):
        return _from_json(stripped.decode("utf-8", "replace"), location)
    raise DataError(
        f"{location!r} is neither a TFRecord of TFMA MetricsForSlice nor their JSON form; "
        "reading other TFMA formats needs TensorFlow Model Analysis itself"
    )


def _from_json(text: str, location: str) -> list[MetricsForSlice]:
    try:
        document = json.loads(text)
        documents = document if isinstance(document, list) else [document]
    except json.JSONDecodeError:
        try:
            documents = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as error:
            raise DataError(f"{location!r} is not valid JSON: {error}") from None
    slices = []
    for document in documents:
        try:
            slices.append(
                json_format.ParseDict(document, MetricsForSlice(), ignore_unknown_fields=True)
            )
        except (json_format.ParseError, TypeError, AttributeError) as error:
            raise DataError(
                f"{location!r} holds JSON that is not a MetricsForSlice: {error}"
            ) from None
    return slices


def slice_columns(item: MetricsForSlice) -> tuple[tuple[str, str], ...]:
    """The (column, value) pairs of one slice; () for the Overall slice."""
    pairs = []
    for key in item.slice_key.single_slice_keys:
        kind = key.WhichOneof("kind")
        value = getattr(key, kind) if kind else ""
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        pairs.append((key.column, number(value) if isinstance(value, float) else str(value)))
    return tuple(pairs)


def metric_values(item: MetricsForSlice) -> dict[str, str]:
    """Metric name → shown value, from both the old map and the keyed list TFMA writes."""
    values = {name: _value(v) for name, v in item.metrics.items()}
    for entry in item.metric_keys_and_values:
        values[_key_name(entry.key)] = _value(entry.value)
    return values


def metric_numbers(item: MetricsForSlice) -> dict[str, float]:
    """Metric name → value, for the metrics that are one number (bounded values: the value)."""
    numbers = {name: _number(v) for name, v in item.metrics.items()}
    for entry in item.metric_keys_and_values:
        numbers[_key_name(entry.key)] = _number(entry.value)
    return {name: value for name, value in numbers.items() if value is not None}


def metric_intervals(item: MetricsForSlice) -> dict[str, tuple[float, float]]:
    """Metric name → (low, high) of its confidence interval, for the metrics that have one."""
    found = {name: _interval(v) for name, v in item.metrics.items()}
    for entry in item.metric_keys_and_values:
        found[_key_name(entry.key)] = _interval(entry.value)
    return {name: bounds for name, bounds in found.items() if bounds is not None}


def _interval(value: MetricValue) -> tuple[float, float] | None:
    kind = value.WhichOneof("type")
    if kind == "bounded_value":
        bounded = value.bounded_value
        if bounded.HasField("lower_bound") and bounded.HasField("upper_bound"):
            return bounded.lower_bound.value, bounded.upper_bound.value
        return None
    if kind == "t_distribution_value":
        t = value.t_distribution_value
        freedom = t.sample_degrees_of_freedom.value
        spread = t.sample_standard_deviation.value
        if not (t.HasField("sample_standard_deviation") and freedom > 0 and math.isfinite(spread)):
            return None
        centre = (t.unsampled_value if t.HasField("unsampled_value") else t.sample_mean).value
        half = float(stats.t.ppf((1 + CONFIDENCE) / 2, freedom)) * spread
        return centre - half, centre + half
    return None


def _number(value: MetricValue) -> float | None:
    kind = value.WhichOneof("type")
    if kind == "double_value":
        return value.double_value.value
    if kind == "bounded_value":
        return value.bounded_value.value.value
    if kind == "t_distribution_value":
        t = value.t_distribution_value
        return (t.unsampled_value if t.HasField("unsampled_value") else t.sample_mean).value
    return None


def _key_name(key: MetricKey) -> str:
    name = key.name
    qualifiers = [
        f"{field}={getattr(key.sub_key, field).value}"
        for field in ("class_id", "k", "top_k")
        if key.sub_key.HasField(field)
    ]
    if key.output_name:
        qualifiers.insert(0, f"output={key.output_name}")
    if key.model_name:
        qualifiers.insert(0, f"model={key.model_name}")
    return f"{name} [{', '.join(qualifiers)}]" if qualifiers else name


def _value(value: MetricValue) -> str:
    kind = value.WhichOneof("type")
    if kind == "double_value":
        return number(value.double_value.value)
    if kind == "bounded_value":
        bounded = value.bounded_value
        shown = number(bounded.value.value)
        if bounded.HasField("lower_bound") and bounded.HasField("upper_bound"):
            shown += f" ({number(bounded.lower_bound.value)}, {number(bounded.upper_bound.value)})"
        return shown
    if kind == "bytes_value":
        return value.bytes_value.decode("utf-8", "replace")
    if kind == "array_value":
        array = value.array_value
        items = [*array.float64_values, *array.float32_values, *array.int64_values,
                 *array.int32_values]  # fmt: skip
        return "[" + ", ".join(number(v) for v in items[:8]) + (", …]" if len(items) > 8 else "]")
    if kind == "value_at_cutoffs":
        return ", ".join(f"@{p.cutoff}: {number(p.value)}" for p in value.value_at_cutoffs.values)
    if kind == "confusion_matrix_at_thresholds":
        return f"{len(value.confusion_matrix_at_thresholds.matrices)} thresholds"
    if kind == "t_distribution_value":
        t = value.t_distribution_value
        shown = number(
            (t.unsampled_value if t.HasField("unsampled_value") else t.sample_mean).value
        )
        bounds = _interval(value)
        return shown + (f" ({number(bounds[0])}, {number(bounds[1])})" if bounds else "")
    if kind == "debug_message":
        return value.debug_message
    if kind == "unknown_type":
        return value.unknown_type.error or "unknown"
    return ""


def slices_html(
    slices: list[MetricsForSlice],
    column: str | None,
    title: str = "",
    min_examples: int = DEFAULT_MIN_EXAMPLES,
) -> str:
    columns = sorted({c for item in slices for c, _ in slice_columns(item)})
    overall = [s for s in slices if not slice_columns(s)]
    if column:
        chosen = [s for s in slices if [c for c, _ in slice_columns(s)] == [column]]
        if not chosen:
            available = ", ".join(columns) or "none (only the Overall slice)"
            raise DataError(
                f"slicing_column {column!r} is not a slice of this evaluation; "
                f"slicing columns: {available}"
            )
        chosen = overall[:1] + chosen
    else:
        chosen = overall or slices[:1]
    note = f"Slicing columns: {', '.join(columns)}" if columns else "Only the Overall slice"
    if not column and columns:
        note += ' (set "slicing_column" to see their slices)'
    return (
        (f'<p class="kv-note">{esc(title)}</p>' if title else "")
        + f'<p class="kv-note">{esc(note)}</p>'
        + slice_table(chosen, min_examples)
    )


def slice_table(chosen: list[MetricsForSlice], min_examples: int = DEFAULT_MIN_EXAMPLES) -> str:
    """The chart of one metric across the slices, and the table of every metric."""
    texts = [metric_values(s) for s in chosen]
    numbers = [metric_numbers(s) for s in chosen]
    intervals = [metric_intervals(s) for s in chosen]
    counts = [next((n[m] for m in COUNT_METRICS if m in n), None) for n in numbers]
    names = sorted({name for values in texts for name in values} - set(COUNT_METRICS[:1]))
    numeric = [
        all(name in n for n, t in zip(numbers, texts, strict=True) if name in t) for name in names
    ]
    labels = [", ".join(f"{c}: {v}" for c, v in slice_columns(s)) or OVERALL for s in chosen]
    rows = [
        [label, count] + [
            (n.get(name) if is_number else t.get(name))
            for name, is_number in zip(names, numeric, strict=True)
        ]
        for label, count, n, t in zip(labels, counts, numbers, texts, strict=True)
    ]  # fmt: skip
    bounded = [name for name, is_number in zip(names, numeric, strict=True)
               if is_number and any(name in i for i in intervals)]  # fmt: skip
    for row, found in zip(rows, intervals, strict=True):
        row.extend(_shown_interval(found.get(name)) for name in bounded)
    charted = [[name, 2 + i] for i, name in enumerate(names) if numeric[i]]  # [name, column]
    frame = pd.DataFrame(
        rows, columns=["slice", "examples", *names, *(f"{n} interval" for n in bounded)]
    )
    formats = frame_formats(frame)
    interval_data = {
        str(2 + names.index(name)): [
            [finite_or_none(b[0]), finite_or_none(b[1])] if (b := i.get(name)) else None
            for i in intervals
        ]
        for name in bounded
    }
    table = data_table(
        [str(c) for c in frame.columns],
        formats,
        json.dumps(rows, separators=(",", ":"), allow_nan=False, default=_json_value),
        label="Slices",
        extra={"intervals": interval_data},
    )
    if not charted:
        return table
    small = [label for label, count in zip(labels, counts, strict=True)
             if count is not None and count < min_examples]  # fmt: skip
    flagged = (
        f'<p class="kv-notice" role="note">{len(small)} of {len(labels)} slices have fewer than '
        f"{min_examples:,} examples (marked ⚠ below): their metrics swing more from sample to "
        "sample, so a high or low rank may be luck. Set <code>min_examples</code> to change the "
        "mark.</p>"
        if small
        else ""
    )
    options = "".join(f"<option>{esc(name)}</option>" for name, _ in charted)
    chart_html = (
        flagged
        + '<div class="kv-slice-chart"><div class="kv-bar"><label>Metric <select class="kv-metric">'
        f'{options}</select></label><label>Order <select class="kv-chart-order">'
        '<option value="desc">highest first</option><option value="asc">lowest first</option>'
        '<option value="count">most examples first</option><option value="slice">slice</option>'
        '</select></label><label><input type="checkbox" class="kv-zero"> axis from zero</label>'
        + (
            '<label><input type="checkbox" class="kv-hide-small"> hide slices under '
            f"{min_examples:,} examples</label>"
            if small
            else ""
        )
        + '</div><p class="kv-note kv-axis-note"></p>'
        '<div class="kv-wrap kv-chart" tabindex="0" role="region" aria-label="Metric by slice">'
        '<table class="kv-hbars kv-pin"><thead><tr><th scope="col" class="kv-text">slice</th>'
        '<th scope="col" class="kv-text kv-axis"></th><th scope="col">value</th>'
        '<th scope="col">examples</th></tr></thead><tbody></tbody></table></div></div>'
    )
    # The chart reads the slices from the table's data, so they travel once.
    chart_data = json_script(
        {"charted": charted, "min_examples": min_examples}, cls="kv-chart-data"
    )
    return chart_html + table + chart_data + scripts("tfma.js", skip=assets_of("table.js"))


def _shown_interval(bounds: tuple[float, float] | None) -> str | None:
    return f"{number(bounds[0])} – {number(bounds[1])}" if bounds else None


def _json_value(value: object) -> object:
    return str(value)
