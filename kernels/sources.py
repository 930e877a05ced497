"""Where a visualization's data comes from: local paths, MinIO/S3, GCS and HTTP(S), with patterns.

Runs inside kernels. The built-in types call `match(pattern)` to list what a
`source` names and `read_bytes(location)` to fetch one of them, so every type
accepts the same kinds of source:

- a local path or glob pattern (`/data/*.csv`, `/data/**/part-*.csv`), listed and opened
  by the server, which passes the open file in (kernels/file_access.py): a sandboxed kernel
  holds no right to any data folder, and so reads a file whenever it was written; only the
  render's own folder is read in place;
- `minio://bucket/key` and `s3://bucket/key`, patterns too: the server lists them
  and presigns each read with its object-store settings (the KFP API server's
  `OBJECTSTORECONFIG_*`; `s3://` without them goes to AWS with the `AWS_*` variables),
  and the kernel fetches the presigned URL; no kernel holds the keys
  (kernels/object_access.py);
- `gs://bucket/key` (patterns too) through `gcsfs` when it is installed;
- `http://` and `https://` (one document, no patterns).

Every source is first checked against the operator's limits (kernels/source_policy.py):
which kinds of source, which local folders, no link-local hosts.

Anything that goes wrong becomes a `SourceError` whose message names the
source and the cause, which the page shows instead of a traceback.
"""

from __future__ import annotations

import fnmatch
import os
import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ElementTree
from functools import lru_cache
from typing import BinaryIO, Protocol

from . import file_access, local_files
from .local_files import LocalSourceError
from .object_access import ListedObject, Refused, ask
from .source_policy import SourcePolicy, SourceRefused, open_url
from .viz_errors import VisualizationError

HTTP_TIMEOUT = 60.0
_GLOB_CHARS = local_files.GLOB_CHARS


class SourceError(VisualizationError):
    """A source could not be listed or read; the message names it and says why."""


class SourceNotFound(SourceError):
    """The store answered, and holds no file by that name or pattern (or names a folder)."""


has_pattern = local_files.has_pattern


def scheme_of(location: str) -> str:
    """`minio`, `s3`, `gs`, `http`, `https`, or `file` for a plain path."""
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", location)
    return match.group(1).lower() if match else "file"


def match(pattern: str) -> list[str]:
    """Every location `pattern` names, sorted; a SourceError if there is none."""
    scheme = scheme_of(pattern)
    policy = _policy(pattern, scheme)
    if scheme == "file":
        found = _match_local(pattern, policy)
    elif scheme in ("minio", "s3"):
        found = _match_object_store(pattern, scheme)
    elif scheme == "gs":
        found = _match_gcs(pattern)
    elif scheme in ("http", "https"):
        found = [pattern]
    else:
        raise SourceError(
            f"Unsupported source {pattern!r}: use a local path, minio://, s3://, gs://, "
            "http:// or https://"
        )
    if not found:
        raise SourceNotFound(f"No file matches the source {pattern!r}")
    return found


def read_bytes(location: str) -> bytes:
    """The whole content of one location (a file or object, not a pattern)."""
    scheme = scheme_of(location)
    policy = _policy(location, scheme)
    try:
        if scheme == "file":
            with os.fdopen(_open_local(location, policy), "rb") as file:
                return file.read()
        if scheme in ("minio", "s3"):
            return _read_object(location, scheme)
        if scheme == "gs":
            return _gcs().cat_file(location)
        if scheme in ("http", "https"):
            return _read_http(location)
    except (SourceError, SourceRefused):
        raise
    except LocalSourceError as error:
        raise _local_error(error) from None
    except (FileNotFoundError, NotADirectoryError):
        raise SourceNotFound(f"Source {location!r} does not exist") from None
    except IsADirectoryError:
        raise SourceError(f"Source {location!r} is a folder, not a file") from None
    except Exception as error:
        raise SourceError(f"Cannot read {location!r}: {_cause(error)}") from None
    raise SourceError(f"Unsupported source {location!r}")


def read_text(location: str) -> str:
    """One location decoded as UTF-8 (a byte-order mark is dropped)."""
    data = read_bytes(location)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SourceError(f"Source {location!r} is not UTF-8 text ({error.reason})") from None


def join(folder: str, name: str) -> str:
    """`folder/name` for any kind of location."""
    return folder.rstrip("/") + "/" + name


def parent(location: str) -> str:
    """The folder holding `location` (or a pattern's fixed part)."""
    head, _, _ = location.rstrip("/").rpartition("/")
    return head


def _policy(location: str, scheme: str) -> SourcePolicy:
    """The limits in force, after checking that they allow this kind of source."""
    policy = SourcePolicy.from_environment()
    policy.check_scheme(location, scheme)
    return policy


# -- local ---------------------------------------------------------------------


def open_local(location: str) -> BinaryIO:
    """A local file, open for reading, within the limits, whenever it was written.

    For custom code: a sandboxed kernel cannot open data files itself (kernels/sandbox.py),
    so `pd.read_csv(open_local("/data/x.csv"))` reads what the built-in types may read.
    """
    policy = _policy(location, "file")
    try:
        return os.fdopen(_open_local(location, policy), "rb")
    except LocalSourceError as error:
        raise _local_error(error) from None


def _reads_itself(path: str) -> bool:
    """Whether this process opens `path` itself: when no server answers (a kernel started
    alone), or in the render's own folder (its own files, which only it can reach)."""
    own = os.path.realpath(os.getcwd())
    return not file_access.available() or _inside(os.path.realpath(path), own)


def _open_local(location: str, policy: SourcePolicy) -> int:
    path = os.path.abspath(location)
    if _reads_itself(path):
        return local_files.open_file(location, policy)
    return file_access.open_file(path)


def _match_local(pattern: str, policy: SourcePolicy) -> list[str]:
    """Files the pattern names, each within the limits (checked before anything is listed,
    so a refusal does not tell whether a file exists)."""
    absolute = _absolute(pattern)
    try:
        if _reads_itself(local_files.fixed_part(absolute)):
            return local_files.match(pattern, policy)
        return file_access.match(absolute)
    except LocalSourceError as error:
        raise _local_error(error) from None


def _absolute(pattern: str) -> str:
    """A pattern made absolute without touching its wildcards (abspath would normalise
    `..` across them)."""
    return pattern if os.path.isabs(pattern) else os.path.join(os.getcwd(), pattern)


def _local_error(error: LocalSourceError) -> VisualizationError:
    message = str(error)
    if error.code == local_files.REFUSED:
        return SourceRefused(message)
    if error.code == local_files.NOT_FOUND:
        return SourceNotFound(message)
    return SourceError(message)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


# -- MinIO / S3 ----------------------------------------------------------------


def _split_bucket(location: str) -> tuple[str, str]:
    rest = location.split("://", 1)[1]
    bucket, _, key = rest.partition("/")
    if not bucket or not key:
        raise SourceError(f"Source {location!r} needs a bucket and a key: scheme://bucket/key")
    return bucket, key


def _list(
    scheme: str, bucket: str, prefix: str, recursive: bool, limit: int = 0
) -> list[ListedObject]:
    """Objects under a prefix, listed by the server; Refused when it cannot."""
    request = {"op": "list", "scheme": scheme, "bucket": bucket, "prefix": prefix,
               "recursive": recursive, "limit": limit}  # fmt: skip
    objects: list[ListedObject] = ask(request)["objects"]
    return objects


def _match_object_store(pattern: str, scheme: str) -> list[str]:
    bucket, key = _split_bucket(pattern)
    prefix = key if not has_pattern(key) else _GLOB_CHARS.split(key, 1)[0]
    # A pattern whose wildcards stay within one folder level lists only that level.
    recursive = "**" in key or "/" in key[len(prefix) :] or not has_pattern(key)
    regex = _key_regex(key)
    try:
        objects = _list(scheme, bucket, prefix, recursive)
    except Refused as error:
        raise SourceError(f"Cannot list {pattern!r}: {error}") from None
    keys = [o["name"] for o in objects if not o["dir"] and regex.fullmatch(o["name"])]
    if not keys and not has_pattern(key) and _has_children(scheme, bucket, key):
        raise SourceNotFound(
            f"Source {pattern!r} is a folder; name the files, e.g. {join(pattern, '*.csv')!r}"
        )
    return [f"{scheme}://{bucket}/{k}" for k in sorted(keys)]


def _has_children(scheme: str, bucket: str, key: str) -> bool:
    try:
        return bool(_list(scheme, bucket, key.rstrip("/") + "/", False, limit=1))
    except Refused:
        return False


def _key_regex(pattern: str) -> re.Pattern[str]:
    """Glob semantics for object keys: `*` and `?` stay within one `/` level, `**` crosses."""
    parts = []
    for piece in re.split(r"(\*\*/?|\*|\?|\[[^\]]*\])", pattern):
        if piece.startswith("**"):
            parts.append(".*")
        elif piece == "*":
            parts.append("[^/]*")
        elif piece == "?":
            parts.append("[^/]")
        elif piece.startswith("[") and piece.endswith("]") and len(piece) > 2:
            parts.append(fnmatch.translate(piece)[4:-3])  # the class, without (?s: and )\Z
        else:
            parts.append(re.escape(piece))
    return re.compile("".join(parts), re.S)


def _read_object(location: str, scheme: str) -> bytes:
    """The object, fetched from the URL the server presigned for it."""
    bucket, key = _split_bucket(location)
    try:
        url = ask({"op": "get", "scheme": scheme, "bucket": bucket, "key": key})["url"]
    except Refused as error:
        raise _object_error(location, error.code, str(error)) from None
    request = urllib.request.Request(url, headers={"User-Agent": "kfp-viz-server"})
    try:
        with open_url(request, timeout=HTTP_TIMEOUT) as reply:
            return reply.read()
    except urllib.error.HTTPError as error:
        code = _s3_error_code(error)
        raise _object_error(location, code, f"HTTP {error.code} {code}") from None
    except urllib.error.URLError as error:
        raise SourceError(f"Cannot read {location!r}: {error.reason}") from None


def _object_error(location: str, code: str, cause: str) -> SourceError:
    if code == "NoSuchKey":
        return SourceNotFound(f"Source {location!r} does not exist ({code})")
    if code == "NoSuchBucket":
        return SourceError(f"Source {location!r} does not exist ({code})")
    return SourceError(f"Cannot read {location!r}: {cause}")


def _s3_error_code(error: urllib.error.HTTPError) -> str:
    """The `<Code>` of an S3 error reply (NoSuchKey, AccessDenied, ...), or its reason."""
    try:
        return ElementTree.fromstring(error.read(65536)).findtext("Code") or str(error.reason)
    except (ElementTree.ParseError, OSError):
        return str(error.reason)


# -- GCS -----------------------------------------------------------------------


class _GCSFiles(Protocol):
    """What these functions use of gcsfs.GCSFileSystem (gcsfs ships no types)."""

    def cat_file(self, path: str) -> bytes: ...
    def glob(self, path: str) -> list[str]: ...
    def isfile(self, path: str) -> bool: ...


@lru_cache(maxsize=1)
def _gcs() -> _GCSFiles:
    try:
        import gcsfs
    except ImportError:
        raise SourceError(
            "gs:// sources need the gcsfs package, which this server does not have; "
            "install it in the server's image (pip install gcsfs)"
        ) from None
    files: _GCSFiles = gcsfs.GCSFileSystem()
    return files


def _match_gcs(pattern: str) -> list[str]:
    fs = _gcs()
    try:
        if has_pattern(pattern):
            found = fs.glob(pattern)
        else:
            found = [pattern] if fs.isfile(pattern) else []
    except Exception as error:
        raise SourceError(f"Cannot list {pattern!r}: {_cause(error)}") from None
    return sorted(p if p.startswith("gs://") else f"gs://{p}" for p in found)


# -- HTTP ----------------------------------------------------------------------


def _read_http(location: str) -> bytes:
    request = urllib.request.Request(location, headers={"User-Agent": "kfp-viz-server"})
    try:
        with open_url(request, timeout=HTTP_TIMEOUT) as reply:
            return reply.read()
    except urllib.error.HTTPError as error:
        kind = SourceNotFound if error.code == 404 else SourceError
        raise kind(f"Cannot read {location!r}: HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise SourceError(f"Cannot read {location!r}: {error.reason}") from None


def _cause(error: BaseException) -> str:
    """A one-line reason for an exception from a client library."""
    code = getattr(error, "code", None)
    message = getattr(error, "message", None)
    if code and message:
        return f"{code}: {message}"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
