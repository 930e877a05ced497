"""Custom code and hostile sources stay inside their request (kernels/sandbox.py, zygote.py).

Every server here runs as KFP runs it: uid 1000, gid 0, no capabilities. Root would
pass every file and ptrace check, and prove nothing. Each test makes the attempt a
request could make and asserts what it reached: nothing of another request, no secret,
no signal delivered, no file left, no process left running.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import os
import re
import secrets
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

import grpc
import pytest
import requests
from kfp_viz.pb import kfpviz_pages_pb2, kfpviz_pages_pb2_grpc
from support import RunningServer, custom_code, open_folder, process_tree, running, wait_until

BUCKET = "containment"


@pytest.fixture(scope="module")
def server(minio, tmp_path_factory) -> RunningServer:
    """Custom code on, the object store's secret in the server's environment (as KFP's)."""
    log = tmp_path_factory.mktemp("containment") / "server.log"
    flags = ["--pool-size", "2", "--allow-custom-visualizations"]
    running_server = RunningServer(flags, minio.server_env(BUCKET), log, unprivileged=True)
    running_server.wait_ready()
    yield running_server
    assert running_server.stop() == 0, running_server.log()


def run_code(
    server: RunningServer, marker: str, *lines: str, timeout: float = 60.0, **variables: object
) -> dict:
    """Run custom code with `variables`; return the JSON it printed after `marker`."""
    arguments = json.loads(custom_code(*lines))
    arguments.update(variables)
    reply = server.post(type="custom", arguments=json.dumps(arguments), timeout=timeout)
    assert reply.status_code == 200, f"{reply.reason}\n{server.log()[-3000:]}"
    found = re.search(marker + r"(\{.*?\})\n", html.unescape(reply.text))
    assert found, reply.text[-3000:]
    return json.loads(found[1])


def connection_files(runtime: Path) -> list[Path]:
    return [p for p in runtime.glob("**/*.json") if "signature_scheme" in p.read_text()]


PLANT = [
    "import IPython",
    "def _spy(info):",
    "    IPython.display.display(IPython.display.HTML('<b>PWNED-hook</b>'))",
    "get_ipython().events.register('pre_run_cell', _spy)",
]

ATTACK = [
    "import json, os, socket",
    "from jupyter_client import BlockingKernelClient",
    "own_key = get_ipython().kernel.session.key.decode()",
    "out = {'read': [], 'planted': [], 'connected': []}",
    "try:",
    "    out['listing'] = os.listdir(variables['runtime'])",
    "except OSError as error:",
    "    out['listing'] = type(error).__name__",
    "for path in variables['files']:",
    "    try:",
    "        if json.load(open(path))['key'] != own_key:",
    "            out['read'].append(path)  # another kernel's: its key",
    "    except OSError:",
    "        pass",
    "for info in variables['connections']:",
    "    if info['key'] == own_key:",
    "        continue",
    "    address = info['ip'] + '-' + str(info['shell_port'])",
    "    raw = socket.socket(socket.AF_UNIX)",
    "    try:",
    "        raw.connect('\\0' + address[1:] if address.startswith('@') else address)",
    "        out['connected'].append(address)",
    "    except OSError as error:",
    "        out['connected'].append(type(error).__name__)",
    "    raw.close()",
    "    client = BlockingKernelClient()",
    "    client.load_connection_info(info)",
    "    client.start_channels()",
    "    try:",
    "        reply = client.execute_interactive(variables['plant'], timeout=5)",
    "        out['planted'].append(reply['content']['status'])",
    "    except Exception as error:",
    "        out['planted'].append(type(error).__name__)",
    "    client.stop_channels()",
    "print('ATTACK' + json.dumps(out))",
]


def test_custom_code_cannot_drive_another_kernel_even_with_its_key(server):
    """The issue's attack: read the other kernels' connection files, then run code in them
    (a hook that saw the next requests' data). Here the test even hands the code the other
    kernel's connection, key included, as if it had stolen it: its sockets stay closed."""
    server.wait_ready()
    runtime = server.runtime_folder()
    files = connection_files(runtime)
    assert len(files) >= 2, files
    connections = [json.loads(path.read_text()) for path in files]
    out = run_code(
        server, "ATTACK", *ATTACK,
        runtime=str(runtime), files=[str(p) for p in files], connections=connections,
        plant="\n".join(PLANT),
    )  # fmt: skip
    assert out["listing"] == "PermissionError"
    assert out["read"] == []
    assert set(out["connected"]) == {"PermissionError"}  # the other kernels' abstract sockets
    assert "ok" not in out["planted"]
    server.wait_ready()
    for _ in range(4):  # both kernels, whichever serves
        page = server.post(type="test", source="a later request of another user")
        assert page.status_code == 200 and "PWNED-hook" not in page.text


def test_custom_code_finds_no_credentials(server, minio):
    """Not in its environment, not in the kernel factory's nor the server's /proc files."""
    factory = server.factory_pid()
    out = run_code(
        server, "SECRETS",
        "import json, os",
        "secret = variables['secret']",
        "out = {'in_environ': any(secret in v for v in os.environ.values())}",
        "out['store_variables'] = sorted(k for k in os.environ if 'OBJECTSTORE' in k)",
        "for name, pid in variables['pids'].items():",
        "    for part in ('environ', 'mem', 'cmdline'):",
        "        try:",
        "            data = open(f'/proc/{pid}/{part}', 'rb').read(1 << 20)",
        "            out[f'{name} {part}'] = secret.encode() in data",
        "        except OSError as error:",
        "            out[f'{name} {part}'] = type(error).__name__",
        "print('SECRETS' + json.dumps(out))",
        secret=minio.secret_key, pids={"factory": factory, "server": server.process.pid},
    )  # fmt: skip
    assert out["in_environ"] is False and out["store_variables"] == []
    leaked = {name: value for name, value in out.items() if value is True}
    assert leaked == {}
    assert (
        out["server environ"] == "PermissionError" and out["factory environ"] == "PermissionError"
    )
    assert minio.secret_key in (Path(f"/proc/{server.process.pid}/environ").read_text())


def test_built_in_types_read_the_object_store_without_holding_its_keys(server, minio):
    """What the kernels lost (the keys) they get back as presigned reads from the server."""
    from minio import Minio

    client = Minio(minio.endpoint, minio.access_key, minio.secret_key, secure=False)
    if not client.bucket_exists(BUCKET):
        client.make_bucket(BUCKET)
    document = b'{"metrics": [{"name": "roc-auc", "numberValue": 0.93, "format": "RAW"}]}'
    client.put_object(BUCKET, "run/metrics.json", io.BytesIO(document), len(document))
    page = server.post(type="metrics", source=f"minio://{BUCKET}/run/*.json").text
    assert "roc-auc" in page and "0.93" in page
    missing = server.post(type="table", source=f"minio://{BUCKET}/run/none.csv").text
    assert "No file matches" in missing and minio.secret_key not in missing


# -- local data, written after the kernels started -----------------------------------------


def test_a_file_written_to_tmp_after_the_kernels_started_is_read(server):
    """The issue: a CSV downloaded to /tmp after `serve` was ready failed with PermissionError
    until the kernel was replaced. Written now, read now, by every kernel; custom code reads
    it through the server too, while it cannot open it (or any data file) itself."""
    server.wait_ready()
    folder = Path(tempfile.mkdtemp(prefix="kfp-viz-late-", dir="/tmp"))
    try:
        folder.chmod(0o755)
        late = folder / "table.csv"
        late.write_text("city,count\nLagos,41\n")
        late.chmod(0o644)
        direct = Path("/tmp") / f"kfp-viz-late-{secrets.token_hex(4)}.csv"
        direct.write_text("city,count\nQuito,17\n")
        direct.chmod(0o644)
        try:
            for _ in range(4):  # both kernels, whichever serves
                page = html.unescape(server.post(type="table", source=str(late)).text)
                assert "Lagos" in page and "SourceError" not in page, page[-2000:]
                assert "Quito" in html.unescape(server.post(type="table", source=str(direct)).text)
            out = run_code(
                server, "LATE",
                "import json",
                "from kfp_viz_kernels.sources import open_local",
                "out = {'through': open_local(variables['path']).read().decode()}",
                "try:",
                "    out['direct'] = open(variables['path']).read()",
                "except OSError as error:",
                "    out['direct'] = type(error).__name__",
                "print('LATE' + json.dumps(out))",
                path=str(late),
            )  # fmt: skip
            assert out == {"through": "city,count\nLagos,41\n", "direct": "PermissionError"}
            arguments = custom_code(f"open({str(late)!r}).read()")
            refused = html.unescape(server.post(type="custom", arguments=arguments).text)
            assert "PermissionError" in refused and "open_local(path)" in refused
            assert "LOCAL_SOURCE_ROOTS" in refused
        finally:
            direct.unlink()
    finally:
        shutil.rmtree(folder)


def test_a_data_root_holding_the_page_store_reads_new_files_and_never_the_store(start_server):
    """A data root that holds one of the server's own folders (here the page store) is no
    longer granted as the entries it held at the fork: a file or folder made in it later is
    read, the store within it never is, and a refusal names the setting that would allow it."""
    data = open_folder("kfp-viz-data-")
    try:
        server = start_server(
            "--pool-size", "1", "--allow-custom-visualizations", "--local-source-roots",
            str(data), "--store-folder", str(data / "pages"), "--inline-limit", "4Ki",
            unprivileged=True,
        )  # fmt: skip
        page_id = stored_id(server.post(type="custom", arguments=custom_code("print('x' * 9000)")))
        stored = data / "pages" / "visualizations" / f"{page_id}.html"
        assert stored.exists()
        (data / "later" / "deeper").mkdir(parents=True)
        (data / "later" / "deeper" / "a.csv").write_text("k,v\nalpha,1\n")
        (data / "b.csv").write_text("k,v\nbeta,2\n")

        def shown(**form: str) -> str:
            """The page, read from the store when it was too large to come inline."""
            reply = server.post(**form)
            if 'id="kfp-viz-reference"' in reply.text:
                path = data / "pages" / "visualizations" / f"{stored_id(reply)}.html"
                return html.unescape(path.read_text())
            return html.unescape(reply.text)

        page = shown(type="table", source=f"{data}/**/*.csv")
        assert "alpha" in page and "beta" in page, page[-2000:]
        for source in (str(stored), f"{data}/pages/**/*.html"):
            refused = shown(type="markdown", source=source)
            assert "SourceRefused" in refused and "the server's own folders" in refused
            assert "x" * 9000 not in refused
        outside = shown(type="table", source="/etc/hostname")
        assert "local sources must be in" in outside and "LOCAL_SOURCE_ROOTS" in outside
        out = run_code(
            server, "STORE",
            "import json",
            "from kfp_viz_kernels.sources import open_local",
            "out = {}",
            "for name, path in variables['paths'].items():",
            "    try:",
            "        out[name] = open_local(path).read(20).decode()",
            "    except Exception as error:",
            "        out[name] = type(error).__name__",
            "print('STORE' + json.dumps(out))",
            paths={"store": str(stored),
                   "runtime": str(connection_files(server.runtime_folder())[0])},
        )  # fmt: skip
        assert out == {"store": "SourceRefused", "runtime": "SourceRefused"}
    finally:
        shutil.rmtree(data, ignore_errors=True)


def test_custom_code_cannot_signal_the_server_the_factory_or_another_kernel(server):
    before = server.wait_ready()["kernels"]["pids"]
    targets = {"server": server.process.pid, "factory": server.factory_pid()}
    targets.update({f"kernel {pid}": pid for pid in before})
    out = run_code(
        server, "KILL",
        "import json, os, signal",
        "out = {}",
        "for name, pid in variables['targets'].items():",
        "    if pid == os.getpid():",
        "        continue",
        "    try:",
        "        os.kill(pid, signal.SIGKILL)",
        "        out[name] = 'killed'",
        "    except OSError as error:",
        "        out[name] = type(error).__name__",
        "print('KILL' + json.dumps(out))",
        targets=targets,
    )  # fmt: skip
    assert set(out.values()) == {"PermissionError"}, out
    assert len(out) == 3  # the server, the factory and the other kernel
    assert server.process.poll() is None
    state = server.wait_ready()
    survivors = set(before) & set(state["kernels"]["pids"])
    assert len(survivors) == 1 and "died" not in state["restarts"]


def test_custom_code_leaves_no_file_behind(server):
    """Nothing in /tmp (not writable), and its own temporary files go with its render."""
    token = secrets.token_hex(8)
    leftover = Path(f"/tmp/kfp-viz-leftover-{token}")
    try:
        out = _write_files(server, token)
    finally:
        written = leftover.exists()
        leftover.unlink(missing_ok=True)
    assert out["tmp"] == "PermissionError" and not written
    assert out["temporary"].startswith(out["cwd"])  # TMPDIR is the render's own folder
    wait_until(lambda: not os.path.exists(out["temporary"]), what="the render's folder removed")


def _write_files(server: RunningServer, token: str) -> dict:
    return run_code(
        server, "FILES",
        "import json, os, tempfile",
        "out = {}",
        "try:",
        "    open('/tmp/kfp-viz-leftover-' + variables['token'], 'w').write('x')",
        "    out['tmp'] = 'written'",
        "except OSError as error:",
        "    out['tmp'] = type(error).__name__",
        "fd, path = tempfile.mkstemp()",
        "os.write(fd, b'x')",
        "out['temporary'] = path",
        "out['cwd'] = os.getcwd()",
        "print('FILES' + json.dumps(out))",
        token=token,
    )  # fmt: skip


# -- stored pages ----------------------------------------------------------------------


def stored_id(reply: requests.Response) -> str:
    found = re.search(r'id="kfp-viz-reference">(.*?)</script>', reply.text)
    assert found, reply.text[:500]
    return json.loads(found[1])["id"]


def test_a_stored_page_cannot_be_changed_by_code_and_a_changed_one_is_never_served(
    start_server,
):
    server = start_server(
        "--pool-size", "1", "--allow-custom-visualizations", "--inline-limit", "4Ki",
        unprivileged=True,
    )  # fmt: skip
    big = custom_code("print('x' * 20000)")
    page_id = stored_id(server.post(type="custom", arguments=big))
    stored = server.home / "kfp-viz-pages" / "visualizations" / f"{page_id}.html"
    original = stored.read_bytes()

    out = run_code(
        server, "WRITE",
        "import json",
        "try:",
        "    open(variables['path'], 'r+b').write(b'<script>evil()</script>')",
        "    out = 'written'",
        "except OSError as error:",
        "    out = type(error).__name__",
        "print('WRITE' + json.dumps({'out': out}))",
        path=str(stored),
    )  # fmt: skip
    assert out == {"out": "PermissionError"} and stored.read_bytes() == original

    stored.write_bytes(b"<script>evil()</script>" + original[23:])  # the store itself altered
    served = requests.get(f"{server.url}/visualizations/{page_id}", timeout=30)
    assert served.status_code == 500 and "evil" not in served.text
    assert "does not match its SHA-256" in served.reason and "ETag" not in served.headers
    stub = kfpviz_pages_pb2_grpc.VisualizationsStub(server.channel)
    with pytest.raises(grpc.RpcError) as refused:
        list(stub.FetchVisualization(kfpviz_pages_pb2.FetchVisualizationRequest(id=page_id)))
    assert refused.value.code() == grpc.StatusCode.DATA_LOSS

    assert stored_id(server.post(type="custom", arguments=big)) == page_id  # stored anew
    served = requests.get(f"{server.url}/visualizations/{page_id}", timeout=30)
    assert served.status_code == 200 and hashlib.sha256(served.content).hexdigest() == page_id
    assert served.headers["Content-Security-Policy"] == "sandbox allow-scripts"


def test_a_stored_page_runs_its_scripts_in_an_opaque_origin(start_server, online_browser):
    """The issue's attack: a Markdown file with <script>, stored, opened on the server's origin."""
    server = start_server("--pool-size", "1", "--inline-limit", "4Ki", unprivileged=True)
    markdown = (
        "# Report\n\n<script>document.title = 'origin:' + window.origin;"
        "try { localStorage.setItem('k', 'v'); document.title += ' storage'; } catch (e) {}"
        "</script>\n\n" + "Some text. " * 800
    )
    reply = server.post(type="markdown", source=markdown, arguments='{"storage": "inline"}')
    page_id = stored_id(reply)
    context = online_browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{server.url}/visualizations/{page_id}")
        page.wait_for_function("document.title.startsWith('origin:')", timeout=30_000)
        assert page.title() == "origin:null"  # opaque: not the server's origin, no storage
    finally:
        context.close()


# -- processes -------------------------------------------------------------------------

DAEMON = """
import os, socket, sys, time
report = int(sys.argv[1])
reported, tell = os.pipe()
# Each ancestor waits until the daemon has reported its pid: the factory ends orphans
# whenever one of its children exits, so an ancestor that left sooner could see the
# daemon (or itself, orphaned) ended before the pid was written.
if os.fork():
    os.read(reported, 1)
    os._exit(0)
os.setsid()
if os.fork():
    os.read(reported, 1)
    os._exit(0)
listener = socket.socket(socket.AF_UNIX)
listener.bind('\\0kfp-viz-daemon-' + str(os.getpid()))
listener.listen()
try:
    tcp = socket.socket()
    tcp.bind(('127.0.0.1', 0))
    tcp.listen()
except OSError:
    pass
os.write(report, (str(os.getpid()) + '\\n').encode())
os.write(tell, b'..')
time.sleep(300)
"""

LEFT_RUNNING = [
    "import json, os, select, subprocess, sys, time",
    "pids = [subprocess.Popen(['sleep', '300']).pid]",
    "read, write = os.pipe()",
    "subprocess.Popen([sys.executable, '-c', variables['daemon'], str(write)], pass_fds=[write])",
    # Bounded: a daemon that died before reporting must fail the test, not hang the render.
    "reported, _, _ = select.select([read], [], [], 30)",
    "pids.append(int(os.read(read, 100)) if reported else -1)",
    "for _ in range(100):",
    "    child = os.fork()",
    "    if child == 0:",
    "        time.sleep(300)",
    "        os._exit(0)",
    "    pids.append(child)",
    "print('PIDS' + json.dumps({'pids': pids}))",
]


@pytest.mark.parametrize("reuse", [False, True], ids=["retired-kernel", "reused-kernel"])
def test_processes_a_render_starts_end_with_it(start_server, reuse):
    flags = ["--pool-size", "1", "--allow-custom-visualizations"]
    server = start_server(*flags, *(["--reuse-custom-kernels"] if reuse else []), unprivileged=True)
    # The render's own timeout (100 s) answers before the client gives up, so a stalled
    # render fails with the server's reason rather than a read timeout.
    pids = run_code(server, "PIDS", *LEFT_RUNNING, timeout=150, daemon=DAEMON)["pids"]
    assert -1 not in pids, "the daemon did not report its pid within 30 s"
    assert len(pids) == 102
    wait_until(
        lambda: not any(running(pid) for pid in pids), timeout=5, what="the render's processes"
    )
    state = server.wait_ready()
    tree = {pid for pid in process_tree(server.process.pid) if running(pid)}
    assert tree == {server.process.pid, server.factory_pid(), *state["kernels"]["pids"]}
    assert (state["restarts"] == {}) is reuse  # the reused kernel itself stays


def test_a_render_s_processes_do_not_outlive_a_stopped_server(start_server):
    flags = ["--pool-size", "1", "--allow-custom-visualizations", "--shutdown-grace", "1"]
    server = start_server(*flags, unprivileged=True)
    code = custom_code(
        "import subprocess, time", "subprocess.Popen(['sleep', '300'])", "time.sleep(60)"
    )
    post = lambda: server.post(type="custom", arguments=code, timeout=90)  # noqa: E731
    threading.Thread(target=post, daemon=True).start()
    sleepers: list[int] = []

    def sleeping() -> bool:
        tree = process_tree(server.process.pid)
        sleepers[:] = [pid for pid in tree if _command(pid)[:1] == ["sleep"]]
        return bool(sleepers)

    wait_until(sleeping, timeout=30, what="the render's sleep process")
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(40) == 0
    wait_until(lambda: not any(running(pid) for pid in sleepers), timeout=5, what="sleep ended")


def _command(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


SITECUSTOMIZE = """
import os, sys, time
if "kfp_viz_kernels.zygote" in " ".join(sys.orig_argv):  # the kernel factory only
    os.register_at_fork(after_in_child=lambda: time.sleep(2))
"""


def test_a_kernel_never_outlives_a_factory_that_died_mid_fork(start_server):
    """The race the issue saw once: the factory dies between a fork and the child's request to
    die with its parent. The test widens that window to two seconds (a pause injected after
    every fork of the factory, by a sitecustomize on its PYTHONPATH) and kills the factory
    inside it; the child must notice it has another parent, and exit."""
    hooks = open_folder("kfp-viz-hooks-")
    try:
        (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
        server = start_server("--pool-size", "1", env={"PYTHONPATH": str(hooks)}, unprivileged=True)
        factory = server.factory_pid()
        (kernel,) = server.ready()["kernels"]["pids"]
        os.kill(kernel, signal.SIGKILL)  # the pool asks the factory for a replacement
        children: list[int] = []

        def forked() -> bool:
            tree = process_tree(factory) - {factory, kernel}
            children[:] = [pid for pid in tree if running(pid)]
            return bool(children)

        wait_until(forked, timeout=10, what="the replacement kernel's fork")
        os.kill(factory, signal.SIGKILL)  # inside the two seconds after the fork
        time.sleep(4)  # the pause ends; the orphaned child now checks its parent
        assert not any(running(pid) for pid in children), [_command(p) for p in children]
        server.wait_ready()  # a new factory serves
    finally:
        shutil.rmtree(hooks, ignore_errors=True)


# -- with custom code off --------------------------------------------------------------


def test_no_type_reads_the_kernels_connection_files(start_server):
    """The issue: `markdown` with source=<runtime folder>/k*.json showed every kernel's key."""
    server = start_server("--pool-size", "2", unprivileged=True)
    runtime = server.runtime_folder()
    assert connection_files(runtime)
    for source in (f"{runtime}/**/*.json", f"{runtime}/*.json"):
        page = html.unescape(server.post(type="markdown", source=source).text)
        assert "signature_scheme" not in page and "hmac-sha256" not in page
        assert "SourceRefused" in page and "the server's own folders" in page


def test_the_sandbox_is_reported(start_server):
    server = start_server("--pool-size", "1", unprivileged=True)
    sandbox = server.ready()["sandbox"]
    assert sandbox["enabled"] and sandbox["landlock_abi"] >= 6, sandbox
    assert sandbox["files"] and sandbox["tcp"] and sandbox["signals_and_sockets"]
    metrics = server.metrics()
    assert f"kfp_viz_kernel_sandbox_landlock_abi {float(sandbox['landlock_abi'])}" in metrics
    assert 'kfp_viz_kernel_sandbox_enforced{feature="files"} 1.0' in metrics
    assert "kernel sandbox: Landlock ABI" in server.log()

    off = start_server("--pool-size", "1", "--kernel-sandbox", "off", unprivileged=True)
    assert off.ready()["sandbox"]["files"] is False
    assert 'kfp_viz_kernel_sandbox_enforced{feature="files"} 0.0' in off.metrics()
    assert "kernel sandbox: off" in off.log()
    assert off.post(type="test", source="still renders").status_code == 200
