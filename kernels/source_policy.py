"""Which sources the built-in types may read: the operator's limits, checked in kernels.

Why: the built-in types run for anyone who can ask for a visualization, custom code
switched off or not, and they read what `source` names with the server's own rights. Left
open, `source=/proc/self/environ` shows the object store's secret key, a service account
token sits under `/var/run/secrets`, and an `http://169.254.169.254/...` source reads a
cloud's instance credentials. So:

- `SOURCE_SCHEMES` (server flag `--source-schemes`): the kinds of source allowed, a
  comma-separated subset of `local,minio,s3,gs,http,https`; default all of them.
- `LOCAL_SOURCE_ROOTS` (`--local-source-roots`): comma-separated folders that local
  sources must lie in. Default: any folder except the system ones (SYSTEM_FOLDERS).
  Paths are compared after resolving symbolic links, so a link cannot lead out.
- `http(s)://` sources whose host resolves to a link-local address (where clouds serve
  instance metadata and credentials) are never read, nor are redirects to one.

The server passes both variables to its kernels (kernel_environment), whether it got them
as variables or as flags; kernels read them on every check, and every kernel's environment
is put back after each render, so one render cannot widen the next one's limits.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import IO, Any

from .viz_errors import VisualizationError

SCHEMES = ("local", "minio", "s3", "gs", "http", "https")
SYSTEM_FOLDERS = ("/proc", "/sys", "/dev", "/run", "/var/run")
"""Never data: every process's memory maps and environment, devices, and /run (sockets, the
pod's service-account token under /run/secrets)."""
SCHEMES_VARIABLE = "SOURCE_SCHEMES"
_REAL_SYSTEM_FOLDERS = tuple((folder, os.path.realpath(folder)) for folder in SYSTEM_FOLDERS)
"""Each system folder as named, and as paths are compared: resolved (/var/run is /run)."""
ROOTS_VARIABLE = "LOCAL_SOURCE_ROOTS"
PRIVATE_VARIABLE = "KFP_VIZ_PRIVATE_FOLDERS"
"""The server's own folders (its runtime folder with the kernels' connection files, the page
store): never a source, whatever the roots say. Set by the pool."""


class SourceRefused(VisualizationError):
    """The operator's limits do not let the built-in types read this source."""


def parse_schemes(text: str) -> tuple[str, ...]:
    """`local,minio,...` → the names; ValueError naming what is not a kind of source."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in SCHEMES]
    if unknown or not names:
        raise ValueError(f"{text!r} is not a list of source kinds: use some of {','.join(SCHEMES)}")
    return names


def parse_roots(text: str) -> tuple[str, ...]:
    """Comma-separated absolute folders; ValueError naming one that is not absolute."""
    roots = tuple(r.strip() for r in text.split(",") if r.strip())
    for root in roots:
        if not os.path.isabs(root):
            raise ValueError(f"{root!r} is not an absolute folder path")
    return roots


@dataclass(frozen=True)
class SourcePolicy:
    """The limits in force, read from the environment at the time of each check."""

    schemes: tuple[str, ...] = SCHEMES
    local_roots: tuple[str, ...] = ()
    private: tuple[str, ...] = ()

    @classmethod
    def from_environment(cls) -> SourcePolicy:
        return cls.from_variables(os.environ)

    @classmethod
    def from_variables(cls, variables: Mapping[str, str]) -> SourcePolicy:
        """The limits a kernel's environment (or the variables the server gives it) sets."""
        schemes = variables.get(SCHEMES_VARIABLE, "").strip()
        roots = variables.get(ROOTS_VARIABLE, "").strip()
        private = variables.get(PRIVATE_VARIABLE, "").strip()
        try:
            return cls(
                parse_schemes(schemes) if schemes else SCHEMES,
                parse_roots(roots) if roots else (),
                parse_roots(private) if private else (),
            )
        except ValueError as error:  # the server checks these; a kernel started otherwise
            raise SourceRefused(f"Sources are refused: {ROOTS_VARIABLE} or "
                                f"{SCHEMES_VARIABLE} is invalid: {error}") from None  # fmt: skip

    @cached_property
    def _real_roots(self) -> tuple[str, ...]:
        """The roots with their symbolic links resolved, once per policy, not per path."""
        return tuple(os.path.realpath(root) for root in self.local_roots)

    def check_scheme(self, location: str, scheme: str) -> None:
        """Refuse a kind of source the operator left out (unknown kinds are not ours to judge:
        reading them fails with its own message)."""
        kind = "local" if scheme == "file" else scheme
        if kind in SCHEMES and kind not in self.schemes:
            raise SourceRefused(
                f"Source {location!r} is refused: this server reads only "
                f"{', '.join(self.schemes)} sources (--source-schemes, {SCHEMES_VARIABLE})"
            )

    def check_local(self, path: str, source: str = "", *, own_folder: str | None = None) -> None:
        """Refuse a local path outside the allowed folders, symbolic links resolved.

        `source`: what the user asked for, when `path` is only its folder (a pattern's).
        `own_folder`: the render's own folder, where relative paths lead, never counted as
        the server's (None: the current folder, as in a kernel; "": none, as in the server).
        """
        real = os.path.realpath(path)
        source = source or path
        own = os.path.realpath(os.getcwd()) if own_folder is None else own_folder
        if not (own and _inside(real, os.path.realpath(own))) and any(
            _inside(real, os.path.realpath(folder)) for folder in self.private
        ):
            raise SourceRefused(
                f"Source {source!r} is refused: it is in the server's own folders (the "
                "kernels' connection files, stored pages), never read as data"
            )
        if self.local_roots:
            if not any(_inside(real, root) for root in self._real_roots):
                raise SourceRefused(
                    f"Source {source!r} is refused: local sources must be in "
                    f"{', '.join(self.local_roots)} (--local-source-roots, {ROOTS_VARIABLE})"
                )
            return
        for folder, real_folder in _REAL_SYSTEM_FOLDERS:
            if _inside(real, real_folder):
                raise SourceRefused(
                    f"Source {source!r} is refused: {folder} is a system folder, never read as "
                    f"data (--local-source-roots, {ROOTS_VARIABLE}, names the folders that are)"
                )


def open_url(request: urllib.request.Request, timeout: float) -> IO[bytes]:
    """urlopen, refusing any hop (the first, a redirect, a re-resolved name) that connects
    to a link-local address; the host named in the URL is checked before connecting too,
    for a proxy would otherwise connect on our behalf."""
    try:
        _check_host(urllib.parse.urlsplit(request.full_url).hostname or "")
        reply: IO[bytes] = _OPENER.open(request, timeout=timeout)
        return reply
    except SourceRefused as error:
        raise SourceRefused(f"Source {request.full_url!r} is refused: {error}") from None


def _check_host(host: str) -> None:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return  # unresolvable here: the read fails with the resolver's own message
    for info in infos:
        _check_address(host, str(info[4][0]))


def _check_address(host: str, address_text: str) -> None:
    address = ipaddress.ip_address(address_text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:169.254.169.254 reaches the same host
    if address.is_link_local:
        raise SourceRefused(
            f"{host} is the link-local address {address}, where clouds serve instance "
            "metadata and credentials"
        )


class _PeerChecked(http.client.HTTPConnection):
    """Checks where a connection landed: a name may resolve anew when it connects."""

    def connect(self) -> None:
        super().connect()
        try:
            _check_address(self.host, self.sock.getpeername()[0])
        except SourceRefused:
            self.close()
            raise


class _GuardedHTTP(_PeerChecked):
    pass


class _GuardedHTTPS(_PeerChecked, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_GuardedHTTP, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> Any:
        # typeshed leaves out HTTPSHandler's `_context` (set by its __init__ since Python 3.2).
        return self.do_open(_GuardedHTTPS, req, context=self._context)  # type: ignore[attr-defined]


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Check where a redirect leads before connecting there."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        _check_host(urllib.parse.urlsplit(newurl).hostname or "")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HTTPHandler, _HTTPSHandler, _RedirectHandler)


def _inside(path: str, folder: str) -> bool:
    folder = folder.rstrip("/") or "/"
    return path == folder or path.startswith(folder if folder == "/" else folder + "/")
