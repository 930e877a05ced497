"""Local sources: bounded listing, checked opening (kernels/local_files.py), and the server
answering a kernel's requests over its socket with the descriptor passed back
(kernels/file_access.py, kernels/file_broker.py)."""

from __future__ import annotations

import asyncio
import glob
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from kfp_viz_kernels import file_access, local_files, sources
from kfp_viz_kernels.file_broker import FileBroker
from kfp_viz_kernels.local_files import LocalSourceError
from kfp_viz_kernels.source_policy import SourcePolicy, SourceRefused


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ("a.csv", "b.csv", ".hidden.csv", "notes.txt", "sub/c.csv", "sub/deep/d.csv",
                 ".git/e.csv", "private/key.csv"):  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    return tmp_path


@pytest.mark.parametrize(
    "pattern", ["*.csv", "**/*.csv", "sub/*/*.csv", "s?b/c.csv", "[ab].csv", ".*.csv", "**"]
)
def test_listing_names_what_glob_names(tree, pattern):
    policy = SourcePolicy()
    expected = sorted(p for p in glob.glob(str(tree / pattern), recursive=True)
                      if os.path.isfile(p))  # fmt: skip
    assert local_files.match(str(tree / pattern), policy, "") == expected


def test_a_listing_skips_the_private_folders_and_refuses_one_named(tree):
    policy = SourcePolicy(private=(str(tree / "private"),))
    found = local_files.match(str(tree / "**" / "*.csv"), policy, "")
    assert str(tree / "private" / "key.csv") not in found and str(tree / "a.csv") in found
    with pytest.raises(SourceRefused, match="the server's own folders"):
        local_files.match(str(tree / "private" / "*.csv"), policy, "")


def test_a_listing_stops_at_its_bounds_and_says_which(tree, monkeypatch):
    monkeypatch.setattr(local_files, "MAX_MATCHES", 2)
    with pytest.raises(LocalSourceError, match="names more than 2 files; name fewer"):
        local_files.match(str(tree / "**" / "*.csv"), SourcePolicy(), "")
    monkeypatch.setattr(local_files, "MAX_MATCHES", 100)
    for name in range(3000):
        (tree / "many").mkdir(exist_ok=True)
        (tree / "many" / f"{name}.txt").touch()
    monkeypatch.setattr(local_files, "MAX_ENTRIES", 1000)
    with pytest.raises(LocalSourceError, match="looked at more than 1,000 folder entries"):
        local_files.match(str(tree / "many" / "*.csv"), SourcePolicy(), "")


def test_opening_checks_the_limits_and_refuses_what_is_no_regular_file(tree):
    policy = SourcePolicy(local_roots=(str(tree / "sub"),))
    fd = local_files.open_file(str(tree / "sub" / "c.csv"), policy, "")
    with os.fdopen(fd, "rb") as file:
        assert file.read() == b"sub/c.csv"
    with pytest.raises(SourceRefused, match="LOCAL_SOURCE_ROOTS"):
        local_files.open_file(str(tree / "a.csv"), policy, "")
    (tree / "sub" / "link.csv").symlink_to(tree / "a.csv")
    with pytest.raises(SourceRefused, match="local sources must be in"):
        local_files.open_file(str(tree / "sub" / "link.csv"), policy, "")
    os.mkfifo(tree / "sub" / "fifo")  # must not block the opener
    with pytest.raises(LocalSourceError, match="is not a regular file"):
        local_files.open_file(str(tree / "sub" / "fifo"), policy, "")
    with pytest.raises(LocalSourceError, match="does not exist") as missing:
        local_files.open_file(str(tree / "sub" / "gone.csv"), policy, "")
    assert missing.value.code == local_files.NOT_FOUND


@pytest.fixture
def broker(tree, tmp_path_factory, monkeypatch) -> Iterator[Path]:
    """A broker on a socket, its loop in a thread, and this process as its kernel."""
    socket_path = tmp_path_factory.mktemp("kernel") / "files.sock"
    policy = SourcePolicy(private=(str(tree / "private"),))
    loop = asyncio.new_event_loop()
    files = FileBroker(policy)
    server = loop.run_until_complete(files.listen(str(socket_path)))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(file_access.ACCESS_VARIABLE, str(socket_path))
    yield tree
    loop.call_soon_threadsafe(server.close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    files.close()


def test_a_kernel_reads_through_the_broker_a_file_written_after_it_started(broker, monkeypatch):
    monkeypatch.chdir(broker / "sub")  # the render's folder: read directly, not asked
    later = broker / "later.csv"
    later.write_text("x\n1\n")
    assert sources.read_text(str(later)) == "x\n1\n"
    assert sources.match(str(broker / "*.csv")) == [str(broker / n) for n in
                                                     ("a.csv", "b.csv", "later.csv")]  # fmt: skip
    with sources.open_local(str(later)) as file:
        assert file.read() == b"x\n1\n"
    assert sources.match("*.csv") == ["c.csv"]  # the render's own folder, as glob names it


def test_the_broker_refuses_as_the_limits_say_with_the_same_errors(broker):
    with pytest.raises(SourceRefused, match="the server's own folders"):
        sources.read_bytes(str(broker / "private" / "key.csv"))
    with pytest.raises(SourceRefused, match="/proc is a system folder"):
        sources.read_bytes("/proc/self/environ")
    with pytest.raises(sources.SourceNotFound, match="does not exist"):
        sources.read_bytes(str(broker / "gone.csv"))
    with pytest.raises(sources.SourceNotFound, match="is a folder; name the files"):
        sources.match(str(broker / "sub"))
    with pytest.raises(sources.SourceError, match="is a folder, not a file"):
        sources.read_bytes(str(broker / "sub"))


def test_the_broker_answers_a_bad_request_with_an_error_not_a_file(tree):
    files = FileBroker(SourcePolicy())
    try:
        for request in ([], {}, {"op": "open", "path": "relative.csv"}, {"op": "rm"}, "x"):
            answer, fd = files.answer(request)
            assert fd is None and answer["error"]["code"] == "InvalidRequest", answer
    finally:
        files.close()
