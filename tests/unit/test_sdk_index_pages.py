"""The SDK's package index (server/sdk_index.py) on a real Tornado server over a folder of
small but real distributions: PEP 503 pages, name normalization, digests, redirects, and only
kfp-viz files served. `pip install --index-url` from a running server is in
tests/integration/test_sdk_index.py."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import tarfile
import zipfile
from pathlib import Path

import pytest
import tornado.httpclient
import tornado.httpserver
import tornado.testing
import tornado.web
from kfp_viz_server.sdk_index import normalize, sdk_index_routes

WHEEL = "kfp_viz-0.1.0-py3-none-any.whl"
SDIST = "kfp_viz-0.1.0.tar.gz"
METADATA = "Metadata-Version: 2.4\nName: kfp-viz\nVersion: 0.1.0\nRequires-Python: >=3.11\n"


def make_wheel(path: Path, extra: str = "") -> None:
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("kfp_viz/__init__.py", extra)
        wheel.writestr("kfp_viz-0.1.0.dist-info/METADATA", METADATA)


def make_sdist(path: Path) -> None:
    with tarfile.open(path, "w:gz") as sdist:
        data = METADATA.encode()
        info = tarfile.TarInfo("kfp_viz-0.1.0/PKG-INFO")
        info.size = len(data)
        sdist.addfile(info, io.BytesIO(data))


@pytest.fixture
def folder(tmp_path) -> Path:
    make_wheel(tmp_path / WHEEL)
    make_sdist(tmp_path / SDIST)
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = not served\n")
    (tmp_path / ".sdk-digest").write_text("abc")
    (tmp_path / "kfp_viz-9.9.9.tar.gz").symlink_to("/etc/passwd")  # a link: never followed
    return tmp_path


def fetch(folder: Path, *paths: str, method: str = "GET") -> list[tornado.httpclient.HTTPResponse]:
    """Each path's reply from a real server on loopback (redirects not followed)."""

    async def run() -> list[tornado.httpclient.HTTPResponse]:
        app = tornado.web.Application(sdk_index_routes(str(folder)))
        sock, port = tornado.testing.bind_unused_port()
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets([sock])
        client = tornado.httpclient.AsyncHTTPClient()
        try:
            return [
                await client.fetch(f"http://127.0.0.1:{port}{path}", method=method,
                                   raise_error=False, follow_redirects=False)
                for path in paths
            ]  # fmt: skip
        finally:
            server.stop()

    return asyncio.run(run())


def links(page: str) -> list[tuple[str, str, str]]:
    return re.findall(
        r'<a href="([^"#]+)(?:#sha256=([0-9a-f]+))?"(?: data-requires-python="([^"]*)")?', page
    )


def test_names_are_compared_as_pep_503_normalizes_them():
    assert {normalize(n) for n in ("kfp-viz", "kfp_viz", "KFP.Viz", "kfp--_viz")} == {"kfp-viz"}


def test_the_root_lists_the_one_project(folder, tmp_path_factory):
    (root,) = fetch(folder, "/simple/")
    assert root.code == 200 and root.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert links(root.body.decode()) == [("kfp-viz/", "", "")]
    (empty,) = fetch(tmp_path_factory.mktemp("empty"), "/simple/")
    assert empty.code == 200 and links(empty.body.decode()) == []


def test_the_project_page_lists_each_file_with_its_digest_under_every_spelling(folder):
    pages = fetch(folder, "/simple/kfp-viz/", "/simple/kfp_viz/", "/simple/KFP.Viz/")
    expected = [
        (name, hashlib.sha256((folder / name).read_bytes()).hexdigest(), "&gt;=3.11")
        for name in sorted((WHEEL, SDIST))
    ]
    for page in pages:
        assert page.code == 200
        assert page.headers["Cache-Control"] == "no-cache"
        assert links(page.body.decode()) == expected
        assert '<meta name="pypi:repository-version" content="1.0">' in page.body.decode()


def test_files_are_served_under_every_spelling_and_match_their_digest(folder):
    for reply in fetch(folder, f"/simple/kfp-viz/{WHEEL}", f"/simple/kfp_viz/{WHEEL}"):
        assert reply.code == 200 and reply.body == (folder / WHEEL).read_bytes()
        assert reply.headers["Content-Type"] == "application/octet-stream"
    (head,) = fetch(folder, f"/simple/kfp-viz/{SDIST}", method="HEAD")
    assert head.code == 200 and head.body == b""


def test_pages_without_their_slash_are_redirected_relatively(folder):
    project, root = fetch(folder, "/simple/kfp_viz", "/simple")
    assert (project.code, project.headers["Location"]) == (301, "kfp_viz/")
    assert (root.code, root.headers["Location"]) == (301, "simple/")


def test_nothing_but_kfp_viz_distributions_can_be_named(folder):
    names = ("setup.cfg", ".sdk-digest", "kfp_viz-9.9.9.tar.gz", "..%2Fsetup.cfg",
             "%2Fetc%2Fpasswd", "kfp_viz-0.2.0-py3-none-any.whl")  # fmt: skip
    replies = fetch(folder, *(f"/simple/kfp-viz/{name}" for name in names))
    assert [reply.code for reply in replies] == [404] * len(names)
    assert all(b"root:" not in reply.body and b"not served" not in reply.body for reply in replies)
    (other,) = fetch(folder, "/simple/requests/")
    assert other.code == 404
    assert other.reason == "No project 'requests' here: this index serves only kfp-viz"


def test_a_folder_without_distributions_says_so(tmp_path):
    page, file = fetch(tmp_path, "/simple/kfp-viz/", f"/simple/kfp-viz/{WHEEL}")
    assert page.code == 404 and "no kfp-viz distributions to serve" in page.reason
    assert file.code == 404


def test_a_rebuilt_file_is_hashed_again(folder):
    """One app, two listings: the second sees the new wheel's digest (size and time changed)."""

    async def run() -> tuple[str, str]:
        app = tornado.web.Application(sdk_index_routes(str(folder)))
        sock, port = tornado.testing.bind_unused_port()
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets([sock])
        client = tornado.httpclient.AsyncHTTPClient()
        url = f"http://127.0.0.1:{port}/simple/kfp-viz/"
        try:
            before = (await client.fetch(url)).body.decode()
            make_wheel(folder / WHEEL, extra="# rebuilt\n")
            stat = (folder / WHEEL).stat()
            os.utime(folder / WHEEL, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
            return before, (await client.fetch(url)).body.decode()
        finally:
            server.stop()

    before, after = asyncio.run(run())
    digest = hashlib.sha256((folder / WHEEL).read_bytes()).hexdigest()
    assert f"{WHEEL}#sha256={digest}" in after and f"{WHEEL}#sha256={digest}" not in before
