"""The SDK's own package index: `/simple/`, PEP 503, serving kfp-viz and nothing else.

Every pipeline step that reports progress installs kfp-viz; the server it reports to serves
it, so a step needs no public index for it (`pip install --index-url
http://ml-pipeline-visualizationserver.kubeflow:8888/simple/ kfp-viz`, or KFP's
`pip_index_urls`), and it gets the SDK that moves in step with that server.

- `GET /simple/`: the project list (kfp-viz, when there is a distribution to serve).
- `GET /simple/<project>/`: a link per file, with `#sha256=` and `data-requires-python`.
- `GET /simple/<project>/<file>`: the file.

Project names are compared as PEP 503 normalizes them (`kfp-viz`, `kfp_viz`, `KFP.Viz` are one
name); a path without its final `/` is redirected to it, relatively, so the index works behind
a path prefix. The files come from one folder (`--sdk-dist-dir`, which the image build and
`scripts/sdk_dist.py` fill with `python -m build sdk`): only kfp-viz wheels and sdists in it
are listed or served, so nothing else of the server's files can be named here. Nothing is
built at request time: a file is hashed once per change of its size or time, off the loop.

Public on purpose (no tenancy check): it serves only what anyone may download from PyPI.
"""

from __future__ import annotations

import asyncio
import email.parser
import hashlib
import html
import logging
import os
import re
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import tornado.web

from .errors import ErrorKind, RequestFailed
from .http_base import EdgeHandler, HandlerRule

log = logging.getLogger(__name__)

PROJECT = "kfp-viz"
_FILE_NAME = re.compile(r"kfp[-_]viz-[0-9][0-9A-Za-z.!+_]*(-[0-9A-Za-z._]+){2,3}\.whl|"
                        r"kfp[-_]viz-[0-9][0-9A-Za-z.!+_]*\.tar\.gz")  # fmt: skip
"""A kfp-viz wheel (name-version[-build]-python-abi-platform.whl) or sdist; nothing else."""
MAX_FILE_BYTES = 64 * 2**20
"""Larger files are not an SDK distribution (the wheel is about 0.1 MB) and are skipped."""
NO_FILES = (
    "This server has no kfp-viz distributions to serve (its operator sets SDK_DIST_DIR; "
    "the image has them)"
)


def normalize(name: str) -> str:
    """A project name as PEP 503 compares it: lower case, runs of `-_.` as one `-`."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class SdkFile:
    """One distribution file in the folder, as the index lists it."""

    name: str
    path: Path
    sha256: str
    requires_python: str
    stamp: tuple[int, int]  # size and modification time, to notice a rebuilt file


class SdkFolder:
    """The folder's kfp-viz distributions, read again when a file appears, goes or changes."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self._files: dict[str, SdkFile] = {}
        self._lock = asyncio.Lock()

    async def files(self) -> list[SdkFile]:
        """The distributions now in the folder, newest name last; hashes are computed in a
        thread, once per file version."""
        async with self._lock:
            found = self.scan()
            stale = [name for name, stamp in found.items() if self._stamp_of(name) != stamp]
            if stale:
                fresh = await asyncio.to_thread(self._describe_all, stale, found)
                self._files.update(fresh)
            for name in set(self._files) - set(found):
                del self._files[name]
            return [self._files[name] for name in sorted(self._files)]

    async def find(self, name: str) -> SdkFile | None:
        return next((file for file in await self.files() if file.name == name), None)

    def _stamp_of(self, name: str) -> tuple[int, int] | None:
        known = self._files.get(name)
        return known.stamp if known else None

    def scan(self) -> dict[str, tuple[int, int]]:
        """Name → (size, mtime) of every regular kfp-viz distribution file in the folder."""
        found: dict[str, tuple[int, int]] = {}
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return found
        for entry in entries:
            if not _FILE_NAME.fullmatch(entry.name) or not entry.is_file(follow_symlinks=False):
                continue
            stat = entry.stat(follow_symlinks=False)
            if stat.st_size <= MAX_FILE_BYTES:
                found[entry.name] = (stat.st_size, stat.st_mtime_ns)
        return found

    def _describe_all(
        self, names: list[str], stamps: dict[str, tuple[int, int]]
    ) -> dict[str, SdkFile]:
        described = {}
        for name in names:
            try:
                described[name] = _describe(self.folder / name, stamps[name])
            except (OSError, zipfile.BadZipFile, tarfile.TarError) as error:
                log.warning("SDK index: %s skipped: %s", name, error)
        return described


def _describe(path: Path, stamp: tuple[int, int]) -> SdkFile:
    data = path.read_bytes()
    return SdkFile(
        name=path.name,
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        requires_python=_requires_python(path),
        stamp=stamp,
    )


def _requires_python(path: Path) -> str:
    """`Requires-Python` from the file's own metadata (a wheel's METADATA, an sdist's
    PKG-INFO), so pip on an older Python skips it with a clear reason; "" when absent."""
    text = ""
    if path.name.endswith(".whl"):
        with zipfile.ZipFile(path) as wheel:
            names = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
            text = wheel.read(names[0]).decode("utf-8", "replace") if names else ""
    else:
        with tarfile.open(path, "r:gz") as sdist:
            member = next((m for m in sdist.getmembers() if m.name.count("/") == 1
                           and m.name.endswith("/PKG-INFO")), None)  # fmt: skip
            extracted = sdist.extractfile(member) if member is not None else None
            text = extracted.read().decode("utf-8", "replace") if extracted is not None else ""
    return str(email.parser.Parser().parsestr(text, headersonly=True).get("Requires-Python", ""))


def _page(title: str, links: list[str]) -> str:
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        '<meta name="pypi:repository-version" content="1.0">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
        + "".join(f"{link}<br>\n" for link in links)
        + "</body>\n</html>\n"
    )


class IndexHandler(EdgeHandler):
    """What every page of the index shares: the folder, pages as HTML, no caching of pages."""

    def initialize(self, folder: SdkFolder) -> None:
        self._folder = folder

    def _project(self, name: str) -> None:
        if normalize(name) != PROJECT:
            raise RequestFailed(
                ErrorKind.NOT_FOUND,
                f"No project {name[:100]!r} here: this index serves only kfp-viz",
            )

    def _reply_page(self, title: str, links: list[str]) -> None:
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-cache")  # a rebuilt wheel keeps its name
        self.finish(_page(title, links))


class RootHandler(IndexHandler):
    """`GET /simple/`: the one project, when there is something to install."""

    async def get(self) -> None:
        files = await self._folder.files()
        self._reply_page("Simple index", [f'<a href="{PROJECT}/">{PROJECT}</a>'] if files else [])


class ProjectHandler(IndexHandler):
    """`GET /simple/<project>/`: the project's files, with their digests."""

    async def get(self, name: str) -> None:
        try:
            self._project(name)
            files = await self._folder.files()
            if not files:
                raise RequestFailed(ErrorKind.NOT_FOUND, NO_FILES)
        except RequestFailed as failure:
            self.fail(failure)
            return
        links = []
        for file in files:
            python = (
                f' data-requires-python="{html.escape(file.requires_python)}"'
                if file.requires_python
                else ""
            )
            links.append(
                f'<a href="{html.escape(file.name)}#sha256={file.sha256}"{python}>'
                f"{html.escape(file.name)}</a>"
            )
        self._reply_page(f"Links for {PROJECT}", links)


class FileHandler(IndexHandler):
    """`GET /simple/<project>/<file>`: one of the listed files, and no other."""

    async def get(self, name: str, file_name: str) -> None:
        await self._send(name, file_name, body=True)

    async def head(self, name: str, file_name: str) -> None:
        await self._send(name, file_name, body=False)

    async def _send(self, name: str, file_name: str, *, body: bool) -> None:
        try:
            self._project(name)
            file = await self._folder.find(file_name)
            if file is None:
                raise RequestFailed(
                    ErrorKind.NOT_FOUND, f"No file {file_name[:200]!r} in kfp-viz's index"
                )
            data = await asyncio.to_thread(file.path.read_bytes) if body else b""
        except RequestFailed as failure:
            self.fail(failure)
            return
        except OSError:
            self.fail(RequestFailed(ErrorKind.NOT_FOUND, f"{file_name!r} was just removed"))
            return
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("ETag", f'"{file.sha256}"')
        self.set_header("Cache-Control", "no-cache")
        self.finish(data)


class SlashHandler(tornado.web.RequestHandler):
    """`/simple` and `/simple/<project>`: PEP 503 pages end with `/`; redirected relatively
    (to the last segment plus `/`), which stays right behind any path prefix."""

    def get(self, *_: str) -> None:
        last = self.request.path.rstrip("/").rsplit("/", 1)[-1]
        self.redirect(f"{last}/", permanent=True)

    head = get


def sdk_index_routes(folder: str) -> list[HandlerRule]:
    """The index's routes over `folder`; a folder with nothing to serve is logged once."""
    sdk = SdkFolder(folder)
    if not sdk.scan():
        log.warning("SDK index: %s holds no kfp-viz distribution; /simple/ lists nothing", folder)
    arguments = {"folder": sdk}
    return [
        (r"/simple", SlashHandler, {}),
        (r"/simple/", RootHandler, arguments),
        (r"/simple/([^/]+)", SlashHandler, {}),
        (r"/simple/([^/]+)/", ProjectHandler, arguments),
        (r"/simple/([^/]+)/([^/]+)", FileHandler, arguments),
    ]
