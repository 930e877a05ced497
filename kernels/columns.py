"""What kind each column of a table is, and how its numbers are shown: read once, in the kernel.

The table widget (`widgets.data_table`, `assets/table.js`) shows every value as people
read it, so it must know per column what it holds:

- `num`: numbers, shown with thousands separators (not for identifiers and years, by
  name: `id`, `user_id`, `year`, `zip`, `code`..., where `1,998` would mislead) to the
  number of decimals the column's own spread calls for: four significant digits of its
  interquartile range (of its range when that is 0), never more decimals than the values
  have. `0.912345678` in a column spanning 0–1 shows as `0.9123`; incomes of 10,000 to
  1,000,000 with cents show as whole numbers with separators. The exact value stays in
  the data: sorting, filters, summaries and the export use it.
- `bool`: True/False (pandas' booleans, with or without missing values);
- `date`: ISO 8601 dates or times (`2024-05-01`, `2024-05-01T13:45:00Z`), sorted, filtered
  and summarized as times;
- `text`: anything else.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
IDENTIFIER = re.compile(r"(?:^|[_\s.-])(?:id|year|zip|code)$|^(?:id|year|zip|code)$", re.I)
MAX_DECIMALS = 10
SIGNIFICANT = 4


def column_format(name: str, values: pd.Series) -> dict[str, Any]:
    """The kind of one column and, for numbers, how to show them."""
    if pd.api.types.is_bool_dtype(values.dtype) or _all_bools(values):
        return {"kind": "bool"}
    if pd.api.types.is_numeric_dtype(values.dtype):
        floats = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        finite = floats[np.isfinite(floats)]
        return {"kind": "num", "decimals": decimals(finite), "plain": _plain(name, finite)}
    if _all_dates(values):
        return {"kind": "date"}
    return {"kind": "text"}


def frame_formats(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [column_format(str(name), frame[name]) for name in frame.columns]


def decimals(finite: np.ndarray) -> int:
    """Decimals that show SIGNIFICANT digits of the values' spread, at most as many as
    they have (0 for whole numbers)."""
    if not len(finite) or np.all(finite == np.round(finite)):
        return 0
    low, high = np.percentile(finite, [25, 75])
    spread = float(high - low) or float(finite.max() - finite.min()) or float(np.abs(finite).max())
    wanted = SIGNIFICANT - 1 - math.floor(math.log10(spread)) if spread > 0 else MAX_DECIMALS
    sample = finite[:: max(1, len(finite) // 20_000)]
    have = next(
        (
            d
            for d in range(MAX_DECIMALS + 1)
            if np.allclose(np.round(sample, d), sample, rtol=1e-12, atol=1e-15)
        ),
        MAX_DECIMALS,
    )
    return int(min(max(wanted, 0), have, MAX_DECIMALS))


def _plain(name: str, finite: np.ndarray) -> bool:
    """Identifiers and years (by the column's name) go without thousands separators."""
    if not len(finite) or not np.all(finite == np.round(finite)):
        return False
    return bool(IDENTIFIER.search(name))


def _all_bools(values: pd.Series) -> bool:
    if values.dtype != object:
        return False
    present = values.dropna()
    return bool(len(present)) and all(isinstance(v, bool | np.bool_) for v in present)


def _all_dates(values: pd.Series) -> bool:
    present = values.dropna()
    if not len(present) or not all(isinstance(v, str) for v in present.head(50)):
        return False
    text = present.astype(str)
    if not text.str.match(ISO_DATE).all():
        return False
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
    return not parsed.isna().any()
