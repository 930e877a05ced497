"""The `tfdv` type: TFDV feature statistics as tables of numeric and categorical features.

`source` is a statistics file (`DatasetFeatureStatisticsList`: binary, TFRecord,
text format, gzip or not) or a pattern of them, read with `tensorflow-metadata`'s
messages and no TensorFlow. A CSV source (`*.csv`) gets its statistics computed
first, as the stock server's `tfdv` type did. Each dataset shows its features:
counts, missing share, numeric summaries and histograms, string summaries and
top values.
"""

from __future__ import annotations

import pandas as pd

from kernels import sources
from kernels.csvdata import read_csvs
from kernels.feature_stats import Feature, Stats, feature_name, from_frame, parse
from kernels.widgets import bar_chart, esc, number, show

NUMERIC_TYPES = (Feature.INT, Feature.FLOAT)
STRING_TYPES = (Feature.STRING, Feature.BYTES)


def render(variables: dict, source: str) -> None:
    show(stats_html(load(source), title=source), "tfdv")


def load(source: str) -> Stats:
    if source.lower().endswith(".csv"):
        return from_frame(read_csvs(source), name=source.rsplit("/", 1)[-1])
    stats = Stats()
    for location in sources.match(source):
        stats.datasets.extend(parse(sources.read_bytes(location), location).datasets)
    return stats


def stats_html(stats: Stats, title: str = "") -> str:
    parts = [f'<p class="kv-note">{esc(title)}</p>' if title else ""]
    for dataset in stats.datasets:
        parts.append(_dataset_html(dataset))
    return "".join(parts)


def _dataset_html(dataset) -> str:
    numeric = [f for f in dataset.features if f.WhichOneof("stats") == "num_stats"]
    strings = [f for f in dataset.features if f.WhichOneof("stats") in ("string_stats",)]
    others = [f for f in dataset.features if f not in numeric and f not in strings]
    name = dataset.name or "dataset"
    html = [
        f'<div class="kv-section kv-dataset"><h3>{esc(name)}</h3>'
        f'<p class="kv-note">{number(dataset.num_examples)} examples, '
        f"{len(dataset.features)} features</p>"
    ]
    if numeric:
        html.append(_numeric_table(numeric, dataset.num_examples))
    if strings:
        html.append(_string_table(strings, dataset.num_examples))
    if others:
        listed = ", ".join(
            f"{esc(feature_name(f))} ({Feature.Type.Name(f.type).lower()})" for f in others
        )
        html.append(f'<p class="kv-note">Other features: {listed}</p>')
    html.append("</div>")
    return "".join(html)


def _missing(common, examples: int) -> str:
    total = common.num_non_missing + common.num_missing or examples
    return f"{100 * common.num_missing / total:.1f}%" if total else ""


def _numeric_table(features, examples: int) -> str:
    rows = []
    for feature in features:
        num = feature.num_stats
        common = num.common_stats
        present = common.num_non_missing
        zeros = f"{100 * num.num_zeros / present:.1f}%" if present else ""
        histogram = next(iter(h for h in num.histograms if h.type == h.STANDARD), None) or (
            num.histograms[0] if num.histograms else None
        )
        chart = ""
        if histogram is not None:
            chart = bar_chart(
                [b.sample_count for b in histogram.buckets],
                [f"{number(b.low_value)} to {number(b.high_value)}" for b in histogram.buckets],
            )
        rows.append(
            f'<tr class="kv-feature"><td class="kv-text kv-name">{esc(feature_name(feature))}</td>'
            f'<td class="kv-text">{Feature.Type.Name(feature.type).lower()}</td>'
            f"<td>{number(present)}</td><td>{_missing(common, examples)}</td>"
            f"<td>{number(num.mean)}</td><td>{number(num.std_dev)}</td><td>{zeros}</td>"
            f"<td>{number(num.min)}</td><td>{number(num.median)}</td><td>{number(num.max)}</td>"
            f"<td>{chart}</td></tr>"
        )
    return (
        f"<h4>Numeric features ({len(features)})</h4>"
        '<table class="kv-numeric"><thead><tr><th class="kv-text">feature</th>'
        '<th class="kv-text">type</th><th>count</th><th>missing</th><th>mean</th>'
        "<th>std dev</th><th>zeros</th><th>min</th><th>median</th><th>max</th>"
        f"<th>histogram</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _string_table(features, examples: int) -> str:
    rows = []
    for feature in features:
        strings = feature.string_stats
        common = strings.common_stats
        top = strings.top_values[0] if strings.top_values else None
        buckets = list(strings.rank_histogram.buckets)[:10]
        chart = bar_chart([b.sample_count for b in buckets], [b.label for b in buckets])
        rows.append(
            f'<tr class="kv-feature"><td class="kv-text kv-name">{esc(feature_name(feature))}</td>'
            f'<td class="kv-text">{Feature.Type.Name(feature.type).lower()}</td>'
            f"<td>{number(common.num_non_missing)}</td><td>{_missing(common, examples)}</td>"
            f"<td>{number(strings.unique)}</td>"
            f'<td class="kv-text">{esc(top.value) if top else ""}</td>'
            f"<td>{number(top.frequency) if top else ''}</td>"
            f"<td>{number(strings.avg_length)}</td><td>{chart}</td></tr>"
        )
    return (
        f"<h4>Categorical features ({len(features)})</h4>"
        '<table class="kv-categorical"><thead><tr><th class="kv-text">feature</th>'
        '<th class="kv-text">type</th><th>count</th><th>missing</th><th>unique</th>'
        '<th class="kv-text">top value</th><th>top count</th><th>avg length</th>'
        f"<th>top values</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _warm_up() -> None:
    """Run the library calls a render makes once, on tiny data, at import.

    The kernel factory imports this module before forking kernels, so lazy
    imports and first-call set-up inside the libraries happen there, once,
    instead of in every new kernel's first render.
    """
    stats_html(from_frame(pd.DataFrame({"n": [1.0, 2.0], "s": ["a", None]}), name="warm-up"))


_warm_up()
