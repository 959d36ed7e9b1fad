"""scripts/install-deps (which scripts/demo, install and package run) and scripts/test-package
as root without sudo and as a user: root runs apt-get itself, a user goes through sudo for
apt-get only, and a user without sudo is told what to do. apt-get, dpkg-query and sudo are
stand-ins on PATH that record how they were called (nothing is installed, nothing is built);
the user is 'nobody', through runuser."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from ptool_fixtures import REPO_ROOT, requires_tool, run

TOOLS = ("bash", "grep", "id", "env", "dirname", "cat")
NOBODY = "nobody"


@pytest.fixture
def base():
    if os.geteuid() != 0:
        pytest.skip("runs the scripts as another user through runuser: needs root")
    requires_tool("runuser")
    d = Path(tempfile.mkdtemp(prefix="ptool-priv-", dir="/tmp"))
    d.chmod(0o777)  # nobody writes the call log here
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _path(base, log, with_sudo):
    """A PATH holding only the tools the scripts need and the stand-ins."""
    d = Path(tempfile.mkdtemp(dir=base))
    for tool in TOOLS:
        (d / tool).symlink_to(shutil.which(tool))
    stand_ins = {
        "dpkg-query": "exit 1\n",  # nothing is installed
        "apt-get": f'echo "apt-get uid=$(id -u) $*" >> {log}\n',
    }
    if with_sudo:
        stand_ins["sudo"] = f'echo "sudo uid=$(id -u) $*" >> {log}\nexec "$@"\n'
    for name, body in stand_ins.items():
        (d / name).write_text("#!/bin/sh\n" + body)
        (d / name).chmod(0o755)
    d.chmod(0o755)
    return d


def _run(base, script, args, as_user, with_sudo):
    log = Path(tempfile.mkdtemp(dir=base)) / "calls.log"
    log.parent.chmod(0o777)
    cmd = ["/usr/bin/env", "-i", f"PATH={_path(base, log, with_sudo)}", str(REPO_ROOT / script),
           *args]
    if as_user:
        cmd = ["runuser", "-u", NOBODY, "--", *cmd]
    proc = run(cmd, check=False)
    return proc, log.read_text().splitlines() if log.exists() else []


def test_root_without_sudo_runs_apt_get_itself(base):
    proc, calls = _run(base, "scripts/install-deps", ["demo"], as_user=False, with_sudo=False)
    assert proc.returncode == 0, proc.stderr
    assert [c.split()[:3] for c in calls] == [["apt-get", "uid=0", "update"],
                                              ["apt-get", "uid=0", "install"]]
    assert "openssh-server" in calls[1].split() and "swtpm" in calls[1].split()


def test_user_with_sudo_elevates_only_apt_get(base):
    proc, calls = _run(base, "scripts/install-deps", ["build"], as_user=True, with_sudo=True)
    assert proc.returncode == 0, proc.stderr
    uid = str(int(run(["id", "-u", NOBODY]).stdout))
    assert [c.split()[:3] for c in calls] == [
        ["sudo", f"uid={uid}", "apt-get"], ["apt-get", f"uid={uid}", "update"],
        ["sudo", f"uid={uid}", "apt-get"], ["apt-get", f"uid={uid}", "install"]]


def test_user_without_sudo_is_told_what_to_do(base):
    proc, calls = _run(base, "scripts/install-deps", ["demo"], as_user=True, with_sudo=False)
    assert proc.returncode == 1 and calls == []
    assert "install-deps: installing them needs root: run this as root, or install sudo" \
        in proc.stderr
    assert "command not found" not in proc.stderr
    proc, calls = _run(base, "scripts/test-package", [], as_user=True, with_sudo=False)
    assert proc.returncode == 1 and calls == []
    assert proc.stderr == "test-package: dpkg -i needs root: run as root, or install sudo\n"
