"""The source limits: which kinds of source, which local folders, no link-local hosts."""

from __future__ import annotations

import http.server
import threading
import urllib.request
from collections.abc import Iterator

import pytest
from kfp_viz_kernels import sources
from kfp_viz_kernels.source_policy import (
    SourcePolicy,
    SourceRefused,
    open_url,
    parse_roots,
    parse_schemes,
)


def test_parsing_names_what_is_wrong():
    assert parse_schemes(" minio, S3 ,minio") == ("minio", "s3")
    with pytest.raises(ValueError, match="'ftp,minio' is not a list of source kinds"):
        parse_schemes("ftp,minio")
    with pytest.raises(ValueError, match="not a list"):
        parse_schemes(" , ")
    assert parse_roots("/data, /mnt/x") == ("/data", "/mnt/x")
    with pytest.raises(ValueError, match="'data' is not an absolute folder path"):
        parse_roots("/ok,data")


def test_system_folders_are_refused_even_through_a_link(tmp_path):
    policy = SourcePolicy()
    (tmp_path / "data.csv").write_text("a\n1\n")
    policy.check_local(str(tmp_path / "data.csv"))
    for path in ("/proc/self/environ", "/var/run/secrets/kubernetes.io/serviceaccount/token"):
        with pytest.raises(SourceRefused, match="is a system folder"):
            policy.check_local(path)
    (tmp_path / "innocent.csv").symlink_to("/proc/self/environ")
    with pytest.raises(SourceRefused, match="/proc is a system folder"):
        policy.check_local(str(tmp_path / "innocent.csv"))


def test_roots_confine_local_sources_links_resolved(tmp_path):
    inside, outside = tmp_path / "in", tmp_path / "out"
    inside.mkdir()
    outside.mkdir()
    (outside / "secret.csv").write_text("s\n1\n")
    (inside / "ok.csv").write_text("a\n1\n")
    (inside / "link.csv").symlink_to(outside / "secret.csv")
    policy = SourcePolicy(local_roots=(str(inside),))
    policy.check_local(str(inside / "ok.csv"))
    for path in (outside / "secret.csv", inside / "link.csv", inside / ".." / "out" / "secret.csv"):
        with pytest.raises(SourceRefused, match="local sources must be in"):
            policy.check_local(str(path))
    with pytest.raises(SourceRefused):  # a sibling folder whose name starts like the root's
        policy.check_local(str(tmp_path / "in-other" / "x.csv"))


def test_schemes_limit_every_kind_of_source():
    policy = SourcePolicy(schemes=("minio",))
    policy.check_scheme("minio://b/k.csv", "minio")
    with pytest.raises(SourceRefused, match="reads only minio sources"):
        policy.check_scheme("/data/a.csv", "file")
    with pytest.raises(SourceRefused, match="--source-schemes"):
        policy.check_scheme("https://example.com/a.csv", "https")


def test_sources_apply_the_limits_from_the_environment(tmp_path, monkeypatch):
    (tmp_path / "a.csv").write_text("a\n1\n")
    monkeypatch.setenv("LOCAL_SOURCE_ROOTS", str(tmp_path / "elsewhere"))
    with pytest.raises(SourceRefused, match="local sources must be in"):
        sources.match(str(tmp_path / "*.csv"))
    with pytest.raises(SourceRefused, match="local sources must be in"):
        sources.read_bytes(str(tmp_path / "a.csv"))
    monkeypatch.setenv("LOCAL_SOURCE_ROOTS", str(tmp_path))
    assert sources.match(str(tmp_path / "*.csv")) == [str(tmp_path / "a.csv")]
    monkeypatch.setenv("SOURCE_SCHEMES", "minio,s3")
    with pytest.raises(SourceRefused, match="reads only minio, s3 sources"):
        sources.read_bytes(str(tmp_path / "a.csv"))
    monkeypatch.setenv("SOURCE_SCHEMES", "gopher")
    with pytest.raises(SourceRefused, match="SOURCE_SCHEMES is invalid"):
        sources.match(str(tmp_path / "*.csv"))


def test_a_pattern_into_a_system_folder_is_refused_before_listing_it():
    with pytest.raises(SourceRefused, match="/proc is a system folder"):
        sources.match("/proc/*/environ")
    with pytest.raises(SourceRefused, match="/sys is a system folder"):
        sources.match("/sys/**/*.csv")


def test_link_local_hosts_are_refused_without_connecting():
    for url in (
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/x",
        "http://[::ffff:169.254.169.254]/latest/",  # the same host, IPv4-mapped
        "http://2852039166/latest/",  # the same host, as one number
    ):
        with pytest.raises(SourceRefused, match="link-local address"):
            open_url(urllib.request.Request(url), timeout=0.5)


@pytest.fixture
def redirector() -> Iterator[str]:
    """A loopback HTTP server: /data answers, /away redirects to instance metadata."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/away":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.end_headers()
                return
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"a,b\n1,2\n")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_redirect_to_a_link_local_host_is_refused(redirector):
    assert sources.read_bytes(f"{redirector}/data") == b"a,b\n1,2\n"
    with pytest.raises(SourceRefused, match=r"/away' is refused: 169\.254\.169\.254 is the link"):
        sources.read_bytes(f"{redirector}/away")
