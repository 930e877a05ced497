"""Helpers for integration tests: a real server process and clients that talk to it.

`RunningServer` launches `python -m server` on free loopback ports; it speaks
HTTP (requests) and gRPC (the generated stub) like any client, and `stop()`
signals the process, waits for it, and checks that no kernel process is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import requests

from server.pb import visualization_pb2, visualization_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 90.0


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
        self, args: list[str], env: dict[str, str], log_path: Path, public: bool = False
    ) -> None:
        """`public`: the server's --public-url is its own HTTP address, as a browser on this
        machine reaches it (live progress views and stored-page links then point back here)."""
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.grpc_target = f"127.0.0.1:{self.grpc_port}"
        self.log_path = log_path
        command = [
            sys.executable, "-m", "server", "--host", "127.0.0.1",
            "--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port),
            *(["--public-url", self.url] if public else []), *args,
        ]  # fmt: skip
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT
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
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

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
