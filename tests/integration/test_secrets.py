"""Secrets stay secret: not in argv while we run, not in output, not in the store, no dumps.

* A PIN given on the command line is wiped from /proc/PID/cmdline as soon as
  main() has copied it; sampled while the command waits for the store's write lock.
* The process is not dumpable (prctl(PR_SET_DUMPABLE, 0)): another process of
  the same (unprivileged) user cannot read its /proc/PID/environ or ptrace it.
* PINs never appear in stdout / stderr of any command, success or failure, nor
  in the database file (as text or hex), including its free pages.
* PIN files readable by group or others are refused before anything happens.
"""

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from ptool_fixtures import PTOOL_BIN, cmdline_until_wiped, ptool_env, reset_lockout, run_ptool

DB = "tpm2_pkcs11.sqlite3"
SOPIN, USERPIN, NEWPIN = "SOSECRET4711", "USERSECRET0815", "NEWSECRET2342"
NOBODY = 65534


def _digest(store):
    return hashlib.sha256((store / DB).read_bytes()).hexdigest()


@pytest.fixture
def token(swtpm, store):
    env = ptool_env(swtpm, store)
    run_ptool(["init"], env)
    run_ptool(["addtoken", "--pid", "1", "--label", "tok", "--sopin", SOPIN, "--userpin",
               USERPIN], env)
    return env


def test_pin_is_wiped_from_cmdline(token, store):
    done, final = cmdline_until_wiped(
        [PTOOL_BIN, "addkey", "--label", "tok", "--algorithm", "rsa3072", "--userpin", USERPIN],
        token, store, (USERPIN,))
    assert done.returncode == 0, done.stderr
    assert b"--userpin" in final, final  # we did read the real cmdline
    assert USERPIN.encode() not in final, final


def _as_nobody():
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def _environ_readable_by_nobody(pid):
    probe = subprocess.run(["cat", f"/proc/{pid}/environ"], preexec_fn=_as_nobody,
                           capture_output=True)
    return probe.returncode == 0


# LeakSanitizer's exit-time check makes the process dumpable again while it stops the world:
# an ASan-runtime effect that this test would report as ours (docs/reliability.md).
@pytest.mark.no_asan
def test_process_is_not_dumpable(swtpm, request):
    """Run as an unprivileged user: a same-user process may read a normal process's environ,
    but not ours (non-dumpable processes' /proc files belong to root)."""
    # Not under tmp_path: pytest's base directory is private to root.
    base = Path(tempfile.mkdtemp(prefix="ptool-nobody-", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(base, ignore_errors=True))
    store = base / "store"
    env = ptool_env(swtpm, store, home=base / "home")
    run_ptool(["init"], env)
    run_ptool(["addtoken", "--pid", "1", "--label", "tok", "--sopin", SOPIN, "--userpin",
               USERPIN], env)
    for path in [base, *base.rglob("*")]:
        os.chown(path, NOBODY, NOBODY)
    control = subprocess.Popen(["sleep", "5"], preexec_fn=_as_nobody)
    try:
        assert _environ_readable_by_nobody(control.pid), "control: same-user /proc not readable"
    finally:
        control.kill()
        control.wait()
    readable = []
    done, final = cmdline_until_wiped(
        [PTOOL_BIN, "addkey", "--label", "tok", "--algorithm", "rsa3072", "--userpin", USERPIN],
        env, store, (USERPIN,), preexec_fn=_as_nobody,
        on_wiped=lambda pid: readable.extend(_environ_readable_by_nobody(pid) for _ in range(5)))
    assert done.returncode == 0, done.stderr
    assert b"--userpin" in final, final
    assert readable == [False] * 5


def test_pins_never_printed_or_stored(token, store, tmp_path):
    env = token
    commands = [
        ["addkey", "--label", "tok", "--algorithm", "ecc256", "--key-label", "k", "--userpin",
         USERPIN],
        ["addkey", "--label", "tok", "--algorithm", "rsa2048", "--sopin", SOPIN],
        ["addkey", "--label", "tok", "--algorithm", "aes256", "--userpin", USERPIN],
        ["listtokens", "--pid", "1"],
        ["listobjects", "--label", "tok"],
        ["ssh-pubkey", "--label", "tok"],
        ["verify", "--label", "tok", "--userpin", USERPIN, "--sopin", SOPIN],
        ["changepin", "--label", "tok", "--user", "user", "--old", USERPIN, "--new", NEWPIN],
        ["changepin", "--label", "tok", "--user", "user", "--old", NEWPIN, "--new", USERPIN],
        ["initpin", "--label", "tok", "--sopin", SOPIN, "--userpin", USERPIN],
        ["export", "--label", "tok", "--key-label", "k", "--userpin", USERPIN, "--format",
         "pem", "--output-prefix", str(tmp_path / "exported")],
        # failures: wrong PINs, missing token, bad algorithm
        ["addkey", "--label", "tok", "--algorithm", "ecc256", "--userpin", USERPIN + "x"],
        ["changepin", "--label", "tok", "--user", "so", "--old", SOPIN + "x", "--new", NEWPIN],
        ["addkey", "--label", "nope", "--algorithm", "ecc256", "--userpin", USERPIN],
        ["addkey", "--label", "tok", "--algorithm", "rsa999", "--userpin", USERPIN],
    ]
    secrets = [SOPIN, USERPIN, NEWPIN]
    leaks = []
    for args in commands:
        if args[0] not in run_ptool(["--help"], env).stdout:
            continue
        proc = run_ptool(args, env, check=False)
        for s in secrets:
            if s in proc.stdout or s in proc.stderr:
                leaks.append((args[0], s))
        reset_lockout(env["TPM2TOOLS_TCTI"])
    assert not leaks
    files = [store / DB, *tmp_path.glob("exported*")]
    for path in files:
        data = path.read_bytes()
        for s in secrets:
            for form in (s.encode(), s.encode().hex().encode(), s.encode().hex().upper().encode()):
                assert form not in data, f"{s} in {path}"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_pin_file_readable_by_others_is_refused(token, store, tmp_path, mode):
    pin = tmp_path / "pin"
    pin.write_text(USERPIN)
    pin.chmod(mode)
    before = _digest(store)
    proc = run_ptool(["addkey", "--label", "tok", "--algorithm", "ecc256", "--userpin-file", pin],
                     token, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "readable by other users" in proc.stderr and "chmod 600" in proc.stderr
    assert USERPIN not in proc.stderr
    assert _digest(store) == before


def test_argv_pin_warning_is_printed_once(swtpm, store):
    env = ptool_env(swtpm, store)
    run_ptool(["init"], env)
    proc = run_ptool(["addtoken", "--pid", "1", "--label", "tok", "--sopin", SOPIN, "--userpin",
                      USERPIN], env)
    warnings = [ln for ln in proc.stderr.splitlines() if "visible to other users" in ln]
    assert len(warnings) == 1, proc.stderr
    assert "--" in warnings[0] and "-file" in warnings[0]
    # No warning when the PINs come from the environment.
    proc = run_ptool(["addkey", "--label", "tok", "--algorithm", "ecc256"],
                     {**env, "TPM2_PTOOL_USERPIN": USERPIN})
    assert "visible to other users" not in proc.stderr
