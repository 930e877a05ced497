"""When a page travels inline: the limit a reply allows, the room it has, and a page's size.

KFP's API server returns the page in one gRPC message, together with the echoed `source`
and `arguments`. gRPC clients with default limits refuse a message over 4,194,304 bytes
(KFP's own gateway lifts that limit; other clients and KFP 0.x do not), so by default a
page is inline only while that whole reply stays under the cap, computed from the
request's own fields (server/page_bytes.py); `--inline-limit` lowers or replaces that.

Pure functions of the page, the echoed sizes and the setting: no I/O, no clock, so every
decision here is tested without a store (tests/unit/test_inline_policy.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from .page_bytes import kfp_inline_limit, utf8_size

BASE64_RATIO = (3, 4)
"""Bytes in, characters out: base64 writes 4 characters for every 3 bytes."""


@dataclass(frozen=True)
class InlinePolicy:
    """The inline limit, from `--inline-limit` (None: `auto`)."""

    explicit: int | None = None

    def limit_for(self, *echoed_lengths: int) -> int:
        """The inline limit for a reply that echoes strings of these UTF-8 lengths.

        An explicit `--inline-limit` under the 4 MiB cap only lowers the computed
        limit; one over it declares an API server rebuilt with a larger cap, and
        replaces the computation.
        """
        computed = kfp_inline_limit(*echoed_lengths)
        if self.explicit is None:
            return computed
        if self.explicit > kfp_inline_limit():
            return self.explicit
        return min(self.explicit, computed)

    def room_for(self, *echoed_lengths: int) -> int:
        """The largest `html` KFP's reply can carry beside strings of these UTF-8 lengths.

        The cap less the echoed fields, whatever a smaller `--inline-limit` says: a
        small page over that limit but within the cap is fine.
        """
        return max(kfp_inline_limit(*echoed_lengths), self.limit_for(*echoed_lengths))


def size_over(page: str, limit: int) -> int | None:
    """None when the page fits `limit` (UTF-8 bytes), else its UTF-8 size."""
    if page.isascii():
        return len(page) if len(page) > limit else None
    if 4 * len(page) <= limit:  # a character takes 1 to 4 bytes
        return None
    size = utf8_size(page)
    return size if size > limit else None


def sized_at_once(page: str, limit: int) -> bool:
    """Whether `size_over` answers without encoding the page (else it belongs off the loop)."""
    return page.isascii() or 4 * len(page) <= limit


def payload_budget(limit: int, shell: int) -> int:
    """Bytes of gzip'd page that fit, as base64, in a small page of `shell` bytes without
    its payload, within `limit`."""
    given, written = BASE64_RATIO
    return (limit - shell) // written * given
