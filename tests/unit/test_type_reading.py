"""What the built-in types make of their input before a page is drawn: header rows, unknown
arguments, column formats, precision-recall, TFDV scales and flags, TFMA intervals, dark mode."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from kfp_viz_kernels import columns, csvdata, widgets
from kfp_viz_kernels.feature_stats import from_frame
from kfp_viz_kernels.tfma_metrics_pb2 import MetricsForSlice
from kfp_viz_kernels.types import html as html_type
from kfp_viz_kernels.types import markdown, roc_curve, table, tfdv, tfma
from kfp_viz_kernels.viz_errors import DataError


def _data(page: str, cls: str = "kv-data"):
    found = re.findall(rf'<script type="application/json" class="{cls}">(.*?)</script>', page)
    return json.loads(found[-1])


# -- header rows -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "names", "header"),
    [
        (["fpr", "tpr", "thresholds"], ["0", "0", "inf"], ["fpr", "tpr", "thresholds"], True),
        ([" FPR", "TPR ", "Thresholds"], ["0", "0.1", "0.9"], ["fpr", "tpr", "thresholds"], True),
        (["false_pos", "true_pos", "cut"], ["0", "0.1", "0.9"], ["fpr", "tpr", "thresholds"], True),
        (["0", "0", "inf"], ["0.1", "0.2", "0.8"], ["fpr", "tpr", "thresholds"], False),
        (["cat", "dog", "3"], ["dog", "dog", "9"], ["target", "predicted", "count"], False),
        (["true", "0.91"], ["false", "0.2"], ["target", "true"], False),
        (["target", "true"], ["true", "0.91"], ["target", "true"], True),
        (["a", "b"], None, ["x", "y"], False),
    ],
)
def test_a_header_row_is_found_the_same_way_for_every_csv_type(first, second, names, header):
    assert csvdata.is_header_row(first, second, names) is header


def test_every_csv_type_skips_a_header_row(tmp_path):
    (tmp_path / "curve.csv").write_text("fpr,tpr,thresholds\n0,0,inf\n0.5,0.8,0.4\n1,1,0\n")
    fpr, tpr, _ = roc_curve._generated_curve(str(tmp_path / "curve.csv"))
    assert fpr.tolist() == [0, 0.5, 1] and tpr.tolist() == [0, 0.8, 1]
    (tmp_path / "plain.csv").write_text("0,0,inf\n1,1,0\n")
    assert roc_curve._generated_curve(str(tmp_path / "plain.csv"))[0].tolist() == [0, 1]
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    frame = csvdata.read_csvs(str(tmp_path / "t.csv"), names=["a", "b"], names_from='"headers"')
    assert frame.to_numpy().tolist() == [[1, 2]] and frame["a"].dtype.kind == "i"
    with pytest.raises(DataError, match='has 2 columns but "headers" names 3'):
        csvdata.read_csvs(str(tmp_path / "t.csv"), names=["a", "b", "c"], names_from='"headers"')


# -- unknown arguments -------------------------------------------------------------


def test_an_unknown_argument_is_named_with_the_nearest_known_one():
    note = widgets.unknown_arguments({"truecalss": "x", "fprs": [0.1]}, roc_curve.ARGUMENTS)
    assert "<code>truecalss</code> (did you mean <code>trueclass</code>?)" in note
    assert "Known: <code>compare</code>" in note and "ignored" in note
    assert widgets.unknown_arguments({"fprs": [0.1]}, roc_curve.ARGUMENTS) == ""
    hostile = widgets.unknown_arguments({"<script>": 1}, ())
    assert "<script>" not in hostile and "&lt;script&gt;" in hostile


# -- column formats ----------------------------------------------------------------


def test_columns_are_read_for_what_they_hold():
    frame = pd.DataFrame(
        {
            "user_id": [100001, 100002, 100003],
            "income": [52_000.25, 61_500.5, 1_250_000.75],
            "score": [0.912345678, 0.5, 0.123456789],
            "orders": [1, 20, 300],
            "active": [True, None, False],
            "day": ["2024-01-05", "2024-02-29", None],
            "when": ["2024-01-05T10:00:00Z", "2024-01-06 11:30", "2024-01-07T00:00:00+01:00"],
            "city": ["Oslo", "Quito", "2024-01-05"],
        }
    )
    kinds = {name: columns.column_format(name, frame[name]) for name in frame.columns}
    assert kinds["user_id"] == {"kind": "num", "decimals": 0, "plain": True}
    assert kinds["income"] == {"kind": "num", "decimals": 0, "plain": False}  # spread ~600,000
    assert kinds["score"] == {"kind": "num", "decimals": 4, "plain": False}  # spread ~0.39
    assert kinds["orders"] == {"kind": "num", "decimals": 0, "plain": False}
    assert kinds["active"] == {"kind": "bool"}
    assert kinds["day"] == kinds["when"] == {"kind": "date"}
    assert kinds["city"] == {"kind": "text"}
    # never more decimals than the values have
    assert columns.decimals(np.array([1.5, 2.25, 3.125, 2.5])) == 3
    assert columns.decimals(np.array([50.123, 150.456, 99.789, 120.5])) == 2  # spread ~40


# -- roc_curve: precision-recall ---------------------------------------------------


def test_precision_recall_curve_and_average_precision_equal_sklearns():
    from sklearn.metrics import average_precision_score, precision_recall_curve

    rng = np.random.default_rng(11)
    labels = rng.integers(0, 2, 500)
    scores = labels * 0.4 + rng.random(500)
    curve = roc_curve._curve("m", pd.Series(labels), pd.Series(scores), "s")
    assert curve.pr is not None
    assert curve.pr.average_precision == average_precision_score(labels, scores)
    precision, recall, _ = precision_recall_curve(labels, scores)
    assert curve.pr.recall.tolist() == recall[::-1].tolist()  # recall ascending, as drawn
    assert curve.pr.precision.tolist() == precision[::-1].tolist()
    page = roc_curve.roc_html([curve])
    drawn = _data(page)["curves"][0]["pr"]
    assert drawn["ap"] == curve.pr.average_precision and np.all(np.diff(drawn["recall"]) >= 0)
    assert f'data-ap="{curve.pr.average_precision!r}"' in page and 'data-kind="pr"' in page
    ready = roc_curve.Curve(
        "r", np.array([0, 0.5, 1.0]), np.array([0, 0.8, 1.0]), np.array([2, 1, 0])
    )
    page = roc_curve.roc_html([ready])
    assert 'data-kind="pr"' not in page and "No precision–recall curve for r" in page


# -- tfdv ------------------------------------------------------------------------


def _two_datasets() -> tfdv.Stats:
    rng = np.random.default_rng(4)
    train = pd.DataFrame(
        {
            "income": rng.lognormal(10, 1.2, 3000),
            "age": rng.normal(40, 10, 3000),
            "country": rng.choice(["PT", "NO", "EC"], 3000, p=[0.6, 0.3, 0.1]),
        }
    )
    serving = pd.DataFrame(
        {
            "income": rng.lognormal(10, 1.2, 1000),
            "age": rng.normal(55, 10, 1000),
            "country": rng.choice(["PT", "NO", "EC", "JP"], 1000, p=[0.3, 0.3, 0.1, 0.3]),
        }
    )
    stats = from_frame(train, "train")
    stats.datasets.extend(from_frame(serving, "serving").datasets)
    return stats


def test_tfdv_flags_drift_with_the_thresholds_stated():
    features = {f["name"]: f for f in tfdv.comparison(_two_datasets(), 0.1, 0.1)["features"]}
    assert features["income"]["flags"] == []  # the same distribution
    (drift,) = features["age"]["flags"]  # moved by 1.5 standard deviations
    assert drift["kind"] == "js" and drift["value"] > 0.1 and drift["threshold"] == 0.1
    kinds = {flag["kind"]: flag for flag in features["country"]["flags"]}
    assert kinds["new"]["values"] == ["JP"] and kinds["new"]["dataset"] == 1
    assert kinds["linf"]["value"] == pytest.approx(0.3, abs=0.05)
    quiet = {f["name"]: f for f in tfdv.comparison(_two_datasets(), 0.9, 0.9)["features"]}
    assert [flag["kind"] for flag in quiet["country"]["flags"]] == ["new"]
    page = tfdv.stats_html(_two_datasets(), linf_threshold=0.2, js_threshold=0.05)
    assert "over <b>0.2</b> (<code>linf_threshold</code>)" in page
    assert "over <b>0.05</b>" in page


def test_a_new_value_is_only_flagged_when_the_first_list_is_complete():
    stats = _two_datasets()
    country = next(f for f in stats.datasets[0].features if f.name == "country")
    country.string_stats.unique = 40  # the list names 3 of 40 values: JP may be among the rest
    features = {f["name"]: f for f in tfdv.comparison(stats)["features"]}
    assert "new" not in [flag["kind"] for flag in features["country"]["flags"]]


def test_skewed_features_open_on_a_log_scale_made_from_quantiles():
    features = {f["name"]: f for f in tfdv.comparison(_two_datasets())["features"]}
    income, age = features["income"], features["age"]
    assert income["scale"] == "log" and age["scale"] == "linear"
    assert max(income["shares"][0]) >= 0.5  # equal-width buckets: most values in one
    assert max(income["log_shares"][0]) < 0.35  # log buckets spread them
    edges = np.array(income["log_edges"])
    assert np.allclose(np.diff(tfdv.signed_log(edges)), np.diff(tfdv.signed_log(edges))[0])
    assert sum(income["log_shares"][0]) == pytest.approx(1, abs=1e-5)
    values = pd.Series(np.random.default_rng(4).lognormal(10, 1.2, 3000))
    assert income["quantiles"][0][5] == pytest.approx(values.median())
    assert income["quantiles"][0][0] == pytest.approx(values.min(), rel=1e-6)
    assert income["quantiles"][0][10] == pytest.approx(values.max(), rel=1e-6)


def test_deciles_and_divergence_on_the_union_of_bucket_boundaries():
    assert tfdv.deciles([(0, 10, 5), (10, 20, 5)])[5] == 10
    assert tfdv.deciles([(0, 100, 10)]) == pytest.approx(list(range(0, 101, 10)))
    same = [(0, 10, 4), (10, 20, 6)]
    assert tfdv.js_divergence_histograms(same, same) == pytest.approx(0)
    apart = tfdv.js_divergence_histograms([(0, 10, 5)], [(10, 20, 5)])
    assert apart == pytest.approx(1)
    # half overlap: [0,10] vs [5,15] on the union grid 0, 5, 10, 15
    assert tfdv.js_divergence_histograms([(0, 10, 2)], [(5, 15, 2)]) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("found", "several_sources", "labels"),
    [
        ([("train.csv", "train.csv", False), ("eval.csv", "eval.csv", False)], True,
         ["train.csv", "eval.csv"]),
        ([("train_stats.pbtxt", "train", False), ("serving_stats.pbtxt", "serving", False)],
         True, ["train", "serving"]),
        ([("stats", "train", False), ("eval-stats", "eval", False)], True,
         ["stats: train", "eval-stats: eval"]),
        ([("run-1", "train", True), ("run-1", "eval", True)], True,
         ["run-1: train", "run-1: eval"]),
        ([("stats.pb", "train", True), ("stats.pb", "eval", True)], False, ["train", "eval"]),
        ([("stats.pb", "", False)], False, ["stats.pb"]),
    ],
)  # fmt: skip
def test_dataset_labels_say_each_name_once(found, several_sources, labels):
    assert tfdv.dataset_labels(found, several_sources) == labels


def test_statistics_from_a_frame_carry_a_quantile_histogram():
    stats = from_frame(pd.DataFrame({"x": np.arange(1, 101, dtype=float)}), "d")
    (feature,) = stats.datasets[0].features
    _, quantiles = feature.num_stats.histograms
    assert quantiles.type == quantiles.QUANTILES and len(quantiles.buckets) == 10
    assert [b.sample_count for b in quantiles.buckets] == [10] * 10
    assert quantiles.buckets[4].high_value == pytest.approx(np.quantile(np.arange(1, 101), 0.5))


# -- tfma --------------------------------------------------------------------------


def _slice(country: str | None, count: float) -> MetricsForSlice:
    item = MetricsForSlice()
    if country:
        item.slice_key.single_slice_keys.add(column="country", bytes_value=country.encode())
    auc = item.metric_keys_and_values.add()
    auc.key.name = "auc"
    auc.value.bounded_value.value.value = 0.9
    auc.value.bounded_value.lower_bound.value = 0.85
    auc.value.bounded_value.upper_bound.value = 0.94
    accuracy = item.metric_keys_and_values.add()
    accuracy.key.name = "accuracy"
    t = accuracy.value.t_distribution_value
    t.unsampled_value.value = 0.8
    t.sample_mean.value = 0.79
    t.sample_standard_deviation.value = 0.02
    t.sample_degrees_of_freedom.value = 19
    item.metrics["example_count"].double_value.value = count
    return item


def test_tfma_intervals_from_bounds_and_from_a_t_distribution():
    from scipy import stats

    intervals = tfma.metric_intervals(_slice("PT", 500))
    assert intervals["auc"] == (0.85, 0.94)
    low, high = stats.t.interval(0.95, 19, loc=0.8, scale=0.02)
    assert intervals["accuracy"] == pytest.approx((low, high))
    assert tfma.metric_values(_slice("PT", 500))["accuracy"].startswith("0.8 (0.7581, 0.8419)")


def test_tfma_flags_slices_under_the_minimum_example_count():
    slices = [_slice(None, 4000), _slice("PT", 1200), _slice("JP", 57)]
    page = tfma.slices_html(slices, "country", min_examples=100)
    assert "1 of 3 slices have fewer than 100 examples" in page
    assert "hide slices under 100 examples" in page
    table_data = _data(page)
    assert table_data["intervals"]["2"][2] == pytest.approx([0.8 - 0.0419, 0.8 + 0.0419], abs=1e-4)
    assert table_data["columns"][-2:] == ["accuracy interval", "auc interval"]
    assert _data(page, "kv-chart-data")["min_examples"] == 100
    assert "slices have fewer than" not in tfma.slices_html(slices, "country", min_examples=10)
    with pytest.raises(DataError, match='"min_examples" must be a number'):
        tfma._min_examples("many")


# -- dark mode, Markdown -----------------------------------------------------------


def test_a_document_without_colours_of_its_own_follows_dark_mode():
    plain = "<!doctype html><html><head><title>r</title></head><body>hi</body></html>"
    assert html_type.with_dark_defaults(plain).startswith(
        '<!doctype html><html><head><meta name="color-scheme" content="light dark">'
    )
    assert html_type.with_dark_defaults("<p>hi</p>").startswith('<meta name="color-scheme"')
    assert html_type.with_dark_defaults("<!DOCTYPE html><p>x").startswith("<!DOCTYPE html><meta")
    assert 'class="kv-html kv-adapts"' in html_type.frame_html(plain)
    styled = "<html><body style='background:#fff;color:#111'>hi</body></html>"
    frame = html_type.frame_html(styled)
    assert 'class="kv-html"' in frame and "color-scheme&quot; content" not in frame


@pytest.mark.parametrize(
    ("document", "own"),
    [
        ('<p style="color: red">x</p>', True),
        ("<style>p { COLOR:#222 }</style>", True),
        ('<p style="border-color: red">x</p>', False),
        ("<body bgcolor=white>", True),
        ("<body style='background:#fffbe6'>", True),
        ('<link rel="stylesheet" href="a.css">', True),
        ('<meta name="color-scheme" content="light">', True),
        ("<p>colors: many</p>", False),
        ("<p>plain</p>", False),
    ],
)
def test_what_counts_as_a_documents_own_colours(document, own):
    assert html_type.has_own_colours(document) is own


def test_matplotlib_figures_come_in_a_light_and_a_dark_png():
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from kfp_viz_kernels import plotting
    from PIL import Image

    figure, axes = plt.subplots(figsize=(3, 2))
    axes.plot([1, 3, 2], color="tab:orange")
    axes.set_title("t")
    html = plotting.figure_html(figure)
    assert html is not None and html.startswith("<picture")
    dark, light = re.findall(r'(?:srcset|src)="data:image/png;base64,([^"]+)"', html)

    def corner(data: str) -> tuple[int, ...]:
        return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB").getpixel((1, 1))

    assert corner(light) == (255, 255, 255) and corner(dark) == (31, 31, 31)
    assert figure.patch.get_facecolor()[:3] == (1, 1, 1)  # the figure itself is left as it was
    assert axes.title.get_color() in ("black", "#000000", (0, 0, 0, 1))
    plt.close(figure)


def test_markdown_keeps_column_alignment_and_left_aligns_the_rest():
    html = markdown.to_html("| a | b | c |\n|:-:|--:|---|\n| 1 | 2 | 3 |\n")
    assert '<th style="text-align: center;">a</th>' in html
    assert '<td style="text-align: right;">2</td>' in html
    assert ".kv-markdown th,.kv-markdown td{text-align:left" in widgets.ASSETS["markdown.css"]
    assert ".kv-markdown blockquote{" in widgets.ASSETS["markdown.css"]


def test_table_export_and_summaries_are_on_the_page():
    page = table.table_html(pd.DataFrame({"a": [1.5, 2.5]}))
    assert 'class="kv-export"' in page and 'class="kv-export-text"' in page
    assert "function quantile" in page and "kv-spark" in page


def test_the_documented_tfma_json_is_read():
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "data-scientists" / "types.md"
    example = re.search(r"```json\n(.*?)```", doc.read_text(), re.S)[1]
    overall, japan = tfma._from_json(example, "types.md")
    assert tfma.slice_columns(japan) == (("country", "JP"),)
    assert tfma.metric_intervals(overall) == {"auc": (0.92, 0.94)}
    assert tfma.metric_numbers(japan) == {"auc": 0.96, "example_count": 57.0}
