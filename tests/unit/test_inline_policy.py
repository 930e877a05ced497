"""The inline policy (server/inline_policy.py): pure decisions, no store, no loop."""

from __future__ import annotations

import base64
import os

import pytest
from kfp_viz_server.inline_policy import (
    InlinePolicy,
    payload_budget,
    size_over,
    sized_at_once,
)
from kfp_viz_server.page_bytes import KFP_REPLY_CAP, kfp_inline_limit


def test_auto_keeps_the_whole_kfp_reply_under_the_cap():
    auto = InlinePolicy()
    assert auto.limit_for(100, 20) == kfp_inline_limit(100, 20) < KFP_REPLY_CAP
    assert auto.limit_for(100_000) < auto.limit_for(100)  # echoed fields take room
    assert auto.room_for(100) == auto.limit_for(100)


def test_an_explicit_limit_under_the_cap_lowers_the_limit_but_not_the_room():
    lowered = InlinePolicy(1000)
    assert lowered.limit_for(10) == 1000
    assert lowered.room_for(10) == kfp_inline_limit(10)
    squeezed = KFP_REPLY_CAP - 600  # echoed fields that leave less than 1000 bytes
    assert lowered.limit_for(squeezed) == kfp_inline_limit(squeezed) < 1000


def test_an_explicit_limit_over_the_cap_replaces_it():
    raised = InlinePolicy(16 * 2**20)
    assert raised.limit_for(4_000_000) == raised.room_for(4_000_000) == 16 * 2**20


@pytest.mark.parametrize(
    ("page", "limit", "over"),
    [
        ("a" * 10, 10, None),
        ("a" * 11, 10, 11),
        ("é" * 2, 4, None),  # 4 UTF-8 bytes
        ("é" * 3, 5, 6),  # 3 characters, 6 bytes
        ("€" * 3, 9, None),
        ("😀", 3, 4),
    ],
)
def test_size_over_counts_utf8_bytes(page, limit, over):
    assert size_over(page, limit) == over


def test_only_a_long_non_ascii_page_needs_encoding_to_be_sized():
    assert sized_at_once("a" * 1000, 10)
    assert sized_at_once("é" * 10, 40)  # 4 bytes a character at most: fits for sure
    assert not sized_at_once("é" * 10, 39)


def test_the_payload_budget_is_what_fits_as_base64():
    limit, shell = 10_000, 1_234
    budget = payload_budget(limit, shell)
    packed = os.urandom(limit)[:budget]  # as gzip's output: incompressible bytes
    assert shell + len(base64.b64encode(packed)) <= limit
    assert shell + len(base64.b64encode(packed + b"xyz")) > limit
