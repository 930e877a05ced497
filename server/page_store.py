"""The page store as a service: pages stored and read back off the loop, its health, its upkeep.

A page past the inline limit is stored (`kfp_viz_server.store`, content-addressed) before
a reference to it is handed out; this module is what the rest of the server calls for
that, whichever store is configured:

- Storing: hash, upload unless an identical fresh copy is there (recognised by its digest:
  a copy under the same key whose bytes do not match is written again), presign.
- Reads are verified: a stored page is served (over HTTP or gRPC) only once all of its
  bytes have been read and their SHA-256 matched its id, spooled meanwhile into an unnamed
  temporary file (memory up to SPOOL_IN_MEMORY); a page changed in the store after it was
  written is an error, never served.
- Health: the store is checked now and every HEALTH_INTERVAL, and every operation's outcome
  counts too; /readyz and `kfp_viz_store_up` say what the last one found.
- Upkeep: retention is applied once the store answers (a lifecycle rule, or what the store
  says it does instead), and every MAINTENANCE_INTERVAL the store prunes what it must prune
  itself: each store knows its own (`ObjectStore.prune`), this module never asks which kind
  it has.

Every blocking store call runs in this service's thread pool, never on the event loop; the
reply builder (server/replies.py) runs its compression there too, beside the upload.

Pages of a profile namespace (--serve-profiles) are stored, and read back, under
`private-artifacts/<namespace>/visualizations/` with that namespace's own keys
(server/profile_stores.py): its page id opens only its own copy, and a failure there is
that namespace's (its keys, its prefix), not the store's health. Their retention is KFP's
lifecycle rule on `private-artifacts` (the profile controller's ARTIFACT_RETENTION_DAYS).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .config import StoreConfig
from .errors import ErrorKind, RequestFailed
from .page_bytes import encoded_chunks, sha256_hex
from .profile_stores import ProfileStores
from .profiles import page_prefix
from .store import (
    CONTENT_TYPE,
    READ_CHUNK,
    FolderStore,
    LifecycleRefused,
    ObjectStore,
    PageNotFound,
    StoredObject,
    StoreUnavailable,
    s3_store,
)
from .stored_page import StoredPage

log = logging.getLogger(__name__)

HEALTH_INTERVAL = 10.0
MAINTENANCE_INTERVAL = 3600.0
SPOOL_IN_MEMORY = 8 * 2**20
"""A page read back is held in memory up to this size while it is verified; a larger one
goes to an unnamed temporary file (no path another process could open)."""


class PageCorrupt(Exception):
    """The bytes under a page's key do not hash to the page's id."""

    def __init__(self, size: int, sha256: str) -> None:
        super().__init__(f"{size} bytes with SHA-256 {sha256}")
        self.size = size
        self.sha256 = sha256


T = TypeVar("T")


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


def build_store(config: StoreConfig) -> ObjectStore:
    """The S3 store when OBJECTSTORECONFIG_HOST is set, else the local folder."""
    if config.store_host:
        return s3_store(
            config, config.store_access_key, config.store_secret_key, config.store_region
        )
    return FolderStore(Path(config.store_folder))


class PageStore:
    """Stores and reads pages off the loop; watches the store's health; keeps it tidy."""

    def __init__(
        self,
        config: StoreConfig,
        store: ObjectStore,
        registry: CollectorRegistry | None = None,
        profiles: ProfileStores | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self._profiles = profiles
        """Profile namespaces' own stores (--serve-profiles); None: only the server's."""
        self.health = StoreHealth()
        self._executor = ThreadPoolExecutor(max_workers=6, thread_name_prefix="page-store")
        self._tasks: list[asyncio.Task[None]] = []
        self._retention_applied = False
        self._metrics = _StoreMetrics(registry or CollectorRegistry(), store.kind)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Check the store, apply retention, and keep both up to date, in the background."""
        self._tasks = [
            asyncio.create_task(self._watch_store()),
            asyncio.create_task(self._maintain()),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._executor.shutdown(wait=False, cancel_futures=True)

    def run(self, function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Start `function` in the store's thread pool now; await the result when needed."""
        return asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def key(self, page_id: str, namespace: str = "") -> str:
        prefix = page_prefix(namespace) if namespace else self.config.store_prefix
        return f"{prefix}{page_id}.html"

    def _store_of(self, namespace: str) -> ObjectStore:
        """Where `namespace`'s pages are ("" = the server's own store). Blocks (its keys)."""
        if not namespace:
            return self.store
        if self._profiles is None:
            raise RequestFailed(
                ErrorKind.NOT_FOUND, "This server keeps no profile namespace's pages"
            )
        return self._profiles.store(namespace)

    # -- storing ------------------------------------------------------------------------

    async def save(self, page: str, size: int, namespace: str = "") -> StoredPage:
        """Store `page` (`size` UTF-8 bytes) unless it is there; StoreUnavailable if it cannot.

        `namespace`'s pages go under its own prefix, with its own keys (RequestFailed, naming
        its Secret, when they cannot be had)."""
        started = time.monotonic()
        try:
            stored = await self.run(self._store_blocking, page, size, namespace)
        except StoreUnavailable as error:
            if not namespace:
                self._note(str(error))
            self._metrics.stored.labels(outcome="failed").inc()
            raise
        except RequestFailed:
            self._metrics.stored.labels(outcome="failed").inc()
            raise
        if not namespace:
            self._note(None)
        self._metrics.seconds.observe(time.monotonic() - started)
        if stored.deduplicated:
            self._metrics.stored.labels(outcome="deduplicated").inc()
        else:
            self._metrics.stored.labels(outcome="uploaded").inc()
            self._metrics.bytes.inc(size)
        return stored

    def _store_blocking(self, page: str, size: int, namespace: str = "") -> StoredPage:
        """Hash, upload unless an identical fresh copy is there, presign. Runs in a thread."""
        store = self._store_of(namespace)
        digest = sha256_hex(page)
        key = self.key(digest, namespace)
        found = store.stat(key)
        reuse = (
            found is not None
            and found.size == size
            and self._fresh(found)
            and self._holds(store, key, digest)
        )
        if found is not None and found.size == size and self._fresh(found) and not reuse:
            log.warning("stored page %s did not match its digest: written again", key)
        if reuse:
            store.touch(key)
        if not reuse:
            store.put(key, encoded_chunks(page), size)
            found = StoredObject(key, size, time.time())
        assert found is not None  # reused only when found
        return self._reference(store, namespace, digest, found, reuse)

    def _fresh(self, found: StoredObject) -> bool:
        """Reuse a stored copy only if retention will not delete it soon after we hand it out.

        Lifecycle expiry counts from when the object was written, so a copy older than
        half the retention period is written again, which restarts its clock.
        """
        days = self.config.store_retention_days
        return days <= 0 or time.time() - found.modified < days * 86400 / 2

    def _reference(
        self,
        store: ObjectStore,
        namespace: str,
        digest: str,
        found: StoredObject,
        deduplicated: bool,
    ) -> StoredPage:
        expiry = dt.timedelta(seconds=self.config.presign_expiry)
        url = store.presign(found.key, expiry)
        expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + expiry if url else None
        return StoredPage(
            id=digest,
            namespace=namespace,
            uri=store.uri(found.key),
            size=found.size,
            sha256=digest,
            content_type=CONTENT_TYPE,
            presigned_url=url,
            presigned_expires=expires,
            deduplicated=deduplicated,
        )

    # -- reading back -------------------------------------------------------------------

    async def open(
        self, page_id: str, via: str, namespace: str = ""
    ) -> tuple[StoredPage, AsyncIterator[bytes]]:
        """A stored page's reference and its bytes, chunk by chunk, read off the loop.

        `namespace`'s page is looked for under its own prefix only, with its own keys."""
        key = self.key(page_id, namespace)
        store = self.store
        try:
            store = await self.run(self._store_of, namespace)
            found = await self.run(store.stat, key)
            if found is None:
                raise PageNotFound(key)
            spool, size = await self.run(self._verified_copy, store, key, page_id)
            verified = StoredObject(key, size, found.modified)
            reference = await self.run(self._reference, store, namespace, page_id, verified, True)
        except PageCorrupt as corrupt:
            self._metrics.fetches.labels(via=via, outcome="corrupt").inc()
            log.error("stored page %s does not match its digest (%s): not served", key, corrupt)
            raise RequestFailed(
                ErrorKind.CORRUPT,
                f"Stored page {page_id} does not match its SHA-256: {store.uri(key)} now "
                f"holds {corrupt}, so it was changed after it was stored and is not served; "
                "rendering the visualization again stores it anew",
            ) from None
        except PageNotFound:
            self._metrics.fetches.labels(via=via, outcome="not_found").inc()
            raise RequestFailed(
                ErrorKind.NOT_FOUND,
                f"No stored page {page_id} in {store.uri(key)}: never stored here, or "
                f"expired (pages are kept {self.config.store_retention_days} days)",
            ) from None
        except StoreUnavailable as error:
            self._metrics.fetches.labels(via=via, outcome="unavailable").inc()
            if not namespace:
                self._note(str(error))
            raise RequestFailed(
                ErrorKind.UNAVAILABLE, f"Cannot read stored page {page_id}: {error}"
            ) from None
        self._metrics.fetches.labels(via=via, outcome="ok").inc()
        return reference, self._aiter(_spooled_chunks(spool))

    def _verified_copy(
        self, store: ObjectStore, key: str, page_id: str
    ) -> tuple[tempfile.SpooledTemporaryFile[bytes], int]:
        """The page's bytes, spooled and rewound, and their count, once their SHA-256 is the
        page's id; PageCorrupt otherwise. Runs in a thread."""
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 (the reader closes it)
        try:
            digest, size = hashlib.sha256(), 0
            for chunk in store.read(key):
                digest.update(chunk)
                spool.write(chunk)
                size += len(chunk)
            if digest.hexdigest() != page_id:
                raise PageCorrupt(size, digest.hexdigest())
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool, size

    def _holds(self, store: ObjectStore, key: str, digest: str) -> bool:
        """True if the object under `key` hashes to `digest` (read back in slices)."""
        try:
            hasher = hashlib.sha256()
            for chunk in store.read(key):
                hasher.update(chunk)
        except PageNotFound:
            return False
        return hasher.hexdigest() == digest

    async def _aiter(self, chunks: Generator[bytes, None, None]) -> AsyncIterator[bytes]:
        """The chunks, each read in the store's thread pool; closed at the end (connection freed).

        A reader that leaves early (cancelled, client gone) may leave a read running in a
        thread: the iterator is then closed in that thread once the read returns.
        """
        reading: Future[bytes | None] | None = None
        try:
            while True:
                reading = self._executor.submit(next, chunks, None)
                try:
                    chunk = await asyncio.wrap_future(reading)
                except StoreUnavailable as error:
                    self._note(str(error))
                    log.warning("reading a stored page stopped part-way: %s", error)
                    raise RequestFailed(ErrorKind.UNAVAILABLE, str(error)) from None
                if chunk is None:
                    return
                yield chunk
        finally:
            if reading is not None and not reading.done():
                reading.add_done_callback(lambda _: chunks.close())
            else:
                try:
                    self._executor.submit(chunks.close)
                except RuntimeError:  # the pool is shut down (server stopping): close here
                    chunks.close()

    # -- health and upkeep -------------------------------------------------------------

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
                await self.run(self.store.check, self.config.store_prefix)
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
            done = await self.run(self.store.apply_retention, prefix, days)
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

    async def _maintain(self) -> None:
        """What the store cannot do itself, every MAINTENANCE_INTERVAL (a folder's pruning)."""
        days, prefix = self.config.store_retention_days, self.config.store_prefix
        while True:
            removed = await self.run(self.store.prune, prefix, days)
            if removed:
                log.info("retention: pruned %d stored pages older than %d days", removed, days)
            await asyncio.sleep(MAINTENANCE_INTERVAL)


def _spooled_chunks(
    spool: tempfile.SpooledTemporaryFile[bytes],
) -> Generator[bytes, None, None]:
    with spool:
        while chunk := spool.read(READ_CHUNK):
            yield chunk


class _StoreMetrics:
    def __init__(self, registry: CollectorRegistry, store_kind: str) -> None:
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
