"""Page delivery at the edge: a page goes inline, or is stored and handed back as a reference.

KFP's API server carries the page in one gRPC message capped at 4,194,304 bytes,
together with the echoed `source` and `arguments`. A page at or under the inline
limit (by default exactly what keeps that whole reply under the cap, computed
from the request's own fields) is sent as it is. A larger page is stored
(`server.store`, content-addressed) and the reply is a small page that always
fits the cap:
- when the page, gzip'd and base64'd, fits, the small page carries it and
  unpacks it in the browser (DecompressionStream), showing it in place inside
  KFP's `<iframe sandbox="allow-scripts" srcdoc>`;
- otherwise it shows what was stored and how to open it (this server's
  `GET /visualizations/<id>` and a presigned URL).
Either way it names the stored page in a JSON `<script id="kfp-viz-reference">`.

Memory: the page exists once, as the render's str. Hashing, compressing and
uploading read it in slices, encoded one at a time; the upload holds at most a
few multipart parts. The reply waits for the upload (a reference is handed out
only once its object is complete) but not for anything else: compression runs
beside the upload, and store health checks, retention and pruning run in the
background. Every blocking store call runs in this module's thread pool.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import html as html_lib
import json
import logging
import re
import threading
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .config import Config
from .errors import ErrorKind, RequestFailed
from .store import (
    CONTENT_TYPE,
    FolderStore,
    LifecycleRefused,
    ObjectStore,
    PageNotFound,
    S3Store,
    StoredObject,
    StoreUnavailable,
)

log = logging.getLogger(__name__)

KFP_REPLY_CAP = 4_194_304
"""gRPC's default largest message, which KFP's API server and gateway keep."""
REPLY_MARGIN = 1024
"""Bytes kept free for what this server cannot see of the API server's reply
(e.g. whitespace the form parser strips from `source`)."""
ENCODE_CHARS = 4 * 2**20
"""Characters encoded at a time when hashing, compressing or uploading a page."""
HEALTH_INTERVAL = 10.0
PRUNE_INTERVAL = 3600.0
PAGE_ID = re.compile(r"^[0-9a-f]{64}$")

T = TypeVar("T")


# -- sizes -------------------------------------------------------------------------------


def varint_size(value: int) -> int:
    """Bytes protobuf needs for `value` as a varint."""
    size = 1
    while value >= 0x80:
        value >>= 7
        size += 1
    return size


def field_size(length: int) -> int:
    """Bytes a non-empty string field of `length` bytes takes in a protobuf message."""
    return 1 + varint_size(length) + length if length else 0


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


def base64_size(length: int) -> int:
    return (length + 2) // 3 * 4


# -- references --------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredPage:
    """A complete page in the store, and every way to name or open it."""

    id: str
    """The hex SHA-256 of the page's bytes."""
    uri: str
    size: int
    sha256: str
    content_type: str
    presigned_url: str | None
    presigned_expires: dt.datetime | None
    deduplicated: bool

    def http_url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/visualizations/{self.id}"

    def as_json(self, base_url: str, delivery: str) -> dict[str, Any]:
        return {
            "kind": "kfp-viz-stored-page",
            "delivery": delivery,
            "id": self.id,
            "uri": self.uri,
            "size": self.size,
            "sha256": self.sha256,
            "content_type": self.content_type,
            "http_url": self.http_url(base_url),
            "presigned_url": self.presigned_url,
            "presigned_url_expires": (
                self.presigned_expires.isoformat() if self.presigned_expires else None
            ),
        }


@dataclass
class StoreHealth:
    """What /readyz says about the store: the last check or operation decides."""

    ok: bool | None = None
    error: str | None = None
    changed: float = 0.0
    retention: str | None = None

    def record(self, error: str | None) -> bool:
        """Note an outcome; return True when the state changed."""
        ok = error is None
        changed = ok != self.ok
        if changed:
            self.changed = time.time()
        self.ok, self.error = ok, error
        return changed


class StoredPageTemplate:
    """The small page sent in place of a stored one; parsed once, filled by joins."""

    def __init__(self, page: str, unpack_script: str) -> None:
        self._parts = re.split(r"\{\{(\w+)\}\}", page)
        self._unpack = f"<script>\n{unpack_script}</script>"

    @classmethod
    def default(cls) -> StoredPageTemplate:
        folder = resources.files(__package__).joinpath("templates")
        return cls(
            folder.joinpath("stored_page.html").read_text("utf-8"),
            folder.joinpath("unpack.js").read_text("utf-8"),
        )

    def render(self, page: StoredPage, base_url: str, payload: str = "") -> str:
        """The small page; with a payload (base64 of the gzip'd page) it unpacks itself."""
        delivery = "compressed" if payload else "reference"
        reference = json.dumps(page.as_json(base_url, delivery), sort_keys=True)
        size_text = f"{page.size:,} bytes ({page.size / 2**20:.1f} MiB)"
        if payload:
            status = f"Unpacking the visualization ({size_text})..."
        else:
            status = (
                f"This visualization is {size_text}, too large to show here; "
                "it was stored and can be opened with a link below."
            )
        presigned = ""
        if page.presigned_url:
            expires = page.presigned_expires.strftime("%Y-%m-%d %H:%M UTC")
            url = html_lib.escape(page.presigned_url)
            presigned = (
                f"<p>Or straight from the object store (link valid until {expires}): "
                f'<a id="kfp-viz-presigned" href="{url}">{url}</a></p>'
            )
        values = {
            "title": "Stored visualization",
            "uri": html_lib.escape(page.uri),
            "reference": reference.replace("<", "\\u003c"),
            "status": html_lib.escape(status),
            "size": html_lib.escape(size_text),
            "sha256": page.sha256,
            "http_url": html_lib.escape(page.http_url(base_url)),
            "presigned": presigned,
            "payload": payload,
            "unpack": self._unpack if payload else "",
        }
        return "".join(
            values[part] if index % 2 else part for index, part in enumerate(self._parts)
        )


# -- delivery ----------------------------------------------------------------------------


def build_store(config: Config) -> ObjectStore:
    """The S3 store when OBJECTSTORECONFIG_HOST is set, else the local folder."""
    if config.store_host:
        return S3Store(
            config.store_host,
            config.store_port,
            secure=config.store_secure,
            bucket=config.store_bucket,
            access_key=config.store_access_key,
            secret_key=config.store_secret_key,
            region=config.store_region,
        )
    from pathlib import Path

    return FolderStore(Path(config.store_folder))


class PageDelivery:
    """Inline or stored; the store's health, retention and metrics."""

    def __init__(
        self, config: Config, store: ObjectStore, registry: CollectorRegistry | None = None
    ) -> None:
        self.config = config
        self.store = store
        self.health = StoreHealth()
        self.template = StoredPageTemplate.default()
        self._executor = ThreadPoolExecutor(max_workers=6, thread_name_prefix="page-store")
        self._tasks: list[asyncio.Task[None]] = []
        self._retention_applied = False
        self._metrics = _DeliveryMetrics(registry or CollectorRegistry(), store.kind)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Check the store, apply retention, and keep both up to date, in the background."""
        self._tasks = [asyncio.create_task(self._watch_store())]
        if isinstance(self.store, FolderStore) and self.config.store_retention_days > 0:
            self._tasks.append(asyncio.create_task(self._prune_periodically()))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- KFP's wire: a page that always fits ---------------------------------------------

    def limit_for(self, *echoed_lengths: int) -> int:
        """The inline limit for a reply that echoes strings of these UTF-8 lengths."""
        if self.config.inline_limit is not None:
            return self.config.inline_limit
        return kfp_inline_limit(*echoed_lengths)

    async def for_kfp(self, page: str, limit: int, base_url: str) -> str:
        """What goes into KFP's `html`: the page itself, or the small page standing in for it."""
        size = await self._size_over(page, limit)
        if size is None:
            self._metrics.pages.labels(delivery="inline").inc()
            return page
        # Compression runs beside the upload; it gives up once the result could not fit
        # (the final check below uses the real reference, which is a little longer).
        shell = utf8_size(self.template.render(_PLACEHOLDER, base_url, payload="="))
        stop = threading.Event()
        packing = self._run(gzip_within, page, (limit - shell) // 4 * 3, stop)
        try:
            stored = await self._store(page, size, limit)
        except RequestFailed:
            stop.set()
            raise
        packed = await packing
        small, delivery = "", "reference"
        if packed is not None:
            small = self.template.render(stored, base_url, base64.b64encode(packed).decode())
            delivery = "compressed"
        if not small or utf8_size(small) > limit:
            small, delivery = self.template.render(stored, base_url), "reference"
        self._metrics.pages.labels(delivery=delivery).inc()
        log.info(
            "page of %d bytes over the inline limit %d: stored as %s, sent %s (%d bytes)",
            size, limit, stored.uri, delivery, len(small),
        )  # fmt: skip
        return small

    # -- our own wire: inline or a typed reference ----------------------------------------

    async def for_typed(self, page: str, limit: int) -> str | StoredPage:
        """The page when it fits `limit`, else a reference to it once stored."""
        size = await self._size_over(page, limit)
        if size is None:
            self._metrics.pages.labels(delivery="inline").inc()
            return page
        stored = await self._store(page, size, limit)
        self._metrics.pages.labels(delivery="reference").inc()
        return stored

    async def _size_over(self, page: str, limit: int) -> int | None:
        """None when the page fits `limit`, else its UTF-8 size.

        ASCII pages are measured at once; a large non-ASCII page is encoded (in
        slices) off the loop to count its bytes.
        """
        if page.isascii():
            return len(page) if len(page) > limit else None
        if 4 * len(page) <= limit:  # a character takes 1 to 4 bytes
            return None
        size = await self._run(utf8_size, page)
        return size if size > limit else None

    async def open(self, page_id: str, via: str) -> tuple[StoredPage, AsyncIterator[bytes]]:
        """A stored page's reference and its bytes, chunk by chunk, read off the loop."""
        key = self.key(page_id)
        try:
            found = await self._run(self.store.stat, key)
            if found is None:
                raise PageNotFound(key)
            reference = await self._run(self._reference, page_id, found, True)
            chunks = await self._run(self.store.read, key)
        except PageNotFound:
            self._metrics.fetches.labels(via=via, outcome="not_found").inc()
            raise RequestFailed(
                ErrorKind.NOT_FOUND,
                f"No stored page {page_id} in {self.store.uri(key)}: never stored here, or "
                f"expired (pages are kept {self.config.store_retention_days} days)",
            ) from None
        except StoreUnavailable as error:
            self._metrics.fetches.labels(via=via, outcome="unavailable").inc()
            self._note(str(error))
            raise RequestFailed(
                ErrorKind.UNAVAILABLE, one_line(f"Cannot read stored page {page_id}: {error}")
            ) from None
        self._metrics.fetches.labels(via=via, outcome="ok").inc()
        return reference, self._aiter(chunks)

    async def _aiter(self, chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
        try:
            while True:
                try:
                    chunk = await self._run(next, chunks, None)
                except StoreUnavailable as error:
                    self._note(str(error))
                    raise RequestFailed(ErrorKind.UNAVAILABLE, one_line(str(error))) from None
                if chunk is None:
                    return
                yield chunk
        finally:
            await self._run(chunks.close)

    def key(self, page_id: str) -> str:
        return f"{self.config.store_prefix}{page_id}.html"

    # -- storing ------------------------------------------------------------------------

    async def _store(self, page: str, size: int, limit: int) -> StoredPage:
        started = time.monotonic()
        try:
            stored = await self._run(self._store_blocking, page, size)
        except StoreUnavailable as error:
            self._note(str(error))
            self._metrics.pages.labels(delivery="failed").inc()
            self._metrics.stored.labels(outcome="failed").inc()
            raise RequestFailed(
                ErrorKind.UNAVAILABLE,
                one_line(
                    f"This page is {size} bytes, over the inline limit of {limit} bytes, and "
                    f"could not be stored: {error}"
                ),
            ) from None
        self._note(None)
        self._metrics.seconds.observe(time.monotonic() - started)
        if stored.deduplicated:
            self._metrics.stored.labels(outcome="deduplicated").inc()
        else:
            self._metrics.stored.labels(outcome="uploaded").inc()
            self._metrics.bytes.inc(size)
        return stored

    def _store_blocking(self, page: str, size: int) -> StoredPage:
        """Hash, upload unless an identical fresh copy is there, presign. Runs in a thread."""
        digest = sha256_hex(page)
        key = self.key(digest)
        found = self.store.stat(key)
        reuse = found is not None and found.size == size and self._fresh(found)
        if reuse and isinstance(self.store, FolderStore):
            self.store.touch(key)
        if not reuse:
            self.store.put(key, encoded_chunks(page), size)
            found = StoredObject(key, size, time.time())
        return self._reference(digest, found, reuse)

    def _fresh(self, found: StoredObject) -> bool:
        """Reuse a stored copy only if retention will not delete it soon after we hand it out.

        Lifecycle expiry counts from when the object was written, so a copy older than
        half the retention period is written again, which restarts its clock.
        """
        days = self.config.store_retention_days
        return days <= 0 or time.time() - found.modified < days * 86400 / 2

    def _reference(self, digest: str, found: StoredObject, deduplicated: bool) -> StoredPage:
        expiry = dt.timedelta(seconds=self.config.presign_expiry)
        url = self.store.presign(found.key, expiry)
        expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + expiry if url else None
        return StoredPage(
            id=digest,
            uri=self.store.uri(found.key),
            size=found.size,
            sha256=digest,
            content_type=CONTENT_TYPE,
            presigned_url=url,
            presigned_expires=expires,
            deduplicated=deduplicated,
        )

    # -- health and retention -----------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The store's state, for /readyz."""
        return {
            "kind": self.store.kind,
            "endpoint": self.store.endpoint,
            "prefix": self.config.store_prefix,
            "ok": self.health.ok,
            "error": self.health.error,
            "since": self.health.changed or None,
            "retention": self.health.retention,
        }

    def _note(self, error: str | None) -> None:
        if self.health.record(error):
            if error is None:
                log.info("object store %s is available", self.store.endpoint)
            else:
                log.warning("%s; pages over the inline limit get 503 until it is back", error)
        self._metrics.up.set(1 if error is None else 0)

    async def _watch_store(self) -> None:
        """Check the store now and every HEALTH_INTERVAL; apply retention once it answers."""
        while True:
            try:
                await self._run(self.store.check)
            except StoreUnavailable as error:
                self._note(str(error))
            else:
                self._note(None)
                if not self._retention_applied:
                    await self._apply_retention()
            await asyncio.sleep(HEALTH_INTERVAL)

    async def _apply_retention(self) -> None:
        days, prefix = self.config.store_retention_days, self.config.store_prefix
        try:
            done = await self._run(self.store.apply_retention, prefix, days)
        except StoreUnavailable as error:
            self._note(str(error))
            return  # tried again at the next successful check
        except LifecycleRefused as refusal:
            done = (
                f"the store refused a lifecycle rule ({refusal}); expiring objects under "
                f"{prefix} after {days} days is the operator's job on this store"
            )
            log.warning("retention: %s", done)
        else:
            log.info("retention: %s", done)
        self.health.retention = done
        self._retention_applied = True

    async def _prune_periodically(self) -> None:
        days, prefix = self.config.store_retention_days, self.config.store_prefix
        while True:
            removed = await self._run(self.store.prune, prefix, days)
            if removed:
                log.info("retention: pruned %d stored pages older than %d days", removed, days)
            await asyncio.sleep(PRUNE_INTERVAL)

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)


_PLACEHOLDER = StoredPage(
    id="0" * 64,
    uri="",
    size=0,
    sha256="0" * 64,
    content_type=CONTENT_TYPE,
    presigned_url=None,
    presigned_expires=None,
    deduplicated=False,
)


def one_line(text: str, limit: int = 400) -> str:
    """A message fit for an HTTP reason phrase: one line of printable ASCII, not too long."""
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def valid_page_id(page_id: str) -> bool:
    return bool(PAGE_ID.match(page_id))


class _DeliveryMetrics:
    def __init__(self, registry: CollectorRegistry, store_kind: str) -> None:
        self.pages = Counter(
            "kfp_viz_pages",
            "Rendered pages by delivery: inline, compressed (stored, sent gzip'd in a small "
            "page), reference (stored, sent as a link page), failed (store unavailable).",
            ["delivery"],
            registry=registry,
        )
        self.stored = Counter(
            "kfp_viz_stored_pages",
            "Pages past the inline limit by store outcome: uploaded, deduplicated, failed.",
            ["outcome"],
            registry=registry,
        )
        self.bytes = Counter(
            "kfp_viz_stored_bytes", "Bytes uploaded to the page store.", registry=registry
        )
        self.seconds = Histogram(
            "kfp_viz_store_seconds",
            "Time to hash and store a page (including the upload).",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=registry,
        )
        self.fetches = Counter(
            "kfp_viz_page_fetches",
            "Stored pages read back, by route (http, grpc) and outcome.",
            ["via", "outcome"],
            registry=registry,
        )
        self.up = Gauge(
            "kfp_viz_store_up",
            "1 when the page store answered the last check or operation, else 0.",
            ["store"],
            registry=registry,
        ).labels(store=store_kind)
