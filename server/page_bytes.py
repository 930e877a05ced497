"""A page's bytes: how many, their SHA-256, gzip within a budget, and KFP's reply limit.

Pages arrive as Python strings (the render's output) and may be 100 MB or more,
so nothing here makes a full encoded copy: pages are encoded a slice at a time.
The inline limit is protobuf arithmetic on KFP's `Visualization` reply, so a page
at the limit makes a reply of exactly KFP_REPLY_CAP - REPLY_MARGIN bytes.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections.abc import Iterator

from .wire import field_size, varint_size

KFP_REPLY_CAP = 4_194_304
"""gRPC's default largest message, which KFP's API server and gateway keep."""
REPLY_MARGIN = 1024
"""Bytes kept free for what this server cannot see of the API server's reply
(e.g. whitespace the form parser strips from `source`)."""
ENCODE_CHARS = 4 * 2**20
"""Characters encoded at a time when hashing, compressing or uploading a page."""


def kfp_inline_limit(*echoed_lengths: int) -> int:
    """The largest page (UTF-8 bytes) whose KFP `Visualization` reply stays under the cap.

    The reply holds `type` (2 bytes), the echoed strings (`source`, `arguments`, and
    `error` where it is set) and `html`; REPLY_MARGIN is kept free. Never negative:
    when the echoed fields alone fill the cap, every page is stored.
    """
    budget = KFP_REPLY_CAP - REPLY_MARGIN - 2 - sum(field_size(n) for n in echoed_lengths)
    limit = budget - 1 - varint_size(max(budget, 0))
    while limit > 0 and field_size(limit) > budget:
        limit -= 1
    return max(limit, 0)


def utf8_size(text: str) -> int:
    """`len(text.encode())` without making the copy (ASCII pages are counted at once)."""
    if text.isascii():
        return len(text)
    return sum(len(chunk) for chunk in encoded_chunks(text))


def encoded_chunks(text: str, chars: int = ENCODE_CHARS) -> Iterator[bytes]:
    """`text` as UTF-8, a slice at a time, so no full encoded copy of a page is ever made."""
    for start in range(0, len(text), chars):
        yield text[start : start + chars].encode("utf-8")


def sha256_hex(text: str) -> str:
    digest = hashlib.sha256()
    for chunk in encoded_chunks(text):
        digest.update(chunk)
    return digest.hexdigest()


def gzip_within(text: str, budget: int, stop: threading.Event | None = None) -> bytes | None:
    """`text` gzip'd, or None as soon as the result would exceed `budget` bytes (or on `stop`)."""
    if budget <= 0:
        return None
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: gzip framing
    parts, size = [], 0
    for chunk in encoded_chunks(text, 2**20):
        if stop is not None and stop.is_set():
            return None
        part = compressor.compress(chunk)
        size += len(part)
        if size > budget:
            return None
        parts.append(part)
    part = compressor.flush()
    size += len(part)
    parts.append(part)
    return b"".join(parts) if size <= budget else None
