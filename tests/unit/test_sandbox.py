"""The kernel sandbox's rules and reports, and the leftover-process reaper, without forking."""

from __future__ import annotations

import os

from kfp_viz_kernels import reaper, sandbox
from kfp_viz_kernels.sandbox import READ, WRITE, SandboxPolicy, Status


def test_readable_except_opens_up_only_the_folders_holding_an_excluded_one(tmp_path):
    for name in ("data/a", "data/b", "runtime/k1", "other"):
        (tmp_path / name).mkdir(parents=True)
    allowed = set(sandbox.readable_except(str(tmp_path), [str(tmp_path / "runtime")]))
    assert allowed == {str(tmp_path / "data"), str(tmp_path / "other")}
    assert set(sandbox.readable_except(str(tmp_path / "data"), [])) == {str(tmp_path / "data")}
    assert list(sandbox.readable_except(str(tmp_path / "runtime"), [str(tmp_path)])) == []


def test_rules_read_the_system_and_write_only_the_kernel_s_folder_and_no_data(tmp_path):
    """No data folder at all: local sources come through the server (kernels/file_access.py),
    so nothing depends on what a folder held when the kernel forked."""
    runtime = tmp_path / "runtime"
    own = runtime / "kernels" / "k1"
    own.mkdir(parents=True)
    policy = SandboxPolicy(private=(str(runtime),))
    rules = list(sandbox.rules(policy, str(own)))
    writable = [path for path, access in rules if access & sandbox.WRITE_FILE]
    assert writable[-1] == str(own) and set(writable) <= {str(own), *sandbox.DEVICES}
    readable = {path for path, access in rules if access & sandbox.READ_FILE}
    assert "/usr" in readable
    assert not any(path.startswith(str(runtime)) for path in readable - {str(own)})
    assert not any(path in ("/", "/proc", "/tmp", "/home", "/data") for path in readable)
    assert not any(
        path.startswith(os.path.realpath("/tmp") + "/") for path in readable - {str(own)}
    )
    assert (str(own), WRITE) in rules and ("/etc", READ) in rules


def test_the_policy_travels_as_json():
    policy = SandboxPolicy(private=("/run/x",), connect_ports=(443,))
    assert SandboxPolicy.from_json(policy.to_json()) == policy
    assert SandboxPolicy.from_json({}).connect_ports is None


def test_the_report_says_what_this_linux_enforces():
    assert Status(7, True).features() == {"files": True, "tcp": True, "signals_and_sockets": True}
    assert "not enforced" not in Status(7, True).describe()
    older = Status(4, True)
    assert older.tcp and not older.scopes
    assert "needs a newer Linux): signals_and_sockets" in older.describe()
    assert (
        Status(0, True).describe().startswith("unavailable: this Linux kernel offers no Landlock")
    )
    assert Status(0, False).describe().startswith("off (--kernel-sandbox off)")
    assert sandbox.landlock_abi() >= 0


def test_python_paths_leave_out_the_current_folder_and_what_is_excluded(tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    paths = sandbox.python_paths(exclude=[os.path.dirname(os.__file__)])
    assert "/" not in paths
    assert not any(path.startswith(os.path.dirname(os.__file__)) for path in paths)


def test_descendants_are_found_from_one_table():
    table = {10: 1, 11: 10, 12: 11, 13: 10, 20: 1}
    children = reaper.children_map(table)
    assert reaper.descendants([10], children) == {11, 12, 13}
    assert reaper.descendants([20], children) == set()


def test_kill_all_looks_again_until_nothing_is_left():
    waves = [{999_999_991}, {999_999_991, 999_999_992}, set()]
    found = iter(waves)
    reaped = []
    killed = reaper.kill_all(lambda: next(found), reap=lambda: reaped.append(1))
    assert killed == 2 and len(reaped) == 2
