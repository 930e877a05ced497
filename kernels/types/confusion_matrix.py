"""The `confusion_matrix` type: KFP's confusion-matrix CSV as a matrix and a per-class report.

`source` is a pattern of header-less CSVs of `target,predicted,count` rows, the
file a KFP v1 pipeline step names in its `confusion_matrix` output metadata.
Optional `variables`, as in that metadata: `labels` (the axis order) and
`schema` (a list of `{"name": ...}` when the columns come in another order).
Rows with the same pair are added up; a first row that names the columns is
taken as a header (found as for every CSV type, `kfp_viz_kernels.csvdata`). An
argument the type does not know is named on the page.

The page shows counts or row-normalised rates (a toggle), each cell shaded by
its share of its row (so a small class's errors show as plainly as a large
one's), row and column totals, and scikit-learn's `classification_report`
numbers: per-class precision, recall, F1 and support, accuracy, and macro and
weighted averages, computed by `precision_recall_fscore_support` with the counts
as sample weights (classes never predicted get precision 0, as there).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from kfp_viz_kernels.csvdata import read_csvs
from kfp_viz_kernels.viz_errors import DataError
from kfp_viz_kernels.widgets import esc, number, scripts, show, unknown_arguments
from sklearn.metrics import precision_recall_fscore_support

COLUMNS = ("target", "predicted", "count")
ARGUMENTS = ("labels", "schema")


def render(variables: dict[str, Any], source: str) -> None:
    names = _names(variables.get("schema"))
    frame = read_csvs(source, names=names)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"The schema of {source!r} lacks the column(s) {missing}")
    frame = frame[list(COLUMNS)]
    counts = pd.to_numeric(frame["count"], errors="coerce")
    if counts.isna().any():
        bad = frame["count"][counts.isna()].iloc[0]
        raise DataError(f"The count column of {source!r} must hold numbers; it holds {bad!r}")
    frame = frame.assign(
        target=frame["target"].astype(str), predicted=frame["predicted"].astype(str), count=counts
    )
    labels = _labels(variables.get("labels"), frame)
    matrix = frame.pivot_table(
        index="target", columns="predicted", values="count", aggfunc="sum", fill_value=0
    ).reindex(index=labels, columns=labels, fill_value=0)
    notes = unknown_arguments(variables, ARGUMENTS)
    show(matrix_html(matrix, title=source), "confusion-matrix", notes=notes)


def matrix_html(matrix: pd.DataFrame, title: str = "") -> str:
    values = matrix.to_numpy(dtype=float)
    total = values.sum()
    accuracy = float(values.trace() / total) if total else float("nan")
    return (
        (f'<p class="kv-note">{esc(title)}</p>' if title else "")
        + f'<p class="kv-figure">Accuracy: <b class="kv-accuracy" data-accuracy="{accuracy!r}">'
        f"{number(accuracy)}</b> &nbsp; ({number(total)} examples)</p>"
        '<div class="kv-bar" role="group" aria-label="Show">'
        '<button type="button" class="kv-mode" data-mode="counts" aria-pressed="true">Counts'
        '</button><button type="button" class="kv-mode" data-mode="rates" aria-pressed="false">'
        "Rates (share of each true class)</button></div>"
        f'<div class="kv-wrap" tabindex="0" role="region" aria-label="Confusion matrix">'
        f"{_grid(matrix.index, values)}</div>"
        '<h4 id="kv-report-title">Per-class metrics</h4>'
        '<div class="kv-wrap" tabindex="0" role="region" aria-labelledby="kv-report-title">'
        f"{report_html(matrix.index, values)}</div>" + scripts("confusion_matrix.js")
    )


def _grid(labels: pd.Index, values: np.ndarray) -> str:
    """The matrix, true classes down, predicted across, with totals; each cell's shade is
    its share of its row."""
    row_totals = values.sum(axis=1)
    head = "".join(f'<th scope="col" class="kv-text">{esc(label)}</th>' for label in labels)
    rows = []
    for label, row, row_total in zip(labels, values, row_totals, strict=True):
        cells = []
        for value in row:
            share = value / row_total if row_total else 0.0
            cell = f'<td class="kv-cell" style="--s:{share:.3f}">{number(value)}</td>'
            cells.append(cell)
        rows.append(
            f'<tr><th scope="row" class="kv-text">{esc(label)}</th>{"".join(cells)}'
            f'<td class="kv-total">{number(row_total)}</td></tr>'
        )
    column_totals = "".join(f'<td class="kv-total">{number(v)}</td>' for v in values.sum(axis=0))
    return (
        '<table class="kv-cm kv-pin"><thead><tr><th scope="col" class="kv-text">'
        f'true \\ predicted</th>{head}<th scope="col" class="kv-total">total</th></tr></thead>'
        f"<tbody>{''.join(rows)}"
        f'<tr><th scope="row" class="kv-text kv-total">total</th>{column_totals}'
        f'<td class="kv-total">{number(values.sum())}</td></tr></tbody></table>'
    )


def report(labels: pd.Index, values: np.ndarray) -> list[tuple[str, list[float]]]:
    """classification_report's rows: (name, [precision, recall, F1, support]) per class,
    then the macro and weighted averages (accuracy is shown on its own)."""
    true, predicted = np.indices(values.shape)
    weights = values.ravel()
    keep = weights > 0
    names = np.asarray(labels, dtype=object)
    y_true, y_pred = names[true.ravel()[keep]], names[predicted.ravel()[keep]]
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=list(labels), sample_weight=weights[keep], zero_division=0
    )
    support = values.sum(axis=1)
    per_class = np.column_stack([precision, recall, f1])
    rows = [(str(label), [*per_class[i], support[i]]) for i, label in enumerate(labels)]
    # scikit-learn's averages: the plain mean over classes, and the mean weighted by support
    rows.append(("macro avg", [*per_class.mean(axis=0), support.sum()]))
    weighted = np.average(per_class, axis=0, weights=support) if support.sum() else [0.0] * 3
    rows.append(("weighted avg", [*weighted, support.sum()]))
    return rows


def report_html(labels: pd.Index, values: np.ndarray) -> str:
    rows = []
    for name, figures in report(labels, values) if values.sum() else []:
        cells = "".join(
            f'<td data-value="{float(v)!r}">{f"{v:.4f}" if i < 3 else number(v)}</td>'
            for i, v in enumerate(figures)
        )
        kind = ' class="kv-avg"' if name in ("macro avg", "weighted avg") else ""
        rows.append(f'<tr{kind}><th scope="row" class="kv-text">{esc(name)}</th>{cells}</tr>')
    return (
        '<table class="kv-report kv-pin"><thead><tr><th scope="col" class="kv-text">class</th>'
        '<th scope="col">precision</th><th scope="col">recall</th><th scope="col">F1</th>'
        f'<th scope="col">support</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _names(schema: object) -> list[str]:
    if schema is None:
        return list(COLUMNS)
    if not isinstance(schema, list) or not all(
        isinstance(c, dict) and isinstance(c.get("name"), str) for c in schema
    ):
        raise DataError('"schema" must be a list of {"name": ...} objects, one per CSV column')
    return [c["name"] for c in schema]


def _labels(given: object, frame: pd.DataFrame) -> list[str]:
    seen = list(dict.fromkeys([*frame["target"], *frame["predicted"]]))
    if given is None:
        return sorted(seen)
    if not isinstance(given, list):
        raise DataError('"labels" must be a list of class names')
    labels = [str(label) for label in given]
    return labels + [label for label in seen if label not in labels]


def _warm_up() -> None:
    """Run the library calls a render makes once, on tiny data, at import.

    The kernel factory imports this module before forking kernels, so lazy
    imports and first-call set-up inside the libraries happen there, once,
    instead of in every new kernel's first render.
    """
    frame = pd.DataFrame({"target": ["a", "b"], "predicted": ["a", "a"], "count": [1, 2]})
    pivot = frame.pivot_table(
        index="target", columns="predicted", values="count", aggfunc="sum", fill_value=0
    )
    matrix_html(pivot.reindex(index=["a", "b"], columns=["a", "b"], fill_value=0))


_warm_up()
