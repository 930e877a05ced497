"""The container image as KFP runs it: built from deploy/Dockerfile, run by podman as uid 1000.

The image is built unchanged (only its BASE argument points at a local Debian base) and run
with KFP's pod security (`--user 1000:0`, no capabilities, no privilege escalation) and a
read-only root file system, on the host network. Object stores and data are the tests' own.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from container import AS_KFP, LIMITS, Podman
from minio import Minio
from stored_pages import reference_of
from support import free_port, memory_of, process_tree, wait_until

pytestmark = pytest.mark.integration

TAG = "localhost/kfp-viz-server:test"
KFP_MEMORY_REQUEST = 500 * 2**20


@pytest.fixture(scope="module")
def podman() -> Podman:
    return Podman()


@pytest.fixture(scope="module")
def image(podman: Podman) -> str:
    return podman.build(TAG)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CSV files uid 1000 can read: a small table and one whose page passes the 4 MiB cap."""
    folder = tmp_path_factory.mktemp("image-data")
    folder.chmod(0o755)
    with (folder / "small.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["name", "score"])
        writer.writerows([["alpha", 0.5], ["beta", 0.75], ["gamma", 1.0]])
    with (folder / "large.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "sample", "value", "flag"])
        writer.writerows([[i, f"sample-{i % 997}", i * 0.125, i % 3 == 0] for i in range(120_000)])
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


class Container:
    """A running server container and its loopback URL."""

    def __init__(self, podman: Podman, image: str, *options: str, args: tuple = ()) -> None:
        self.podman = podman
        self.http_port, self.grpc_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        ports = ("--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port))
        self.id = podman.run_detached(image, *options, args=(*ports, *args))

    def wait_ready(self, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                reply = requests.get(self.url + "/readyz", timeout=2)
                state = reply.json()
                if (
                    reply.status_code == 200
                    and state["kernels"]["idle"] == state["kernels"]["size"]
                ):
                    return state
            except (requests.ConnectionError, ValueError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"container not ready:\n{self.podman.logs(self.id)}")

    def processes(self) -> set[int]:
        return process_tree(self.podman.pid(self.id))


@pytest.fixture
def start(podman: Podman, image: str) -> Iterator:
    started: list[Container] = []

    def start(*options: str, args: tuple = ()) -> Container:
        container = Container(podman, image, *options, args=args)
        started.append(container)
        return container

    yield start
    for container in started:
        podman.remove(container.id)


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def test_the_image_is_its_base_plus_the_server_and_nothing_dead(podman, image):
    """Every byte a layer adds is still there: the base, a passwd entry and wget, the venv."""
    base, total = podman.size(podman.base_image()), podman.size(image)
    du = podman("run", "--rm", *LIMITS, "--entrypoint", "du", image, "-sb", "/opt/kfp-viz")
    server = int(du.stdout.split()[0])
    layers = podman.layers(image)
    print(
        f"\nimage: {total / 1e6:.0f} MB = base {base / 1e6:.0f} MB + /opt/kfp-viz "
        f"{server / 1e6:.0f} MB + {(total - base - server) / 1e6:.1f} MB; layers:"
    )
    for size, created in layers:
        if size:
            print(f"  {size / 1e6:8.1f} MB  {created[:100]}")
    assert 0 <= total - base - server < 30e6
    assert sum(1 for size, _ in layers if size) == 3  # base, passwd + wget, the server


def test_serves_kfp_as_uid_1000_read_only_and_stores_large_pages_in_seaweedfs(
    start, data, seaweedfs
):
    bucket = "image-pages"
    env = [f"--env={name}={value}" for name, value in seaweedfs.server_env(bucket).items()]
    container = start(
        *AS_KFP, "--read-only", "--volume", f"{data}:/data:ro", *env, args=("--pool-size", "2")
    )
    ready = container.wait_ready()
    assert requests.get(container.url + "/", timeout=2).text == "alive"
    assert ready["store"]["ok"] is True and ready["store"]["kind"] == "s3"
    # Landlock works under the container runtime's default seccomp profile, as in KFP's pod.
    sandbox = ready["sandbox"]
    assert sandbox["landlock_abi"] >= 6 and sandbox["files"] and sandbox["signals_and_sockets"], (
        sandbox
    )

    for pid in container.processes():  # the server, the kernel factory and every kernel
        status = _status(pid)
        assert status["Uid"].split()[:2] == ["1000", "1000"], status["Uid"]
        assert status["Gid"].split()[:2] == ["0", "0"], status["Gid"]
        assert int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0

    small = requests.post(
        container.url + "/",
        data={"type": "table", "source": "/data/small.csv", "arguments": "{}"},
        timeout=60,
    )
    assert small.status_code == 200, small.reason
    assert "gamma" in small.text and "0.75" in small.text

    large = requests.post(
        container.url + "/",
        data={"type": "table", "source": "/data/large.csv", "arguments": "{}"},
        timeout=120,
    )
    assert large.status_code == 200, large.reason
    reference = reference_of(large.text)
    client = Minio(seaweedfs.endpoint, seaweedfs.access_key, seaweedfs.secret_key, secure=False)
    stored = client.stat_object(bucket, f"visualizations/{reference['id']}.html")
    assert stored.size == reference["size"] > 4 * 2**20
    fetched = requests.get(f"{container.url}/visualizations/{reference['id']}", timeout=60)
    assert fetched.status_code == 200 and b"sample-996" in fetched.content

    # The SDK's wheel and sdist, built into the image, are what its package index serves.
    index = requests.get(container.url + "/simple/kfp-viz/", timeout=10)
    assert index.status_code == 200, index.reason
    files = re.findall(r'href="([^"#]+)#sha256=([0-9a-f]{64})"', index.text)
    assert sorted(name.rsplit(".", 1)[-1] for name, _ in files) == ["gz", "whl"], index.text
    for name, digest in files:
        served = requests.get(f"{container.url}/simple/kfp-viz/{name}", timeout=10)
        assert hashlib.sha256(served.content).hexdigest() == digest


def test_without_limits_the_pool_stays_small_and_within_kfps_memory_request(start):
    """What `kubectl set image` alone leaves: KFP's pod has requests and no limits."""
    container = start(*AS_KFP, "--read-only")
    ready = container.wait_ready()
    size = ready["kernels"]["size"]
    assert 2 <= size <= 4
    assert "no CPU limit" in ready["kernels"]["sizing"]["pool_size"]
    time.sleep(2)  # let the kernels settle after their warm-up cell
    pss, _ = memory_of(container.processes())
    print(f"\nidle pool of {size}: {pss / 2**20:.0f} MiB PSS (KFP requests 500 MiB)")
    assert pss < KFP_MEMORY_REQUEST


def test_container_limits_size_the_pool_and_the_kernels(start):
    """A memory limit bounds the pool even where the CPU limit would allow more."""
    container = start(*AS_KFP, "--read-only", "--cpus", "4", "--memory", "1g")
    ready = container.wait_ready()
    sizing = ready["kernels"]["sizing"]
    assert ready["kernels"]["size"] == 2, sizing
    assert "memory limit (1024 MiB" in sizing["pool_size"], sizing
    assert sizing["kernel_memory_limit"]["value"] == "512 MiB", sizing
    assert "CPU limit 4" in sizing["container"] and "1024 MiB" in sizing["container"]
    logs = container.podman.logs(container.id)
    assert "pool size 2 (default: as many as fit in the container's memory limit" in logs


def test_the_pod_kfp_up_to_2_14_makes_per_namespace(start):
    """The profile controller's pod up to 2.14: limits 500m CPU and 1Gi memory."""
    container = start(*AS_KFP, "--cpus", "0.5", "--memory", "1g")
    ready = container.wait_ready()
    sizing = ready["kernels"]["sizing"]
    assert ready["kernels"]["size"] == 2 and "CPU limit (0.5)" in sizing["pool_size"], sizing
    assert "share of the container's memory limit" in sizing["kernel_memory_limit"]["origin"]


def test_kfp_probes_of_every_line_pass_in_the_image(start, podman):
    """KFP up to 2.13 probes with `exec: wget ... /`; `kubectl set image` alone keeps that."""
    container = start(*AS_KFP, "--read-only", args=("--pool-size", "2"))
    wait_until(lambda: _answers(container.url), timeout=60, what="GET /")
    url = f"http://localhost:{container.http_port}"
    probe = podman("exec", container.id, "wget", "-q", "-S", "-O", "-", url + "/")
    assert probe.stdout == "alive" and "200 OK" in probe.stderr
    container.wait_ready()
    ready = podman("exec", container.id, "wget", "-q", "-O", "-", url + "/readyz")
    assert json.loads(ready.stdout)["ready"] is True


def _answers(url: str) -> bool:
    try:
        return requests.get(url + "/", timeout=1).text == "alive"
    except requests.ConnectionError:
        return False
