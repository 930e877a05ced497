"""The built-in types' page fragments and input checks, without a kernel."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from kernels import sources, widgets
from kernels.types import confusion_matrix, metrics, roc_curve, table
from kernels.viz_errors import DataError


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
        "numeric": [False, True, False],
        "rows": [["a</script>", 1.5, True], ["b", None, False]],
    }
    assert html.count("table.js") == 0 and "kv-search" in html  # the script is inlined, not linked


def test_roc_page_carries_auc_and_infinite_threshold_as_null():
    fpr, tpr, thresholds = (
        np.array([0, 0, 1.0]),
        np.array([0, 1.0, 1.0]),
        np.array([np.inf, 0.5, 0]),
    )
    html = roc_curve.roc_html(fpr, tpr, thresholds)
    assert 'data-auc="1.0"' in html
    assert _data_block(html)["thresholds"] == [None, 0.5, 0.0]


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
    assert (
        'class="kv-accuracy" data-accuracy="0.85">0.85<' in html
        and "true cat, predicted dog: 2" in html
    )


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
    html = roc_curve.roc_html(fpr, tpr, thresholds)
    drawn = _data_block(html)
    assert len(fpr) > 20_000 and 100 < len(drawn["fpr"]) <= 4_100
    assert (drawn["fpr"][0], drawn["tpr"][-1]) == (0.0, 1.0)
    assert float(re.search(r'data-auc="([^"]+)"', html)[1]) == roc_curve.auc(fpr, tpr)
    assert all(np.diff(drawn["fpr"]) >= 0)


def test_csv_files_with_different_columns_are_refused(tmp_path):
    from kernels.csvdata import read_csvs

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
