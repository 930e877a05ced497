"""The `tfdv` type: TFDV feature statistics, and datasets compared feature by feature.

`source` is a statistics file (`DatasetFeatureStatisticsList`: binary, TFRecord,
text format, gzip or not) or a pattern of them, read with `tensorflow-metadata`'s
messages and no TensorFlow. A CSV source (`*.csv`) gets its statistics computed
first, as the stock server's `tfdv` type did. `compare` adds more sources (see
`kfp_viz_kernels.named_sources`), e.g. evaluation statistics beside training ones; every
dataset of every file is shown.

As in Facets Overview, each feature is one row group with a line per dataset
(count, missing share, numeric summaries and zeros, or unique values and the top
value) and one chart of every dataset's distribution, overlaid or side by side.
Numeric histograms are put on one grid of buckets spanning all datasets (each
dataset's counts spread over the new buckets in proportion to overlap) and drawn
as shares of that dataset's values. The page sorts features by missing values,
zeros, or distribution distance from the first dataset: Jensen–Shannon divergence
(base 2, 0 to 1) of the numeric histograms, L-infinity distance (the largest
difference in any one value's share) of categorical value frequencies, the
measures TFDV's drift and skew comparators use. It searches features by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias, TypeVar

import numpy as np
import pandas as pd
from kfp_viz_kernels import sources
from kfp_viz_kernels.csvdata import read_csvs
from kfp_viz_kernels.feature_stats import Feature, Stats, feature_name, from_frame, parse
from kfp_viz_kernels.named_sources import named_sources
from kfp_viz_kernels.widgets import esc, finite_or_none, json_script, scripts, show
from tensorflow_metadata.proto.v0 import statistics_pb2

BUCKETS = 10
TOP_VALUES = 10
SORTS = [("order", "file order"), ("name", "name"), ("missing", "most missing"),
         ("zeros", "most zeros")]  # fmt: skip

Histogram: TypeAlias = list[tuple[float, float, float]]
"""A numeric histogram's buckets: (low, high, count)."""
Datasets: TypeAlias = Sequence[statistics_pb2.DatasetFeatureStatistics]
_D = TypeVar("_D")


def render(variables: dict[str, Any], source: str) -> None:
    named = named_sources(source, variables)
    stats = Stats()
    for name, location in named:
        for dataset in load(location).datasets:
            if len(named) > 1 or not dataset.name:
                dataset.name = f"{name}: {dataset.name}" if dataset.name else name
            stats.datasets.append(dataset)
    show(stats_html(stats, title=", ".join(location for _, location in named)), "tfdv")


def load(source: str) -> Stats:
    if source.lower().endswith(".csv"):
        return from_frame(read_csvs(source), name=source.rsplit("/", 1)[-1])
    stats = Stats()
    for location in sources.match(source):
        stats.datasets.extend(parse(sources.read_bytes(location), location).datasets)
    return stats


def stats_html(stats: Stats, title: str = "") -> str:
    """The page: controls, two empty tables the script fills, and the statistics as JSON."""
    data = comparison(stats)
    several = len(data["datasets"]) > 1
    sort_options = [*SORTS, *([("distance", "distribution distance")] if several else [])]
    options = "".join(f'<option value="{v}">{label}</option>' for v, label in sort_options)
    views = (
        '<span role="group" aria-label="Charts"><button type="button" class="kv-view" '
        'data-view="overlay" aria-pressed="true">Overlaid</button> <button type="button" '
        'class="kv-view" data-view="side" aria-pressed="false">Side by side</button></span>'
        if several
        else ""
    )
    summary = "; ".join(f"{d['name']}: {d['examples']:,} examples" for d in data["datasets"])
    return (
        (f'<p class="kv-note">{esc(title)}</p>' if title else "")
        + f'<p class="kv-note kv-datasets">{esc(summary)}</p>'
        + '<div class="kv-bar"><input type="search" class="kv-search" placeholder="Search features"'
        ' aria-label="Search features"><label>Sort by <select class="kv-order">'
        f"{options}</select></label>{views}"
        '<span class="kv-count" aria-live="polite"></span></div>'
        + (
            '<p class="kv-note">Distance from the first dataset: Jensen–Shannon divergence of '
            "numeric histograms, L-infinity distance of categorical value shares.</p>"
            if several
            else ""
        )
        + '<div class="kv-features"></div>'
        + json_script(data)
        + scripts("tfdv.js")
    )


def comparison(stats: Stats) -> dict[str, Any]:
    """Every feature across the datasets, as the page's script draws them."""
    datasets = stats.datasets
    names = _unique_names([d.name or "dataset" for d in datasets])
    by_name: dict[str, list[Feature | None]] = {}
    for index, dataset in enumerate(datasets):
        for feature in dataset.features:
            by_name.setdefault(feature_name(feature), [None] * len(datasets))[index] = feature
    features = []
    for name, found in by_name.items():
        present = [f for f in found if f is not None]
        kind = present[0].WhichOneof("stats")
        if kind == "num_stats":
            features.append(_numeric(name, found, datasets))
        elif kind == "string_stats":
            features.append(_categorical(name, found, datasets))
        else:
            features.append({"name": name, "kind": "other", "type": _type(present[0])})
    return {
        "datasets": [
            {"name": n, "examples": int(d.num_examples)}
            for n, d in zip(names, datasets, strict=True)
        ],
        "features": features,
    }


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return unique


def _type(feature: Feature) -> str:
    name: str = Feature.Type.Name(feature.type)
    return name.lower()


def _missing_share(common: statistics_pb2.CommonStatistics, examples: int) -> float | None:
    total: int = common.num_non_missing + common.num_missing or examples
    missing: int = common.num_missing
    return missing / total if total else None


def _numeric(name: str, found: list[Feature | None], datasets: Datasets) -> dict[str, Any]:
    rows: list[dict[str, float | None] | None] = []
    histograms: list[Histogram | None] = []
    for feature, dataset in zip(found, datasets, strict=True):
        if feature is None or feature.WhichOneof("stats") != "num_stats":
            rows.append(None)
            histograms.append(None)
            continue
        num = feature.num_stats
        present = num.common_stats.num_non_missing
        rows.append(
            {
                "count": int(present),
                "missing": _missing_share(num.common_stats, dataset.num_examples),
                "zeros": num.num_zeros / present if present else None,
                **{k: finite_or_none(float(getattr(num, k)))
                   for k in ("mean", "std_dev", "min", "median", "max")},
            }
        )  # fmt: skip
        histograms.append(_standard_histogram(num))
    edges, shares = common_grid(histograms)
    return {
        "name": name,
        "kind": "num",
        "type": _type(next(f for f in found if f is not None)),
        "stats": rows,
        "edges": edges,
        "shares": shares,
        "distance": _largest(shares, js_divergence),
    }


def _standard_histogram(num: statistics_pb2.NumericStatistics) -> Histogram | None:
    standard = [h for h in num.histograms if h.type == h.STANDARD]
    histogram = standard[0] if standard else (num.histograms[0] if num.histograms else None)
    if histogram is None or not histogram.buckets:
        return None
    return [(b.low_value, b.high_value, b.sample_count) for b in histogram.buckets]


def common_grid(histograms: list[Histogram | None]) -> tuple[list[float], list[list[float] | None]]:
    """One set of BUCKETS equal buckets over every histogram's range, and each histogram's
    share of values per bucket (a source bucket's count spread by overlap)."""
    known = [h for h in histograms if h]
    if not known:
        return [], [None] * len(histograms)
    low = min(b[0] for h in known for b in h)
    high = max(b[1] for h in known for b in h)
    if not (np.isfinite(low) and np.isfinite(high)):
        return [], [None] * len(histograms)
    edges = np.linspace(low, high, BUCKETS + 1) if high > low else np.array([low, low])
    shares: list[list[float] | None] = []
    for histogram in histograms:
        if not histogram:
            shares.append(None)
            continue
        counts = np.zeros(len(edges) - 1)
        for bucket_low, bucket_high, count in histogram:
            if bucket_high > bucket_low:
                overlap = np.clip(
                    np.minimum(edges[1:], bucket_high) - np.maximum(edges[:-1], bucket_low), 0, None
                )
                counts += count * overlap / (bucket_high - bucket_low)
            else:
                index = min(
                    int(np.searchsorted(edges, bucket_low, side="right")) - 1, len(counts) - 1
                )
                counts[max(index, 0)] += count
        total = counts.sum()
        shares.append([float(v) for v in (counts / total if total else counts)])
    return [float(e) for e in edges], shares


def _categorical(name: str, found: list[Feature | None], datasets: Datasets) -> dict[str, Any]:
    rows: list[dict[str, float | str | None] | None] = []
    frequencies: list[dict[str, float] | None] = []
    for feature, dataset in zip(found, datasets, strict=True):
        if feature is None or feature.WhichOneof("stats") != "string_stats":
            rows.append(None)
            frequencies.append(None)
            continue
        strings = feature.string_stats
        present = strings.common_stats.num_non_missing
        values = {v.value: v.frequency for v in strings.top_values}
        for bucket in strings.rank_histogram.buckets:
            values.setdefault(bucket.label, bucket.sample_count)
        top = max(values.items(), key=lambda item: item[1]) if values else None
        rows.append(
            {
                "count": int(present),
                "missing": _missing_share(strings.common_stats, dataset.num_examples),
                "unique": int(strings.unique),
                "top": top[0] if top else None,
                "top_count": float(top[1]) if top else None,
                "avg_length": finite_or_none(float(strings.avg_length)),
            }
        )
        frequencies.append({k: v / present for k, v in values.items()} if present else {})
    first = next(f for f in frequencies if f is not None)
    labels = sorted(first, key=first.__getitem__, reverse=True)[:TOP_VALUES]
    for other in frequencies:
        for label in sorted(other or {}, key=(other or {}).__getitem__, reverse=True):
            if len(labels) >= TOP_VALUES:
                break
            if label not in labels:
                labels.append(label)
    return {
        "name": name,
        "kind": "str",
        "type": _type(next(f for f in found if f is not None)),
        "stats": rows,
        "labels": labels,
        "shares": [None if f is None else [f.get(v, 0.0) for v in labels] for f in frequencies],
        "distance": _largest([None if f is None else f for f in frequencies], linf_distance),
    }


def js_divergence(p: list[float], q: list[float]) -> float:
    """Jensen–Shannon divergence, base 2 (0 for the same distribution, 1 for disjoint)."""
    p_, q_ = np.asarray(p, float), np.asarray(q, float)
    if p_.sum() == 0 or q_.sum() == 0:
        return float("nan")
    p_, q_ = p_ / p_.sum(), q_ / q_.sum()
    m = (p_ + q_) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return (kl(p_) + kl(q_)) / 2


def linf_distance(p: dict[str, float], q: dict[str, float]) -> float:
    """The largest difference between two value-share maps over any one value."""
    return max((abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in {*p, *q}), default=0.0)


def _largest(distributions: list[_D | None], measure: Callable[[_D, _D], float]) -> float | None:
    """The largest distance from the first dataset's distribution to another's."""
    if len(distributions) < 2 or distributions[0] is None:
        return None
    found = [measure(distributions[0], d) for d in distributions[1:] if d is not None]
    found = [d for d in found if np.isfinite(d)]
    return max(found) if found else None


def _warm_up() -> None:
    """Run the library calls a render makes once, on tiny data, at import.

    The kernel factory imports this module before forking kernels, so lazy
    imports and first-call set-up inside the libraries happen there, once,
    instead of in every new kernel's first render.
    """
    stats_html(from_frame(pd.DataFrame({"n": [1.0, 2.0], "s": ["a", None]}), name="warm-up"))


_warm_up()
