"""The `roc_curve` type: ROC and precision–recall curves, zoomable, with an operating-point table.

Stock semantics, both modes:
- `is_generated` true: `source` is a header-less CSV (or pattern) of
  `fpr,tpr,thresholds` rows, drawn as given.
- otherwise `source` names prediction CSVs whose column names come from
  `schema.json` (a list of `{"name": ...}`) in the source folder (the folder
  itself, or the folder holding the pattern); the positive class is
  `target == trueclass` (default `"true"`), or `target_lambda` (Python lambda
  text applied per row; custom code must be allowed, checked by the server),
  and the score is column `true_score_column` (default `"true"`). The curve is
  scikit-learn's `roc_curve`, as in the stock server.
Classes are compared as text too, so `trueclass` "1" matches a column of 1s and
"true" matches a column pandas read as booleans.

Beyond the stock type:
- several curves on one plot: `compare` lists more sources, read the same way
  (see `kfp_viz_kernels.named_sources`);
- multi-class predictions (a `target` of three or more classes, and a score
  column named after each class, as KFP's predictions CSVs have) give one
  one-vs-rest curve per class and their macro-average AUC; `per_class` true or
  false forces it on or off;
- `fprs`: the false-positive rates the operating-point table starts with, marked
  on the curves;
- beside ROC, the precision–recall curve (scikit-learn's `precision_recall_curve`) and
  its average precision (`average_precision_score`), for curves made from predictions
  (a ready-made `fpr,tpr,thresholds` curve has no counts to make one from);
- a CSV with a header row is read as well as one without (`kfp_viz_kernels.csvdata`);
- an argument the type does not know is named on the page, which still renders.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from kfp_viz_kernels import sources
from kfp_viz_kernels.csvdata import read_csvs
from kfp_viz_kernels.named_sources import named_sources
from kfp_viz_kernels.viz_errors import DataError
from kfp_viz_kernels.widgets import (
    esc,
    finite_or_none,
    json_script,
    number,
    scripts,
    show,
    swatch,
    unknown_arguments,
)
from sklearn.metrics import auc, precision_recall_curve, roc_curve

SCHEMA_FILE = "schema.json"
# Points closer than this (in the unit square, along the curve) to the last drawn one are
# not drawn: a curve of 200,000 distinct scores stays a few thousand points on the page.
PLOT_RESOLUTION = 0.0005
DEFAULT_FPRS = (0.01, 0.05, 0.1, 0.2)
ARGUMENTS = ("is_generated", "target_lambda", "trueclass", "true_score_column", "compare",
             "name", "per_class", "fprs")  # fmt: skip


@dataclass(frozen=True)
class PrecisionRecall:
    """A precision–recall curve, recall ascending, and its average precision."""

    recall: np.ndarray
    precision: np.ndarray
    thresholds: np.ndarray
    average_precision: float


@dataclass(frozen=True)
class Curve:
    """One ROC curve; `positives`/`negatives` are known when it came from predictions."""

    name: str
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    positives: int | None = None
    negatives: int | None = None
    pr: PrecisionRecall | None = None

    @property
    def auc(self) -> float:
        if len(self.fpr) < 2:
            return float("nan")
        order = np.lexsort((self.tpr, self.fpr))
        return float(auc(self.fpr[order], self.tpr[order]))


def render(variables: dict[str, Any], source: str) -> None:
    fprs = _fprs(variables.get("fprs"))  # arguments are checked before any data is read
    named = named_sources(source, variables)
    curves: list[Curve] = []
    summaries: list[tuple[str, float]] = []
    for name, location in named:
        found = curves_of(location, variables, prefix=name if len(named) > 1 else None)
        if len(found) > 1:
            label = "Macro-average AUC, one-vs-rest" + (f" ({name})" if len(named) > 1 else "")
            summaries.append((label, float(np.mean([c.auc for c in found]))))
        curves.extend(found)
    title = ", ".join(location for _, location in named)
    page = roc_html(curves, fprs=fprs, title=title, summaries=summaries)
    show(page, "roc", notes=unknown_arguments(variables, ARGUMENTS))


def curves_of(source: str, variables: dict[str, Any], prefix: str | None = None) -> list[Curve]:
    """The curve(s) one source gives: its generated curve, its predictions' curve, or one
    one-vs-rest curve per class. `prefix` names the source in front of class names."""
    label = prefix or named_sources(source, {})[0][0]
    if _truthy(variables.get("is_generated")):
        return [Curve(label, *_generated_curve(source))]
    data_pattern, names = _schema_and_data(source)
    frame = read_csvs(data_pattern, names=names, skip=(SCHEMA_FILE,))
    classes = _classes(frame, variables, source)
    if classes:
        target = frame["target"].astype(str)
        return [
            _curve(f"{prefix} · {name}" if prefix else name, (target == name).astype(int),
                   _scores(frame, name, source), source)
            for name in classes
        ]  # fmt: skip
    score_column = str(variables.get("true_score_column", "true"))
    return [
        _curve(
            label, _target(frame, variables, source), _scores(frame, score_column, source), source
        )
    ]


def roc_html(
    curves: list[Curve],
    fprs: tuple[float, ...] = DEFAULT_FPRS,
    title: str = "",
    summaries: Sequence[tuple[str, float]] = (),
) -> str:
    """The ROC and precision–recall plots, legend, controls and operating-point table."""
    data = {"curves": [_curve_data(c) for c in curves], "fprs": list(fprs)}
    legend = "".join(
        f'<li><button type="button" aria-pressed="true" data-curve="{index}">'
        f"{swatch(index)}{esc(c.name)}: AUC "
        f'<b class="kv-auc" data-auc="{c.auc!r}">{number(c.auc)}</b>'
        + (
            f' · AP <b class="kv-ap" data-ap="{c.pr.average_precision!r}">'
            f"{number(c.pr.average_precision)}</b>"
            if c.pr
            else ""
        )
        + "</button></li>"
        for index, c in enumerate(curves)
    )
    described = "; ".join(f"{c.name}, AUC {number(c.auc)}" for c in curves)
    with_pr = [c for c in curves if c.pr]
    pr_described = "; ".join(
        f"{c.name}, average precision {number(c.pr.average_precision)}" for c in with_pr if c.pr
    )
    figures = "".join(
        f'<p class="kv-figure">{esc(label)}: <b class="kv-macro-auc" data-auc="{value!r}">'
        f"{number(value)}</b></p>"
        for label, value in summaries
    )
    thinned = [c.name for c in curves if len(c.fpr) > len(plotted_points(c.fpr, c.tpr))]
    note = (
        f'<p class="kv-note">Drawn with one point per {PLOT_RESOLUTION} of curve length '
        f"({esc(', '.join(thinned))}); the AUC and AP use every point, the table the drawn "
        "ones.</p>"
        if thinned
        else ""
    )
    pr_plot = (
        '<figure class="kv-figure-box"><figcaption id="kv-pr-title">Precision–recall '
        '<span class="kv-note">(dashed: the share of positives, a random model)</span>'
        '</figcaption><div class="kv-plot" data-kind="pr" role="img" '
        f'aria-label="Precision–recall curves: {esc(pr_described)}">'
        '<div class="kv-canvas"></div><div class="kv-marker"></div></div></figure>'
        if with_pr
        else ""
    )
    pr_note = (
        ""
        if len(with_pr) == len(curves)
        else '<p class="kv-note">No precision–recall curve for '
        + esc(", ".join(c.name for c in curves if not c.pr))
        + ": a ready-made ROC curve has no counts of positives and negatives to make one from "
        "(give the predictions instead).</p>"
    )
    return (
        (f'<p class="kv-note">{esc(title)}</p>' if title else "")
        + figures
        + f'<ul class="kv-legend" aria-label="Curves (press to hide or show)">{legend}</ul>'
        + '<div class="kv-bar"><label><input type="checkbox" class="kv-log"> log FPR axis</label>'
        '<button type="button" class="kv-reset">Reset zoom</button>'
        '<span class="kv-note">Drag a box to zoom; double-click to reset. Rings mark the '
        "operating points of the table.</span></div>"
        '<div class="kv-plots"><figure class="kv-figure-box"><figcaption id="kv-roc-title">ROC '
        '<span class="kv-note">(dashed: a random model)</span></figcaption>'
        '<div class="kv-plot" data-kind="roc" role="img" '
        f'aria-label="ROC curves: {esc(described)}">'
        '<div class="kv-canvas"></div><div class="kv-marker"></div></div></figure>'
        + pr_plot
        + "</div>"
        + note
        + pr_note
        + '<h4 id="kv-ops-title">Operating points</h4><div class="kv-bar"><label>'
        'FPR targets <input class="kv-targets kv-wide" '
        f'value="{esc(", ".join(f"{v:g}" for v in fprs))}"></label></div>'
        '<div class="kv-wrap" tabindex="0" role="region" aria-labelledby="kv-ops-title">'
        '<table class="kv-ops kv-pin"><thead><tr>'
        '<th class="kv-text" scope="col">curve</th><th class="kv-text" scope="col">at</th>'
        '<th scope="col">threshold</th><th scope="col">FPR</th><th scope="col">TPR (recall)</th>'
        '<th scope="col">precision</th></tr></thead><tbody></tbody></table></div>'
        + json_script(data)
        + scripts("uplot", "roc.js")
    )


def _curve_data(curve: Curve) -> dict[str, Any]:
    drawn = plotted_points(curve.fpr, curve.tpr)
    found: dict[str, Any] = {
        "name": curve.name,
        "auc": finite_or_none(curve.auc),
        "fpr": [float(v) for v in curve.fpr[drawn]],
        "tpr": [float(v) for v in curve.tpr[drawn]],
        "thr": [_threshold(v) for v in np.asarray(curve.thresholds)[drawn]],
        "pos": curve.positives,
        "neg": curve.negatives,
        "pr": None,
    }
    if curve.pr:
        pr = curve.pr
        kept = plotted_points(pr.recall, pr.precision)
        found["pr"] = {
            "ap": finite_or_none(pr.average_precision),
            "recall": [float(v) for v in pr.recall[kept]],
            "precision": [float(v) for v in pr.precision[kept]],
            "thr": [_threshold(v) for v in pr.thresholds[kept]],
        }
    return found


def _fprs(value: object) -> tuple[float, ...]:
    if value is None:
        return DEFAULT_FPRS
    rates = value if isinstance(value, list) else []
    if not rates or not all(_is_number(v) and 0 <= v <= 1 for v in rates):
        raise DataError('"fprs" must be a list of false-positive rates between 0 and 1')
    return tuple(float(v) for v in rates)


def plotted_points(fpr: np.ndarray, tpr: np.ndarray) -> np.ndarray:
    """Indices of the points worth drawing: the first, the last, and one per PLOT_RESOLUTION
    of path length along the curve (the AUC is always computed from every point)."""
    if len(fpr) <= 2:
        return np.arange(len(fpr))
    steps = np.hypot(np.diff(fpr), np.diff(tpr))
    travelled = np.concatenate(([0.0], np.cumsum(steps)))
    _, first_in_bin = np.unique(np.floor(travelled / PLOT_RESOLUTION), return_index=True)
    return np.union1d(first_in_bin, [len(fpr) - 1])


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _threshold(value: Any) -> float | str | None:
    try:
        return finite_or_none(float(value))
    except (TypeError, ValueError):
        return str(value)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _generated_curve(source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frame = read_csvs(source, names=["fpr", "tpr", "thresholds"])
    for column in ("fpr", "tpr"):
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise DataError(
                f"{source!r} is not a CSV of fpr,tpr,thresholds numbers: column {column} holds "
                f"{frame[column].iloc[0]!r}"
            )
    fpr, tpr = frame["fpr"].to_numpy(float), frame["tpr"].to_numpy(float)
    return fpr, tpr, frame["thresholds"].to_numpy()


def _scores(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    if column not in frame.columns:
        raise DataError(
            f"true_score_column {column!r} is not a column of {source!r}; "
            f"its columns are {list(frame.columns)}"
        )
    scores = pd.to_numeric(frame[column], errors="coerce")
    if scores.isna().any():
        bad = frame[column][scores.isna()].iloc[0]
        raise DataError(f"Column {column!r} of {source!r} must be numbers; it holds {bad!r}")
    return scores


def _curve(name: str, target: pd.Series, scores: pd.Series, source: str) -> Curve:
    positives = int(target.sum())
    if positives in (0, len(target)):
        raise DataError(
            f"An ROC curve needs examples of both classes, but every row of {source!r} is "
            f"{'positive' if positives else 'negative'} for {name!r}"
        )
    labels, values = target.to_numpy(), scores.to_numpy()
    fpr, tpr, thresholds = roc_curve(labels, values)
    return Curve(
        name,
        fpr,
        tpr,
        thresholds,
        positives,
        len(target) - positives,
        precision_recall(labels, values),
    )


def precision_recall(labels: np.ndarray, scores: np.ndarray) -> PrecisionRecall:
    """scikit-learn's precision–recall curve, turned to run with recall ascending (as the
    plot's x axis does), and its average precision. sklearn's last point (recall 0,
    precision 1) has no threshold: it gets none here either.

    The average precision is computed from this curve as `average_precision_score` does for
    binary labels (the sum of precision × each step in recall, sklearn's own expression),
    instead of by calling it, which would sort every score once more."""
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    average_precision = -np.sum(np.diff(recall) * np.array(precision)[:-1])
    thresholds = np.append(thresholds.astype(float), np.nan)
    return PrecisionRecall(
        recall[::-1].copy(),
        precision[::-1].copy(),
        thresholds[::-1].copy(),
        float(average_precision),
    )


def _classes(frame: pd.DataFrame, variables: dict[str, Any], source: str) -> list[str]:
    """The classes to draw one-vs-rest curves for, or [] for the stock single curve."""
    wanted = variables.get("per_class")
    if wanted is not None and not isinstance(wanted, bool):
        raise DataError('"per_class" must be true or false')
    chosen = any(k in variables for k in ("trueclass", "true_score_column", "target_lambda"))
    if wanted is False or (wanted is None and chosen) or "target" not in frame.columns:
        return []
    classes = sorted(frame["target"].astype(str).unique())
    unscored = [c for c in classes if c not in frame.columns]
    if wanted is None:
        return classes if len(classes) >= 3 and not unscored else []
    if unscored:
        raise DataError(
            f"per_class needs a score column named after each class of {source!r}; "
            f"none for {unscored} (columns: {list(frame.columns)})"
        )
    return classes


def _schema_and_data(source: str) -> tuple[str, list[str]]:
    """Find schema.json (in `source` as a folder, else beside the pattern) and the data pattern."""
    candidates = []
    if not sources.has_pattern(source):
        candidates.append((sources.join(source, SCHEMA_FILE), sources.join(source, "*")))
    candidates.append((sources.join(sources.parent(source), SCHEMA_FILE), source))
    for schema_location, data_pattern in candidates:
        try:
            text = sources.read_text(schema_location)
        except sources.SourceNotFound:
            continue
        return data_pattern, _column_names(text, schema_location)
    looked = " and ".join(repr(c[0]) for c in candidates)
    raise sources.SourceNotFound(
        f"roc_curve reads predictions with a {SCHEMA_FILE} naming their columns; none found for "
        f"{source!r} (looked at {looked}). Set is_generated to true for a CSV of fpr,tpr,thresholds"
    )


def _column_names(text: str, location: str) -> list[str]:
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"{location!r} is not valid JSON: {error}") from None
    if not isinstance(schema, list) or not all(
        isinstance(c, dict) and isinstance(c.get("name"), str) for c in schema
    ):
        raise DataError(f'{location!r} must be a list of {{"name": ...}} objects, one per column')
    return [c["name"] for c in schema]


def _target(frame: pd.DataFrame, variables: dict[str, Any], source: str) -> pd.Series:
    target_lambda = variables.get("target_lambda")
    if target_lambda:
        rule = eval(target_lambda)  # allowed only with custom code on (CODE_ARGUMENTS)
        target: pd.Series = frame.apply(rule, axis=1).astype(int)
        return target
    if "target" not in frame.columns:
        raise DataError(
            f"{source!r} has no 'target' column (its columns are {list(frame.columns)}); "
            "name it in schema.json or give target_lambda"
        )
    trueclass = variables.get("trueclass", "true")
    return frame["target"].apply(lambda value: 1 if _same_class(value, trueclass) else 0)


def _same_class(value: Any, trueclass: Any) -> bool:
    if value == trueclass or str(value) == str(trueclass):
        return True
    return isinstance(value, bool | np.bool_) and str(value).lower() == str(trueclass).lower()


def _warm_up() -> None:
    """Run the library calls a render makes once, on tiny data, at import.

    The kernel factory imports this module before forking kernels, so lazy
    imports and first-call set-up inside the libraries happen there, once,
    instead of in every new kernel's first render.
    """
    frame = pd.read_csv(io.StringIO("1,0.9\n0,0.2\n"), names=["target", "true"], header=None)
    curve = _curve("warm-up", frame["target"], frame["true"], "warm-up")
    roc_html([curve], summaries=[("warm-up", curve.auc)])


_warm_up()
