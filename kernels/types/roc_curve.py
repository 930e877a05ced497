"""The `roc_curve` type: an ROC curve with the threshold under the pointer, and its AUC.

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
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import auc, roc_curve

from kernels import sources
from kernels.csvdata import read_csvs
from kernels.viz_errors import DataError
from kernels.widgets import esc, finite_or_none, json_script, number, script, show

SCHEMA_FILE = "schema.json"
# Points closer than this (in the unit square, along the curve) to the last drawn one are
# not drawn: a curve of 200,000 distinct scores stays a few thousand points on the page.
PLOT_RESOLUTION = 0.0005


def render(variables: dict, source: str) -> None:
    if _truthy(variables.get("is_generated")):
        fpr, tpr, thresholds = _generated_curve(source)
    else:
        fpr, tpr, thresholds = _curve_from_predictions(variables, source)
    show(roc_html(fpr, tpr, thresholds, title=source), "roc")


def roc_html(fpr: np.ndarray, tpr: np.ndarray, thresholds: np.ndarray, title: str = "") -> str:
    order = np.lexsort((tpr, fpr))
    area = float(auc(fpr[order], tpr[order])) if len(fpr) > 1 else float("nan")
    drawn = plotted_points(fpr, tpr)
    data = {
        "fpr": [float(v) for v in fpr[drawn]],
        "tpr": [float(v) for v in tpr[drawn]],
        "thresholds": [_threshold(v) for v in np.asarray(thresholds)[drawn]],
    }
    shown = f"{len(fpr)} points" + (f", {len(drawn)} drawn" if len(drawn) < len(fpr) else "")
    return (
        (f'<p class="kv-note">{esc(title)}</p>' if title else "")
        + f'<p class="kv-figure">AUC: <b class="kv-auc" data-auc="{area!r}">{number(area)}</b>'
        f" &nbsp; ({shown})</p>"
        '<div class="kv-plot"><div class="kv-tip"></div></div>'
        + json_script(data)
        + script("roc.js")
    )


def plotted_points(fpr: np.ndarray, tpr: np.ndarray) -> np.ndarray:
    """Indices of the points worth drawing: the first, the last, and one per PLOT_RESOLUTION
    of path length along the curve (the AUC is always computed from every point)."""
    if len(fpr) <= 2:
        return np.arange(len(fpr))
    steps = np.hypot(np.diff(fpr), np.diff(tpr))
    travelled = np.concatenate(([0.0], np.cumsum(steps)))
    _, first_in_bin = np.unique(np.floor(travelled / PLOT_RESOLUTION), return_index=True)
    return np.union1d(first_in_bin, [len(fpr) - 1])


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


def _curve_from_predictions(
    variables: dict, source: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data_pattern, names = _schema_and_data(source)
    frame = read_csvs(data_pattern, names=names, skip=(SCHEMA_FILE,))
    target = _target(frame, variables, source)
    score_column = str(variables.get("true_score_column", "true"))
    if score_column not in frame.columns:
        raise DataError(
            f"true_score_column {score_column!r} is not a column of {source!r}; "
            f"its columns are {list(frame.columns)}"
        )
    scores = pd.to_numeric(frame[score_column], errors="coerce")
    if scores.isna().any():
        bad = frame[score_column][scores.isna()].iloc[0]
        raise DataError(f"Column {score_column!r} of {source!r} must be numbers; it holds {bad!r}")
    if target.nunique() < 2:
        raise DataError(
            f"An ROC curve needs examples of both classes, but every row of {source!r} is "
            f"{'positive' if target.iloc[0] else 'negative'} (trueclass "
            f"{variables.get('trueclass', 'true')!r})"
        )
    fpr, tpr, thresholds = roc_curve(target.to_numpy(), scores.to_numpy())
    return fpr, tpr, thresholds


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


def _target(frame: pd.DataFrame, variables: dict, source: str) -> pd.Series:
    target_lambda = variables.get("target_lambda")
    if target_lambda:
        rule = eval(target_lambda)  # allowed only with custom code on (server/validation.py)
        return frame.apply(rule, axis=1).astype(int)
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
    fpr, tpr, _ = roc_curve(frame["target"].to_numpy(), frame["true"].to_numpy())
    auc(fpr, tpr)
    json_script({"fpr": [float(v) for v in fpr]})


_warm_up()
