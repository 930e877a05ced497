"""The `confusion_matrix` type: KFP's confusion-matrix CSV as a shaded matrix, with accuracy.

`source` is a pattern of header-less CSVs of `target,predicted,count` rows, the
file a KFP v1 pipeline step names in its `confusion_matrix` output metadata.
Optional `variables`, as in that metadata: `labels` (the axis order) and
`schema` (a list of `{"name": ...}` when the columns come in another order).
Rows with the same pair are added up; a first row that repeats the column
names is taken as a header.
"""

from __future__ import annotations

import pandas as pd

from kernels.csvdata import read_csvs
from kernels.viz_errors import DataError
from kernels.widgets import esc, number, show

COLUMNS = ("target", "predicted", "count")


def render(variables: dict, source: str) -> None:
    names = _names(variables.get("schema"))
    frame = read_csvs(source, names=names)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"The schema of {source!r} lacks the column(s) {missing}")
    frame = frame[list(COLUMNS)]
    if len(frame) and [str(v) for v in frame.iloc[0]] == list(COLUMNS):
        frame = frame.iloc[1:]
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
    show(matrix_html(matrix, title=source), "confusion-matrix")


def matrix_html(matrix: pd.DataFrame, title: str = "") -> str:
    values = matrix.to_numpy(dtype=float)
    total = values.sum()
    accuracy = float(values.trace() / total) if total else float("nan")
    top = values.max() if values.size else 0.0
    head = "".join(f'<th class="kv-text">{esc(label)}</th>' for label in matrix.columns)
    rows = []
    for label, row in zip(matrix.index, values, strict=True):
        cells = []
        for predicted, value in zip(matrix.columns, row, strict=True):
            share = value / top if top else 0.0
            colour = "#fff" if share > 0.55 else "#202124"
            cells.append(
                f'<td class="kv-cell" style="background:rgba(26,115,232,{share:.3f});'
                f'color:{colour}" title="true {esc(label)}, predicted {esc(predicted)}: '
                f'{number(value)}">{number(value)}</td>'
            )
        rows.append(f'<tr><th class="kv-text">{esc(label)}</th>{"".join(cells)}</tr>')
    return (
        (f'<p class="kv-note">{esc(title)}</p>' if title else "")
        + f'<p class="kv-figure">Accuracy: <b class="kv-accuracy" data-accuracy="{accuracy!r}">'
        f"{number(accuracy)}</b>"
        f" &nbsp; ({number(total)} examples)</p>"
        '<table class="kv-cm"><thead><tr><th class="kv-text">true \\ predicted</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
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
