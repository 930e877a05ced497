"""The step pod's ServiceAccount token, found where KFP's own clients find theirs.

A server with `AUTH=kubeflow` takes a publisher's events only with `Authorization: Bearer
<token>`: a projected ServiceAccount token with the audience `pipelines.kubeflow.org`, the one
KFP's API server also checks for pods that call it. KFP's convention says where a pod has it:
the file named by `KF_PIPELINES_SA_TOKEN_PATH`, else `/var/run/secrets/kubeflow/pipelines/token`
(docs/pipeline-authors says how to project it there, by hand or with a Kubeflow PodDefault).

The kubelet rotates a projected token before it expires by swapping the file (a new folder,
then an atomic symbolic link change), so the token is read again whenever the file is another
file or was rewritten, and `reread()` reads it again whatever its metadata says (after a 401).
No file means no header: a server with `AUTH=none` needs none. The token itself is never
logged or put in an error message; its path is.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

TOKEN_PATH_VARIABLE = "KF_PIPELINES_SA_TOKEN_PATH"
DEFAULT_TOKEN_PATH = "/var/run/secrets/kubeflow/pipelines/token"
MAX_TOKEN_BYTES = 64 * 1024
"""A ServiceAccount token is a JWT of one or two KiB; a larger file is not one."""
_TOKEN = re.compile(r"[!-~]+")
"""Visible ASCII, no spaces: what a JWT (or any bearer token) is made of, and what is safe in
an HTTP header."""


_UNREAD = (-1, -1, -1, -1)
"""No file has these: the first `header()` reads, even when there is no file."""


def token_path() -> Path:
    """Where the token is: `KF_PIPELINES_SA_TOKEN_PATH`, else KFP's default path."""
    return Path(os.environ.get(TOKEN_PATH_VARIABLE, "").strip() or DEFAULT_TOKEN_PATH)


class TokenFile:
    """The token in one file, read when first needed and again when the file changes."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else token_path()
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int, int] | None = _UNREAD  # device, inode, mtime, size
        self._token = ""
        self._problem = "not read yet"

    def header(self) -> str | None:
        """`Bearer <token>` for the Authorization header, or None when there is no usable
        token; the file is read again when it is not the one read last."""
        with self._lock:
            if self._stat() != self._seen:
                self._read()
            return f"Bearer {self._token}" if self._token else None

    def reread(self) -> bool:
        """Read the file again whatever its metadata says (the server refused the token, and
        the kubelet may have rotated it within one timestamp); True when the token changed."""
        with self._lock:
            before = self._token
            self._read()
            return self._token != before

    def describe(self) -> str:
        """Which token was sent, for error messages: its path, or why there was none."""
        with self._lock:
            if self._token:
                return f"the token in {self.path}"
            return f"no token ({self._problem})"

    def _stat(self) -> tuple[int, int, int, int] | None:
        try:
            found = os.stat(self.path)  # follows the kubelet's links to the current file
        except OSError:
            return None
        return (found.st_dev, found.st_ino, found.st_mtime_ns, found.st_size)

    def _read(self) -> None:
        self._seen = self._stat()
        self._token, self._problem = "", ""
        try:
            with open(self.path, "rb") as file:
                raw = file.read(MAX_TOKEN_BYTES + 1)
        except FileNotFoundError:
            self._problem = (
                f"{self.path} does not exist: project a ServiceAccount token with the audience "
                f"pipelines.kubeflow.org there, or set {TOKEN_PATH_VARIABLE}"
            )
            return
        except OSError as error:
            self._problem = f"{self.path} cannot be read: {error.strerror or error}"
            return
        text = raw.decode("ascii", "replace").strip()
        if len(raw) > MAX_TOKEN_BYTES:
            self._problem = f"{self.path} is larger than {MAX_TOKEN_BYTES} bytes: not a token"
        elif not text:
            self._problem = f"{self.path} is empty"
        elif not _TOKEN.fullmatch(text):
            self._problem = f"{self.path} holds spaces or characters a token cannot have"
        else:
            self._token = text
