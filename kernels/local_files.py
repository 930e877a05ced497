"""Local files as sources: which files a pattern names, and opening one, both within the limits.

Why a module of its own: these run where the files can be reached. In a sandboxed kernel
that is not the kernel (it holds no right to any data folder, see kernels/sandbox.py) but
the server, which answers the kernel's requests (kernels/file_access.py) with this code;
without a server (a kernel started alone, unit tests) the kernel runs it itself. Either way
one implementation decides, with the same limits (kernels/source_policy.py).

Listing is bounded: a pattern such as `/**/x.csv` walks every folder it can reach, and in
the server's thread nothing would stop it. So a walk looks at MAX_ENTRIES folder entries
at most, for LIST_SECONDS at most, and returns MAX_MATCHES files at most; past any bound
it fails with a message saying which, instead of holding a thread. It never goes into the
server's private folders. Opening is checked twice: the path before it is opened, and the
file actually opened (through /proc/self/fd, in case a link changed in between); only a
regular file is returned, and a FIFO cannot block the opener (O_NONBLOCK).
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
import time
from collections.abc import Iterator

from .source_policy import SourcePolicy, SourceRefused
from .viz_errors import VisualizationError

MAX_ENTRIES = 2_000_000
"""Folder entries one listing may look at."""
MAX_MATCHES = 200_000
"""Files one pattern may name."""
LIST_SECONDS = 30.0
"""How long one listing may walk."""
GLOB_CHARS = re.compile(r"[*?\[]")


class LocalSourceError(VisualizationError):
    """A local pattern or file that cannot be listed or read; `code` says which kind."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


NOT_FOUND = "SourceNotFound"
REFUSED = "SourceRefused"
UNREADABLE = "SourceError"


def has_pattern(text: str) -> bool:
    """True if `text` contains glob characters (`*`, `?`, `[`)."""
    return GLOB_CHARS.search(text) is not None


def fixed_part(pattern: str) -> str:
    """The folder a pattern starts from: its path up to the first glob character."""
    first = GLOB_CHARS.search(pattern)
    head = pattern[: first.start()] if first else pattern
    return head.rpartition("/")[0] or ("/" if pattern.startswith("/") else ".")


def match(pattern: str, policy: SourcePolicy, own_folder: str | None = None) -> list[str]:
    """The files `pattern` names, sorted, each within the limits; the limits are checked
    before anything is listed, so a refusal does not tell whether a file exists.

    `own_folder`: the render's folder, which the limits never count as the server's own
    (None: the current folder, as in a kernel; "" for none, as in the server)."""
    policy.check_scheme(pattern, "file")
    if not has_pattern(pattern):
        policy.check_local(pattern, own_folder=own_folder)
        if os.path.isdir(pattern):
            raise LocalSourceError(
                NOT_FOUND,
                f"Source {pattern!r} is a folder; name the files, e.g. "
                f"{pattern.rstrip('/') + '/*.csv'!r}",
            )
        return [pattern] if os.path.isfile(pattern) else []
    start = fixed_part(pattern)
    policy.check_local(start, pattern, own_folder=own_folder)  # before listing a system folder
    skip = tuple(os.path.realpath(folder) for folder in policy.private)
    walk = _Walk(pattern, skip)
    rest = pattern[len(start) :].lstrip("/") if start != "." else pattern
    found = sorted(walk.files(start, rest.split("/")))
    if start == "." and not pattern.startswith("./"):
        found = [path.removeprefix("./") for path in found]  # as glob names them
    for path in found:
        policy.check_local(path, own_folder=own_folder)
    return found


def open_file(path: str, policy: SourcePolicy, own_folder: str | None = None) -> int:
    """A read-only descriptor of the regular file at `path`, within the limits (checked on
    the path, and again on the file actually opened)."""
    policy.check_scheme(path, "file")
    policy.check_local(path, own_folder=own_folder)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except (FileNotFoundError, NotADirectoryError):
        raise LocalSourceError(NOT_FOUND, f"Source {path!r} does not exist") from None
    except IsADirectoryError:
        raise LocalSourceError(UNREADABLE, f"Source {path!r} is a folder, not a file") from None
    except PermissionError:
        raise LocalSourceError(UNREADABLE, _no_permission(path)) from None
    except OSError as error:
        raise LocalSourceError(UNREADABLE, f"Cannot read {path!r}: {error.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise LocalSourceError(UNREADABLE, f"Source {path!r} is a folder, not a file")
        if not stat.S_ISREG(mode):
            raise LocalSourceError(UNREADABLE, f"Source {path!r} is not a regular file")
        opened = _opened_path(fd)
        if opened is not None:
            policy.check_local(opened, path, own_folder=own_folder)
        os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _opened_path(fd: int) -> str | None:
    """Where the descriptor really points (None where /proc cannot say)."""
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    return target if target.startswith("/") else None


def _no_permission(path: str) -> str:
    return (
        f"Cannot read {path!r}: the file's permissions do not let the server's user "
        f"(uid {os.getuid()}) read it; make it readable by that user or its group"
    )


class _Walk:
    """One bounded listing (glob's rules: `*`, `?` and `[...]` within a name, `**` for any
    depth of folders, names starting with `.` only when the pattern's part does)."""

    def __init__(self, pattern: str, skip: tuple[str, ...]) -> None:
        self.pattern = pattern
        self.skip = skip
        self.entries = 0
        self.matches = 0
        self.deadline = time.monotonic() + LIST_SECONDS

    def files(self, folder: str, parts: list[str]) -> Iterator[str]:
        for path in self._walk(folder, parts):
            if os.path.isfile(path):
                self.matches += 1
                if self.matches > MAX_MATCHES:
                    self._stop(f"it names more than {MAX_MATCHES:,} files")
                yield path

    def _walk(self, folder: str, parts: list[str]) -> Iterator[str]:
        if not parts:
            yield folder
            return
        part, rest = parts[0], parts[1:]
        if part == "**":
            yield from self._walk(folder, rest)
            for name in self._names(folder, part, folders_only=bool(rest)):
                yield from self._walk(os.path.join(folder, name), parts)
        elif has_pattern(part):
            for name in self._names(folder, part, folders_only=bool(rest)):
                if fnmatch.fnmatchcase(name, part):
                    yield from self._walk(os.path.join(folder, name), rest)
        elif part:
            path = os.path.join(folder, part)
            if rest and not os.path.isdir(path):
                return
            yield from self._walk(path, rest)
        else:  # `//` or a trailing `/`
            yield from self._walk(folder, rest)

    def _names(self, folder: str, part: str, folders_only: bool) -> list[str]:
        if os.path.realpath(folder) in self.skip:
            return []
        names = []
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    self.entries += 1
                    if self.entries % 1024 == 0:
                        self._check_budget()
                    if entry.name.startswith(".") and not part.startswith("."):
                        continue
                    if folders_only and not _is_folder(entry):
                        continue
                    names.append(entry.name)
        except OSError:
            return []  # unreadable or gone: glob skips it too
        return sorted(names)

    def _check_budget(self) -> None:
        if self.entries > MAX_ENTRIES:
            self._stop(f"listing it looked at more than {MAX_ENTRIES:,} folder entries")
        if time.monotonic() > self.deadline:
            self._stop(f"listing it took more than {LIST_SECONDS:g} s")

    def _stop(self, why: str) -> None:
        raise LocalSourceError(
            UNREADABLE,
            f"Source {self.pattern!r} was not listed whole: {why}; name fewer files (a "
            "longer path before the first wildcard)",
        )


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


__all__ = ["LocalSourceError", "SourceRefused", "fixed_part", "has_pattern", "match", "open_file"]
