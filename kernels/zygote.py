"""The kernel factory process ("zygote"): imports once, forks kernels on demand.

Started by `kfp_viz_kernels.launcher` (which runs `main()`). It imports
ipykernel, IPython, this package's in-kernel runtime and every built-in
visualization type's module (and through them their libraries), then forks a
new kernel for each spawn request. A forked kernel starts with all of that
already in memory, shared copy-on-write, so a kernel is ready in a fraction of
a second and a dead or retired one is cheap to replace.

Protocol: JSON lines. Requests on stdin:
  {"op": "spawn", "id": N, "folder": PATH, "connection_file": PATH, "work_root": PATH,
   "memory_limit": BYTES, "nice": INT, "environment": {NAME: VALUE}, "sandbox": {...}}
  {"op": "sweep", "id": N, "pid": P}   end every process below kernel P, and every orphan
Events on the protocol stream (the original stdout; stray prints from imported
libraries go to stderr instead):
  {"event": "ready", "pid": P, "preload_errors": {module: error}}
  {"event": "spawned", "id": N, "pid": P} | {"event": "spawn_failed", "id": N, "error": TEXT}
  {"event": "swept", "id": N, "killed": COUNT}
  {"event": "exited", "pid": P, "code": C | null, "signal": S | null}
End of stdin means the server is gone: the zygote ends every process below it and
exits; its kernels die with it (each asks the OS to kill it when its parent dies).

Containment (see also kernels/sandbox.py):
- The factory is a child subreaper: a process a kernel's render leaves behind (a daemon
  that double-forks, the children of a killed kernel) becomes the factory's child, and the
  factory kills every child that is not a live kernel whenever a child exits, when the
  server asks (after a reused kernel's render) and when it stops.
- The factory is not dumpable, nor are the kernels it forks (the flag is inherited), so
  no process of the same uid can read their memory or /proc/<pid>/environ.
- A kernel learns its factory's pid before the fork: if the factory dies between the fork
  and the kernel's request to die with it, the kernel sees another parent and exits,
  instead of running on orphaned.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import os
import selectors
import signal
import sys
import tempfile
import traceback
import warnings
from typing import Any

from . import reaper, sandbox

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
SERVER_PID_VARIABLE = "KFP_VIZ_SERVER_PID"
KERNEL_ARGS = (
    "--HistoryManager.enabled=False",
    "--IPKernelApp.log_level=WARN",
    "--IPKernelApp.quiet=True",
)


def main() -> None:
    _die_with_parent(int(os.environ.pop(SERVER_PID_VARIABLE, "0")) or os.getppid())
    sandbox.not_dumpable()  # inherited by every kernel forked from here
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    protocol = os.dup(1)
    os.dup2(2, 1)  # anything printed while importing goes to the log, not the protocol
    errors = _preload()
    gc.collect()
    gc.freeze()  # keep preloaded objects out of the collector so children share their pages
    _send(protocol, {"event": "ready", "pid": os.getpid(), "preload_errors": errors})
    _Factory(protocol).serve()


def _preload() -> dict[str, str]:
    """Import everything a kernel needs; return the modules that failed and why."""
    import ipykernel.ipkernel
    import ipykernel.kernelapp
    import ipykernel.zmqshell  # noqa: F401
    import IPython.display  # noqa: F401

    from . import runtime  # noqa: F401
    from .types import implemented_modules

    optional = ["ipykernel.debugger", *implemented_modules()]
    errors = {}
    for module in optional:
        try:
            importlib.import_module(module)
        except Exception as error:  # a broken optional library must not stop the pool
            errors[module] = f"{type(error).__name__}: {error}"
    return errors


class _Factory:
    """The zygote's request loop: spawn kernels, reap them, report their exits."""

    def __init__(self, protocol: int) -> None:
        self._protocol = protocol
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        signal.set_wakeup_fd(self._wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self._selector = selectors.DefaultSelector()
        self._selector.register(0, selectors.EVENT_READ, self._read_requests)
        self._selector.register(self._wake_read, selectors.EVENT_READ, self._on_signal)
        self._pending = b""
        self._kernels: set[int] = set()

    def serve(self) -> None:
        while True:
            for key, _ in self._selector.select():
                key.data()

    def _read_requests(self) -> None:
        chunk = os.read(0, 65536)
        if not chunk:
            self._stop()
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            if line.strip():
                self._handle(json.loads(line))

    def _handle(self, request: dict[str, Any]) -> None:
        if request.get("op") == "spawn":
            self._spawn(request)
        elif request.get("op") == "sweep":
            killed = self._sweep(kernel=int(request.get("pid") or 0))
            _send(self._protocol, {"event": "swept", "id": request["id"], "killed": killed})

    def _spawn(self, request: dict[str, Any]) -> None:
        factory = os.getpid()  # read before the fork: the child must not ask getppid()
        try:
            pid = os.fork()
        except OSError as error:
            _send(
                self._protocol, {"event": "spawn_failed", "id": request["id"], "error": str(error)}
            )
            return
        if pid == 0:
            self._become_kernel(request, factory)
        self._kernels.add(pid)
        _send(self._protocol, {"event": "spawned", "id": request["id"], "pid": pid})

    def _on_signal(self) -> None:
        os.read(self._wake_read, 4096)
        if self._reap():
            self._sweep()

    def _reap(self, report: bool = True) -> bool:
        """Collect exited children; report kernels' exits. True if any child exited."""
        reaped = False
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return reaped
            if pid == 0:
                return reaped
            reaped = True
            if pid not in self._kernels or not report:
                continue  # something a kernel left behind, now ended
            self._kernels.discard(pid)
            event: dict[str, Any] = {"event": "exited", "pid": pid, "code": None, "signal": None}
            if os.WIFSIGNALED(status):
                event["signal"] = os.WTERMSIG(status)
            else:
                event["code"] = os.waitstatus_to_exitcode(status)
            _send(self._protocol, event)

    def _sweep(self, kernel: int = 0) -> int:
        """Kill every child that is not a live kernel (with all below it), and everything
        below `kernel` if given; return how many processes were killed."""
        me = os.getpid()

        def leftovers() -> set[int]:
            children = reaper.children_map()
            strays = [pid for pid in children.get(me, ()) if pid not in self._kernels]
            found = set(strays) | reaper.descendants(strays, children)
            if kernel in self._kernels:
                found |= reaper.descendants([kernel], children)
            return found

        return reaper.kill_all(leftovers, reap=self._reap)

    def _stop(self) -> None:
        """The server is gone: end every kernel and everything they started, then exit."""
        me = os.getpid()
        reaper.kill_all(lambda: reaper.descendants([me]), reap=lambda: self._reap(report=False))
        os._exit(0)

    def _become_kernel(self, request: dict[str, Any], factory: int) -> None:
        """In the forked child: shed the factory's state and run a kernel. Never returns."""
        code = 70
        try:
            self._shed_factory_state()
            _isolate_process(request, factory)
            _enter_sandbox(request)
            _run_kernel(request)
            code = 0
        except BaseException as error:
            traceback.print_exc()
            _leave_start_error(request, error)
        finally:
            os._exit(code)

    def _shed_factory_state(self) -> None:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        self._selector.close()
        for fd in (self._wake_read, self._wake_write, self._protocol):
            os.close(fd)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.close(null)


def _isolate_process(request: dict[str, Any], factory: int) -> None:
    """Own session, death with the factory, memory cap, lower CPU priority, fresh seeds."""
    os.setsid()
    _die_with_parent(factory)
    limit = int(request.get("memory_limit") or 0)
    if limit > 0:
        import resource

        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        _check_headroom()
    nice = int(request.get("nice") or 0)
    if nice:
        os.nice(nice)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()  # `random` reseeds itself after fork; numpy's global state does not


# Room a kernel needs under its memory limit to start and render something small: its
# threads' stacks (libzmq, IOPub, control, heartbeat) alone map about 40 MiB.
START_HEADROOM = 96 * 2**20


def _check_headroom() -> None:
    """Raise MemoryError now if the memory limit leaves no room to start a kernel.

    The preloaded libraries leave free memory in Python's own pools, so Python code
    can keep running under a too-small limit until a C library needs fresh memory:
    libzmq then aborts the process (SIGABRT) instead of raising. A plain allocation
    here fails first and cleanly, and the server reports the MemoryError.
    """
    bytearray(START_HEADROOM)


def _enter_sandbox(request: dict[str, Any]) -> None:
    """The kernel's own environment and folders, then the sandbox (kernels/sandbox.py).

    HOME, the IPython profile and the temporary folder all live in the kernel's own
    folder, the only place it may write; nothing it writes lands in /tmp.
    """
    folder = request["folder"]
    os.environ.update(request.get("environment") or {})
    home = os.path.join(folder, "home")
    os.makedirs(home, exist_ok=True)
    os.makedirs(request["work_root"], exist_ok=True)
    for name in ("HOME", "IPYTHONDIR", "JUPYTER_RUNTIME_DIR", "TMPDIR"):
        os.environ[name] = home
    tempfile.tempdir = home
    if sandbox.apply(sandbox.SandboxPolicy.from_json(request.get("sandbox") or {}), folder):
        os.environ[sandbox.CONFINED_VARIABLE] = "1"  # kernels/runtime.py explains refusals


def _run_kernel(request: dict[str, Any]) -> None:
    from ipykernel.kernelapp import IPKernelApp

    from . import runtime

    # ipykernel binds a loopback TCP socket to carry forked processes' prints; the sandbox
    # forbids listening, so those prints are lost (they were never part of a page anyway).
    warnings.filterwarnings("ignore", message="Couldn't bind IOPub Pipe")
    app = IPKernelApp.instance()
    app.initialize(["-f", request["connection_file"], *KERNEL_ARGS])
    runtime.install(app.shell, request["work_root"])
    app.start()


def start_error_file(connection_file: str) -> str:
    """Where a kernel that fails to start leaves one line saying why, for the server to report."""
    return connection_file + ".error"


def _leave_start_error(request: dict[str, Any], error: BaseException) -> None:
    try:
        with open(start_error_file(request["connection_file"]), "w") as file:
            file.write(f"{type(error).__name__}: {error}".strip().rstrip(":"))
    except OSError:
        pass


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent exits, so no kernel outlives the server.

    `parent` is the pid the parent had before the fork: if it died first, this process
    has another parent by now (init, or a subreaper), and exits at once.
    """
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}, {value}) failed")


def _send(fd: int, event: dict[str, Any]) -> None:
    data = memoryview(json.dumps(event).encode() + b"\n")
    while data:
        data = data[os.write(fd, data) :]


if __name__ == "__main__":
    main()
