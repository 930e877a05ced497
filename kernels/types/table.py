"""The `table` type: every CSV a pattern matches, as one sortable, searchable table.

Stock semantics: `source` is a pattern of CSV files, read and concatenated;
with `headers` (a list) the files have no header row and those are the column
names. The rows travel once as JSON and the page's script shows them a page at
a time, so 100,000 rows stay usable: search and per-column filters look at every
row, header buttons sort them (keyboard too), and column summaries (min, max,
mean, unique, missing) come on demand. Missing values show as a marked `NA`;
numbers are right-aligned on their decimal point.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd
from kfp_viz_kernels.csvdata import read_csvs
from kfp_viz_kernels.viz_errors import DataError
from kfp_viz_kernels.widgets import data_table, show


def render(variables: dict[str, Any], source: str) -> None:
    headers = variables.get("headers") or None
    if headers is not None and (
        not isinstance(headers, list) or not all(isinstance(h, str | int | float) for h in headers)
    ):
        raise DataError('"headers" must be a list of column names')
    frame = read_csvs(source, header=headers is None)
    if headers is not None:
        if len(headers) != len(frame.columns):
            raise DataError(
                f'{source!r} has {len(frame.columns)} columns but "headers" names '
                f"{len(headers)}: {headers}"
            )
        frame.columns = [str(h) for h in headers]
    show(table_html(frame, title=source), "table")


def table_html(frame: pd.DataFrame, title: str = "") -> str:
    """The table widget for `frame`: toolbar, an empty table the script fills, the data."""
    numeric = [
        pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        for dtype in frame.dtypes
    ]
    return data_table([str(c) for c in frame.columns], numeric, rows_json(frame), title=title)


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
