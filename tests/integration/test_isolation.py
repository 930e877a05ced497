"""No state of one request is visible to a later one: globals, builtins, working folder, more.

Each test plants state in one request and looks for it in the next, on a
one-kernel pool so both requests meet the same kernel process. With
--reuse-custom-kernels the kernel really is reused, so the in-kernel reset is
what is tested; by default a kernel that ran custom code is replaced.
"""

from __future__ import annotations

import json
import re

import pytest
from support import custom_code

PLANT = custom_code(
    "import builtins, os, sys",
    "secret = 'planted-global'",
    "builtins.planted_builtin = 'planted-builtin'",
    "builtins.len = lambda x: -1",
    "open('planted.txt', 'w').write('x')",
    "os.environ['PLANTED_ENV'] = '1'",
    "sys.path.insert(0, '/planted/path')",
    "def variables_hook(): pass",
    "print('cwd', os.getcwd(), 'pid', os.getpid())",
)

PROBE = custom_code(
    "import builtins, json, os, sys",
    "seen = {",
    "  'global': 'secret' in globals(),",
    "  'hook': 'variables_hook' in globals(),",
    "  'builtin': hasattr(builtins, 'planted_builtin'),",
    "  'len': len([1, 2]),",
    "  'cwd': os.getcwd(),",
    "  'files': os.listdir('.'),",
    "  'env': 'PLANTED_ENV' in os.environ,",
    "  'path': '/planted/path' in sys.path,",
    "  'pid': os.getpid(),",
    "}",
    "print('SEEN' + json.dumps(seen))",
)


def seen(page: str) -> dict:
    return json.loads(re.search(r"SEEN(\{.*\})", page.replace("&quot;", '"'))[1])


@pytest.mark.parametrize("reuse", [True, False], ids=["reset-in-place", "fresh-kernel"])
def test_nothing_leaks_between_requests(start_server, reuse):
    flags = ["--pool-size", "1", "--allow-custom-visualizations"]
    server = start_server(*flags, *(["--reuse-custom-kernels"] if reuse else []))
    planted = server.post(type="custom", arguments=PLANT)
    assert planted.status_code == 200
    planted_cwd, planted_pid = re.search(r"cwd (\S+) pid (\d+)", planted.text).groups()
    server.wait_ready()
    after = seen(server.post(type="custom", arguments=PROBE).text)
    assert (after["pid"] == int(planted_pid)) is reuse
    assert after["global"] is False and after["hook"] is False
    assert after["builtin"] is False and after["len"] == 2
    assert after["files"] == [] and after["cwd"] != planted_cwd
    assert after["env"] is False and after["path"] is False


def test_variables_are_rebound_for_every_request(start_server):
    server = start_server(
        "--pool-size", "1", "--allow-custom-visualizations", "--reuse-custom-kernels"
    )
    first = custom_code("variables['code'].append('tampered')", "source = 'tampered'")
    assert server.post(type="custom", arguments=first).status_code == 200
    probe = custom_code("print('ARGS', len(variables['code']), repr(source))")
    page = server.post(type="custom", arguments=probe).text
    assert "ARGS 1 &#x27;&#x27;" in page or "ARGS 1 ''" in page


def test_builtin_types_share_nothing_either(start_server):
    flags = ["--pool-size", "1", "--allow-custom-visualizations", "--reuse-custom-kernels"]
    server = start_server(*flags)
    probe = custom_code("print('NAMES', sorted(globals()))")
    baseline = re.search(r"NAMES (\[.*?\])", server.post(type="custom", arguments=probe).text)[1]
    assert server.post(type="test", source="first-request").status_code == 200
    page = server.post(type="custom", arguments=probe).text
    assert re.search(r"NAMES (\[.*?\])", page)[1] == baseline
    assert "first-request" not in page
