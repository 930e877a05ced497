"""TFDV feature statistics without TensorFlow: read `DatasetFeatureStatisticsList`s, or make one.

The messages are `tensorflow-metadata`'s own (`statistics_pb2`, pure protobuf,
no TensorFlow). A statistics file is either the binary message, a TFRecord of
them (TFDV's `stats_tfrecord`), text format (TFDV's `write_stats_text`), any of
them gzip-compressed. `from_frame` computes the statistics the stock server's
`tfdv` type computed from a CSV (`generate_statistics_from_csv`): counts,
missing values, numeric summaries with a 10-bucket histogram, and string
summaries with top values; numeric features also get TFDV's 10-bucket quantile histogram
(equal counts, boundaries at the deciles), which skewed data needs.
"""

from __future__ import annotations

import itertools
from typing import TypeAlias

import numpy as np
import pandas as pd
from google.protobuf import message, text_format
from tensorflow_metadata.proto.v0 import statistics_pb2

from . import tfrecord
from .viz_errors import DataError

# tensorflow-metadata ships no types: these name the messages, and mypy sees them as Any.
Stats: TypeAlias = statistics_pb2.DatasetFeatureStatisticsList
Feature: TypeAlias = statistics_pb2.FeatureNameStatistics
HISTOGRAM_BUCKETS = 10
TOP_VALUES = 20


def parse(data: bytes, location: str) -> Stats:
    """The statistics in one file, whatever its framing; DataError naming it if it has none."""
    data = tfrecord.maybe_gunzip(data)
    stats = Stats()
    try:
        if tfrecord.looks_like_tfrecord(data):
            for record in tfrecord.records(data):
                part = Stats()
                part.ParseFromString(record)
                stats.datasets.extend(part.datasets)
        else:
            stats = _parse_single(data)
    except (message.DecodeError, tfrecord.TFRecordError, text_format.ParseError) as error:
        raise DataError(
            f"{location!r} is not a TFDV statistics file (DatasetFeatureStatisticsList): {error}"
        ) from None
    if not stats.datasets or not any(d.features for d in stats.datasets):
        raise DataError(
            f"{location!r} holds no feature statistics: expected a DatasetFeatureStatisticsList "
            "(binary, TFRecord or text format)"
        )
    return stats


def _parse_single(data: bytes) -> Stats:
    stats = Stats()
    try:
        stats.ParseFromString(data)
        if stats.datasets and all(d.features for d in stats.datasets):
            return stats
    except message.DecodeError:
        pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise message.DecodeError("neither a binary nor a text-format message") from None
    stats = Stats()
    text_format.Parse(text, stats)
    return stats


def feature_name(feature: Feature) -> str:
    return feature.name or ".".join(feature.path.step)


def from_frame(frame: pd.DataFrame, name: str) -> Stats:
    """Statistics of a DataFrame's columns, as TFDV computes them for a CSV."""
    stats = Stats()
    dataset = stats.datasets.add(name=name, num_examples=len(frame))
    for column in frame.columns:
        values = frame[column]
        feature = dataset.features.add(name=str(column))
        if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            feature.type = Feature.STRING
            _string_stats(values, feature.string_stats)
        else:
            floats = values.dropna().to_numpy(dtype=float)
            is_int = pd.api.types.is_integer_dtype(values) or bool(
                len(floats) and np.all(floats == np.round(floats))
            )
            feature.type = Feature.INT if is_int else Feature.FLOAT
            _numeric_stats(values, floats, feature.num_stats)
    return stats


def _common(values: pd.Series, common: statistics_pb2.CommonStatistics) -> None:
    present = int(values.notna().sum())
    common.num_non_missing = present
    common.num_missing = len(values) - present
    common.min_num_values = common.max_num_values = 1 if present else 0
    common.avg_num_values = 1.0 if present else 0.0
    common.tot_num_values = present


def _numeric_stats(
    values: pd.Series, floats: np.ndarray, num: statistics_pb2.NumericStatistics
) -> None:
    _common(values, num.common_stats)
    if not len(floats):
        return
    num.mean = float(floats.mean())
    num.std_dev = float(floats.std())
    num.num_zeros = int((floats == 0).sum())
    num.min = float(floats.min())
    num.median = float(np.median(floats))
    num.max = float(floats.max())
    counts, edges = np.histogram(floats, bins=HISTOGRAM_BUCKETS)
    histogram = num.histograms.add(type=statistics_pb2.Histogram.STANDARD)
    for count, low, high in zip(counts, edges[:-1], edges[1:], strict=True):
        histogram.buckets.add(low_value=float(low), high_value=float(high), sample_count=count)
    bounds = np.quantile(floats, np.linspace(0, 1, HISTOGRAM_BUCKETS + 1))
    quantiles = num.histograms.add(type=statistics_pb2.Histogram.QUANTILES)
    share = len(floats) / HISTOGRAM_BUCKETS
    for low, high in itertools.pairwise(bounds):
        quantiles.buckets.add(low_value=float(low), high_value=float(high), sample_count=share)


def _string_stats(values: pd.Series, strings: statistics_pb2.StringStatistics) -> None:
    _common(values, strings.common_stats)
    text = values.dropna().astype(str)
    counts = text.value_counts()
    strings.unique = len(counts)
    strings.avg_length = float(text.str.len().mean()) if len(text) else 0.0
    for value, count in counts.head(TOP_VALUES).items():
        strings.top_values.add(value=value, frequency=float(count))
        strings.rank_histogram.buckets.add(label=value, sample_count=float(count))
