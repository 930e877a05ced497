"""Numbers, durations and times written as the live page writes them.

`kfp-viz watch` and the live page (server/progress/templates/live.js: `fmt`, `duration`,
`rateText`, `clockTime`) show one run side by side, so they must write `2,200` the same
way, not `2.2e+03` in one and `2,200` in the other. The page's rules are JavaScript's, so
they are restated here with JavaScript's rounding: `toPrecision`, `toFixed` and
`toExponential` round a tie away from zero (on the exact binary value), `Math.round` a
half up, where Python's formats round a tie to even. The cases both must agree on are one
table, tests/unit/number_formats.json, checked here (tests/unit/test_numbers.py) and in
the page itself, in Chromium (tests/integration/test_progress_browser.py).

No input makes these print `NaN` or an absurd figure: what is not a finite number is
shown as a dash, and a duration past MAX_HOURS as "over 1,000,000 h".
"""

from __future__ import annotations

import math
import time
from decimal import ROUND_HALF_UP, Decimal

DASH = "\u2014"
"""What stands for a value that is missing or not a number."""
MAX_HOURS = 1_000_000
"""Durations from this many hours on (114 years) are no measurement: an ETA at a rate of
almost nothing. They read "over 1,000,000 h"."""
MAX_DATE_SECONDS = 8.64e12
"""The largest time (seconds from the epoch, either way) a JavaScript `Date` can hold."""


def number(value: float | None) -> str:
    """A metric's value, a count, a rate: whole numbers with thousands separators
    (`2,200`), others to 4 significant digits (`0.3142`), very large or small ones in
    exponent form (`1.235e+6`), a dash for none (the page's `fmt`)."""
    if value is None or not math.isfinite(value):
        return DASH
    if float(value).is_integer() and abs(value) < 1e15:
        return ("-" if math.copysign(1.0, value) < 0 else "") + f"{abs(int(value)):,}"
    size = abs(value)
    if size >= 1e6 or size < 1e-4:
        return _exponential(value, 3)
    return _shortest(precision(value, 4))


def precision(value: float, digits: int) -> float:
    """`value` rounded to `digits` significant digits as JavaScript's `toPrecision` does."""
    if value == 0 or not math.isfinite(value):
        return value
    mantissa, exponent = _significant(value, digits)
    return float(mantissa.scaleb(exponent))


def rate_text(rate: float) -> str:
    """Items a second, or seconds an item when slower than one a second (`rateText`)."""
    if rate >= 1:
        return f"{number(precision(rate, 3))} items/s"
    return f"{number(precision(1 / rate, 3)) if rate > 0 else DASH} s/item"


def duration(seconds: float) -> str:
    """`4.2 s`, `42 s`, `4 min 2 s`, `1 h 4 min`, `1,234 h 5 min` (the page's `duration`)."""
    if not math.isfinite(seconds):
        return DASH
    s = max(0.0, seconds)
    if s < 9.95:
        return f"{_fixed(s, 1)} s"
    whole = math.floor(s + 0.5)
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    hours = minutes // 60
    if hours >= MAX_HOURS:
        return f"over {MAX_HOURS:,} h"
    return f"{hours:,} h {minutes % 60} min"


def percent(fraction: float) -> str:
    """A fraction (0 to 1) as a whole percentage, `42%` (the page's `Math.round(100 *
    fraction)`); a fraction past either end as that end."""
    if not math.isfinite(fraction):
        return DASH
    return f"{math.floor(100 * min(1.0, max(0.0, fraction)) + 0.5)}%"


def clock_time(ts: float) -> str:
    """The local time of day of `ts` (seconds since the epoch), e.g. `14:03:27`; a dash for
    a time no clock shows (the page's `clockTime`)."""
    if not math.isfinite(ts) or abs(ts) > MAX_DATE_SECONDS:
        return DASH
    try:
        return time.strftime("%H:%M:%S", time.localtime(ts))
    except (OverflowError, OSError, ValueError):
        return DASH


# -- JavaScript's rounding ------------------------------------------------------------


def _significant(value: float, digits: int) -> tuple[Decimal, int]:
    """(mantissa with `digits` significant digits, its power of ten) of a non-zero finite
    `value`, a tie rounded away from zero, as ECMAScript's Number formatting does."""
    exact = Decimal(value)  # the binary value exactly, as the ECMAScript rules ask
    exponent = exact.adjusted()
    step = Decimal(1).scaleb(-(digits - 1))
    mantissa = exact.scaleb(-exponent).quantize(step, ROUND_HALF_UP)
    if abs(mantissa) >= 10:  # 9.9995 became 10.000
        exponent += 1
        mantissa = exact.scaleb(-exponent).quantize(step, ROUND_HALF_UP)
    return mantissa, exponent


def _exponential(value: float, decimals: int) -> str:
    """`value.toExponential(decimals)`: e.g. `1.235e+6`, `-5.000e-7`."""
    mantissa, exponent = _significant(value, decimals + 1)
    return f"{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"


def _fixed(value: float, decimals: int) -> str:
    """`value.toFixed(decimals)` for a small non-negative value."""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP))


def _shortest(value: float) -> str:
    """`String(value)` for 1e-4 <= |value| < 1e6: the shortest digits that read back as
    `value`, without a trailing `.0`."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text
