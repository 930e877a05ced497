"""Reading what the server says about a stored page out of the small page it sends instead."""

from __future__ import annotations

import json
import re

REFERENCE = re.compile(r'<script [^>]*id="kfp-viz-reference">(.*?)</script>')


def reference_of(page: str) -> dict:
    """The machine-readable reference (JSON) a small page carries; fail if there is none."""
    found = REFERENCE.search(page)
    assert found, f"no machine-readable reference in: {page[:500]}"
    return json.loads(found[1])
