"""The `table` type: every CSV a pattern matches, as one sortable, searchable table.

Stock semantics: `source` is a pattern of CSV files, read and concatenated;
with `headers` (a list) the files have no header row and those are the column
names. The rows travel once as JSON and the page's script shows them a page at
a time, so 100,000 rows stay usable: search and per-column filters look at every
row, header buttons sort them (keyboard too), column summaries come on demand (a
small histogram and quantiles of numbers and dates, the top values of text and
booleans), and the rows shown can be exported as CSV. Each column is read for what
it holds (`kfp_viz_kernels.columns`): numbers get thousands separators and the
decimals their spread calls for, right-aligned on the decimal point; booleans and
ISO dates are recognized. Missing values show as a marked `NA`. With `headers`, a
first row that names the columns anyway is skipped (as for every CSV type).
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd
from kfp_viz_kernels.columns import frame_formats
from kfp_viz_kernels.csvdata import read_csvs
from kfp_viz_kernels.viz_errors import DataError
from kfp_viz_kernels.widgets import data_table, show, unknown_arguments

ARGUMENTS = ("headers",)


def render(variables: dict[str, Any], source: str) -> None:
    headers = variables.get("headers") or None
    if headers is not None and (
        not isinstance(headers, list) or not all(isinstance(h, str | int | float) for h in headers)
    ):
        raise DataError('"headers" must be a list of column names')
    names = None if headers is None else [str(h) for h in headers]
    frame = read_csvs(source, names=names, names_from='"headers"')
    show(table_html(frame, title=source), "table", notes=unknown_arguments(variables, ARGUMENTS))


def table_html(frame: pd.DataFrame, title: str = "") -> str:
    """The table widget for `frame`: toolbar, an empty table the script fills, the data."""
    return data_table(
        [str(c) for c in frame.columns], frame_formats(frame), rows_json(frame), title=title
    )


def rows_json(frame: pd.DataFrame) -> str:
    """The rows as a JSON array of arrays: floats exact (shortest round trip), NaN/inf as null."""
    clean = frame.replace([np.inf, -np.inf], np.nan) if _has_floats(frame) else frame
    values = clean.astype(object).where(clean.notna(), None).to_numpy().tolist()
    return json.dumps(values, separators=(",", ":"), default=str, allow_nan=False)


def _has_floats(frame: pd.DataFrame) -> bool:
    return any(pd.api.types.is_float_dtype(dtype) for dtype in frame.dtypes)


def _warm_up() -> None:
    """Run the library calls a render makes once, on tiny data, at import.

    The kernel factory imports this module before forking kernels, so lazy
    imports and first-call set-up inside the libraries happen there, once,
    instead of in every new kernel's first render.
    """
    rows_json(pd.read_csv(io.StringIO("a,b,c\n1,x,0.5\n2,,\n"), header=0))


_warm_up()
