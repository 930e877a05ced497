"""Helpers for integration tests: a real server process and clients that talk to it.

`RunningServer` launches `python -m kfp_viz_server` on free loopback ports; it speaks
HTTP (requests) and gRPC (the generated stub) like any client, and `stop()`
signals the process, waits for it, and checks that no kernel process is left.

`unprivileged=True` runs the server as KFP's pod runs it: uid 1000, gid 0, no
supplementary groups, no capabilities (`setpriv`). Containment tests need it: root
bypasses file permissions and ptrace checks, so a test run as root proves nothing.
That user cannot enter pytest's tmp_path (mode 700, root's): its HOME and TMPDIR,
and any data it must read, live in `open_folder()`s.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import requests
from kfp_viz.pb import visualization_pb2, visualization_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 90.0
UNPRIVILEGED_UID, UNPRIVILEGED_GID = 1000, 0
UNPRIVILEGED = [
    "setpriv", f"--reuid={UNPRIVILEGED_UID}", f"--regid={UNPRIVILEGED_GID}", "--clear-groups",
    "--inh-caps=-all", "--bounding-set=-all",
]  # fmt: skip
"""KFP's pod: uid 1000, gid 0, no capabilities (its seccomp profile is the runtime's)."""


def open_folder(prefix: str = "kfp-viz-test-") -> Path:
    """A new folder the unprivileged user owns (and root can read), outside root's tmp_path.

    The caller removes it (`shutil.rmtree`); RunningServer removes its own.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    os.chown(folder, UNPRIVILEGED_UID, UNPRIVILEGED_GID)
    folder.chmod(0o755)
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout: float = 15.0, what: str = "condition") -> None:
    """Poll `condition` until it holds; fail the test if it does not within `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout} s"
        time.sleep(0.05)


def process_tree(pid: int) -> set[int]:
    """`pid` and all its descendants, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = set(), [pid]
    while todo:
        current = todo.pop()
        tree.add(current)
        todo.extend(children.get(current, []))
    return tree


def parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def memory_of(pids: set[int]) -> tuple[int, int]:
    """(PSS, RSS) in bytes summed over `pids`: PSS counts each shared page once, close to
    what a container's memory cgroup charges; RSS counts shared pages in every process."""
    pss = rss = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        pss += int(re.search(r"^Pss:\s+(\d+) kB", text, re.M)[1]) * 1024
        rss += int(re.search(r"^Rss:\s+(\d+) kB", text, re.M)[1]) * 1024
    return pss, rss


def running(pid: int) -> bool:
    """True if `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class RunningServer:
    """A server process under test and clients for it."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        log_path: Path,
        public: bool = False,
        unprivileged: bool = False,
        source: Path = ROOT,
    ) -> None:
        """`public`: the server's --public-url is its own HTTP address, as a browser on this
        machine reaches it (live progress views and stored-page links then point back here).
        `unprivileged`: run it as uid 1000 with no capabilities (see the module's docstring).
        `source`: the source tree to run (benchmarks compare an older commit's)."""
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.grpc_target = f"127.0.0.1:{self.grpc_port}"
        self.log_path = log_path
        self.unprivileged = unprivileged
        self.home: Path | None = None
        """The unprivileged server's HOME and TMPDIR (its runtime folder and page store)."""
        command = [
            sys.executable, "-m", "kfp_viz_server", "--host", "127.0.0.1",
            "--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port),
            *(["--public-url", self.url] if public else []), *args,
        ]  # fmt: skip
        environment = {**os.environ, **env}
        if source != ROOT:
            environment["PYTHONPATH"] = str(source)
        if unprivileged:
            self.home = open_folder("kfp-viz-home-")
            environment.update(HOME=str(self.home), TMPDIR=str(self.home), USER="kfp")
            command = [*UNPRIVILEGED, *command]
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            command, cwd=source, env=environment, stdout=self._log, stderr=subprocess.STDOUT
        )
        self._channel: grpc.Channel | None = None

    # -- lifecycle --------------------------------------------------------------

    def wait_ready(self, timeout: float = READY_TIMEOUT, full: bool = True) -> dict:
        """Wait for /readyz (and, with `full`, for every kernel slot to be idle)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log()}")
            with contextlib.suppress(requests.ConnectionError):
                reply = requests.get(self.url + "/readyz", timeout=2)
                state = reply.json()
                if reply.status_code == 200 and (
                    not full or state["kernels"]["idle"] == state["kernels"]["size"]
                ):
                    return state
            time.sleep(0.05)
        raise AssertionError(f"server not ready after {timeout} s:\n{self.log()}")

    def wait_listening(self, timeout: float = 30.0) -> None:
        """Wait until the HTTP port answers (kernels may still be starting)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.ConnectionError):
                requests.get(self.url + "/", timeout=2)
                return
            time.sleep(0.02)
        raise AssertionError(f"server not listening after {timeout} s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40.0) -> int:
        """Signal the server, wait for it, and check it left no process behind."""
        tree = process_tree(self.process.pid) - {self.process.pid}
        if self._channel is not None:
            self._channel.close()
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        finally:
            self._log.close()
        wait_until(
            lambda: not any(running(pid) for pid in tree),
            timeout=5,
            what=f"exit of every child process {sorted(tree)}",
        )
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
        return code

    def factory_pid(self) -> int:
        """The kernel factory's pid: the server's child that is not a kernel."""
        kernels = set(self.ready()["kernels"]["pids"])
        children = process_tree(self.process.pid) - {self.process.pid} - kernels
        factories = [pid for pid in children if parent_of(pid) == self.process.pid]
        assert len(factories) == 1, f"expected one kernel factory, found {factories}"
        return factories[0]

    def runtime_folder(self) -> Path:
        """The server's private runtime folder (the kernel factory works in it)."""
        return Path(os.readlink(f"/proc/{self.factory_pid()}/cwd"))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def rss(self) -> int:
        """The server process's resident memory, in bytes."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no VmRSS for {self.process.pid}")

    # -- clients ----------------------------------------------------------------

    def post(self, timeout: float = 60.0, headers: dict | None = None, **form: str):
        """POST the KFP form (application/x-www-form-urlencoded), as the API server does."""
        return requests.post(self.url + "/", data=form, headers=headers, timeout=timeout)

    def post_progress(self, run_id: str, event: object, raw: bool = False) -> requests.Response:
        """POST /progress/<run_id> with an event (JSON-encoded unless `raw`)."""
        body = event if raw else json.dumps(event)
        return requests.post(f"{self.url}/progress/{run_id}", data=body, timeout=30)

    def ready(self) -> dict:
        return requests.get(self.url + "/readyz", timeout=5).json()

    def metrics(self) -> str:
        return requests.get(self.url + "/metrics", timeout=5).text

    @property
    def channel(self) -> grpc.Channel:
        if self._channel is None:
            self._channel = grpc.insecure_channel(self.grpc_target)
        return self._channel

    def create_visualization(
        self, viz_type: int, source: str = "", arguments: str = "", timeout: float | None = 60.0
    ) -> visualization_pb2.Visualization:
        stub = visualization_pb2_grpc.VisualizationServiceStub(self.channel)
        request = visualization_pb2.CreateVisualizationRequest(
            visualization=visualization_pb2.Visualization(
                type=viz_type, source=source, arguments=arguments
            ),
            namespace="kubeflow-user",
        )
        return stub.CreateVisualizationV1(request, timeout=timeout)


PROBE = """
import http.client, json, select, sys, time
port, interval, timeout = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
latencies = []
while not select.select([sys.stdin], [], [], 0)[0]:
    started = time.perf_counter()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        connection.request("GET", "/")
        ok = connection.getresponse().read() == b"alive"
        connection.close()
    except OSError:
        ok = False
    latencies.append(time.perf_counter() - started if ok else timeout)
    time.sleep(interval)
print(json.dumps(latencies))
"""


@contextlib.contextmanager
def liveness_probe(server: RunningServer, interval: float = 0.02, timeout: float = 30.0):
    """`GET /` on a new connection every `interval` s while the block runs, as the kubelet
    probes; yields the list of latencies (seconds; `timeout` for no answer), filled at exit.

    The probe runs in a process of its own: probing from the test's process would measure
    that process too (a test's 200 client threads delay its own probe by seconds).
    """
    prober = subprocess.Popen(
        [sys.executable, "-c", PROBE, str(server.http_port), str(interval), str(timeout)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    latencies: list[float] = []
    try:
        yield latencies
    finally:
        out, _ = prober.communicate(b"stop\n", timeout=timeout + 30)
        latencies.extend(json.loads(out))


def custom_code(*lines: str) -> str:
    """The `arguments` JSON of a custom visualization running `lines`."""
    return json.dumps({"code": list(lines)})


def reflect(channel: grpc.Channel, symbol: str) -> tuple[set[str], list[bytes]]:
    """What a generic client learns from the server's reflection: the services listed, and
    the serialized descriptors of the file that defines `symbol`."""
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    asks = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol),
    ]
    listed, described = list(stub.ServerReflectionInfo(iter(asks), timeout=10))
    names = {service.name for service in listed.list_services_response.service}
    return names, list(described.file_descriptor_response.file_descriptor_proto)
