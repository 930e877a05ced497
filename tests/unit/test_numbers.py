"""`kfp-viz watch` writes numbers, durations and times as the live page does: the cases of
number_formats.json, which tests/integration/test_progress_browser.py checks in the page
itself, in Chromium."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import pytest
from kfp_viz import numbers

SPEC = json.loads((Path(__file__).parent / "number_formats.json").read_text())
FUNCTIONS = {
    "fmt": numbers.number,
    "duration": numbers.duration,
    "rateText": numbers.rate_text,
    "clockTime": numbers.clock_time,
}


def spec_value(given: object) -> object:
    """A case's input: NaN and the infinities are written as strings in JSON."""
    return float(given) if isinstance(given, str) else given


@pytest.fixture
def utc():
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.parametrize("case", SPEC["cases"], ids=lambda c: f"{c['fn']}({c['in']!r})")
def test_the_shared_cases(case, utc):
    assert FUNCTIONS[case["fn"]](spec_value(case["in"])) == case["out"]


def test_ties_round_as_javascript_rounds_them_not_as_python_does():
    """Python's formats round a tie to even; the page's toPrecision/toFixed/Math.round round
    it up (away from zero): the same number must not read 2222 in one and 2223 in the other."""
    assert f"{2222.5:.4g}" == "2222" and numbers.number(2222.5) == "2223"
    assert f"{0.25:.1f}" == "0.2" and numbers.duration(0.25) == "0.3 s"
    assert round(42.5) == 42 and numbers.duration(42.5) == "43 s"
    assert f"{0.125:.0%}" == "12%" and numbers.percent(0.125) == "13%"
    assert numbers.number(-2222.5) == "-2223", "away from zero"


@pytest.mark.parametrize(
    ("fraction", "text"), [(0, "0%"), (0.004, "0%"), (0.125, "13%"), (0.994, "99%"), (1, "100%")]
)
def test_percentages(fraction, text):
    assert numbers.percent(fraction) == text


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 1e300, -1e300, 1e13])
def test_nothing_prints_nan_or_an_absurd_figure(bad):
    written = [
        numbers.number(bad), numbers.duration(bad), numbers.rate_text(bad),
        numbers.clock_time(bad), numbers.percent(bad),
    ]  # fmt: skip
    for text in written:
        assert "nan" not in text.lower() and "inf" not in text.lower(), written
        assert len(text) <= 30, written
