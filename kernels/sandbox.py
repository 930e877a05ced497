"""The kernel sandbox: Landlock rules a kernel takes on right after fork, before it runs anything.

Why: a kernel runs code a request chose (custom visualizations, `target_lambda`) and reads
what a request named (the built-in types), with the server's uid. Without a sandbox that
code can read the other kernels' connection files and drive them, signal the server, read
anything the pod can, and leave files behind. Landlock (Linux 5.13+) lets an unprivileged
process give up rights for itself and every process it starts, for good, so it works in
KFP's pod (uid 1000, no capabilities, seccomp RuntimeDefault):

- files: read (and execute) only Python, its libraries and the system's (`/usr`, `/etc`,
  ...); read and write only the kernel's own folder (its work folders, its IPython
  profile, its connection file). No data folder: Landlock grants by folder, and a folder
  that holds a private one (the runtime folder or the page store in `/tmp`) could only be
  granted as the entries it held at the fork, so a file written there later would stay out
  of reach. Local sources are opened by the server instead, within the limits, and passed
  in (kernels/file_access.py), whenever they were written. The server's runtime folder (the
  other kernels' connection files) and the page store are out of reach, to reads through
  the server too.
- TCP (ABI 4): no listening socket; connections only to the ports the settings allow.
- scopes (ABI 6): no signal to a process outside the kernel's own tree (the server, the
  kernel factory, other kernels), no connection to an abstract Unix socket another
  sandbox made (the other kernels' message sockets, see kernels/kernel.py).
- ptrace: Landlock never lets a sandboxed process trace (or read the memory and
  environment of) a process outside its sandbox, on every ABI.

Rules are applied in the forked child while it still has one thread (fork copies only the
caller's), so they hold for every thread the kernel starts later: Landlock restricts the
calling thread and what it creates. On a kernel without Landlock (or an older ABI) each
right the kernel cannot enforce is reported (`describe`) and everything else works.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import site
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # every Linux arch
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_DUMPABLE = 4

# Filesystem rights, and the ABI that introduced them.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
"""The rights a rule on a file (not a folder) may carry."""
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

READ = READ_FILE | READ_DIR | EXECUTE
WRITE = (
    READ | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_SOCK | MAKE_FIFO
    | MAKE_SYM | REFER | TRUNCATE
)  # fmt: skip
DEVICE = READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV

SYSTEM_READ = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/opt")
"""Programs, libraries, and configuration (certificates, time zones, name service)."""
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
SYSTEM_DATA = ("/sys/devices/system/cpu",)
"""CPU counts, which numerical libraries read."""
NEVER_READ = ("/proc", "/sys", "/dev", "/run", "/var/run")
"""Not data: /proc shows every process (and Unix socket names), /run holds secrets (the
pod's service account token is under /var/run/secrets)."""


CONFINED_VARIABLE = "KFP_VIZ_SANDBOXED"
"""Set in a kernel whose files the sandbox confines."""


class SandboxError(OSError):
    """The sandbox could not be applied; the kernel must not start without it."""


def _libc() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def not_dumpable() -> None:
    """Hide this process's memory and /proc/<pid>/environ from every process of its uid.

    The sandbox's other half: the server and the kernel factory are not sandboxed and
    hold secrets (the object store's keys) in memory; a process of the same uid could
    otherwise read them through /proc or ptrace wherever Landlock is missing. Children
    inherit the flag until they exec.
    """
    if platform.system() == "Linux" and _libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def landlock_abi() -> int:
    """The Landlock ABI this kernel offers: 0 when none (not built in, disabled, or a seccomp
    filter refuses the call)."""
    if platform.system() != "Linux":
        return 0
    libc = _libc()
    abi = libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return max(int(abi), 0)


@dataclass(frozen=True)
class SandboxPolicy:
    """What a kernel may reach. Built by the pool from the server's settings; JSON-able."""

    enabled: bool = True
    private: tuple[str, ...] = ()
    """The server's own folders (runtime, page store): never readable."""
    connect_ports: tuple[int, ...] | None = None
    """TCP ports a kernel may connect to; None: any."""
    read_extra: tuple[str, ...] = ()
    """More folders to read (Python's own, found by `python_paths`)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "private": list(self.private),
            "connect_ports": None if self.connect_ports is None else list(self.connect_ports),
            "read_extra": list(self.read_extra),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxPolicy:
        ports = data.get("connect_ports")
        return cls(
            enabled=bool(data.get("enabled", True)),
            private=tuple(data.get("private", ())),
            connect_ports=None if ports is None else tuple(int(p) for p in ports),
            read_extra=tuple(data.get("read_extra", ())),
        )


def python_paths(exclude: Iterable[str] = ()) -> tuple[str, ...]:
    """Folders Python needs to import: prefixes, site-packages, this package's root, and the
    import path, except the current folder (`python -m` puts it first: in a container that
    may be `/`) and anything inside `exclude`."""
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    here = os.path.realpath(os.getcwd())
    candidates = [
        sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, package_root,
        *site.getsitepackages(),
        *[p for p in sys.path if p and os.path.isabs(p) and os.path.realpath(p) != here],
    ]  # fmt: skip
    excluded = [os.path.realpath(p) for p in exclude]
    found = []
    for path in candidates:
        real = os.path.realpath(path)
        if os.path.exists(real) and not any(_inside(real, x) for x in excluded):
            found.append(real)
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class Status:
    """What the sandbox enforces on this machine, for the start log, /readyz and /metrics."""

    abi: int
    enabled: bool

    @property
    def files(self) -> bool:
        return self.enabled and self.abi >= 1

    @property
    def tcp(self) -> bool:
        return self.enabled and self.abi >= 4

    @property
    def scopes(self) -> bool:
        """Signals and abstract Unix sockets confined to the kernel's own tree."""
        return self.enabled and self.abi >= 6

    def features(self) -> dict[str, bool]:
        return {"files": self.files, "tcp": self.tcp, "signals_and_sockets": self.scopes}

    def describe(self) -> str:
        """One sentence for the start log and /readyz."""
        if not self.enabled:
            return "off (--kernel-sandbox off): kernels run with the server's rights"
        if self.abi == 0:
            return (
                "unavailable: this Linux kernel offers no Landlock, so kernels run with the "
                "server's rights (files, network, signals); credentials still stay out of them"
            )
        missing = [name for name, on in self.features().items() if not on]
        text = f"Landlock ABI {self.abi}: kernels' files"
        if self.tcp:
            text += ", TCP"
        if self.scopes:
            text += ", signals and abstract sockets"
        text += " confined"
        if missing:
            text += f"; not enforced by this kernel (needs a newer Linux): {', '.join(missing)}"
        return text


def status(enabled: bool) -> Status:
    return Status(abi=landlock_abi() if enabled else 0, enabled=enabled)


# -- applying it (in the forked kernel) ------------------------------------------------


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPortAttr(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


def apply(policy: SandboxPolicy, own_folder: str) -> int:
    """Confine this process (and all it will start) as `policy` says; return the ABI used.

    Must run while the process has a single thread. `own_folder` is the kernel's folder,
    the only place it may write. Raises SandboxError when Landlock is there but a rule
    cannot be set: a kernel never runs with less confinement than the server reported.
    """
    abi = landlock_abi()
    if not policy.enabled or abi == 0:
        return 0
    libc = _libc()
    fs_mask = _FS_BY_ABI[max(k for k in _FS_BY_ABI if k <= abi)]
    attr = _RulesetAttr(handled_access_fs=fs_mask)
    if abi >= 4:
        attr.handled_access_net = NET_BIND_TCP | (
            NET_CONNECT_TCP if policy.connect_ports is not None else 0
        )
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        raise SandboxError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for path, access in rules(policy, own_folder):
            _allow_path(libc, int(ruleset), path, access & fs_mask)
        if abi >= 4:
            for port in policy.connect_ports or ():
                _allow_port(libc, int(ruleset), port)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise SandboxError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(ruleset), 0) != 0:
            raise SandboxError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(int(ruleset))
    return abi


def rules(policy: SandboxPolicy, own_folder: str) -> Iterator[tuple[str, int]]:
    """(path, rights) for every rule: what the kernel reads, and the one folder it writes.

    A folder to read that holds a private one (an import path that happens to hold the
    runtime folder) is opened up into what lies beside it instead.
    """
    private = (*policy.private, *NEVER_READ)
    for path in (*SYSTEM_READ, *policy.read_extra):
        for allowed in readable_except(path, private):
            yield allowed, READ
    for path in DEVICES:
        yield path, DEVICE
    for path in SYSTEM_DATA:
        yield path, READ_FILE | READ_DIR
    yield own_folder, WRITE


def readable_except(root: str, excluded: Iterable[str]) -> Iterator[str]:
    """Paths under `root` that together cover everything in it except `excluded` (symbolic
    links resolved): a folder holding an excluded path is opened up into its entries."""
    real_excluded = [os.path.realpath(p) for p in excluded]
    todo = [os.path.realpath(root)]
    while todo:
        path = todo.pop()
        if any(_inside(path, x) for x in real_excluded):
            continue
        if not any(_inside(x, path) for x in real_excluded):
            yield path
            continue
        with contextlib.suppress(OSError), os.scandir(path) as entries:
            todo.extend(os.path.realpath(entry.path) for entry in entries)


def _allow_path(libc: Any, ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # not on this system (e.g. /lib32): nothing to allow
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            access &= _FILE_RIGHTS
        rule = _PathBeneathAttr(allowed_access=access, parent_fd=fd)
        if libc.syscall(_SYS_ADD_RULE, ctypes.c_int(ruleset), _RULE_PATH_BENEATH,
                        ctypes.byref(rule), 0) != 0:  # fmt: skip
            raise SandboxError(ctypes.get_errno(), f"landlock_add_rule({path}) failed")
    finally:
        os.close(fd)


def _allow_port(libc: Any, ruleset: int, port: int) -> None:
    rule = _NetPortAttr(allowed_access=NET_CONNECT_TCP, port=port)
    if libc.syscall(_SYS_ADD_RULE, ctypes.c_int(ruleset), _RULE_NET_PORT,
                    ctypes.byref(rule), 0) != 0:  # fmt: skip
        raise SandboxError(ctypes.get_errno(), f"landlock_add_rule(port {port}) failed")


def _inside(path: str, folder: str) -> bool:
    folder = folder.rstrip("/") or "/"
    return path == folder or path.startswith(folder if folder == "/" else folder + "/")
