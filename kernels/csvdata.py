"""Reading the CSV files a source names into one pandas DataFrame, with errors people can act on.

`table`, `roc_curve` and `confusion_matrix` all read "every CSV matching a
pattern" the way the stock server did (TensorFlow's `get_matching_files`, then
`pandas.read_csv` per file, then `concat`); this is that, over `kfp_viz_kernels.sources`.
"""

from __future__ import annotations

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
) -> pd.DataFrame:
    """All CSVs matching `pattern`, concatenated.

    `header=False` reads the first row as data; `names` names the columns
    (and implies no header row). Locations whose file name is in `skip`
    (e.g. `schema.json` beside the data) are left out.
    """
    locations = [loc for loc in sources.match(pattern) if loc.rsplit("/", 1)[-1] not in skip]
    if not locations:
        raise sources.SourceError(f"No data file matches the source {pattern!r}")
    frames = [_read_one(loc, names, header) for loc in locations]
    if names is None and len({tuple(f.columns) for f in frames}) > 1:
        shapes = zip(locations, frames, strict=True)
        raise DataError(
            f"The CSV files matching {pattern!r} have different columns: "
            + "; ".join(f"{loc}: {list(frame.columns)}" for loc, frame in shapes)
        )
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _read_one(location: str, names: Sequence[str] | None, header: bool) -> pd.DataFrame:
    data = sources.read_bytes(location)
    if not data.strip():
        raise DataError(f"The CSV file {location!r} is empty")
    try:
        if names is not None:
            return pd.read_csv(io.BytesIO(data), names=list(names), header=None)
        return pd.read_csv(io.BytesIO(data), header=0 if header else None)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"Cannot read {location!r} as CSV: {reason}") from None
