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
as shares of that dataset's values, on a linear, a log (signed log10(1 + |x|), so
zeros and negatives fit) or a quantile scale, switched per feature; skewed
features (half their values in one linear bucket) open on the log scale. The log
grid is made from the statistics' quantile histogram where they have one (TFDV
writes one), which keeps the detail where the values are; the quantile view draws
each dataset's deciles. Bucket ranges are printed under each chart and listed in a
table a keyboard can open. Categorical features get a labelled bar per top value.

Each dataset after the first is compared with the first, as TFDV's drift and skew
comparators do, and a feature is flagged when a categorical value appears that the
first dataset does not have (when its value list is complete), when the L-infinity
distance of categorical value shares (the largest change in any one value's share)
is over `linf_threshold`, or when the Jensen–Shannon divergence (base 2, 0 to 1) of
numeric histograms, on the union of both histograms' bucket boundaries, is over
`js_threshold` (both 0.1 by default; the page states them). Features sort by missing
values, zeros, flags or distribution distance, and are searched by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from kfp_viz_kernels import sources
from kfp_viz_kernels.csvdata import read_csvs
from kfp_viz_kernels.feature_stats import Feature, Stats, feature_name, from_frame, parse
from kfp_viz_kernels.named_sources import named_sources
from kfp_viz_kernels.viz_errors import DataError
from kfp_viz_kernels.widgets import (
    esc,
    finite_or_none,
    json_script,
    number,
    scripts,
    show,
    unknown_arguments,
)
from tensorflow_metadata.proto.v0 import statistics_pb2

ARGUMENTS = ("compare", "name", "linf_threshold", "js_threshold")
DEFAULT_THRESHOLD = 0.1
SKEWED_SHARE = 0.5
"""A numeric feature opens on the log scale when one linear bucket holds this share."""
BUCKETS = 10
TOP_VALUES = 10
SORTS = [("order", "file order"), ("name", "name"), ("missing", "most missing"),
         ("zeros", "most zeros")]  # fmt: skip

Histogram: TypeAlias = np.ndarray
"""A numeric histogram's buckets, one row (low, high, count) each (any sequence of such rows
is taken where one is passed in)."""
DECILES = np.linspace(0, 1, 11)
Datasets: TypeAlias = Sequence[statistics_pb2.DatasetFeatureStatistics]


def render(variables: dict[str, Any], source: str) -> None:
    thresholds = {k: _threshold(variables, k) for k in ("linf_threshold", "js_threshold")}
    named = named_sources(source, variables)
    stats = Stats()
    given: list[tuple[str, str, bool]] = []
    for name, location in named:
        found = load(location).datasets
        given.extend((name, dataset.name, len(found) > 1) for dataset in found)
        stats.datasets.extend(found)
    for dataset, label in zip(stats.datasets, dataset_labels(given, len(named) > 1), strict=True):
        dataset.name = label
    page = stats_html(stats, title=", ".join(loc for _, loc in named), **thresholds)
    show(page, "tfdv", notes=unknown_arguments(variables, ARGUMENTS))


def _threshold(variables: dict[str, Any], key: str) -> float:
    value = variables.get(key, DEFAULT_THRESHOLD)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
        raise DataError(f'"{key}" must be a number from 0 to 1')
    return float(value)


def dataset_labels(found: list[tuple[str, str, bool]], several_sources: bool) -> list[str]:
    """Labels for datasets given as (source's short name, dataset's own name, whether its
    file holds several): each name said once. With one source, the datasets' own names;
    with several, "source: dataset" ("run-1: train"), unless every dataset's name and its
    source's name say the same thing ("eval.csv" and "eval.csv", or "train" of
    "train_stats.pbtxt"): then the shorter of each pair, never "eval.csv: eval.csv"."""

    def stem(text: str) -> str:
        return text.rsplit("/", 1)[-1].split(".", 1)[0].lower()

    def same(source: str, dataset: str) -> bool:
        return stem(source) == stem(dataset) or dataset in source or source in dataset

    if not several_sources:
        return [dataset or source for source, dataset, _ in found]
    if all(not dataset or (not several and same(source, dataset))
           for source, dataset, several in found):  # fmt: skip
        return [min(source, dataset or source, key=len) for source, dataset, _ in found]
    return [f"{source}: {dataset}" if dataset else source for source, dataset, _ in found]


def load(source: str) -> Stats:
    if source.lower().endswith(".csv"):
        return from_frame(read_csvs(source), name=source.rsplit("/", 1)[-1])
    stats = Stats()
    for location in sources.match(source):
        stats.datasets.extend(parse(sources.read_bytes(location), location).datasets)
    return stats


def stats_html(
    stats: Stats,
    title: str = "",
    linf_threshold: float = DEFAULT_THRESHOLD,
    js_threshold: float = DEFAULT_THRESHOLD,
) -> str:
    """The page: controls, an empty box the script fills, and the statistics as JSON."""
    data = comparison(stats, linf_threshold, js_threshold)
    several = len(data["datasets"]) > 1
    sort_options = [*SORTS, *([("flags", "flagged first"), ("distance", "distribution distance")]
                              if several else [])]  # fmt: skip
    options = "".join(f'<option value="{v}">{label}</option>' for v, label in sort_options)
    views = (
        '<span role="group" aria-label="Charts"><button type="button" class="kv-view" '
        'data-view="overlay" aria-pressed="true">Overlaid</button> <button type="button" '
        'class="kv-view" data-view="side" aria-pressed="false">Side by side</button></span>'
        if several
        else ""
    )
    scales = (
        '<label>Numeric scale <select class="kv-scale-all"><option value="auto">linear, log when '
        'skewed</option><option value="linear">linear</option><option value="log">log</option>'
        '<option value="quantile">quantiles</option></select></label>'
    )
    summary = "; ".join(f"{d['name']}: {d['examples']:,} examples" for d in data["datasets"])
    flagged = sum(1 for f in data["features"] if f.get("flags"))
    first = data["datasets"][0]["name"] if several else ""
    comparison_note = (
        f'<p class="kv-note">Each dataset is compared with the first, <b>{esc(first)}</b>, as '
        "TFDV's drift and skew checks do. A feature is flagged (⚠) for a categorical value the "
        "first dataset does not have, for an L∞ distance of categorical value shares over "
        f"<b>{number(linf_threshold)}</b> (<code>linf_threshold</code>), or for a Jensen–Shannon "
        f"divergence of numeric histograms over <b>{number(js_threshold)}</b> "
        f"(<code>js_threshold</code>). <b>{flagged}</b> of {len(data['features'])} features "
        "flagged.</p>"
        if several
        else ""
    )
    return (
        (f'<p class="kv-note">{esc(title)}</p>' if title else "")
        + f'<p class="kv-note kv-datasets">{esc(summary)}</p>'
        + comparison_note
        + '<div class="kv-bar"><input type="search" class="kv-search" placeholder="Search features"'
        ' aria-label="Search features"><label>Sort by <select class="kv-order">'
        f"{options}</select></label>{scales}{views}"
        + (
            '<label><input type="checkbox" class="kv-flagged-only"> flagged only</label>'
            if several
            else ""
        )
        + '<span class="kv-count" aria-live="polite"></span></div>'
        + '<div class="kv-features"></div>'
        + json_script(data)
        + scripts("tfdv.js")
    )


def comparison(
    stats: Stats, linf_threshold: float = DEFAULT_THRESHOLD, js_threshold: float = DEFAULT_THRESHOLD
) -> dict[str, Any]:
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
            features.append(_numeric(name, found, datasets, js_threshold))
        elif kind == "string_stats":
            features.append(_categorical(name, found, datasets, linf_threshold))
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


def _numeric(
    name: str, found: list[Feature | None], datasets: Datasets, js_threshold: float
) -> dict[str, Any]:
    rows: list[dict[str, float | None] | None] = []
    standard: list[Histogram | None] = []
    quantile: list[Histogram | None] = []
    for feature, dataset in zip(found, datasets, strict=True):
        if feature is None or feature.WhichOneof("stats") != "num_stats":
            rows.append(None)
            standard.append(None)
            quantile.append(None)
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
        standard.append(_histogram(num, statistics_pb2.Histogram.STANDARD))
        quantile.append(_histogram(num, statistics_pb2.Histogram.QUANTILES))
    finest = [h if q is None else q for q, h in zip(quantile, standard, strict=True)]
    edges, shares = common_grid(standard)
    log_edges, log_shares = common_grid(finest, transform=True)
    skewed = bool(shares[0]) and max(shares[0] or [0]) >= SKEWED_SHARE and bool(log_edges)
    skewed = skewed and max(abs(edges[0]), abs(edges[-1])) >= 10
    distances = [
        None if d is None or finest[0] is None else _finite(js_divergence_histograms(finest[0], d))
        for d in finest[1:]
    ]
    flags = [
        {"dataset": index + 1, "kind": "js", "value": value, "threshold": js_threshold}
        for index, value in enumerate(distances)
        if value is not None and value > js_threshold
    ]
    return {
        "name": name,
        "kind": "num",
        "type": _type(next(f for f in found if f is not None)),
        "stats": rows,
        "edges": _significant(edges),
        "shares": shares,
        "log_edges": _significant(log_edges),
        "log_shares": log_shares,
        "quantiles": [None if h is None else _significant(deciles(h)) for h in finest],
        "scale": "log" if skewed else "linear",
        "distance": max((d for d in distances if d is not None), default=None),
        "flags": flags,
    }


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None


def _significant(values: list[float]) -> list[float]:
    """Bucket edges and deciles to 7 significant digits: more than any label shows (the
    page prints at most 6), and half the bytes of a full-precision float."""
    return [float(f"{v:.7g}") for v in values]


def _histogram(num: statistics_pb2.NumericStatistics, kind: int) -> Histogram | None:
    """The histogram of `kind` (STANDARD or QUANTILES); for STANDARD, the first histogram
    when none says its type (as older writers left it)."""
    chosen = [h for h in num.histograms if h.type == kind]
    if not chosen and kind == statistics_pb2.Histogram.STANDARD and num.histograms:
        chosen = [num.histograms[0]]
    if not chosen or not chosen[0].buckets:
        return None
    buckets = chosen[0].buckets
    return np.array([(b.low_value, b.high_value, b.sample_count) for b in buckets], float)


def signed_log(values: np.ndarray) -> np.ndarray:
    """log10(1 + |x|) with x's sign: a log scale that takes zeros and negatives."""
    return np.asarray(np.sign(values) * np.log10(1 + np.abs(values)), dtype=float)


def signed_exp(values: np.ndarray) -> np.ndarray:
    return np.asarray(np.sign(values) * (10 ** np.abs(values) - 1), dtype=float)


def common_grid(
    histograms: Sequence[Histogram | Sequence[tuple[float, float, float]] | None],
    transform: bool = False,
) -> tuple[list[float], list[list[float] | None]]:
    """One set of BUCKETS equal buckets over every histogram's range (equal in signed log
    space with `transform`), and each histogram's share of values per bucket (a source
    bucket's count spread by overlap), to 6 decimals: a millionth of a bar is invisible."""
    arrays = [None if h is None or not len(h) else _buckets(h) for h in histograms]
    known = [h for h in arrays if h is not None]
    if not known:
        return [], [None] * len(histograms)
    low = min(float(h[:, 0].min()) for h in known)
    high = max(float(h[:, 1].max()) for h in known)
    if not (np.isfinite(low) and np.isfinite(high)):
        return [], [None] * len(histograms)
    if transform:
        if high <= low:
            return [], [None] * len(histograms)
        ends = signed_log(np.array([low, high]))
        edges = signed_exp(np.linspace(ends[0], ends[1], BUCKETS + 1))
        edges[0], edges[-1] = low, high
    else:
        edges = np.linspace(low, high, BUCKETS + 1) if high > low else np.array([low, low])
    shares: list[list[float] | None] = []
    for histogram in arrays:
        if histogram is None:
            shares.append(None)
            continue
        counts = _spread(histogram, edges)
        total = counts.sum()
        shares.append(np.round(counts / total if total else counts, 6).tolist())
    return edges.tolist(), shares


def _buckets(histogram: Histogram | Sequence[tuple[float, float, float]]) -> np.ndarray:
    return np.asarray(histogram, dtype=float).reshape(-1, 3)


def _spread(histogram: Histogram, edges: np.ndarray) -> np.ndarray:
    """A histogram's counts on other bucket `edges`, each bucket's count spread evenly
    over its range (a bucket of no width goes whole to the bucket holding its value).
    One matrix of overlaps (source buckets × new buckets), not a loop: a page of 1,000
    features spreads thousands of histograms."""
    buckets = _buckets(histogram)
    if (buckets[:, 1] > buckets[:, 0]).all() and (buckets[1:, 0] >= buckets[:-1, 1]).all():
        # Ordered buckets of some width (as TFDV writes its standard histograms): the spread
        # counts are the steps of the piecewise-linear cumulative count at the new edges.
        after = np.cumsum(buckets[:, 2])
        knots = buckets[:, :2].ravel()
        cumulative = np.column_stack((after - buckets[:, 2], after)).ravel()
        return np.diff(np.interp(edges, knots, cumulative)) if len(edges) > 1 else np.zeros(1)
    lows, highs, counts = buckets[:, 0:1], buckets[:, 1:2], buckets[:, 2]
    widths = (highs - lows)[:, 0]
    overlap = np.minimum(edges[1:], highs) - np.maximum(edges[:-1], lows)
    wide = widths > 0
    shares = np.zeros_like(overlap)
    shares[wide] = np.clip(overlap[wide], 0, None) / widths[wide, None]
    found = counts @ shares if len(edges) > 1 else np.zeros(1)
    if not wide.all():
        last = max(len(edges) - 2, 0)
        points = np.clip(np.searchsorted(edges, lows[~wide, 0], side="right") - 1, 0, last)
        np.add.at(found, points, counts[~wide])
    return np.asarray(found, dtype=float)


def deciles(histogram: Histogram | Sequence[tuple[float, float, float]]) -> list[float]:
    """The values at 0, 10, ..., 100 % of a histogram's counts, by linear interpolation within
    buckets (exact at a quantile histogram's boundaries)."""
    buckets = _buckets(histogram)
    lows, highs, counts = buckets[:, 0], buckets[:, 1], buckets[:, 2]
    total = counts.sum()
    if not total:
        return [float(lows[0])] * 11
    cumulative = np.concatenate(([0.0], np.cumsum(counts))) / total
    positions = np.concatenate(([lows[0]], highs))
    found: list[float] = np.interp(DECILES, cumulative, positions).tolist()
    return found


def js_divergence_histograms(
    p: Histogram | Sequence[tuple[float, float, float]],
    q: Histogram | Sequence[tuple[float, float, float]],
) -> float:
    """Jensen–Shannon divergence of two histograms on the union of their bucket boundaries,
    as TFDV rebuckets them to compare."""
    p_, q_ = _buckets(p), _buckets(q)
    edges = np.unique(np.concatenate((p_[:, :2].ravel(), q_[:, :2].ravel())))
    edges = edges[np.isfinite(edges)]
    if len(edges) < 2:
        return 0.0
    return js_divergence(_spread(p_, edges), _spread(q_, edges))


def _categorical(
    name: str, found: list[Feature | None], datasets: Datasets, linf_threshold: float
) -> dict[str, Any]:
    rows: list[dict[str, float | str | None] | None] = []
    frequencies: list[dict[str, float] | None] = []
    complete: list[bool] = []
    for feature, dataset in zip(found, datasets, strict=True):
        if feature is None or feature.WhichOneof("stats") != "string_stats":
            rows.append(None)
            frequencies.append(None)
            complete.append(False)
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
        complete.append(bool(values) and len(values) >= strings.unique)
    first = next(f for f in frequencies if f is not None)
    labels = sorted(first, key=first.__getitem__, reverse=True)[:TOP_VALUES]
    for other in frequencies:
        for label in sorted(other or {}, key=(other or {}).__getitem__, reverse=True):
            if len(labels) >= TOP_VALUES:
                break
            if label not in labels:
                labels.append(label)
    distances = [
        None if d is None or frequencies[0] is None else linf_distance(frequencies[0], d)
        for d in frequencies[1:]
    ]
    flags: list[dict[str, Any]] = []
    for index, other in enumerate(frequencies[1:], start=1):
        if other is None or frequencies[0] is None:
            continue
        new = [v for v, share in other.items() if share > 0 and v not in frequencies[0]]
        if new and complete[0]:
            flags.append({"dataset": index, "kind": "new", "values": sorted(new)[:5],
                          "count": len(new)})  # fmt: skip
        distance = distances[index - 1]
        if distance is not None and distance > linf_threshold:
            flags.append(
                {"dataset": index, "kind": "linf", "value": distance, "threshold": linf_threshold}
            )
    return {
        "name": name,
        "kind": "str",
        "type": _type(next(f for f in found if f is not None)),
        "stats": rows,
        "labels": labels,
        "shares": [
            None if f is None else [round(f.get(v, 0.0), 6) for v in labels] for f in frequencies
        ],
        "distance": max((d for d in distances if d is not None), default=None),
        "flags": flags,
    }


def js_divergence(p: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray) -> float:
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


def _warm_up() -> None:
    """Run the library calls a render makes once, on tiny data, at import.

    The kernel factory imports this module before forking kernels, so lazy
    imports and first-call set-up inside the libraries happen there, once,
    instead of in every new kernel's first render.
    """
    stats_html(from_frame(pd.DataFrame({"n": [1.0, 2.0], "s": ["a", None]}), name="warm-up"))


_warm_up()
