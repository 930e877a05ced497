"""The built-in types' pages in headless Chromium, inside the KFP UI's sandboxed iframe, offline.

Every request the page could make fails (the browser fixture blocks all network), so a
page that needed a CDN would log an error: `shown.errors == []` proves it needs none. Each
interaction a data scientist uses is driven with the mouse or keyboard, on real data
(typedata.py), and the numbers the page shows are checked against scikit-learn's, pandas'
or numpy's. Every page passes axe-core (no serious or critical violation) in light and
dark mode, and fits a 360-pixel-wide frame without a horizontal scroll of the page.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import typedata
from browser import ShownPage, axe_violations, show_in_kfp_iframe
from sklearn.metrics import (
    average_precision_score,
    classification_report,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)
from support import ROOT, RunningServer

pytestmark = pytest.mark.integration
SAMPLES = ROOT / "samples"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> typedata.TypeData:
    return typedata.build(tmp_path_factory.mktemp("types-browser") / "data")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("types-browser-server") / "server.log"
    running = RunningServer(["--pool-size", "2", "--allow-custom-visualizations"], {}, log)
    running.wait_ready()
    yield running
    code = running.stop()
    assert code == 0, f"server exited with {code}:\n{running.log()}"


def page_of(server: RunningServer, viz_type: str, source: str = "", **arguments) -> str:
    reply = server.post(type=viz_type, source=source, arguments=json.dumps(arguments), timeout=120)
    assert reply.status_code == 200, reply.reason
    assert 'class="output error"' not in reply.text, reply.text[-3000:]
    return reply.text


def closed(shown: ShownPage) -> None:
    assert shown.errors == []
    shown.page.context.close()


def number(text: str) -> float:
    return float(text.replace(",", "").replace("\u2007", "").replace("\u2008", "").strip())


# -- roc_curve ---------------------------------------------------------------------


def test_roc_curves_legend_zoom_log_scale_and_operating_points(browser, server, data):
    page = page_of(
        server, "roc_curve", f"{data.root}/predictions", compare=[f"{data.root}/weak"], fprs=[0.05]
    )
    shown = show_in_kfp_iframe(browser, page, width=1280)
    frame, mouse = shown.frame, shown.page.mouse
    legend = frame.locator(".kv-legend li").all_inner_texts()
    aucs = [roc_auc_score(data.labels, s) for s in (data.scores, data.weak_scores)]
    aps = [average_precision_score(data.labels, s) for s in (data.scores, data.weak_scores)]
    assert legend == [
        f"predictions: AUC {aucs[0]:.4g} · AP {aps[0]:.4g}",
        f"weak: AUC {aucs[1]:.4g} · AP {aps[1]:.4g}",
    ]

    plot = frame.locator(".kv-plot[data-kind=roc]")
    box = frame.locator(".kv-plot[data-kind=roc] .u-over").bounding_box()
    pr_box = frame.locator(".kv-plot[data-kind=pr] .u-over").bounding_box()
    for area in (box, pr_box):  # square plot areas, side by side at 1280 px
        assert area["width"] == pytest.approx(area["height"], abs=2) and area["width"] > 380
    assert pr_box["x"] > box["x"] + box["width"] and pr_box["y"] == pytest.approx(box["y"], abs=2)
    assert plot.get_attribute("data-x-range") == "0 1"
    # zoom: drag a box over the top-left corner, then double-click to reset
    mouse.move(box["x"] + 2, box["y"] + 2)
    mouse.down()
    mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.3, steps=5)
    mouse.up()
    low, high = (float(v) for v in plot.get_attribute("data-x-range").split())
    assert low == pytest.approx(0, abs=0.01) and high == pytest.approx(0.2, abs=0.01)
    assert float(plot.get_attribute("data-y-range").split()[0]) == pytest.approx(0.7, abs=0.02)
    mouse.dblclick(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert plot.get_attribute("data-x-range") == "0 1"
    # log FPR: the axis starts at the power of ten at or below half the smallest positive FPR
    frame.locator(".kv-log").check()
    assert plot.get_attribute("data-scale") == "log"
    fpr_weak, _, _ = roc_curve(data.labels, data.weak_scores)
    fpr_model, _, _ = roc_curve(data.labels, data.scores)
    smallest = min(v for v in (*fpr_weak, *fpr_model) if v > 0)
    floor = 10 ** np.floor(np.log10(smallest / 2))
    assert float(plot.get_attribute("data-x-range").split()[0]) == pytest.approx(floor)
    frame.locator(".kv-log").uncheck()

    # operating points: the last point with FPR <= 0.05, exactly as sklearn's curve has it,
    # ringed on both curves: (FPR, TPR) on ROC, (recall, precision) on precision-recall
    rows = [r.split("\t") for r in frame.locator(".kv-ops tr.kv-op").all_inner_texts()]
    roc_marks = json.loads(plot.get_attribute("data-marks"))
    pr_marks = json.loads(frame.locator(".kv-plot[data-kind=pr]").get_attribute("data-marks"))
    for index, (row, scores) in enumerate(zip(rows, (data.scores, data.weak_scores), strict=True)):
        fpr, tpr, thresholds = roc_curve(data.labels, scores)
        at = np.searchsorted(fpr, 0.05, side="right") - 1
        positives, negatives = data.labels.sum(), (data.labels == 0).sum()
        precision = tpr[at] * positives / (tpr[at] * positives + fpr[at] * negatives)
        assert row[1] == "FPR ≤ 0.05"
        assert [number(v) for v in row[2:]] == pytest.approx(
            [thresholds[at], fpr[at], tpr[at], precision], rel=1e-3
        )
        assert roc_marks[index] == pytest.approx([0.05, index, fpr[at], tpr[at]])
        assert pr_marks[index] == pytest.approx([0.05, index, tpr[at], precision])
    # the point under the pointer joins the table; on the PR plot, a point of sklearn's curve
    mouse.move(box["x"] + box["width"] * 0.02, box["y"] + box["height"] * 0.1)
    under = frame.locator(".kv-ops tr.kv-under").inner_text().split("\t")
    assert under[0] == "predictions" and under[1] == "under the pointer"
    assert 0 <= number(under[3]) <= 0.1 and number(under[4]) >= 0.8
    mouse.move(pr_box["x"] + pr_box["width"] * 0.5, pr_box["y"] + pr_box["height"] * 0.05)
    under = frame.locator(".kv-ops tr.kv-under").inner_text().split("\t")
    scores = {"predictions": data.scores, "weak": data.weak_scores}[under[0]]
    precision, recall, _ = precision_recall_curve(data.labels, scores)
    point = [number(under[4]), number(under[5])]  # recall, precision as shown (4 digits)
    assert min(abs(recall - point[0]) + abs(precision - point[1])) < 1e-3
    frame.locator(".kv-legend button", has_text="weak").click()
    assert frame.locator(".kv-legend button[aria-pressed=false]").count() == 1
    assert frame.locator(".kv-ops tr.kv-op").count() == 1
    assert len(json.loads(plot.get_attribute("data-marks"))) == 1  # hidden curves lose rings
    frame.locator(".kv-targets").fill("0.01, 0.1")
    frame.locator(".kv-targets").press("Enter")
    assert frame.locator(".kv-ops tr.kv-op").count() == 2
    assert [m[0] for m in json.loads(plot.get_attribute("data-marks"))] == [0.01, 0.1]
    closed(shown)


def test_roc_one_curve_per_class(browser, server, data):
    shown = show_in_kfp_iframe(browser, page_of(server, "roc_curve", f"{data.root}/iris"))
    shown.frame.locator(".kv-log").check()  # its smallest FPR is just under 0.02
    plot = shown.frame.locator(".kv-plot[data-kind=roc]")
    assert plot.get_attribute("data-x-range") == "0.001 1"
    # a zoom box on the log axis that starts just under a power of ten (uPlot's own log
    # ticks threw there): the page zooms and logs no error
    box = shown.frame.locator(".kv-plot[data-kind=roc] .u-over").bounding_box()
    shown.page.mouse.move(box["x"] + box["width"] * 0.33, box["y"] + 5)
    shown.page.mouse.down()
    shown.page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2, steps=4)
    shown.page.mouse.up()
    low, high = (float(v) for v in plot.get_attribute("data-x-range").split())
    assert 0.005 < low < 0.02 and 0.3 < high < 0.7
    legend = shown.frame.locator(".kv-legend li").all_inner_texts()
    expected = [
        f"{name}: AUC {roc_auc_score(data.iris_labels == name, data.iris_scores[:, i]):.4g} · AP "
        f"{average_precision_score(data.iris_labels == name, data.iris_scores[:, i]):.4g}"
        for i, name in enumerate(typedata.IRIS)
    ]
    assert legend == expected
    macro = roc_auc_score(data.iris_labels, data.iris_scores, multi_class="ovr", average="macro")
    assert shown.frame.locator(".kv-macro-auc").inner_text() == f"{macro:.4g}"
    closed(shown)


# -- table -------------------------------------------------------------------------


def test_table_search_filters_summaries_and_missing_values(browser, server, data):
    shown = show_in_kfp_iframe(browser, page_of(server, "table", f"{data.root}/table/*.csv"))
    frame = shown.frame
    table = pd.concat(pd.read_csv(p) for p in sorted((data.root / "table").glob("*.csv")))
    assert frame.locator("tbody tr").count() == 100  # one page of the 100,000
    assert frame.locator(".kv-count").inner_text() == f"{typedata.TABLE_ROWS:,} rows"
    assert frame.locator("thead button.kv-sort").all_inner_texts() == [
        "id",
        "city",
        "value",
        "flag",
    ]
    # row 0 has a missing value (every 97th): a visible marker, not a blank
    assert frame.locator("tbody tr").first.locator("td").nth(2).inner_text() == "NA"
    assert frame.locator("tbody tr").first.locator("td.kv-missing").count() == 1

    frame.locator(".kv-search").fill("Quito-417")
    frame.locator(".kv-filter[data-col='2']").fill(">100")
    quito = table[(table.city == "Quito-417") & (table.value > 100)]
    frame.wait_for_function(
        f"() => document.querySelector('.kv-count').textContent.startsWith('{len(quito)} of')"
    )
    assert {c for c in frame.locator("tbody td:nth-child(2)").all_inner_texts()} == {"Quito-417"}
    frame.locator(".kv-summarize").click()
    summary = frame.locator("tr.kv-summary td[data-col='2']").inner_text()
    values = quito.value
    for name, expected in (("min", values.min()), ("25%", values.quantile(0.25)),
                           ("median", values.median()), ("75%", values.quantile(0.75)),
                           ("max", values.max()), ("mean", values.mean())):  # fmt: skip
        assert f"{name} {expected:.4g}" in summary, (name, summary)
    assert f"unique {values.nunique()}" in summary and "missing 0" in summary
    assert frame.locator("tr.kv-summary td[data-col='2'] svg.kv-spark rect").count() == 20
    top = frame.locator("tr.kv-summary td[data-col='1'] .kv-topbar").all_inner_texts()
    assert top == ["Quito-417 100%"]  # the filtered rows' one city
    # export: the rows shown, as CSV, exact values
    frame.locator(".kv-export").click()
    exported = pd.read_csv(io.StringIO(frame.locator(".kv-export-text").input_value()))
    pd.testing.assert_frame_equal(
        exported.reset_index(drop=True), quito.reset_index(drop=True), check_dtype=False
    )
    frame.locator(".kv-filter[data-col='2']").fill("missing")
    frame.locator(".kv-search").fill("")
    missing = int(table.value.isna().sum())
    frame.wait_for_function(
        f"() => document.querySelector('.kv-count').textContent.startsWith('{missing:,} of')"
    )
    assert frame.locator(".kv-export-note").inner_text().startswith(f"{missing:,} of 100,000")
    closed(shown)


def test_table_shows_numbers_booleans_and_dates_as_people_read_them(browser, server):
    page = page_of(server, "table", str(SAMPLES / "table/customers.csv"))
    shown = show_in_kfp_iframe(browser, page)
    frame = shown.frame
    frame_ = pd.read_csv(SAMPLES / "table/customers.csv")
    first = frame.locator("tbody tr").first.locator("td").all_inner_texts()
    row = frame_.iloc[0]
    assert first[0] == str(row.customer_id)  # an identifier: no separators
    assert first[1] == row.signup_date
    assert first[3] == ("✓ True" if row.active else "✗ False")
    assert first[4] == f"{row.income:,.0f}"  # spread of tens of thousands: whole, separated
    assert first[7] == f"{row.churn_score:.4f}"  # spread of about 0.2: four decimals
    exact = frame.locator("tbody tr").first.locator("td").nth(7).get_attribute("title")
    assert float(exact) == row.churn_score  # the exact value stays a hover away
    frame.locator(".kv-filter[data-col='1']").fill(">=2024-06-01")
    frame.locator(".kv-filter[data-col='3']").fill("false")
    wanted = frame_[(frame_.signup_date >= "2024-06-01") & ~frame_.active]
    frame.wait_for_function(
        f"() => document.querySelector('.kv-count').textContent.startsWith('{len(wanted)} of')"
    )
    frame.locator(".kv-summarize").click()
    dates = frame.locator("tr.kv-summary td[data-col='1']").inner_text()
    assert f"min {wanted.signup_date.min()}" in dates and f"max {wanted.signup_date.max()}" in dates
    closed(shown)


def test_table_sorts_from_the_keyboard_and_aligns_decimal_points(browser, server, data):
    shown = show_in_kfp_iframe(browser, page_of(server, "table", f"{data.root}/table/*.csv"))
    frame, keyboard = shown.frame, shown.page.keyboard
    frame.locator(".kv-export").focus()
    keyboard.press("Tab")  # the scroll region, then the first header button
    keyboard.press("Tab")
    assert frame.evaluate("() => document.activeElement.textContent") == "id"
    keyboard.press("Enter")
    keyboard.press("Enter")  # descending
    assert frame.locator("thead th[aria-sort]").count() == 1
    assert frame.locator("thead th").first.get_attribute("aria-sort") == "descending"
    first = frame.locator("tbody tr td:first-child").first.inner_text()
    assert first == str(typedata.TABLE_ROWS - 1)
    keyboard.press("Tab")  # on to the next header: "city"
    keyboard.press("Space")
    assert frame.locator("thead th").nth(1).get_attribute("aria-sort") == "ascending"
    assert frame.locator("thead th").first.get_attribute("aria-sort") is None
    # every value's decimal point (or where it would be) sits at the same x
    points = frame.evaluate(
        """() => Array.from(document.querySelectorAll('tbody td:nth-child(3).kv-num')).map(td => {
             const text = td.firstChild, at = text.textContent.search(/[.\u2008]/);
             const range = document.createRange();
             range.setStart(text, at); range.setEnd(text, at + 1);
             return range.getBoundingClientRect().left; })"""
    )
    assert len(points) > 50 and max(points) - min(points) < 0.5
    closed(shown)


# -- confusion_matrix --------------------------------------------------------------


def test_confusion_matrix_rates_and_report(browser, server, data):
    shown = show_in_kfp_iframe(
        browser, page_of(server, "confusion_matrix", f"{data.root}/iris_confusion.csv")
    )
    frame = shown.frame
    matrix = pd.crosstab(data.iris_labels, data.iris_predicted).reindex(
        index=typedata.IRIS, columns=typedata.IRIS, fill_value=0
    )
    counts = [number(v) for v in frame.locator("td.kv-cell").all_inner_texts()]
    assert counts == matrix.to_numpy().ravel().tolist()
    frame.locator(".kv-mode[data-mode=rates]").click()
    assert frame.locator(".kv-mode[data-mode=rates]").get_attribute("aria-pressed") == "true"
    rates = [v for v in frame.locator("td.kv-cell").all_inner_texts()]
    normalised = matrix.to_numpy() / matrix.to_numpy().sum(axis=1, keepdims=True)
    assert rates == [f"{100 * v:.1f}%" for v in normalised.ravel()]
    report = classification_report(data.iris_labels, data.iris_predicted, output_dict=True)
    for row in frame.locator("table.kv-report tbody tr").all_inner_texts():
        name, *values = row.split("\t")
        want = report[name]
        assert [number(v) for v in values] == pytest.approx(
            [want["precision"], want["recall"], want["f1-score"], want["support"]], abs=5e-5
        )
    frame.locator(".kv-mode[data-mode=counts]").click()
    assert number(frame.locator("td.kv-cell").first.inner_text()) == counts[0]
    closed(shown)


# -- tfdv --------------------------------------------------------------------------


def test_tfdv_compares_datasets_sorts_and_searches(browser, server, data):
    page = page_of(
        server, "tfdv", f"{data.root}/stats/stats.pb", compare=[f"{data.root}/eval-stats/stats.pb"]
    )
    shown = show_in_kfp_iframe(browser, page)
    frame = shown.frame
    stats = json.loads(frame.locator("script.kv-data").text_content())
    names = frame.locator("th.kv-name").evaluate_all("e => e.map(x => x.firstChild.textContent)")
    assert names == [*data.features, "diagnosis"]
    assert frame.locator("tbody.kv-feature").first.locator("tr").count() == 2  # a line per dataset
    overlay = frame.locator("svg.kv-hist").first.locator("rect").first.get_attribute("width")
    frame.locator(".kv-view[data-view=side]").click()
    side = frame.locator("svg.kv-hist").first.locator("rect").first.get_attribute("width")
    assert float(side) < float(overlay)  # each bucket shared by the two datasets
    frame.locator(".kv-order").select_option("distance")
    numeric = [f for f in stats["features"] if f["kind"] == "num"]
    by_distance = [f["name"] for f in sorted(numeric, key=lambda f: -f["distance"])]
    shown_names = frame.locator("table.kv-numeric th.kv-name")
    shown_order = shown_names.evaluate_all("e => e.map(x => x.firstChild.textContent)")
    assert shown_order == by_distance
    frame.locator(".kv-order").select_option("zeros")
    first = frame.locator("table.kv-numeric th.kv-name").first.evaluate(
        "e => e.firstChild.textContent"
    )
    most = max(numeric, key=lambda f: max(s["zeros"] for s in f["stats"]))
    assert first == most["name"]
    frame.locator(".kv-search").fill("concav")
    frame.wait_for_function(
        "() => document.querySelector('.kv-count').textContent.includes(' of ')"
    )
    found = frame.locator("th.kv-name").evaluate_all("e => e.map(x => x.firstChild.textContent)")
    assert found and sorted(found) == sorted(n for n in data.features if "concav" in n)
    closed(shown)


def test_tfdv_scales_bucket_ranges_and_drift_flags(browser, server):
    page = page_of(
        server, "tfdv", str(SAMPLES / "tfdv/train_stats.pbtxt"),
        compare=[str(SAMPLES / "tfdv/serving_stats.pbtxt")],
    )  # fmt: skip
    shown = show_in_kfp_iframe(browser, page)
    frame = shown.frame
    stats = {
        f["name"]: f for f in json.loads(frame.locator("script.kv-data").text_content())["features"]
    }
    income = frame.locator('tbody.kv-feature[data-feature="income"]')
    # skewed: opens on the log scale, its range printed under the chart
    assert (
        income.locator("svg.kv-hist").get_attribute("aria-label")
        == "Histogram (log scale) of income"
    )
    edges = stats["income"]["log_edges"]
    assert (
        income.locator(".kv-edges").inner_text()
        == f"{edges[0]:,.0f} – {edges[-1]:,.0f} (log scale)"
    )
    # the buckets, readable without a mouse: open the list from the keyboard
    income.locator("details.kv-buckets summary").focus()
    shown.page.keyboard.press("Enter")
    ranges = income.locator("table.kv-mini tbody tr").all_inner_texts()
    assert len(ranges) == 10 and all(" – " in r for r in ranges)
    shares = [number(r.split("\t")[1].rstrip("%")) / 100 for r in ranges]
    assert shares == pytest.approx(stats["income"]["log_shares"][0], abs=6e-4)
    # switch that one feature to linear, then quantiles: deciles in the list
    income.locator("select.kv-scale").select_option("linear")
    assert income.locator("svg.kv-hist").get_attribute("aria-label") == "Histogram of income"
    income.locator("select.kv-scale").select_option("quantile")
    income.locator("details.kv-buckets summary").click()
    deciles = income.locator("table.kv-mini tbody tr").all_inner_texts()
    assert len(deciles) == 11 and deciles[5].startswith("50%")
    assert number(deciles[5].split("\t")[1]) == pytest.approx(
        stats["income"]["quantiles"][0][5], rel=1e-3
    )
    # flags, with the thresholds stated
    assert "over 0.1 (linf_threshold)" in frame.locator(".kv-note", has_text="flagged").inner_text()
    country = frame.locator('tbody.kv-feature[data-feature="country"] .kv-flag').all_inner_texts()
    assert "⚠ new value in serving: “JP”" in country
    income_flags = income.locator(".kv-flag").all_inner_texts()
    assert len(income_flags) == 1 and income_flags[0].startswith("⚠ Jensen–Shannon ")
    assert income_flags[0].endswith("> 0.1 in serving")
    # categories: labelled bars with each dataset's share
    labels = frame.locator(
        'tbody.kv-feature[data-feature="country"] .kv-catlabel'
    ).all_inner_texts()
    country_shares = stats["country"]["shares"]
    assert labels[0] == stats["country"]["labels"][0] == "PT"
    first_share = frame.locator('tbody.kv-feature[data-feature="country"] .kv-catshare').first
    assert first_share.inner_text() == " / ".join(f"{100 * s[0]:.1f}%" for s in country_shares)
    frame.locator(".kv-flagged-only").check()
    flagged = frame.locator("th.kv-name").evaluate_all("e => e.map(x => x.firstChild.textContent)")
    assert sorted(flagged) == sorted(n for n, f in stats.items() if f.get("flags"))
    closed(shown)


# -- tfma --------------------------------------------------------------------------


def test_tfma_sortable_slices_and_chart_with_counts(browser, server, data):
    shown = show_in_kfp_iframe(
        browser, page_of(server, "tfma", f"{data.root}/eval", slicing_column="size")
    )
    frame = shown.frame
    slices = frame.locator("tr.kv-slice-bar th").all_inner_texts()
    values = [number(v) for v in frame.locator("tr.kv-slice-bar td.kv-value").all_inner_texts()]
    by_value = sorted(data.tfma_accuracy.items(), key=lambda item: -item[1])
    assert [name.replace("size: ", "") for name in slices] == [name for name, _ in by_value]
    assert values == pytest.approx([v for _, v in by_value], rel=1e-3)
    frame.locator(".kv-chart-order").select_option("count")
    counts = frame.locator("tr.kv-slice-bar td.kv-count").all_inner_texts()
    assert all(c.startswith("n = ") for c in counts)
    counts = [number(c[4:]) for c in counts]
    assert counts == sorted(counts, reverse=True) and counts[0] == len(data.labels)
    header = frame.locator("thead button.kv-sort", has_text="accuracy")
    header.click()
    header.click()
    cells = frame.locator(".kv-datatable tbody tr td:nth-child(3)").all_inner_texts()
    assert [number(v) for v in cells] == sorted((number(v) for v in cells), reverse=True)
    assert frame.locator(".kv-datatable thead th").nth(2).get_attribute("aria-sort") == "descending"
    closed(shown)


def test_tfma_fitted_axis_intervals_and_small_slices(browser, server):
    page = page_of(server, "tfma", str(SAMPLES / "tfma"), slicing_column="country")
    shown = show_in_kfp_iframe(browser, page)
    frame = shown.frame
    frame.locator(".kv-metric").select_option("auc")
    note = frame.locator(".kv-axis-note").inner_text()
    assert note.startswith("Axis from 0.") and "not from zero" in note
    low = float(note.split()[2])
    assert 0.7 < low < 0.92  # fitted: far from zero
    assert frame.locator(".kv-hbars .kv-whisker").count() == 8 == frame.locator(".kv-dot").count()
    small = frame.locator("tr.kv-slice-bar.kv-small")
    assert small.locator("th").inner_text() == "country: JP"
    assert small.locator(".kv-count").inner_text() == "⚠ n = 57"
    assert "1 of 8 slices have fewer than 100 examples" in frame.locator(".kv-notice").inner_text()
    frame.locator(".kv-zero").check()
    assert frame.locator(".kv-dot").count() == 0 and frame.locator(".kv-fill").count() == 8
    assert frame.locator(".kv-axis-note").inner_text() == "Bars from zero: differences to scale."
    frame.locator(".kv-hide-small").check()
    assert frame.locator("tr.kv-slice-bar").count() == 7
    assert frame.locator("tr.kv-slice-bar.kv-small").count() == 0
    closed(shown)


# -- custom code plotting, html ----------------------------------------------------


def test_matplotlib_and_plotly_figures_from_custom_code_display_offline(browser, server):
    code = [
        "import matplotlib.pyplot as plt",
        "fig, ax = plt.subplots()",
        "ax.plot([0, 1, 2], [2, 0, 1]); ax.set_title('matplotlib')",
        "plt.show()",
        "import plotly.express as px",
        "px.bar(x=['a', 'b', 'c'], y=[3, 1, 2], title='plotly').show()",
        "px.line(x=[1, 2, 3], y=[1, 4, 9]).show()",
    ]
    reply = server.post(type="custom", arguments=json.dumps({"code": code}), timeout=120)
    assert reply.status_code == 200
    shown = show_in_kfp_iframe(browser, reply.text)
    frame = shown.frame
    # a large page arrives compressed and replaces itself: wait for the figures
    frame.wait_for_function(
        "() => document.querySelectorAll('.plotly-figure .main-svg').length >= 2"
    )
    image = frame.locator("img").first
    assert image.evaluate("img => img.complete && img.naturalWidth > 300") is True
    titles = frame.locator(".plotly-figure .gtitle").evaluate_all("e => e.map(t => t.textContent)")
    assert titles == ["plotly"]
    assert frame.locator(".plotly-figure").first.locator("g.point").count() == 3  # three bars
    assert frame.evaluate("() => document.querySelectorAll('script').length") >= 3
    library = frame.evaluate(
        "() => Array.from(document.scripts).filter(s => s.text.includes('plotly.js v')).length"
    )
    assert library == 1  # plotly.js once, for both figures
    light = (
        "() => [document.querySelector('.plotly-figure')._fullLayout.paper_bgcolor, "
        "(i => i.currentSrc === i.src)(document.querySelector('picture img'))]"
    )
    assert frame.evaluate(light) == ["white", True]
    closed(shown)
    # in dark mode: plotly draws on the page's dark background, the browser picks the dark PNG
    shown = show_in_kfp_iframe(browser, reply.text, color_scheme="dark")
    frame = shown.frame
    frame.wait_for_function(
        "() => document.querySelectorAll('.plotly-figure .main-svg').length >= 2"
    )
    dark = frame.evaluate(
        """() => { const img = document.querySelector('picture img');
                   const source = document.querySelector('picture source');
                   return [document.querySelector('.plotly-figure')._fullLayout.paper_bgcolor,
                           img.complete && img.currentSrc === source.srcset,
                           source.srcset !== img.src]; }"""
    )
    assert dark == ["#1f1f1f", True, True]
    closed(shown)


def test_bokeh_figures_from_custom_code_display_offline(browser, server):
    code = [
        "from bokeh.io import output_notebook",
        "from bokeh.plotting import figure, show",
        "output_notebook()",
        "plot = figure(title='bokeh', width=400, height=300)",
        "plot.scatter([1, 2, 3], [3, 1, 2], size=10)",
        "show(plot)",
    ]
    reply = server.post(type="custom", arguments=json.dumps({"code": code}), timeout=120)
    assert reply.status_code == 200
    shown = show_in_kfp_iframe(browser, reply.text)
    shown.frame.wait_for_function("() => window.Bokeh && Bokeh.documents.length === 1")
    shown.frame.locator(".bk-Figure, .bk-Canvas, canvas").first.wait_for()
    title = shown.frame.evaluate("() => Bokeh.documents[0].roots()[0].title.text")
    assert title == "bokeh"
    closed(shown)


def test_html_document_frame_is_sized_to_its_content(browser, server, data):
    tall = "<!doctype html><body style='margin:0'><div style='height:1700px'>tall</div></body>"
    shown = show_in_kfp_iframe(browser, page_of(server, "html", tall, storage="inline"))
    frame = shown.frame.locator("iframe.kv-html")
    shown.frame.wait_for_function(
        "() => document.querySelector('iframe.kv-html').getBoundingClientRect().height > 1600"
    )
    assert frame.bounding_box()["height"] == pytest.approx(1702, abs=2)  # 1700 + borders
    inner = shown.frame.child_frames[0]
    assert inner.evaluate("() => document.documentElement.scrollHeight <= innerHeight")
    closed(shown)


def test_html_documents_follow_dark_mode_unless_they_set_their_own_colours(browser, server):
    plain = "<!doctype html><html><head><title>r</title></head><body><p>plain</p></body></html>"
    styled = "<html><body style='background:#fffbe6;color:#222'><p>styled</p></body></html>"
    colours = {}
    for name, document in (("plain", plain), ("styled", styled)):
        page = page_of(server, "html", document, storage="inline")
        shown = show_in_kfp_iframe(browser, page, color_scheme="dark")
        inner = shown.frame.child_frames[0]
        inner.wait_for_load_state("load")
        colours[name] = inner.evaluate("() => getComputedStyle(document.body).color")
        closed(shown)
    assert colours["plain"] == "rgb(255, 255, 255)"  # the browser's dark defaults
    assert colours["styled"] == "rgb(34, 34, 34)"  # its own colours kept


def test_markdown_keeps_column_alignment(browser, server):
    page = page_of(server, "markdown", str(SAMPLES / "markdown/model_card.md"))
    shown = show_in_kfp_iframe(browser, page, color_scheme="dark")
    aligned = shown.frame.evaluate(
        "() => Array.from(document.querySelectorAll('.kv-markdown tbody tr:first-child td'))"
        ".map(td => getComputedStyle(td).textAlign)"
    )
    assert aligned == ["left", "right", "center", "left"]  # :--, --:, :-:, and none given
    quote = shown.frame.locator(".kv-markdown blockquote")
    assert quote.evaluate("q => getComputedStyle(q).borderLeftStyle") == "solid"
    closed(shown)


# -- every page: accessibility, dark mode, narrow frames ---------------------------


def _pages(data: typedata.TypeData) -> list[tuple[str, str, dict]]:
    root = data.root
    return [
        ("roc_curve", f"{root}/predictions", {"compare": [f"{root}/weak"]}),
        ("table", f"{root}/table/part-0.csv", {}),
        ("confusion_matrix", f"{root}/iris_confusion.csv", {}),
        ("tfdv", f"{root}/stats/stats.pb", {"compare": [f"{root}/eval-stats/stats.pb"]}),
        ("tfma", f"{root}/eval", {"slicing_column": "size"}),
        ("metrics", f"{root}/metrics.json", {}),
        ("markdown", f"{root}/notes.md", {}),
        ("html", f"{root}/report.html", {}),
        *_sample_pages(),
    ]


def _sample_pages() -> list[tuple[str, str, dict]]:
    items = json.loads((SAMPLES / "manifest.json").read_text())
    return [
        (
            item["type"],
            str(SAMPLES / item["source"]),
            json.loads(json.dumps(item["arguments"]).replace("{samples}", str(SAMPLES))),
        )
        for item in items
    ]


@pytest.mark.parametrize("width", [360, 1280])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_passes_axe_in_light_and_dark_mode_narrow_and_wide(
    browser, server, data, scheme, width
):
    for viz_type, source, arguments in _pages(data):
        page = page_of(server, viz_type, source, **arguments)
        shown = show_in_kfp_iframe(browser, page, color_scheme=scheme, width=width)
        assert axe_violations(shown.frame) == [], (viz_type, source)
        dark = shown.frame.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert (dark == "rgb(31, 31, 31)") is (scheme == "dark"), viz_type
        overflow = shown.frame.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, (viz_type, source, overflow)  # wide content scrolls in its box
        closed(shown)


NARROW = [
    ("roc_curve", "roc_curve/model", {}, ".kv-ops"),
    ("confusion_matrix", "confusion_matrix/confusion.csv", {}, "table.kv-report"),
    ("table", "table/customers.csv", {}, ".kv-datatable table"),
    ("tfma", "tfma", {"slicing_column": "country"}, ".kv-datatable table"),
    ("tfdv", "tfdv/train_stats.pbtxt", {}, "table.kv-numeric"),
]


@pytest.mark.parametrize(("viz_type", "source", "arguments", "table"), NARROW)
def test_at_360_pixels_wide_tables_scroll_in_their_box_with_the_first_column_in_view(
    browser, server, viz_type, source, arguments, table
):
    page = page_of(server, viz_type, str(SAMPLES / source), **arguments)
    shown = show_in_kfp_iframe(browser, page, width=360, color_scheme="dark")
    frame = shown.frame
    box = frame.locator(table).first.locator("xpath=..")
    hint = box.locator("xpath=preceding-sibling::*[1]")
    assert hint.get_attribute("class") == "kv-scroll-hint" and hint.is_visible()
    assert "scroll this box sideways" in hint.inner_text()
    assert box.get_attribute("data-more") == "right"
    first = frame.locator(f"{table} tbody tr:first-child > :first-child").first
    left = first.bounding_box()["x"]
    box.evaluate("b => { b.scrollLeft = b.scrollWidth; b.dispatchEvent(new Event('scroll')); }")
    frame.wait_for_function("b => b.getAttribute('data-more') === 'left'", arg=box.element_handle())
    assert first.bounding_box()["x"] == pytest.approx(left, abs=1)  # pinned
    assert first.is_visible()
    closed(shown)
