"""The built-in types' page fragments and input checks, without a kernel."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from kfp_viz_kernels import sources, widgets
from kfp_viz_kernels.types import confusion_matrix, metrics, roc_curve, table
from kfp_viz_kernels.viz_errors import DataError


def _data_block(html: str):
    block = re.search(r'<script type="application/json" class="kv-data">(.*?)</script>', html, re.S)
    return json.loads(block[1])


def test_json_blocks_cannot_close_their_script_tag():
    html = widgets.json_script({"value": "</script><script>alert(1)</script><!--"})
    assert html.count("</script>") == 1
    assert _data_block(html) == {"value": "</script><script>alert(1)</script><!--"}


def test_table_embeds_rows_once_with_column_kinds():
    frame = pd.DataFrame({"name": ["a</script>", "b"], "x": [1.5, None], "ok": [True, False]})
    html = table.table_html(frame)
    data = _data_block(html)
    assert data == {
        "columns": ["name", "x", "ok"],
        "formats": [
            {"kind": "text"},
            {"kind": "num", "decimals": 1, "plain": False},
            {"kind": "bool"},
        ],
        "rows": [["a</script>", 1.5, True], ["b", None, False]],
    }
    assert html.count("table.js") == 0 and "kv-search" in html  # the script is inlined, not linked


def test_roc_page_carries_auc_and_infinite_threshold_as_null():
    curve = roc_curve.Curve(
        "m", np.array([0, 0, 1.0]), np.array([0, 1.0, 1.0]), np.array([np.inf, 0.5, 0]), 3, 4
    )
    html = roc_curve.roc_html([curve], fprs=(0.1,))
    assert 'data-auc="1.0"' in html
    data = _data_block(html)
    assert data["curves"][0]["thr"] == [None, 0.5, 0.0]
    assert (data["curves"][0]["pos"], data["curves"][0]["neg"], data["fprs"]) == (3, 4, [0.1])
    assert html.count("uPlot") >= 1 and html.count("window.kvViz = ") == 1


def test_roc_one_curve_per_class_with_a_score_column_each():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    labels = rng.choice(["a", "b", "c"], 300)
    scores = rng.dirichlet([1, 1, 1], 300)
    scores[np.arange(300), (labels == "b") + 2 * (labels == "c")] += 1.0
    scores /= scores.sum(axis=1, keepdims=True)
    frame = pd.DataFrame(
        {"target": labels, "a": scores[:, 0], "b": scores[:, 1], "c": scores[:, 2]}
    )
    assert roc_curve._classes(frame, {}, "s") == ["a", "b", "c"]
    assert roc_curve._classes(frame, {"trueclass": "a", "true_score_column": "a"}, "s") == []
    curves = [roc_curve._curve(c, frame["target"].eq(c).astype(int), frame[c], "s") for c in "abc"]
    for curve, name in zip(curves, "abc", strict=True):
        expected = roc_auc_score(frame["target"] == name, frame[name])
        assert curve.auc == pytest.approx(expected, abs=1e-12)
    macro = roc_auc_score(frame["target"], scores, multi_class="ovr", average="macro")
    assert np.mean([c.auc for c in curves]) == pytest.approx(macro, abs=1e-12)
    with pytest.raises(DataError, match="score column named after each class"):
        roc_curve._classes(frame.drop(columns="c"), {"per_class": True}, "s")


@pytest.mark.parametrize(
    ("sources", "names"),
    [
        (["/runs/a/predictions", "/runs/b/predictions"], ["a", "b"]),
        (["/data/predictions/*.csv"], ["predictions"]),
        (["minio://b/x/stats.pb", "minio://b/y/stats.pb"], ["x", "y"]),
        (["/a/p", "/a/p"], ["/a/p", "/a/p"]),
    ],
)
def test_several_sources_are_named_by_what_differs(sources, names):
    from kfp_viz_kernels.named_sources import short_names

    assert short_names(sources) == names


def test_compare_argument_checks():
    from kfp_viz_kernels.named_sources import named_sources

    named = named_sources("/r/a/p", {"compare": ["/r/b/p", {"source": "/r/c/p", "name": "base"}]})
    assert named == [("a", "/r/a/p"), ("b", "/r/b/p"), ("base", "/r/c/p")]
    with pytest.raises(DataError, match=r'"compare"\[0\] must be a source'):
        named_sources("/x", {"compare": [3]})
    with pytest.raises(DataError, match='"fprs" must be a list'):
        roc_curve._fprs([2])


def test_roc_classes_compare_as_text():
    assert roc_curve._same_class(True, "true") and roc_curve._same_class(1, "1")
    assert not roc_curve._same_class("false", "true")


def test_confusion_matrix_grid_and_accuracy():
    frame = pd.DataFrame(
        [["cat", "cat", 8], ["cat", "dog", 2], ["dog", "dog", 9], ["dog", "cat", 1]],
        columns=["target", "predicted", "count"],
    )
    grid = frame.pivot_table(index="target", columns="predicted", values="count", aggfunc="sum")
    html = confusion_matrix.matrix_html(grid)
    assert 'class="kv-accuracy" data-accuracy="0.85">0.85<' in html
    assert '<td class="kv-cell" style="--s:0.200">2</td>' in html  # shaded by share of its row
    assert '<td class="kv-total">10</td>' in html


def test_confusion_report_equals_sklearns_classification_report():
    from sklearn.metrics import classification_report

    rng = np.random.default_rng(5)
    true = rng.choice(["a", "b", "c"], 500, p=[0.7, 0.25, 0.05])
    predicted = np.where(rng.random(500) < 0.7, true, rng.choice(["a", "b", "c"], 500))
    predicted[true == "c"] = "a"  # class c is never predicted right, nor predicted at all
    expected = classification_report(true, predicted, output_dict=True, zero_division=0)
    grid = pd.crosstab(pd.Series(true), pd.Series(predicted)).reindex(
        index=["a", "b", "c"], columns=["a", "b", "c"], fill_value=0
    )
    rows = dict(confusion_matrix.report(grid.index, grid.to_numpy(dtype=float)))
    for name in ("a", "b", "c", "macro avg", "weighted avg"):
        want = expected[name]
        got = rows[name]
        assert got == pytest.approx(
            [want["precision"], want["recall"], want["f1-score"], want["support"]], abs=1e-12
        ), name


def test_metrics_json_checks():
    good = '{"metrics": [{"name": "acc", "numberValue": 0.9, "format": "PERCENTAGE"}]}'
    assert metrics.parse_metrics(good, "m.json") == [("acc", 0.9, "PERCENTAGE")]
    assert "90.00%" in metrics.metrics_html([("m.json", "acc", 0.9, "PERCENTAGE")])
    for bad, why in [
        ("[1]", '"metrics" list'),
        ('{"metrics": [{"name": "a"}]}', "numberValue"),
        ('{"metrics": [{"name": "a", "numberValue": 1, "format": "X"}]}', "format 'X'"),
        ("{", "not valid JSON"),
    ]:
        with pytest.raises(DataError, match=why):
            metrics.parse_metrics(bad, "m.json")


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("data/*.csv", "data/a.csv", True),
        ("data/*.csv", "data/sub/a.csv", False),
        ("data/**/*.csv", "data/sub/a.csv", True),
        ("data/part-?.csv", "data/part-1.csv", True),
        ("data/[ab].csv", "data/c.csv", False),
        ("data/a.csv", "data/a.csv", True),
        ("data/a.csv", "data/a.csvx", False),
    ],
)
def test_object_key_patterns_follow_glob(pattern, key, matches):
    assert bool(sources._key_regex(pattern).fullmatch(key)) is matches


def test_local_sources(tmp_path):
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "b.csv").write_text("x\n2\n")
    assert sources.match(str(tmp_path / "*.csv")) == [
        str(tmp_path / "a.csv"),
        str(tmp_path / "b.csv"),
    ]
    with pytest.raises(sources.SourceError, match="No file matches"):
        sources.match(str(tmp_path / "*.tsv"))
    with pytest.raises(sources.SourceError, match="is a folder"):
        sources.match(str(tmp_path))
    with pytest.raises(sources.SourceError, match="Unsupported source 'ftp://x/y'"):
        sources.match("ftp://x/y")


def test_roc_with_many_points_draws_a_thinned_curve_but_keeps_the_exact_auc():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 100_000)
    scores = labels * 0.3 + rng.random(100_000)
    fpr, tpr, thresholds = roc_curve.roc_curve(labels, scores)
    html = roc_curve.roc_html([roc_curve.Curve("m", fpr, tpr, thresholds)])
    drawn = _data_block(html)["curves"][0]
    assert len(fpr) > 20_000 and 100 < len(drawn["fpr"]) <= 4_100
    assert (drawn["fpr"][0], drawn["tpr"][-1]) == (0.0, 1.0)
    assert float(re.search(r'data-auc="([^"]+)"', html)[1]) == roc_curve.auc(fpr, tpr)
    assert all(np.diff(drawn["fpr"]) >= 0)
    assert "the AUC and AP use every point" in html


def test_csv_files_with_different_columns_are_refused(tmp_path):
    from kfp_viz_kernels.csvdata import read_csvs

    (tmp_path / "a.csv").write_text("x,y\n1,2\n")
    (tmp_path / "b.csv").write_text("x,z\n3,4\n")
    with pytest.raises(DataError, match="different columns"):
        read_csvs(str(tmp_path / "*.csv"))
    (tmp_path / "b.csv").write_text("x,y\n3,4\n")
    assert read_csvs(str(tmp_path / "*.csv"))["x"].tolist() == [1, 3]


@pytest.mark.parametrize("headers", ['"a,b"', "[[1]]", '{"a": 1}'])
def test_table_headers_must_be_a_list_of_names(tmp_path, headers):
    (tmp_path / "a.csv").write_text("1,2\n")
    with pytest.raises(DataError, match='"headers" must be a list'):
        table.render({"headers": json.loads(headers)}, str(tmp_path / "a.csv"))


def test_html_frame_is_sized_by_its_document_unless_a_height_is_given():
    from kfp_viz_kernels.types import html as html_type

    sized = html_type.frame_html("<p>hi</p>")
    assert "kfpVizHeight" in sized and "postMessage" in sized and "height:600px" in sized
    fixed = html_type.frame_html("<p>hi</p>", 300)
    assert "height:300px" in fixed and "kfpVizHeight" not in fixed


def test_tfdv_distances():
    from kfp_viz_kernels.types import tfdv

    assert tfdv.js_divergence([1, 0], [0, 1]) == pytest.approx(1.0)
    assert tfdv.js_divergence([0.5, 0.5], [0.5, 0.5]) == pytest.approx(0.0)
    assert tfdv.linf_distance({"a": 0.7, "b": 0.3}, {"a": 0.4, "c": 0.6}) == pytest.approx(0.6)
    edges, shares = tfdv.common_grid([[(0, 10, 10)], [(5, 15, 10)]])
    assert edges[0] == 0 and edges[-1] == 15
    assert shares[0][:6] == pytest.approx([0.15] * 6) and shares[0][-1] == 0  # 1.5 of 10 each
    assert shares[1][0] == 0 and shares[1][-1] == pytest.approx(0.15)


def test_assets_are_inlined_once_with_their_styles_first():
    both = widgets.scripts("uplot", "roc.js", "tfdv.js")
    assert both.count(widgets.ASSETS["series.css"]) == 1
    assert both.count(widgets.ASSETS["vendor/uplot/uPlot.iife.min.js"]) == 1
    assert both.index(widgets.ASSETS["roc.css"]) < both.index(widgets.ASSETS["roc.js"])
    assert widgets.scripts("table.js", skip=widgets.assets_of("tfma.js")).count("<style>") == 1
