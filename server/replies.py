"""What a reply carries when its page is past the inline limit: built here, for KFP and for us.

A page within the inline limit (server/inline_policy.py) is sent as it is. A larger page is
stored first (server/page_store.py: a reference is handed out only once its object is
complete), then:

- KFP's reply (`for_kfp`: HTTP `POST /`, `CreateVisualizationV1`) gets a small page that
  fits KFP's cap: when the page, gzip'd and base64'd, fits, the small page carries it and
  unpacks it in the browser (DecompressionStream), showing it in place inside KFP's
  `<iframe sandbox="allow-scripts" srcdoc>`; otherwise it shows what was stored and how to
  open it (this server's `GET /visualizations/<id>` and a presigned URL). Either way it
  names the stored page in a JSON `<script id="kfp-viz-reference">`. When the echoed
  fields leave no room even for that, the page is still stored and the request is refused
  (413 / RESOURCE_EXHAUSTED) with a message naming the sizes and the stored page, rather
  than sending a reply KFP would fail.
- Our own `kfpviz.v1.Visualizations` (`for_typed`) gets a typed reference instead.

Memory: the page exists once, as the render's str. Hashing, compressing and uploading read
it in slices, encoded one at a time. The reply waits for the upload but not for anything
else: compression runs beside it, in the page store's threads.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter

from .errors import ErrorKind, RequestFailed
from .inline_policy import InlinePolicy, payload_budget, size_over, sized_at_once
from .page_bytes import KFP_REPLY_CAP, gzip_within, utf8_size
from .page_store import PageStore
from .store import StoreUnavailable
from .stored_page import PLACEHOLDER, StoredPage, StoredPageTemplate

log = logging.getLogger(__name__)


class Replies:
    """Builds replies for pages of any size, from the inline policy and the page store."""

    def __init__(
        self,
        policy: InlinePolicy,
        pages: PageStore,
        registry: CollectorRegistry | None = None,
        template: StoredPageTemplate | None = None,
    ) -> None:
        self.policy = policy
        self.pages = pages
        self.template = template or StoredPageTemplate.default()
        self._delivered = Counter(
            "kfp_viz_pages",
            "Rendered pages by delivery: inline, compressed (stored, sent gzip'd in a small "
            "page), reference (stored, sent as a link page), failed (store unavailable), "
            "no_room (stored, refused: the echoed fields leave no room in KFP's reply).",
            ["delivery"],
            registry=registry or CollectorRegistry(),
        )

    # -- KFP's wire: a page that always fits ---------------------------------------------

    async def for_kfp(
        self, page: str, echoed: Sequence[int], base_url: str, namespace: str = ""
    ) -> str:
        """What goes into KFP's `html`: the page itself, or the small page standing in for it.

        `echoed` are the UTF-8 sizes of the fields KFP's reply echoes beside `html`; a
        stored page is `namespace`'s (server/page_store.py).
        Raises RequestFailed (TOO_LARGE) when they leave no room even for the small
        reference page; the page is stored first and the message names it.
        """
        limit = self.policy.limit_for(*echoed)
        size = await self._size_over(page, limit)
        if size is None:
            self._delivered.labels(delivery="inline").inc()
            return page
        # Compression runs beside the upload; it gives up once the result could not fit
        # (the final check below uses the real reference, which is a little longer).
        shell = utf8_size(self.template.render(PLACEHOLDER, base_url, payload="="))
        stop = threading.Event()
        packing = self.pages.run(gzip_within, page, payload_budget(limit, shell), stop)
        try:
            stored = await self._store(page, size, limit, namespace)
        except RequestFailed:
            stop.set()
            raise
        packed = await packing
        small, delivery = "", "reference"
        if packed is not None:  # megabytes to encode and join: off the loop
            small = await self.pages.run(self._compressed_page, stored, base_url, packed)
            delivery = "compressed"
            del packed
        if not small or utf8_size(small) > limit:
            small, delivery = self.template.render(stored, base_url), "reference"
        room = self.policy.room_for(*echoed)
        if utf8_size(small) > room:
            self._delivered.labels(delivery="no_room").inc()
            refusal = no_room(stored, sum(echoed), room, utf8_size(small), base_url)
            log.warning("%s", refusal.message)
            raise refusal
        self._delivered.labels(delivery=delivery).inc()
        log.info(
            "page of %d bytes over the inline limit %d: stored as %s, sent %s (%d bytes)",
            size, limit, stored.uri, delivery, len(small),
        )  # fmt: skip
        return small

    def _compressed_page(self, stored: StoredPage, base_url: str, packed: bytes) -> str:
        """The small page carrying the gzip'd page as base64. Runs in a thread."""
        return self.template.render(stored, base_url, base64.b64encode(packed).decode("ascii"))

    # -- our own wire: inline or a typed reference ----------------------------------------

    async def for_typed(self, page: str, limit: int, namespace: str = "") -> str | StoredPage:
        """The page when it fits `limit`, else a reference to it once stored (`namespace`'s)."""
        size = await self._size_over(page, limit)
        if size is None:
            self._delivered.labels(delivery="inline").inc()
            return page
        stored = await self._store(page, size, limit, namespace)
        self._delivered.labels(delivery="reference").inc()
        return stored

    async def _size_over(self, page: str, limit: int) -> int | None:
        """`size_over`, with a large non-ASCII page encoded (in slices) off the loop."""
        if sized_at_once(page, limit):
            return size_over(page, limit)
        return await self.pages.run(size_over, page, limit)

    async def _store(self, page: str, size: int, limit: int, namespace: str) -> StoredPage:
        try:
            return await self.pages.save(page, size, namespace)
        except StoreUnavailable as error:
            self._delivered.labels(delivery="failed").inc()
            raise RequestFailed(
                ErrorKind.UNAVAILABLE,
                f"This page is {size} bytes, over the inline limit of {limit} bytes, and "
                f"could not be stored: {error}",
            ) from None


def no_room(stored: StoredPage, echoed: int, room: int, small: int, base_url: str) -> RequestFailed:
    """The refusal when KFP's reply has no room left even for the small reference page.

    Sending it anyway would make the API server fail with "received message larger
    than max"; a 413 / RESOURCE_EXHAUSTED names the cause, and the stored page, which
    stays where it is (nothing rendered is lost).
    """
    return RequestFailed(
        ErrorKind.TOO_LARGE,
        f"No room for this page in KFP's {KFP_REPLY_CAP}-byte reply: the fields it echoes "
        f"(source, arguments) take {echoed} bytes, leaving {room}, and even the {small}-byte "
        f"reference page does not fit. The {stored.size}-byte page was stored: "
        f"{stored.http_url(base_url)}",
    )
