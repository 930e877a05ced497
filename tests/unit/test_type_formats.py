"""Wire formats the built-in types read without TensorFlow: TFRecord, TFDV statistics, TFMA."""

from __future__ import annotations

import gzip
import json
import re
import struct

import pandas as pd
import pytest
from google.protobuf import json_format, text_format
from kfp_viz_kernels import feature_stats, tfrecord
from kfp_viz_kernels.tfma_metrics_pb2 import MetricsForSlice
from kfp_viz_kernels.types import tfdv, tfma
from kfp_viz_kernels.viz_errors import DataError
from tensorflow_metadata.proto.v0 import statistics_pb2


def test_crc32c_matches_the_standard_check_value():
    assert tfrecord.crc32c(b"123456789") == 0xE3069283  # RFC 3720's check value


def test_tfrecord_round_trip_and_corruption():
    payloads = [b"first", b"", b"x" * 1000]
    data = tfrecord.encode(payloads)
    assert tfrecord.looks_like_tfrecord(data)
    assert list(tfrecord.records(data)) == payloads
    flipped = bytearray(data)
    flipped[14] ^= 0xFF  # inside the first record's data
    with pytest.raises(tfrecord.TFRecordError, match="data checksum"):
        list(tfrecord.records(bytes(flipped)))
    with pytest.raises(tfrecord.TFRecordError, match="past the end"):
        list(tfrecord.records(data[:-3]))
    assert not tfrecord.looks_like_tfrecord(b"not a tfrecord at all")


def _stats() -> statistics_pb2.DatasetFeatureStatisticsList:
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    dataset = stats.datasets.add(name="train", num_examples=10)
    age = dataset.features.add(name="age", type=statistics_pb2.FeatureNameStatistics.INT)
    age.num_stats.common_stats.num_non_missing = 9
    age.num_stats.common_stats.num_missing = 1
    age.num_stats.mean = 40.5
    histogram = age.num_stats.histograms.add()
    histogram.buckets.add(low_value=0, high_value=50, sample_count=5)
    histogram.buckets.add(low_value=50, high_value=100, sample_count=4)
    colour = dataset.features.add(type=statistics_pb2.FeatureNameStatistics.STRING)
    colour.path.step.extend(["colour"])
    colour.string_stats.common_stats.num_non_missing = 10
    colour.string_stats.unique = 2
    colour.string_stats.top_values.add(value="red", frequency=7)
    return stats


@pytest.mark.parametrize("framing", ["binary", "tfrecord", "text", "gzip-tfrecord"])
def test_statistics_files_in_every_framing(framing):
    stats = _stats()
    binary = stats.SerializeToString()
    data = {
        "binary": binary,
        "tfrecord": tfrecord.encode([binary]),
        "text": text_format.MessageToString(stats).encode(),
        "gzip-tfrecord": gzip.compress(tfrecord.encode([binary])),
    }[framing]
    parsed = feature_stats.parse(data, "stats")
    assert parsed == stats
    features = {f["name"]: f for f in tfdv.comparison(parsed)["features"]}
    assert features["age"]["stats"][0]["missing"] == 0.1 and features["age"]["kind"] == "num"
    assert features["colour"]["stats"][0]["top"] == "red" and features["colour"]["kind"] == "str"
    # buckets 0-50 (5 values) and 50-100 (4) spread over ten buckets of 10
    assert features["age"]["edges"] == [float(v) for v in range(0, 101, 10)]
    assert features["age"]["shares"][0] == pytest.approx([1 / 9] * 5 + [0.8 / 9] * 5, abs=1e-6)


@pytest.mark.parametrize("data", [b"", b"\x00\x01garbage\xff" * 5, b"{not: proto}"])
def test_statistics_garbage_is_a_data_error_naming_the_file(data):
    with pytest.raises(DataError, match=r"'/x/stats\.pb'"):
        feature_stats.parse(data, "/x/stats.pb")


def test_statistics_from_a_frame_like_tfdv_from_csv():
    frame = pd.DataFrame({"n": [1.0, 2.0, None, 0.0], "s": ["a", "b", "a", None]})
    stats = feature_stats.from_frame(frame, "data.csv")
    n, s = stats.datasets[0].features
    assert stats.datasets[0].num_examples == 4
    assert n.type == n.INT and n.num_stats.common_stats.num_missing == 1
    assert n.num_stats.num_zeros == 1 and n.num_stats.max == 2.0
    assert sum(b.sample_count for b in n.num_stats.histograms[0].buckets) == 3
    assert s.type == s.STRING and s.string_stats.unique == 2
    assert s.string_stats.top_values[0].value == "a"


def _slice(pairs, **metrics):
    item = MetricsForSlice()
    for column, value in pairs:
        item.slice_key.single_slice_keys.add(column=column, int64_value=value)
    for name, value in metrics.items():
        entry = item.metric_keys_and_values.add()
        entry.key.name = name
        entry.value.double_value.value = value
    return item


def test_tfma_slices_overall_by_default_and_by_column():
    slices = [_slice([], auc=0.9), _slice([("age", 30)], auc=0.8), _slice([("age", 40)], auc=0.7)]
    data = tfrecord.encode([s.SerializeToString() for s in slices])
    parsed = [MetricsForSlice.FromString(r) for r in tfrecord.records(data)]
    overall = _table_rows(tfma.slices_html(parsed, None))
    assert overall == [["Overall", None, 0.9]]
    by_age = _table_rows(tfma.slices_html(parsed, "age"))
    assert by_age == [["Overall", None, 0.9], ["age: 30", None, 0.8], ["age: 40", None, 0.7]]
    with pytest.raises(DataError, match="slicing columns: age"):
        tfma.slices_html(parsed, "gender")


def _table_rows(page: str) -> list:
    blocks = re.findall(r'<script type="application/json" class="kv-data">(.*?)</script>', page)
    return json.loads(blocks[-1])["rows"]


def test_tfma_chart_and_counts():
    slices = [_slice([], auc=0.9), _slice([("age", 30)], auc=0.8)]
    for item, count in zip(slices, (100, 40), strict=True):
        item.metrics["example_count"].double_value.value = count
    page = tfma.slices_html(slices, "age")
    assert _table_rows(page) == [["Overall", 100, 0.9], ["age: 30", 40, 0.8]]
    chart = json.loads(re.findall(r'class="kv-chart-data">(.*?)</script>', page)[0])
    assert chart == {"charted": [["auc", 2]], "min_examples": 100}  # it reads column 2
    assert page.count('class="kv-data"') == 1  # the slices travel once
    assert page.count("window.kvViz = ") == 1  # the shared script once, for chart and table


def test_tfma_json_form_and_keyed_metrics():
    item = _slice([("age", 3)], accuracy=0.5)
    item.metric_keys_and_values[0].key.sub_key.class_id.value = 2
    item.metrics["legacy"].bounded_value.value.value = 0.25
    text = json_format.MessageToJson(item)
    (parsed,) = tfma._from_json(text, "m.json")
    assert tfma.metric_values(parsed) == {"accuracy [class_id=2]": "0.5", "legacy": "0.25"}
    with pytest.raises(DataError, match="not a MetricsForSlice"):
        tfma._from_json('{"sliceKey": 5}', "bad.json")


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field, encoded by hand (tag, length, bytes)."""
    assert number < 2048 and len(payload) < 128
    tag = number << 3 | 2
    head = bytes([tag]) if tag < 128 else bytes([tag & 0x7F | 0x80, tag >> 7])
    return head + bytes([len(payload)]) + payload


def test_tfma_field_numbers_match_tfmas_published_proto():
    """Bytes laid out by TFMA's metrics_for_slice.proto numbers, not by our own descriptors:
    MetricsForSlice.metric_keys_and_values = 51; MetricKey name 1, output_name 2, sub_key 3,
    model_name 4; SubKey.class_id 1; MetricValue.double_value 1, t_distribution_value 9."""
    double = lambda v: b"\x09" + struct.pack("<d", v)  # noqa: E731  DoubleValue.value = 1
    key = (
        _field(1, b"auc") + _field(2, b"head")
        + _field(3, _field(1, b"\x08\x02")) + _field(4, b"candidate")
    )  # fmt: skip
    auc = _field(51, _field(1, key) + _field(2, _field(1, double(0.875))))
    mean = _field(9, _field(4, double(0.5)))  # TDistributionValue.unsampled_value = 4
    loss = _field(51, _field(1, _field(1, b"loss")) + _field(2, mean))
    item = MetricsForSlice.FromString(auc + loss)
    assert tfma.metric_values(item) == {
        "auc [model=candidate, output=head, class_id=2]": "0.875",
        "loss": "0.5",
    }
