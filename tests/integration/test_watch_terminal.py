"""`kfp-viz watch` on a real terminal, as a pipeline author runs it.

The command is the project's own (the .venv's `kfp-viz`, with rich) under a pseudo-terminal of 60
and of 160 columns (TERM=xterm-256color); a real server on its in-process bus is fed the
realistic run of tests/integration/live_run.py (preprocess, train 20 epochs with loss, accuracy
and val_loss, evaluate; the variant failing at epoch 10) through its HTTP and gRPC publish,
while the command watches. pyte, a terminal emulator, turns what the command wrote into the
screen a person sees; a second, wider screen fed the same bytes shows anything drawn past the
terminal's width, which the real one would have wrapped out of sight.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyte
import pytest
from live_run import EPOCHS, FAIL_AT, REASON, Run, publish_grpc, publish_http
from progress_support import new_run
from proxy import FlakyProxy
from support import ROOT, RunningServer

pytestmark = pytest.mark.integration

ROWS = 48
SPARE = 100
"""Columns of the wider screen past the terminal's width: where an over-long line shows."""
KFP_VIZ = str(Path(sys.executable).parent / "kfp-viz")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("watch") / "server.log"
    server = RunningServer(["--pool-size", "1", "--progress-heartbeat", "0.5"], {}, log)
    server.wait_ready()
    yield server
    assert server.stop() == 0, server.log()


class Terminal:
    """A command on a pseudo-terminal `columns` wide; what it writes is read by a thread and
    fed to a screen of the terminal's size and to one SPARE columns wider."""

    def __init__(self, argv: list[str], columns: int) -> None:
        self.columns = columns
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, columns, 0, 0))
        env = {k: v for k, v in os.environ.items()
               if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")}  # fmt: skip
        env.update(TERM="xterm-256color", LANG="C.UTF-8")
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT,
            start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        self.screen = pyte.Screen(columns, ROWS)
        self.wide = pyte.Screen(columns + SPARE, ROWS)
        self._streams = [pyte.ByteStream(self.screen), pyte.ByteStream(self.wide)]
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, args=(master,), daemon=True)
        self._reader.start()

    def _read(self, master: int) -> None:
        try:
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the command exited and the terminal closed
                    break
                if not chunk:
                    break
                with self._lock:
                    for stream in self._streams:
                        stream.feed(chunk)
        finally:
            os.close(master)

    def text(self) -> str:
        """The screen as one line of words: a line the terminal wrapped reads as it was."""
        with self._lock:
            return " ".join(" ".join(self.screen.display).split())

    def wait_for(self, seen: Callable[[str], bool], what: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text()
            if seen(text):
                return text
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{what} not on screen within {timeout} s:\n" + self.show())

    def finish(self, timeout: float = 30) -> int:
        code = self.process.wait(timeout)
        self._reader.join(10)
        return code

    def show(self) -> str:
        with self._lock:
            return "\n".join(line.rstrip() for line in self.screen.display)

    def past_the_width(self) -> list[str]:
        """Rows of the wide screen with anything drawn past the terminal's width."""
        with self._lock:
            return [row for row in self.wide.display if row[self.columns :].strip()]

    def colour_of(self, word: str, row_start: str) -> str:
        """The colour of `word` on the first row starting with `row_start`."""
        with self._lock:
            for y, row in enumerate(self.screen.display):
                if row.startswith(row_start) and word in row:
                    return self.screen.buffer[y][row.index(word)].fg
        raise AssertionError(f"no row starting {row_start!r} with {word!r}:\n{self.show()}")


def watch(server, run_id: str, columns: int, via: str = "http") -> Terminal:
    """The command as a pipeline author runs it: over HTTP, at the URL steps publish to, or
    over gRPC with --server."""
    where = ["--server-url", server.url] if via == "http" else ["--server", server.grpc_target]
    terminal = Terminal([KFP_VIZ, "watch", run_id, *where], columns)
    terminal.wait_for(lambda text: "waiting" in text, "the waiting line")
    return terminal


@pytest.mark.parametrize(("columns", "via"), [(60, "http"), (160, "grpc")])
def test_a_run_watched_on_a_terminal(server, columns, via):
    run = Run(new_run())
    events = list(run.events())
    halfway = next(i for i, e in enumerate(events) if e.get("current") == 12) + 3
    terminal = watch(server, run.run_id, columns, via)
    publish_http(server, run.run_id, events[:halfway])
    live = terminal.wait_for(lambda text: "12/20 Running" in text, "epoch 12")
    assert re.search(r"elapsed \d[^·]* · 30 s/item · ETA (4 min|3 min \d+ s)", live), live
    assert "waiting" not in live, "no stale waiting line once events came"
    publish_grpc(server, run.run_id, events[halfway:])
    assert terminal.finish() == 0, terminal.show()
    final = terminal.text()
    assert terminal.past_the_width() == [], "a line wider than the terminal"
    assert re.search(r"accuracy=\S+ loss=\S+ val_loss=\S+", final), "train's metrics, sorted"
    assert re.search(r"accuracy=0.9105 auc=0.9312", final), "evaluate's"
    assert f"run {run.run_id} Succeeded started " in final
    assert " took 11 min 37 s " in final, "the run's wall clock: 60 s + 20 epochs × 30 s + 37 s"
    assert f"train epoch {EPOCHS}: loss=" in final, "the log tail"
    assert "ETA" not in final and "waiting" not in final and "Failed" not in final
    assert terminal.colour_of("Succeeded", "train") == "green"


@pytest.mark.parametrize("columns", [60, 160])
def test_a_failing_run_shows_why_and_exits_1(server, columns):
    run = Run(new_run(), fail_at=FAIL_AT, seed=3)
    terminal = watch(server, run.run_id, columns)
    publish_http(server, run.run_id, list(run.events()))
    assert terminal.finish() == 1, terminal.show()
    final = terminal.text()
    assert terminal.past_the_width() == [], "a line wider than the terminal"
    assert re.search(rf"step train failed at \d\d:\d\d:\d\d: {re.escape(REASON)}", final), final
    assert "run failed: step train failed" in final
    assert re.search(r"accuracy=\S+ loss=\S+ val_loss=\S+", final)
    assert f"{FAIL_AT - 1}/{EPOCHS} Failed" in final and "allocating the batch" in final
    assert terminal.colour_of("Failed", "train") == "red"
    assert terminal.colour_of("Succeeded", "preprocess") == "green"


def test_in_a_pipe_it_prints_plain_lines(server):
    run = Run(new_run(), fail_at=FAIL_AT)
    publish_http(server, run.run_id, list(run.events()))
    done = subprocess.run(
        [KFP_VIZ, "watch", run.run_id, "--server-url", server.url],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "\x1b" not in done.stdout, "no escape sequences where no terminal reads them"
    lines = done.stdout.splitlines()
    assert any(line.startswith("train [") and "% 9/20 Failed · " in line for line in lines)
    assert re.search(r"^train metrics: accuracy=\S+ loss=\S+ val_loss=\S+$", done.stdout, re.M)
    assert any(line.endswith(f"train: Failed: {REASON}") for line in lines)
    assert lines[-1].startswith(f"run {run.run_id}: Failed · started ")
    assert lines[-1].endswith("· step train failed")


def test_a_live_run_in_a_pipe_prints_few_lines(server):
    """The run published as it happens, read by the command in a pipe: a step's line per
    10% of its progress and per status, its metrics at most once a minute of the run (an
    epoch is 30 s), and each log line. Every event made a line before: 60 for train alone."""
    run = Run(new_run())
    events = list(run.events())
    command = subprocess.Popen(
        [KFP_VIZ, "watch", run.run_id, "--metrics-every", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=ROOT, env={**os.environ, "KFP_VIZ_SERVER_URL": server.url},
    )  # fmt: skip
    try:
        for event in events:
            publish_http(server, run.run_id, [event])
        out, err = command.communicate(timeout=60)
    finally:
        command.kill()
    assert command.returncode == 0, err
    lines = out.splitlines()
    train = [line for line in lines if line.startswith("train [")]
    shown = [line.split("] ")[1].split()[0] for line in train]
    assert shown == ["0%", "10%", "20%", "30%", "40%", "50%", "60%", "70%", "80%", "90%",
                     "100%", "100%"], train  # fmt: skip
    metrics = [line for line in lines if line.startswith("train metrics: ")]
    assert len(metrics) == 11, "epochs 1, 3, ..., 19, and epoch 20's when train ended"
    logs = [line for line in lines if " train: epoch " in line]
    assert len(logs) == 20
    assert len(lines) < 70, out


def read_line(pipe, timeout: float = 30) -> str:
    """The command's next line of output, or a failure after `timeout` seconds of silence."""
    ready, _, _ = select.select([pipe], [], [], timeout)
    assert ready, f"no line within {timeout} s"
    return pipe.readline()


def test_in_a_pipe_an_unreachable_server_is_said_at_once_and_each_retry_shows(server):
    """Nothing listens at the URL (connections refused): the first attempt's failure is the
    first line, each retry is a line, and once the server is there (a proxy to it starts on
    that port) the run is followed to its end."""
    run = Run(new_run())
    with socket.socket() as held:  # bound, not listening: every connection is refused
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        command = subprocess.Popen(
            [KFP_VIZ, "watch", run.run_id, "--server-url", url], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        first, second = read_line(command.stdout), read_line(command.stdout)
    proxy = FlakyProxy(("127.0.0.1", server.http_port), port=port)
    try:
        publish_http(server, run.run_id, list(run.events()))
        out, err = command.communicate(timeout=60)
    finally:
        command.kill()
        proxy.close()
    assert first == f"{url} unreachable (Connection refused); trying again in 1 s\n"
    assert second == f"{url} unreachable (Connection refused); trying again in 2 s\n"
    assert command.returncode == 0, err
    lines = out.splitlines()
    assert lines[0] == f"connected to {url}"
    assert lines[-1].startswith(f"run {run.run_id}: Succeeded · started ")
