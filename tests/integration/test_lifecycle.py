"""Start, stop, command line: clean SIGTERM, no orphans even after SIGKILL, clear start errors."""

from __future__ import annotations

import concurrent.futures
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from kfp_viz_server.config import SETTINGS
from support import ROOT, custom_code, process_tree, running, wait_until


def test_sigterm_lets_running_renders_finish(start_server):
    server = start_server("--pool-size", "1", "--allow-custom-visualizations")
    with concurrent.futures.ThreadPoolExecutor(2) as clients:
        running_render = clients.submit(
            server.post,
            type="custom",
            arguments=custom_code("import time", "time.sleep(2)", "print('finished')"),
        )
        time.sleep(0.5)
        queued = clients.submit(server.post, type="test", source="queued")
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        finished = running_render.result(timeout=30)
        assert finished.status_code == 200 and "finished" in finished.text
        refused = queued.result(timeout=30)
        assert (refused.status_code, refused.reason) == (503, "Server is shutting down")
    assert server.stop() == 0  # also checks no kernel or factory process is left


def test_sigterm_cancels_renders_that_outlast_the_grace(start_server):
    server = start_server(
        "--pool-size", "1", "--shutdown-grace", "1", "--allow-custom-visualizations"
    )
    with concurrent.futures.ThreadPoolExecutor(1) as clients:
        long_render = clients.submit(
            server.post, type="custom", arguments=custom_code("import time", "time.sleep(60)")
        )
        time.sleep(0.5)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        reply = long_render.result(timeout=30)
        assert reply.status_code == 503 and reply.reason == "Server is shutting down"
        assert server.process.wait(10) == 0, "one SIGTERM must be enough to stop"
        assert time.monotonic() - started < 10
        assert server.stop() == 0  # already exited: checks that no kernel process is left


def test_no_kernel_outlives_a_killed_server(start_server):
    server = start_server("--pool-size", "2")
    family = process_tree(server.process.pid) - {server.process.pid}
    assert len(family) >= 3  # the kernel factory and two kernels
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)
    wait_until(lambda: not any(running(pid) for pid in family), timeout=10, what="orphans gone")


def test_liveness_answers_before_kernels_are_ready(start_server):
    server = start_server("--pool-size", "2", ready=False)
    server.wait_listening()
    assert requests.get(server.url + "/", timeout=2).text == "alive"
    server.wait_ready()


def run_cli(
    *args: str, env: dict | None = None, timeout: float = 30
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kfp_viz_server", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


def test_help_documents_every_flag():
    result = run_cli("--help")
    assert result.returncode == 0
    for setting in SETTINGS:
        assert setting.flag in result.stdout and setting.env in result.stdout


def test_bad_setting_stops_the_start_with_a_clear_message():
    result = run_cli(env={"KERNEL_POOL_SIZE": "lots", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert "--pool-size / KERNEL_POOL_SIZE: expected a whole number; got 'lots'" in result.stderr


@pytest.mark.parametrize("which", ["--http-port", "--grpc-port"])
def test_port_in_use_is_a_clear_error(which):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = "--grpc-port" if which == "--http-port" else "--http-port"
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            free_port = free.getsockname()[1]
        result = run_cli(
            "--host", "127.0.0.1", which, str(port), other, str(free_port), "--pool-size", "1"
        )
    assert result.returncode == 1
    assert "cannot start" in result.stderr and str(port) in result.stderr
