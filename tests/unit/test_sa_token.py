"""The step pod's ServiceAccount token (kfp_viz.sa_token) and how the HTTP transport sends it:
found where KFP's clients find theirs, read again when the kubelet rotates it (a symbolic link
swapped, as the kubelet's atomic writer does), re-read and retried once on a 401, and a
refusal reported once, plainly, with nothing lost silently. Against a fake server here; a real
token from a real kube-apiserver in tests/integration/test_sdk_token.py."""

from __future__ import annotations

import json
import logging
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from kfp_viz import cli
from kfp_viz.http_transport import HttpTransport
from kfp_viz.progress import Reporter
from kfp_viz.sa_token import DEFAULT_TOKEN_PATH, TOKEN_PATH_VARIABLE, TokenFile, token_path


@pytest.fixture
def volume(projected_volume):
    return projected_volume("token-volume")


def test_the_path_is_kfps_convention(monkeypatch):
    monkeypatch.delenv(TOKEN_PATH_VARIABLE, raising=False)
    assert (
        token_path()
        == Path(DEFAULT_TOKEN_PATH)
        == Path("/var/run/secrets/kubeflow/pipelines/token")
    )
    monkeypatch.setenv(TOKEN_PATH_VARIABLE, "/elsewhere/token")
    assert TokenFile().path == Path("/elsewhere/token")


def test_a_rotated_token_is_read_again(volume):
    volume.write("token-one")
    token = TokenFile(volume.path)
    assert token.header() == "Bearer token-one"
    assert token.header() == "Bearer token-one"
    volume.write("token-two")  # the kubelet's rotation: another file behind the same path
    assert token.header() == "Bearer token-two"
    assert token.describe() == f"the token in {volume.path}"


def test_reread_reads_whatever_the_metadata_says(volume, monkeypatch):
    volume.write("token-one")
    token = TokenFile(volume.path)
    assert token.header() == "Bearer token-one"
    # A rewrite the metadata does not show (same file, size and time): only reread() sees it.
    real = volume.current
    stat = real.stat()
    real.write_text("token-six")
    os.utime(real, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert token.header() == "Bearer token-one"
    assert token.reread() is True and token.header() == "Bearer token-six"
    assert token.reread() is False


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "does not exist: project a ServiceAccount token with the audience "
               "pipelines.kubeflow.org there, or set KF_PIPELINES_SA_TOKEN_PATH"),
        (b"  \n", "is empty"),
        (b"two words", "holds spaces or characters a token cannot have"),
        (b"line\r\nInjected: yes", "holds spaces or characters a token cannot have"),
        (b"x" * (64 * 1024 + 1), "is larger than 65536 bytes: not a token"),
    ],
)  # fmt: skip
def test_no_usable_token_means_no_header_and_says_why(tmp_path, content, problem):
    path = tmp_path / "token"
    if content is not None:
        path.write_bytes(content)
    token = TokenFile(path)
    assert token.header() is None
    assert token.describe() == f"no token ({path} {problem})"


def test_a_token_mounted_later_is_used(tmp_path):
    path = tmp_path / "token"
    token = TokenFile(path)
    assert token.header() is None
    path.write_text("late\n")
    assert token.header() == "Bearer late"


# -- the HTTP transport against a fake server that checks tokens ------------------------


class TokenServer:
    """Takes POSTs whose Bearer token is in `accepted`; 403 for those in `forbidden`, else 401
    in the words of kfp-viz-server with AUTH=kubeflow. Records every Authorization header."""

    def __init__(self, accepted: set[str], forbidden: frozenset[str] = frozenset()) -> None:
        self.accepted, self.forbidden = accepted, forbidden
        self.seen: list[str | None] = []
        self.taken: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                header = self.headers.get("Authorization")
                fake.seen.append(header)
                token = (header or "").removeprefix("Bearer ")
                if token in fake.accepted:
                    status, reply = 200, {"cursors": []}
                    fake.taken.extend(json.loads(body))
                elif token in fake.forbidden:
                    status, reply = 403, {"error": "run r belongs to namespace team-b"}
                else:
                    status, reply = 401, {"error": "Unauthenticated: the token was refused"}
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def server():
    servers: list[TokenServer] = []

    def start(accepted: set[str], forbidden: frozenset[str] = frozenset()) -> TokenServer:
        servers.append(TokenServer(accepted, forbidden))
        return servers[-1]

    yield start
    for each in servers:
        each.stop()


def reporter(url: str, token: TokenFile) -> Reporter:
    transport = HttpTransport(url, backoff=(0.02, 0.1), request_timeout=2, token=token)
    return Reporter("r", "n", namespace="", transport=transport)


def test_the_token_is_sent_and_follows_rotation(server, volume):
    fake = server({"token-one", "token-two"})
    volume.write("token-one")
    rep = reporter(fake.url, TokenFile(volume.path))
    rep.log("first")
    assert rep.flush(5)
    volume.write("token-two")
    rep.log("second")
    rep.close()
    assert (rep.sent, rep.failed) == (2, 0)
    assert fake.seen == ["Bearer token-one", "Bearer token-two"]


def test_a_401_rereads_the_token_and_retries_once(server, volume):
    """The kubelet swapped the file in the moment before the request: the 401 makes the
    transport read it again and post the same batch once more, with nothing doubled."""
    fake = server({"token-two"})
    volume.write("token-one")
    token = TokenFile(volume.path)
    assert token.header() == "Bearer token-one"
    real = volume.current
    stat = real.stat()
    real.write_text("token-two")  # rotated where the metadata does not show it
    os.utime(real, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    rep = reporter(fake.url, token)
    rep.log("once")
    rep.close()
    assert (rep.sent, rep.failed) == (1, 0)
    assert fake.seen == ["Bearer token-one", "Bearer token-two"]
    assert [e["message"] for e in fake.taken] == ["once"]


def test_a_refused_token_is_reported_once_and_not_retried_forever(server, volume, caplog):
    caplog.set_level(logging.WARNING, "kfp_viz.progress")
    fake = server(set())
    volume.write("expired")
    rep = reporter(fake.url, TokenFile(volume.path))
    rep.log("first")
    assert rep.flush(5)
    rep.log("second")
    rep.close()
    assert (rep.sent, rep.failed) == (0, 2), "each refused batch is counted, none is lost"
    assert fake.seen == ["Bearer expired"] * 2, "one post per batch: re-read, unchanged, no retry"
    warnings = [r.getMessage() for r in caplog.records if "not delivered" in r.getMessage()]
    assert warnings == [
        "kfp_viz.progress: a progress event was not delivered: HTTP 401 from the server at "
        f"{fake.url}/progress/r: Unauthenticated: the token was refused (sent the token in "
        f"{volume.path})"
    ]
    assert "expired" not in caplog.text.replace("Bearer", ""), "the token is never logged"


def test_no_token_file_means_no_header_and_a_401_names_the_path(server, tmp_path, caplog):
    caplog.set_level(logging.WARNING, "kfp_viz.progress")
    fake = server(set())
    missing = tmp_path / "nothing-here"
    rep = reporter(fake.url, TokenFile(missing))
    rep.log("x")
    rep.close()
    assert fake.seen == [None] and rep.failed == 1
    assert f"(sent no token ({missing} does not exist: project a ServiceAccount" in caplog.text


def test_a_403_is_refused_at_once_and_told_apart_from_other_failures(server, volume, caplog):
    """Another namespace's run: refused, not retried; warned even after a time-out was."""
    caplog.set_level(logging.WARNING, "kfp_viz.progress")
    fake = server(set(), frozenset({"team-a"}))
    volume.write("team-a")
    rep = reporter(fake.url, TokenFile(volume.path))
    rep._warned.add("send:TimeoutError")  # as if the server had been away before
    rep._warned.add("send:Unauthenticated")  # and had refused a token
    rep.log("x")
    rep.close()
    assert (rep.sent, rep.failed, len(fake.seen)) == (0, 1, 1)
    assert "HTTP 403 from the server at" in caplog.text
    assert "run r belongs to namespace team-b (sent the token in" in caplog.text


def test_emit_exits_1_when_the_server_refuses(server, volume, monkeypatch, capsys):
    fake = server(set())
    volume.write("expired")
    monkeypatch.setenv(TOKEN_PATH_VARIABLE, str(volume.path))
    code = cli.main(["progress", "emit", "--run-id", "r", "--node-id", "n", "--namespace", "",
                     "--server-url", fake.url, "--log", "x"])  # fmt: skip
    assert code == 1
    assert "refused it" in capsys.readouterr().err
    assert fake.seen == ["Bearer expired"]
