"""Where pages past the inline limit are kept: an S3 bucket, or a local folder.

Two implementations of one small interface, with the same reference semantics:
- `S3Store` talks to MinIO or any S3 store through the `minio` client, with the
  KFP API server's own settings (OBJECTSTORECONFIG_*).
- `FolderStore` keeps pages under a local folder, the embedded default when no
  object store is configured.

Pages are content-addressed: the key is `<prefix><sha256>.html`, so identical
pages are stored once, and a key names exactly one content forever. An object
appears only once it is complete (an S3 PUT or multipart completion is atomic;
the folder store writes a temporary file and renames it), so a key that exists
never holds a partial page.

Every method here blocks (network or disk); callers run them off the event
loop (see `kfp_viz_server.page_store`). Failures to reach the store, or a store that
refuses the credentials, raise `StoreUnavailable` naming the endpoint and the
cause, so a person reading the error knows where to look.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

import urllib3
from minio import Minio
from minio.commonconfig import ENABLED, Filter
from minio.error import S3Error
from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule

from .addresses import host_port
from .config import StoreConfig

log = logging.getLogger(__name__)
# urllib3 logs every retry of a refused connection; StoreUnavailable says it once, clearly.
logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
T = TypeVar("T")

CONTENT_TYPE = "text/html; charset=utf-8"
PART_SIZE = 8 * 2**20
"""Multipart part size: parts in flight are the only copies of a page the upload makes."""
PARALLEL_PARTS = 2
READ_CHUNK = 2**20
"""Chunks pages are read back in; also FetchVisualization's largest chunk (1 MiB)."""
RULE_ID = "kfp-viz-server-retention"
"""The id of our lifecycle rule, so it can be replaced without touching anyone else's."""

PROBE_KEY = ".kfp-viz-server-probe"
"""A key never written: reading it under the prefix tests that we may use the prefix."""
REGION_HINT = (
    "; keys allowed only some prefixes of the bucket cannot ask the store for its region:"
    " set OBJECTSTORECONFIG_REGION (any value for MinIO and SeaweedFS, e.g. us-east-1)"
)

_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "InvalidToken",
    "ExpiredToken",
}


class StoreUnavailable(Exception):
    """The store cannot be used right now: unreachable, refusing us, or failing."""

    def __init__(self, endpoint: str, cause: str) -> None:
        super().__init__(f"object store {endpoint} is unavailable: {cause}")
        self.endpoint = endpoint
        self.cause = cause


class PageNotFound(Exception):
    """No page is stored under a key (never stored, or expired by retention)."""


@dataclass(frozen=True)
class StoredObject:
    """What the store holds under a key."""

    key: str
    size: int
    modified: float
    """Seconds since the epoch."""


class ObjectStore:
    """The interface both stores implement. All methods block."""

    kind: str
    endpoint: str
    """Where the store is, for messages: `http://host:port/bucket` or a folder."""

    def uri(self, key: str) -> str:
        """A stable, machine-readable name for the object (s3://... or file://...)."""
        raise NotImplementedError

    def check(self, prefix: str = "") -> None:
        """Raise StoreUnavailable unless the store answers and lets us use keys under `prefix`."""
        raise NotImplementedError

    def stat(self, key: str) -> StoredObject | None:
        """The object under `key`, or None when there is none."""
        raise NotImplementedError

    def put(self, key: str, chunks: Iterable[bytes], size: int) -> None:
        """Store exactly `size` bytes from `chunks` under `key`, atomically."""
        raise NotImplementedError

    def read(self, key: str) -> Iterator[bytes]:
        """The object's bytes in chunks of at most READ_CHUNK; PageNotFound if absent.

        The object is opened before this returns, so a missing object or a store
        that is down is reported by this call, not mid-stream.
        """
        raise NotImplementedError

    def presign(self, key: str, expiry: dt.timedelta) -> str | None:
        """A URL anyone holding it can GET the object with until `expiry`; None if unsupported."""
        return None

    def apply_retention(self, prefix: str, days: int) -> str:
        """Arrange for objects under `prefix` to be deleted after `days`; return what was done."""
        raise NotImplementedError

    def prune(self, prefix: str, days: int) -> int:
        """Delete what retention has expired, where the store does not do it itself; called
        periodically whatever the store (an S3 store's lifecycle rule does it: nothing here)."""
        return 0

    def touch(self, key: str) -> None:
        """Restart an object's retention clock when a stored page is handed out again, where
        the store lets us (a file's time); S3 expiry counts from the write, so a copy is reused
        only while fresh instead (kfp_viz_server.page_store)."""


# -- S3 ----------------------------------------------------------------------------------


class S3Store(ObjectStore):
    """A bucket in MinIO or any S3 store, through the minio client."""

    kind = "s3"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        secure: bool,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str | None,
        connect_timeout: float = 3.0,
        read_timeout: float = 60.0,
    ) -> None:
        self.bucket = bucket
        self._region_given = bool(region)
        address = host_port(host, port)
        self.endpoint = f"{'https' if secure else 'http'}://{address}/{bucket}"
        # Fail fast: a store that is down answers within seconds, not after minio's
        # default five retries with back-off.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            retries=urllib3.Retry(
                total=1, connect=1, read=0, backoff_factor=0.1,
                status_forcelist=(500, 502, 503, 504),
            ),
            maxsize=8,
        )  # fmt: skip
        self.client = Minio(
            address,
            access_key=access_key or None,
            secret_key=secret_key or None,
            secure=secure,
            region=region or None,
            http_client=http,
        )
        self._bucket_ready = False

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def check(self, prefix: str = "") -> None:
        def check() -> None:
            self._ensure_bucket()
            self._probe(prefix)

        self._call(check, force=True)

    def _probe(self, prefix: str) -> None:
        """Read a key that never exists under `prefix`: "no such key" proves we may read there.

        A GET, not a HEAD, so a refusal comes with its reason (a HEAD's has no body).
        """
        try:
            self.client.get_object(self.bucket, f"{prefix}{PROBE_KEY}").close()
        except S3Error as error:
            if error.code not in ("NoSuchKey", "NoSuchObject", "NotFound"):
                raise

    def stat(self, key: str) -> StoredObject | None:
        def stat() -> StoredObject | None:
            try:
                found = self.client.stat_object(self.bucket, key)
            except S3Error as error:
                if error.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                    return None
                raise
            modified = found.last_modified.timestamp() if found.last_modified else time.time()
            return StoredObject(key, found.size or 0, modified)

        return self._call(stat)

    def put(self, key: str, chunks: Iterable[bytes], size: int) -> None:
        def put() -> None:
            self._ensure_bucket()
            self.client.put_object(
                self.bucket,
                key,
                # minio asks for a BinaryIO but only ever calls read(size), which ChunkReader has.
                ChunkReader(chunks),  # type: ignore[arg-type]
                length=size,
                content_type=CONTENT_TYPE,
                part_size=PART_SIZE,
                num_parallel_uploads=PARALLEL_PARTS,
            )

        self._call(put)

    def read(self, key: str) -> Iterator[bytes]:
        def open_object() -> urllib3.BaseHTTPResponse:
            try:
                return self.client.get_object(self.bucket, key)
            except S3Error as error:
                if error.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                    raise PageNotFound(key) from None
                raise

        response = self._call(open_object)
        return self._stream(response)

    def _stream(self, response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
        try:
            while chunk := self._call(lambda: response.read(READ_CHUNK)):
                yield chunk
        finally:
            response.close()
            response.release_conn()

    def presign(self, key: str, expiry: dt.timedelta) -> str | None:
        return self._call(lambda: self.client.presigned_get_object(self.bucket, key, expiry))

    def apply_retention(self, prefix: str, days: int) -> str:
        """Put our expiration rule on the prefix, keeping every other rule the bucket has."""

        def apply() -> str:
            self._ensure_bucket()  # credentials and reachability fail as StoreUnavailable
            try:
                current = self.client.get_bucket_lifecycle(self.bucket)
                rules = [r for r in (current.rules if current else []) if r.rule_id != RULE_ID]
                if days > 0:
                    rules.append(
                        Rule(
                            ENABLED,
                            rule_filter=Filter(prefix=prefix),
                            rule_id=RULE_ID,
                            expiration=Expiration(days=days),
                        )
                    )
                if rules:
                    self.client.set_bucket_lifecycle(self.bucket, LifecycleConfig(rules))
                elif current:
                    self.client.delete_bucket_lifecycle(self.bucket)
            except S3Error as error:  # the bucket answers, but not to lifecycle calls
                raise LifecycleRefused(f"{error.code}: {error.message}") from None
            if days > 0:
                return f"lifecycle rule {RULE_ID}: objects under {prefix} expire after {days} days"
            return f"no expiry (--store-retention-days 0); rule {RULE_ID} removed if present"

        return self._call(apply)

    def _ensure_bucket(self) -> None:
        """Make the bucket on first use if it is missing (KFP installs usually have it)."""
        if self._bucket_ready:
            return
        try:
            exists = self.client.bucket_exists(self.bucket)
        except S3Error as error:
            if error.code != "AccessDenied":
                raise
            # Keys limited to some prefixes (a KFP profile namespace's own) may not look at
            # the bucket itself; the probe under our prefix says whether we may use it.
            exists = True
        if not exists:
            with contextlib.suppress(S3Error):  # made meanwhile by someone else
                self.client.make_bucket(self.bucket)
                log.info("object store: created bucket %s at %s", self.bucket, self.endpoint)
        self._bucket_ready = True

    def _call(self, action: Callable[[], T], force: bool = False) -> T:
        """Run a client call, turning reachability and credential failures into StoreUnavailable."""
        if force:
            self._bucket_ready = False
        try:
            return action()
        except (PageNotFound, LifecycleRefused):
            raise
        except S3Error as error:
            if error.code in _CREDENTIAL_CODES:
                cause = f"it refused the credentials ({error.code}: {error.message})"
            else:
                cause = f"{error.code}: {error.message}"
            if error.code == "AccessDenied" and not self._region_given:
                cause += REGION_HINT
            raise StoreUnavailable(self.endpoint, cause) from None
        except urllib3.exceptions.MaxRetryError as error:
            raise StoreUnavailable(self.endpoint, _network_cause(error.reason)) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise StoreUnavailable(self.endpoint, _network_cause(error)) from None
        except Exception as error:  # minio raises a few plain errors (bad XML, bad replies)
            raise StoreUnavailable(self.endpoint, f"{type(error).__name__}: {error}") from None


def s3_store(config: StoreConfig, access_key: str, secret_key: str, region: str) -> S3Store:
    """The configured bucket (OBJECTSTORECONFIG_HOST, _PORT, _SECURE, _BUCKETNAME) with these
    keys: the server's own, or a profile namespace's (server/profile_stores.py)."""
    return S3Store(
        config.store_host,
        config.store_port,
        secure=config.store_secure,
        bucket=config.store_bucket,
        access_key=access_key,
        secret_key=secret_key,
        region=region,
    )


class LifecycleRefused(Exception):
    """The store has no lifecycle API or does not let us use it."""


def _network_cause(error: BaseException | None) -> str:
    """A short, human reason for a network failure (urllib3 nests the useful part)."""
    text = str(error) if error is not None else "no answer"
    for marker in ("Connection refused", "timed out", "Name or service not known",
                   "No route to host", "Connection reset", "Remote end closed"):  # fmt: skip
        if marker in text:
            return f"cannot connect ({marker.lower()})"
    return f"cannot connect ({text[:160]})"


class ChunkReader:
    """A file-like `read(n)` over an iterator of byte chunks, never holding more than it must.

    minio reads a part at a time with `read(part_size)`; each call returns one bytes
    object of the requested size (except at the end), so the upload holds the parts
    in flight and nothing else.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = b""

    def read(self, size: int = -1) -> bytes:
        pieces, have = [], 0
        if self._pending:
            pieces.append(self._pending)
            have = len(self._pending)
            self._pending = b""
        while size < 0 or have < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            pieces.append(chunk)
            have += len(chunk)
        data = b"".join(pieces)
        if 0 <= size < len(data):
            data, self._pending = data[:size], data[size:]
        return data


# -- local folder ------------------------------------------------------------------------


class FolderStore(ObjectStore):
    """Pages as files under a local folder: the embedded default, same semantics as S3."""

    kind = "folder"

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.endpoint = str(self.folder)

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def check(self, prefix: str = "") -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not os.access(self.folder, os.W_OK):
                raise PermissionError("not writable")
        except OSError as error:
            raise StoreUnavailable(self.endpoint, _os_cause(error)) from None

    def stat(self, key: str) -> StoredObject | None:
        try:
            found = self._path(key).stat()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreUnavailable(self.endpoint, _os_cause(error)) from None
        return StoredObject(key, found.st_size, found.st_mtime)

    def put(self, key: str, chunks: Iterable[bytes], size: int) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".partial-", suffix=".tmp")
            try:
                written = 0
                with os.fdopen(fd, "wb") as file:
                    for chunk in chunks:
                        file.write(chunk)
                        written += len(chunk)
                if written != size:
                    raise OSError(f"wrote {written} bytes, expected {size}")
                os.replace(temporary, path)  # atomic: the key never shows a partial page
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError as error:
            raise StoreUnavailable(self.endpoint, _os_cause(error)) from None

    def touch(self, key: str) -> None:
        """Restart a page's retention clock (a stored page was referenced again)."""
        with contextlib.suppress(OSError):
            os.utime(self._path(key))

    def read(self, key: str) -> Iterator[bytes]:
        try:
            file = self._path(key).open("rb")
        except FileNotFoundError:
            raise PageNotFound(key) from None
        except OSError as error:
            raise StoreUnavailable(self.endpoint, _os_cause(error)) from None
        return self._stream(file)

    @staticmethod
    def _stream(file: BinaryIO) -> Iterator[bytes]:
        with file:
            while chunk := file.read(READ_CHUNK):
                yield chunk

    def apply_retention(self, prefix: str, days: int) -> str:
        if days > 0:
            return f"files under {self.folder / prefix} older than {days} days are pruned hourly"
        return "no expiry (--store-retention-days 0)"

    def prune(self, prefix: str, days: int) -> int:
        """Delete pages (and stale partial files) older than `days`; return how many."""
        if days <= 0:
            return 0
        cutoff = time.time() - days * 86400
        removed = 0
        try:
            paths = list((self.folder / prefix).iterdir())
        except OSError:  # no page stored yet, or the folder is gone: nothing to prune
            return 0
        for path in paths:
            with contextlib.suppress(OSError):
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed

    def _path(self, key: str) -> Path:
        return self.folder / key


def _os_cause(error: OSError) -> str:
    return f"{error.strerror or error}" + (f" ({error.filename})" if error.filename else "")
