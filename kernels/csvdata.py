"""Reading the CSV files a source names into one pandas DataFrame, with errors people can act on.

`table`, `roc_curve` and `confusion_matrix` all read "every CSV matching a
pattern" the way the stock server did (TensorFlow's `get_matching_files`, then
`pandas.read_csv` per file, then `concat`); this is that, over `kfp_viz_kernels.sources`.

Files whose columns are named elsewhere (a `schema.json`, a `headers` argument, a
type's fixed columns) are meant to have no header row, but people write one anyway:
every type reads them through `read_csvs(..., names=...)`, which finds such a row the
same way for all of them (`is_header_row`) and skips it, instead of one type failing
on it and another skipping it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import pandas as pd

from . import sources
from .viz_errors import DataError


def read_csvs(
    pattern: str,
    *,
    names: Sequence[str] | None = None,
    header: bool = True,
    skip: Sequence[str] = (),
    names_from: str | None = None,
) -> pd.DataFrame:
    """All CSVs matching `pattern`, concatenated.

    `header=False` reads the first row as data; `names` names the columns
    (and implies no header row: a first row that is one anyway is skipped, see
    `is_header_row`). Locations whose file name is in `skip` (e.g. `schema.json`
    beside the data) are left out. `names_from` (e.g. `'"headers"'`) says where `names`
    came from and asks that each file's rows have exactly that many cells; without it,
    pandas' own rule holds (short rows padded, as the stock server read them).
    """
    locations = [loc for loc in sources.match(pattern) if loc.rsplit("/", 1)[-1] not in skip]
    if not locations:
        raise sources.SourceError(f"No data file matches the source {pattern!r}")
    frames = [_read_one(loc, names, header, names_from) for loc in locations]
    if names is None and len({tuple(f.columns) for f in frames}) > 1:
        shapes = zip(locations, frames, strict=True)
        raise DataError(
            f"The CSV files matching {pattern!r} have different columns: "
            + "; ".join(f"{loc}: {list(frame.columns)}" for loc, frame in shapes)
        )
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def is_header_row(first: Sequence[str], second: Sequence[str] | None, names: Sequence[str]) -> bool:
    """Whether a file's `first` row names its columns rather than holding data.

    It does when its cells are the expected column `names` (in any case, with spaces
    around), or when no cell of it is a number while the row after it (`second`) has a
    number in a column where `first` has text: a header in another wording (`FPR,TPR,
    threshold` for `fpr,tpr,thresholds`) over numeric data.
    """
    cells = [c.strip() for c in first]
    if [c.lower() for c in cells] == [str(n).strip().lower() for n in names][: len(cells)]:
        return len(cells) == len(names)
    if second is None or any(_is_number(c) for c in cells):
        return False
    return any(
        _is_number(b) and a != "" for a, b in zip(cells, (c.strip() for c in second), strict=False)
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _first_rows(data: bytes) -> tuple[list[str], list[str] | None]:
    """The first two rows of a CSV file's bytes, as text cells (the second None if absent)."""
    head = data[:65536].decode("utf-8", "replace")
    rows = csv.reader(io.StringIO(head))
    first = next(rows, [])
    return first, next(rows, None)


def _read_one(
    location: str, names: Sequence[str] | None, header: bool, names_from: str | None
) -> pd.DataFrame:
    data = sources.read_bytes(location)
    if not data.strip():
        raise DataError(f"The CSV file {location!r} is empty")
    try:
        if names is not None:
            first, second = _first_rows(data)
            if names_from and len(first) != len(names):
                raise DataError(
                    f"{location!r} has {len(first)} columns but {names_from} names "
                    f"{len(names)}: {list(names)}"
                )
            skip = 1 if is_header_row(first, second, names) else 0
            return pd.read_csv(io.BytesIO(data), names=list(names), header=None, skiprows=skip)
        return pd.read_csv(io.BytesIO(data), header=0 if header else None)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"Cannot read {location!r} as CSV: {reason}") from None
