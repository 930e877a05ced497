"""Fixtures that start real servers (see support.py) and stop them after each test or module."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import launch_chromium
from live_run import launch_loopback_chromium
from playwright.sync_api import Browser, Playwright, sync_playwright
from services import KafkaBroker, KubeApiServer, MinioServer, SeaweedFS
from support import RunningServer, open_folder

PORT_ATTEMPTS = 3
PORT_TAKEN = "Address already in use"
"""What a server whose port was taken between free_port() and its start logs."""


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator:
    """Factory: start_server(*flags, env={...}, unprivileged=False) → a ready RunningServer,
    stopped at teardown. `unprivileged`: as uid 1000 without capabilities, as KFP runs it."""
    started: list[RunningServer] = []

    def start(
        *args: str,
        env: dict[str, str] | None = None,
        ready: bool = True,
        unprivileged: bool = False,
    ) -> RunningServer:
        for attempt in range(PORT_ATTEMPTS):
            log = tmp_path / f"server-{len(started)}.log"
            server = RunningServer(list(args), env or {}, log, unprivileged=unprivileged)
            started.append(server)
            if not ready:
                return server
            try:
                server.wait_ready()
                return server
            except AssertionError:
                # free_port() can only find a port that was free a moment ago: another
                # process (a Kafka client's outgoing connection) may take it first.
                lost_port = server.process.poll() is not None and PORT_TAKEN in server.log()
                if not lost_port or attempt == PORT_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    yield start
    for server in started:
        if server.process.poll() is None:
            code = server.stop()
            assert code == 0, f"server exited with {code}:\n{server.log()}"


@pytest.fixture(scope="module")
def custom_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One shared server with custom code allowed, for tests that do not disturb it."""
    log = tmp_path_factory.mktemp("custom-server") / "server.log"
    server = RunningServer(["--pool-size", "2", "--allow-custom-visualizations"], {}, log)
    server.wait_ready()
    yield server
    code = server.stop()
    assert code == 0, f"server exited with {code}:\n{server.log()}"


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """Like tmp_path, but a server running as uid 1000 can read it (pytest's is root's, 700)."""
    folder = open_folder()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def minio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MinioServer]:
    """One real MinIO for the session. Tests that stop it start their own MinioServer."""
    with MinioServer(tmp_path_factory.mktemp("minio")) as server:
        yield server


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """One real SeaweedFS for the session, set up as KFP >= 2.15 sets up its object store."""
    with SeaweedFS(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture(scope="session", params=["minio", "seaweedfs"])
def object_store(request: pytest.FixtureRequest) -> MinioServer | SeaweedFS:
    """Each object store KFP ships in turn: MinIO (up to 2.14), SeaweedFS (2.15 and later)."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def kube_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApiServer]:
    """A real Kubernetes API server (and its etcd) for the deploy tests."""
    with KubeApiServer(tmp_path_factory.mktemp("kube")) as server:
        yield server


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """One real Kafka broker (KRaft) for the session. Tests that stop it start their own."""
    with KafkaBroker(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Module-scoped: Playwright's sync API keeps an event loop running in this thread while it
    is open, which would break asyncio tests in later modules."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's headless Chromium, network blocked; see browser.show_in_kfp_iframe."""
    chromium = launch_chromium(playwright)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    """Chromium that reaches loopback only (live_run.py): pages opened straight from a server
    (or a gateway in front of it) on this machine, never anything else."""
    browser = launch_loopback_chromium(playwright)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def online_browser(playwright: Playwright) -> Iterator[Browser]:
    """Chromium with network access, for following links a page offers (never for rendering)."""
    chromium = launch_chromium(playwright, offline=False)
    yield chromium
    chromium.close()
