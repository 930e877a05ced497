"""Per-request timeouts that really stop the code, and a pool that keeps serving afterwards."""

from __future__ import annotations

import concurrent.futures
import time

from support import custom_code

SLEEP_30 = custom_code("import time", "time.sleep(30)")
STUBBORN = custom_code(
    "import time",
    "while True:",
    "    try:",
    "        time.sleep(30)",
    "    except KeyboardInterrupt:",
    "        pass",
)


def timed_post(server, timeout_header: str | None, arguments: str):
    headers = {"X-Visualization-Timeout": timeout_header} if timeout_header else None
    started = time.monotonic()
    reply = server.post(headers=headers, type="custom", arguments=arguments)
    return reply, time.monotonic() - started


def test_header_timeout_interrupts_and_the_kernel_is_kept(start_server):
    server = start_server(
        "--pool-size", "1", "--allow-custom-visualizations", "--reuse-custom-kernels"
    )
    pid = server.ready()["kernels"]["pids"]
    reply, took = timed_post(server, "1.5", SLEEP_30)
    assert reply.status_code == 504
    assert reply.reason == "Visualization timed out after 1.5 s while running"
    assert took < 1.5 + 3, f"504 came {took - 1.5:.1f} s after the deadline"
    state = server.wait_ready()
    assert state["kernels"]["pids"] == pid, "an interruptible kernel should be kept"
    assert server.post(type="test", source="next").status_code == 200


def test_code_that_ignores_interrupts_is_killed_and_replaced(start_server):
    server = start_server(
        "--pool-size", "1", "--allow-custom-visualizations", "--reuse-custom-kernels"
    )
    pid = server.ready()["kernels"]["pids"]
    reply, took = timed_post(server, "1", STUBBORN)
    assert reply.status_code == 504 and took < 1 + 3
    state = server.wait_ready()
    assert state["restarts"] == {"unresponsive": 1}
    assert state["kernels"]["pids"] != pid
    assert server.post(type="test", source="next").status_code == 200


def test_server_default_timeout_and_cap(start_server):
    server = start_server(
        "--pool-size", "1", "--timeout", "1", "--max-timeout", "2", "--allow-custom-visualizations"
    )
    reply, took = timed_post(server, None, SLEEP_30)
    assert (reply.status_code, reply.reason) == (
        504,
        "Visualization timed out after 1 s while running",
    )
    server.wait_ready()
    reply, took = timed_post(server, "500", SLEEP_30)
    assert (reply.status_code, reply.reason) == (
        504,
        "Visualization timed out after 2 s while running",
    )
    assert took < 2 + 3


def test_waiting_for_a_kernel_counts_against_the_timeout(start_server):
    server = start_server("--pool-size", "1", "--allow-custom-visualizations")
    with concurrent.futures.ThreadPoolExecutor(1) as clients:
        busy = clients.submit(timed_post, server, "4", custom_code("import time", "time.sleep(3)"))
        time.sleep(0.5)
        reply, _ = timed_post(server, "1", custom_code("1"))
        assert reply.status_code == 504
        assert reply.reason == "Visualization timed out after 1 s while waiting for a free kernel"
        assert busy.result()[0].status_code == 200
